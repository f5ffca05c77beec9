import type { ODataUrl } from '../../src/odata/url';
import { parseODataUrl } from '../../src/odata/url';
import type { CollectionRequest } from '../../src/emulator/engine';
import { Engine } from '../../src/emulator/engine';
import { builtinSchema } from '../../src/emulator/schema/schema';
import { bootstrap, seedAccounts } from '../../src/emulator/seed';
import { startEmulator } from '../../src/emulator/server';
import { Store } from '../../src/emulator/store';
import type { Benchmark } from './harness';
import { formatRatio, measure } from './harness';

const ACCOUNTS = 100_000;
const FILTERED =
  "accounts?$select=name,revenue,address1_city&$filter=address1_city eq 'Seattle' and revenue gt 5000000&$orderby=revenue desc";
const SCANNING =
  "accounts?$select=name,revenue&$filter=contains(name,'Works') and numberofemployees lt 5000&$orderby=name";

/**
 * The emulator over HTTP against the SQL it runs, executed bare on an identically seeded SQLite database
 * (seeding is deterministic), so the ratio is what the HTTP server, OData parsing, SQL building and JSON
 * shaping add on top of the database.
 */
export const emulatorBenchmark: Benchmark = {
  name: 'emulator',
  async run() {
    const emulator = await startEmulator({ port: 0, seed: 'none', seedAccounts: ACCOUNTS });
    const schema = builtinSchema();
    const store = new Store(schema);
    const identity = bootstrap(store);
    seedAccounts(store, identity, ACCOUNTS);
    const accounts = schema.tables.get('account');
    if (accounts === undefined) throw new Error('no account table');
    try {
      const headers = (pageSize: number): Record<string, string> => ({
        Authorization: `Bearer ${emulator.token}`,
        Accept: 'application/json',
        Prefer: `odata.maxpagesize=${pageSize}`,
      });
      const get = async (url: string, pageSize: number): Promise<Record<string, unknown>> => {
        const response = await fetch(url.startsWith('http') ? url : `${emulator.webApi}${url}`, {
          headers: headers(pageSize),
        });
        if (response.status !== 200) throw new Error(`${url}: ${response.status} ${await response.text()}`);
        return (await response.json()) as Record<string, unknown>;
      };
      const engine = new Engine(
        {
          schema,
          userId: identity.userId,
          businessUnitId: identity.businessUnitId,
          now: () => new Date(),
          aliases: new Map(),
        },
        store,
        emulator.webApi,
        undefined,
      );
      const bare = (url: string, pageSize: number): (() => number) => {
        const parsed: ODataUrl = parseODataUrl(`/api/data/v9.2/${url}`);
        const request: CollectionRequest = {
          table: accounts,
          source: { kind: 'set' },
          selection: engine.selection(accounts, parsed.query.select, undefined),
          filter: parsed.query.filter,
          orderBy: parsed.query.orderBy,
          top: undefined,
          pageSize,
          count: false,
          position: { page: 0, after: undefined, offset: 0 },
        };
        const query = engine.collectionSql(request, pageSize + 1);
        return () => store.all(query.text, query.params).length;
      };
      const lines: string[] = [];
      for (const [label, url] of [
        ['filtered on city and revenue, ordered by revenue (scans)', FILTERED],
        ['contains() on name, ordered by name (walks the name index)', SCANNING],
      ] as const) {
        const http = await measure(() => get(url, 50), 15);
        const db = await measure(bare(url, 50), 15);
        lines.push(
          formatRatio(`emulator-page-50 ${label}, ${ACCOUNTS} accounts`, http, db, 'the same SQL on bare SQLite'),
        );
      }
      const pageAll = async (): Promise<number> => {
        let rows = 0;
        let next: string | undefined = 'accounts';
        while (next !== undefined) {
          const body = await get(next, 5000);
          rows += (body.value as unknown[]).length;
          const link = body['@odata.nextLink'];
          next = typeof link === 'string' ? link : undefined;
        }
        if (rows !== ACCOUNTS) throw new Error(`paged ${rows} rows`);
        return rows;
      };
      const bareAll = (): number => {
        let rows = 0;
        let after: string | undefined;
        for (;;) {
          const page = store.page(accounts, 5001, after);
          const kept = page.slice(0, 5000);
          rows += kept.length;
          if (page.length <= 5000) break;
          after = String(kept[kept.length - 1]?.accountid);
        }
        return rows;
      };
      const http = await measure(pageAll, 3);
      const db = await measure(bareAll, 3);
      lines.push(
        formatRatio(
          `emulator-page-all (5000 per page, ${ACCOUNTS} accounts)`,
          http,
          db,
          'keyset paging on bare SQLite',
        ),
      );
      return lines;
    } finally {
      store.close();
      await emulator.close();
    }
  },
};

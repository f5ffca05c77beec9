import type { ChildProcess } from 'node:child_process';
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ODataUrl } from '../../src/odata/url';
import { parseODataUrl } from '../../src/odata/url';
import type { CollectionRequest } from '../../src/emulator/engine';
import { Engine } from '../../src/emulator/engine';
import { builtinSchema } from '../../src/emulator/schema/snapshot';
import { bootstrap, seedAccounts } from '../../src/emulator/seed';
import { startEmulator } from '../../src/emulator/server';
import { Store } from '../../src/emulator/store';
import type { ClientAnswer, ClientJob } from './emulatorClient';
import type { Benchmark, Measurement } from './harness';
import { formatRatio, measure } from './harness';

const ACCOUNTS = 100_000;
const FILTERED =
  "accounts?$select=name,revenue,address1_city&$filter=address1_city eq 'Seattle' and revenue gt 5000000&$orderby=revenue desc";
const SCANNING =
  "accounts?$select=name,revenue&$filter=contains(name,'Works') and numberofemployees lt 5000&$orderby=name";

const CLIENT = fileURLToPath(new URL('./emulatorClient.ts', import.meta.url));
const RUNS = 31;
/** Requests per timed run of the separate-process client, and how many it keeps in flight. */
const BATCH = 40;
const CONCURRENCY = 4;

function median(times: readonly number[]): Measurement {
  const sorted = [...times].sort((a, b) => a - b);
  return { medianMs: sorted[Math.floor(sorted.length / 2)] ?? Number.NaN, runs: sorted.length };
}

/** The load generator (emulatorClient.ts) in a child process, one job at a time. */
function startClient(): { run(job: ClientJob): Promise<Measurement>; close(): void } {
  const child: ChildProcess = fork(CLIENT, [], { execArgv: ['--import', 'tsx'], stdio: 'inherit' });
  return {
    run: (job) =>
      new Promise((resolve, reject) => {
        const onExit = (code: number | null): void => reject(new Error(`the bench client exited (${code})`));
        child.once('exit', onExit);
        child.once('message', (answer: ClientAnswer) => {
          child.off('exit', onExit);
          if ('error' in answer) reject(new Error(answer.error));
          else resolve(median(answer.times));
        });
        child.send(job);
      }),
    close: () => child.disconnect(),
  };
}

/**
 * The emulator over HTTP against the SQL it runs, executed bare on an identically seeded SQLite database
 * (seeding is deterministic), so the ratio is what the HTTP server, OData parsing, SQL building and JSON
 * shaping add on top of the database.
 *
 * Each figure is measured twice. "in-process fetch" is the original method: `fetch` in this process, so
 * undici's client work (a large part of a small request) is charged to the emulator. "client in another
 * process" is how a load tool measures a server: a child process keeps several keep-alive requests in flight
 * and the figure is milliseconds per answered request, i.e. what the emulator's single thread spends per
 * request; paging through all rows follows `@odata.nextLink` one page at a time, as a client must. The WhoAmI
 * lines are the floor of each method, a request that does no query, shown against the bare database query so
 * that the share of a ratio that HTTP alone costs is visible.
 */
export const emulatorBenchmark: Benchmark = {
  name: 'emulator',
  async run() {
    const emulator = await startEmulator({ port: 0, seed: 'none', seedAccounts: ACCOUNTS });
    const client = startClient();
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
      const inProcess: string[] = [];
      const separate: string[] = [];
      const load = (url: string, pageSize: number): Promise<Measurement> =>
        client.run({
          kind: 'load',
          url: `${emulator.webApi}${url}`,
          headers: headers(pageSize),
          runs: RUNS,
          batch: BATCH,
          concurrency: CONCURRENCY,
        });
      let indexed: Measurement | undefined;
      for (const [label, url] of [
        ['filtered on city and revenue, ordered by revenue (scans)', FILTERED],
        ['contains() on name, ordered by name (walks the name index)', SCANNING],
      ] as const) {
        const name = `emulator-page-50 ${label}, ${ACCOUNTS} accounts`;
        const http = await measure(() => get(url, 50), RUNS);
        const db = await measure(bare(url, 50), RUNS);
        if (url === SCANNING) indexed = db;
        inProcess.push(formatRatio(`${name}, in-process fetch`, http, db, 'the same SQL on bare SQLite'));
        separate.push(
          formatRatio(`${name}, client in another process`, await load(url, 50), db, 'the same SQL on bare SQLite'),
        );
      }
      if (indexed === undefined) throw new Error('no figure for the index-served query');
      // After the queries, so that the server is as warm for the floor as for them.
      const floor = 'the contains() query on bare SQLite (what HTTP alone costs)';
      inProcess.unshift(
        formatRatio(
          'emulator-whoami floor, in-process fetch',
          await measure(() => get('WhoAmI', 50), RUNS),
          indexed,
          floor,
        ),
      );
      separate.unshift(
        formatRatio('emulator-whoami floor, client in another process', await load('WhoAmI', 50), indexed, floor),
      );
      lines.push(...inProcess, ...separate);
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
      // HTTP first: seconds of synchronous bare paging would hand fetch a kept-alive socket the server is closing.
      const http = await measure(pageAll, 3);
      const db = await measure(bareAll, 3);
      const name = `emulator-page-all (5000 per page, ${ACCOUNTS} accounts)`;
      lines.push(formatRatio(`${name}, in-process fetch`, http, db, 'keyset paging on bare SQLite'));
      const separately = await client.run({
        kind: 'pageAll',
        url: `${emulator.webApi}accounts`,
        headers: headers(5000),
        runs: 3,
        expectedRows: ACCOUNTS,
      });
      lines.push(formatRatio(`${name}, client in another process`, separately, db, 'keyset paging on bare SQLite'));
      return lines;
    } finally {
      client.close();
      store.close();
      await emulator.close();
    }
  },
};

import { mkdtempSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { csvField, guardFormula } from '../../src/core/csv';
import { RequestLimiter } from '../../src/dataverse/limiter';
import { exportRows } from '../../src/dataverse/tableExport';
import { staticTokenProvider, WebApiClient } from '../../src/dataverse/webApiClient';
import { parseCsdl } from '../../src/metadata/csdl';
import { startEmulator } from '../../src/emulator/server';
import type { Benchmark } from './harness';
import { formatRatio, measure } from './harness';

/** `DVW_BENCH_EXPORT_ROWS` shrinks the run on slow machines; the issue asks for 100,000. */
const ROWS = Number(process.env.DVW_BENCH_EXPORT_ROWS ?? 100_000);
const PATH = 'accounts?$select=name,accountnumber,numberofemployees,revenue,_primarycontactid_value,statecode';

/**
 * `dvw export` of N accounts to a CSV file (layout, escaping, formula guard, writing) against our own client paging
 * through the same rows with the same page size and annotations and writing nothing: what the export adds on top
 * of reading. The goal is at most 1.2x.
 */
export const exportBenchmark: Benchmark = {
  name: 'export',
  async run() {
    const emulator = await startEmulator({ port: 0, seed: 'none', seedAccounts: ROWS });
    const directory = mkdtempSync(join(tmpdir(), 'dvw-bench-export-'));
    try {
      const client = new WebApiClient({
        url: emulator.url,
        tokenProvider: staticTokenProvider(emulator.token),
        limiter: new RequestLimiter(),
      });
      const metadata = await client.request({
        method: 'GET',
        path: '$metadata',
        headers: { Accept: 'application/xml' },
      });
      const model = parseCsdl(String(metadata.body)).model;
      const paging = async (): Promise<void> => {
        let rows = 0;
        const pages = client.pages(PATH, {
          maxPageSize: 5000,
          includeAnnotations: ['OData.Community.Display.V1.FormattedValue', 'Microsoft.Dynamics.CRM.lookuplogicalname'],
        });
        for await (const page of pages) rows += page.value.length;
        if (rows !== ROWS) throw new Error(`paged ${rows} of ${ROWS}`);
      };
      const exporting = async (): Promise<void> => {
        const handle = await open(join(directory, 'accounts.csv'), 'w');
        try {
          const summary = await exportRows({
            client,
            model,
            entitySet: 'accounts',
            path: PATH,
            format: 'csv',
            formatted: false,
            write: async (text) => {
              await handle.write(text);
            },
            csvLine: (cells) => `${cells.map((cell) => csvField(guardFormula(cell))).join(',')}\r\n`,
          });
          if (summary.rows !== ROWS) throw new Error(`exported ${summary.rows} of ${ROWS}`);
        } finally {
          await handle.close();
        }
      };
      const baseline = await measure(paging, 3);
      const ours = await measure(exporting, 3);
      return [
        formatRatio(
          `export (${ROWS.toLocaleString('en-US')} accounts to CSV, pages of 5,000)`,
          ours,
          baseline,
          'paging through the same rows writing nothing',
        ),
      ];
    } finally {
      rmSync(directory, { recursive: true, force: true });
      await emulator.close();
    }
  },
};

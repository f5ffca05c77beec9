import { DynamicsWebApi } from 'dynamics-web-api';
import type { TableRules } from '../../src/dataverse/bulkImport';
import { importRows, parseCsv, tableRules } from '../../src/dataverse/bulkImport';
import { RequestLimiter } from '../../src/dataverse/limiter';
import { staticTokenProvider, WebApiClient } from '../../src/dataverse/webApiClient';
import { parseCsdl } from '../../src/metadata/csdl';
import { startEmulator } from '../../src/emulator/server';
import type { Benchmark, Measurement } from './harness';
import { formatRatio } from './harness';

/** `DVW_BENCH_IMPORT_ROWS` shrinks the run on slow machines; the issue asks for 10,000. */
const ROWS = Number(process.env.DVW_BENCH_IMPORT_ROWS ?? 10_000);
const BATCH = 100;
const PARALLEL = 4;
const RUNS = 3;

/** Each run imports new names, so both sides create records rather than update earlier runs' records. */
function csvFor(run: string): string {
  const lines = ['name,numberofemployees,telephone1'];
  for (let i = 0; i < ROWS; i++) lines.push(`Bench ${run} ${i},${i},555-0100`);
  return `${lines.join('\n')}\n`;
}

async function interleaved(
  contenders: readonly ((round: string) => Promise<void>)[],
  runs: number,
): Promise<Measurement[]> {
  for (const [i, work] of contenders.entries()) await work(`warm${i}`);
  const times: number[][] = contenders.map(() => []);
  for (let round = 0; round < runs; round++) {
    for (let i = 0; i < contenders.length; i++) {
      const index = (i + round) % contenders.length;
      const started = performance.now();
      await contenders[index]?.(`r${round}c${index}`);
      times[index]?.push(performance.now() - started);
    }
  }
  return times.map((list) => {
    list.sort((a, b) => a - b);
    return { medianMs: list[Math.floor(list.length / 2)] ?? Number.NaN, runs };
  });
}

/**
 * Importing N rows from CSV text into one emulator: ours (`importRows`: validation against metadata, keyed
 * upserts in change sets of 100, 4 in flight, retries and limiter) against `dynamics-web-api`'s batch API
 * (`startBatch`, N/100 change sets of creates, 4 instances in flight). Both parse the same CSV; the
 * metadata download is outside the timing for ours, as the library does no validation.
 */
export const importBenchmark: Benchmark = {
  name: 'import',
  async run() {
    const emulator = await startEmulator({ port: 0, seed: 'none' });
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
      const rules: TableRules = tableRules(parseCsdl(String(metadata.body)).model, 'accounts');
      const ours = async (run: string): Promise<void> => {
        const summary = await importRows({
          client,
          rules,
          source: parseCsv(csvFor(run)),
          csv: true,
          batchSize: BATCH,
          parallel: PARALLEL,
        });
        if (summary.imported !== ROWS) throw new Error(`ours imported ${summary.imported} of ${ROWS}`);
      };

      const libraries = Array.from(
        { length: PARALLEL },
        () =>
          new DynamicsWebApi({
            serverUrl: emulator.url,
            dataApi: { version: '9.2' },
            onTokenRefresh: () => Promise.resolve(emulator.token),
          }),
      );
      const theirs = async (run: string): Promise<void> => {
        const rows = parseCsv(csvFor(run)).rows.map((row) => ({
          name: String(row.values?.name),
          numberofemployees: Number(row.values?.numberofemployees),
          telephone1: String(row.values?.telephone1),
        }));
        let next = 0;
        let created = 0;
        await Promise.all(
          libraries.map(async (library) => {
            for (let start = next; start < rows.length; start = next) {
              next += BATCH;
              library.startBatch();
              for (const data of rows.slice(start, start + BATCH))
                void library.create({ collection: 'accounts', data });
              const responses = await library.executeBatch({ inChangeSet: true });
              created += responses.length;
            }
          }),
        );
        if (created !== ROWS) throw new Error(`dynamics-web-api created ${created} of ${ROWS}`);
      };

      const [oursTime, theirsTime] = await interleaved([ours, theirs], RUNS);
      if (oursTime === undefined || theirsTime === undefined) throw new Error('no timings');
      const label = `import (${ROWS.toLocaleString('en-US')} rows, change sets of ${BATCH}, ${PARALLEL} in flight)`;
      return [formatRatio(`${label}, ours`, oursTime, theirsTime, 'dynamics-web-api startBatch/executeBatch')];
    } finally {
      await emulator.close();
    }
  },
};

/**
 * The emulator on a real organization's schema (issue 12): the 8.5 MB `$metadata` of ../shared/fixtures as a
 * snapshot of 831 tables against the built-in tables. Each start runs in a fresh process (emulatorStart.ts) so
 * its time and resident memory are its own.
 */
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadSnapshot } from '../../src/emulator/schema/snapshot';
import { startEmulator } from '../../src/emulator/server';
import { writeRealSnapshot } from '../unit/emulator/schema/fixtureSnapshot';
import type { StartAnswer } from './emulatorStart';
import type { Benchmark, Measurement } from './harness';
import { formatRatio, measure } from './harness';

const START = fileURLToPath(new URL('./emulatorStart.ts', import.meta.url));
const STARTS = 3;

function startOnce(folder: string | undefined): Promise<StartAnswer> {
  return new Promise((resolve, reject) => {
    const child = fork(START, folder === undefined ? [] : [folder], {
      execArgv: ['--import', 'tsx'],
      stdio: 'inherit',
    });
    let answer: StartAnswer | undefined;
    child.once('message', (message: StartAnswer) => (answer = message));
    child.once('exit', (code) =>
      answer === undefined ? reject(new Error(`emulatorStart exited ${code}`)) : resolve(answer),
    );
  });
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

/** Alternating starts, so a burst of load on the shared machine hits both alike. */
async function starts(folder: string): Promise<{ builtin: StartAnswer[]; snapshot: StartAnswer[] }> {
  const builtin: StartAnswer[] = [];
  const snapshot: StartAnswer[] = [];
  for (let i = 0; i < STARTS; i++) {
    builtin.push(await startOnce(undefined));
    snapshot.push(await startOnce(folder));
  }
  return { builtin, snapshot };
}

function asMeasurement(values: readonly number[]): Measurement {
  return { medianMs: median(values), runs: values.length };
}

export const emulatorSnapshotBenchmark: Benchmark = {
  name: 'emulator-snapshot',
  async run() {
    const folder = writeRealSnapshot(mkdtempSync(join(tmpdir(), 'dvw-bench-snapshot-')));
    const lines: string[] = [];
    try {
      const { builtin, snapshot } = await starts(folder);
      lines.push(
        formatRatio(
          'emulator-snapshot start (831 tables, 8.5 MB $metadata)',
          asMeasurement(snapshot.map((s) => s.startMs)),
          asMeasurement(builtin.map((s) => s.startMs)),
          'the built-in start (goal ≤ 2x)',
        ),
      );
      const rss = (list: StartAnswer[]): number => median(list.map((s) => s.rssBytes)) / 1_048_576;
      lines.push(
        `emulator-snapshot RSS after start: ${rss(snapshot).toFixed(0)} MB, ${(rss(snapshot) / rss(builtin)).toFixed(2)}x the built-in start's ${rss(builtin).toFixed(0)} MB (goal ≤ 2x)`,
      );

      const schema = loadSnapshot(folder);
      const emulator = await startEmulator({ port: 0, noAuth: true, schema });
      try {
        const get = async (path: string): Promise<string> => {
          const response = await fetch(`${emulator.webApi}${path}`, { headers: { Accept: 'application/json' } });
          const text = await response.text();
          if (response.status !== 200) throw new Error(`${path}: ${response.status} ${text.slice(0, 200)}`);
          return text;
        };
        // Each first query goes to a table nothing has read yet; the warm one repeats a read of account. The first
        // requests of a process also warm the HTTP client and the emulator's code, which the warm queries, measured
        // afterwards, would not pay: 15 other untouched tables are read first, unmeasured.
        const untouched = [...schema.tables.values()]
          .map((t) => t.entitySetName)
          .filter(
            (s) =>
              !['accounts', 'contacts', 'systemusers', 'teams', 'businessunits', 'transactioncurrencies'].includes(s),
          );
        for (const set of untouched.slice(15, 30)) await get(`${set}?$top=5`);
        const firstTimes: number[] = [];
        for (const set of untouched.slice(0, 15)) {
          const started = performance.now();
          await get(`${set}?$top=5`);
          firstTimes.push(performance.now() - started);
        }
        const warm = await measure(() => get('accounts?$top=5'), 15);
        lines.push(
          formatRatio(
            'emulator-snapshot first query on an untouched table',
            asMeasurement(firstTimes),
            warm,
            'a query on a warm table (goal ≤ 3x)',
          ),
        );

        const path = 'EntityDefinitions?$select=LogicalName';
        const bytes = await get(path);
        const server = createServer((_req, res) => {
          res.writeHead(200, { 'Content-Type': 'application/json; odata.metadata=minimal' });
          res.end(bytes);
        });
        await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
        const port = (server.address() as AddressInfo).port;
        try {
          const fromMemory = await measure(async () => (await fetch(`http://127.0.0.1:${port}/`)).text(), 15);
          const served = await measure(() => get(path), 15);
          const count = (JSON.parse(bytes) as { value: unknown[] }).value.length;
          lines.push(
            formatRatio(
              `emulator-snapshot ${path} (${count} tables, ${(bytes.length / 1024).toFixed(0)} KB)`,
              served,
              fromMemory,
              'the same bytes from memory (goal ≤ 3x)',
            ),
          );
        } finally {
          server.close();
        }
      } finally {
        await emulator.close();
      }
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
    return lines;
  },
};

/**
 * One emulator start in a fresh process, for the snapshot benchmark: starts it (from a snapshot folder when
 * given one, else the built-in tables), then reports the start time and the resident set size over IPC.
 */
import { loadSnapshot } from '../../src/emulator/schema/snapshot';
import { startEmulator } from '../../src/emulator/server';

export interface StartAnswer {
  readonly startMs: number;
  readonly rssBytes: number;
}

async function main(folder: string | undefined): Promise<void> {
  const started = performance.now();
  const schema = folder === undefined ? undefined : loadSnapshot(folder);
  const emulator = await startEmulator({ port: 0, noAuth: true, ...(schema === undefined ? {} : { schema }) });
  const startMs = performance.now() - started;
  const answer: StartAnswer = { startMs, rssBytes: process.memoryUsage().rss };
  await emulator.close();
  process.send?.(answer);
}

main(process.argv[2]).catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});

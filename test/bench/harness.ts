/**
 * Benchmarks print ratios against a baseline measured in the same run (these machines are shared
 * and noisy), using medians over several runs. Never used by `npm test`.
 */

import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

export interface Measurement {
  readonly medianMs: number;
  readonly runs: number;
}

/** Runs `work` once to warm up, then `runs` times, and returns the median wall time. */
export async function measure(work: () => unknown, runs = 7): Promise<Measurement> {
  await work();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    await work();
    times.push(performance.now() - started);
  }
  times.sort((a, b) => a - b);
  return { medianMs: times[Math.floor(times.length / 2)] ?? Number.NaN, runs };
}

/** One line per figure, e.g. `metadata-load: 412.0 ms median, 1.31x the plain XML scan of the same file`. */
export function formatRatio(name: string, ours: Measurement, baseline: Measurement, baselineName: string): string {
  const ratio = ours.medianMs / baseline.medianMs;
  return `${name}: ${ours.medianMs.toFixed(1)} ms median of ${ours.runs}, ${ratio.toFixed(2)}x ${baselineName}`;
}

export interface Benchmark {
  readonly name: string;
  /** Returns the lines to print. */
  run(): Promise<string[]>;
}

/**
 * A full collection now, so that the next timing pays for its own garbage and not for what the previous
 * work left behind. Only `--expose-gc` gives one on demand; the flag is set for this process once.
 */
export function collectGarbage(): void {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  gc();
  gc();
}

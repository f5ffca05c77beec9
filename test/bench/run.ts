// `npm run bench`: runs every benchmark and prints one line per figure. Add a benchmark by exporting a
// `Benchmark` from a file here and listing it below.
import { batchBenchmark } from './batch.bench';
import { blocksBenchmark } from './blocks.bench';
import { bulkBenchmark } from './bulk.bench';
import { clientBenchmark } from './client.bench';
import { emulatorBenchmark } from './emulator.bench';
import { emulatorSnapshotBenchmark } from './emulatorSnapshot.bench';
import { exportBenchmark } from './export.bench';
import type { Benchmark } from './harness';
import { importBenchmark } from './import.bench';
import { languageBenchmark } from './language.bench';
import { metadataBenchmark } from './metadata.bench';
import { resultsBenchmark } from './results.bench';
import { toolsBenchmark } from './tools.bench';

const benchmarks: Benchmark[] = [
  blocksBenchmark,
  metadataBenchmark,
  languageBenchmark,
  emulatorBenchmark,
  emulatorSnapshotBenchmark,
  batchBenchmark,
  clientBenchmark,
  resultsBenchmark,
  importBenchmark,
  bulkBenchmark,
  exportBenchmark,

  toolsBenchmark,
];

async function main(only: string | undefined): Promise<void> {
  for (const benchmark of benchmarks) {
    if (only && !benchmark.name.includes(only)) continue;
    for (const line of await benchmark.run()) console.log(line);
  }
}

main(process.argv[2]).catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});

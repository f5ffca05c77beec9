import { readFileSync } from 'node:fs';
import { SaxesParser } from 'saxes';
import { parseCsdl } from '../../src/metadata/csdl';
import { MetadataIndex } from '../../src/metadata/lookup';
import { deserializeModel, serializeModel } from '../../src/metadata/serialize';
import type { Benchmark } from './harness';
import type { Measurement } from './harness';
import { collectGarbage, formatRatio } from './harness';

const FIXTURE = new URL('../../../shared/fixtures/metadata/dataverse-v9.edmx.xml', import.meta.url);

const ROUNDS = 9;

function median(times: number[]): Measurement {
  const sorted = [...times].sort((a, b) => a - b);
  return { medianMs: sorted[Math.floor(sorted.length / 2)] ?? Number.NaN, runs: sorted.length };
}

/** Loading a real org's `$metadata` (parse and index), and reloading it from the disk cache instead. */
export const metadataBenchmark: Benchmark = {
  name: 'metadata-load',
  run() {
    const xml = readFileSync(FIXTURE, 'utf8');
    const cache = serializeModel(parseCsdl(xml).model);
    // Rounds of all three, so that a burst of load on the shared machine hits each alike.
    const scans: number[] = [];
    const loads: number[] = [];
    const reloads: number[] = [];
    const time = (work: () => unknown): number => {
      // Each timing pays for its own garbage only: a fresh load leaves ~100 MB that would otherwise be
      // collected during whatever runs next.
      collectGarbage();
      const started = performance.now();
      work();
      return performance.now() - started;
    };
    for (let round = 0; round <= ROUNDS; round++) {
      // The baseline: a streaming XML scan of the same text, saxes with no handlers attached.
      const scan = time(() => new SaxesParser({ xmlns: false }).write(xml).close());
      const load = time(() => new MetadataIndex(parseCsdl(xml).model));
      const reload = time(() => new MetadataIndex(deserializeModel(cache)));
      // Round 0 warms up.
      if (round === 0) continue;
      scans.push(scan);
      loads.push(load);
      reloads.push(reload);
    }
    const scan = median(scans);
    const load = median(loads);
    const reload = median(reloads);
    const mb = (n: number): string => `${(n / 1e6).toFixed(1)} MB`;
    return Promise.resolve([
      formatRatio(`metadata-load (${mb(xml.length)} CSDL)`, load, scan, 'a plain saxes scan of the same text'),
      formatRatio(`metadata-cache-reload (${mb(cache.length)} cache)`, reload, load, 'a fresh load'),
    ]);
  },
};

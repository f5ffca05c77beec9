import { readFileSync } from 'node:fs';
import { SaxesParser } from 'saxes';
import { parseCsdl } from '../../src/metadata/csdl';
import { deserializeModel, serializeModel } from '../../src/metadata/serialize';
import type { Benchmark } from './harness';
import { formatRatio, measure } from './harness';

const FIXTURE = new URL('../../../shared/fixtures/metadata/dataverse-v9.edmx.xml', import.meta.url);

/** Loading a real org's `$metadata`: parsing, and reloading from the disk cache instead. */
export const metadataBenchmark: Benchmark = {
  name: 'metadata-load',
  async run() {
    const xml = readFileSync(FIXTURE, 'utf8');
    // The floor for any saxes-based parser: the same scan with no handlers attached.
    const scan = await measure(() => new SaxesParser({ xmlns: false }).write(xml).close());
    const parse = await measure(() => parseCsdl(xml));
    const cache = serializeModel(parseCsdl(xml).model);
    const reload = await measure(() => deserializeModel(cache));
    const mb = (n: number): string => `${(n / 1e6).toFixed(1)} MB`;
    return [
      formatRatio(`metadata-parse (${mb(xml.length)} CSDL)`, parse, scan, 'a plain saxes scan of the same text'),
      formatRatio(`metadata-cache-load (${mb(cache.length)} cache)`, reload, parse, 'parsing the CSDL'),
    ];
  },
};

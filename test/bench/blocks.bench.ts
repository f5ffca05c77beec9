import { splitBlocks } from '../../src/odata/blocks';
import type { Benchmark } from './harness';
import { formatRatio, measure } from './harness';

/** A large .odata file: splitting it into blocks should cost little more than splitting it into lines. */
function syntheticDocument(blocks: number): string {
  const parts: string[] = ['@top = 10\n'];
  for (let i = 0; i < blocks; i++) {
    parts.push(
      `### Request ${i}\nGET accounts?$select=name,revenue&$filter=revenue gt ${i}\nPrefer: odata.maxpagesize=50\n\n`,
    );
  }
  return parts.join('');
}

export const blocksBenchmark: Benchmark = {
  name: 'odata-blocks',
  async run() {
    const text = syntheticDocument(20_000);
    const ours = await measure(() => splitBlocks(text));
    const baseline = await measure(() => text.split('\n').filter((line) => line.startsWith('###')).length);
    return [
      formatRatio(`odata-blocks (${(text.length / 1e6).toFixed(1)} MB)`, ours, baseline, 'a plain split into lines'),
    ];
  },
};

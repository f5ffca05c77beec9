import { parseDocument } from '../../src/odata/document/parser';
import type { Benchmark } from './harness';
import { formatRatio, measure } from './harness';

/** A large .odata file: parsing it fully (blocks, requests, URLs, headers) against splitting it into lines. */
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
  name: 'odata-document',
  async run() {
    const text = syntheticDocument(20_000);
    const ours = await measure(() => parseDocument(text));
    const baseline = await measure(() => text.split('\n').filter((line) => line.startsWith('###')).length);
    return [
      formatRatio(
        `odata-document parse (${(text.length / 1e6).toFixed(1)} MB)`,
        ours,
        baseline,
        'a plain split into lines',
      ),
    ];
  },
};

import { parseDocument, reparseDocument } from '../../src/odata/document/parser';
import type { ODataDocument } from '../../src/odata/document/syntax';
import type { Benchmark } from './harness';
import { collectGarbage, formatRatio, measure } from './harness';

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

/** Heap the parsed document keeps alive, measured between full collections. */
function retainedBytes(text: string): number {
  collectGarbage();
  const before = process.memoryUsage().heapUsed;
  const kept: ODataDocument[] = [parseDocument(text)];
  collectGarbage();
  const retained = process.memoryUsage().heapUsed - before;
  return kept.length > 0 ? retained : 0;
}

export const blocksBenchmark: Benchmark = {
  name: 'odata-document blocks',
  async run() {
    const text = syntheticDocument(20_000);
    const megabytes = (text.length / 1e6).toFixed(1);
    const ours = await measure(() => parseDocument(text));
    const baseline = await measure(() => text.split('\n').filter((line) => line.startsWith('###')).length);
    // One character typed in the middle of the file, as the language server re-parses on every keystroke.
    const parsed = parseDocument(text);
    const at = text.indexOf('revenue gt 10000') + 'revenue gt 1000'.length;
    const edited = `${text.slice(0, at)}7${text.slice(at)}`;
    const edit = await measure(() => reparseDocument(parsed, edited));
    const retained = retainedBytes(text);
    return [
      formatRatio(`odata-document parse (${megabytes} MB)`, ours, baseline, 'a plain split into lines'),
      formatRatio(`odata-document one-character edit (${megabytes} MB)`, edit, baseline, 'a plain split into lines') +
        ` (${(ours.medianMs / edit.medianMs).toFixed(1)}x faster than a full parse)`,
      `odata-document memory (${megabytes} MB): ${(retained / 1e6).toFixed(1)} MB retained, ${(retained / text.length).toFixed(1)}x the file`,
    ];
  },
};

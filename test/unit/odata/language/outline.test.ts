import * as assert from 'node:assert/strict';
import { parseDocument } from '../../../../src/odata/document/parser';
import { codeLenses, documentSymbols, formatDocument } from '../../../../src/odata/language/outline';

function format(text: string): string {
  const edits = formatDocument(parseDocument(text), text);
  let result = text;
  for (const edit of [...edits].sort((a, b) => b.span.start - a.span.start)) {
    result = result.slice(0, edit.span.start) + edit.newText + result.slice(edit.span.end);
  }
  return result;
}

describe('outline: symbols, CodeLens, formatting', () => {
  it('gives one symbol per block, named by title or request line', () => {
    const symbols = documentSymbols(
      parseDocument('@x = 1\n### Top accounts\nGET accounts?$top=5\n###\nDELETE accounts(1)\n'),
    );
    assert.deepEqual(
      symbols.map((s) => [s.name, s.detail, s.blockIndex]),
      [
        ['Top accounts', 'GET accounts?$top=5', 1],
        ['DELETE accounts(1)', '', 2],
      ],
    );
  });

  it('gives Run per block, Get changes on track-changes blocks, and Run all once', () => {
    const text =
      '### a\nGET accounts\nPrefer: odata.track-changes\n### b\n// comments only\n### c\nPOST $batch\n\nGET a\nGET b\n';
    assert.deepEqual(
      codeLenses(parseDocument(text)).map((l) => [l.kind, l.blockIndex, l.title]),
      [
        ['runAll', undefined, 'Run all (2)'],
        ['run', 0, 'Run'],
        ['getChanges', 0, 'Get changes'],
        ['run', 2, 'Run batch (2 requests)'],
      ],
    );
  });

  it('puts one query option per line in a stable order, keeping option text as written', () => {
    const text =
      "### a\nget accounts?$top=5&$filter=name eq 'x'&@p1=1&$select=name,revenue\nPrefer: return=representation\n";
    const once = format(text);
    assert.equal(
      once,
      "### a\nGET accounts?$select=name,revenue\n    &$filter=name eq 'x'\n    &$top=5\n    &@p1=1\nPrefer: return=representation\n",
    );
    assert.equal(format(once), once, 'formatting is idempotent');
    assert.equal(format('GET WhoAmI\n'), 'GET WhoAmI\n');
  });
});

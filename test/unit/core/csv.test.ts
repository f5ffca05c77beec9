import * as assert from 'node:assert/strict';
import { csvCell, csvField, csvLines, guardFormula } from '../../../src/core/csv';

// The grid's export (test/unit/webview/exportData.test.ts) and `dvw run --output csv` (test/unit/cli/run.test.ts)
// both write through these.
describe('CSV cells for spreadsheets', () => {
  it('guards every formula start but leaves plain numbers alone', () => {
    for (const text of ['=1+1', '+A1', '-A1', '@x', '\tx', '\rx', '-2+3']) assert.equal(guardFormula(text), `'${text}`);
    for (const text of ['-5', '+3.25', '-1e5', 'plain', '', 'a=b']) assert.equal(guardFormula(text), text);
  });

  it('quotes what would break a field, and keeps leading spaces', () => {
    assert.equal(csvField('a'), 'a');
    assert.equal(csvField('a,b'), '"a,b"');
    assert.equal(csvField('say "hi"'), '"say ""hi"""');
    assert.equal(csvField('a\r\nb'), '"a\r\nb"');
    assert.equal(csvField(' padded'), '" padded"');
  });

  it('keeps a JSON number a number, guards text that looks like a formula, and heads the lines with the columns', () => {
    assert.equal(csvCell('-5', true), '-5');
    assert.equal(csvCell('-A1', false), "'-A1");
    assert.equal(csvLines(['=a', 'b'], [['1', '"x,y"']]), '\'=a,b\r\n1,"x,y"\r\n');
  });
});

import * as assert from 'node:assert/strict';
import { parseDocument } from '../../../../src/odata/document/parser';
import { idFromEntityIdHeader, lookupPath } from '../../../../src/odata/run';
import { place } from '../../../../src/odata/run/variables';

describe('run variables', () => {
  it('keeps the source text on the document, for bodies that have only spans', () => {
    const text = 'POST accounts\r\n\r\n{ "name": "x" }\r\n';
    const document = parseDocument(text);
    assert.equal(document.text, text);
    const body = document.blocks[0]!.request!.body!;
    assert.equal(document.text.slice(body.span.start, body.span.end), '{ "name": "x" }');
  });

  it('follows JSON paths through objects, arrays and dotted property names', () => {
    const body = {
      value: [{ a: 1 }, { 'b@OData.Community.Display.V1.FormattedValue': 'Two', b: 2 }],
      '@odata.count': 2,
      'x.y': { z: true },
    };
    assert.deepEqual(lookupPath(body, ['value', '1', 'b']), { found: true, value: 2 });
    assert.deepEqual(lookupPath(body, ['value', '1', 'b@OData', 'Community', 'Display', 'V1', 'FormattedValue']), {
      found: true,
      value: 'Two',
    });
    assert.deepEqual(lookupPath(body, ['@odata', 'count']), { found: true, value: 2 });
    assert.deepEqual(lookupPath(body, ['x', 'y', 'z']), { found: true, value: true });
    assert.deepEqual(lookupPath(body, ['value', 'first']), { found: false });
    assert.deepEqual(lookupPath(body, ['value', '2']), { found: false });
    assert.deepEqual(lookupPath('text', ['a']), { found: false });
  });

  it('takes the key out of an OData-EntityId header', () => {
    assert.equal(
      idFromEntityIdHeader('https://org/api/data/v9.2/accounts(0b1f1e55-0000-0000-0000-000000000001)'),
      '0b1f1e55-0000-0000-0000-000000000001',
    );
    assert.equal(idFromEntityIdHeader("https://org/api/data/v9.2/accounts(accountnumber='A1')"), "accountnumber='A1'");
    assert.equal(idFromEntityIdHeader('https://org/api/data/v9.2/accounts'), undefined);
    assert.equal(idFromEntityIdHeader(undefined), undefined);
  });

  it('writes each value for its place', () => {
    const text = { kind: 'text', text: 'a "b" & <c>' } as const;
    assert.equal(place(text, 'urlQuery'), 'a%20%22b%22%20%26%20%3Cc%3E');
    assert.equal(place(text, 'jsonString'), 'a \\"b\\" & <c>');
    assert.equal(place(text, 'jsonValue'), '"a \\"b\\" & <c>"');
    assert.equal(place(text, 'xml'), 'a &quot;b&quot; &amp; &lt;c&gt;');
    assert.equal(place(text, 'header'), 'a "b" & <c>');
    assert.equal(place({ kind: 'text', text: '12.5' }, 'jsonValue'), '12.5');
    assert.equal(place({ kind: 'json', value: '12.5' }, 'jsonValue'), '"12.5"');
    assert.equal(place({ kind: 'json', value: { a: [1] } }, 'urlPath'), '{"a":[1]}');
    assert.equal(place({ kind: 'json', value: null }, 'jsonString'), 'null');
  });
});

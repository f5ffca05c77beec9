import * as assert from 'node:assert/strict';
import { diffRecord, isReadOnlyColumn, jsonEqual, parseRecordText, recordText } from '../../../src/core/recordPatch';

const read = {
  '@odata.context': 'https://org/api/data/v9.2/$metadata#contacts/$entity',
  '@odata.etag': 'W/"1070"',
  contactid: '00aef7ea-6ec6-4400-ae6a-e455681448c4',
  firstname: 'Scott',
  lastname: 'Burk',
  fullname: 'Scott Burk',
  annualincome: 66041,
  annualincome_base: 66041,
  address: { city: 'Oslo', lines: ['a', 'b'] },
  _parentcustomerid_value: 'c0b34b18-e6ea-460c-a122-3f3165552cfd',
  createdon: '2026-11-26T04:49:52Z',
  description: null,
};

describe('record diff for PATCH', () => {
  it('sends only the changed writable columns', () => {
    const edited = { ...read, firstname: 'Scot', description: 'VIP' };
    const patch = diffRecord(read, edited, { primaryId: 'contactid' });
    assert.deepEqual(patch.changes, { firstname: 'Scot', description: 'VIP' });
    assert.deepEqual(patch.ignored, []);
    assert.deepEqual(patch.removed, []);
  });

  it('sends nothing when nothing changed, even with keys in another order or nested values rebuilt', () => {
    const reordered = Object.fromEntries(Object.entries(read).reverse());
    const patch = diffRecord(read, { ...reordered, address: { lines: ['a', 'b'], city: 'Oslo' } });
    assert.deepEqual(patch.changes, {});
  });

  it('reports edits to read-only columns, lookups, keys and annotations instead of sending them', () => {
    const edited = {
      ...read,
      contactid: '11111111-1111-1111-1111-111111111111',
      '@odata.etag': 'W/"1"',
      fullname: 'Someone Else',
      annualincome_base: 1,
      _parentcustomerid_value: '22222222-2222-2222-2222-222222222222',
      createdon: '2020-01-01T00:00:00Z',
      lastname: 'Burke',
    };
    const patch = diffRecord(read, edited, { primaryId: 'contactid' });
    assert.deepEqual(patch.changes, { lastname: 'Burke' });
    assert.deepEqual(
      [...patch.ignored].sort(),
      ['@odata.etag', '_parentcustomerid_value', 'annualincome_base', 'contactid', 'createdon', 'fullname'].sort(),
    );
  });

  it('sends an added @odata.bind, the write form of a lookup, and changes inside nested values', () => {
    const edited = {
      ...read,
      'parentcustomerid_account@odata.bind': '/accounts(22222222-2222-2222-2222-222222222222)',
      address: { city: 'Bergen', lines: ['a', 'b'] },
    };
    const patch = diffRecord(read, edited);
    assert.deepEqual(patch.changes, {
      'parentcustomerid_account@odata.bind': '/accounts(22222222-2222-2222-2222-222222222222)',
      address: { city: 'Bergen', lines: ['a', 'b'] },
    });
  });

  it('treats a removed column as no change, and names it', () => {
    const { description: _dropped, firstname: _first, ...edited } = read;
    const patch = diffRecord(read, edited);
    assert.deepEqual(patch.changes, {});
    assert.deepEqual([...patch.removed].sort(), ['description', 'firstname']);
  });

  it('takes read-only columns from metadata too', () => {
    assert.equal(isReadOnlyColumn('statecode'), false);
    assert.equal(isReadOnlyColumn('statecode', { readOnly: new Set(['statecode']) }), true);
    assert.equal(isReadOnlyColumn('x@OData.Community.Display.V1.FormattedValue'), true);
  });

  it('compares JSON values structurally', () => {
    assert.ok(jsonEqual([1, { a: null }], [1, { a: null }]));
    assert.ok(!jsonEqual([1, 2], [2, 1]));
    assert.ok(!jsonEqual({ a: 1 }, { a: 1, b: undefined }));
    assert.ok(!jsonEqual(null, {}));
    assert.ok(!jsonEqual([], {}));
  });
});

describe('record text', () => {
  it('shows the record without its context URL, and reads it back', () => {
    const text = recordText(read);
    assert.ok(!text.includes('@odata.context'));
    assert.ok(text.includes('"@odata.etag": "W/\\"1070\\""'));
    const parsed = parseRecordText(text);
    assert.ok(parsed.ok);
    assert.equal(parsed.record.firstname, 'Scott');
  });

  it('refuses text that is not a JSON object with a message that says nothing was sent', () => {
    const broken = parseRecordText('{ "firstname": "Scott", }');
    assert.ok(!broken.ok);
    assert.equal(broken.message, 'line 1, column 25: Expected double-quoted property name (nothing was sent)');
    const lines = parseRecordText('{\n  "a": 1,\n  "b" 2\n}');
    assert.ok(!lines.ok);
    assert.match(lines.message, /^line 3, column 7: Unexpected number/);
    const cut = parseRecordText('{\n  "a": ');
    assert.ok(!cut.ok);
    assert.equal(cut.message, 'line 2, column 8: Unexpected end of the text (nothing was sent)');
    for (const text of ['[1]', 'null', '"text"']) {
      const result = parseRecordText(text);
      assert.ok(!result.ok, text);
      assert.match(result.message, /must be a JSON object/);
    }
  });
});

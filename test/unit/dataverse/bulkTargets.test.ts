import assert from 'node:assert/strict';
import { BulkTargets, targetShape } from '../../../src/dataverse/bulkTargets';

const shape = targetShape({ entitySet: 'accounts', logicalName: 'account', primaryKey: 'accountid' });
const key = (n: number): string => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;

/** The target as the import built it before rows became bytes: the wire format must not change. */
function asObject(k: string, columns: Record<string, unknown>): Record<string, unknown> {
  return {
    '@odata.type': 'Microsoft.Dynamics.CRM.account',
    '@odata.id': `accounts(${k})`,
    ...columns,
    accountid: k,
  };
}

const rows: Record<string, unknown>[] = [
  { name: 'Contoso', numberofemployees: 12, revenue: 1.5, donotemail: true, description: null },
  { name: 'Zoë "quoted" \\ line\r\nbreak, emoji 🚀 and \u2028', 'parentaccountid@odata.bind': 'accounts(1)' },
  { name: 'x'.repeat(200_000) },
  { name: 'Nested', extra: { b: [1, 'x', { z: 1 }], a: null } },
];

describe('dataverse/bulkTargets', () => {
  it('writes each row as the JSON.stringify text of its UpsertMultiple target, and reads its parts back', () => {
    const targets = new BulkTargets(shape);
    rows.forEach((columns, i) => targets.add(10 + i, key(i), columns));
    assert.equal(targets.count, rows.length);
    const expected = JSON.stringify({ Targets: rows.map((columns, i) => asObject(key(i), columns)) });
    assert.equal(Buffer.from(targets.body()).toString('utf8'), expected, 'a 200,000-character row made it grow');
    rows.forEach((columns, i) => {
      assert.equal(targets.line(i), 10 + i);
      assert.equal(targets.key(i), key(i));
      assert.equal(targets.columns(i), JSON.stringify(columns), 'the body of its single upsert');
    });
  });

  it('gives any run of rows as a request of its own, and keeps working after a request of every row', () => {
    const targets = new BulkTargets(shape);
    rows.forEach((columns, i) => targets.add(i + 2, key(i), columns));
    const whole = targets.body();
    assert.deepEqual(JSON.parse(Buffer.from(whole).toString('utf8')), {
      Targets: rows.map((columns, i) => asObject(key(i), columns)),
    });
    const middle = JSON.parse(Buffer.from(targets.body(1, 3)).toString('utf8')) as unknown;
    assert.deepEqual(middle, { Targets: [asObject(key(1), rows[1] ?? {}), asObject(key(2), rows[2] ?? {})] });
    assert.equal(targets.columns(rows.length - 1), JSON.stringify(rows[rows.length - 1]), 'the last row after `]}`');
    targets.add(99, key(99), { name: 'after' });
    const all = JSON.parse(Buffer.from(targets.body()).toString('utf8')) as { Targets: unknown[] };
    assert.equal(all.Targets.length, rows.length + 1);
    assert.deepEqual(all.Targets.at(-1), asObject(key(99), { name: 'after' }));
  });

  it('is empty again after clear, for the next request, with more rows than it started with room for', () => {
    const targets = new BulkTargets(shape);
    targets.add(1, key(1), { name: 'first' });
    targets.body();
    targets.clear();
    assert.equal(targets.count, 0);
    for (let i = 0; i < 1000; i++) targets.add(i + 2, key(i), { name: `Row ${i}` });
    const body = JSON.parse(Buffer.from(targets.body()).toString('utf8')) as { Targets: { name: string }[] };
    assert.equal(body.Targets.length, 1000);
    assert.equal(body.Targets[999]?.name, 'Row 999');
    assert.equal(targets.line(999), 1001);
  });

  it('refuses a key that is not GUID-sized (the parts of a row are found by its fixed width)', () => {
    assert.throws(() => new BulkTargets(shape).add(1, 'short', { name: 'x' }), RangeError);
  });
});

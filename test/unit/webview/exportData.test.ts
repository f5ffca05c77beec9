import * as assert from 'node:assert/strict';
import type { ResultRow } from '../../../src/webview/resultsProtocol';
import { CSV_BOM } from '../../../src/core/csv';
import { pickColumns, rowsAt, toCsv, toJson } from '../../../src/webview/results/exportData';

const F = '@OData.Community.Display.V1.FormattedValue';
const ROWS: ResultRow[] = [
  {
    '@odata.etag': 'W/"1"',
    name: 'Contoso, "Ltd"',
    revenue: -1500,
    [`revenue${F}`]: '-$1,500.00',
    notes: 'line 1\nline 2',
    empty: '',
    missing: null,
    _parent_value: '5f2c3a1e-0000-4000-8000-000000000001',
    [`_parent_value${F}`]: 'Parent Co',
    '_parent_value@Microsoft.Dynamics.CRM.lookuplogicalname': 'account',
  },
  { name: '=HYPERLINK("http://evil","x")', revenue: 0, notes: '+1 425 555', empty: '@SUM(A1)', missing: '-2+3' },
];
const COLUMNS = ['name', 'revenue', 'notes', 'empty', 'missing', '_parent_value'];

describe('export of loaded rows', () => {
  it('writes Excel-friendly CSV: BOM, CRLF, header, RFC 4180 quoting', () => {
    const csv = toCsv(ROWS, COLUMNS, { formatted: false });
    assert.ok(csv.startsWith(CSV_BOM));
    assert.equal(
      csv,
      `${CSV_BOM}name,revenue,notes,empty,missing,_parent_value\r\n` +
        '"Contoso, ""Ltd""",-1500,"line 1\nline 2",,,5f2c3a1e-0000-4000-8000-000000000001\r\n' +
        `"'=HYPERLINK(""http://evil"",""x"")",0,'+1 425 555,'@SUM(A1),'-2+3,\r\n`,
    );
  });

  it('uses formatted values when asked, and guards them as text', () => {
    const csv = toCsv(ROWS.slice(0, 1), ['revenue', '_parent_value', 'missing'], { formatted: true });
    assert.equal(
      csv,
      `${CSV_BOM}revenue,_parent_value,missing\r\n'-$1,500.00,Parent Co,\r\n`.replace("'-$1,500.00", `"'-$1,500.00"`),
    );
  });

  it('writes JSON with values typed, nulls kept and annotations of the chosen columns only', () => {
    const parsed: unknown = JSON.parse(toJson(ROWS, ['revenue', 'missing']));
    assert.deepEqual(parsed, [
      { revenue: -1500, [`revenue${F}`]: '-$1,500.00', missing: null },
      { revenue: 0, missing: '-2+3' },
    ]);
    assert.deepEqual(pickColumns(ROWS, ['_parent_value'])[0], {
      _parent_value: '5f2c3a1e-0000-4000-8000-000000000001',
      [`_parent_value${F}`]: 'Parent Co',
      '_parent_value@Microsoft.Dynamics.CRM.lookuplogicalname': 'account',
    });
  });

  it('picks the rows an export message names, in its order, and refuses indexes it does not have', () => {
    assert.deepEqual(rowsAt(ROWS, [1, 0]), [ROWS[1], ROWS[0]]);
    assert.throws(() => rowsAt(ROWS, [2]), /No row 2: 2 rows/);
  });
});

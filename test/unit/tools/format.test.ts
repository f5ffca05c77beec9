import * as assert from 'node:assert/strict';
import { cellText, compactTable, displayColumns, withinBudget } from '../../../src/tools/format';

describe('tool answer formatting', () => {
  it('shows formatted values beside raw ones and drops control annotations', () => {
    const row = {
      '@odata.etag': 'W/"1"',
      name: 'Contoso',
      statecode: 0,
      'statecode@OData.Community.Display.V1.FormattedValue': 'Active',
      _parentaccountid_value: 'a1',
      '_parentaccountid_value@OData.Community.Display.V1.FormattedValue': 'Fabrikam',
      '_parentaccountid_value@Microsoft.Dynamics.CRM.lookuplogicalname': 'account',
      revenue: null,
    };
    assert.deepEqual(
      [...displayColumns(row)],
      [
        ['name', 'Contoso'],
        ['statecode', 'Active (0)'],
        ['_parentaccountid_value', 'Fabrikam (a1)'],
        ['revenue', ''],
      ],
    );
  });

  it('keeps a value in its cell: separators escaped, line breaks flattened, long text cut', () => {
    assert.equal(cellText('a|b\nc'), 'a\\|b c');
    assert.equal(cellText('x'.repeat(100)), `${'x'.repeat(59)}…`);
  });

  it('lays rows out under the columns of all rows, first seen first, formatted values beside raw ones', () => {
    const rows = [
      { name: 'A', 'statecode@OData.Community.Display.V1.FormattedValue': 'Active', statecode: 0 },
      { name: 'B|C', revenue: 5, 'revenue@OData.Community.Display.V1.FormattedValue': '$5.00' },
      { '@odata.etag': 'W/"2"', name: 'D\nE', statecode: 1 },
    ];
    assert.deepEqual(compactTable(rows, 1000), {
      text: 'name | statecode | revenue\nA | Active (0) | \nB\\|C |  | $5.00 (5)\nD E | 1 | \n',
      shownRows: 3,
    });
  });

  it('escapes and cuts a formatted value beside its raw one as one cell, like any other cell', () => {
    const formatted = '@OData.Community.Display.V1.FormattedValue';
    const rows = [
      { name: 'a', [`_ownerid_value${formatted}`]: 'Team|North\nWest', _ownerid_value: 'x' },
      { name: 'b', [`_ownerid_value${formatted}`]: 'y'.repeat(50), _ownerid_value: '8f1c4d2e' },
      { name: 'c', [`_ownerid_value${formatted}`]: 'Nobody', _ownerid_value: null },
      { name: 'd', [`_ownerid_value${formatted}`]: 'x', _ownerid_value: 'x' },
    ];
    assert.deepEqual(compactTable(rows, 1000), {
      text: `name | _ownerid_value\na | Team\\|North West (x)\nb | ${'y'.repeat(50)} (8f1c4d2…\nc | \nd | x\n`,
      shownRows: 4,
    });
  });

  it('stops the table before the budget and says how many rows it shows', () => {
    const rows = Array.from({ length: 100 }, (_, i) => ({ name: `Account ${i}` }));
    const table = compactTable(rows, 200);
    assert.ok(table.text.length <= 200);
    assert.equal(table.shownRows, table.text.split('\n').length - 2);
    assert.ok(table.shownRows < 100);
  });

  it('cuts text at a line end with a truncated note that says what to do', () => {
    const text = Array.from({ length: 50 }, (_, i) => `line ${i}`).join('\n');
    const cut = withinBudget(text, 40, 'Ask for less.');
    assert.match(
      cut,
      /^line 0\nline 1\n[\s\S]*\[truncated: the answer was \d+ characters, over the 40-character budget\. Ask for less\.\]\n$/,
    );
    assert.equal(withinBudget('short', 40, 'x'), 'short');
  });
});

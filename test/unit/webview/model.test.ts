import * as assert from 'node:assert/strict';
import type { ResultRow } from '../../../src/webview/resultsProtocol';
import { hintFor } from '../../../src/webview/results/errorHints';
import type { GridRow } from '../../../src/webview/results/model';
import {
  applyColumnHints,
  cellText,
  cellView,
  deriveColumns,
  mergeColumns,
  nextSort,
  rangeText,
  rowId,
  viewOrder,
} from '../../../src/webview/results/model';

const F = '@OData.Community.Display.V1.FormattedValue';
const ID = '5f2c3a1e-0000-4000-8000-000000000001';

function rows(...data: ResultRow[]): GridRow[] {
  return data.map((d, sourceIndex) => ({ data: d, sourceIndex }));
}

const ACCOUNTS = rows(
  { name: 'beta', revenue: 20, [`revenue${F}`]: '$20.00', statecode: 0, [`statecode${F}`]: 'Active' },
  { name: 'Alpha', revenue: null, statecode: 1, [`statecode${F}`]: 'Inactive' },
  { name: 'alpha 2', revenue: 3, [`revenue${F}`]: '$3.00', statecode: 0, [`statecode${F}`]: 'Active' },
  { name: 'item 10', revenue: 1000, [`revenue${F}`]: '$1,000.00', statecode: 0 },
  { name: 'item 9', revenue: 20, statecode: 0 },
);
const COLUMNS = deriveColumns(ACCOUNTS.map((r) => r.data));

function names(order: readonly number[]): string[] {
  return order.map((i) => {
    const name = ACCOUNTS[i]?.data.name;
    return typeof name === 'string' ? name : '?';
  });
}

describe('results grid model', () => {
  it('makes columns of properties, not of annotations, hints first', () => {
    const columns = deriveColumns(
      [
        { '@odata.etag': 'W/"1"', name: 'a', _parentid_value: ID, [`_parentid_value${F}`]: 'P' },
        { name: 'b', extra: 1 },
      ],
      [{ logicalName: 'extra', displayName: 'Extra', type: 'Integer' }, { logicalName: 'notselected' }],
    );
    assert.deepEqual(
      columns.map((c) => [c.name, c.displayName, c.type, c.lookup]),
      [
        ['extra', 'Extra', 'Integer', false],
        ['name', undefined, undefined, false],
        ['_parentid_value', undefined, undefined, true],
      ],
    );
    const more = mergeColumns(columns, deriveColumns([{ name: 'c', later: true }]));
    assert.deepEqual(
      more.map((c) => c.name),
      ['extra', 'name', '_parentid_value', 'later'],
    );
  });

  it('tells null, a missing property and an empty string apart', () => {
    const [name] = deriveColumns([{ name: 'x' }]);
    assert.ok(name);
    const samples: ResultRow[] = [{ name: null }, {}, { name: '' }, { name: 'null' }];
    const kinds = samples.map((r) => cellView(r, name, true));
    assert.deepEqual(
      kinds.map((v) => v.kind),
      ['null', 'absent', 'empty', 'text'],
    );
    assert.notEqual(kinds[0]?.text, kinds[2]?.text);
    assert.equal(cellText({ name: null }, 'name', true), '');
  });

  it('shows formatted values when asked, raw ones otherwise, and a lookup with its name and id', () => {
    const row: ResultRow = {
      revenue: 1000,
      [`revenue${F}`]: '$1,000.00',
      statecode: 0,
      [`statecode${F}`]: 'Active',
      _ownerid_value: ID,
      [`_ownerid_value${F}`]: 'Ada Lovelace',
      '_ownerid_value@Microsoft.Dynamics.CRM.lookuplogicalname': 'systemuser',
      address: { city: 'Paris' },
    };
    const [revenue, statecode, owner, address] = deriveColumns([row]);
    assert.ok(revenue && statecode && owner && address);
    assert.deepEqual(cellView(row, revenue, true), { kind: 'number', text: '$1,000.00' });
    assert.deepEqual(cellView(row, revenue, false), { kind: 'number', text: '1000', title: '$1,000.00' });
    assert.equal(cellView(row, statecode, true).kind, 'text', 'an option label is text');
    assert.deepEqual(cellView(row, owner, true), {
      kind: 'lookup',
      text: 'Ada Lovelace',
      secondary: ID,
      title: `systemuser ${ID}`,
    });
    assert.equal(cellView(row, owner, false).secondary, ID);
    assert.deepEqual(cellView(row, address, true), { kind: 'json', text: '{"city":"Paris"}' });
    assert.equal(cellText(row, '_ownerid_value', true), 'Ada Lovelace');
    assert.equal(cellText(row, '_ownerid_value', false), ID);
  });

  it('sorts by raw value, numbers as numbers, text naturally, empty cells last, stably', () => {
    const by = (column: string, direction: 'asc' | 'desc'): string[] =>
      names(viewOrder(ACCOUNTS, { sort: { column, direction }, filter: '', formatted: true, columns: COLUMNS }));
    assert.deepEqual(by('revenue', 'asc'), ['alpha 2', 'beta', 'item 9', 'item 10', 'Alpha']);
    assert.deepEqual(by('revenue', 'desc'), ['item 10', 'beta', 'item 9', 'alpha 2', 'Alpha']);
    assert.deepEqual(by('name', 'asc'), ['Alpha', 'alpha 2', 'beta', 'item 9', 'item 10']);
    assert.deepEqual(by('missing', 'asc'), ['beta', 'Alpha', 'alpha 2', 'item 10', 'item 9']);
  });

  it('filters on raw and formatted text, case-insensitively', () => {
    const filter = (text: string): string[] =>
      names(viewOrder(ACCOUNTS, { filter: text, formatted: false, columns: COLUMNS }));
    assert.deepEqual(filter('ALPHA'), ['Alpha', 'alpha 2']);
    assert.deepEqual(filter('inactive'), ['Alpha']);
    assert.deepEqual(filter('$1,000'), ['item 10']);
    assert.deepEqual(filter('1000'), ['item 10']);
    assert.deepEqual(filter('  '), names([0, 1, 2, 3, 4]));
    assert.deepEqual(filter('nothing like it'), []);
    const removed: GridRow[] = [...ACCOUNTS, { data: { name: 'gone' }, removed: 'deleted', sourceIndex: -1 }];
    assert.deepEqual(viewOrder(removed, { filter: 'removed', formatted: true, columns: COLUMNS }), [5]);
  });

  it('cycles a header through ascending, descending and unsorted', () => {
    assert.deepEqual(nextSort(undefined, 'name'), { column: 'name', direction: 'asc' });
    assert.deepEqual(nextSort({ column: 'name', direction: 'asc' }, 'name'), { column: 'name', direction: 'desc' });
    assert.equal(nextSort({ column: 'name', direction: 'desc' }, 'name'), undefined);
    assert.deepEqual(nextSort({ column: 'name', direction: 'desc' }, 'revenue'), {
      column: 'revenue',
      direction: 'asc',
    });
  });

  it('copies a range as tab-separated lines in the order shown, tabs and newlines in cells flattened', () => {
    const data = rows({ a: 'x\ty', b: 1 }, { a: 'line\nbreak', b: null }, { a: 'z', b: 3 });
    const columns = deriveColumns(data.map((r) => r.data));
    assert.equal(
      rangeText(data, [2, 1, 0], columns, { top: 0, bottom: 2, left: 0, right: 1 }, true),
      'z\t3\nline break\t\nx y\t1',
    );
    assert.equal(rangeText(data, [0, 1, 2], columns, { top: 1, bottom: 1, left: 1, right: 1 }, true), '');
  });

  it('finds a row id only in the primary id column', () => {
    assert.equal(rowId({ accountid: ID }, 'accountid'), ID);
    assert.equal(rowId({ accountid: ID }, undefined), undefined);
    assert.equal(rowId({ accountid: null }, 'accountid'), undefined);
  });

  it('has a hint a user can act on for 401, 403, 404, 412 and 429, and prefers the host’s', () => {
    assert.match(hintFor(401) ?? '', /Sign in/);
    assert.match(hintFor(403) ?? '', /security role/);
    assert.match(hintFor(404) ?? '', /deleted|misspelled/);
    assert.match(hintFor(412) ?? '', /changed since you read it/);
    assert.match(hintFor(429) ?? '', /Retry-After/);
    assert.equal(hintFor(500), undefined);
    assert.equal(hintFor(undefined), undefined);
    assert.equal(hintFor(429, 'Try again at 10:42.'), 'Try again at 10:42.');
    assert.match(hintFor(429, '  ') ?? '', /Retry-After/);
  });

  it('fills display names and types from hints that come after the rows, keeping the column order', () => {
    const columns = deriveColumns([{ name: 'A', parentid: 'x', revenue: 1 }]);
    const hinted = applyColumnHints(columns, [
      { logicalName: 'revenue', displayName: 'Annual Revenue', type: 'Money' },
      { logicalName: 'parentid', displayName: 'Parent', type: 'Lookup' },
      { logicalName: 'notshown', displayName: 'Not shown', type: 'String' },
    ]);
    assert.deepEqual(
      hinted.map((c) => [c.name, c.displayName, c.type, c.lookup]),
      [
        ['name', undefined, undefined, false],
        ['parentid', 'Parent', 'Lookup', true],
        ['revenue', 'Annual Revenue', 'Money', false],
      ],
    );
    assert.equal(hinted[0], columns[0], 'a column without a hint is the same object');
  });
});

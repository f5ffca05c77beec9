import * as assert from 'node:assert/strict';
import { inspect } from 'node:util';
import type { HostMessage, PageMessage, ResultsUiState } from '../../../src/webview/resultsProtocol';
import { parseHostMessage, parsePageMessage, parseUiState } from '../../../src/webview/resultsProtocol';

const STATUS = { rowCount: 1, elapsedMs: 12.5, httpStatus: 200, requestId: 'abc-123' };
const ID = '5f2c3a1e-0000-4000-8000-000000000001';
const UI: ResultsUiState = {
  view: 'json',
  formatted: false,
  sort: { column: 'name', direction: 'desc' },
  filter: 'contoso',
  scrollTop: 220,
  scrollLeft: 0,
};

const HOST_MESSAGES: HostMessage[] = [
  {
    type: 'showResult',
    shape: 'entities',
    rows: [
      { accountid: ID, name: 'Contoso', revenue: 5, active: true, parent: null, tags: ['a'], address: { city: 'X' } },
    ],
    metadata: {
      entitySet: 'accounts',
      primaryIdAttribute: 'accountid',
      columns: [{ logicalName: 'name', displayName: 'Account Name', type: 'String' }, { logicalName: 'revenue' }],
    },
    status: { ...STATUS, totalCount: 1 },
    hasMore: true,
  },
  {
    type: 'showResult',
    shape: 'aggregate',
    rows: [],
    metadata: {},
    status: { rowCount: 0, elapsedMs: 0, httpStatus: 200 },
    hasMore: false,
  },
  { type: 'appendPage', requestId: 'p1', rows: [{ name: 'Fabrikam' }], hasMore: false, status: STATUS },
  { type: 'showError', error: { message: 'Not found' } },
  {
    type: 'showError',
    requestId: 'p2',
    error: { code: '0x80072322', message: 'Too many', status: 429, hint: 'Wait.', serviceRequestId: 'r' },
  },
  {
    type: 'showBatch',
    responses: [
      { status: 204 },
      {
        status: 200,
        statusText: 'OK',
        method: 'GET',
        url: 'accounts',
        contentId: '1',
        changeSet: 2,
        body: { value: [] },
      },
    ],
    status: STATUS,
  },
  { type: 'showDelta', rows: [{ name: 'x' }], removed: [{ id: ID, reason: 'deleted' }], metadata: {}, status: STATUS },
  { type: 'progress', requestId: 'p3', state: 'running', pagesLoaded: 2, rowsLoaded: 10_000 },
  { type: 'progress', requestId: 'p3', state: 'cancelled', pagesLoaded: 2, rowsLoaded: 10_000 },
  {
    type: 'columnHints',
    entitySet: 'accounts',
    columns: [{ logicalName: 'revenue', displayName: 'Annual Revenue', type: 'Money' }, { logicalName: 'name' }],
  },
  { type: 'restoreState', state: UI },
  { type: 'restoreState', state: { view: 'grid', formatted: true, filter: '', scrollTop: 0, scrollLeft: 0 } },
];

const PAGE_MESSAGES: PageMessage[] = [
  { type: 'ready' },
  { type: 'loadNextPage', requestId: 'p1' },
  { type: 'loadAllPages', requestId: 'p_2-x' },
  { type: 'cancel', requestId: 'p1' },
  { type: 'export', format: 'csv', columns: ['name', 'revenue'], rowIndexes: [2, 0, 1], formatted: true },
  { type: 'export', format: 'json', columns: [], rowIndexes: [], formatted: false },
  { type: 'openRecord', entitySet: 'accounts', id: ID },
  { type: 'copy', text: 'a\tb\nc' },
  { type: 'copy', text: '' },
];

function rejectsHost(value: unknown, reason: RegExp): void {
  const parsed = parseHostMessage(value);
  assert.equal(parsed.ok, false, `accepted ${inspect(value)}`);
  if (!parsed.ok) assert.match(parsed.error, reason);
}

function rejectsPage(value: unknown, reason: RegExp): void {
  const parsed = parsePageMessage(value);
  assert.equal(parsed.ok, false, `accepted ${inspect(value)}`);
  if (!parsed.ok) assert.match(parsed.error, reason);
}

describe('results protocol', () => {
  it('accepts every host message kind and returns it unchanged', () => {
    for (const message of HOST_MESSAGES) {
      // Through JSON, as postMessage delivers it: no prototypes, no undefined properties.
      const parsed = parseHostMessage(JSON.parse(JSON.stringify(message)));
      assert.deepEqual(parsed, { ok: true, message }, message.type);
    }
  });

  it('accepts every page message kind and returns it unchanged', () => {
    for (const message of PAGE_MESSAGES) {
      assert.deepEqual(parsePageMessage(JSON.parse(JSON.stringify(message))), { ok: true, message }, message.type);
    }
  });

  it('does not take page messages for host messages, nor the other way round', () => {
    rejectsHost({ type: 'ready' }, /unknown host message type "ready"/);
    rejectsPage({ type: 'showError', error: { message: 'x' } }, /unknown page message type "showError"/);
  });

  it('rejects what is not a message, saying why', () => {
    rejectsHost(undefined, /message: expected a message object, got undefined/);
    rejectsHost(null, /got null/);
    rejectsHost('showResult', /got string/);
    rejectsHost([], /got an array/);
    rejectsHost({}, /message.type: expected a string, got undefined/);
    rejectsHost({ type: 7 }, /message.type: expected a string, got number/);
    rejectsPage({ type: '__proto__' }, /unknown page message type/);
  });

  it('rejects column hints without a valid entity set or with malformed hints', () => {
    const hints = { type: 'columnHints', entitySet: 'accounts', columns: [{ logicalName: 'name' }] };
    rejectsHost({ ...hints, entitySet: 'accounts/$ref' }, /columnHints.entitySet: not an entity set name/);
    rejectsHost(
      { ...hints, columns: [{ logicalName: 'name', label: 'x' }] },
      /columnHints.columns\[0\]: unexpected property 'label'/,
    );
    rejectsHost(
      { ...hints, columns: [{ displayName: 'Name' }] },
      /columnHints.columns\[0\].logicalName: expected a string/,
    );
    rejectsHost(
      { type: 'columnHints', entitySet: 'accounts' },
      /columnHints.columns: expected an array, got undefined/,
    );
  });

  it('rejects malformed host messages with the path of the bad value', () => {
    const result = HOST_MESSAGES[0] as unknown as Record<string, unknown>;
    rejectsHost({ ...result, rows: 'x' }, /showResult.rows: expected an array, got string/);
    rejectsHost({ ...result, rows: [1] }, /showResult.rows\[0\]: expected an object, got number/);
    rejectsHost({ ...result, rows: [[]] }, /showResult.rows\[0\]: expected an object, got an array/);
    rejectsHost({ ...result, shape: 'table' }, /showResult.shape: expected one of entities, aggregate/);
    rejectsHost({ ...result, hasMore: 'yes' }, /showResult.hasMore: expected true or false/);
    rejectsHost({ ...result, extra: 1 }, /showResult: unexpected property 'extra'/);
    rejectsHost({ ...result, metadata: undefined }, /showResult.metadata: expected an object, got undefined/);
    rejectsHost(
      { ...result, metadata: { entitySet: 'accounts?$top=1' } },
      /metadata.entitySet: not an entity set name/,
    );
    rejectsHost(
      { ...result, metadata: { primaryIdAttribute: 'a b' } },
      /metadata.primaryIdAttribute: not a column name/,
    );
    rejectsHost(
      { ...result, metadata: { columns: [{ displayName: 'x' }] } },
      /columns\[0\].logicalName: expected a string/,
    );
    rejectsHost({ ...result, status: { ...STATUS, httpStatus: 42 } }, /status.httpStatus: not an HTTP status: 42/);
    rejectsHost({ ...result, status: { ...STATUS, rowCount: -1 } }, /status.rowCount: expected a whole number/);
    rejectsHost({ ...result, status: { ...STATUS, rowCount: 1.5 } }, /status.rowCount/);
    rejectsHost(
      { ...result, status: { ...STATUS, elapsedMs: Number.NaN } },
      /status.elapsedMs: expected a finite number/,
    );
    rejectsHost({ ...result, status: { ...STATUS, requestId: 5 } }, /status.requestId: expected a string/);
    rejectsHost(
      { type: 'appendPage', requestId: 'a b', rows: [], hasMore: false, status: STATUS },
      /appendPage.requestId: not a request id/,
    );
    rejectsHost(
      { type: 'appendPage', requestId: 'x'.repeat(65), rows: [], hasMore: false, status: STATUS },
      /not a request id/,
    );
    rejectsHost(
      { type: 'appendPage', rows: [], hasMore: false, status: STATUS },
      /appendPage.requestId: expected a string/,
    );
    rejectsHost({ type: 'showError' }, /showError.error: expected an object, got undefined/);
    rejectsHost({ type: 'showError', error: { code: '1' } }, /showError.error.message: expected a string/);
    rejectsHost(
      { type: 'showError', error: { message: 'x', status: '429' } },
      /showError.error.status: expected a whole number/,
    );
    rejectsHost(
      { type: 'showBatch', responses: [{}], status: STATUS },
      /showBatch.responses\[0\].status: expected a whole number/,
    );
    rejectsHost(
      { type: 'showBatch', responses: [{ status: 200, body: { n: Number.POSITIVE_INFINITY } }], status: STATUS },
      /responses\[0\].body.n: not a finite number/,
    );
    rejectsHost(
      { type: 'showDelta', rows: [], removed: [{ id: 1 }], metadata: {}, status: STATUS },
      /removed\[0\].id: expected a string/,
    );
    rejectsHost(
      { type: 'progress', requestId: 'p', state: 'paused', pagesLoaded: 0, rowsLoaded: 0 },
      /progress.state: expected one of running, done, cancelled/,
    );
    rejectsHost({ type: 'restoreState', state: { ...UI, view: 'table' } }, /restoreState.state.view/);
    rejectsHost(
      { type: 'restoreState', state: { ...UI, sort: { column: 'x', direction: 'up' } } },
      /state.sort.direction/,
    );
  });

  it('rejects a cell that JSON cannot carry', () => {
    const result = HOST_MESSAGES[0] as unknown as Record<string, unknown>;
    rejectsHost(
      { ...result, rows: [{ name: 'ok' }, { when: () => 1 }] },
      /showResult.rows\[1\].when: expected a JSON value, got function/,
    );
    rejectsHost({ ...result, rows: [{ n: undefined }] }, /rows\[0\].n: expected a JSON value, got undefined/);
    rejectsHost({ ...result, rows: [{ n: 1n }] }, /got bigint/);
  });

  it('rejects malformed page messages, so the host acts on none of them', () => {
    rejectsPage({ type: 'ready', extra: true }, /ready: unexpected property 'extra'/);
    rejectsPage({ type: 'loadNextPage' }, /loadNextPage.requestId: expected a string, got undefined/);
    rejectsPage({ type: 'loadAllPages', requestId: '' }, /not a request id/);
    rejectsPage({ type: 'cancel', requestId: '../x' }, /cancel.requestId: not a request id/);
    rejectsPage(
      { type: 'export', format: 'xlsx', columns: [], rowIndexes: [], formatted: true },
      /export.format: expected one of csv, json/,
    );
    rejectsPage(
      { type: 'export', format: 'csv', columns: [1], rowIndexes: [], formatted: true },
      /export.columns\[0\]: expected a string/,
    );
    rejectsPage(
      { type: 'export', format: 'csv', columns: [], rowIndexes: [-1], formatted: true },
      /export.rowIndexes\[0\]: expected a whole number/,
    );
    rejectsPage({ type: 'export', format: 'csv', columns: [], rowIndexes: [0.5], formatted: true }, /rowIndexes\[0\]/);
    rejectsPage(
      { type: 'export', format: 'csv', columns: [], rowIndexes: [] },
      /export.formatted: expected true or false/,
    );
    rejectsPage({ type: 'openRecord', entitySet: 'accounts', id: 'not-a-guid' }, /openRecord.id: not a GUID/);
    rejectsPage({ type: 'openRecord', entitySet: 'accounts', id: `${ID})/x` }, /openRecord.id: not a GUID/);
    rejectsPage(
      { type: 'openRecord', entitySet: 'accounts(1)', id: ID },
      /openRecord.entitySet: not an entity set name/,
    );
    rejectsPage({ type: 'openRecord', entitySet: '', id: ID }, /not an entity set name/);
    rejectsPage({ type: 'copy' }, /copy.text: expected a string, got undefined/);
    rejectsPage({ type: 'copy', text: { toString: 'x' } }, /copy.text: expected a string, got object/);
  });

  it('reads back saved UI state, and refuses state from another shape', () => {
    assert.deepEqual(parseUiState(JSON.parse(JSON.stringify(UI))), { ok: true, message: UI });
    assert.equal(parseUiState(undefined).ok, false);
    assert.equal(parseUiState({ ...UI, scrollTop: -5 }).ok, false);
    assert.equal(parseUiState({ view: 'grid' }).ok, false);
  });
});

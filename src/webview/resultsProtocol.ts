/**
 * The message protocol between the results panel's host (src/extension) and its page
 * (src/webview/results). Imports nothing, so both sides compile it into their own bundle.
 *
 * Two different request ids appear here: `requestId` on a message correlates a page request with the
 * host's answers (`loadNextPage` → `appendPage`… → `progress` with a final state), while
 * `status.requestId` and `error.serviceRequestId` are Dataverse's own `x-ms-service-request-id`.
 *
 * Every message is validated on arrival (`parseHostMessage` in the page, `parsePageMessage` in the
 * host): the page's bundle runs next to untrusted record data, so the host must not trust it either.
 */

// ---- Data -----------------------------------------------------------------------------------------

export type JsonPrimitive = string | number | boolean | null;
export type JsonValue = JsonPrimitive | JsonValue[] | { [key: string]: JsonValue };
/** One record (or one aggregate row) exactly as Dataverse returned it, annotations included. */
export type ResultRow = Record<string, JsonValue>;

/** What the host knows about a column from metadata; all optional but the logical name. */
export interface ColumnHint {
  readonly logicalName: string;
  readonly displayName?: string;
  /** The attribute type as metadata names it, e.g. `String`, `Lookup`, `Money`. */
  readonly type?: string;
}

export interface ResultMetadata {
  /** Entity set of the rows (`accounts`), needed to open a record. */
  readonly entitySet?: string;
  /** Column holding each row's id (`accountid`). */
  readonly primaryIdAttribute?: string;
  readonly columns?: readonly ColumnHint[];
}

export interface StatusLine {
  readonly rowCount: number;
  readonly elapsedMs: number;
  readonly httpStatus: number;
  /** Dataverse's `x-ms-service-request-id`, when the answer had one. */
  readonly requestId?: string;
  /** `@odata.count`, when the query asked for it. */
  readonly totalCount?: number;
}

/** `entities` rows can be opened as records; `aggregate` rows ($apply, FetchXML aggregates) cannot. */
export type ResultShape = 'entities' | 'aggregate';

export interface ErrorInfo {
  /** Dataverse's error code, e.g. `0x80040217`. */
  readonly code?: string;
  readonly message: string;
  readonly status?: number;
  /** A sentence the user can act on; the page has its own for 401, 403, 404, 412 and 429. */
  readonly hint?: string;
  readonly serviceRequestId?: string;
}

export interface BatchSubResponse {
  readonly status: number;
  readonly statusText?: string;
  readonly method?: string;
  readonly url?: string;
  readonly contentId?: string;
  /** Sub-responses inside the same change set share this number. */
  readonly changeSet?: number;
  readonly body?: JsonValue;
}

export interface RemovedRow {
  readonly id: string;
  /** OData's reason: `deleted`, or `changed` when the row left the tracked set. */
  readonly reason: string;
}

export type ViewMode = 'grid' | 'json';
export type SortDirection = 'asc' | 'desc';

/** UI state only; the data is fetched again when a panel is revived. */
export interface ResultsUiState {
  readonly view: ViewMode;
  readonly formatted: boolean;
  readonly sort?: { readonly column: string; readonly direction: SortDirection };
  readonly filter: string;
  readonly scrollTop: number;
  readonly scrollLeft: number;
}

// ---- Host → page ----------------------------------------------------------------------------------

export interface ShowResultMessage {
  readonly type: 'showResult';
  readonly shape: ResultShape;
  readonly rows: readonly ResultRow[];
  readonly metadata: ResultMetadata;
  readonly status: StatusLine;
  /** True when the answer had an `@odata.nextLink`. */
  readonly hasMore: boolean;
}

export interface AppendPageMessage {
  readonly type: 'appendPage';
  /** The `loadNextPage` or `loadAllPages` this page answers. */
  readonly requestId: string;
  readonly rows: readonly ResultRow[];
  readonly hasMore: boolean;
  readonly status: StatusLine;
}

export interface ShowErrorMessage {
  readonly type: 'showError';
  /** Set when the error ends a paging request: the page keeps the rows it has. */
  readonly requestId?: string;
  readonly error: ErrorInfo;
}

export interface ShowBatchMessage {
  readonly type: 'showBatch';
  readonly responses: readonly BatchSubResponse[];
  readonly status: StatusLine;
}

export interface ShowDeltaMessage {
  readonly type: 'showDelta';
  readonly rows: readonly ResultRow[];
  readonly removed: readonly RemovedRow[];
  readonly metadata: ResultMetadata;
  readonly status: StatusLine;
}

export type ProgressState = 'running' | 'done' | 'cancelled';

/** Every `loadNextPage`/`loadAllPages` ends with one `progress` whose state is not `running` (or a `showError`). */
export interface ProgressMessage {
  readonly type: 'progress';
  readonly requestId: string;
  readonly state: ProgressState;
  readonly pagesLoaded: number;
  readonly rowsLoaded: number;
}

/**
 * Display names and types of the shown columns, sent after `showResult`/`showDelta`: rows are shown at
 * once, and the table's EntityDefinitions (a request per table) arrive when they arrive. `entitySet`
 * names the result the hints are for, so hints that arrive after the page moved on are dropped.
 */
export interface ColumnHintsMessage {
  readonly type: 'columnHints';
  readonly entitySet: string;
  readonly columns: readonly ColumnHint[];
}

export interface RestoreStateMessage {
  readonly type: 'restoreState';
  readonly state: ResultsUiState;
}

export type HostMessage =
  | ShowResultMessage
  | AppendPageMessage
  | ShowErrorMessage
  | ShowBatchMessage
  | ShowDeltaMessage
  | ProgressMessage
  | ColumnHintsMessage
  | RestoreStateMessage;

// ---- Page → host ----------------------------------------------------------------------------------

export interface ReadyMessage {
  readonly type: 'ready';
}
export interface LoadNextPageMessage {
  readonly type: 'loadNextPage';
  readonly requestId: string;
}
export interface LoadAllPagesMessage {
  readonly type: 'loadAllPages';
  readonly requestId: string;
}
export interface CancelMessage {
  readonly type: 'cancel';
  /** The request to cancel. */
  readonly requestId: string;
}
export type ExportFormat = 'csv' | 'json';
export interface ExportMessage {
  readonly type: 'export';
  readonly format: ExportFormat;
  /** Columns in the page's order; the host exports the rows it sent, in the order of `rowIndexes`. */
  readonly columns: readonly string[];
  /** Indexes into the rows the host sent (showResult then each appendPage), after local sort and filter. */
  readonly rowIndexes: readonly number[];
  readonly formatted: boolean;
}
export interface OpenRecordMessage {
  readonly type: 'openRecord';
  readonly entitySet: string;
  readonly id: string;
}
export interface CopyMessage {
  readonly type: 'copy';
  readonly text: string;
}

export type PageMessage =
  | ReadyMessage
  | LoadNextPageMessage
  | LoadAllPagesMessage
  | CancelMessage
  | ExportMessage
  | OpenRecordMessage
  | CopyMessage;

// ---- Validation -----------------------------------------------------------------------------------

export type Parsed<T> = { readonly ok: true; readonly message: T } | { readonly ok: false; readonly error: string };

/** Generous, but bounds what a misbehaving page can make the host hold or send on. */
export const MAX_COPY_CHARS = 50_000_000;
const MAX_EXPORT_ROWS = 10_000_000;
const REQUEST_ID = /^[A-Za-z0-9_-]{1,64}$/;
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
const GUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

class Invalid extends Error {}

type Obj = Record<string, unknown>;

function fail(path: string, expected: string, value: unknown): never {
  const got = value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value;
  throw new Invalid(`${path}: expected ${expected}, got ${got}`);
}

function isObject(value: unknown): value is Obj {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function object(value: unknown, path: string, allowed: readonly string[]): Obj {
  if (!isObject(value)) fail(path, 'an object', value);
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key)) throw new Invalid(`${path}: unexpected property '${key}'`);
  }
  return value;
}

function string(value: unknown, path: string, max = 1_000_000): string {
  if (typeof value !== 'string') fail(path, 'a string', value);
  if (value.length > max) throw new Invalid(`${path}: longer than ${max} characters`);
  return value;
}

function optionalString(value: unknown, path: string, max?: number): string | undefined {
  return value === undefined ? undefined : string(value, path, max);
}

function matching(value: unknown, path: string, pattern: RegExp, what: string): string {
  const text = string(value, path, 1000);
  if (!pattern.test(text)) throw new Invalid(`${path}: not ${what}: ${JSON.stringify(text.slice(0, 80))}`);
  return text;
}

function count(value: unknown, path: string, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > max) {
    if (typeof value === 'number') throw new Invalid(`${path}: expected a whole number from 0 to ${max}, got ${value}`);
    fail(path, 'a whole number', value);
  }
  return value;
}

function finiteNonNegative(value: unknown, path: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    if (typeof value === 'number') throw new Invalid(`${path}: expected a finite number ≥ 0, got ${value}`);
    fail(path, 'a number', value);
  }
  return value;
}

function httpStatus(value: unknown, path: string): number {
  const status = count(value, path);
  if (status < 100 || status > 599) throw new Invalid(`${path}: not an HTTP status: ${status}`);
  return status;
}

function boolean(value: unknown, path: string): boolean {
  if (typeof value !== 'boolean') fail(path, 'true or false', value);
  return value;
}

function oneOf<T extends string>(value: unknown, path: string, options: readonly T[]): T {
  if (typeof value !== 'string' || !(options as readonly string[]).includes(value)) {
    throw new Invalid(`${path}: expected one of ${options.join(', ')}, got ${JSON.stringify(value) ?? 'undefined'}`);
  }
  return value as T;
}

function array(value: unknown, path: string): readonly unknown[] {
  if (!Array.isArray(value)) fail(path, 'an array', value);
  return value;
}

function requestId(value: unknown, path: string): string {
  return matching(value, path, REQUEST_ID, 'a request id (1 to 64 letters, digits, - or _)');
}

/**
 * Rows are checked one level deep: nested values (expanded navigation properties) are only ever
 * shown through JSON.stringify, and walking 250,000 cells twice would cost more than it protects.
 */
function row(value: unknown, path: string): ResultRow {
  if (!isObject(value)) fail(path, 'an object', value);
  // for…in rather than Object.entries: this loop runs for every cell of every page.
  for (const key in value) {
    const cell = value[key];
    const kind = typeof cell;
    if (kind !== 'string' && kind !== 'number' && kind !== 'boolean' && kind !== 'object') {
      fail(`${path}.${key}`, 'a JSON value', cell);
    }
  }
  return value as ResultRow;
}

function rows(value: unknown, path: string): ResultRow[] {
  return array(value, path).map((item, i) => row(item, `${path}[${i}]`));
}

function jsonValue(value: unknown, path: string, depth = 0): JsonValue {
  if (depth > 64) throw new Invalid(`${path}: nested too deeply`);
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new Invalid(`${path}: not a finite number`);
    return value;
  }
  if (Array.isArray(value)) {
    value.forEach((item, i) => jsonValue(item, `${path}[${i}]`, depth + 1));
    return value as JsonValue[];
  }
  if (isObject(value)) {
    for (const [key, item] of Object.entries(value)) jsonValue(item, `${path}.${key}`, depth + 1);
    return value as { [key: string]: JsonValue };
  }
  return fail(path, 'a JSON value', value);
}

function statusLine(value: unknown, path: string): StatusLine {
  const o = object(value, path, ['rowCount', 'elapsedMs', 'httpStatus', 'requestId', 'totalCount']);
  const requestIdText = optionalString(o.requestId, `${path}.requestId`, 200);
  return {
    rowCount: count(o.rowCount, `${path}.rowCount`),
    elapsedMs: finiteNonNegative(o.elapsedMs, `${path}.elapsedMs`),
    httpStatus: httpStatus(o.httpStatus, `${path}.httpStatus`),
    ...(requestIdText === undefined ? {} : { requestId: requestIdText }),
    ...(o.totalCount === undefined ? {} : { totalCount: count(o.totalCount, `${path}.totalCount`) }),
  };
}

function columnHint(value: unknown, path: string): ColumnHint {
  const o = object(value, path, ['logicalName', 'displayName', 'type']);
  const displayName = optionalString(o.displayName, `${path}.displayName`, 1000);
  const type = optionalString(o.type, `${path}.type`, 200);
  return {
    logicalName: string(o.logicalName, `${path}.logicalName`, 1000),
    ...(displayName === undefined ? {} : { displayName }),
    ...(type === undefined ? {} : { type }),
  };
}

function metadata(value: unknown, path: string): ResultMetadata {
  const o = object(value, path, ['entitySet', 'primaryIdAttribute', 'columns']);
  return {
    ...(o.entitySet === undefined
      ? {}
      : { entitySet: matching(o.entitySet, `${path}.entitySet`, IDENTIFIER, 'an entity set name') }),
    ...(o.primaryIdAttribute === undefined
      ? {}
      : {
          primaryIdAttribute: matching(o.primaryIdAttribute, `${path}.primaryIdAttribute`, IDENTIFIER, 'a column name'),
        }),
    ...(o.columns === undefined
      ? {}
      : { columns: array(o.columns, `${path}.columns`).map((c, i) => columnHint(c, `${path}.columns[${i}]`)) }),
  };
}

function errorInfo(value: unknown, path: string): ErrorInfo {
  const o = object(value, path, ['code', 'message', 'status', 'hint', 'serviceRequestId']);
  const code = optionalString(o.code, `${path}.code`, 200);
  const hint = optionalString(o.hint, `${path}.hint`, 10_000);
  const serviceRequestId = optionalString(o.serviceRequestId, `${path}.serviceRequestId`, 200);
  return {
    message: string(o.message, `${path}.message`, 100_000),
    ...(code === undefined ? {} : { code }),
    ...(o.status === undefined ? {} : { status: httpStatus(o.status, `${path}.status`) }),
    ...(hint === undefined ? {} : { hint }),
    ...(serviceRequestId === undefined ? {} : { serviceRequestId }),
  };
}

function subResponse(value: unknown, path: string): BatchSubResponse {
  const o = object(value, path, ['status', 'statusText', 'method', 'url', 'contentId', 'changeSet', 'body']);
  const statusText = optionalString(o.statusText, `${path}.statusText`, 1000);
  const method = optionalString(o.method, `${path}.method`, 20);
  const url = optionalString(o.url, `${path}.url`, 100_000);
  const contentId = optionalString(o.contentId, `${path}.contentId`, 200);
  return {
    status: httpStatus(o.status, `${path}.status`),
    ...(statusText === undefined ? {} : { statusText }),
    ...(method === undefined ? {} : { method }),
    ...(url === undefined ? {} : { url }),
    ...(contentId === undefined ? {} : { contentId }),
    ...(o.changeSet === undefined ? {} : { changeSet: count(o.changeSet, `${path}.changeSet`) }),
    ...(o.body === undefined ? {} : { body: jsonValue(o.body, `${path}.body`) }),
  };
}

function removedRow(value: unknown, path: string): RemovedRow {
  const o = object(value, path, ['id', 'reason']);
  return { id: string(o.id, `${path}.id`, 200), reason: string(o.reason, `${path}.reason`, 200) };
}

function uiState(value: unknown, path: string): ResultsUiState {
  const o = object(value, path, ['view', 'formatted', 'sort', 'filter', 'scrollTop', 'scrollLeft']);
  let sort: ResultsUiState['sort'];
  if (o.sort !== undefined) {
    const s = object(o.sort, `${path}.sort`, ['column', 'direction']);
    sort = {
      column: string(s.column, `${path}.sort.column`, 1000),
      direction: oneOf(s.direction, `${path}.sort.direction`, ['asc', 'desc'] as const),
    };
  }
  return {
    view: oneOf(o.view, `${path}.view`, ['grid', 'json'] as const),
    formatted: boolean(o.formatted, `${path}.formatted`),
    ...(sort === undefined ? {} : { sort }),
    filter: string(o.filter, `${path}.filter`, 10_000),
    scrollTop: finiteNonNegative(o.scrollTop, `${path}.scrollTop`),
    scrollLeft: finiteNonNegative(o.scrollLeft, `${path}.scrollLeft`),
  };
}

function typeOf(value: unknown, side: string): string {
  if (!isObject(value)) fail(side, 'a message object', value);
  if (typeof value.type !== 'string') fail(`${side}.type`, 'a string', value.type);
  return value.type;
}

function parseHost(value: unknown): HostMessage {
  const type = typeOf(value, 'message');
  const m = value as Obj;
  switch (type) {
    case 'showResult': {
      const o = object(m, type, ['type', 'shape', 'rows', 'metadata', 'status', 'hasMore']);
      return {
        type,
        shape: oneOf(o.shape, `${type}.shape`, ['entities', 'aggregate'] as const),
        rows: rows(o.rows, `${type}.rows`),
        metadata: metadata(o.metadata, `${type}.metadata`),
        status: statusLine(o.status, `${type}.status`),
        hasMore: boolean(o.hasMore, `${type}.hasMore`),
      };
    }
    case 'appendPage': {
      const o = object(m, type, ['type', 'requestId', 'rows', 'hasMore', 'status']);
      return {
        type,
        requestId: requestId(o.requestId, `${type}.requestId`),
        rows: rows(o.rows, `${type}.rows`),
        hasMore: boolean(o.hasMore, `${type}.hasMore`),
        status: statusLine(o.status, `${type}.status`),
      };
    }
    case 'showError': {
      const o = object(m, type, ['type', 'requestId', 'error']);
      return {
        type,
        ...(o.requestId === undefined ? {} : { requestId: requestId(o.requestId, `${type}.requestId`) }),
        error: errorInfo(o.error, `${type}.error`),
      };
    }
    case 'showBatch': {
      const o = object(m, type, ['type', 'responses', 'status']);
      return {
        type,
        responses: array(o.responses, `${type}.responses`).map((r, i) => subResponse(r, `${type}.responses[${i}]`)),
        status: statusLine(o.status, `${type}.status`),
      };
    }
    case 'showDelta': {
      const o = object(m, type, ['type', 'rows', 'removed', 'metadata', 'status']);
      return {
        type,
        rows: rows(o.rows, `${type}.rows`),
        removed: array(o.removed, `${type}.removed`).map((r, i) => removedRow(r, `${type}.removed[${i}]`)),
        metadata: metadata(o.metadata, `${type}.metadata`),
        status: statusLine(o.status, `${type}.status`),
      };
    }
    case 'progress': {
      const o = object(m, type, ['type', 'requestId', 'state', 'pagesLoaded', 'rowsLoaded']);
      return {
        type,
        requestId: requestId(o.requestId, `${type}.requestId`),
        state: oneOf(o.state, `${type}.state`, ['running', 'done', 'cancelled'] as const),
        pagesLoaded: count(o.pagesLoaded, `${type}.pagesLoaded`),
        rowsLoaded: count(o.rowsLoaded, `${type}.rowsLoaded`),
      };
    }
    case 'columnHints': {
      const o = object(m, type, ['type', 'entitySet', 'columns']);
      return {
        type,
        entitySet: matching(o.entitySet, `${type}.entitySet`, IDENTIFIER, 'an entity set name'),
        columns: array(o.columns, `${type}.columns`).map((c, i) => columnHint(c, `${type}.columns[${i}]`)),
      };
    }
    case 'restoreState': {
      const o = object(m, type, ['type', 'state']);
      return { type, state: uiState(o.state, `${type}.state`) };
    }
    default:
      throw new Invalid(`message.type: unknown host message type ${JSON.stringify(type)}`);
  }
}

function parsePage(value: unknown): PageMessage {
  const type = typeOf(value, 'message');
  const m = value as Obj;
  switch (type) {
    case 'ready':
      object(m, type, ['type']);
      return { type };
    case 'loadNextPage':
    case 'loadAllPages':
    case 'cancel': {
      const o = object(m, type, ['type', 'requestId']);
      return { type, requestId: requestId(o.requestId, `${type}.requestId`) };
    }
    case 'export': {
      const o = object(m, type, ['type', 'format', 'columns', 'rowIndexes', 'formatted']);
      const indexes = array(o.rowIndexes, `${type}.rowIndexes`);
      if (indexes.length > MAX_EXPORT_ROWS) throw new Invalid(`${type}.rowIndexes: more than ${MAX_EXPORT_ROWS}`);
      return {
        type,
        format: oneOf(o.format, `${type}.format`, ['csv', 'json'] as const),
        columns: array(o.columns, `${type}.columns`).map((c, i) => string(c, `${type}.columns[${i}]`, 1000)),
        rowIndexes: indexes.map((n, i) => count(n, `${type}.rowIndexes[${i}]`)),
        formatted: boolean(o.formatted, `${type}.formatted`),
      };
    }
    case 'openRecord': {
      const o = object(m, type, ['type', 'entitySet', 'id']);
      return {
        type,
        entitySet: matching(o.entitySet, `${type}.entitySet`, IDENTIFIER, 'an entity set name'),
        id: matching(o.id, `${type}.id`, GUID, 'a GUID'),
      };
    }
    case 'copy': {
      const o = object(m, type, ['type', 'text']);
      return { type, text: string(o.text, `${type}.text`, MAX_COPY_CHARS) };
    }
    default:
      throw new Invalid(`message.type: unknown page message type ${JSON.stringify(type)}`);
  }
}

function attempt<T>(parse: (value: unknown) => T, value: unknown): Parsed<T> {
  try {
    return { ok: true, message: parse(value) };
  } catch (error) {
    if (error instanceof Invalid) return { ok: false, error: error.message };
    throw error;
  }
}

/** Validates a message the page received from the host. */
export function parseHostMessage(value: unknown): Parsed<HostMessage> {
  return attempt(parseHost, value);
}

/** Validates a message the host received from the page; the host acts on nothing else. */
export function parsePageMessage(value: unknown): Parsed<PageMessage> {
  return attempt(parsePage, value);
}

/** Validates UI state read back from `getState()`, which may come from an older version of the page. */
export function parseUiState(value: unknown): Parsed<ResultsUiState> {
  return attempt((v) => uiState(v, 'state'), value);
}

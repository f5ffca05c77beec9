import { randomUUID } from 'node:crypto';
import { WorkbenchError } from '../core/errors';
import { CLIENT_ONLY_HEADERS, preferenceName, splitPreferences } from '../odata/run/httpHeaders';
import type { HttpMethod, WebApiClient } from './webApiClient';
import { errorFromResponse, idFromEntityId, preferHeader } from './webApiClient';

/** Dataverse refuses batches of more than 1,000 requests. */
export const MAX_BATCH_REQUESTS = 1000;
const DUPLICATE_RECORD = '0x80040237';
const CRLF = '\r\n';

export interface BatchRequest {
  readonly method: HttpMethod;
  /** Relative to the Web API root (`tasks`), root-relative (`/api/...`), absolute, or a `$n` reference. */
  readonly url: string;
  readonly headers?: Readonly<Record<string, string>>;
  /** Serialized with JSON.stringify; a string is sent verbatim. */
  readonly body?: unknown;
  /** Within a change set; numbered automatically when absent. */
  readonly contentId?: string;
  /** The client-generated primary key of a create: lets a repeat of the batch recognise its own records. */
  readonly createKey?: string;
  /**
   * Repeating it cannot write twice, e.g. an upsert (`PATCH set(key)` without `If-Match`) of a fixed key
   * and body: a batch of such requests is sent again after a lost answer.
   */
  readonly idempotent?: boolean;
}

export interface ChangeSet {
  readonly changeSet: readonly BatchRequest[];
}

export type BatchItem = BatchRequest | ChangeSet;

export function isChangeSet(item: BatchItem): item is ChangeSet {
  return 'changeSet' in item;
}

export interface BuildBatchOptions {
  readonly boundary?: string;
  /** The boundary of the n-th change set (from 0). */
  readonly changeSetBoundary?: (index: number) => string;
  /** Root-relative path of the Web API, used for relative request URLs. */
  readonly webApiPath?: string;
}

export interface BuiltBatch {
  readonly contentType: string;
  readonly body: string;
  /** The requests in order, with their Content-IDs filled in. */
  readonly items: readonly BatchItem[];
}

/** `multipart/mixed` framing as Dataverse documents it, CRLF line ends, request order preserved. */
export function buildBatch(items: readonly BatchItem[], options: BuildBatchOptions = {}): BuiltBatch {
  const total = items.reduce((n, item) => n + (isChangeSet(item) ? item.changeSet.length : 1), 0);
  if (total === 0) throw new WorkbenchError('invalidInput', 'A batch needs at least one request.');
  if (total > MAX_BATCH_REQUESTS) {
    throw new WorkbenchError('invalidInput', `A batch may hold at most ${MAX_BATCH_REQUESTS} requests, not ${total}.`);
  }
  const boundary = options.boundary ?? `batch_${randomUUID()}`;
  const webApiPath = options.webApiPath ?? '/api/data/v9.2/';
  const used = new Set<string>();
  for (const item of items) {
    if (isChangeSet(item)) for (const r of item.changeSet) if (r.contentId !== undefined) used.add(r.contentId);
  }
  let nextId = 1;
  const freshId = (): string => {
    while (used.has(String(nextId))) nextId++;
    used.add(String(nextId));
    return String(nextId);
  };
  let body = '';
  let changeSets = 0;
  const filled: BatchItem[] = [];
  for (const item of items) {
    body += `--${boundary}${CRLF}`;
    if (!isChangeSet(item)) {
      body += httpPart(item, webApiPath, undefined);
      filled.push(item);
      continue;
    }
    if (item.changeSet.length === 0)
      throw new WorkbenchError('invalidInput', 'A change set needs at least one request.');
    const inner = options.changeSetBoundary?.(changeSets) ?? `changeset_${randomUUID()}`;
    changeSets++;
    const members: BatchRequest[] = [];
    let content = '';
    for (const request of item.changeSet) {
      if (request.method === 'GET') {
        throw new WorkbenchError('invalidInput', 'A change set cannot contain a GET: put reads outside change sets.');
      }
      const member = { ...request, contentId: request.contentId ?? freshId() };
      members.push(member);
      content += `--${inner}${CRLF}${httpPart(member, webApiPath, member.contentId)}`;
    }
    content += `--${inner}--${CRLF}`;
    body += `Content-Type: multipart/mixed; boundary="${inner}"${CRLF}${CRLF}${content}${CRLF}`;
    filled.push({ changeSet: members });
  }
  body += `--${boundary}--${CRLF}`;
  return { contentType: `multipart/mixed; boundary="${boundary}"`, body, items: filled };
}

function httpPart(request: BatchRequest, webApiPath: string, contentId: string | undefined): string {
  let part = `Content-Type: application/http${CRLF}Content-Transfer-Encoding: binary${CRLF}`;
  if (contentId !== undefined) part += `Content-ID: ${contentId}${CRLF}`;
  part += `${CRLF}${request.method} ${partUrl(request.url, webApiPath)} HTTP/1.1${CRLF}`;
  const headers: Record<string, string> = {};
  if (request.body !== undefined) headers['Content-Type'] = 'application/json; type=entry';
  for (const [name, value] of Object.entries(request.headers ?? {})) {
    const existing = Object.keys(headers).find((key) => key.toLowerCase() === name.toLowerCase());
    if (existing !== undefined) delete headers[existing];
    headers[name] = value;
  }
  for (const [name, value] of Object.entries(headers)) {
    if (/[\r\n]/.test(name) || /[\r\n]/.test(value)) {
      throw new WorkbenchError('invalidInput', `The header '${name.replace(/[\r\n]/g, ' ')}' spans lines.`);
    }
    part += `${name}: ${value}${CRLF}`;
  }
  const text =
    request.body === undefined ? '' : typeof request.body === 'string' ? request.body : JSON.stringify(request.body);
  return `${part}${CRLF}${text}${CRLF}`;
}

function partUrl(url: string, webApiPath: string): string {
  if (/[\s]/.test(url)) throw new WorkbenchError('invalidInput', 'A request URL inside a batch cannot contain spaces.');
  if (url.startsWith('$') || url.startsWith('/') || /^[a-z][a-z0-9+.-]*:/i.test(url)) return url;
  return `${webApiPath}${url}`;
}

// ---- Response -------------------------------------------------------------------------------------

export interface BatchResponsePart {
  readonly status: number;
  readonly statusText: string;
  /** Lower-case names. */
  readonly headers: Readonly<Record<string, string>>;
  /** Parsed JSON, text, or undefined when empty. */
  readonly body: unknown;
  readonly contentId: string | undefined;
}

export type BatchResponseEntry =
  | { readonly type: 'response'; readonly part: BatchResponsePart }
  | { readonly type: 'changeSet'; readonly parts: readonly BatchResponsePart[] };

/** The boundary parameter of a multipart content type, quoted or not. */
export function boundaryOf(contentType: string | null | undefined): string | undefined {
  const match = /;\s*boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType ?? '');
  return match?.[1] ?? match?.[2];
}

/**
 * Splits a `$batch` answer into entries in request order: a top-level response, or the responses of one
 * change set. Accepts CRLF or LF line ends (Microsoft's own clients accept both), and finds the boundary
 * in the first delimiter line when the content type is missing.
 */
export function parseBatchResponse(text: string, contentType?: string | null): BatchResponseEntry[] {
  const boundary = boundaryOf(contentType) ?? /^\s*--([^\r\n]+?)\s*$/m.exec(text)?.[1];
  if (boundary === undefined) throw new WorkbenchError('odata', 'The batch answer is not multipart.');
  return splitMultipart(text, boundary).map((raw): BatchResponseEntry => {
    const { headers, content } = splitHeaders(raw);
    const type = headers['content-type'] ?? '';
    if (/^multipart\/mixed/i.test(type)) {
      const inner = boundaryOf(type);
      if (inner === undefined) throw new WorkbenchError('odata', 'A change set answer has no boundary.');
      return { type: 'changeSet', parts: splitMultipart(content, inner).map((p) => httpResponsePart(p)) };
    }
    return { type: 'response', part: httpResponsePart(raw) };
  });
}

function splitMultipart(text: string, boundary: string): string[] {
  const lines = text.split(/\r?\n/);
  const delimiter = `--${boundary}`;
  const parts: string[] = [];
  let current: string[] | undefined;
  for (const line of lines) {
    const trimmed = line.trimEnd();
    if (trimmed === delimiter || trimmed === `${delimiter}--`) {
      if (current !== undefined) parts.push(current.join('\n'));
      if (trimmed.endsWith('--') && trimmed !== delimiter) return parts;
      current = [];
      continue;
    }
    current?.push(line);
  }
  throw new WorkbenchError('odata', 'The batch answer ended before its closing boundary.');
}

function splitHeaders(raw: string): { headers: Record<string, string>; content: string; first: string | undefined } {
  const lines = raw.split('\n');
  const headers: Record<string, string> = {};
  let index = 0;
  let first: string | undefined;
  for (; index < lines.length; index++) {
    const line = lines[index] ?? '';
    if (line.trim() === '') break;
    const colon = line.indexOf(':');
    if (colon <= 0 || /^HTTP\/?\S*\s+\d{3}/i.test(line)) {
      first ??= line.trim();
      continue;
    }
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { headers, content: lines.slice(index + 1).join('\n'), first };
}

function httpResponsePart(raw: string): BatchResponsePart {
  const outer = splitHeaders(raw);
  const inner = splitHeaders(outer.content.replace(/^\n+/, ''));
  const statusLine = /^HTTP\/\d(?:\.\d)?\s+(\d{3})\s*(.*)$/i.exec(inner.first ?? '');
  if (statusLine?.[1] === undefined) throw new WorkbenchError('odata', 'A batch part has no HTTP status line.');
  const text = inner.content.replace(/\n+$/, '');
  let body: unknown = undefined;
  if (text.trim() !== '') {
    body = text;
    if (/json/i.test(inner.headers['content-type'] ?? '')) {
      try {
        body = JSON.parse(text) as unknown;
      } catch (cause) {
        throw new WorkbenchError('odata', 'A batch part holds JSON that could not be read.', { cause });
      }
    }
  }
  return {
    status: Number(statusLine[1]),
    statusText: statusLine[2]?.trim() ?? '',
    headers: inner.headers,
    body,
    contentId: outer.headers['content-id'],
  };
}

// ---- Results --------------------------------------------------------------------------------------

export interface BatchResult {
  readonly request: BatchRequest;
  /** Whether the service applied it; false for failures, rolled-back change sets and requests never reached. */
  readonly executed: boolean;
  readonly status: number | undefined;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: unknown;
  readonly error: WorkbenchError | undefined;
  /** From `OData-EntityId` (or the client key of a recovered create). */
  readonly id: string | undefined;
  /** An earlier, lost attempt had applied it: this answer was "duplicate key" on our own client key. */
  readonly recovered?: boolean;
}

function resultOf(request: BatchRequest, part: BatchResponsePart | undefined, afterUnknown: boolean): BatchResult {
  if (part === undefined) {
    return {
      request,
      executed: false,
      status: undefined,
      headers: {},
      body: undefined,
      error: undefined,
      id: undefined,
    };
  }
  const ok = part.status < 400;
  const error = ok ? undefined : errorFromResponse(part.status, new Headers(part.headers), part.body);
  if (!ok && afterUnknown && request.createKey !== undefined && error?.code === DUPLICATE_RECORD) {
    return {
      request,
      executed: true,
      status: 204,
      headers: part.headers,
      body: undefined,
      error: undefined,
      id: request.createKey,
      recovered: true,
    };
  }
  return {
    request,
    executed: ok,
    status: part.status,
    headers: part.headers,
    body: part.body,
    error,
    id: idFromEntityId(part.headers['odata-entityid'] ?? null) ?? (ok ? request.createKey : undefined),
  };
}

/**
 * One result per request, in request order. Without `odata.continue-on-error` Dataverse stops at the first
 * failure, so later requests have no part: they come back `executed: false` with no status. A change set
 * that failed answers with a single part, which then stands for every request of the set (all rolled back).
 */
export function matchBatchResults(
  items: readonly BatchItem[],
  entries: readonly BatchResponseEntry[],
  afterUnknownOutcome = false,
): BatchResult[] {
  const results: BatchResult[] = [];
  items.forEach((item, index) => {
    const entry = entries[index];
    if (!isChangeSet(item)) {
      if (entry?.type === 'changeSet')
        throw new WorkbenchError('odata', 'The batch answer does not match the requests.');
      results.push(resultOf(item, entry?.part, afterUnknownOutcome));
      return;
    }
    if (entry === undefined) {
      for (const request of item.changeSet) results.push(resultOf(request, undefined, false));
      return;
    }
    if (entry.type === 'response') {
      const failure = resultOf(item.changeSet[0] ?? { method: 'POST', url: '' }, entry.part, false);
      // A repeat that met its own client key: the lost first attempt committed the whole (atomic) set.
      const ownDuplicate =
        afterUnknownOutcome &&
        failure.error?.code === DUPLICATE_RECORD &&
        item.changeSet.some((request) => request.createKey !== undefined);
      for (const request of item.changeSet) {
        results.push(
          ownDuplicate
            ? {
                request,
                executed: true,
                status: 204,
                headers: {},
                body: undefined,
                error: undefined,
                id: request.createKey,
                recovered: true,
              }
            : { ...failure, request, executed: false, id: undefined },
        );
      }
      return;
    }
    const byId = new Map(entry.parts.map((part) => [part.contentId, part]));
    item.changeSet.forEach((request, position) => {
      const part = (request.contentId === undefined ? undefined : byId.get(request.contentId)) ?? entry.parts[position];
      results.push(resultOf(request, part, afterUnknownOutcome));
    });
  });
  return results;
}

export interface ExecuteBatchOptions {
  readonly continueOnError?: boolean;
  readonly signal?: AbortSignal;
  /** Annotations for every part, e.g. formatted values. */
  readonly includeAnnotations?: string;
  /**
   * More headers for the `$batch` request itself, e.g. `MSCRM.BypassCustomPluginExecution: true` or
   * `CallerObjectId`. The client's own (`BATCH_CLIENT_HEADERS`: the token, the multipart framing, the OData
   * version) cannot be set: naming one is an `invalidInput` error before anything is sent. A `Prefer` is
   * merged into the one the options above make, each preference once, the options' first.
   */
  readonly headers?: Readonly<Record<string, string>>;
}

/**
 * Headers the client writes on a `$batch` request itself (lower case): the access token, the multipart
 * body's Content-Type and HTTP framing, and what it always sends (webApiClient.ts). Never from a caller.
 */
export const BATCH_CLIENT_HEADERS: ReadonlySet<string> = new Set([
  ...CLIENT_ONLY_HEADERS,
  'accept',
  'accept-encoding',
  'odata-version',
  'odata-maxversion',
  'content-type',
]);

/** RFC 9110 token characters. */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** What an HTTP field value can carry: tab, visible ASCII and space, and Latin-1 (fetch sends bytes). */
const HEADER_VALUE = /^[\t\x20-\x7E\x80-\xFF]*$/;

/** Prefer values merged into one, a preference named twice kept the first time (RFC 7240). */
function mergePreferences(values: readonly string[]): string | undefined {
  const kept: string[] = [];
  const names = new Set<string>();
  for (const preference of values.flatMap(splitPreferences)) {
    const name = preferenceName(preference);
    if (names.has(name)) continue;
    names.add(name);
    kept.push(preference);
  }
  return kept.length === 0 ? undefined : kept.join(',');
}

/**
 * The headers a `$batch` request carries besides the client's own, checked before anything is sent.
 * Errors name the header, never its value (it may be a token or record data).
 */
export function batchRequestHeaders(options: ExecuteBatchOptions): Record<string, string> {
  const headers: Record<string, string> = {};
  const prefer: string[] = [];
  const own = preferHeader({
    ...(options.continueOnError ? { continueOnError: true } : {}),
    ...(options.includeAnnotations === undefined ? {} : { includeAnnotations: options.includeAnnotations }),
  });
  if (own !== undefined) prefer.push(own);
  for (const [name, value] of Object.entries(options.headers ?? {})) {
    const shown = name.replace(/[^\x21-\x7E]/g, '?').slice(0, 100);
    if (!HEADER_NAME.test(name)) {
      throw new WorkbenchError('invalidInput', `'${shown}' is not a valid HTTP header name. Nothing was sent.`);
    }
    const lower = name.toLowerCase();
    if (BATCH_CLIENT_HEADERS.has(lower)) {
      throw new WorkbenchError(
        'invalidInput',
        `The header '${name}' cannot be set on a $batch request: the client sends its own. Nothing was sent.`,
      );
    }
    if (!HEADER_VALUE.test(value)) {
      throw new WorkbenchError(
        'invalidInput',
        `The value of the header '${name}' holds a line break or a character an HTTP header cannot carry. Nothing was sent.`,
      );
    }
    if (lower === 'prefer') {
      prefer.push(value);
      continue;
    }
    const existing = Object.keys(headers).find((key) => key.toLowerCase() === lower);
    if (existing === undefined) headers[name] = value;
    else headers[existing] = `${headers[existing]!}, ${value}`;
  }
  const merged = mergePreferences(prefer);
  if (merged !== undefined) headers.Prefer = merged;
  return headers;
}

/**
 * Sends a `$batch` and returns one result per request. The batch is repeated after a lost answer only when
 * that cannot write twice: reads, and creates carrying client keys that sit in change sets (atomic) or run
 * with continue-on-error (each answered on its own), so that a "duplicate key" identifies our own record.
 */
export async function executeBatch(
  client: WebApiClient,
  items: readonly BatchItem[],
  options: ExecuteBatchOptions = {},
): Promise<BatchResult[]> {
  const headers = batchRequestHeaders(options);
  const built = buildBatch(items, { webApiPath: new URL(client.webApiUrl).pathname });
  const safe = built.items.every((item) =>
    isChangeSet(item)
      ? item.changeSet.every((r) => r.idempotent === true || (r.createKey !== undefined && r.method === 'POST'))
      : item.method === 'GET' ||
        item.idempotent === true ||
        (options.continueOnError === true && item.createKey !== undefined),
  );
  const response = await client.request({
    method: 'POST',
    path: '$batch',
    rawBody: { content: built.body, contentType: built.contentType },
    // Prefer included: one header, continue-on-error and include-annotations first.
    headers,
    idempotent: safe,
    // Without continue-on-error Dataverse answers 400 for the whole batch, with the parts still inside; the
    // emulator answers with the failed part's status (404 for a missing lookup). Either way the parts are
    // the answer; 401 and 429 stay with the client (new token, Retry-After), and a non-multipart body below.
    acceptStatus: (status) => status >= 400 && status < 500 && status !== 401 && status !== 429,
    ...(options.signal === undefined ? {} : { signal: options.signal }),
  });
  const contentType = response.headers.get('content-type');
  if (typeof response.body !== 'string' || !/^multipart\//i.test(contentType ?? '')) {
    throw errorFromResponse(response.status, response.headers, response.body);
  }
  return matchBatchResults(built.items, parseBatchResponse(response.body, contentType), response.afterUnknownOutcome);
}

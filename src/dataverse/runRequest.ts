/**
 * Sends a prepared `.odata` block (src/odata/run) and shapes the answer for display: the CodeLens
 * "Run"/"Get changes" and `dvw run` both come through here. HTTP errors are results, so the caller
 * can show the service's error body; failures to get an answer at all are `WorkbenchError`s.
 */
import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import { performance } from 'node:perf_hooks';
import { WorkbenchError } from '../core/errors';
import type { NamedResult, NamedResults, PreparedBatchItem, PreparedRequest, RunContext } from '../odata/run';
import type { BatchItem, BatchResult } from './batch';
import { executeBatch } from './batch';
import type { DeltaLinkStore } from './changeTracking';
import type { WebApiClient, WebApiResponse } from './webApiClient';
import { isJsonObject } from '../core/json';

export interface RunOptions {
  readonly signal?: AbortSignal;
  /** Where track-changes blocks keep their delta link between runs. */
  readonly deltaLinks: DeltaLinkStore;
  /** Names the block for its stored delta link, e.g. the file URI and block index. */
  readonly key: string;
  /** `getChanges` sends the block's stored delta link instead of the block's request. */
  readonly mode?: 'run' | 'getChanges';
}

export interface BatchPartResult {
  readonly method: string;
  readonly url: string;
  readonly contentId: string | undefined;
  /** Undefined when the service never reached this part (an earlier failure stopped the batch). */
  readonly status: number | undefined;
  readonly statusText: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: unknown;
  readonly executed: boolean;
}

export interface RunResult {
  readonly status: number;
  readonly statusText: string;
  /** Lower-case names. */
  readonly headers: Readonly<Record<string, string>>;
  /** Parsed JSON, text, or undefined without a body. For `delta`: `{ value: changed rows }`. */
  readonly body: unknown;
  readonly elapsedMs: number;
  readonly requestId?: string;
  readonly kind: 'single' | 'batch' | 'delta';
  readonly batch?: readonly BatchPartResult[];
  readonly deltaLink?: string;
  readonly nextLink?: string;
  /** For `delta`: ids of rows deleted (or gone from the tracked set) since the previous link. */
  readonly removed?: readonly string[];
}

/** Statuses the client retries or treats as a failure of authentication; the rest are answers to show. */
function isAnswer(status: number): boolean {
  return status !== 401 && status !== 429 && status !== 502 && status !== 503 && status !== 504;
}

function statusText(status: number | undefined): string {
  return status === undefined ? 'Not executed' : (STATUS_CODES[status] ?? '');
}

function headerRecord(headers: Headers): Record<string, string> {
  const result: Record<string, string> = {};
  headers.forEach((value, name) => {
    result[name.toLowerCase()] = value;
  });
  return result;
}

function headerMap(headers: readonly (readonly [string, string])[]): Record<string, string> {
  const result: Record<string, string> = {};
  for (const [name, value] of headers) {
    const existing = Object.keys(result).find((key) => key.toLowerCase() === name.toLowerCase());
    if (existing === undefined) result[name] = value;
    else result[existing] = `${result[existing]!}, ${value}`;
  }
  return result;
}

/**
 * A retried status the client finally gave up on (throttled, gateway) is still the service's answer:
 * it becomes a result with the error body Dataverse would have sent.
 */
function answerFromError(error: unknown, started: number): RunResult | undefined {
  if (!(error instanceof WorkbenchError) || error.status === undefined) return undefined;
  if (error.kind === 'auth' || error.kind === 'cancelled') return undefined;
  return {
    status: error.status,
    statusText: statusText(error.status),
    headers: {},
    body: { error: { code: error.code ?? '', message: error.message } },
    elapsedMs: performance.now() - started,
    ...(error.requestId === undefined ? {} : { requestId: error.requestId }),
    kind: 'single',
  };
}

async function send(
  client: WebApiClient,
  prepared: { method: PreparedRequest['method']; url: string; headers: Record<string, string>; body?: string },
  signal: AbortSignal | undefined,
): Promise<WebApiResponse> {
  const contentType = Object.entries(prepared.headers).find(([n]) => n.toLowerCase() === 'content-type')?.[1];
  return client.request({
    method: prepared.method,
    path: prepared.url,
    headers: prepared.headers,
    ...(prepared.body === undefined
      ? {}
      : { rawBody: { content: prepared.body, contentType: contentType ?? 'application/json' } }),
    acceptStatus: isAnswer,
    ...(signal === undefined ? {} : { signal }),
  });
}

function linkOf(body: unknown, name: string): string | undefined {
  const link = isJsonObject(body) ? body[name] : undefined;
  return typeof link === 'string' ? link : undefined;
}

function responseResult(response: WebApiResponse, started: number): RunResult {
  const nextLink = linkOf(response.body, '@odata.nextLink');
  return {
    status: response.status,
    statusText: statusText(response.status),
    headers: headerRecord(response.headers),
    body: response.body,
    elapsedMs: performance.now() - started,
    ...(response.requestId === undefined ? {} : { requestId: response.requestId }),
    kind: 'single',
    ...(nextLink === undefined ? {} : { nextLink }),
  };
}

function batchItems(items: readonly PreparedBatchItem[]): BatchItem[] {
  return items.map((item) =>
    'changeSet' in item ? { changeSet: item.changeSet.map((request) => ({ ...request })) } : { ...item },
  );
}

function partResult(result: BatchResult): BatchPartResult {
  return {
    method: result.request.method,
    url: result.request.url,
    contentId: result.request.contentId,
    status: result.status,
    statusText: statusText(result.status),
    headers: result.headers,
    body: result.body,
    executed: result.executed,
  };
}

async function runBatch(
  client: WebApiClient,
  prepared: PreparedRequest,
  signal: AbortSignal | undefined,
  started: number,
): Promise<RunResult> {
  const batch = prepared.batch;
  if (batch === undefined) throw new WorkbenchError('internal', 'A batch block was prepared without its parts.');
  const items = batchItems(batch.items);
  const results = await executeBatch(client, items, {
    continueOnError: batch.continueOnError,
    ...(batch.includeAnnotations === undefined ? {} : { includeAnnotations: batch.includeAnnotations }),
    // The other headers written on `POST $batch` (bypass, impersonation, …), for the request itself.
    headers: batch.headers,
    ...(signal === undefined ? {} : { signal }),
  }).catch((error: unknown) => {
    const answer = answerFromError(error, started);
    if (answer === undefined) throw error;
    return answer;
  });
  if (!Array.isArray(results)) return results;
  const parts = results.map(partResult);
  // executeBatch keeps the envelope's status to itself; the first failing part speaks for the batch.
  const failed = parts.find((part) => part.status !== undefined && part.status >= 400);
  const status = failed?.status ?? 200;
  return {
    status,
    statusText: statusText(status),
    headers: {},
    body: parts.map((part) => ({ status: part.status, headers: part.headers, body: part.body })),
    elapsedMs: performance.now() - started,
    kind: 'batch',
    batch: parts,
  };
}

function isDeletedEntity(row: Record<string, unknown>): boolean {
  const context = row['@odata.context'];
  return typeof context === 'string' && context.endsWith('/$deletedEntity');
}

/**
 * Reads every page of a tracked query, the way changeTracking.ts does, but with the block's own
 * headers (page size, annotations) and with HTTP errors kept as results.
 */
async function readTracked(
  client: WebApiClient,
  path: string,
  headers: Record<string, string>,
  signal: AbortSignal | undefined,
  started: number,
): Promise<RunResult> {
  const changed: unknown[] = [];
  const removed: string[] = [];
  let next: string | undefined = path;
  let last: WebApiResponse | undefined;
  let deltaLink: string | undefined;
  while (next !== undefined) {
    const response = await send(client, { method: 'GET', url: next, headers }, signal);
    if (response.status >= 400) return responseResult(response, started);
    last = response;
    const body = response.body;
    const value = isJsonObject(body) ? body.value : undefined;
    if (!Array.isArray(value)) {
      throw new WorkbenchError('odata', 'The change-tracking answer has no "value" list of rows.', {
        status: response.status,
      });
    }
    for (const row of value) {
      if (isJsonObject(row) && isDeletedEntity(row)) {
        if (typeof row.id === 'string') removed.push(row.id);
      } else {
        changed.push(row);
      }
    }
    deltaLink = linkOf(body, '@odata.deltaLink') ?? deltaLink;
    next = linkOf(body, '@odata.nextLink');
  }
  if (last === undefined || deltaLink === undefined) {
    throw new WorkbenchError(
      'odata',
      'The service returned no delta link: change tracking is probably not enabled for this table.',
    );
  }
  // A delta link naming another host must never be stored, or a later run would send the token there.
  client.resolve(deltaLink);
  return {
    status: last.status,
    statusText: statusText(last.status),
    headers: headerRecord(last.headers),
    body: { value: changed },
    elapsedMs: performance.now() - started,
    ...(last.requestId === undefined ? {} : { requestId: last.requestId }),
    kind: 'delta',
    deltaLink,
    removed,
  };
}

/** The block's headers for reading a delta link: the link itself carries the tracking. */
function withoutTrackChanges(headers: Record<string, string>): Record<string, string> {
  const result: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (name.toLowerCase() !== 'prefer') {
      result[name] = value;
      continue;
    }
    const rest = value
      .split(',')
      .map((p) => p.trim())
      .filter((p) => p !== '' && p.toLowerCase() !== 'odata.track-changes');
    if (rest.length > 0) result[name] = rest.join(',');
  }
  return result;
}

/** `https:`, `mailto:`, … or `//host`: a URL that names where it goes instead of following the Web API root. */
const NAMES_ITS_HOST = /^(?:[A-Za-z][A-Za-z0-9+.-]*:|[\\/]{2})/;

function originOf(url: URL): string {
  // Only http(s) and a few others have an origin; `file:` or `mailto:` URLs show their scheme.
  return url.origin === 'null' ? `a ${url.protocol} URL` : url.origin;
}

/**
 * Whether a prepared URL may be sent with this environment's token (docs/odata-files.md, Request
 * line). Relative and rooted URLs follow the Web API root as always. An absolute URL, such as the
 * `@odata.nextLink` a variable stands for, must be on the environment's own origin (scheme, host and
 * port) and under its Web API path; anything else is refused here, before a token is fetched or a
 * byte is sent. The error names both origins and never the query string, which may hold record data.
 */
export function checkRequestUrl(url: string, webApiUrl: string): void {
  if (!NAMES_ITS_HOST.test(url)) return;
  const root = new URL(webApiUrl);
  let target: URL;
  try {
    target = new URL(url, root);
  } catch {
    throw new WorkbenchError('invalidInput', 'Refusing to send the request: its URL is not a valid URL.');
  }
  if (target.origin !== root.origin) {
    throw new WorkbenchError(
      'invalidInput',
      `Refusing to send the request to ${originOf(target)}: the environment is ${root.origin}, and an absolute URL ` +
        `must be under its Web API ${root.href}. Nothing was sent.`,
    );
  }
  if (target.username !== '' || target.password !== '') {
    throw new WorkbenchError(
      'invalidInput',
      'Refusing to send the request: its URL carries a user name or password. Nothing was sent.',
    );
  }
  const base = root.pathname.toLowerCase();
  const path = target.pathname.toLowerCase();
  if (!path.startsWith(base) && `${path}/` !== base) {
    throw new WorkbenchError(
      'invalidInput',
      `Refusing to send the request to ${target.origin}${target.pathname}: it is outside the environment's ` +
        `Web API ${root.href}. Nothing was sent.`,
    );
  }
}

/** Every URL the block would send, checked before the first is sent: one refused part stops the batch. */
function checkPreparedUrls(client: WebApiClient, prepared: PreparedRequest): void {
  checkRequestUrl(prepared.url, client.webApiUrl);
  for (const item of prepared.batch?.items ?? []) {
    for (const part of 'changeSet' in item ? item.changeSet : [item]) {
      // `$1`: a Content-ID of the same change set, resolved by the service.
      if (!part.url.startsWith('$')) checkRequestUrl(part.url, client.webApiUrl);
    }
  }
}

/**
 * Sends a prepared block. Batches go through `executeBatch`; track-changes blocks read every page and
 * store the delta link under `options.key`, and `mode: 'getChanges'` sends that stored link.
 */
export async function executeRequest(
  client: WebApiClient,
  prepared: PreparedRequest,
  options: RunOptions,
): Promise<RunResult> {
  const started = performance.now();
  const signal = options.signal;
  const headers = headerMap(prepared.headers);
  if (options.mode === 'getChanges') {
    if (prepared.kind !== 'trackChanges') {
      throw new WorkbenchError('invalidInput', 'Get changes works on a GET with Prefer: odata.track-changes.');
    }
    const stored = await options.deltaLinks.get(options.key);
    if (stored === undefined) {
      throw new WorkbenchError('invalidInput', 'No delta link is stored for this block yet: Run the block first.');
    }
    const result = await readTracked(client, stored, withoutTrackChanges(headers), signal, started).catch(
      (error: unknown) => answerOr(error, started),
    );
    if (result.deltaLink !== undefined) await options.deltaLinks.set(options.key, result.deltaLink);
    return result;
  }
  checkPreparedUrls(client, prepared);
  try {
    switch (prepared.kind) {
      case 'batch':
        return await runBatch(client, prepared, signal, started);
      case 'trackChanges': {
        const result = await readTracked(client, prepared.url, headers, signal, started);
        // Stored only after every page was read, so an interrupted run repeats rather than skips.
        if (result.deltaLink !== undefined) await options.deltaLinks.set(options.key, result.deltaLink);
        return result;
      }
      case 'single':
      case 'fetch':
        return responseResult(
          await send(
            client,
            {
              method: prepared.method,
              url: prepared.url,
              headers,
              ...(prepared.body === undefined ? {} : { body: prepared.body }),
            },
            signal,
          ),
          started,
        );
    }
  } catch (error) {
    return answerOr(error, started);
  }
}

function answerOr(error: unknown, started: number): RunResult {
  const answer = answerFromError(error, started);
  if (answer === undefined) throw error;
  return answer;
}

/** What a later `{{label.…}}` reads from this result. */
export function namedResultFrom(result: RunResult): NamedResult {
  return { status: result.status, headers: result.headers, body: result.body };
}

/** Whether the result is a failure to report: an HTTP error, or any batch part that failed. */
export function isFailedResult(result: RunResult): boolean {
  if (result.status >= 400) return true;
  return result.batch?.some((part) => part.status !== undefined && part.status >= 400) ?? false;
}

/**
 * A `RunContext` on the real clock, `Math.random` and random UUIDs, for callers that are not tests.
 */
export function liveRunContext(
  environmentVariables: Readonly<Record<string, string>>,
  namedResults: NamedResults,
  overrides?: Readonly<Record<string, string>>,
): RunContext {
  return {
    environmentVariables,
    namedResults,
    ...(overrides === undefined ? {} : { overrides }),
    now: () => new Date(),
    random: Math.random,
    newGuid: randomUUID,
  };
}

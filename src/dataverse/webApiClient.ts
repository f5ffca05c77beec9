import { randomUUID } from 'node:crypto';
import type { ErrorKind } from '../core/errors';
import { WorkbenchError } from '../core/errors';
import type { JsonObject } from '../core/json';
import { isJsonObject } from '../core/json';
import type { RequestLimiter } from './limiter';
import { sharedLimiter } from './limiter';
import type { AttemptResult, RetryEvent, RetryOptions } from './retryPolicy';
import { cancelledError, parseRetryAfter, RetryPolicy } from './retryPolicy';

export type HttpMethod = 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';

export interface AccessToken {
  readonly token: string;
  readonly expiresOn?: Date;
}

/**
 * Where tokens come from: `tokenProviderFor` in `auth/signIn.ts` (MSAL flows, the Azure CLI, VS Code's
 * Microsoft account), or a static token (`--token`, the emulator's). `forceRefresh` skips every cache.
 */
export interface TokenProvider {
  getToken(signal: AbortSignal, options?: { readonly forceRefresh?: boolean }): Promise<AccessToken>;
}

export function staticTokenProvider(token: string): TokenProvider {
  return { getToken: () => Promise.resolve({ token }) };
}

export interface PreferOptions {
  readonly returnRepresentation?: boolean;
  readonly maxPageSize?: number;
  /** `*`, or annotation names such as `OData.Community.Display.V1.FormattedValue`. */
  readonly includeAnnotations?: string | readonly string[];
  readonly trackChanges?: boolean;
  /** `$batch` only. */
  readonly continueOnError?: boolean;
}

/** The `Prefer` header value for `options`, or undefined when nothing is preferred. */
export function preferHeader(options: PreferOptions): string | undefined {
  const parts: string[] = [];
  if (options.returnRepresentation) parts.push('return=representation');
  if (options.maxPageSize !== undefined) {
    if (!Number.isInteger(options.maxPageSize) || options.maxPageSize < 1 || options.maxPageSize > 5000) {
      throw new WorkbenchError('invalidInput', 'odata.maxpagesize must be an integer from 1 to 5000.');
    }
    parts.push(`odata.maxpagesize=${options.maxPageSize}`);
  }
  if (options.includeAnnotations !== undefined) {
    const list =
      typeof options.includeAnnotations === 'string'
        ? options.includeAnnotations
        : options.includeAnnotations.join(',');
    parts.push(`odata.include-annotations="${list}"`);
  }
  if (options.trackChanges) parts.push('odata.track-changes');
  if (options.continueOnError) parts.push('odata.continue-on-error');
  return parts.length === 0 ? undefined : parts.join(',');
}

export interface WebApiRequest {
  readonly method: HttpMethod;
  /** Relative to the Web API root (`accounts?$select=name`), or an absolute URL on the same origin (a nextLink). */
  readonly path: string;
  readonly headers?: Readonly<Record<string, string>>;
  /** Sent as JSON. */
  readonly body?: unknown;
  /** Sent as is (e.g. a `$batch` body, or UTF-8 JSON built as bytes); wins over `body`. */
  readonly rawBody?: { readonly content: string | Uint8Array<ArrayBuffer>; readonly contentType: string };
  readonly prefer?: PreferOptions;
  readonly signal?: AbortSignal;
  readonly timeoutMs?: number;
  /**
   * Whether repeating the request after an unknown outcome is harmless. By default GET, PUT, DELETE
   * and PATCH with `If-Match` are; POST is not unless it is a create with a client key (`createKey`).
   */
  readonly idempotent?: boolean;
  /** The primary key this create carries in its body: makes a repeat safe and a duplicate answer a success. */
  readonly createKey?: string;
  /** Error statuses that are answers to read rather than failures (a `$batch` answers 400 with its parts). */
  readonly acceptStatus?: (status: number) => boolean;
}

export interface WebApiResponse {
  readonly status: number;
  readonly headers: Headers;
  /** Parsed JSON, the text of other content, or undefined when there was none. */
  readonly body: unknown;
  readonly requestId: string | undefined;
  readonly attempts: number;
  /**
   * Set when an earlier attempt's outcome was unknown and this answer shows it had succeeded: the
   * create's "duplicate key", or a repeated DELETE's "not found". `status` is then what success means.
   */
  readonly recovered?: boolean;
  /** An earlier attempt was lost after sending, so this answer may meet that attempt's effects. */
  readonly afterUnknownOutcome: boolean;
}

/** What the client reports about its own work; never tokens, bodies or query strings. */
export type ClientEvent =
  | ({ readonly type: 'retry'; readonly method: HttpMethod; readonly path: string } & RetryEvent)
  | { readonly type: 'refreshToken'; readonly method: HttpMethod; readonly path: string };

export interface WebApiClientOptions {
  /** Organization URL (`https://org.crm.dynamics.com`) or Web API root (`.../api/data/v9.2/`). */
  readonly url: string;
  readonly tokenProvider: TokenProvider;
  /** Per attempt, including reading the body. */
  readonly timeoutMs?: number;
  readonly retry?: RetryOptions;
  /** Defaults to the process-wide limiter (one budget for everything this process sends). */
  readonly limiter?: RequestLimiter;
  /** The primary key column of an entity set, for safe creates (e.g. from the metadata cache). */
  readonly primaryKeyOf?: (entitySet: string, signal: AbortSignal | undefined) => Promise<string | undefined>;
  readonly newId?: () => string;
  readonly onEvent?: (event: ClientEvent) => void;
  /**
   * Called once before any request that may write (every method but GET), before a token is fetched;
   * throwing stops it unsent. The extension asks here before a write to an environment marked production.
   */
  readonly beforeWrite?: (write: { readonly method: HttpMethod; readonly path: string }) => Promise<void>;
  /** Told of each request once it is over (after its retries), for a request history. */
  readonly onExchange?: (exchange: RequestExchange) => void;
}

/** One request as its caller saw it, retries included. The access token is never part of it. */
export interface RequestExchange {
  /** When it started, in epoch milliseconds. */
  readonly startedAt: number;
  readonly method: HttpMethod;
  readonly url: string;
  /** The headers sent, without `Authorization`. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string | undefined;
  /** Undefined when no answer came (network failure, cancelled). */
  readonly status: number | undefined;
  readonly durationMs: number;
  readonly requestId: string | undefined;
  readonly error: string | undefined;
}

const DEFAULT_TIMEOUT_MS = 120_000;
const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);
const DUPLICATE_RECORD = '0x80040237';
/** Connection failures where the request certainly never reached the service. */
const NOT_SENT_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/** The Web API root for an organization URL, always ending in `/`. */
export function webApiRoot(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new WorkbenchError('invalidInput', 'The environment URL is not a valid URL.');
  }
  if (parsed.protocol !== 'https:' && !(parsed.protocol === 'http:' && LOOPBACK.has(parsed.hostname))) {
    // A bearer token over plain HTTP to another machine could be read on the way.
    throw new WorkbenchError('invalidInput', 'The environment URL must use https (http only on this machine).');
  }
  parsed.search = '';
  parsed.hash = '';
  let path = parsed.pathname.replace(/\/+$/, '');
  if (!/\/api\/data\/v\d+\.\d+$/.test(path)) path = `${path}/api/data/v9.2`;
  parsed.pathname = `${path}/`;
  return parsed.toString();
}

/** Dataverse's `{"error":{"code","message"}}` mapped to the project's error, with the service's request id. */
export function errorFromResponse(
  status: number,
  headers: Headers | undefined,
  body: unknown,
  nowMs: number = Date.now(),
): WorkbenchError {
  const error = isJsonObject(body) && isJsonObject(body.error) ? body.error : undefined;
  const code = typeof error?.code === 'string' ? error.code : undefined;
  const serviceMessage =
    typeof error?.message === 'string' && error.message !== '' ? error.message : plainTextMessage(body);
  const requestId = headers === undefined ? undefined : requestIdOf(headers);
  const retryAfterMs = status === 429 ? parseRetryAfter(headers?.get('retry-after'), nowMs) : undefined;
  return new WorkbenchError(kindForStatus(status), serviceMessage ?? `The service answered HTTP ${status}.`, {
    status,
    ...(code === undefined ? {} : { code }),
    ...(requestId === undefined ? {} : { requestId }),
    ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
  });
}

/** The first line of a short plain-text error (some gateway and batch errors are not JSON); never HTML pages. */
function plainTextMessage(body: unknown): string | undefined {
  if (typeof body !== 'string' || body.trimStart().startsWith('<')) return undefined;
  const line = body.trim().split(/\r?\n/)[0]?.trim() ?? '';
  return line === '' ? undefined : line.slice(0, 300);
}

export function kindForStatus(status: number): ErrorKind {
  switch (status) {
    case 401:
      return 'auth';
    case 403:
      return 'forbidden';
    case 404:
      return 'notFound';
    case 409:
    case 412:
      return 'conflict';
    case 429:
      return 'throttled';
    case 502:
    case 503:
    case 504:
      return 'network';
    default:
      return 'odata';
  }
}

export function requestIdOf(headers: { get(name: string): string | null }): string | undefined {
  return headers.get('x-ms-service-request-id') ?? headers.get('req_id') ?? undefined;
}

type NetworkFailure = { readonly error: WorkbenchError; readonly sent: boolean };

function networkFailure(cause: unknown, timedOut: boolean): NetworkFailure {
  if (timedOut) {
    return { error: new WorkbenchError('network', 'The request timed out.', { cause }), sent: true };
  }
  const code = errorCode(cause);
  const sent = code === undefined || !NOT_SENT_CODES.has(code);
  const what = sent ? 'The connection was lost before the answer arrived' : 'The service could not be reached';
  return { error: new WorkbenchError('network', `${what}${code === undefined ? '' : ` (${code})`}.`, { cause }), sent };
}

function errorCode(error: unknown): string | undefined {
  for (let current = error, depth = 0; current instanceof Error && depth < 5; depth++) {
    const code = (current as Error & { code?: unknown }).code;
    if (typeof code === 'string') return code;
    current = current.cause;
  }
  return undefined;
}

function defaultIdempotent(request: WebApiRequest): boolean {
  if (request.idempotent !== undefined) return request.idempotent;
  if (request.createKey !== undefined) return true;
  switch (request.method) {
    case 'GET':
    case 'PUT':
    case 'DELETE':
      return true;
    case 'PATCH':
      return Object.keys(request.headers ?? {}).some((name) => name.toLowerCase() === 'if-match');
    default:
      return false;
  }
}

/** The path for events and errors: no query string (filters hold record values) and no origin. */
function describePath(url: URL): string {
  return url.pathname;
}

export interface CreateOptions {
  /** The primary key column; looked up through `primaryKeyOf` when absent. */
  readonly primaryKey?: string;
  readonly returnRepresentation?: boolean;
  readonly signal?: AbortSignal;
  readonly headers?: Readonly<Record<string, string>>;
}

export interface CreateResult {
  readonly id: string | undefined;
  readonly record: JsonObject | undefined;
  readonly response: WebApiResponse;
}

export interface Page {
  readonly value: JsonObject[];
  /** `@odata.count` when the query asked for `$count=true`. */
  readonly count: number | undefined;
  readonly nextLink: string | undefined;
  readonly deltaLink: string | undefined;
}

export interface PagingOptions {
  readonly maxPageSize?: number;
  readonly includeAnnotations?: string | readonly string[];
  readonly trackChanges?: boolean;
  readonly signal?: AbortSignal;
  readonly headers?: Readonly<Record<string, string>>;
}

export class WebApiClient {
  readonly webApiUrl: string;
  readonly limiter: RequestLimiter;
  private readonly origin: string;
  private readonly tokens: TokenProvider;
  private readonly timeoutMs: number;
  private readonly retry: RetryPolicy;
  private readonly options: WebApiClientOptions;

  constructor(options: WebApiClientOptions) {
    this.options = options;
    this.webApiUrl = webApiRoot(options.url);
    this.origin = new URL(this.webApiUrl).origin;
    this.tokens = options.tokenProvider;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.retry = new RetryPolicy(options.retry);
    this.limiter = options.limiter ?? sharedLimiter();
  }

  /** Absolute URL for a path relative to the Web API root; absolute URLs must stay on this origin. */
  resolve(path: string): URL {
    const url = new URL(path, this.webApiUrl);
    if (url.origin !== this.origin) {
      // A nextLink or deltaLink naming another host must not receive this environment's token.
      throw new WorkbenchError('invalidInput', `Refusing to send a request outside ${this.origin}.`);
    }
    return url;
  }

  async request(request: WebApiRequest): Promise<WebApiResponse> {
    const url = this.resolve(request.path);
    const path = describePath(url);
    if (request.method !== 'GET') await this.options.beforeWrite?.({ method: request.method, path });
    const safe = defaultIdempotent(request);
    const signal = request.signal;
    let forceRefresh = false;
    let refreshed = false;
    let outcomeUnknown = false;
    let attempts = 0;
    const attempt = async (): Promise<AttemptResult<WebApiResponse>> => {
      attempts += 1;
      const answer = await this.send(url, request, forceRefresh);
      forceRefresh = false;
      if ('failure' in answer) {
        const { error, sent } = answer.failure;
        if (!sent) return { type: 'retry', error };
        outcomeUnknown = true;
        if (safe) return { type: 'retry', error };
        return {
          type: 'fail',
          error: new WorkbenchError(
            'network',
            `${error.message} Whether the ${request.method} took effect is unknown, so it was not repeated.`,
            { cause: error },
          ),
        };
      }
      const { status, headers, body } = answer;
      const requestId = requestIdOf(headers);
      const response: WebApiResponse = {
        status,
        headers,
        body,
        requestId,
        attempts,
        afterUnknownOutcome: outcomeUnknown,
      };
      if (status < 400 || request.acceptStatus?.(status) === true) return { type: 'done', value: response };
      const error = errorFromResponse(status, headers, body, this.retry.clock.now());
      if (status === 401 && !refreshed) {
        refreshed = true;
        forceRefresh = true;
        this.options.onEvent?.({ type: 'refreshToken', method: request.method, path });
        return { type: 'retry', error, immediate: true };
      }
      if (status === 429) {
        return {
          type: 'retry',
          error,
          ...(error.retryAfterMs === undefined ? {} : { retryAfterMs: error.retryAfterMs }),
        };
      }
      if (status === 502 || status === 503 || status === 504) {
        // A gateway may answer after the service committed: as unknown as a dropped connection.
        outcomeUnknown = true;
        if (!safe) return { type: 'fail', error };
        const retryAfterMs = parseRetryAfter(headers.get('retry-after'), this.retry.clock.now());
        return { type: 'retry', error, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) };
      }
      if (outcomeUnknown && request.createKey !== undefined && status === 412 && error.code === DUPLICATE_RECORD) {
        return { type: 'done', value: { ...response, status: 204, body: undefined, recovered: true } };
      }
      if (outcomeUnknown && request.method === 'DELETE' && status === 404) {
        return { type: 'done', value: { ...response, status: 204, body: undefined, recovered: true } };
      }
      return { type: 'fail', error };
    };
    const startedAt = Date.now();
    const over = (status: number | undefined, requestId: string | undefined, error: string | undefined): void => {
      const onExchange = this.options.onExchange;
      // Only for a listener: serializing a large body again costs time and memory nobody asked for.
      if (onExchange === undefined) return;
      const { Authorization: _token, ...headers } = this.headersFor(request, '');
      const body = this.bodyOf(request).body;
      onExchange({
        startedAt,
        method: request.method,
        url: url.toString(),
        headers,
        body: body === undefined || typeof body === 'string' ? body : new TextDecoder().decode(body),
        status,
        durationMs: Date.now() - startedAt,
        requestId,
        error,
      });
    };
    try {
      const response = await this.retry.run(attempt, {
        ...(signal === undefined ? {} : { signal }),
        onRetry: (event) => this.options.onEvent?.({ type: 'retry', method: request.method, path, ...event }),
      });
      over(response.status, response.requestId, undefined);
      return response;
    } catch (error) {
      over(
        error instanceof WorkbenchError ? error.status : undefined,
        error instanceof WorkbenchError ? error.requestId : undefined,
        error instanceof Error ? error.message : String(error),
      );
      throw error;
    }
  }

  private async send(
    url: URL,
    request: WebApiRequest,
    forceRefresh: boolean,
  ): Promise<{ status: number; headers: Headers; body: unknown } | { failure: NetworkFailure }> {
    const callerSignal = request.signal;
    // One controller for the timeout and the caller's abort: AbortSignal.any costs more than the rest of
    // send's own work (weak references, a registry per signal), and every agent tool call has a signal.
    const abort = new AbortController();
    let timedOut = false;
    const onCallerAbort = (): void => abort.abort(callerSignal?.reason);
    // The token is fetched before taking a slot: an interactive sign-in must not hold up other requests.
    const token = await this.tokens
      .getToken(callerSignal ?? new AbortController().signal, { forceRefresh })
      .catch((error: unknown) => {
        if (callerSignal?.aborted) throw cancelledError(callerSignal.reason);
        if (error instanceof WorkbenchError) throw error;
        throw new WorkbenchError('auth', 'Could not get an access token for the environment.', { cause: error });
      });
    const release = await this.limiter.acquire(callerSignal);
    let status: number | undefined;
    let headers: Headers | undefined;
    const timer = setTimeout(() => {
      timedOut = true;
      abort.abort();
    }, request.timeoutMs ?? this.timeoutMs);
    if (callerSignal?.aborted === true) onCallerAbort();
    else callerSignal?.addEventListener('abort', onCallerAbort, { once: true });
    try {
      const response = await fetch(url, {
        method: request.method,
        headers: this.headersFor(request, token.token),
        ...this.bodyOf(request),
        signal: abort.signal,
        redirect: 'manual',
      });
      status = response.status;
      headers = response.headers;
      const text = await response.text();
      return { status, headers, body: parseBody(text, headers.get('content-type')) };
    } catch (error) {
      if (callerSignal?.aborted) throw cancelledError(callerSignal.reason);
      if (error instanceof WorkbenchError) throw error;
      return { failure: networkFailure(error, timedOut) };
    } finally {
      clearTimeout(timer);
      callerSignal?.removeEventListener('abort', onCallerAbort);
      release();
      const retryAfterMs =
        status === 429 ? parseRetryAfter(headers?.get('retry-after'), this.retry.clock.now()) : undefined;
      this.limiter.feedback({
        status,
        ...(headers === undefined ? {} : { headers }),
        ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
      });
    }
  }

  private headersFor(request: WebApiRequest, token: string): Record<string, string> {
    const headers: Record<string, string> = {
      Authorization: `Bearer ${token}`,
      Accept: 'application/json',
      'Accept-Encoding': 'gzip, deflate',
      'OData-MaxVersion': '4.0',
      'OData-Version': '4.0',
    };
    // Recommended by Microsoft on reads so that no intermediary answers expanded collections from a cache.
    if (request.method === 'GET') headers['If-None-Match'] = 'null';
    if (request.rawBody !== undefined) headers['Content-Type'] = request.rawBody.contentType;
    else if (request.body !== undefined) headers['Content-Type'] = 'application/json; charset=utf-8';
    const prefer = request.prefer === undefined ? undefined : preferHeader(request.prefer);
    if (prefer !== undefined) headers.Prefer = prefer;
    for (const [name, value] of Object.entries(request.headers ?? {})) {
      const existing = Object.keys(headers).find((key) => key.toLowerCase() === name.toLowerCase());
      if (existing !== undefined) delete headers[existing];
      headers[name] = value;
    }
    return headers;
  }

  private bodyOf(request: WebApiRequest): { body?: string | Uint8Array<ArrayBuffer> } {
    if (request.rawBody !== undefined) return { body: request.rawBody.content };
    if (request.body !== undefined) return { body: JSON.stringify(request.body) };
    return {};
  }

  // ---- Typed helpers ------------------------------------------------------------------------------

  async get(path: string, options: PagingOptions = {}): Promise<JsonObject> {
    const response = await this.request({ method: 'GET', path, ...requestOptions(options) });
    return expectObject(response);
  }

  async retrieve(entitySet: string, id: string, options: { select?: readonly string[]; signal?: AbortSignal } = {}) {
    const select = options.select === undefined ? '' : `?$select=${options.select.join(',')}`;
    return this.get(`${entitySet}(${id})${select}`, options.signal === undefined ? {} : { signal: options.signal });
  }

  /**
   * Creates a record under a client-generated primary key, so a create whose answer was lost can be sent
   * again: the repeat either creates the record or meets our own record ("duplicate key"), never a second one.
   */
  async create(entitySet: string, record: JsonObject, options: CreateOptions = {}): Promise<CreateResult> {
    const key = options.primaryKey ?? (await this.options.primaryKeyOf?.(entitySet, options.signal));
    let body = record;
    let id: string | undefined;
    if (key !== undefined) {
      const given = record[key];
      id = typeof given === 'string' ? given : (this.options.newId ?? randomUUID)();
      body = { ...record, [key]: id };
    }
    const response = await this.request({
      method: 'POST',
      path: entitySet,
      body,
      prefer: { returnRepresentation: options.returnRepresentation === true },
      ...(id === undefined ? {} : { createKey: id }),
      ...(options.signal === undefined ? {} : { signal: options.signal }),
      ...(options.headers === undefined ? {} : { headers: options.headers }),
    });
    id ??= idFromEntityId(response.headers.get('odata-entityid'));
    let representation = isJsonObject(response.body) ? response.body : undefined;
    if (options.returnRepresentation && representation === undefined && response.recovered && id !== undefined) {
      representation = await this.retrieve(
        entitySet,
        id,
        options.signal === undefined ? {} : { signal: options.signal },
      );
    }
    return { id, record: representation, response };
  }

  /** Update only (`If-Match: *`, or the record's ETag for optimistic concurrency). */
  async update(
    entitySet: string,
    id: string,
    changes: JsonObject,
    options: { etag?: string; returnRepresentation?: boolean; signal?: AbortSignal } = {},
  ): Promise<WebApiResponse> {
    return this.request({
      method: 'PATCH',
      path: `${entitySet}(${id})`,
      body: changes,
      headers: { 'If-Match': options.etag ?? '*' },
      prefer: { returnRepresentation: options.returnRepresentation === true },
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    });
  }

  async delete(entitySet: string, id: string, options: { etag?: string; signal?: AbortSignal } = {}) {
    return this.request({
      method: 'DELETE',
      path: `${entitySet}(${id})`,
      ...(options.etag === undefined ? {} : { headers: { 'If-Match': options.etag } }),
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    });
  }

  async whoAmI(signal?: AbortSignal): Promise<{ userId: string; businessUnitId: string; organizationId: string }> {
    const body = await this.get('WhoAmI', signal === undefined ? {} : { signal });
    const { UserId, BusinessUnitId, OrganizationId } = body;
    if (typeof UserId !== 'string' || typeof BusinessUnitId !== 'string' || typeof OrganizationId !== 'string') {
      throw new WorkbenchError('odata', 'The WhoAmI answer is missing its ids.');
    }
    return { userId: UserId, businessUnitId: BusinessUnitId, organizationId: OrganizationId };
  }

  /** `GET <set>/$count`: Dataverse caps it at 5,000. */
  async count(entitySet: string, signal?: AbortSignal): Promise<number> {
    const response = await this.request({
      method: 'GET',
      path: `${entitySet}/$count`,
      ...(signal === undefined ? {} : { signal }),
    });
    const text =
      typeof response.body === 'string' ? response.body.replace(/^\uFEFF/, '').trim() : String(response.body);
    const value = Number(text);
    if (!Number.isInteger(value)) throw new WorkbenchError('odata', 'The $count answer is not a number.');
    return value;
  }

  /**
   * Pages of a collection, following `@odata.nextLink` verbatim (Dataverse's tokens are opaque) and
   * resending the same `Prefer`, as the service requires.
   */
  async *pages(path: string, options: PagingOptions = {}): AsyncGenerator<Page, void, undefined> {
    let next: string | undefined = path;
    while (next !== undefined) {
      const response = await this.request({ method: 'GET', path: next, ...requestOptions(options) });
      const page = readPage(response);
      yield page;
      next = page.nextLink;
    }
  }

  async *rows(path: string, options: PagingOptions = {}): AsyncGenerator<JsonObject, void, undefined> {
    for await (const page of this.pages(path, options)) yield* page.value;
  }

  /** Every row up to `cap` (default 50,000): `truncated` says whether more were left unread. */
  async collectAll(
    path: string,
    options: PagingOptions & { cap?: number } = {},
  ): Promise<{ rows: JsonObject[]; truncated: boolean; count: number | undefined }> {
    const cap = options.cap ?? 50_000;
    const rows: JsonObject[] = [];
    let count: number | undefined;
    for await (const page of this.pages(path, options)) {
      count ??= page.count;
      const room = cap - rows.length;
      if (page.value.length > room || (page.value.length === room && page.nextLink !== undefined)) {
        rows.push(...page.value.slice(0, room));
        return { rows, truncated: true, count };
      }
      rows.push(...page.value);
    }
    return { rows, truncated: false, count };
  }
}

function requestOptions(options: PagingOptions): Partial<WebApiRequest> {
  const prefer: PreferOptions = {
    ...(options.maxPageSize === undefined ? {} : { maxPageSize: options.maxPageSize }),
    ...(options.includeAnnotations === undefined ? {} : { includeAnnotations: options.includeAnnotations }),
    ...(options.trackChanges ? { trackChanges: true } : {}),
  };
  return {
    prefer,
    ...(options.signal === undefined ? {} : { signal: options.signal }),
    ...(options.headers === undefined ? {} : { headers: options.headers }),
  };
}

function parseBody(text: string, contentType: string | null): unknown {
  if (text === '') return undefined;
  if (contentType !== null && /\bjson\b/i.test(contentType)) {
    try {
      return JSON.parse(text) as unknown;
    } catch (cause) {
      throw new WorkbenchError('odata', 'The service sent JSON that could not be read.', { cause });
    }
  }
  return text;
}

function expectObject(response: WebApiResponse): JsonObject {
  if (!isJsonObject(response.body)) {
    throw new WorkbenchError('odata', 'The service answered without the expected JSON object.', {
      status: response.status,
      ...(response.requestId === undefined ? {} : { requestId: response.requestId }),
    });
  }
  return response.body;
}

export function readPage(response: WebApiResponse): Page {
  const body = expectObject(response);
  const value = body.value;
  if (!Array.isArray(value) || !value.every(isJsonObject)) {
    throw new WorkbenchError('odata', 'The collection answer has no "value" list of records.', {
      status: response.status,
    });
  }
  const count = body['@odata.count'];
  const nextLink = body['@odata.nextLink'];
  const deltaLink = body['@odata.deltaLink'];
  return {
    value,
    count: typeof count === 'number' ? count : undefined,
    nextLink: typeof nextLink === 'string' ? nextLink : undefined,
    deltaLink: typeof deltaLink === 'string' ? deltaLink : undefined,
  };
}

export function idFromEntityId(entityId: string | null): string | undefined {
  const match = /\(([0-9a-fA-F-]{36})\)$/.exec(entityId ?? '');
  return match?.[1]?.toLowerCase();
}

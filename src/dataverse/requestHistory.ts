/**
 * The request history's entries and the text they are copied as (`.odata`, cURL). Pure functions over
 * plain data, so the history is unit-tested in Node and kept as JSON in workspace state.
 */
import type { RequestExchange } from './webApiClient';

export interface HistoryEntry {
  readonly id: string;
  readonly startedAt: number;
  /** The environment's name as the user knows it, and its connection id for Re-run. */
  readonly environment: string;
  readonly connectionId: string;
  readonly method: string;
  /** Absolute, with secret-looking query values replaced by `REDACTED`. */
  readonly url: string;
  /** The headers a request file would need: the client's defaults and `Authorization` are left out. */
  readonly headers: Readonly<Record<string, string>>;
  /** Only when the user keeps bodies (`dataverse.history.bodies`): bodies hold record data. */
  readonly body?: string;
  /** Absent when no answer came. */
  readonly status?: number;
  readonly durationMs: number;
  readonly requestId?: string;
  readonly error?: string;
}

/** What every request carries; copying them into a request file would only add noise. */
const CLIENT_DEFAULT_HEADERS = new Set([
  'authorization',
  'accept',
  'accept-encoding',
  'odata-maxversion',
  'odata-version',
]);
/** Query parameters that carry credentials in the URLs a client may meet (SAS, OAuth). */
const SECRET_PARAMETER = /^(sig|signature|code|token|access_token|client_secret|password|key|api[-_]?key)$/i;

export function redactUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return url;
  }
  parsed.username = '';
  parsed.password = '';
  for (const name of [...parsed.searchParams.keys()]) {
    if (SECRET_PARAMETER.test(name)) parsed.searchParams.set(name, 'REDACTED');
  }
  // URLSearchParams re-encodes `$select=a,b` as `%24select=a%2Cb`: rebuild only when something changed.
  return parsed.toString() === new URL(url).toString() ? url : parsed.toString();
}

export function historyEntry(
  exchange: RequestExchange,
  environment: { readonly name: string; readonly id: string },
  options: { readonly keepBody: boolean; readonly id: string },
): HistoryEntry {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(exchange.headers)) {
    const lower = name.toLowerCase();
    // `If-None-Match: null` is the client's own cache-buster on every read.
    if (CLIENT_DEFAULT_HEADERS.has(lower) || (lower === 'if-none-match' && value === 'null')) continue;
    // JSON is what a body in a request file is by default; a `$batch` keeps its multipart type.
    if (lower === 'content-type' && value.startsWith('application/json')) continue;
    headers[name] = value;
  }
  return {
    id: options.id,
    startedAt: exchange.startedAt,
    environment: environment.name,
    connectionId: environment.id,
    method: exchange.method,
    url: redactUrl(exchange.url),
    headers,
    ...(options.keepBody && exchange.body !== undefined ? { body: exchange.body } : {}),
    // Absent rather than undefined, so an entry reads back from workspace state as it was written.
    ...(exchange.status === undefined ? {} : { status: exchange.status }),
    durationMs: exchange.durationMs,
    ...(exchange.requestId === undefined ? {} : { requestId: exchange.requestId }),
    ...(exchange.error === undefined ? {} : { error: exchange.error }),
  };
}

/** The newest first, at most `limit`. */
export function withEntry(entries: readonly HistoryEntry[], entry: HistoryEntry, limit: number): HistoryEntry[] {
  return [entry, ...entries].slice(0, Math.max(0, limit));
}

/** The URL relative to the Web API root (`accounts?$select=name`) when it is under one. */
export function relativeUrl(url: string): string {
  const root = /^https?:\/\/[^/]+\/api\/data\/v\d+(?:\.\d+)?\//.exec(url);
  return root === null ? url : url.slice(root[0].length);
}

/** The request as a `.odata` file that runs it again on the same environment. */
export function toOdataText(entry: HistoryEntry): string {
  const target = relativeUrl(entry.url);
  const lines = [
    `@environment = ${entry.environment}`,
    '',
    `### ${entry.method} ${target.split('?')[0] ?? target} (${new Date(entry.startedAt).toISOString()})`,
    `${entry.method} ${target}`,
    ...Object.entries(entry.headers).map(([name, value]) => `${name}: ${value}`),
  ];
  if (entry.body !== undefined) lines.push('', entry.body);
  return `${lines.join('\n')}\n`;
}

/** A cURL command line; the token is a shell variable the user fills, never the real one. */
export function toCurl(entry: HistoryEntry): string {
  const parts = [
    `curl -X ${entry.method} ${shellQuote(entry.url)}`,
    `-H "Authorization: Bearer $DATAVERSE_TOKEN"`,
    `-H ${shellQuote('Accept: application/json')}`,
    `-H ${shellQuote('OData-MaxVersion: 4.0')}`,
    `-H ${shellQuote('OData-Version: 4.0')}`,
    ...Object.entries(entry.headers).map(([name, value]) => `-H ${shellQuote(`${name}: ${value}`)}`),
  ];
  if (entry.body !== undefined) {
    const typed = Object.keys(entry.headers).some((name) => name.toLowerCase() === 'content-type');
    if (!typed) parts.push(`-H ${shellQuote('Content-Type: application/json')}`);
    parts.push(`--data-raw ${shellQuote(entry.body)}`);
  }
  return parts.join(' \\\n  ');
}

function shellQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

/** Checks entries read back from workspace state: a damaged list is dropped, never trusted. */
export function parseHistory(value: unknown): HistoryEntry[] {
  if (!Array.isArray(value)) return [];
  return value.filter(
    (item): item is HistoryEntry =>
      typeof item === 'object' &&
      item !== null &&
      typeof (item as HistoryEntry).id === 'string' &&
      typeof (item as HistoryEntry).startedAt === 'number' &&
      typeof (item as HistoryEntry).environment === 'string' &&
      typeof (item as HistoryEntry).connectionId === 'string' &&
      typeof (item as HistoryEntry).method === 'string' &&
      typeof (item as HistoryEntry).url === 'string' &&
      typeof (item as HistoryEntry).headers === 'object' &&
      (item as HistoryEntry).headers !== null &&
      typeof (item as HistoryEntry).durationMs === 'number',
  );
}

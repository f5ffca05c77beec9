/**
 * `$batch` (reference §10): multipart/mixed requests and answers framed as Dataverse frames them. Every part
 * goes through the same router as a top-level request; a change set runs in one SQLite transaction.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { STATUS_CODES } from 'node:http';
import { BYPASS_HEADERS, parseBypass } from './bypass';
import { DataverseHttpError, ErrorCodes, guessed, methodNotAllowed } from './errors';
import { exactJson, finishJson } from './exactNumber';
import { inexactLiteral, parseJsonBody } from './jsonBody';
import { MAX_BATCH_PART_URL } from './limits';
import type { InProcessRequest, Reply } from './reply';

/** Dataverse refuses batches of more than 1,000 requests (§1.5). */
export const MAX_BATCH_REQUESTS = 1000;
const CRLF = '\r\n';
const METHODS = new Set(['GET', 'POST', 'PATCH', 'PUT', 'DELETE']);
const JSON_TYPE = 'application/json; odata.metadata=minimal';

export interface BatchEnvironment {
  /** Routes one part as a top-level request is routed; never throws, errors come back as replies. */
  dispatch(request: InProcessRequest, requestId: string): Reply;
  /** A Dataverse error as the reply a top-level request would get. */
  errorReply(error: DataverseHttpError): Reply;
  /** Runs `work` in one SQLite transaction; a throw rolls all of it back. */
  transaction<T>(work: () => T): T;
  /** Root-relative path of the Web API (`/api/data/v9.2/`), for relative part URLs. */
  readonly apiPath: string;
}

interface Part {
  readonly contentId: string | undefined;
  readonly method: string;
  readonly url: string;
  readonly headers: Record<string, string>;
  readonly body: string;
}

type Item = { readonly changeSet: readonly Part[] } | { readonly request: Part };

function malformed(message: string): DataverseHttpError {
  return guessed(400, 'batchMalformed', message);
}

function headerText(value: string | string[] | undefined): string {
  return Array.isArray(value) ? value.join(',') : (value ?? '');
}

function boundaryOf(contentType: string): string | undefined {
  const match = /;\s*boundary\s*=\s*(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
  return match?.[1] ?? match?.[2];
}

/** The text of each part between delimiter lines (LF or CRLF; preamble and epilogue dropped). */
function splitParts(text: string, boundary: string): string[][] {
  const delimiter = `--${boundary}`;
  const parts: string[][] = [];
  let current: string[] | undefined;
  for (const line of text.split(/\r?\n/)) {
    const trimmed = line.trimEnd();
    if (trimmed === delimiter || trimmed === `${delimiter}--`) {
      if (current !== undefined) parts.push(current);
      if (trimmed !== delimiter) return parts;
      current = [];
      continue;
    }
    current?.push(line);
  }
  throw malformed(`The batch body ends before its closing delimiter '${delimiter}--'.`);
}

/** Header lines up to the first blank line; `next` is the line after it. */
function readHeaders(lines: readonly string[], start: number): { headers: Record<string, string>; next: number } {
  const headers: Record<string, string> = {};
  let index = start;
  for (; index < lines.length; index++) {
    const line = lines[index] ?? '';
    if (line.trim() === '') return { headers, next: index + 1 };
    const colon = line.indexOf(':');
    if (colon <= 0) throw malformed(`The batch part header '${line.slice(0, 100)}' has no name.`);
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { headers, next: index };
}

function parsePart(lines: readonly string[], inChangeSet: boolean): Item {
  const { headers, next } = readHeaders(lines, 0);
  const type = headers['content-type'] ?? '';
  if (/^multipart\/mixed/i.test(type)) {
    if (inChangeSet) throw malformed('Change sets cannot be nested.');
    const boundary = boundaryOf(type);
    if (boundary === undefined) throw malformed('The change set has no boundary.');
    const requests = splitParts(lines.slice(next).join('\n'), boundary).map((inner) => {
      const item = parsePart(inner, true);
      if (!('request' in item)) throw malformed('Change sets cannot be nested.');
      return item.request;
    });
    return { changeSet: requests };
  }
  if (!/^application\/http\b/i.test(type)) {
    throw malformed(`A batch part must be 'application/http' or a change set, not '${type.slice(0, 100)}'.`);
  }
  let index = next;
  while (index < lines.length && (lines[index] ?? '').trim() === '') index++;
  const requestLine = /^([A-Za-z]+) (\S+)(?: HTTP\/\d\.\d)?$/.exec((lines[index] ?? '').trim());
  if (requestLine?.[1] === undefined || requestLine[2] === undefined) {
    throw malformed('A batch part has no request line (METHOD URL HTTP/1.1).');
  }
  if (requestLine[2].length > MAX_BATCH_PART_URL) {
    throw new DataverseHttpError(
      414,
      ErrorCodes.queryShape,
      `The URL of a batch part (${requestLine[2].length.toLocaleString('en-US')} characters) exceeds the limit of ${MAX_BATCH_PART_URL.toLocaleString('en-US')}.`,
    );
  }
  const method = requestLine[1].toUpperCase();
  if (!METHODS.has(method)) throw methodNotAllowed(method, [...METHODS]);
  if (inChangeSet && method === 'GET') {
    throw malformed('A change set cannot contain a GET request: put reads outside change sets.');
  }
  const inner = readHeaders(lines, index + 1);
  return {
    request: {
      contentId: headers['content-id'],
      method,
      url: requestLine[2],
      headers: inner.headers,
      body: lines.slice(inner.next).join('\n').trim(),
    },
  };
}

const REFERENCE = /^\$([^/?]+)/;

/** Names of `$n` references a part makes: its URL's start, and `@odata.bind` / `@odata.id` values. */
function references(part: Part): string[] {
  const names: string[] = [];
  const inUrl = REFERENCE.exec(part.url)?.[1];
  if (inUrl !== undefined) names.push(inUrl);
  walkBody(part.body, (value) => {
    const name = /^\$([^/?]+)$/.exec(value)?.[1];
    if (name !== undefined) names.push(name);
    return value;
  });
  return names;
}

/**
 * Applies `map` to the reference values of a JSON body; returns the body unchanged when it is not JSON or no
 * reference changed. A rewritten body keeps every number literal's digits (exactNumber.ts).
 */
function walkBody(body: string, map: (value: string) => string): string {
  if (!body.includes('$')) return body;
  let parsed: unknown;
  try {
    parsed = parseJsonBody(body);
  } catch {
    return body;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return body;
  const out: Record<string, unknown> = {};
  let changed = false;
  const mapped = (value: string): string => {
    const next = map(value);
    if (next !== value) changed = true;
    return next;
  };
  for (const [key, value] of Object.entries(parsed)) {
    const isReference = key.endsWith('@odata.bind') || key === '@odata.id';
    const literal = inexactLiteral(parsed, key);
    if (literal !== undefined) out[key] = exactJson(literal);
    else if (isReference && typeof value === 'string') out[key] = mapped(value);
    else if (isReference && Array.isArray(value))
      out[key] = (value as unknown[]).map((v) => (typeof v === 'string' ? mapped(v) : v));
    else out[key] = value;
  }
  return changed ? finishJson(JSON.stringify(out)) : body;
}

function missingReference(name: string): DataverseHttpError {
  return guessed(400, 'batchContentId', `Content-ID Reference: '$${name}' does not exist in the batch context.`);
}

/**
 * Refuses references that cannot resolve before anything runs: a reference names an earlier request of the
 * same change set. `$name` that no request of the set declares and that is not a number is left alone, so
 * that `$metadata` still routes.
 */
function checkReferences(items: readonly Item[]): void {
  for (const item of items) {
    const parts = 'request' in item ? [item.request] : item.changeSet;
    const all = new Set(parts.map((p) => p.contentId).filter((id): id is string => id !== undefined));
    const earlier = new Set<string>();
    for (const part of parts) {
      for (const name of references(part)) {
        if (!earlier.has(name) && (all.has(name) || /^\d+$/.test(name))) throw missingReference(name);
      }
      if (part.contentId !== undefined) {
        if (earlier.has(part.contentId)) throw malformed(`The Content-ID '${part.contentId}' is used twice.`);
        earlier.add(part.contentId);
      }
    }
  }
}

/** Root-relative path and query of a part URL: absolute, root-relative or relative to the Web API. */
function partPath(url: string, apiPath: string): string {
  if (url.startsWith('/')) return url;
  const api = url.indexOf('/api/data/');
  if (api >= 0) return url.slice(api);
  return `${apiPath}${url}`;
}

function reasonPhrase(status: number): string {
  return STATUS_CODES[status] ?? '';
}

/** The headers of an inner answer in Dataverse's order; creates also carry `Location`. */
function innerHeaders(reply: Reply, requestId: string): [string, string][] {
  const headers: [string, string][] = [];
  const rest = { ...reply.headers };
  const take = (name: string): string | undefined => {
    const value = rest[name];
    delete rest[name];
    return value;
  };
  if (reply.status >= 400) headers.push(['REQ_ID', requestId]);
  const type = take('Content-Type');
  if (type !== undefined) {
    // Successful JSON answers inside a batch are streamed (§1.4); errors are not.
    const streamed = reply.status < 400 && type === JSON_TYPE ? `${type}; odata.streaming=true` : type;
    headers.push(['Content-Type', streamed]);
  }
  headers.push(['OData-Version', '4.0']);
  const entityId = take('OData-EntityId');
  if (entityId !== undefined) headers.push(['Location', entityId], ['OData-EntityId', entityId]);
  headers.push(...Object.entries(rest));
  return headers;
}

function httpPart(reply: Reply, requestId: string, contentId: string | undefined): string {
  let text = `Content-Type: application/http${CRLF}Content-Transfer-Encoding: binary${CRLF}`;
  if (contentId !== undefined) text += `Content-ID: ${contentId}${CRLF}`;
  text += `${CRLF}HTTP/1.1 ${reply.status} ${reasonPhrase(reply.status)}${CRLF}`;
  for (const [name, value] of innerHeaders(reply, requestId)) text += `${name}: ${value}${CRLF}`;
  return `${text}${CRLF}${reply.body ?? ''}${CRLF}`;
}

interface Answered {
  readonly reply: Reply;
  readonly requestId: string;
  readonly contentId: string | undefined;
}

class ChangeSetFailed extends Error {
  constructor(readonly answer: Answered) {
    super('change set rolled back');
  }
}

/** Preferences of the batch request that every part inherits unless it sets its own. */
function inheritedPrefer(outer: string): string | undefined {
  const annotations = /(?:^|,)\s*(odata\.include-annotations\s*=\s*(?:"[^"]*"|[^,]*))/.exec(outer)?.[1];
  return annotations?.trim();
}

/** A `$batch` request, parsed and checked, not yet run. */
export interface ParsedBatch {
  readonly items: readonly Item[];
  readonly continueOnError: boolean;
  readonly inherited: string | undefined;
  /** The batch request's `MSCRM.Bypass…` headers, which apply to every part that does not set its own. */
  readonly bypassHeaders: Readonly<Record<string, string>>;
  /** Only GETs, no change set: the batch reads and writes nothing. */
  readonly readOnly: boolean;
}

/** Parses and checks a `$batch` request before anything of it runs; bad input throws a Dataverse error. */
export function parseBatch(method: string, headers: IncomingHttpHeaders, body: string | undefined): ParsedBatch {
  if (method !== 'POST') throw methodNotAllowed(method, ['POST']);
  const contentType = headerText(headers['content-type']);
  if (!/^multipart\/mixed/i.test(contentType.trim())) {
    // OData 4.01 JSON batch is not implemented by Dataverse (§10.4).
    throw malformed(`The batch request must be multipart/mixed, not '${contentType.slice(0, 100)}'.`);
  }
  const boundary = boundaryOf(contentType);
  if (boundary === undefined) throw malformed('The batch request has no boundary.');
  const items = splitParts(body ?? '', boundary).map((lines) => parsePart(lines, false));
  const total = items.reduce((n, item) => n + ('request' in item ? 1 : item.changeSet.length), 0);
  if (total > MAX_BATCH_REQUESTS) {
    throw guessed(
      400,
      'batchTooLarge',
      `The number of requests in the batch (${total}) exceeds the limit of ${MAX_BATCH_REQUESTS}.`,
    );
  }
  checkReferences(items);
  // A bad value fails the whole batch before any part runs.
  parseBypass(headers);
  const bypassHeaders: Record<string, string> = {};
  for (const name of BYPASS_HEADERS) {
    if (headers[name] !== undefined) bypassHeaders[name] = headerText(headers[name]);
  }
  const outerPrefer = headerText(headers.prefer);
  return {
    items,
    continueOnError: outerPrefer.split(',').some((p) => /^odata\.continue-on-error(?:\s*=\s*true)?$/i.test(p.trim())),
    inherited: inheritedPrefer(outerPrefer),
    bypassHeaders,
    readOnly: items.every((item) => 'request' in item && item.request.method === 'GET'),
  };
}

export function runBatch(env: BatchEnvironment, batch: ParsedBatch): Reply {
  const { items, continueOnError, inherited, bypassHeaders } = batch;
  const run = (part: Part, entities: ReadonlyMap<string, string>, declared: ReadonlySet<string>): Answered => {
    const requestId = randomUUID();
    const resolve = (value: string): string => {
      const name = /^\$([^/?]+)$/.exec(value)?.[1];
      if (name === undefined) return value;
      const entity = entities.get(name);
      if (entity === undefined) throw missingReference(name);
      return entity;
    };
    try {
      const name = REFERENCE.exec(part.url)?.[1];
      const entity = name === undefined ? undefined : entities.get(name);
      // A request that named no entity (an update of one column, a `$ref`) cannot be referred to.
      if (name !== undefined && entity === undefined && (declared.has(name) || /^\d+$/.test(name))) {
        throw missingReference(name);
      }
      const url =
        name !== undefined && entity !== undefined
          ? new URL(entity).pathname + part.url.slice(name.length + 1)
          : partPath(part.url, env.apiPath);
      const partHeaders: IncomingHttpHeaders = { ...part.headers };
      if (inherited !== undefined && partHeaders.prefer === undefined) partHeaders.prefer = inherited;
      for (const [name, value] of Object.entries(bypassHeaders)) partHeaders[name] ??= value;
      const reply = env.dispatch(
        { method: part.method, url, headers: partHeaders, body: walkBody(part.body, resolve) },
        requestId,
      );
      return { reply, requestId, contentId: part.contentId };
    } catch (error) {
      if (!(error instanceof DataverseHttpError)) throw error;
      return { reply: env.errorReply(error), requestId, contentId: part.contentId };
    }
  };

  const outBoundary = `batchresponse_${randomUUID()}`;
  let text = '';
  let failure: number | undefined;
  for (const item of items) {
    text += `--${outBoundary}${CRLF}`;
    if ('request' in item) {
      const answer = run(item.request, new Map(), new Set());
      text += httpPart(answer.reply, answer.requestId, answer.contentId);
      if (answer.reply.status >= 400 && !continueOnError) {
        failure = answer.reply.status;
        break;
      }
      continue;
    }
    let answers: Answered[];
    try {
      answers = env.transaction(() => {
        const entities = new Map<string, string>();
        const declared = new Set(item.changeSet.map((part) => part.contentId ?? ''));
        return item.changeSet.map((part) => {
          const answer = run(part, entities, declared);
          if (answer.reply.status >= 400) throw new ChangeSetFailed(answer);
          const entity = answer.reply.headers['OData-EntityId'];
          if (part.contentId !== undefined && entity !== undefined) entities.set(part.contentId, entity);
          return answer;
        });
      });
    } catch (error) {
      if (!(error instanceof ChangeSetFailed)) throw error;
      // The set was rolled back as a whole, so it answers once, with the failure.
      const { reply, requestId, contentId } = error.answer;
      text += httpPart(reply, requestId, contentId);
      if (!continueOnError) {
        failure = reply.status;
        break;
      }
      continue;
    }
    const setBoundary = `changesetresponse_${randomUUID()}`;
    text += `Content-Type: multipart/mixed; boundary=${setBoundary}${CRLF}${CRLF}`;
    for (const answer of answers) {
      text += `--${setBoundary}${CRLF}${httpPart(answer.reply, answer.requestId, answer.contentId)}`;
    }
    text += `--${setBoundary}--${CRLF}`;
  }
  text += `--${outBoundary}--${CRLF}`;
  return {
    status: failure ?? 200,
    // .NET names the status of the batch answer by its enum member: `400 BadRequest` (example 8).
    statusText: reasonPhrase(failure ?? 200).replace(/[\s-]/g, '') || 'OK',
    headers: { 'Content-Type': `multipart/mixed; boundary=${outBoundary}` },
    body: text,
  };
}

/**
 * Turns one block of a `.odata` document into the request that goes on the wire
 * (docs/odata-files.md): variables expanded, continuation lines joined, the URL percent-encoded,
 * FETCH rewritten to `GET …?fetchXml=`, batch bodies split into parts, default headers added.
 * Pure: the VS Code side and `dvw run` share it, and what it cannot resolve is a problem, never text.
 */
import type { Block, Header, HttpMethod, ODataDocument, Request, TextSpan, VariableUse } from '../document/syntax';
import { batchHeaderRefusal, documentDiagnostics, repeatsClientHeader } from '../language/diagnostics';
import type { LanguageDiagnostic } from '../language/types';
import { preferenceName, splitPreferences } from './httpHeaders';
import type { Placement, RunContext, RunProblem } from './variables';
import { VariableResolver } from './variables';

export type PreparedKind = 'single' | 'batch' | 'fetch' | 'trackChanges';

/** One part of a batch, in the shape `buildBatch` takes (src/dataverse/batch.ts). */
export interface PreparedBatchRequest {
  readonly method: HttpMethod;
  /** Relative to the Web API root, absolute, or `$n` (a Content-ID of the same change set). */
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  /** Sent verbatim. */
  readonly body?: string;
  readonly contentId?: string;
}

export interface PreparedChangeSet {
  readonly changeSet: readonly PreparedBatchRequest[];
}

export type PreparedBatchItem = PreparedBatchRequest | PreparedChangeSet;

export interface PreparedBatch {
  readonly items: readonly PreparedBatchItem[];
  /** From `Prefer: odata.continue-on-error` on the `$batch` request. */
  readonly continueOnError: boolean;
  /** From `Prefer: odata.include-annotations="…"` on the `$batch` request. */
  readonly includeAnnotations?: string;
  /**
   * The other headers written on the `$batch` request, for the request itself (`executeBatch`'s
   * `headers`): `MSCRM.BypassCustomPluginExecution`, `CallerObjectId`, `Consistency`, … Its `Prefer`, if
   * any, holds only the preferences besides the two above, each once. Never the client's own headers
   * (docs/odata-files.md, Batch): those are refused as problems, or dropped when they repeat its value.
   */
  readonly headers: Readonly<Record<string, string>>;
}

export interface PreparedRequest {
  readonly blockIndex: number;
  readonly method: HttpMethod;
  /**
   * Relative to the Web API root, rooted or absolute, as written or as the variable standing for the
   * whole URL gave it; percent-encoded for the wire. The executor decides whether an absolute one may go.
   */
  readonly url: string;
  /** In written order, then the defaults that were missing. Authorization is the client's business. */
  readonly headers: readonly (readonly [name: string, value: string])[];
  readonly body?: string;
  readonly kind: PreparedKind;
  /** For `kind: 'batch'`: the parts, for `buildBatch`/`executeBatch`. */
  readonly batch?: PreparedBatch;
  /** `# @name label` of the block. */
  readonly label?: string;
  /** `@environment` of the file. */
  readonly environment?: string;
}

export type PrepareResult =
  | { readonly ok: true; readonly request: PreparedRequest }
  | { readonly ok: false; readonly problems: readonly RunProblem[] };

const TRACK_CHANGES = /(^|[\s,;])odata\.track-changes\b/i;
const CONTINUE_ON_ERROR = /(^|[\s,;])odata\.continue-on-error\b/i;
const INCLUDE_ANNOTATIONS = /odata\.include-annotations\s*=\s*"([^"]*)"/i;

/** Characters that may not appear raw in a URL on the wire; `%` only when it starts no escape. */
const PATH_UNSAFE = /[^\x21-\x7E]|["<>\\^`{|}#]|%(?![0-9A-Fa-f]{2})/gu;
/** `+` too in the query: servers read a raw `+` there as a space (a `+01:00` offset would break). */
const QUERY_UNSAFE = /[^\x21-\x7E]|["<>\\^`{|}#+]|%(?![0-9A-Fa-f]{2})/gu;

function percentEncode(c: string): string {
  try {
    return encodeURIComponent(c);
  } catch {
    // A lone surrogate has no UTF-8 form.
    return '%EF%BF%BD';
  }
}

/**
 * The URL as it goes on the wire: spaces and other characters a URL cannot hold are percent-encoded,
 * escapes already there are kept, so an encoded nextLink pasted into the file survives unchanged.
 */
export function encodeUrlForWire(url: string): string {
  const question = url.indexOf('?');
  if (question < 0) return url.replace(PATH_UNSAFE, percentEncode);
  return (
    url.slice(0, question).replace(PATH_UNSAFE, percentEncode) +
    '?' +
    url.slice(question + 1).replace(QUERY_UNSAFE, percentEncode)
  );
}

/**
 * A URL a response handed over (an `@odata.nextLink`), as the service wrote it: only characters a URL
 * cannot hold are percent-encoded. Unlike `encodeUrlForWire`, a `+` in the query is kept: it is the
 * service's own text, not OData typed in the file.
 */
export function encodeLinkForWire(url: string): string {
  return url.replace(PATH_UNSAFE, percentEncode);
}

/** What a JSON value is, without its content (it comes from a response: record data). */
function describeJson(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'an object';
  return `a ${typeof value}`;
}

/** Line breaks and the indentation after them are not part of a URL written over several lines. */
function joinLines(literal: string): string {
  return literal.replace(/\r?\n[ \t]*/g, '');
}

function headerValue(headers: readonly (readonly [string, string])[], name: string): string | undefined {
  const lower = name.toLowerCase();
  const values = headers.filter(([n]) => n.toLowerCase() === lower).map(([, v]) => v);
  return values.length === 0 ? undefined : values.join(', ');
}

/** Inside a JSON body, whether each use sits inside a string literal (then it is escaped into it). */
function jsonPlacements(
  text: string,
  start: number,
  end: number,
  uses: readonly VariableUse[],
): Map<VariableUse, Placement> {
  const placements = new Map<VariableUse, Placement>();
  let inString = false;
  let next = 0;
  for (let i = start; i < end; i++) {
    const use = uses[next];
    if (use !== undefined && i === use.span.start) {
      placements.set(use, inString ? 'jsonString' : 'jsonValue');
      next++;
      i = use.span.end - 1;
      continue;
    }
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92) i++;
      else if (c === 34 || c === 10) inString = false;
    } else if (c === 34) {
      inString = true;
    }
  }
  return placements;
}

// ---- Headers of the `$batch` request ----------------------------------------------------------------

/** Whether a preference is read into `continueOnError` or `includeAnnotations` (then it is not sent twice). */
function readPreference(preference: string): boolean {
  const name = preferenceName(preference);
  return (
    name === 'odata.continue-on-error' || (name === 'odata.include-annotations' && INCLUDE_ANNOTATIONS.test(preference))
  );
}

interface PreparedPart {
  readonly method: HttpMethod;
  readonly url: string;
  readonly headers: (readonly [string, string])[];
  readonly body: string | undefined;
  readonly fetch: boolean;
}

class Preparer {
  readonly resolver: VariableResolver;

  constructor(
    private readonly document: ODataDocument,
    context: RunContext,
  ) {
    this.resolver = new VariableResolver(document, context);
  }

  private get problems(): RunProblem[] {
    return this.resolver.problems;
  }

  /** The first `?` of the written URL outside `{{…}}`: uses after it are query values. */
  private queryStart(request: Request, uses: readonly VariableUse[]): number {
    const { text, span } = request.url;
    let from = 0;
    for (;;) {
      const at = text.indexOf('?', from);
      if (at < 0) return Number.POSITIVE_INFINITY;
      const offset = span.start + at;
      const inside = uses.find((u) => offset >= u.span.start && offset < u.span.end);
      if (inside === undefined) return offset;
      from = inside.span.end - span.start;
    }
  }

  private url(request: Request): string | undefined {
    if (request.url.variable !== undefined) return this.wholeUrl(request.url.variable);
    const { start, end } = request.url.span;
    const query = this.queryStart(request, this.resolver.usesIn(start, end));
    const expanded = this.resolver.expand(
      start,
      end,
      (use) => (use.span.start > query ? 'urlQuery' : 'urlPath'),
      joinLines,
    );
    return expanded === undefined ? undefined : encodeUrlForWire(expanded.trim());
  }

  /**
   * The URL a variable stands for (`GET {{page.@odata.nextLink}}`, docs/odata-files.md): one line of
   * text. Text from the file or the settings is encoded as if it were written on the request line; a
   * value from a response is sent as the service wrote it. Whether an absolute URL may be sent is the
   * executor's decision, which knows the environment (src/dataverse/runRequest.ts).
   */
  private wholeUrl(use: VariableUse): string | undefined {
    const value = this.resolver.resolve(use);
    if (value === undefined) return undefined;
    const fail = (message: string): undefined => {
      this.problems.push({ code: 'invalidUrl', message, span: use.span });
      return undefined;
    };
    if (value.kind === 'json' && typeof value.value !== 'string') {
      return fail(`'{{${use.text}}}' stands for the URL, but it is ${describeJson(value.value)}, not a URL.`);
    }
    const url = (value.kind === 'json' ? (value.value as string) : value.text).trim();
    if (url === '') return fail(`'{{${use.text}}}' stands for the URL, but it is empty.`);
    if (/[\r\n]/.test(url)) return fail(`'{{${use.text}}}' stands for the URL, but it spans lines.`);
    return value.kind === 'json' ? encodeLinkForWire(url) : encodeUrlForWire(url);
  }

  private headers(headers: readonly Header[]): (readonly [string, string])[] | undefined {
    const result: (readonly [string, string])[] = [];
    let ok = true;
    for (const header of headers) {
      const value = this.resolver.expand(header.valueSpan.start, header.valueSpan.end, () => 'header');
      if (value === undefined) {
        ok = false;
        continue;
      }
      if (/[\r\n]/.test(value)) {
        this.problems.push({
          code: 'invalidHeaderValue',
          message: `The value of '${header.name}' would span lines once its variables are expanded.`,
          span: header.valueSpan,
        });
        ok = false;
        continue;
      }
      result.push([header.name, value]);
    }
    return ok ? result : undefined;
  }

  private body(request: Request): string | undefined | null {
    const body = request.body;
    if (body === undefined || body.kind === 'batch') return undefined;
    const { start, end } = body.span;
    if (body.kind === 'json') {
      const placements = jsonPlacements(this.document.text, start, end, this.resolver.usesIn(start, end));
      return this.resolver.expand(start, end, (use) => placements.get(use) ?? 'jsonValue') ?? null;
    }
    const placement: Placement = body.kind === 'xml' ? 'xml' : 'text';
    return this.resolver.expand(start, end, () => placement) ?? null;
  }

  /** A request with its variables expanded; undefined when something could not be resolved. */
  part(request: Request): PreparedPart | undefined {
    const url = this.url(request);
    const headers = this.headers(request.headers);
    // `null`: the body failed to expand; undefined: there is none to send.
    let body = this.body(request);
    if (url === undefined || headers === undefined || body === null) return undefined;
    if (request.method === 'FETCH') {
      const fetchXml = body ?? '';
      return {
        method: 'GET',
        url: `${url}${url.includes('?') ? '&' : '?'}fetchXml=${encodeURIComponent(fetchXml)}`,
        headers,
        body: undefined,
        fetch: true,
      };
    }
    // A body on GET or DELETE is ignored (warned about by the parser).
    if (request.method === 'GET' || request.method === 'DELETE') body = undefined;
    if (body !== undefined && /^multipart\//i.test(headerValue(headers, 'Content-Type') ?? '')) {
      // MIME framing needs CRLF; the file may use LF.
      body = body.replace(/\r?\n/g, '\r\n');
      if (!body.endsWith('\r\n')) body += '\r\n';
    }
    return { method: request.method, url, headers, body, fetch: false };
  }

  /**
   * The headers of the `$batch` request itself (`PreparedBatch.headers`); a header the request cannot
   * carry becomes a problem at its line. `part` is the prepared request of `request`: its headers are
   * the written ones, in order, all expanded.
   */
  batchRequestHeaders(request: Request, part: PreparedPart): Record<string, string> {
    const headers: Record<string, string> = {};
    const preferences: string[] = [];
    request.headers.forEach((written, index) => {
      const [name, value] = part.headers[index] ?? [written.name, written.value];
      const lower = name.toLowerCase();
      if (lower === 'prefer') {
        for (const preference of splitPreferences(value)) {
          if (readPreference(preference)) continue;
          const preferenceKey = preferenceName(preference);
          // RFC 7240: a preference given twice counts once, the first time.
          if (!preferences.some((p) => preferenceName(p) === preferenceKey)) preferences.push(preference);
        }
        return;
      }
      // Checked again once variables are expanded: the document diagnostic cannot see their values.
      const refusal = batchHeaderRefusal(name, value);
      if (refusal !== undefined) {
        this.problems.push({ code: 'batchHeader', message: refusal, span: written.span });
        return;
      }
      if (repeatsClientHeader(name, value)) return;
      const existing = Object.keys(headers).find((key) => key.toLowerCase() === lower);
      if (existing === undefined) headers[name] = value;
      else headers[existing] = `${headers[existing]!}, ${value}`;
    });
    if (preferences.length > 0) headers.Prefer = preferences.join(',');
    return headers;
  }

  batchPart(request: Request): PreparedBatchRequest | undefined {
    const part = this.part(request);
    if (part === undefined) return undefined;
    const headers: Record<string, string> = {};
    for (const [name, value] of part.headers) {
      // Content-ID belongs to the MIME part, which buildBatch writes from `contentId`.
      if (name.toLowerCase() === 'content-id') continue;
      const existing = Object.keys(headers).find((key) => key.toLowerCase() === name.toLowerCase());
      if (existing === undefined) headers[name] = value;
      else headers[existing] = `${headers[existing]!}, ${value}`;
    }
    return {
      method: part.method,
      url: part.url,
      headers,
      ...(part.body === undefined ? {} : { body: part.body }),
      ...(request.contentId === undefined ? {} : { contentId: request.contentId.trim() }),
    };
  }
}

function withDefaults(
  headers: readonly (readonly [string, string])[],
  hasBody: boolean,
): (readonly [string, string])[] {
  const result = [...headers];
  const defaults: [string, string][] = [
    ['OData-Version', '4.0'],
    ['OData-MaxVersion', '4.0'],
    ['Accept', 'application/json'],
  ];
  if (hasBody) defaults.push(['Content-Type', 'application/json']);
  for (const [name, value] of defaults) if (headerValue(result, name) === undefined) result.push([name, value]);
  return result;
}

function within(span: TextSpan, block: Block): boolean {
  return span.start >= block.span.start && span.start < Math.max(block.span.end, block.span.start + 1);
}

/** Errors the document itself reports inside the block: the block is not sent while it has any. */
function blockErrors(
  document: ODataDocument,
  block: Block,
  context: RunContext,
  checked: readonly LanguageDiagnostic[] | undefined,
): RunProblem[] {
  const environmentVariables = [...Object.keys(context.environmentVariables), ...Object.keys(context.overrides ?? {})];
  return (checked ?? documentDiagnostics(document, { environmentVariables }))
    .filter((d) => d.severity === 'error' && within(d.span, block))
    .map((d) => ({ message: d.message, span: d.span, code: d.code }));
}

/**
 * The request of block `blockIndex`, ready to send, or every problem that keeps it from being sent
 * (document errors in the block, undefined variables, cycles, missing named results) with its span.
 * `checked` are the document's diagnostics when the caller has them already (the agent tools check
 * with metadata before running), computed with at least the context's variables defined; without
 * them the document is diagnosed here.
 */
export function prepareRequest(
  document: ODataDocument,
  blockIndex: number,
  context: RunContext,
  checked?: readonly LanguageDiagnostic[],
): PrepareResult {
  const block = document.blocks[blockIndex];
  if (block === undefined) {
    return {
      ok: false,
      problems: [{ code: 'noRequest', message: `There is no block ${blockIndex}.`, span: document.span }],
    };
  }
  const request = block.request;
  if (request === undefined) {
    return {
      ok: false,
      problems: [
        {
          code: 'noRequest',
          message: `Block ${blockIndex} holds no request.`,
          span: block.separatorSpan ?? block.span,
        },
      ],
    };
  }
  const errors = blockErrors(document, block, context, checked);
  const preparer = new Preparer(document, context);
  const part = preparer.part(request);
  let batch: PreparedBatch | undefined;
  if (part !== undefined && request.body?.kind === 'batch') {
    const items: PreparedBatchItem[] = [];
    let ok = true;
    for (const item of request.body.items) {
      if (item.kind === 'request') {
        const prepared = preparer.batchPart(item);
        if (prepared === undefined) ok = false;
        else items.push(prepared);
        continue;
      }
      const changeSet: PreparedBatchRequest[] = [];
      for (const inner of item.requests) {
        const prepared = preparer.batchPart(inner);
        if (prepared === undefined) ok = false;
        else changeSet.push(prepared);
      }
      items.push({ changeSet });
    }
    if (ok && items.length === 0) {
      preparer.resolver.problems.push({
        code: 'emptyBatch',
        message: 'This batch holds no request.',
        span: request.requestLineSpan,
      });
    }
    const prefer = headerValue(part.headers, 'Prefer') ?? '';
    const annotations = INCLUDE_ANNOTATIONS.exec(prefer)?.[1];
    batch = {
      items,
      continueOnError: CONTINUE_ON_ERROR.test(prefer),
      ...(annotations === undefined ? {} : { includeAnnotations: annotations }),
      headers: preparer.batchRequestHeaders(request, part),
    };
  }
  // A document error and the resolver may both trip over the same `{{…}}`: report it once.
  const overlapsError = (span: TextSpan): boolean =>
    errors.some(
      (e) => span.start < Math.max(e.span.end, e.span.start + 1) && e.span.start < Math.max(span.end, span.start + 1),
    );
  const problems = [...errors, ...preparer.resolver.problems.filter((p) => !overlapsError(p.span))];
  if (problems.length > 0 || part === undefined) {
    return { ok: false, problems: problems.sort((a, b) => a.span.start - b.span.start) };
  }
  const kind: PreparedKind =
    batch !== undefined
      ? 'batch'
      : part.fetch
        ? 'fetch'
        : part.method === 'GET' && TRACK_CHANGES.test(headerValue(part.headers, 'Prefer') ?? '')
          ? 'trackChanges'
          : 'single';
  // executeBatch writes the multipart Content-Type of a batch itself.
  const headers = withDefaults(part.headers, part.body !== undefined);
  const prepared: PreparedRequest = {
    blockIndex,
    method: part.method,
    url: part.url,
    headers,
    kind,
    ...(part.body === undefined ? {} : { body: part.body }),
    ...(batch === undefined ? {} : { batch }),
    ...(block.name === undefined ? {} : { label: block.name.name }),
    ...(document.environment === undefined ? {} : { environment: document.environment.value }),
  };
  return { ok: true, request: prepared };
}

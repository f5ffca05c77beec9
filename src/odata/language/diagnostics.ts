/**
 * Every diagnostic of a `.odata` document: syntax from the document and URL parsers, then, with
 * metadata, unknown names and type mismatches, then rules of Dataverse itself (options it rejects,
 * URL length) and variables.
 */
import { didYouMean } from '../../metadata/lookup';
import { blockAt, releaseUrlTrees, requestsOf, urlDiagnostics } from '../document/parser';
import { CLIENT_ONLY_HEADERS } from '../run/httpHeaders';
import type { Block, DocumentDiagnostic, ODataDocument, Request, TextSpan } from '../document/syntax';
import { analyzeRequest } from './analysis';
import { didYouMeanText, replaceFixes } from './messages';
import type { LanguageDiagnostic, LanguageOptions } from './types';

/** Dataverse's limit for a GET URL; a GET inside `$batch` may be twice as long (dataverse-webapi.md §1.5). */
export const MAX_URL_LENGTH = 32_768;
export const MAX_BATCH_URL_LENGTH = 65_536;
/** `/api/data/v9.2/`, which relative URLs gain on the wire. */
const SERVICE_ROOT_LENGTH = '/api/data/v9.2/'.length;

export interface DiagnosticsOptions extends LanguageOptions {
  /**
   * False for a one-time pass (`dvw check`): each block's URL trees are dropped once the block is
   * checked, so a large file never holds all of them at once. An editor keeps them for the next edit.
   */
  readonly keepUrlTrees?: boolean;
}

export function documentDiagnostics(document: ODataDocument, options: DiagnosticsOptions = {}): LanguageDiagnostic[] {
  const result: LanguageDiagnostic[] = [];
  for (const d of document.diagnostics) result.push(syntaxDiagnostic(d));
  for (const block of document.blocks) {
    if (options.signal?.aborted) break;
    if (!block.request) continue;
    for (const request of requestsOf(block.request)) {
      for (const d of urlDiagnostics(request)) result.push(syntaxDiagnostic(d));
      result.push(...analyzeRequest(request, options.metadata).diagnostics);
      result.push(...dataverseRules(request, request !== block.request));
    }
    if (block.request.body?.kind === 'batch') result.push(...batchHeaderDiagnostics(block.request));
    if (options.keepUrlTrees === false) releaseUrlTrees(block);
  }
  result.push(...variableDiagnostics(document, options));
  return result.sort((a, b) => a.span.start - b.span.start || a.span.end - b.span.end);
}

function syntaxDiagnostic(d: DocumentDiagnostic): LanguageDiagnostic {
  // Dataverse answers these with 400, so they are errors here whatever the shared URL parser says.
  const severity = d.code === 'unsupportedOption' ? 'error' : d.severity;
  return { code: d.code, message: d.message, severity, span: d.span, fixes: [] };
}

function header(request: Request, name: string): string | undefined {
  const lower = name.toLowerCase();
  return (
    request.headers
      .filter((h) => h.name.toLowerCase() === lower)
      .map((h) => h.value)
      .join(',') || undefined
  );
}

/** Length of the URL on the wire: continuation lines joined, spaces and FetchXML percent-encoded. */
export function wireUrlLength(request: Request): number {
  const text = request.url.text;
  let length = /^[a-z]+:\/\//i.test(text) || text.startsWith('/') ? 0 : SERVICE_ROOT_LENGTH;
  let i = 0;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c === 10 || c === 13) {
      // A line break and the indentation after it are not part of the URL.
      i++;
      while (i < text.length && (text.charCodeAt(i) === 32 || text.charCodeAt(i) === 9)) i++;
      continue;
    }
    length += c === 32 ? 3 : 1;
    i++;
  }
  return length;
}

function fetchXmlLength(request: Request, bodyText: number): number {
  return wireUrlLength(request) + '?fetchXml='.length + bodyText;
}

function dataverseRules(request: Request, inBatch: boolean): LanguageDiagnostic[] {
  const result: LanguageDiagnostic[] = [];
  const limit = inBatch ? MAX_BATCH_URL_LENGTH : MAX_URL_LENGTH;
  const length =
    request.method === 'FETCH' && request.body
      ? fetchXmlLength(request, (request.body.span.end - request.body.span.start) * 3)
      : wireUrlLength(request);
  if (length > limit) {
    result.push({
      code: 'urlTooLong',
      message: inBatch
        ? `This URL is about ${length} characters on the wire; Dataverse accepts at most ${limit} inside $batch.`
        : `This URL is about ${length} characters on the wire; Dataverse accepts at most ${limit} in a GET. Send it inside POST $batch, which allows ${MAX_BATCH_URL_LENGTH}.`,
      severity: 'error',
      span: request.requestLineSpan,
      fixes: [],
    });
  }
  const top = request.url.tree.options.find((o) => o.name === '$top' && !o.duplicate);
  const prefer = header(request, 'Prefer') ?? '';
  if (top && /odata\.maxpagesize/i.test(prefer)) {
    const shift = request.url.span.start;
    result.push({
      code: 'topWithPaging',
      message: 'Dataverse ignores $top when Prefer: odata.maxpagesize is sent; keep one of them.',
      severity: 'warning',
      span: { start: top.nameSpan.start + shift, end: top.nameSpan.end + shift },
      fixes: [],
    });
  }
  if (
    /odata\.track-changes/i.test(prefer) &&
    request.url.tree.options.some((o) => o.name === '$top' || o.name === '$expand')
  ) {
    result.push({
      code: 'trackChangesOptions',
      message: 'Change tracking does not support $top or $expand.',
      severity: 'warning',
      span: request.requestLineSpan,
      fixes: [],
    });
  }
  return result;
}

// ---- Headers of the `$batch` request (docs/odata-files.md, Batch) ------------------------------------

/**
 * What the client sends on every `$batch` request itself (src/dataverse/webApiClient.ts): the file may
 * repeat one only with the same value, as Microsoft's examples do; it is then not sent twice.
 */
const CLIENT_VALUES: Readonly<Record<string, readonly [name: string, value: string]>> = {
  'odata-version': ['OData-Version', '4.0'],
  'odata-maxversion': ['OData-MaxVersion', '4.0'],
  accept: ['Accept', 'application/json'],
  'accept-encoding': ['Accept-Encoding', 'gzip, deflate'],
};

function comparable(value: string): string {
  return value.replace(/\s+/g, '').toLowerCase();
}

/** Whether a header written on `POST $batch` repeats what the client sends anyway (then it is dropped). */
export function repeatsClientHeader(name: string, value: string): boolean {
  const own = CLIENT_VALUES[name.toLowerCase()];
  return own !== undefined && comparable(value) === comparable(own[1]);
}

/**
 * Why a header written on `POST $batch` (a batch block, not a hand-written multipart body) cannot go
 * on the batch request, or undefined when it is sent there. Never repeats the value: it may be a token.
 */
export function batchHeaderRefusal(name: string, value: string): string | undefined {
  const lower = name.toLowerCase();
  if (lower === 'content-type') {
    return "A $batch block is sent as multipart/mixed with a boundary of its own, so it takes no Content-Type: remove this header, or write 'Content-Type: multipart/mixed; boundary=…' and the whole multipart body yourself.";
  }
  if (CLIENT_ONLY_HEADERS.has(lower)) {
    return `'${name}' cannot be set on a $batch request: Dataverse Workbench sends the access token and the HTTP framing itself. Remove this header.`;
  }
  const own = CLIENT_VALUES[lower];
  if (own !== undefined && !repeatsClientHeader(name, value)) {
    return `A $batch request is always sent with '${own[0]}: ${own[1]}': remove this header or write that value.`;
  }
  if (lower === 'if-match' || (lower === 'if-none-match' && comparable(value) !== 'null')) {
    return `'${name}' is a condition on one record: write it on the request inside the batch it applies to, not on the $batch request.`;
  }
  if (lower === 'content-id') {
    return 'Content-ID names a request inside a change set: write it on that request, not on the $batch request.';
  }
  return undefined;
}

/** Headers of `POST $batch` the batch request cannot carry; one whose value holds `{{…}}` is checked when it runs. */
function batchHeaderDiagnostics(request: Request): LanguageDiagnostic[] {
  const result: LanguageDiagnostic[] = [];
  for (const header of request.headers) {
    const lower = header.name.toLowerCase();
    const byValue = CLIENT_VALUES[lower] !== undefined || lower === 'if-none-match';
    if (byValue && header.value.includes('{{')) continue;
    const message = batchHeaderRefusal(header.name, header.value);
    if (message === undefined) continue;
    result.push({ code: 'batchHeader', message, severity: 'error', span: header.span, fixes: [] });
  }
  return result;
}

function variableDiagnostics(document: ODataDocument, options: LanguageOptions): LanguageDiagnostic[] {
  const result: LanguageDiagnostic[] = [];
  const defined = new Set(document.variables.map((v) => v.name));
  for (const name of options.environmentVariables ?? []) defined.add(name);
  const labels = new Map<string, Block>();
  for (const block of document.blocks)
    if (block.name && block.request && !labels.has(block.name.name)) labels.set(block.name.name, block);
  for (const use of document.variableUses) {
    const reference = use.reference;
    if (reference.kind === 'name') {
      if (defined.has(reference.name)) continue;
      const suggestions = didYouMean(reference.name, [...defined, ...labels.keys()]);
      result.push(
        undefinedVariable(
          use.innerSpan,
          `Undefined variable '${reference.name}'.${didYouMeanText(suggestions)}`,
          suggestions,
        ),
      );
    } else if (reference.kind === 'request') {
      const target = labels.get(reference.label);
      const here = blockAt(document, use.span.start);
      if (!target) {
        const suggestions = didYouMean(reference.label, labels.keys());
        const labelSpan: TextSpan = { start: use.innerSpan.start, end: use.innerSpan.start + reference.label.length };
        result.push(
          undefinedVariable(
            labelSpan,
            `No request is named '${reference.label}' (name one with '# @name ${reference.label}').${didYouMeanText(suggestions)}`,
            suggestions,
          ),
        );
      } else if (here && target.index >= here.index) {
        result.push({
          code: 'requestNotAbove',
          message: `'${reference.label}' is defined ${target.index === here.index ? 'by this block' : 'below'}; a request can use only the results of requests above it.`,
          severity: 'error',
          span: use.innerSpan,
          fixes: [],
        });
      }
    }
  }
  return result;
}

function undefinedVariable(span: TextSpan, message: string, suggestions: readonly string[]): LanguageDiagnostic {
  return { code: 'undefinedVariable', message, severity: 'error', span, fixes: replaceFixes(span, suggestions) };
}

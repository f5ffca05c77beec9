/**
 * The `.odata` document parser (docs/odata-files.md). Line-based and single-pass: each line is
 * classified a bounded number of times, URLs go to the shared OData URL parser, JSON bodies to the
 * in-place checker. Never throws; every problem becomes a diagnostic with the exact range.
 */
import { didYouMean } from '../../metadata/lookup';
import { parseODataUrl } from '../url/parseUrl';
import type { ODataUrl } from '../url/syntax';
import { checkJson } from './json';
import type {
  BatchBody,
  BatchItem,
  Block,
  Body,
  ChangeSet,
  DocumentDiagnostic,
  DocumentDiagnosticCode,
  Header,
  ODataDocument,
  Request,
  RequestMethod,
  RequestName,
  RequestUrl,
  Severity,
  SystemVariableName,
  TextSpan,
  VariableDefinition,
  VariableReference,
  VariableUse,
} from './syntax';
import { REQUEST_METHODS, SYSTEM_VARIABLES } from './syntax';

/** Dataverse refuses a `$batch` with more requests (dataverse-webapi.md §1.5). */
export const MAX_BATCH_REQUESTS = 1000;

const VARIABLE_NAME = /^[A-Za-z_][\w-]*$/;
const CHANGESET = /^[ \t]*(BEGIN|END)[ \t]+CHANGESET[ \t]*$/i;
const NAME_ANNOTATION = /^[ \t]*(?:#|\/\/)[ \t]*@name(?:[ \t]+(\S*))?[ \t]*$/;
const HTTP_VERSION = /[ \t]+HTTP\/\d(?:\.\d)?$/i;

type LineKind = 'blank' | 'comment' | 'separator' | 'other';

type RequestLineClass =
  | {
      readonly kind: 'method';
      readonly method: RequestMethod;
      readonly methodSpan: TextSpan;
      readonly urlStart: number;
    }
  | { readonly kind: 'bare'; readonly urlStart: number }
  | { readonly kind: 'missingUrl'; readonly method: string; readonly methodSpan: TextSpan }
  | { readonly kind: 'unknownMethod'; readonly method: string; readonly methodSpan: TextSpan }
  | { readonly kind: 'none' };

function isSpace(c: number): boolean {
  return c === 32 || c === 9;
}

/** RFC 9110 `tchar`, what header names are made of, by character code below 128. */
const TOKEN_CHARS = new Uint8Array(128);
for (const c of "!#$%&'*+.^_`|~-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") {
  TOKEN_CHARS[c.charCodeAt(0)] = 1;
}

function isTokenChar(c: number): boolean {
  return c < 128 && TOKEN_CHARS[c] === 1;
}

/** A variable's text for a message: long ones are cut. */
function shorten(text: string): string {
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}

/** One empty list for every node that has none: a large file holds tens of thousands of nodes. */
const NONE: readonly never[] = [];

/**
 * A list built with `push`, as the tree keeps it: the shared empty list, or an exact-size copy (a list
 * that grew by `push` holds room for 17 items, 150 bytes, where most hold one).
 */
function kept<T>(list: readonly T[]): readonly T[] {
  return list.length === 0 ? NONE : list.slice();
}

/** `list.map(move)`, keeping the shared empty list. */
function moveAll<T>(list: readonly T[], move: (item: T) => T): readonly T[] {
  return list.length === 0 ? NONE : list.map(move);
}

function isContentId(header: Header): boolean {
  return header.name.length === 10 && header.name.toLowerCase() === 'content-id';
}

function isLetter(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}

/**
 * One block as parsed on its own: what the document gathers from it. Blocks are parsed
 * independently of each other (what depends on several blocks, such as a name given twice, is
 * found when the document is assembled), so an edit re-parses only the blocks it touches.
 */
interface BlockParse {
  readonly block: Block;
  /** In the order of the text. */
  readonly uses: readonly VariableUse[];
  readonly diagnostics: readonly DocumentDiagnostic[];
  /** Every `# @name` annotation of the block, in order (the block's name is the last). */
  readonly names: readonly RequestName[];
}

class DocumentParser {
  /** Where each line of the region starts and ends (before `\r\n` or `\n`): typed arrays, which the collector skips. */
  private readonly starts: Int32Array;
  private readonly ends: Int32Array;
  private readonly diagnostics: DocumentDiagnostic[] = [];
  private readonly uses: VariableUse[] = [];
  private readonly names: RequestName[] = [];
  /** The headers of the request being read (a batch's requests are read after their batch's headers). */
  private readonly headerScratch: Header[] = [];
  // Caches for the variable scanner, so a line with many `{{` stays linear.
  private nextClose = -2;
  private nextOpen = -1;
  /** Where the search that found `nextOpen` started; past the text until the first search. */
  private openSearchedFrom = Number.POSITIVE_INFINITY;
  private lineEndCacheStart = -1;
  private lineEndCache = -1;

  /**
   * A parser of the lines in `[from, to)` of `text`: `from` is the start of the text or of a `###`
   * line, `to` the start of a `###` line or the end of the text.
   */
  constructor(
    private readonly text: string,
    from = 0,
    private readonly to = text.length,
  ) {
    let newlines = 0;
    let lastNewline = -1;
    for (let i = text.indexOf('\n', from); i >= 0 && i < to; i = text.indexOf('\n', i + 1)) {
      newlines++;
      lastNewline = i;
    }
    // The line at `to` starts the next region; at the end of the text it is the last, empty line.
    const count = lastNewline === to - 1 && to < text.length ? newlines : newlines + 1;
    this.starts = new Int32Array(count);
    this.ends = new Int32Array(count);
    let offset = from;
    for (let k = 0; k < count; k++) {
      let newline = text.indexOf('\n', offset);
      if (newline < 0 || newline >= to) newline = to;
      this.starts[k] = offset;
      this.ends[k] = newline > offset && text.charCodeAt(newline - 1) === 13 ? newline - 1 : newline;
      offset = newline + 1;
    }
  }

  /** The blocks of the region, numbered from `firstIndex`. */
  parseBlocks(firstIndex: number): BlockParse[] {
    const parts: BlockParse[] = [];
    const lineCount = this.starts.length;
    let blockFirst = 0;
    let separated = this.kindOf(0) === 'separator';
    for (let k = 1; k <= lineCount; k++) {
      if (k < lineCount && this.kindOf(k) !== 'separator') continue;
      // Lines [blockFirst, k) form a block; the part before the first `###` only when it holds text.
      if (separated || this.hasText(0, k)) {
        // Scratch lists, copied by `kept` into the block's parse.
        this.uses.length = 0;
        this.diagnostics.length = 0;
        this.names.length = 0;
        const block = this.parseBlock(firstIndex + parts.length, separated ? blockFirst : 0, k, separated);
        if (this.uses.length > 1) this.uses.sort((a, b) => a.span.start - b.span.start);
        parts.push({ block, uses: kept(this.uses), diagnostics: kept(this.diagnostics), names: kept(this.names) });
      }
      blockFirst = k;
      separated = true;
    }
    return parts;
  }

  // ---------------------------------------------------------------------------------------------
  // Lines

  private hasText(first: number, end: number): boolean {
    for (let k = first; k < end; k++) if (this.kindOf(k) !== 'blank') return true;
    return false;
  }

  private firstNonSpace(k: number): number {
    let i = this.starts[k]!;
    const end = this.ends[k]!;
    while (i < end && isSpace(this.text.charCodeAt(i))) i++;
    return i;
  }

  private trimmedEnd(k: number): number {
    const start = this.starts[k]!;
    let end = this.ends[k]!;
    while (end > start && isSpace(this.text.charCodeAt(end - 1))) end--;
    return end;
  }

  private kindOf(k: number): LineKind {
    const i = this.firstNonSpace(k);
    if (i >= this.ends[k]!) return 'blank';
    const c = this.text.charCodeAt(i);
    if (c === 35) {
      return this.text.startsWith('###', i) ? 'separator' : 'comment';
    }
    if (c === 47 && this.text.charCodeAt(i + 1) === 47) return 'comment';
    return 'other';
  }

  private lineText(k: number): string {
    return this.text.slice(this.starts[k], this.ends[k]);
  }

  private report(code: DocumentDiagnosticCode, message: string, span: TextSpan, severity: Severity = 'error'): void {
    this.diagnostics.push({ code, message, span, severity });
  }

  private isChangesetMarker(k: number): 'BEGIN' | 'END' | undefined {
    const i = this.firstNonSpace(k);
    // Cheap test first: a 10 MB line must not go through the regular expression per call.
    if (this.ends[k]! - i > 40) return undefined;
    const match = CHANGESET.exec(this.lineText(k));
    return match ? (match[1]!.toUpperCase() as 'BEGIN' | 'END') : undefined;
  }

  // ---------------------------------------------------------------------------------------------
  // Blocks

  private parseBlock(index: number, first: number, end: number, hasSeparator: boolean): Block {
    let title = '';
    let separatorSpan: TextSpan | undefined;
    let k = first;
    if (hasSeparator) {
      const hashes = this.firstNonSpace(first);
      separatorSpan = { start: this.starts[first]!, end: this.ends[first]! };
      title = this.text.slice(hashes + 3, this.ends[first]).trim();
      k++;
    }
    let name: RequestName | undefined;
    const variables: VariableDefinition[] = [];
    let request: Request | undefined;
    for (; k < end; k++) {
      const kind = this.kindOf(k);
      if (kind === 'blank') continue;
      if (kind === 'comment') {
        const annotation = this.parseNameAnnotation(k);
        if (annotation) name = annotation;
        continue;
      }
      if (this.text.charCodeAt(this.firstNonSpace(k)) === 64) {
        const variable = this.parseVariable(k);
        if (variable) variables.push(variable);
        continue;
      }
      request = this.parseRequest(k, end, false)?.request;
      break;
    }
    if (name && request === undefined) {
      this.report(
        'expectedRequest',
        `'@name ${name.name}' names no request: no request follows it in this block.`,
        name.span,
        'warning',
      );
    }
    return {
      kind: 'block',
      index,
      title,
      separatorSpan,
      name,
      variables: kept(variables),
      request,
      span: { start: this.starts[first]!, end: end < this.starts.length ? this.starts[end]! : this.to },
    };
  }

  private parseNameAnnotation(k: number): RequestName | undefined {
    const i = this.firstNonSpace(k);
    if (this.ends[k]! - i > 300) return undefined;
    const line = this.lineText(k);
    const match = NAME_ANNOTATION.exec(line);
    if (!match) return undefined;
    const span = { start: i, end: this.trimmedEnd(k) };
    const label = match[1] ?? '';
    if (!VARIABLE_NAME.test(label)) {
      this.report(
        'invalidVariable',
        label === ''
          ? "'@name' needs a label: '# @name myRequest'."
          : `'${label}' is not a valid request name: use letters, digits, '_' and '-', starting with a letter or '_'.`,
        span,
      );
      return undefined;
    }
    const nameStart = this.starts[k]! + line.lastIndexOf(label);
    const name: RequestName = {
      kind: 'requestName',
      name: label,
      nameSpan: { start: nameStart, end: nameStart + label.length },
      span,
    };
    this.names.push(name);
    return name;
  }

  private parseVariable(k: number): VariableDefinition | undefined {
    const at = this.firstNonSpace(k);
    const end = this.trimmedEnd(k);
    let i = at + 1;
    while (i < end && /[\w-]/.test(this.text[i]!)) i++;
    const name = this.text.slice(at + 1, i);
    const nameSpan = { start: at + 1, end: i };
    let j = i;
    while (j < end && isSpace(this.text.charCodeAt(j))) j++;
    if (!VARIABLE_NAME.test(name) || this.text.charCodeAt(j) !== 61) {
      this.report(
        'invalidVariableDefinition',
        'Expected a variable definition: @name = value (the name made of letters, digits, _ and -).',
        { start: at, end },
      );
      return undefined;
    }
    j++;
    while (j < end && isSpace(this.text.charCodeAt(j))) j++;
    const definition: VariableDefinition = {
      kind: 'variableDefinition',
      name,
      nameSpan,
      value: this.text.slice(j, end),
      valueSpan: { start: j, end },
      span: { start: at, end },
    };
    this.scanVariables(j, end);
    return definition;
  }

  // ---------------------------------------------------------------------------------------------
  // Requests

  private classifyRequestLine(k: number): RequestLineClass {
    const start = this.firstNonSpace(k);
    const end = this.trimmedEnd(k);
    if (start >= end) return { kind: 'none' };
    let i = start;
    while (i < end && isLetter(this.text.charCodeAt(i))) i++;
    const word = this.text.slice(start, i);
    const methodSpan = { start, end: i };
    if (word.length > 0 && (i === end || isSpace(this.text.charCodeAt(i)))) {
      const upper = word.toUpperCase();
      const known = (REQUEST_METHODS as readonly string[]).includes(upper);
      if (i === end) {
        // A lone word: a method without URL, or a bare URL such as `WhoAmI`.
        return known ? { kind: 'missingUrl', method: upper, methodSpan } : { kind: 'bare', urlStart: start };
      }
      if (known) {
        let urlStart = i;
        while (urlStart < end && isSpace(this.text.charCodeAt(urlStart))) urlStart++;
        return { kind: 'method', method: upper as RequestMethod, methodSpan, urlStart };
      }
      return { kind: 'unknownMethod', method: word, methodSpan };
    }
    const c = this.text.charCodeAt(start);
    if (c === 123 && this.text.charCodeAt(start + 1) === 123) return { kind: 'bare', urlStart: start };
    if (c === 123 || c === 91 || c === 60 || c === 34) return { kind: 'none' };
    // `Name: value` is a header out of place; `https://` is a URL.
    if (this.isHeaderLike(k, start) && this.text.charCodeAt(this.text.indexOf(':', start) + 1) !== 47) {
      return { kind: 'none' };
    }
    return { kind: 'bare', urlStart: start };
  }

  private isHeaderLike(k: number, from: number): boolean {
    let i = from;
    const end = this.ends[k]!;
    while (i < end && isTokenChar(this.text.charCodeAt(i))) i++;
    if (i === from) return false;
    while (i < end && isSpace(this.text.charCodeAt(i))) i++;
    return this.text.charCodeAt(i) === 58;
  }

  /**
   * Parses the request whose line is `k`, up to `end`. Inside a batch only explicit methods start a
   * request, and a request's body ends at the next request line or change-set marker.
   */
  private parseRequest(k: number, end: number, inBatch: boolean): { request: Request; next: number } | undefined {
    const line = this.classifyRequestLine(k);
    const lineSpan = { start: this.firstNonSpace(k), end: this.trimmedEnd(k) };
    switch (line.kind) {
      case 'none':
        this.report(
          'expectedRequest',
          'Expected a request: METHOD url (GET, POST, PATCH, PUT, DELETE or FETCH).',
          lineSpan,
        );
        return undefined;
      case 'missingUrl':
        this.report('missingUrl', `${line.method} needs a URL: ${line.method} accounts`, line.methodSpan);
        return undefined;
      case 'unknownMethod': {
        const suggestion = didYouMean(line.method.toUpperCase(), REQUEST_METHODS, 1)[0];
        this.report(
          'unknownMethod',
          `Unknown method '${line.method}'; expected GET, POST, PATCH, PUT, DELETE or FETCH.` +
            (suggestion ? ` Did you mean '${suggestion}'?` : ''),
          line.methodSpan,
        );
        return undefined;
      }
      case 'bare':
        if (inBatch) {
          this.report('unexpectedBatchLine', 'Requests inside a batch need their method: GET url.', lineSpan);
          return undefined;
        }
        break;
      case 'method':
        break;
    }
    const method: RequestMethod = line.kind === 'method' ? line.method : 'GET';
    const methodSpan = line.kind === 'method' ? line.methodSpan : undefined;
    const urlStart = line.urlStart;
    let urlEnd = this.trimmedEnd(k);
    const last = this.text.charCodeAt(urlEnd - 1);
    if (last >= 48 && last <= 57) {
      const tail = Math.max(urlStart, urlEnd - 12);
      const version = HTTP_VERSION.exec(this.text.slice(tail, urlEnd));
      if (version) urlEnd = tail + version.index;
    }
    let next = k + 1;
    // Continuation lines: indented, starting with `&` or `?`.
    while (next < end) {
      const first = this.firstNonSpace(next);
      const c = this.text.charCodeAt(first);
      if (first === this.starts[next] || first >= this.ends[next]! || (c !== 38 && c !== 63)) break;
      urlEnd = this.trimmedEnd(next);
      next++;
    }
    const url = this.parseUrl(urlStart, urlEnd);
    const requestLineSpan = { start: lineSpan.start, end: urlEnd };

    // Gathered on a scratch list, then copied at their number: one header's list is not 17 slots.
    const scratch = this.headerScratch;
    scratch.length = 0;
    let lastEnd = urlEnd;
    for (; next < end; next++) {
      const kind = this.kindOf(next);
      if (kind === 'blank') {
        next++;
        break;
      }
      if (kind === 'comment') continue;
      if (inBatch && (this.isChangesetMarker(next) || this.classifyRequestLine(next).kind === 'method')) break;
      const first = this.firstNonSpace(next);
      const c = this.text.charCodeAt(first);
      if (c === 123 || c === 91 || c === 60) break;
      const header = this.parseHeader(next);
      if (header) {
        scratch.push(header);
        lastEnd = header.span.end;
      } else {
        this.report('invalidHeader', "Expected a header 'Name: value', or a blank line before the body.", {
          start: first,
          end: this.trimmedEnd(next),
        });
      }
    }

    const headers = kept(scratch);

    // Body: up to the end (or, in a batch, the next request), without trailing blank and comment
    // lines; `#` and `//` lines between its text lines are body (FetchXML or text may hold them).
    let bodyFirst = next;
    while (bodyFirst < end && this.kindOf(bodyFirst) === 'blank') bodyFirst++;
    let bodyLast = bodyFirst;
    let stop = bodyFirst;
    for (; stop < end; stop++) {
      if (inBatch && (this.isChangesetMarker(stop) || this.classifyRequestLine(stop).kind === 'method')) break;
      if (this.kindOf(stop) === 'other') bodyLast = stop + 1;
    }
    let body: Body | undefined;
    if (bodyLast > bodyFirst) {
      const bodySpan = { start: this.firstNonSpace(bodyFirst), end: this.trimmedEnd(bodyLast - 1) };
      body = this.parseBody(method, url, headers, bodySpan, bodyFirst, bodyLast);
      lastEnd = bodySpan.end;
    }
    if (method === 'FETCH' && !body) {
      this.report('fetchWithoutBody', 'FETCH needs a <fetch> document after the request line.', requestLineSpan);
    }
    if (body && (method === 'GET' || method === 'DELETE')) {
      this.report('unexpectedBody', `A ${method} request sends no body; this text is ignored.`, body.span, 'warning');
    }
    const contentIdHeader = headers.find(isContentId);
    const request: Request = {
      kind: 'request',
      method,
      methodSpan,
      url,
      headers,
      body,
      contentId: contentIdHeader?.value,
      requestLineSpan,
      span: { start: lineSpan.start, end: lastEnd },
    };
    return { request, next: inBatch ? stop : end };
  }

  private parseUrl(start: number, end: number): RequestUrl {
    const text = this.text.slice(start, end);
    const firstUse = this.uses.length;
    this.scanVariables(start, end);
    const lead = this.uses[firstUse];
    if (lead !== undefined && lead.span.start === start && lead.terminated) return this.variableUrl(text, lead, end);
    // An unterminated `{{` at the start is reported by the URL parser like any other broken URL.
    return new ParsedOnDemandUrl(text, { start, end }, undefined);
  }

  /**
   * `GET {{page.@odata.nextLink}}`: the variable stands for the whole URL, which is known only when
   * the request runs, so there is nothing to parse or check here but the variable itself. Nothing
   * may follow it: a next link is opaque and sent as the service wrote it (dataverse-webapi.md §7.1).
   */
  private variableUrl(text: string, lead: VariableUse, end: number): RequestUrl {
    let rest = lead.span.end;
    while (rest < end && /\s/.test(this.text[rest]!)) rest++;
    if (rest < end) {
      this.report(
        'textAfterUrlVariable',
        `Nothing may follow '{{${shorten(lead.text)}}}' here: a variable that starts the URL stands for all of it, ` +
          'sent as it is (a next link takes no added options; the page size goes in Prefer: odata.maxpagesize). ' +
          'Write other URLs relative to the Web API root, e.g. accounts?$select=name.',
        { start: rest, end },
      );
    }
    // An empty tree: no segment, no option, nothing for metadata checks, completion or formatting to act on.
    return new ParsedOnDemandUrl(text, { start: lead.span.start, end }, lead);
  }

  /** `Name: value`, the name made of RFC 9110 token characters. */
  private parseHeader(k: number): Header | undefined {
    const start = this.starts[k]!;
    const end = this.trimmedEnd(k);
    let nameEnd = start;
    while (nameEnd < end && isTokenChar(this.text.charCodeAt(nameEnd))) nameEnd++;
    let valueStart = nameEnd;
    while (valueStart < end && isSpace(this.text.charCodeAt(valueStart))) valueStart++;
    if (nameEnd === start || valueStart >= end || this.text.charCodeAt(valueStart) !== 58) return undefined;
    valueStart++;
    while (valueStart < end && isSpace(this.text.charCodeAt(valueStart))) valueStart++;
    const name = this.text.slice(start, nameEnd);
    this.scanVariables(valueStart, end);
    return {
      kind: 'header',
      name,
      nameSpan: { start, end: nameEnd },
      value: this.text.slice(valueStart, end),
      valueSpan: { start: valueStart, end },
      span: { start, end },
    };
  }

  private parseBody(
    method: RequestMethod,
    url: RequestUrl,
    headers: readonly Header[],
    span: TextSpan,
    firstLine: number,
    endLine: number,
  ): Body {
    const contentType = headers.find((h) => h.name.toLowerCase() === 'content-type')?.value.toLowerCase() ?? '';
    const first = this.text.charCodeAt(span.start);
    // Only a URL that names `$batch` is parsed here; the others wait until something reads their tree.
    const segments = method === 'POST' && url.text.includes('$batch') ? url.tree.path.segments : [];
    const isBatch = segments.length === 1 && segments[0]?.kind === 'system' && segments[0].name === '$batch';
    if (method === 'FETCH') {
      if (!this.text.startsWith('<fetch', span.start)) {
        this.report('invalidFetchXml', 'The body of FETCH must be a <fetch> document.', {
          start: span.start,
          end: Math.min(span.end, this.ends[firstLine]!),
        });
      }
      this.scanVariables(span.start, span.end);
      return { kind: 'xml', span };
    }
    if (isBatch && !contentType.startsWith('multipart/')) {
      return this.parseBatch(firstLine, endLine, span);
    }
    this.scanVariables(span.start, span.end);
    if (contentType.includes('json') || ((first === 123 || first === 91) && contentType === '')) {
      const result = checkJson(this.text, span.start, span.end);
      if (result.diagnostic) this.diagnostics.push(result.diagnostic);
      return result.body;
    }
    if (first === 60) return { kind: 'xml', span };
    return { kind: 'text', span };
  }

  private parseBatch(first: number, end: number, span: TextSpan): BatchBody {
    const items: BatchItem[] = [];
    let changeset: { requests: Request[]; beginSpan: TextSpan; ids: Map<string, Request> } | undefined;
    let count = 0;
    const closeChangeset = (endSpan: TextSpan | undefined): void => {
      if (!changeset) return;
      const set: ChangeSet = {
        kind: 'changeset',
        requests: changeset.requests,
        beginSpan: changeset.beginSpan,
        endSpan,
        span: {
          start: changeset.beginSpan.start,
          end: endSpan?.end ?? changeset.requests.at(-1)?.span.end ?? changeset.beginSpan.end,
        },
      };
      if (changeset.requests.length === 0)
        this.report('emptyChangeset', 'This change set holds no request.', changeset.beginSpan, 'warning');
      if (!endSpan)
        this.report('unclosedChangeset', "Missing 'END CHANGESET' for this change set.", changeset.beginSpan);
      items.push(set);
      changeset = undefined;
    };
    let k = first;
    while (k < end) {
      const kind = this.kindOf(k);
      if (kind === 'blank' || kind === 'comment') {
        k++;
        continue;
      }
      const lineSpan = { start: this.firstNonSpace(k), end: this.trimmedEnd(k) };
      const marker = this.isChangesetMarker(k);
      if (marker === 'BEGIN') {
        if (changeset) this.report('nestedChangeset', 'Change sets cannot be nested.', lineSpan);
        else changeset = { requests: [], beginSpan: lineSpan, ids: new Map() };
        k++;
        continue;
      }
      if (marker === 'END') {
        if (changeset) closeChangeset(lineSpan);
        else this.report('unmatchedEndChangeset', "'END CHANGESET' without 'BEGIN CHANGESET'.", lineSpan);
        k++;
        continue;
      }
      const parsed = this.parseRequest(k, end, true);
      if (!parsed) {
        k++;
        continue;
      }
      const request = parsed.request;
      count++;
      this.checkBatchRequest(request, changeset);
      if (changeset) changeset.requests.push(request);
      else items.push(request);
      k = parsed.next;
    }
    closeChangeset(undefined);
    if (count > MAX_BATCH_REQUESTS) {
      this.report(
        'tooManyBatchRequests',
        `A batch may hold at most ${MAX_BATCH_REQUESTS} requests; this one holds ${count}.`,
        {
          start: span.start,
          end: Math.min(span.end, this.ends[first]!),
        },
      );
    }
    return { kind: 'batch', items, span };
  }

  private checkBatchRequest(
    request: Request,
    changeset: { requests: Request[]; beginSpan: TextSpan; ids: Map<string, Request> } | undefined,
  ): void {
    const first = request.url.tree.path.segments[0];
    const shift = request.url.span.start;
    if (first?.kind === 'system' && first.name === '$batch') {
      this.report('nestedBatch', 'A batch cannot contain another batch.', request.requestLineSpan);
    }
    if (changeset && (request.method === 'GET' || request.method === 'FETCH')) {
      this.report(
        'getInChangeset',
        'A change set holds only POST, PATCH, PUT and DELETE; put reads outside it.',
        request.requestLineSpan,
      );
    }
    if (first?.kind === 'system' && /^\$\d+$/.test(first.name)) {
      const id = first.name.slice(1);
      if (!changeset?.ids.has(id)) {
        this.report(
          'unknownContentId',
          changeset
            ? `No earlier request of this change set has 'Content-ID: ${id}'.`
            : `'$${id}' refers to a Content-ID, which works only inside a change set.`,
          { start: first.span.start + shift, end: first.span.end + shift },
        );
      }
    }
    const header = request.headers.find(isContentId);
    if (header) {
      if (!changeset) {
        this.report(
          'contentIdOutsideChangeset',
          'Content-ID matters only inside a change set.',
          header.span,
          'warning',
        );
      } else if (changeset.ids.has(header.value)) {
        this.report(
          'duplicateContentId',
          `Content-ID ${header.value} is already used in this change set.`,
          header.valueSpan,
        );
      } else {
        changeset.ids.set(header.value, request);
      }
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Variables

  private lineEndFrom(at: number, limit: number): number {
    if (at >= this.lineEndCacheStart && at <= this.lineEndCache) return Math.min(this.lineEndCache, limit);
    let newline = this.text.indexOf('\n', at);
    if (newline < 0) newline = this.text.length;
    const end = newline > at && this.text.charCodeAt(newline - 1) === 13 ? newline - 1 : newline;
    this.lineEndCacheStart = at;
    this.lineEndCache = end;
    return Math.min(end, limit);
  }

  /**
   * The first `{{` at or after `from`. The answer of the last search is reused while `from` stays between
   * where that search started and what it found, so a document without variables is scanned once, not
   * once per line (which made parsing quadratic in its size).
   */
  private findOpen(from: number): number {
    const known = from >= this.openSearchedFrom && (this.nextOpen === -1 || from <= this.nextOpen);
    if (!known) {
      this.openSearchedFrom = from;
      this.nextOpen = this.text.indexOf('{{', from);
    }
    return this.nextOpen;
  }

  private scanVariables(start: number, end: number): void {
    let i = start;
    for (;;) {
      const open = this.findOpen(i);
      if (open < 0 || open >= end) return;
      const lineEnd = this.lineEndFrom(open, end);
      if (this.nextClose !== -1 && this.nextClose < open + 2) this.nextClose = this.text.indexOf('}}', open + 2);
      const close = this.nextClose;
      const terminated = close >= 0 && close + 2 <= lineEnd;
      const stop = terminated ? close + 2 : lineEnd;
      const innerEnd = terminated ? close : lineEnd;
      let a = open + 2;
      let b = innerEnd;
      while (a < b && isSpace(this.text.charCodeAt(a))) a++;
      while (b > a && isSpace(this.text.charCodeAt(b - 1))) b--;
      const inner = this.text.slice(a, b);
      const span = { start: open, end: stop };
      if (!terminated) this.report('unterminatedVariable', "Unterminated variable: missing '}}'.", span);
      const reference = terminated ? this.classifyVariable(inner, span) : ({ kind: 'invalid' } as const);
      this.uses.push({
        kind: 'variableUse',
        text: inner,
        reference,
        span,
        innerSpan: { start: a, end: b },
        terminated,
      });
      i = stop > open ? stop : open + 2;
    }
  }

  private classifyVariable(inner: string, span: TextSpan): VariableReference {
    if (inner.startsWith('$')) {
      const parts = inner.split(/\s+/);
      const name = parts[0]!;
      if (!(SYSTEM_VARIABLES as readonly string[]).includes(name)) {
        const suggestion = didYouMean(name, SYSTEM_VARIABLES, 1)[0];
        this.report(
          'unknownSystemVariable',
          `Unknown system variable '${name}'; known: ${SYSTEM_VARIABLES.join(', ')}.` +
            (suggestion ? ` Did you mean '${suggestion}'?` : ''),
          span,
        );
        return { kind: 'invalid' };
      }
      const args = parts.slice(1);
      if (name === '$randomInt') {
        const numbers = args.map((a) => (/^-?\d{1,15}$/.test(a) ? Number(a) : Number.NaN));
        if (numbers.length !== 2 || numbers.some(Number.isNaN) || numbers[0]! >= numbers[1]!) {
          this.report('invalidVariable', '{{$randomInt min max}} needs two integers, min below max.', span);
          return { kind: 'invalid' };
        }
        return { kind: 'system', name, args: numbers };
      }
      if (args.length > 0) {
        this.report('invalidVariable', `'${name}' takes no arguments.`, span);
        return { kind: 'invalid' };
      }
      return { kind: 'system', name: name as SystemVariableName, args: [] };
    }
    if (VARIABLE_NAME.test(inner)) return { kind: 'name', name: inner };
    const parts = inner.split('.');
    const label = parts[0]!;
    const path = parts.slice(1);
    if (VARIABLE_NAME.test(label) && path.length > 0 && path.every((p) => p.length > 0 && !/\s/.test(p))) {
      if (path[0] === 'id' && path.length === 1) return { kind: 'request', label, target: 'id', path: [] };
      if (path[0] === 'headers') {
        if (path.length !== 2) {
          this.report('invalidVariable', `Name one header: {{${label}.headers.OData-EntityId}}.`, span);
          return { kind: 'invalid' };
        }
        return { kind: 'request', label, target: 'header', path: path.slice(1) };
      }
      return { kind: 'request', label, target: 'body', path };
    }
    this.report(
      'invalidVariable',
      `'${shorten(inner)}' is not a variable: use {{name}}, {{label.property}}, {{label.id}}, {{label.headers.Name}} or {{$guid}}.`,
      span,
    );
    return { kind: 'invalid' };
  }
}

/** The tree of `{{…}}` standing for a whole URL: no segment, no option. */
let variableUrlTree: ODataUrl | undefined;

/**
 * A request's URL whose OData tree is parsed the first time something reads it, then kept: a large
 * file costs its blocks, not a tree of every URL (a tree is ~30 times its URL's text). Completion and
 * hover read one block's; diagnostics read each once and keep them for the next edit.
 */
class ParsedOnDemandUrl implements RequestUrl {
  #tree: ODataUrl | undefined;

  constructor(
    readonly text: string,
    readonly span: TextSpan,
    readonly variable: VariableUse | undefined,
    tree?: ODataUrl,
  ) {
    this.#tree = tree;
  }

  get tree(): ODataUrl {
    if (this.variable) return (variableUrlTree ??= parseODataUrl(''));
    return (this.#tree ??= parseODataUrl(this.text));
  }

  /** The same URL at another place: its tree (relative to the URL) is shared, parsed or not yet. */
  moved(span: TextSpan, variable: VariableUse | undefined): ParsedOnDemandUrl {
    return new ParsedOnDemandUrl(this.text, span, variable, this.#tree);
  }

  /** Drops the parsed tree (a one-time pass such as `dvw check` that must not hold them all). */
  release(): void {
    this.#tree = undefined;
  }
}

function movedUrl(url: RequestUrl, span: TextSpan, variable: VariableUse | undefined): RequestUrl {
  return url instanceof ParsedOnDemandUrl ? url.moved(span, variable) : { ...url, span, variable };
}

/**
 * The URL parser's diagnostics of a request, at document offsets (the URL's tree is parsed if it was
 * not yet). `ODataDocument.diagnostics` holds the rest, so that parsing a file parses no URL.
 */
export function urlDiagnostics(request: Request): DocumentDiagnostic[] {
  const start = request.url.span.start;
  return request.url.tree.diagnostics.map((d) => ({
    code: d.code,
    message: d.message,
    severity: d.severity,
    span: { start: d.span.start + start, end: d.span.end + start },
  }));
}

/** Drops the URL trees of a block's requests, parsed again if read again (see `ParsedOnDemandUrl.release`). */
export function releaseUrlTrees(block: Block): void {
  if (!block.request) return;
  for (const request of requestsOf(block.request)) {
    if (request.url instanceof ParsedOnDemandUrl) request.url.release();
  }
}

/** The blocks each document was assembled from, for `reparseDocument`. */
const blockParses = new WeakMap<ODataDocument, readonly BlockParse[]>();

/** Parses a `.odata` document. Pure and total: any text gives a document and diagnostics. */
export function parseDocument(text: string): ODataDocument {
  return assemble(text, new DocumentParser(text).parseBlocks(0));
}

/**
 * The document of `text`, an edit of `previous.text`: the blocks the edit touched are parsed again,
 * the others reused (moved by the length the edit added or removed). Gives what `parseDocument(text)`
 * gives, at the cost of the touched blocks, so an editor can parse on every keystroke.
 */
export function reparseDocument(previous: ODataDocument, text: string): ODataDocument {
  const parts = blockParses.get(previous);
  const old = previous.text;
  if (old === text) return previous;
  if (!parts || parts.length === 0) return parseDocument(text);
  // The edit replaced old[changeStart, oldChangeEnd) by text[changeStart, oldChangeEnd + delta).
  const shortest = Math.min(old.length, text.length);
  let changeStart = 0;
  while (changeStart < shortest && old.charCodeAt(changeStart) === text.charCodeAt(changeStart)) changeStart++;
  let same = 0;
  while (
    same < shortest - changeStart &&
    old.charCodeAt(old.length - 1 - same) === text.charCodeAt(text.length - 1 - same)
  ) {
    same++;
  }
  const oldChangeEnd = old.length - same;
  const delta = text.length - old.length;
  // From the block before the one the change starts in (an edit of a `###` line may join its block
  // to the one above) to the block holding its end (an edit that ends at a block's start may change its `###`).
  const first = Math.max(partAt(parts, changeStart) - 1, 0);
  const last = partAt(parts, oldChangeEnd);
  const regionStart = first === 0 ? 0 : parts[first]!.block.span.start;
  const regionEnd = last === parts.length - 1 ? text.length : parts[last + 1]!.block.span.start + delta;
  const reparsed = new DocumentParser(text, regionStart, regionEnd).parseBlocks(first);
  const after = parts.slice(last + 1);
  const renumber = first + reparsed.length - (last + 1);
  return assemble(text, [
    ...parts.slice(0, first),
    ...reparsed,
    ...(delta === 0 && renumber === 0 ? after : after.map(mover(delta, renumber))),
  ]);
}

/** The index of the part whose block holds `offset` (the first one for an offset before all blocks). */
function partAt(parts: readonly BlockParse[], offset: number): number {
  let low = 0;
  let high = parts.length - 1;
  while (low < high) {
    const mid = (low + high + 1) >> 1;
    if (parts[mid]!.block.span.start <= offset) low = mid;
    else high = mid - 1;
  }
  return low;
}

/**
 * Moves block parses by `delta` characters and `renumber` places: a copy of every node that holds a
 * document offset. URL trees are relative to their URL, so they are kept as they are (they are most
 * of a request's nodes). A node kind added to the syntax needs its line here; the property test of
 * `reparseDocument` against `parseDocument` finds one that is missing.
 */
function mover(delta: number, renumber: number): (part: BlockParse) => BlockParse {
  const span = (s: TextSpan): TextSpan => ({ start: s.start + delta, end: s.end + delta });
  const optionalSpan = (s: TextSpan | undefined): TextSpan | undefined => s && span(s);
  const use = (u: VariableUse): VariableUse => ({ ...u, span: span(u.span), innerSpan: span(u.innerSpan) });
  const name = (n: RequestName): RequestName => ({ ...n, nameSpan: span(n.nameSpan), span: span(n.span) });
  const header = (h: Header): Header => ({
    ...h,
    nameSpan: span(h.nameSpan),
    valueSpan: span(h.valueSpan),
    span: span(h.span),
  });
  const body = (b: Body): Body => {
    switch (b.kind) {
      case 'json':
        return {
          ...b,
          span: span(b.span),
          members: b.members.map((m) => ({ ...m, nameSpan: span(m.nameSpan), valueSpan: optionalSpan(m.valueSpan) })),
        };
      case 'batch':
        return {
          ...b,
          span: span(b.span),
          items: b.items.map((item) =>
            item.kind === 'request'
              ? request(item)
              : {
                  ...item,
                  requests: item.requests.map(request),
                  beginSpan: span(item.beginSpan),
                  endSpan: optionalSpan(item.endSpan),
                  span: span(item.span),
                },
          ),
        };
      default:
        return { ...b, span: span(b.span) };
    }
  };
  const request = (r: Request): Request => ({
    ...r,
    methodSpan: optionalSpan(r.methodSpan),
    url: movedUrl(r.url, span(r.url.span), r.url.variable && use(r.url.variable)),
    headers: moveAll(r.headers, header),
    body: r.body && body(r.body),
    requestLineSpan: span(r.requestLineSpan),
    span: span(r.span),
  });
  return (part) => {
    const block = part.block;
    return {
      block: {
        ...block,
        index: block.index + renumber,
        separatorSpan: optionalSpan(block.separatorSpan),
        name: block.name && name(block.name),
        variables: moveAll(block.variables, (v) => ({
          ...v,
          nameSpan: span(v.nameSpan),
          valueSpan: span(v.valueSpan),
          span: span(v.span),
        })),
        request: block.request && request(block.request),
        span: span(block.span),
      },
      uses: moveAll(part.uses, use),
      diagnostics: moveAll(part.diagnostics, (d) => ({ ...d, span: span(d.span) })),
      names: moveAll(part.names, name),
    };
  };
}

/** The document of blocks parsed each on its own, with what depends on several of them: names and variables given twice. */
function assemble(text: string, parts: readonly BlockParse[]): ODataDocument {
  const blocks = parts.map((part) => part.block);
  const diagnostics: DocumentDiagnostic[] = [];
  const uses: VariableUse[] = [];
  const variables: VariableDefinition[] = [];
  const names = new Set<string>();
  const variableNames = new Set<string>();
  let environment: VariableDefinition | undefined;
  for (const part of parts) {
    for (const d of part.diagnostics) diagnostics.push(d);
    for (const use of part.uses) uses.push(use);
    for (const name of part.names) {
      if (names.has(name.name)) {
        diagnostics.push({
          code: 'duplicateRequestName',
          message: `A request is already named '${name.name}'; later requests see the last one run.`,
          span: name.nameSpan,
          severity: 'warning',
        });
      }
      names.add(name.name);
    }
    for (const definition of part.block.variables) {
      const name = definition.name;
      if (name === 'environment') {
        if (environment) {
          diagnostics.push({
            code: 'duplicateEnvironment',
            message: `The file is already pinned to '${environment.value}'.`,
            span: definition.span,
            severity: 'warning',
          });
        }
        environment = definition;
      } else if (variableNames.has(name)) {
        diagnostics.push({
          code: 'duplicateVariable',
          message: `'${name}' is defined again; the last definition wins.`,
          span: definition.nameSpan,
          severity: 'warning',
        });
      }
      variableNames.add(name);
      variables.push(definition);
    }
  }
  diagnostics.sort((a, b) => a.span.start - b.span.start);
  const document: ODataDocument = {
    kind: 'document',
    text,
    blocks,
    variables,
    environment,
    variableUses: uses,
    diagnostics,
    span: { start: 0, end: text.length },
  };
  blockParses.set(document, parts);
  return document;
}

/** The block containing `offset` (a block's end belongs to it when it is the last block). */
export function blockAt(document: ODataDocument, offset: number): Block | undefined {
  const blocks = document.blocks;
  let low = 0;
  let high = blocks.length - 1;
  while (low <= high) {
    const mid = (low + high) >> 1;
    const block = blocks[mid]!;
    if (offset < block.span.start) high = mid - 1;
    else if (offset >= block.span.end && !(mid === blocks.length - 1 && offset === block.span.end)) low = mid + 1;
    else return block;
  }
  return undefined;
}

/** Every request of a block: the request itself and, for a batch, the requests of its body. */
export function requestsOf(request: Request): Request[] {
  const result: Request[] = [request];
  if (request.body?.kind === 'batch') {
    for (const item of request.body.items) {
      if (item.kind === 'request') result.push(item);
      else result.push(...item.requests);
    }
  }
  return result;
}

/** The innermost request whose span (request line to body end) contains `offset`. */
export function requestAt(block: Block, offset: number): Request | undefined {
  const request = block.request;
  if (!request) return undefined;
  if (request.body?.kind === 'batch' && offset >= request.body.span.start && offset <= request.body.span.end) {
    for (const inner of requestsOf(request).slice(1)) {
      if (offset >= inner.span.start && offset <= inner.span.end) return inner;
    }
    return undefined;
  }
  return request;
}

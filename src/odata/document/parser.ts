/**
 * The `.odata` document parser (docs/odata-files.md). Line-based and single-pass: each line is
 * classified a bounded number of times, URLs go to the shared OData URL parser, JSON bodies to the
 * in-place checker. Never throws; every problem becomes a diagnostic with the exact range.
 */
import { didYouMean } from '../../metadata/lookup';
import { checkJson } from './json';
import { BlockNode, HeaderNode, Move, NONE, NO_FINDINGS, RequestNode, UrlNode, VariableUseNode } from './nodes';
import type {
  BatchBody,
  BatchItem,
  Block,
  Body,
  ChangeSet,
  DocumentDiagnostic,
  DocumentDiagnosticCode,
  ODataDocument,
  Request,
  RequestMethod,
  RequestName,
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

type LineKind = 'blank' | 'comment' | 'separator' | 'other';

/**
 * What a line is as a request line. The classifier leaves the method and where the URL starts in
 * the parser's fields, so that a request line costs no object.
 */
const enum RequestLine {
  /** `METHOD url`: `lineMethod`, `lineMethodStart`, `lineUrlStart`. */
  Method,
  /** A URL with GET implied: `lineUrlStart`. */
  Bare,
  /** A method alone: `lineMethod`, `lineMethodStart`. */
  MissingUrl,
  /** A word then a URL: the word starts at `lineMethodStart`, ends at `lineMethodEnd`. */
  UnknownMethod,
  None,
}

function isSpace(c: number): boolean {
  return c === 32 || c === 9;
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

/** `[\w-]`: what variable names are made of. */
function isNameChar(c: number): boolean {
  return isLetter(c) || isDigit(c) || c === 95 || c === 45;
}

/** What `String.prototype.trim` removes (ECMAScript WhiteSpace and LineTerminator). */
function isTrimmed(c: number): boolean {
  if (c <= 32) return c === 32 || (c >= 9 && c <= 13);
  if (c < 160) return false;
  return (
    c === 160 ||
    c === 0x1680 ||
    (c >= 0x2000 && c <= 0x200a) ||
    c === 0x2028 ||
    c === 0x2029 ||
    c === 0x202f ||
    c === 0x205f ||
    c === 0x3000 ||
    c === 0xfeff
  );
}

/** The method `text[start, end)` names, in any case, without cutting it out of the text; `start < end`, letters only. */
function methodAt(text: string, start: number, end: number): RequestMethod | undefined {
  for (const method of REQUEST_METHODS) {
    if (method.length !== end - start) continue;
    let i = 0;
    // Upper-case letters are lower-case ones without 0x20.
    while (i < method.length && (text.charCodeAt(start + i) & ~0x20) === method.charCodeAt(i)) i++;
    if (i === method.length) return method;
  }
  return undefined;
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

/**
 * A list built with `push`, as the tree keeps it: the shared empty list, or an exact-size copy (a list
 * that grew by `push` holds room for 17 items, 150 bytes, where most hold one).
 */
function kept<T>(list: readonly T[]): readonly T[] {
  return list.length === 0 ? NONE : list.slice();
}

/** The reference of unusable text; a diagnostic accompanies it. */
const INVALID: VariableReference = { kind: 'invalid' };

function isContentId(header: HeaderNode): boolean {
  return header.named('content-id');
}

function isLetter(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}

/**
 * Parses blocks each on its own: what depends on several blocks, such as a name given twice, is
 * found when the document is assembled, so an edit re-parses only the blocks it touches.
 */
class DocumentParser {
  /** Where each line of the region starts and ends (before `\r\n` or `\n`): typed arrays, which the collector skips. */
  private readonly starts: Int32Array;
  private readonly ends: Int32Array;
  // Scratch lists of the block being parsed, copied at their size into its nodes (a list grown by
  // `push` holds room for 17 items, where most hold one or none).
  private readonly diagnostics: DocumentDiagnostic[] = [];
  private readonly uses: VariableUseNode[] = [];
  /** Whether a use was found before one already in `uses` (a batch's headers are read after its requests'). */
  private usesUnordered = false;
  /**
   * What each variable text seen so far refers to, when it is valid: a name used on every request
   * (`{{token}}`) keeps one reference, not one per use.
   */
  private references: Map<string, VariableReference> | undefined;
  private readonly names: RequestName[] = [];
  private readonly variables: VariableDefinition[] = [];
  /** The headers of the request being read (a batch's requests are read after their batch's headers). */
  private readonly headerScratch: HeaderNode[] = [];
  // What `classifyRequestLine` found (see `RequestLine`).
  private lineMethod: RequestMethod = 'GET';
  private lineMethodStart = 0;
  private lineMethodEnd = 0;
  private lineUrlStart = 0;
  /** The line after the request `parseRequest` read last. */
  private afterRequest = 0;
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
  parseBlocks(firstIndex: number): BlockNode[] {
    const blocks: BlockNode[] = [];
    const lineCount = this.starts.length;
    let blockFirst = 0;
    let separated = this.kindOf(0) === 'separator';
    for (let k = 1; k <= lineCount; k++) {
      if (k < lineCount && this.kindOf(k) !== 'separator') continue;
      // Lines [blockFirst, k) form a block; the part before the first `###` only when it holds text.
      if (separated || this.hasText(0, k)) {
        blocks.push(this.parseBlock(firstIndex + blocks.length, separated ? blockFirst : 0, k, separated));
      }
      blockFirst = k;
      separated = true;
    }
    return blocks;
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

  private parseBlock(index: number, first: number, end: number, hasSeparator: boolean): BlockNode {
    // Emptied only when they are not: setting `length` is a call into the runtime.
    if (this.uses.length > 0) this.uses.length = 0;
    this.usesUnordered = false;
    if (this.diagnostics.length > 0) this.diagnostics.length = 0;
    if (this.names.length > 0) this.names.length = 0;
    if (this.variables.length > 0) this.variables.length = 0;
    let separatorEnd = -1;
    let titleStart = 0;
    let titleEnd = 0;
    let k = first;
    if (hasSeparator) {
      separatorEnd = this.ends[first]!;
      // The text after `###`, trimmed as `String.prototype.trim` does.
      titleStart = this.firstNonSpace(first) + 3;
      titleEnd = separatorEnd;
      while (titleStart < titleEnd && isTrimmed(this.text.charCodeAt(titleStart))) titleStart++;
      while (titleEnd > titleStart && isTrimmed(this.text.charCodeAt(titleEnd - 1))) titleEnd--;
      k++;
    }
    let name: RequestName | undefined;
    let request: RequestNode | undefined;
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
        if (variable) this.variables.push(variable);
        continue;
      }
      request = this.parseRequest(k, end, false);
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
    if (this.usesUnordered) this.uses.sort((a, b) => a.offset - b.offset);
    const findings =
      this.uses.length + this.diagnostics.length + this.names.length === 0
        ? NO_FINDINGS
        : { uses: kept(this.uses), diagnostics: kept(this.diagnostics), names: kept(this.names) };
    return new BlockNode(
      this.text,
      index,
      this.starts[first]!,
      end < this.starts.length ? this.starts[end]! : this.to,
      separatorEnd,
      titleStart,
      titleEnd,
      name,
      kept(this.variables),
      request,
      findings,
    );
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
    while (i < end && isNameChar(this.text.charCodeAt(i))) i++;
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

  private classifyRequestLine(k: number): RequestLine {
    const start = this.firstNonSpace(k);
    const end = this.trimmedEnd(k);
    if (start >= end) return RequestLine.None;
    let i = start;
    while (i < end && isLetter(this.text.charCodeAt(i))) i++;
    if (i > start && (i === end || isSpace(this.text.charCodeAt(i)))) {
      const method = methodAt(this.text, start, i);
      this.lineMethodStart = start;
      this.lineMethodEnd = i;
      if (i === end) {
        // A lone word: a method without URL, or a bare URL such as `WhoAmI`.
        if (method === undefined) {
          this.lineUrlStart = start;
          return RequestLine.Bare;
        }
        this.lineMethod = method;
        return RequestLine.MissingUrl;
      }
      if (method === undefined) return RequestLine.UnknownMethod;
      let urlStart = i;
      while (urlStart < end && isSpace(this.text.charCodeAt(urlStart))) urlStart++;
      this.lineMethod = method;
      this.lineUrlStart = urlStart;
      return RequestLine.Method;
    }
    const c = this.text.charCodeAt(start);
    this.lineUrlStart = start;
    if (c === 123 && this.text.charCodeAt(start + 1) === 123) return RequestLine.Bare;
    if (c === 123 || c === 91 || c === 60 || c === 34) return RequestLine.None;
    // `Name: value` is a header out of place; `https://` is a URL.
    if (this.isHeaderLike(k, start) && this.text.charCodeAt(this.text.indexOf(':', start) + 1) !== 47) {
      return RequestLine.None;
    }
    return RequestLine.Bare;
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
   * Parses the request whose line is `k`, up to `end`, and sets `afterRequest`. Inside a batch only
   * explicit methods start a request, and a request's body ends at the next request line or change-set marker.
   */
  private parseRequest(k: number, end: number, inBatch: boolean): RequestNode | undefined {
    const line = this.classifyRequestLine(k);
    const lineStart = this.firstNonSpace(k);
    switch (line) {
      case RequestLine.None:
        this.report('expectedRequest', 'Expected a request: METHOD url (GET, POST, PATCH, PUT, DELETE or FETCH).', {
          start: lineStart,
          end: this.trimmedEnd(k),
        });
        return undefined;
      case RequestLine.MissingUrl: {
        const method = this.lineMethod;
        this.report('missingUrl', `${method} needs a URL: ${method} accounts`, {
          start: this.lineMethodStart,
          end: this.lineMethodEnd,
        });
        return undefined;
      }
      case RequestLine.UnknownMethod: {
        const word = this.text.slice(this.lineMethodStart, this.lineMethodEnd);
        const suggestion = didYouMean(word.toUpperCase(), REQUEST_METHODS, 1)[0];
        this.report(
          'unknownMethod',
          `Unknown method '${word}'; expected GET, POST, PATCH, PUT, DELETE or FETCH.` +
            (suggestion ? ` Did you mean '${suggestion}'?` : ''),
          { start: this.lineMethodStart, end: this.lineMethodEnd },
        );
        return undefined;
      }
      case RequestLine.Bare:
        if (inBatch) {
          this.report('unexpectedBatchLine', 'Requests inside a batch need their method: GET url.', {
            start: lineStart,
            end: this.trimmedEnd(k),
          });
          return undefined;
        }
        break;
      case RequestLine.Method:
        break;
    }
    // Read before the lines below are classified in their turn.
    const method: RequestMethod = line === RequestLine.Method ? this.lineMethod : 'GET';
    const methodStart = line === RequestLine.Method ? this.lineMethodStart : -1;
    const urlStart = this.lineUrlStart;
    let urlEnd = this.withoutHttpVersion(urlStart, this.trimmedEnd(k));
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

    const scratch = this.headerScratch;
    if (scratch.length > 0) scratch.length = 0;
    let lastEnd = urlEnd;
    for (; next < end; next++) {
      const kind = this.kindOf(next);
      if (kind === 'blank') {
        next++;
        break;
      }
      if (kind === 'comment') continue;
      if (inBatch && (this.isChangesetMarker(next) || this.classifyRequestLine(next) === RequestLine.Method)) break;
      const first = this.firstNonSpace(next);
      const c = this.text.charCodeAt(first);
      if (c === 123 || c === 91 || c === 60) break;
      const header = this.parseHeader(next);
      if (header) {
        scratch.push(header);
        lastEnd = this.trimmedEnd(next);
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
      if (inBatch && (this.isChangesetMarker(stop) || this.classifyRequestLine(stop) === RequestLine.Method)) break;
      if (this.kindOf(stop) === 'other') bodyLast = stop + 1;
    }
    let body: Body | undefined;
    if (bodyLast > bodyFirst) {
      const bodySpan = { start: this.firstNonSpace(bodyFirst), end: this.trimmedEnd(bodyLast - 1) };
      body = this.parseBody(method, url, headers, bodySpan, bodyFirst, bodyLast);
      lastEnd = bodySpan.end;
    }
    if (method === 'FETCH' && !body) {
      this.report('fetchWithoutBody', 'FETCH needs a <fetch> document after the request line.', {
        start: lineStart,
        end: urlEnd,
      });
    }
    if (body && (method === 'GET' || method === 'DELETE')) {
      this.report('unexpectedBody', `A ${method} request sends no body; this text is ignored.`, body.span, 'warning');
    }
    const contentId = headers.find(isContentId)?.value;
    this.afterRequest = inBatch ? stop : end;
    return new RequestNode(method, methodStart, url, headers, body, contentId, lineStart, urlEnd, lastEnd);
  }

  /**
   * Where the URL of a request line ends: before a trailing ` HTTP/1.1` (`[ \t]+HTTP/\d(\.\d)?`,
   * any case), looked for in the line's last 12 characters.
   */
  private withoutHttpVersion(urlStart: number, urlEnd: number): number {
    const text = this.text;
    let major = urlEnd - 1;
    if (!isDigit(text.charCodeAt(major))) return urlEnd;
    if (text.charCodeAt(major - 1) === 46 && isDigit(text.charCodeAt(major - 2))) major -= 2;
    const tail = Math.max(urlStart, urlEnd - 12);
    const http = major - 5;
    if (http - 1 < tail || text.charCodeAt(major - 1) !== 47) return urlEnd;
    // `HTTP` in any case: upper-case letters are lower-case ones without 0x20.
    for (let i = 0; i < 4; i++) {
      if ((text.charCodeAt(http + i) & ~0x20) !== 'HTTP'.charCodeAt(i)) return urlEnd;
    }
    let spaces = http;
    while (spaces > tail && isSpace(text.charCodeAt(spaces - 1))) spaces--;
    return spaces < http ? spaces : urlEnd;
  }

  private parseUrl(start: number, end: number): UrlNode {
    const firstUse = this.uses.length;
    this.scanVariables(start, end);
    const lead = this.uses[firstUse];
    if (lead !== undefined && lead.offset === start && lead.terminated) return this.variableUrl(lead, end);
    // An unterminated `{{` at the start is reported by the URL parser like any other broken URL.
    return new UrlNode(this.text, start, end, undefined);
  }

  /**
   * `GET {{page.@odata.nextLink}}`: the variable stands for the whole URL, which is known only when
   * the request runs, so there is nothing to parse or check here but the variable itself. Nothing
   * may follow it: a next link is opaque and sent as the service wrote it (dataverse-webapi.md §7.1).
   */
  private variableUrl(lead: VariableUse, end: number): UrlNode {
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
    return new UrlNode(this.text, lead.span.start, end, lead);
  }

  /** `Name: value`, the name made of RFC 9110 token characters. */
  private parseHeader(k: number): HeaderNode | undefined {
    const start = this.starts[k]!;
    const end = this.trimmedEnd(k);
    let nameEnd = start;
    while (nameEnd < end && isTokenChar(this.text.charCodeAt(nameEnd))) nameEnd++;
    let valueStart = nameEnd;
    while (valueStart < end && isSpace(this.text.charCodeAt(valueStart))) valueStart++;
    if (nameEnd === start || valueStart >= end || this.text.charCodeAt(valueStart) !== 58) return undefined;
    valueStart++;
    while (valueStart < end && isSpace(this.text.charCodeAt(valueStart))) valueStart++;
    this.scanVariables(valueStart, end);
    return new HeaderNode(this.text, start, nameEnd, valueStart, end);
  }

  private parseBody(
    method: RequestMethod,
    url: UrlNode,
    headers: readonly HeaderNode[],
    span: TextSpan,
    firstLine: number,
    endLine: number,
  ): Body {
    const contentType = headers.find((h) => h.named('content-type'))?.value.toLowerCase() ?? '';
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
      const request = this.parseRequest(k, end, true);
      if (!request) {
        k++;
        continue;
      }
      count++;
      this.checkBatchRequest(request, changeset);
      if (changeset) changeset.requests.push(request);
      else items.push(request);
      k = this.afterRequest;
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
    request: RequestNode,
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
      let reference: VariableReference = INVALID;
      if (!terminated) {
        this.report('unterminatedVariable', "Unterminated variable: missing '}}'.", { start: open, end: stop });
      } else {
        const inner = this.text.slice(a, b);
        const known = this.references?.get(inner);
        if (known) {
          reference = known;
        } else {
          reference = this.classifyVariable(inner, { start: open, end: stop });
          if (reference !== INVALID) (this.references ??= new Map()).set(inner, reference);
        }
      }
      const last = this.uses.at(-1);
      if (last && last.offset > open) this.usesUnordered = true;
      this.uses.push(new VariableUseNode(this.text, open, stop, a, b, reference, terminated));
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
        return INVALID;
      }
      const args = parts.slice(1);
      if (name === '$randomInt') {
        const numbers = args.map((a) => (/^-?\d{1,15}$/.test(a) ? Number(a) : Number.NaN));
        if (numbers.length !== 2 || numbers.some(Number.isNaN) || numbers[0]! >= numbers[1]!) {
          this.report('invalidVariable', '{{$randomInt min max}} needs two integers, min below max.', span);
          return INVALID;
        }
        return { kind: 'system', name, args: numbers };
      }
      if (args.length > 0) {
        this.report('invalidVariable', `'${name}' takes no arguments.`, span);
        return INVALID;
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
          return INVALID;
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
    return INVALID;
  }
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

/** Drops the URL trees of a block's requests, parsed again if read again (see `UrlNode.release`). */
export function releaseUrlTrees(block: Block): void {
  if (!block.request) return;
  for (const request of requestsOf(block.request)) {
    if (request.url instanceof UrlNode) request.url.release();
  }
}

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
  const old = previous.text;
  if (old === text) return previous;
  const blocks = parsedBlocks(previous);
  if (!blocks || blocks.length === 0) return parseDocument(text);
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
  const first = Math.max(blockIndexAt(blocks, changeStart) - 1, 0);
  const last = blockIndexAt(blocks, oldChangeEnd);
  const regionStart = first === 0 ? 0 : blocks[first]!.span.start;
  const regionEnd = last === blocks.length - 1 ? text.length : blocks[last + 1]!.span.start + delta;
  const reparsed = new DocumentParser(text, regionStart, regionEnd).parseBlocks(first);
  const before = blocks.slice(0, first);
  const after = blocks.slice(last + 1);
  const renumber = first + reparsed.length - (last + 1);
  // Blocks reused as they are hold their text at the same offsets in the new version.
  for (const block of before) block.retarget(text);
  let moved: readonly BlockNode[];
  if (delta === 0 && renumber === 0) {
    for (const block of after) block.retarget(text);
    moved = after;
  } else {
    const move = new Move(text, delta);
    moved = after.map((block) => block.moved(move, renumber));
  }
  return assemble(text, [...before, ...reparsed, ...moved]);
}

/** The index of the block that holds `offset` (the first one for an offset before all blocks). */
function blockIndexAt(blocks: readonly BlockNode[], offset: number): number {
  let low = 0;
  let high = blocks.length - 1;
  while (low < high) {
    const mid = (low + high + 1) >> 1;
    if (blocks[mid]!.span.start <= offset) low = mid;
    else high = mid - 1;
  }
  return low;
}

/** The document of blocks parsed each on its own, with what depends on several of them: names and variables given twice. */
function assemble(text: string, blocks: readonly BlockNode[]): ODataDocument {
  const diagnostics: DocumentDiagnostic[] = [];
  const uses: VariableUse[] = [];
  const variables: VariableDefinition[] = [];
  // Made when a block has names or variables: a one-request text (an agent's check) has none.
  let names: Set<string> | undefined;
  let variableNames: Set<string> | undefined;
  let environment: VariableDefinition | undefined;
  for (const block of blocks) {
    const findings = block.findings;
    for (const d of findings.diagnostics) diagnostics.push(d);
    for (const use of findings.uses) uses.push(use);
    for (const name of findings.names) {
      names ??= new Set();
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
    for (const definition of block.variables) {
      variableNames ??= new Set();
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
  return document;
}

/** The blocks of a document as this parser made them (each holds what `reparseDocument` reuses), or undefined. */
function parsedBlocks(document: ODataDocument): readonly BlockNode[] | undefined {
  const blocks = document.blocks;
  for (const block of blocks) if (!(block instanceof BlockNode)) return undefined;
  return blocks as readonly BlockNode[];
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

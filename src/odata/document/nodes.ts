/**
 * The nodes a parse keeps for every block: one object each, holding offsets into the document text.
 * Spans, names and values are made from those offsets when read. A 2 MB file holds tens of thousands
 * of blocks, and an object per span and per cut string made the garbage collector close to half of
 * the parse's time. The offsets are own properties, so `deepStrictEqual` compares two parses in full;
 * the text is a private field, shared by every node and left out of comparisons and JSON.
 */
import { parseODataUrl } from '../url/parseUrl';
import type { ODataUrl } from '../url/syntax';
import type {
  Block,
  Body,
  DocumentDiagnostic,
  Header,
  JsonMember,
  JsonValueKind,
  Request,
  RequestMethod,
  RequestName,
  RequestUrl,
  TextSpan,
  VariableDefinition,
  VariableReference,
  VariableUse,
} from './syntax';

/** One empty list for every node that has none: a large file holds tens of thousands of nodes. */
export const NONE: readonly never[] = [];

/**
 * `{{…}}` from `start` to `end` (to the end of the line when unterminated), the text between the
 * braces, trimmed, at `[innerStart, innerEnd)`.
 */
export class VariableUseNode implements VariableUse {
  #text: string;

  constructor(
    text: string,
    private readonly start: number,
    private readonly end: number,
    private readonly innerStart: number,
    private readonly innerEnd: number,
    readonly reference: VariableReference,
    readonly terminated: boolean,
  ) {
    this.#text = text;
  }

  get kind(): 'variableUse' {
    return 'variableUse';
  }

  get text(): string {
    return this.#text.slice(this.innerStart, this.innerEnd);
  }

  get span(): TextSpan {
    return { start: this.start, end: this.end };
  }

  get innerSpan(): TextSpan {
    return { start: this.innerStart, end: this.innerEnd };
  }

  /** Where the use starts, without making its span. */
  get offset(): number {
    return this.start;
  }

  moved(move: Move): VariableUseNode {
    const delta = move.delta;
    return new VariableUseNode(
      move.text,
      this.start + delta,
      this.end + delta,
      this.innerStart + delta,
      this.innerEnd + delta,
      this.reference,
      this.terminated,
    );
  }

  retarget(text: string): void {
    this.#text = text;
  }
}

/** A member of a body's top-level object: its name, quotes included, at `[nameStart, nameEnd)`, its value at `[valueStart, valueEnd)`. */
export class JsonMemberNode implements JsonMember {
  constructor(
    readonly name: string,
    private readonly nameStart: number,
    private readonly nameEnd: number,
    readonly valueKind: JsonValueKind,
    private readonly valueStart: number,
    private readonly valueEnd: number,
    readonly stringValue: string | undefined,
  ) {}

  get nameSpan(): TextSpan {
    return { start: this.nameStart, end: this.nameEnd };
  }

  get valueSpan(): TextSpan {
    return { start: this.valueStart, end: this.valueEnd };
  }

  moved(delta: number): JsonMemberNode {
    return new JsonMemberNode(
      this.name,
      this.nameStart + delta,
      this.nameEnd + delta,
      this.valueKind,
      this.valueStart + delta,
      this.valueEnd + delta,
      this.stringValue,
    );
  }
}

/** `Name: value` at `[start, end)`, the name ending at `nameEnd` and the value starting at `valueStart`. */
export class HeaderNode implements Header {
  #text: string;

  constructor(
    text: string,
    private readonly start: number,
    private readonly nameEnd: number,
    private readonly valueStart: number,
    private readonly end: number,
  ) {
    this.#text = text;
  }

  /** On the prototype: a field would cost every node a slot. */
  get kind(): 'header' {
    return 'header';
  }

  get name(): string {
    return this.#text.slice(this.start, this.nameEnd);
  }

  get nameSpan(): TextSpan {
    return { start: this.start, end: this.nameEnd };
  }

  get value(): string {
    return this.#text.slice(this.valueStart, this.end);
  }

  get valueSpan(): TextSpan {
    return { start: this.valueStart, end: this.end };
  }

  get span(): TextSpan {
    return { start: this.start, end: this.end };
  }

  /** Whether the name is `lowerCaseName` in any case, without cutting the name out of the text. */
  named(lowerCaseName: string): boolean {
    const length = this.nameEnd - this.start;
    if (length !== lowerCaseName.length) return false;
    for (let i = 0; i < length; i++) {
      // Header names are ASCII tokens, whose letters differ by 0x20 between cases; `-` and digits have it set.
      if ((this.#text.charCodeAt(this.start + i) | 0x20) !== lowerCaseName.charCodeAt(i)) return false;
    }
    return true;
  }

  moved(move: Move): HeaderNode {
    const delta = move.delta;
    return new HeaderNode(
      move.text,
      this.start + delta,
      this.nameEnd + delta,
      this.valueStart + delta,
      this.end + delta,
    );
  }

  retarget(text: string): void {
    this.#text = text;
  }
}

/** The tree of `{{…}}` standing for a whole URL: no segment, no option. */
let variableUrlTree: ODataUrl | undefined;

/**
 * A request's URL at `[start, end)`, whose OData tree is parsed the first time something reads it,
 * then kept: a large file costs its blocks, not a tree of every URL (a tree is ~30 times its URL's
 * text). Completion and hover read one block's; diagnostics read each once and keep them for the next edit.
 */
export class UrlNode implements RequestUrl {
  #text: string;
  #tree: ODataUrl | undefined;

  constructor(
    text: string,
    private readonly start: number,
    private readonly end: number,
    readonly variable: VariableUse | undefined,
    tree?: ODataUrl,
  ) {
    this.#text = text;
    this.#tree = tree;
  }

  get text(): string {
    return this.#text.slice(this.start, this.end);
  }

  get span(): TextSpan {
    return { start: this.start, end: this.end };
  }

  get tree(): ODataUrl {
    if (this.variable) return (variableUrlTree ??= parseODataUrl(''));
    return (this.#tree ??= parseODataUrl(this.text));
  }

  /** The same URL at another place: its tree (relative to the URL) is shared, parsed or not yet. */
  moved(move: Move): UrlNode {
    const variable = this.variable && move.use(this.variable);
    return new UrlNode(move.text, this.start + move.delta, this.end + move.delta, variable, this.#tree);
  }

  retarget(text: string): void {
    this.#text = text;
  }

  /** Drops the parsed tree (a one-time pass such as `dvw check` that must not hold them all). */
  release(): void {
    this.#tree = undefined;
  }
}

/**
 * A request from its line at `start` to `end`; its request line (with continuation lines) ends at
 * `lineEnd`, its method as written starts at `methodStart` (-1 for a bare URL, GET implied).
 */
export class RequestNode implements Request {
  constructor(
    readonly method: RequestMethod,
    private readonly methodStart: number,
    readonly url: UrlNode,
    readonly headers: readonly HeaderNode[],
    readonly body: Body | undefined,
    readonly contentId: string | undefined,
    private readonly start: number,
    private readonly lineEnd: number,
    private readonly end: number,
  ) {}

  /** The method is made of letters, so the word as written is as long as its upper-case name. */
  /** On the prototype: a field would cost every node a slot. */
  get kind(): 'request' {
    return 'request';
  }

  get methodSpan(): TextSpan | undefined {
    return this.methodStart < 0 ? undefined : { start: this.methodStart, end: this.methodStart + this.method.length };
  }

  get requestLineSpan(): TextSpan {
    return { start: this.start, end: this.lineEnd };
  }

  get span(): TextSpan {
    return { start: this.start, end: this.end };
  }

  moved(move: Move): RequestNode {
    const delta = move.delta;
    return new RequestNode(
      this.method,
      this.methodStart < 0 ? -1 : this.methodStart + delta,
      this.url.moved(move),
      move.list(this.headers, move.header),
      this.body && move.body(this.body),
      this.contentId,
      this.start + delta,
      this.lineEnd + delta,
      this.end + delta,
    );
  }

  retarget(text: string): void {
    this.url.retarget(text);
    for (const header of this.headers) header.retarget(text);
    if (this.body?.kind !== 'batch') return;
    for (const item of this.body.items) {
      if (item.kind === 'request') asNode(item).retarget(text);
      else for (const request of item.requests) asNode(request).retarget(text);
    }
  }
}

/** Every request of a document is made by its parser, as a `RequestNode`. */
function asNode(request: Request): RequestNode {
  return request as RequestNode;
}

/** What a block gathered from its own text, which the document collects when it is assembled. */
export interface BlockFindings {
  /** In the order of the text. */
  readonly uses: readonly VariableUse[];
  readonly diagnostics: readonly DocumentDiagnostic[];
  /** Every `# @name` annotation of the block, in order (the block's name is the last). */
  readonly names: readonly RequestName[];
}

/** The findings of most blocks: nothing. */
export const NO_FINDINGS: BlockFindings = { uses: NONE, diagnostics: NONE, names: NONE };

/**
 * A block from `start` (its `###` line, or the start of the document) to `end`. The `###` line ends
 * at `separatorEnd` (-1 for the part before the first `###`), the title is `[titleStart, titleEnd)`.
 */
export class BlockNode implements Block {
  #text: string;

  constructor(
    text: string,
    readonly index: number,
    private readonly start: number,
    private readonly end: number,
    private readonly separatorEnd: number,
    private readonly titleStart: number,
    private readonly titleEnd: number,
    readonly name: RequestName | undefined,
    readonly variables: readonly VariableDefinition[],
    readonly request: RequestNode | undefined,
    /** Not part of `Block`: kept here so that an edit elsewhere reuses them with the block. */
    readonly findings: BlockFindings,
  ) {
    this.#text = text;
  }

  /** On the prototype: a field would cost every node a slot. */
  get kind(): 'block' {
    return 'block';
  }

  get title(): string {
    return this.titleEnd > this.titleStart ? this.#text.slice(this.titleStart, this.titleEnd) : '';
  }

  get separatorSpan(): TextSpan | undefined {
    return this.separatorEnd < 0 ? undefined : { start: this.start, end: this.separatorEnd };
  }

  get span(): TextSpan {
    return { start: this.start, end: this.end };
  }

  /** The block moved by `move`, `renumber` places further in the document. */
  moved(move: Move, renumber: number): BlockNode {
    const delta = move.delta;
    const findings = this.findings;
    return new BlockNode(
      move.text,
      this.index + renumber,
      this.start + delta,
      this.end + delta,
      this.separatorEnd < 0 ? -1 : this.separatorEnd + delta,
      this.titleStart + delta,
      this.titleEnd + delta,
      this.name && move.name(this.name),
      move.list(this.variables, move.variable),
      this.request?.moved(move),
      findings === NO_FINDINGS
        ? findings
        : {
            uses: move.list(findings.uses, move.use),
            diagnostics: move.list(findings.diagnostics, move.diagnostic),
            names: move.list(findings.names, move.name),
          },
    );
  }

  /**
   * Points the block at `text`, a later version of its document that holds the block's text at the
   * same offsets (the block stands before an edit): nothing it gives changes, and the old version
   * is not kept alive by the blocks an edit reused.
   */
  retarget(text: string): void {
    this.#text = text;
    this.request?.retarget(text);
    for (const use of this.findings.uses) (use as VariableUseNode).retarget(text);
  }
}

/**
 * Moves nodes `delta` characters further into `text`, an edited version of their document: a copy
 * of every node that holds a document offset. URL trees are relative to their URL, so they are kept
 * as they are (they are most of a request's nodes). A node kind added to the syntax needs its line
 * here; the property test of `reparseDocument` against `parseDocument` finds one that is missing.
 */
export class Move {
  constructor(
    readonly text: string,
    readonly delta: number,
  ) {}

  /** `list.map(move)`, keeping the shared empty list. */
  list<T>(list: readonly T[], move: (item: T) => T): readonly T[] {
    return list.length === 0 ? NONE : list.map(move);
  }

  readonly span = (span: TextSpan): TextSpan => ({ start: span.start + this.delta, end: span.end + this.delta });

  readonly header = (header: HeaderNode): HeaderNode => header.moved(this);

  readonly request = (request: Request): Request => asNode(request).moved(this);

  readonly use = (use: VariableUse): VariableUse => (use as VariableUseNode).moved(this);

  readonly name = (name: RequestName): RequestName => ({
    ...name,
    nameSpan: this.span(name.nameSpan),
    span: this.span(name.span),
  });

  readonly variable = (variable: VariableDefinition): VariableDefinition => ({
    ...variable,
    nameSpan: this.span(variable.nameSpan),
    valueSpan: this.span(variable.valueSpan),
    span: this.span(variable.span),
  });

  readonly diagnostic = (diagnostic: DocumentDiagnostic): DocumentDiagnostic => ({
    ...diagnostic,
    span: this.span(diagnostic.span),
  });

  readonly body = (body: Body): Body => {
    switch (body.kind) {
      case 'json':
        return {
          ...body,
          span: this.span(body.span),
          members: body.members.map((member) => (member as JsonMemberNode).moved(this.delta)),
        };
      case 'batch':
        return {
          ...body,
          span: this.span(body.span),
          items: body.items.map((item) =>
            item.kind === 'request'
              ? this.request(item)
              : {
                  ...item,
                  requests: item.requests.map(this.request),
                  beginSpan: this.span(item.beginSpan),
                  endSpan: item.endSpan && this.span(item.endSpan),
                  span: this.span(item.span),
                },
          ),
        };
      default:
        return { ...body, span: this.span(body.span) };
    }
  };
}

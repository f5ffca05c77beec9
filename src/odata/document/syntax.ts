/**
 * The tree of a `.odata` document (docs/odata-files.md). Every node carries a `span` of offsets into
 * the document text; URLs keep their own OData tree, whose spans are relative to the URL's start.
 * The parser's nodes (`nodes.ts`) keep offsets and make spans, names and values when read: read a
 * span once and keep it rather than reading it in a loop, and compare spans by their offsets.
 */
import type { TextSpan } from '../span';
import type { DiagnosticCode as UrlDiagnosticCode, ODataUrl } from '../url/syntax';

export type { TextSpan };

export const HTTP_METHODS = ['GET', 'POST', 'PATCH', 'PUT', 'DELETE'] as const;
export type HttpMethod = (typeof HTTP_METHODS)[number];
/** `FETCH <entityset>` sends the FetchXML body as `GET <entityset>?fetchXml=...`. */
export type RequestMethod = HttpMethod | 'FETCH';
export const REQUEST_METHODS: readonly RequestMethod[] = [...HTTP_METHODS, 'FETCH'];

export type DocumentDiagnosticCode =
  | 'expectedRequest'
  | 'unknownMethod'
  | 'missingUrl'
  | 'textAfterUrlVariable'
  | 'invalidHeader'
  | 'missingBlankLine'
  | 'invalidJson'
  | 'fetchWithoutBody'
  | 'invalidFetchXml'
  | 'unexpectedBody'
  | 'unterminatedVariable'
  | 'invalidVariable'
  | 'unknownSystemVariable'
  | 'invalidVariableDefinition'
  | 'duplicateVariable'
  | 'duplicateRequestName'
  | 'duplicateEnvironment'
  | 'unexpectedBatchLine'
  | 'nestedChangeset'
  | 'unmatchedEndChangeset'
  | 'unclosedChangeset'
  | 'emptyChangeset'
  | 'nestedBatch'
  | 'getInChangeset'
  | 'tooManyBatchRequests'
  | 'contentIdOutsideChangeset'
  | 'duplicateContentId'
  | 'unknownContentId';

export type Severity = 'error' | 'warning' | 'information';

export interface DocumentDiagnostic {
  /** Document codes, or the URL parser's for problems inside a URL. */
  readonly code: DocumentDiagnosticCode | UrlDiagnosticCode;
  readonly message: string;
  readonly severity: Severity;
  readonly span: TextSpan;
}

/** `@name = value`. */
export interface VariableDefinition {
  readonly kind: 'variableDefinition';
  readonly name: string;
  readonly nameSpan: TextSpan;
  /** Trimmed; may itself use `{{…}}`. */
  readonly value: string;
  readonly valueSpan: TextSpan;
  readonly span: TextSpan;
}

/** `# @name label` (or `// @name label`) above a request. */
export interface RequestName {
  readonly kind: 'requestName';
  readonly name: string;
  readonly nameSpan: TextSpan;
  readonly span: TextSpan;
}

export const SYSTEM_VARIABLES = ['$guid', '$now', '$timestamp', '$randomInt'] as const;
export type SystemVariableName = (typeof SYSTEM_VARIABLES)[number];

/** What the text between `{{` and `}}` refers to; resolution against the file happens in the language layer. */
export type VariableReference =
  /** A file variable or an environment variable from settings. */
  | { readonly kind: 'name'; readonly name: string }
  | { readonly kind: 'system'; readonly name: SystemVariableName; readonly args: readonly number[] }
  /** `{{label.id}}`, `{{label.headers.X}}`, `{{label.a.b}}`: `path` is what follows the label. */
  | {
      readonly kind: 'request';
      readonly label: string;
      readonly target: 'id' | 'header' | 'body';
      readonly path: readonly string[];
    }
  /** Unusable text; a diagnostic accompanies it. */
  | { readonly kind: 'invalid' };

export interface VariableUse {
  readonly kind: 'variableUse';
  /** The trimmed text between the braces. */
  readonly text: string;
  readonly reference: VariableReference;
  /** From `{{` to `}}` (to the end of the line when unterminated). */
  readonly span: TextSpan;
  /** The text between the braces, trimmed. */
  readonly innerSpan: TextSpan;
  readonly terminated: boolean;
}

export interface Header {
  readonly kind: 'header';
  readonly name: string;
  readonly nameSpan: TextSpan;
  readonly value: string;
  readonly valueSpan: TextSpan;
  readonly span: TextSpan;
}

export interface RequestUrl {
  /** The URL as written: the rest of the request line plus its continuation lines. */
  readonly text: string;
  readonly span: TextSpan;
  /**
   * Parsed with `parseODataUrl(text)` when first read, then kept: its spans are relative to
   * `span.start`. Empty (no segments, no options) when `variable` is set: that URL is known only when
   * the request runs. Its diagnostics are not in `ODataDocument.diagnostics` (`urlDiagnostics`).
   */
  readonly tree: ODataUrl;
  /**
   * The `{{…}}` that starts the URL and stands for all of it (`GET {{page.@odata.nextLink}}`). Text
   * after it is an error (`textAfterUrlVariable`); the URL is then not checked against metadata.
   */
  readonly variable?: VariableUse;
}

export type JsonValueKind = 'object' | 'array' | 'string' | 'number' | 'boolean' | 'null' | 'variable';

/** A property of the top-level JSON object of a body. */
export interface JsonMember {
  readonly name: string;
  /** Includes the quotes. */
  readonly nameSpan: TextSpan;
  readonly valueKind: JsonValueKind | undefined;
  readonly valueSpan: TextSpan | undefined;
  /** The unescaped value, for string values. */
  readonly stringValue: string | undefined;
}

export interface JsonBody {
  readonly kind: 'json';
  readonly span: TextSpan;
  /** The members of the top-level object; empty when the body is not an object. */
  readonly members: readonly JsonMember[];
  readonly valid: boolean;
}

export interface XmlBody {
  readonly kind: 'xml';
  readonly span: TextSpan;
}

export interface TextBody {
  readonly kind: 'text';
  readonly span: TextSpan;
}

export interface ChangeSet {
  readonly kind: 'changeset';
  readonly requests: readonly Request[];
  readonly beginSpan: TextSpan;
  /** Undefined when `END CHANGESET` is missing. */
  readonly endSpan: TextSpan | undefined;
  readonly span: TextSpan;
}

export type BatchItem = Request | ChangeSet;

/** The body of `POST $batch` written as requests (docs/odata-files.md, Batch). */
export interface BatchBody {
  readonly kind: 'batch';
  readonly items: readonly BatchItem[];
  readonly span: TextSpan;
}

export type Body = JsonBody | XmlBody | TextBody | BatchBody;

export interface Request {
  readonly kind: 'request';
  readonly method: RequestMethod;
  /** Undefined when the line is a bare URL (GET implied). */
  readonly methodSpan: TextSpan | undefined;
  readonly url: RequestUrl;
  readonly headers: readonly Header[];
  readonly body: Body | undefined;
  /** `Content-ID` of a request inside a change set. */
  readonly contentId: string | undefined;
  /** The request line and its continuation lines. */
  readonly requestLineSpan: TextSpan;
  /** From the request line to the end of the body (or of the headers). */
  readonly span: TextSpan;
}

export interface Block {
  readonly kind: 'block';
  readonly index: number;
  /** The text after `###`, trimmed; empty for an untitled block or the part before the first `###`. */
  readonly title: string;
  /** The `###` line; undefined for the part of the file before the first `###`. */
  readonly separatorSpan: TextSpan | undefined;
  readonly name: RequestName | undefined;
  readonly variables: readonly VariableDefinition[];
  /** Undefined when the block holds only comments and variables, or its first line is not a request. */
  readonly request: Request | undefined;
  /** From the `###` line (or the start of the document) to the start of the next block. */
  readonly span: TextSpan;
}

export interface ODataDocument {
  readonly kind: 'document';
  /** The source the spans point into: bodies keep only spans, so running a block needs it. */
  readonly text: string;
  readonly blocks: readonly Block[];
  /** Every `@name = value` of the file, in order (`@environment` included). */
  readonly variables: readonly VariableDefinition[];
  /** The `@environment = name` line that pins the file to a connection. */
  readonly environment: VariableDefinition | undefined;
  /** Every `{{…}}` of the file, in order. */
  readonly variableUses: readonly VariableUse[];
  /**
   * Syntax diagnostics of the document but not of its URLs, which are parsed only when read:
   * `urlDiagnostics(request)` gives those, and the language's `documentDiagnostics` gives both.
   */
  readonly diagnostics: readonly DocumentDiagnostic[];
  readonly span: TextSpan;
}

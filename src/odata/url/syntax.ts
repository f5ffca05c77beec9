/**
 * The syntax tree of OData URLs and expressions. Every node has a `span` of offsets into the text
 * that was parsed (the raw text, even when the parser decoded percent escapes); names are as the
 * user wrote them, nothing is resolved against metadata here.
 */
import type { TextSpan } from '../span';

export type { TextSpan };

export type DiagnosticCode =
  | 'unexpectedCharacter'
  | 'unexpectedToken'
  | 'unterminatedString'
  | 'expectedExpression'
  | 'expectedIdentifier'
  | 'expectedToken'
  | 'missingCloseParen'
  | 'tooDeep'
  | 'unknownFunction'
  | 'wrongArgumentCount'
  | 'unknownQueryFunction'
  | 'missingParameter'
  | 'unknownParameter'
  | 'duplicateParameter'
  | 'unknownLiteralPrefix'
  | 'invalidLiteral'
  | 'unknownOption'
  | 'duplicateOption'
  | 'unsupportedOption'
  | 'missingOptionValue'
  | 'invalidOptionValue'
  | 'unknownTransformation'
  | 'unknownAggregateMethod'
  | 'invalidUrl';

export type DiagnosticSeverity = 'error' | 'warning';

export interface ODataDiagnostic {
  readonly message: string;
  readonly span: TextSpan;
  readonly code: DiagnosticCode;
  readonly severity: DiagnosticSeverity;
}

// ---------------------------------------------------------------------------------------------
// Expressions

export type LiteralType =
  | 'null'
  | 'boolean'
  | 'int'
  | 'int64'
  | 'decimal'
  | 'double'
  | 'single'
  | 'string'
  | 'guid'
  | 'date'
  | 'dateTimeOffset'
  | 'timeOfDay'
  | 'duration'
  | 'binary'
  | 'geography'
  | 'geometry'
  | 'enum';

export interface LiteralNode {
  readonly kind: 'literal';
  readonly literalType: LiteralType;
  /**
   * `null`, a boolean, a number for numeric types (see `raw` for the exact digits of Int64 and
   * Decimal), the unescaped text of strings, and the text between the quotes for typed literals.
   * GUIDs, dates and times are kept as written.
   */
  readonly value: string | number | boolean | null;
  /** The literal as written (after percent-decoding). */
  readonly raw: string;
  /** The qualified type of an enum literal (`Microsoft.Dynamics.CRM.OwnershipTypes`). */
  readonly typeName?: string;
  readonly span: TextSpan;
}

/** A JSON array, as used by `PropertyValues=["a","b"]` and parameter aliases. */
export interface ArrayNode {
  readonly kind: 'array';
  readonly items: readonly ExpressionNode[];
  readonly span: TextSpan;
}

/** A JSON object (complex-typed function parameters); kept as text, with its value when it is valid JSON. */
export interface ObjectNode {
  readonly kind: 'object';
  readonly raw: string;
  readonly value: unknown;
  readonly span: TextSpan;
}

export interface AliasNode {
  readonly kind: 'alias';
  /** Without the `@`. */
  readonly name: string;
  readonly span: TextSpan;
}

/** `{{name}}` from a `.odata` file, left for the caller to substitute. */
export interface TemplateNode {
  readonly kind: 'template';
  readonly name: string;
  readonly span: TextSpan;
}

export interface Identifier {
  readonly kind: 'identifier';
  /** May be qualified (`Microsoft.Dynamics.CRM.contact`) or a system name (`$count`, `$it`, `*`). */
  readonly name: string;
  readonly span: TextSpan;
}

/** A property path: `name`, `primarycontactid/fullname`, `t/statecode` (lambda variable), `Account_Tasks/$count`. */
export interface MemberNode {
  readonly kind: 'member';
  readonly segments: readonly Identifier[];
  /** True when the first segment is a lambda variable in scope. */
  readonly lambdaVariable: boolean;
  readonly span: TextSpan;
}

export interface LambdaNode {
  readonly kind: 'lambda';
  readonly operator: 'any' | 'all';
  readonly operatorSpan: TextSpan;
  /** The collection the lambda ranges over. */
  readonly source: MemberNode;
  /** Absent for `any()`. */
  readonly variable: Identifier | undefined;
  readonly predicate: ExpressionNode | undefined;
  readonly span: TextSpan;
}

/** A canonical function with positional arguments: `contains(name,'x')`. */
export interface CallNode {
  readonly kind: 'call';
  readonly name: string;
  readonly nameSpan: TextSpan;
  readonly args: readonly ExpressionNode[];
  readonly span: TextSpan;
}

export interface NamedValue {
  readonly kind: 'namedValue';
  readonly name: string;
  readonly nameSpan: TextSpan;
  readonly value: ExpressionNode;
  readonly span: TextSpan;
}

/** A function with named parameters: `Microsoft.Dynamics.CRM.In(PropertyName='x',PropertyValues=[...])`. */
export interface FunctionCallNode {
  readonly kind: 'functionCall';
  /** Qualified as written. */
  readonly name: string;
  readonly nameSpan: TextSpan;
  readonly parameters: readonly NamedValue[];
  readonly span: TextSpan;
}

export type BinaryOperator =
  'or' | 'and' | 'eq' | 'ne' | 'gt' | 'ge' | 'lt' | 'le' | 'has' | 'add' | 'sub' | 'mul' | 'div' | 'divby' | 'mod';

export interface BinaryNode {
  readonly kind: 'binary';
  readonly operator: BinaryOperator;
  readonly operatorSpan: TextSpan;
  readonly left: ExpressionNode;
  readonly right: ExpressionNode;
  readonly span: TextSpan;
}

/** `x in ('a','b')`, `x in @p1`. */
export interface InNode {
  readonly kind: 'in';
  readonly operatorSpan: TextSpan;
  readonly left: ExpressionNode;
  readonly right: ExpressionNode;
  readonly span: TextSpan;
}

/** The parenthesized list on the right of `in`. */
export interface ListNode {
  readonly kind: 'list';
  readonly items: readonly ExpressionNode[];
  readonly span: TextSpan;
}

export interface UnaryNode {
  readonly kind: 'unary';
  readonly operator: 'not' | 'negate';
  readonly operatorSpan: TextSpan;
  readonly operand: ExpressionNode;
  readonly span: TextSpan;
}

/** Stands in for a missing or unparsable expression; a diagnostic always accompanies it. */
export interface ErrorNode {
  readonly kind: 'error';
  readonly span: TextSpan;
}

export type ExpressionNode =
  | LiteralNode
  | ArrayNode
  | ObjectNode
  | AliasNode
  | TemplateNode
  | MemberNode
  | LambdaNode
  | CallNode
  | FunctionCallNode
  | BinaryNode
  | InNode
  | ListNode
  | UnaryNode
  | ErrorNode;

// ---------------------------------------------------------------------------------------------
// Query options

/** `name`, `primarycontactid/fullname`, `*`, `Microsoft.Dynamics.CRM.x/name`. */
export interface SelectItem {
  readonly kind: 'selectItem';
  readonly segments: readonly Identifier[];
  readonly span: TextSpan;
}

export interface SelectClause {
  readonly kind: 'select';
  readonly items: readonly SelectItem[];
  readonly span: TextSpan;
}

export interface OrderByItem {
  readonly kind: 'orderByItem';
  readonly expression: ExpressionNode;
  /** Undefined when not written (ascending). */
  readonly direction: 'asc' | 'desc' | undefined;
  readonly directionSpan: TextSpan | undefined;
  readonly span: TextSpan;
}

export interface OrderByClause {
  readonly kind: 'orderBy';
  readonly items: readonly OrderByItem[];
  readonly span: TextSpan;
}

export interface ExpandOptions {
  readonly select?: SelectClause;
  readonly filter?: ExpressionNode;
  readonly orderBy?: OrderByClause;
  readonly top?: IntegerValue;
  readonly skip?: IntegerValue;
  readonly count?: BooleanValue;
  readonly levels?: IntegerValue;
  readonly search?: TextValue;
  readonly expand?: ExpandClause;
}

/** One `name=value` inside `nav(...)`, in the order written. */
export interface ExpandOption {
  readonly kind: 'expandOption';
  readonly name: string;
  readonly nameSpan: TextSpan;
  readonly span: TextSpan;
}

export interface ExpandItem {
  readonly kind: 'expandItem';
  /** The navigation path; may end in `$ref`, or be `*`. */
  readonly segments: readonly Identifier[];
  readonly options: ExpandOptions;
  /** Every nested option as written, including unknown ones. */
  readonly optionList: readonly ExpandOption[];
  /** The parentheses with the nested options, when present. */
  readonly optionsSpan: TextSpan | undefined;
  readonly span: TextSpan;
}

export interface ExpandClause {
  readonly kind: 'expand';
  readonly items: readonly ExpandItem[];
  readonly span: TextSpan;
}

export interface IntegerValue {
  readonly kind: 'integer';
  /** Undefined when the text is not a non-negative integer (a diagnostic says so). */
  readonly value: number | undefined;
  /** `$levels=max`. */
  readonly max?: boolean;
  readonly template?: TemplateNode;
  readonly span: TextSpan;
}

export interface BooleanValue {
  readonly kind: 'boolean';
  readonly value: boolean | undefined;
  readonly span: TextSpan;
}

export interface TextValue {
  readonly kind: 'text';
  /** Percent-decoded. */
  readonly value: string;
  readonly span: TextSpan;
}

export type AggregateMethod = 'sum' | 'min' | 'max' | 'average' | 'countdistinct';

/** `revenue with sum as total`, `$count as c`. */
export interface AggregateItem {
  readonly kind: 'aggregateItem';
  /** Undefined for `$count as alias`. */
  readonly expression: ExpressionNode | undefined;
  /** `$count` for the count form; otherwise the method as written (validated against {@link AggregateMethod}). */
  readonly method: string;
  readonly methodSpan: TextSpan;
  readonly alias: Identifier | undefined;
  readonly span: TextSpan;
}

export interface AggregateTransformation {
  readonly kind: 'aggregate';
  readonly items: readonly AggregateItem[];
  readonly span: TextSpan;
}

export interface GroupByTransformation {
  readonly kind: 'groupby';
  readonly properties: readonly MemberNode[];
  /** The transformations applied to each group (`aggregate(...)`), chained with `/`. */
  readonly transformations: readonly Transformation[];
  readonly span: TextSpan;
}

export interface FilterTransformation {
  readonly kind: 'filter';
  readonly expression: ExpressionNode;
  readonly span: TextSpan;
}

export interface OrderByTransformation {
  readonly kind: 'orderby';
  readonly orderBy: OrderByClause;
  readonly span: TextSpan;
}

export interface CountTransformation {
  readonly kind: 'top' | 'skip';
  readonly count: IntegerValue;
  readonly span: TextSpan;
}

export interface IdentityTransformation {
  readonly kind: 'identity';
  readonly span: TextSpan;
}

/** A transformation this parser does not know; its text is skipped and a diagnostic reported. */
export interface UnknownTransformation {
  readonly kind: 'unknownTransformation';
  readonly name: string;
  readonly span: TextSpan;
}

export type Transformation =
  | AggregateTransformation
  | GroupByTransformation
  | FilterTransformation
  | OrderByTransformation
  | CountTransformation
  | IdentityTransformation
  | UnknownTransformation;

export interface ApplyClause {
  readonly kind: 'apply';
  readonly transformations: readonly Transformation[];
  readonly span: TextSpan;
}

// ---------------------------------------------------------------------------------------------
// Resource path and URL

/** `(…)` after a path segment: a single key value, or named values (alternate keys or function parameters). */
export type SegmentArguments =
  | { readonly kind: 'keyValue'; readonly value: ExpressionNode; readonly span: TextSpan }
  | { readonly kind: 'namedValues'; readonly values: readonly NamedValue[]; readonly span: TextSpan };

/**
 * An entity set, navigation property, property, function or action (unqualified or qualified), or a
 * type cast (qualified, no arguments). Without metadata the parser cannot tell `accounts(name='x')`
 * (alternate key) from `Fn(Param='x')` (function call); consumers resolve that.
 */
export interface NameSegment {
  readonly kind: 'name';
  readonly name: string;
  readonly nameSpan: TextSpan;
  /** The name contains a dot: a cast or a bound operation (`Microsoft.Dynamics.CRM.Foo`). */
  readonly qualified: boolean;
  readonly args: SegmentArguments | undefined;
  readonly span: TextSpan;
}

/** `$metadata`, `$batch`, `$count`, `$ref`, `$value`, `$entity`, … */
export interface SystemSegment {
  readonly kind: 'system';
  readonly name: string;
  readonly span: TextSpan;
}

export type PathSegment = NameSegment | SystemSegment;

export interface ResourcePath {
  readonly kind: 'path';
  readonly segments: readonly PathSegment[];
  readonly span: TextSpan;
}

export interface ServiceRoot {
  /** E.g. `https://org.crm.dynamics.com/api/data/v9.2/` or `/api/data/v9.2/`. */
  readonly text: string;
  /** `v9.2`, when the root has the Web API shape. */
  readonly version: string | undefined;
  readonly span: TextSpan;
}

export type QueryOptionKind = 'system' | 'custom' | 'alias' | 'unknown';

/** One `name=value` pair of the query string, as written. */
export interface QueryOption {
  readonly kind: QueryOptionKind;
  /** Percent-decoded name, e.g. `$filter`, `@p1`, `fetchXml`. */
  readonly name: string;
  readonly nameSpan: TextSpan;
  /** Percent-decoded value ('' when there is no `=`). */
  readonly value: string;
  /** The value as it appears in the text. */
  readonly rawValue: string;
  readonly valueSpan: TextSpan;
  /** The option found no `=`. */
  readonly hasValue: boolean;
  readonly span: TextSpan;
  /** A later duplicate is kept here but not used. */
  readonly duplicate: boolean;
}

export interface ParameterAlias {
  readonly kind: 'parameterAlias';
  /** Without the `@`. */
  readonly name: string;
  readonly value: ExpressionNode;
  readonly span: TextSpan;
}

export interface QueryOptions {
  readonly select?: SelectClause;
  readonly filter?: ExpressionNode;
  readonly orderBy?: OrderByClause;
  readonly top?: IntegerValue;
  readonly skip?: IntegerValue;
  readonly count?: BooleanValue;
  readonly expand?: ExpandClause;
  readonly apply?: ApplyClause;
  readonly skipToken?: TextValue;
  readonly deltaToken?: TextValue;
  readonly search?: TextValue;
  readonly format?: TextValue;
  /** `$id` of `DELETE …/$ref?$id=…`. */
  readonly id?: TextValue;
  readonly fetchXml?: TextValue;
  readonly savedQuery?: TextValue;
  readonly userQuery?: TextValue;
  readonly aliases: readonly ParameterAlias[];
}

export interface ODataUrl {
  readonly kind: 'url';
  /** Present for absolute URLs and for paths that start with `/api/data/vX.Y/`. */
  readonly serviceRoot: ServiceRoot | undefined;
  readonly path: ResourcePath;
  /** Every option as written, in order. */
  readonly options: readonly QueryOption[];
  /** The parsed values of the first occurrence of each known option. */
  readonly query: QueryOptions;
  readonly diagnostics: readonly ODataDiagnostic[];
  readonly span: TextSpan;
}

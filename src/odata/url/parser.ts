/**
 * Recursive-descent parser over the tokens of one option value (or one resource path). Binary
 * operators use precedence climbing, so left-associative chains loop instead of recursing; nesting
 * (parentheses, unary chains, lambdas, nested `$expand`) is capped by a depth limit, past which the
 * rest of the nested text is skipped with one diagnostic instead of overflowing the stack.
 */
import {
  AGGREGATE_METHODS,
  CANONICAL_FUNCTIONS,
  QUERY_FUNCTIONS,
  QUERY_FUNCTION_NAMESPACE,
  closestName,
  queryFunctionParameterNames,
} from './functions';
import type {
  AggregateItem,
  ApplyClause,
  BinaryOperator,
  BooleanValue,
  DiagnosticCode,
  DiagnosticSeverity,
  ExpandClause,
  ExpandItem,
  ExpandOption,
  ExpandOptions,
  ExpressionNode,
  Identifier,
  IntegerValue,
  LiteralNode,
  LiteralType,
  MemberNode,
  NamedValue,
  ODataDiagnostic,
  OrderByClause,
  OrderByItem,
  PathSegment,
  ResourcePath,
  SegmentArguments,
  SelectClause,
  SelectItem,
  TextSpan,
  TextValue,
  Transformation,
} from './syntax';
import type { Token, TokenKind } from './tokenizer';

/** Deep enough for any real query, shallow enough for the smallest default stack. */
export const MAX_DEPTH = 200;

const PRECEDENCE: ReadonlyMap<string, number> = new Map([
  ['or', 1],
  ['and', 2],
  ['eq', 3],
  ['ne', 3],
  ['gt', 3],
  ['ge', 3],
  ['lt', 3],
  ['le', 3],
  ['has', 3],
  ['in', 3],
  ['add', 4],
  ['sub', 4],
  ['mul', 5],
  ['div', 5],
  ['divby', 5],
  ['mod', 5],
]);

/** Binding strength of an operator; the printer uses the same table to place parentheses. */
export function operatorPrecedence(operator: string): number {
  return PRECEDENCE.get(operator) ?? 0;
}

const LITERAL_PREFIXES: ReadonlyMap<string, LiteralType> = new Map([
  ['duration', 'duration'],
  ['binary', 'binary'],
  ['geography', 'geography'],
  ['geometry', 'geometry'],
]);

/** Expand options Dataverse rejects (dataverse-webapi.md §1.5). */
const UNSUPPORTED_IN_EXPAND = new Set(['$skip', '$count', '$search', '$levels']);

const span = (start: number, end: number): TextSpan => ({ start, end });

function withSpan<T extends ExpressionNode>(node: T, newSpan: TextSpan): T {
  return { ...node, span: newSpan };
}

export class Parser {
  private pos = 0;
  private depth = 0;
  private reportedTooDeep = false;
  private jsonDepth = 0;
  private readonly variables: string[] = [];

  constructor(
    private readonly tokens: readonly Token[],
    private readonly diagnostics: ODataDiagnostic[],
  ) {}

  // -------------------------------------------------------------------------------------------
  // Token helpers

  peek(offset = 0): Token {
    return this.tokens[Math.min(this.pos + offset, this.tokens.length - 1)]!;
  }

  get atEnd(): boolean {
    return this.peek().kind === 'eof';
  }

  private next(): Token {
    const token = this.peek();
    if (token.kind !== 'eof') this.pos++;
    return token;
  }

  private at(kind: TokenKind): boolean {
    return this.peek().kind === kind;
  }

  private atWord(word: string, offset = 0): boolean {
    const token = this.peek(offset);
    return token.kind === 'identifier' && token.text === word;
  }

  private accept(kind: TokenKind): Token | undefined {
    return this.at(kind) ? this.next() : undefined;
  }

  /** The end of the previous token: where a missing token should have been. */
  private get previousEnd(): number {
    return this.pos === 0 ? this.peek().span.start : this.tokens[this.pos - 1]!.span.end;
  }

  report(code: DiagnosticCode, message: string, at: TextSpan, severity: DiagnosticSeverity = 'error'): void {
    this.diagnostics.push({ code, message, span: at, severity });
  }

  private describe(token: Token): string {
    return token.kind === 'eof' ? 'the end of the text' : `'${token.text}'`;
  }

  /**
   * Skips tokens up to (not including) one of `stops` at nesting level 0, or the end. Reports the
   * skipped range once. Returns true when anything was skipped.
   */
  skipUntil(stops: readonly TokenKind[], message?: string | null): boolean {
    const first = this.peek();
    let balance = 0;
    let last: Token | undefined;
    while (!this.atEnd) {
      const token = this.peek();
      if (balance === 0 && stops.includes(token.kind)) break;
      if (token.kind === '(' || token.kind === '[') balance++;
      else if (token.kind === ')' || token.kind === ']') {
        if (balance === 0) break;
        balance--;
      }
      last = this.next();
    }
    if (last === undefined) return false;
    if (message !== null && !this.onlyStrayCharacters(first, last)) {
      this.report(
        'unexpectedToken',
        message ?? `Unexpected ${this.describe(first)}.`,
        span(first.span.start, last.span.end),
      );
    }
    return true;
  }

  /** The tokenizer has already reported a run made only of unknown characters. */
  private onlyStrayCharacters(first: Token, last: Token): boolean {
    return first === last && first.kind === 'unknown';
  }

  /** Reports leftovers at the end of a standalone value. */
  expectEnd(): void {
    if (!this.atEnd) this.skipUntil([], `Unexpected ${this.describe(this.peek())}.`);
  }

  private enter(): boolean {
    if (this.depth >= MAX_DEPTH) {
      const token = this.peek();
      if (!this.reportedTooDeep) {
        this.reportedTooDeep = true;
        this.report('tooDeep', `Nesting deeper than ${MAX_DEPTH} levels is not supported.`, token.span);
      }
      return false;
    }
    this.depth++;
    return true;
  }

  private leave(): void {
    this.depth--;
  }

  /** Past the depth limit: swallow the rest of the current nesting level. */
  private skipTooDeep(): ExpressionNode {
    const start = this.peek().span.start;
    let balance = 0;
    while (!this.atEnd) {
      const kind = this.peek().kind;
      if (kind === '(' || kind === '[') balance++;
      else if (kind === ')' || kind === ']') {
        if (balance === 0) break;
        balance--;
      } else if (balance === 0 && (kind === ',' || kind === ';')) break;
      this.next();
    }
    return { kind: 'error', span: span(start, Math.max(start, this.previousEnd)) };
  }

  private identifier(token: Token): Identifier {
    return { kind: 'identifier', name: token.text, span: token.span };
  }

  // -------------------------------------------------------------------------------------------
  // Expressions

  private canStartExpression(offset = 0): boolean {
    const token = this.peek(offset);
    switch (token.kind) {
      case 'eof':
      case ')':
      case ',':
      case ';':
      case ']':
      case '/':
      case ':':
      case '=':
      case 'unknown':
        return false;
      case 'identifier':
        return !PRECEDENCE.has(token.text) || !this.looksLikeOperatorUse(offset);
      default:
        return true;
    }
  }

  /** An operator word at the current position used as an operator, not as a property name. */
  private looksLikeOperatorUse(offset: number): boolean {
    const following = this.peek(offset + 1).kind;
    return following !== '/' && following !== 'eof' && following !== ')' && following !== ',';
  }

  parseExpression(): ExpressionNode {
    if (!this.enter()) return this.skipTooDeep();
    try {
      return this.continueBinary(this.parseUnary(), 1);
    } finally {
      this.leave();
    }
  }

  /** Parses a whole `$filter`-like value, recovering at `and`/`or` after junk. */
  parseStandaloneExpression(): ExpressionNode {
    let expression = this.parseExpression();
    while (!this.atEnd) {
      const stopped = this.skipUntilLogical();
      if (!stopped) break;
      expression = this.continueBinary(expression, 1);
    }
    return expression;
  }

  private skipUntilLogical(): boolean {
    const first = this.peek();
    let balance = 0;
    let last: Token | undefined;
    while (!this.atEnd) {
      const token = this.peek();
      if (balance === 0 && last !== undefined && (this.atWord('and') || this.atWord('or'))) break;
      if (token.kind === '(' || token.kind === '[') balance++;
      else if ((token.kind === ')' || token.kind === ']') && balance > 0) balance--;
      last = this.next();
    }
    if (last !== undefined && !this.onlyStrayCharacters(first, last)) {
      this.report('unexpectedToken', `Unexpected ${this.describe(first)}.`, span(first.span.start, last.span.end));
    }
    return !this.atEnd;
  }

  private binaryOperator(): { word: string; precedence: number } | undefined {
    const token = this.peek();
    if (token.kind !== 'identifier') return undefined;
    const precedence = PRECEDENCE.get(token.text);
    return precedence === undefined ? undefined : { word: token.text, precedence };
  }

  private continueBinary(initial: ExpressionNode, minPrecedence: number): ExpressionNode {
    let left = initial;
    for (;;) {
      const operator = this.binaryOperator();
      if (operator === undefined || operator.precedence < minPrecedence) return left;
      const operatorToken = this.next();
      if (operator.word === 'in') {
        const right = this.parseInList(operatorToken);
        left = {
          kind: 'in',
          operatorSpan: operatorToken.span,
          left,
          right,
          span: span(left.span.start, right.span.end),
        };
        continue;
      }
      let right: ExpressionNode;
      if (this.canStartExpression()) {
        right = this.continueBinary(this.parseUnary(), operator.precedence + 1);
      } else {
        this.report('expectedExpression', `Expected an expression after '${operator.word}'.`, operatorToken.span);
        right = { kind: 'error', span: span(operatorToken.span.end, operatorToken.span.end) };
      }
      left = {
        kind: 'binary',
        operator: operator.word as BinaryOperator,
        operatorSpan: operatorToken.span,
        left,
        right,
        span: span(left.span.start, right.span.end),
      };
    }
  }

  private parseInList(operatorToken: Token): ExpressionNode {
    const open = this.accept('(');
    if (open === undefined) {
      if (this.canStartExpression()) return this.parseUnary();
      this.report(
        'expectedExpression',
        "Expected a list like ('a','b') or a parameter alias after 'in'.",
        operatorToken.span,
      );
      return { kind: 'error', span: span(operatorToken.span.end, operatorToken.span.end) };
    }
    const items = this.parseItems(')');
    const end = this.closeParen(open);
    return { kind: 'list', items, span: span(open.span.start, end) };
  }

  /** Comma-separated expressions up to `close` (not consumed). */
  private parseItems(close: TokenKind): ExpressionNode[] {
    const items: ExpressionNode[] = [];
    if (this.at(close)) return items;
    for (;;) {
      items.push(this.parseExpression());
      if (this.accept(',')) continue;
      if (this.at(close) || this.atEnd) return items;
      this.skipUntil([',', close, ';']);
      if (!this.accept(',')) return items;
    }
  }

  /** Consumes `)` or reports that the paren opened at `open` is not closed; returns the end offset. */
  private closeParen(open: Token): number {
    const close = this.accept(')');
    if (close) return close.span.end;
    this.report('missingCloseParen', "Missing ')' to close this '('.", open.span);
    return Math.max(open.span.end, this.previousEnd);
  }

  private parseUnary(): ExpressionNode {
    const token = this.peek();
    const isNot = token.kind === 'identifier' && token.text === 'not' && this.canStartExpression(1);
    if (isNot || token.kind === '-') {
      this.next();
      if (!this.enter()) {
        const skipped = this.skipTooDeep();
        return { kind: 'error', span: span(token.span.start, skipped.span.end) };
      }
      try {
        let operand: ExpressionNode;
        if (this.canStartExpression()) operand = this.parseUnary();
        else {
          this.report('expectedExpression', `Expected an expression after '${token.text}'.`, token.span);
          operand = { kind: 'error', span: span(token.span.end, token.span.end) };
        }
        return {
          kind: 'unary',
          operator: isNot ? 'not' : 'negate',
          operatorSpan: token.span,
          operand,
          span: span(token.span.start, operand.span.end),
        };
      } finally {
        this.leave();
      }
    }
    return this.parsePrimary();
  }

  private literal(token: Token, literalType: LiteralType, value: LiteralNode['value'], typeName?: string): LiteralNode {
    this.next();
    return {
      kind: 'literal',
      literalType,
      value,
      raw: token.text,
      ...(typeName === undefined ? {} : { typeName }),
      span: token.span,
    };
  }

  private parsePrimary(): ExpressionNode {
    const token = this.peek();
    switch (token.kind) {
      case 'string':
        return this.literal(token, 'string', token.value);
      case 'jsonString':
        if (this.jsonDepth === 0) {
          this.report('invalidLiteral', 'String literals use single quotes in OData expressions.', token.span);
        }
        return this.literal(token, 'string', token.value);
      case 'number': {
        const numberType = token.numberType ?? 'int';
        const digits = numberType === 'int' ? token.text : token.text.replace(/[mMdDfFlL]$/, '');
        const value = Number(digits);
        const literalType = numberType === 'int' && Math.abs(value) > 2147483647 ? 'int64' : numberType;
        return this.literal(token, literalType, value);
      }
      case 'guid':
        return this.literal(token, 'guid', token.text);
      case 'date':
        return this.literal(token, 'date', token.text);
      case 'dateTimeOffset':
        return this.literal(token, 'dateTimeOffset', token.text);
      case 'timeOfDay':
        return this.literal(token, 'timeOfDay', token.text);
      case 'typedLiteral': {
        const prefix = token.prefix ?? '';
        const known = LITERAL_PREFIXES.get(prefix.toLowerCase());
        if (known !== undefined) return this.literal(token, known, token.value);
        if (!prefix.includes('.')) {
          this.report(
            'unknownLiteralPrefix',
            `Unknown literal type '${prefix}'. Enum literals need the qualified type name, e.g. Microsoft.Dynamics.CRM.OwnershipTypes'UserOwned'.`,
            span(token.span.start, token.span.start + prefix.length),
          );
        }
        return this.literal(token, 'enum', token.value, prefix);
      }
      case 'alias':
        this.next();
        return { kind: 'alias', name: token.value, span: token.span };
      case 'template':
        this.next();
        return { kind: 'template', name: token.value, span: token.span };
      case 'object': {
        this.next();
        let value: unknown;
        try {
          value = JSON.parse(token.text);
        } catch {
          value = undefined;
        }
        return { kind: 'object', raw: token.text, value, span: token.span };
      }
      case '[':
        return this.parseArray();
      case '(':
        return this.parseParenthesized();
      case 'identifier':
        return this.parseIdentifierExpression();
      default: {
        this.report('expectedExpression', `Expected an expression, found ${this.describe(token)}.`, token.span);
        const stop: readonly TokenKind[] = ['eof', ')', ',', ';', ']'];
        if (stop.includes(token.kind)) {
          // The closing token belongs to the caller: the missing expression sits just before it.
          return { kind: 'error', span: span(this.previousEnd, this.previousEnd) };
        }
        this.next();
        return { kind: 'error', span: token.span };
      }
    }
  }

  private parseArray(): ExpressionNode {
    const open = this.next();
    this.jsonDepth++;
    const items = this.parseItems(']');
    this.jsonDepth--;
    const close = this.accept(']');
    if (!close) this.report('expectedToken', "Missing ']' to close this '['.", open.span);
    return { kind: 'array', items, span: span(open.span.start, close ? close.span.end : this.previousEnd) };
  }

  private parseParenthesized(): ExpressionNode {
    const open = this.next();
    const items = this.parseItems(')');
    const end = this.closeParen(open);
    const whole = span(open.span.start, Math.max(end, open.span.end));
    if (items.length === 1) return withSpan(items[0]!, whole);
    if (items.length === 0) {
      this.report('expectedExpression', 'Expected an expression inside the parentheses.', whole);
      return { kind: 'error', span: whole };
    }
    return { kind: 'list', items, span: whole };
  }

  private parseIdentifierExpression(): ExpressionNode {
    const token = this.peek();
    const following = this.peek(1).kind;
    if (following !== '/' && following !== '(') {
      if (token.text === 'null') return this.literal(token, 'null', null);
      if (token.text === 'true') return this.literal(token, 'boolean', true);
      if (token.text === 'false') return this.literal(token, 'boolean', false);
      if (token.text === 'INF') return this.literal(token, 'double', Infinity);
      if (token.text === 'NaN') return this.literal(token, 'double', NaN);
    }
    if (following === '(') {
      if (token.text.includes('.') && !CANONICAL_FUNCTIONS.has(token.text)) return this.parseFunctionCall();
      return this.parseCall();
    }
    return this.parseMemberOrLambda();
  }

  private parseCall(): ExpressionNode {
    const nameToken = this.next();
    const open = this.next();
    if (!this.enter()) {
      const skipped = this.skipTooDeep();
      this.accept(')');
      return { kind: 'error', span: span(nameToken.span.start, Math.max(skipped.span.end, this.previousEnd)) };
    }
    let args: ExpressionNode[];
    try {
      args = this.parseItems(')');
    } finally {
      this.leave();
    }
    const end = this.closeParen(open);
    const name = nameToken.text;
    const known = CANONICAL_FUNCTIONS.get(name);
    if (known === undefined) {
      const suggestion = closestName(name, CANONICAL_FUNCTIONS.keys());
      this.report(
        'unknownFunction',
        `Unknown function '${name}'.` + (suggestion ? ` Did you mean '${suggestion}'?` : ''),
        nameToken.span,
      );
    } else if (args.length < known.minArgs || args.length > known.maxArgs) {
      const expected = known.minArgs === known.maxArgs ? `${known.minArgs}` : `${known.minArgs} to ${known.maxArgs}`;
      this.report(
        'wrongArgumentCount',
        `'${name}' takes ${expected} argument${known.maxArgs === 1 ? '' : 's'}, not ${args.length}.`,
        span(nameToken.span.start, end),
      );
    }
    return { kind: 'call', name, nameSpan: nameToken.span, args, span: span(nameToken.span.start, end) };
  }

  /** `name=value,…` up to `)` (not consumed); also used for path segment arguments. */
  parseNamedValues(): NamedValue[] {
    const values: NamedValue[] = [];
    const seen = new Set<string>();
    if (this.at(')')) return values;
    for (;;) {
      const nameToken = this.peek();
      if (nameToken.kind !== 'identifier' || this.peek(1).kind !== '=') {
        this.report('expectedIdentifier', `Expected 'Name=value', found ${this.describe(nameToken)}.`, nameToken.span);
        this.skipUntil([',', ')', ';']);
      } else {
        this.next();
        this.next();
        const value = this.canStartExpression() ? this.parseExpression() : this.missingValue(nameToken);
        if (seen.has(nameToken.text)) {
          this.report('duplicateParameter', `'${nameToken.text}' is given more than once.`, nameToken.span);
        }
        seen.add(nameToken.text);
        values.push({
          kind: 'namedValue',
          name: nameToken.text,
          nameSpan: nameToken.span,
          value,
          span: span(nameToken.span.start, value.span.end),
        });
        if (!this.at(',') && !this.at(')') && !this.atEnd) this.skipUntil([',', ')', ';']);
      }
      if (!this.accept(',')) return values;
    }
  }

  private missingValue(nameToken: Token): ExpressionNode {
    this.report('expectedExpression', `Expected a value for '${nameToken.text}'.`, nameToken.span);
    return { kind: 'error', span: span(this.previousEnd, this.previousEnd) };
  }

  private parseFunctionCall(): ExpressionNode {
    const nameToken = this.next();
    const open = this.next();
    let parameters: NamedValue[];
    if (!this.enter()) {
      this.skipTooDeep();
      parameters = [];
    } else {
      try {
        parameters = this.parseNamedValues();
      } finally {
        this.leave();
      }
    }
    const end = this.closeParen(open);
    const node = {
      kind: 'functionCall' as const,
      name: nameToken.text,
      nameSpan: nameToken.span,
      parameters,
      span: span(nameToken.span.start, end),
    };
    this.checkQueryFunction(node.name, nameToken.span, parameters, node.span);
    return node;
  }

  private checkQueryFunction(
    qualified: string,
    nameSpan: TextSpan,
    parameters: readonly NamedValue[],
    whole: TextSpan,
  ): void {
    const dot = qualified.lastIndexOf('.');
    const namespace = qualified.slice(0, dot);
    const name = qualified.slice(dot + 1);
    if (namespace !== QUERY_FUNCTION_NAMESPACE && namespace !== 'mscrm') return;
    const fn = QUERY_FUNCTIONS.get(name);
    if (fn === undefined) {
      const suggestion = closestName(name, QUERY_FUNCTIONS.keys());
      this.report(
        'unknownQueryFunction',
        `Unknown query function '${name}'.` + (suggestion ? ` Did you mean '${namespace}.${suggestion}'?` : ''),
        nameSpan,
      );
      return;
    }
    const expected = queryFunctionParameterNames(fn);
    for (const parameter of parameters) {
      if (!expected.includes(parameter.name)) {
        this.report(
          'unknownParameter',
          `'${name}' has no parameter '${parameter.name}' (it takes ${expected.join(', ')}).`,
          parameter.nameSpan,
        );
      }
    }
    const missing = expected.filter((p) => !parameters.some((given) => given.name === p));
    if (missing.length > 0) {
      this.report('missingParameter', `'${name}' needs ${missing.join(' and ')}.`, whole);
    }
  }

  private parseMemberOrLambda(): ExpressionNode {
    const first = this.next();
    const segments: Identifier[] = [this.identifier(first)];
    for (;;) {
      if (!this.at('/')) break;
      const slash = this.next();
      const token = this.peek();
      if ((token.text === 'any' || token.text === 'all') && token.kind === 'identifier' && this.peek(1).kind === '(') {
        const source = this.member(segments);
        return this.parseLambda(source);
      }
      if (token.kind === 'identifier' || token.kind === '*') {
        segments.push(this.identifier(this.next()));
        continue;
      }
      this.report(
        'expectedIdentifier',
        `Expected a property name after '/', found ${this.describe(token)}.`,
        slash.span,
      );
      break;
    }
    return this.member(segments);
  }

  private member(segments: readonly Identifier[]): MemberNode {
    const first = segments[0]!;
    const last = segments[segments.length - 1]!;
    return {
      kind: 'member',
      segments: [...segments],
      lambdaVariable: this.variables.includes(first.name),
      span: span(first.span.start, last.span.end),
    };
  }

  private parseLambda(source: MemberNode): ExpressionNode {
    const operatorToken = this.next();
    const open = this.next();
    const operator = operatorToken.text as 'any' | 'all';
    let variable: Identifier | undefined;
    let predicate: ExpressionNode | undefined;
    if (!this.at(')')) {
      if (this.peek().kind === 'identifier' && this.peek(1).kind === ':') {
        variable = this.identifier(this.next());
        this.next();
      } else {
        this.report('expectedIdentifier', `Expected 'variable:' at the start of '${operator}(...)'.`, this.peek().span);
      }
      if (variable) this.variables.push(variable.name);
      try {
        predicate = this.canStartExpression() ? this.parseExpression() : undefined;
      } finally {
        if (variable) this.variables.pop();
      }
      if (predicate === undefined) {
        this.report('expectedExpression', `Expected a condition in '${operator}(...)'.`, operatorToken.span);
      }
      if (!this.at(')') && !this.atEnd) this.skipUntil([')']);
    } else if (operator === 'all') {
      this.report('expectedExpression', "'all' needs a condition: all(x: ...).", operatorToken.span);
    }
    const end = this.closeParen(open);
    return {
      kind: 'lambda',
      operator,
      operatorSpan: operatorToken.span,
      source,
      variable,
      predicate,
      span: span(source.span.start, end),
    };
  }

  /** A property path without lambdas, for `groupby((a,b/c))`. */
  private parseMemberPath(): MemberNode | undefined {
    const first = this.peek();
    if (first.kind !== 'identifier') {
      this.report('expectedIdentifier', `Expected a property path, found ${this.describe(first)}.`, first.span);
      return undefined;
    }
    const segments: Identifier[] = [this.identifier(this.next())];
    while (this.at('/') && this.peek(1).kind === 'identifier') {
      this.next();
      segments.push(this.identifier(this.next()));
    }
    if (this.at('/')) {
      this.report('expectedIdentifier', "Expected a property name after '/'.", this.next().span);
    }
    return this.member(segments);
  }

  // -------------------------------------------------------------------------------------------
  // $select, $orderby, $expand

  /** `$select` items up to the end or one of `stops`. */
  parseSelect(stops: readonly TokenKind[] = []): SelectClause {
    const items: SelectItem[] = [];
    const start = this.peek().span.start;
    for (;;) {
      const token = this.peek();
      if (token.kind === 'identifier' || token.kind === '*') {
        const segments: Identifier[] = [this.identifier(this.next())];
        while (this.at('/')) {
          const slash = this.next();
          const part = this.peek();
          if (part.kind === 'identifier' || part.kind === '*') segments.push(this.identifier(this.next()));
          else {
            this.report('expectedIdentifier', "Expected a property name after '/'.", slash.span);
            break;
          }
        }
        const last = segments[segments.length - 1]!;
        items.push({ kind: 'selectItem', segments, span: span(segments[0]!.span.start, last.span.end) });
      } else {
        this.report('expectedIdentifier', `Expected a property name, found ${this.describe(token)}.`, token.span);
      }
      if (!this.at(',') && !this.atEnd && !stops.includes(this.peek().kind)) this.skipUntil([',', ...stops]);
      if (!this.accept(',')) break;
    }
    return { kind: 'select', items, span: span(start, Math.max(start, this.previousEnd)) };
  }

  parseOrderBy(stops: readonly TokenKind[] = []): OrderByClause {
    const items: OrderByItem[] = [];
    const start = this.peek().span.start;
    for (;;) {
      const expression = this.canStartExpression()
        ? this.parseExpression()
        : this.expectedExpressionHere('Expected a property to order by');
      let direction: 'asc' | 'desc' | undefined;
      let directionSpan: TextSpan | undefined;
      if (this.atWord('asc') || this.atWord('desc')) {
        const token = this.next();
        direction = token.text as 'asc' | 'desc';
        directionSpan = token.span;
      }
      items.push({
        kind: 'orderByItem',
        expression,
        direction,
        directionSpan,
        span: span(expression.span.start, directionSpan ? directionSpan.end : expression.span.end),
      });
      if (!this.at(',') && !this.atEnd && !stops.includes(this.peek().kind)) {
        this.skipUntil([',', ...stops], `Expected 'asc', 'desc' or ',', found ${this.describe(this.peek())}.`);
      }
      if (!this.accept(',')) break;
    }
    return { kind: 'orderBy', items, span: span(start, Math.max(start, this.previousEnd)) };
  }

  private expectedExpressionHere(message: string): ExpressionNode {
    const token = this.peek();
    this.report('expectedExpression', `${message}, found ${this.describe(token)}.`, token.span);
    return { kind: 'error', span: span(token.span.start, token.span.start) };
  }

  parseExpand(stops: readonly TokenKind[] = []): ExpandClause {
    const items: ExpandItem[] = [];
    const start = this.peek().span.start;
    for (;;) {
      const item = this.parseExpandItem(stops);
      if (item) items.push(item);
      if (!this.at(',') && !this.atEnd && !stops.includes(this.peek().kind)) this.skipUntil([',', ...stops]);
      if (!this.accept(',')) break;
    }
    return { kind: 'expand', items, span: span(start, Math.max(start, this.previousEnd)) };
  }

  private parseExpandItem(stops: readonly TokenKind[]): ExpandItem | undefined {
    const token = this.peek();
    if (token.kind !== 'identifier' && token.kind !== '*') {
      this.report('expectedIdentifier', `Expected a navigation property, found ${this.describe(token)}.`, token.span);
      if (!this.at(',') && !stops.includes(token.kind)) this.skipUntil([',', ...stops]);
      return undefined;
    }
    const segments: Identifier[] = [this.identifier(this.next())];
    while (this.at('/')) {
      const slash = this.next();
      const part = this.peek();
      if (part.kind === 'identifier' || part.kind === '*') segments.push(this.identifier(this.next()));
      else {
        this.report('expectedIdentifier', "Expected a navigation property or '$ref' after '/'.", slash.span);
        break;
      }
    }
    const options: {
      -readonly [K in keyof ExpandOptions]: ExpandOptions[K];
    } = {};
    const optionList: ExpandOption[] = [];
    let optionsSpan: TextSpan | undefined;
    const open = this.accept('(');
    if (open) {
      if (!this.enter()) {
        this.skipTooDeep();
      } else {
        try {
          this.parseExpandOptions(options, optionList);
        } finally {
          this.leave();
        }
      }
      optionsSpan = span(open.span.start, this.closeParen(open));
    }
    const last = segments[segments.length - 1]!;
    return {
      kind: 'expandItem',
      segments,
      options,
      optionList,
      optionsSpan,
      span: span(segments[0]!.span.start, optionsSpan ? optionsSpan.end : last.span.end),
    };
  }

  private parseExpandOptions(
    options: { -readonly [K in keyof ExpandOptions]: ExpandOptions[K] },
    optionList: ExpandOption[],
  ): void {
    const stops: TokenKind[] = [';', ')'];
    if (this.at(')')) return;
    for (;;) {
      const nameToken = this.peek();
      if (nameToken.kind !== 'identifier' || this.peek(1).kind !== '=') {
        this.report(
          'expectedIdentifier',
          `Expected an option like '$select=…', found ${this.describe(nameToken)}.`,
          nameToken.span,
        );
        this.skipUntil(stops);
      } else {
        this.next();
        this.next();
        const name = nameToken.text;
        const valueStart = this.peek().span.start;
        const duplicate = optionList.some((o) => o.name === name);
        if (duplicate) this.report('duplicateOption', `'${name}' is given more than once.`, nameToken.span);
        if (UNSUPPORTED_IN_EXPAND.has(name)) {
          this.report(
            'unsupportedOption',
            `Dataverse does not support '${name}' inside $expand.`,
            nameToken.span,
            'warning',
          );
        }
        const empty = this.at(';') || this.at(')') || this.atEnd;
        if (empty) {
          this.report('missingOptionValue', `'${name}' needs a value.`, nameToken.span);
        } else {
          // The first of duplicates counts (reported above); a later one is parsed for its diagnostics only.
          const target: typeof options = duplicate ? {} : options;
          switch (name) {
            case '$select':
              target.select = this.parseSelect(stops);
              break;
            case '$filter':
              target.filter = this.parseExpression();
              break;
            case '$orderby':
              target.orderBy = this.parseOrderBy(stops);
              break;
            case '$top':
              target.top = this.parseInteger(name);
              break;
            case '$skip':
              target.skip = this.parseInteger(name);
              break;
            case '$levels':
              target.levels = this.parseInteger(name, true);
              break;
            case '$count':
              target.count = this.parseBoolean(name);
              break;
            case '$expand':
              target.expand = this.parseExpand(stops);
              break;
            case '$search':
              target.search = this.parseRawText(stops);
              break;
            default: {
              const suggestion = closestName(name, ['$select', '$filter', '$orderby', '$top', '$expand']);
              this.report(
                'unknownOption',
                `Unknown option '${name}' inside $expand.` + (suggestion ? ` Did you mean '${suggestion}'?` : ''),
                nameToken.span,
              );
              this.skipUntil(stops, null);
            }
          }
        }
        if (!this.at(';') && !this.at(')') && !this.atEnd) this.skipUntil(stops);
        optionList.push({
          kind: 'expandOption',
          name,
          nameSpan: nameToken.span,
          span: span(nameToken.span.start, Math.max(valueStart, this.previousEnd)),
        });
      }
      if (!this.accept(';')) return;
    }
  }

  private parseRawText(stops: readonly TokenKind[]): TextValue {
    const first = this.peek();
    const parts: string[] = [];
    while (!this.atEnd && !stops.includes(this.peek().kind)) {
      const token = this.next();
      parts.push((parts.length > 0 && token.spaceBefore ? ' ' : '') + token.text);
    }
    return {
      kind: 'text',
      value: parts.join(''),
      span: span(first.span.start, Math.max(first.span.start, this.previousEnd)),
    };
  }

  /** A non-negative integer (`$top`, `$skip`, `$levels`), or `max` for `$levels`. */
  parseInteger(optionName: string, allowMax = false): IntegerValue {
    const token = this.peek();
    if (token.kind === 'number' && token.numberType === 'int' && !token.text.startsWith('-')) {
      this.next();
      return { kind: 'integer', value: Number(token.text), span: token.span };
    }
    if (token.kind === 'template') {
      this.next();
      return {
        kind: 'integer',
        value: undefined,
        template: { kind: 'template', name: token.value, span: token.span },
        span: token.span,
      };
    }
    if (allowMax && token.kind === 'identifier' && token.text === 'max') {
      this.next();
      return { kind: 'integer', value: undefined, max: true, span: token.span };
    }
    this.report(
      'invalidOptionValue',
      `'${optionName}' needs a non-negative integer, found ${this.describe(token)}.`,
      token.span,
    );
    if (token.kind !== 'eof' && token.kind !== ';' && token.kind !== ')') this.next();
    return { kind: 'integer', value: undefined, span: token.span };
  }

  parseBoolean(optionName: string): BooleanValue {
    const token = this.peek();
    if (token.kind === 'identifier' && (token.text === 'true' || token.text === 'false')) {
      this.next();
      return { kind: 'boolean', value: token.text === 'true', span: token.span };
    }
    this.report(
      'invalidOptionValue',
      `'${optionName}' must be true or false, found ${this.describe(token)}.`,
      token.span,
    );
    if (token.kind !== 'eof' && token.kind !== ';' && token.kind !== ')') this.next();
    return { kind: 'boolean', value: undefined, span: token.span };
  }

  // -------------------------------------------------------------------------------------------
  // $apply

  parseApply(): ApplyClause {
    const start = this.peek().span.start;
    const transformations = this.parseTransformations();
    return { kind: 'apply', transformations, span: span(start, Math.max(start, this.previousEnd)) };
  }

  private parseTransformations(): Transformation[] {
    const transformations: Transformation[] = [];
    for (;;) {
      const transformation = this.parseTransformation();
      if (transformation) transformations.push(transformation);
      if (!this.accept('/')) return transformations;
    }
  }

  private parseTransformation(): Transformation | undefined {
    const nameToken = this.peek();
    if (nameToken.kind !== 'identifier') {
      this.report(
        'expectedIdentifier',
        `Expected a transformation like aggregate(...), found ${this.describe(nameToken)}.`,
        nameToken.span,
      );
      this.skipUntil(['/', ',', ')']);
      return undefined;
    }
    this.next();
    const name = nameToken.text;
    if (name === 'identity') return { kind: 'identity', span: nameToken.span };
    const open = this.accept('(');
    if (!open) {
      this.report('expectedToken', `Expected '(' after '${name}'.`, nameToken.span);
      return { kind: 'unknownTransformation', name, span: nameToken.span };
    }
    if (!this.enter()) {
      this.skipTooDeep();
      const end = this.closeParen(open);
      return { kind: 'unknownTransformation', name, span: span(nameToken.span.start, end) };
    }
    try {
      switch (name) {
        case 'aggregate': {
          const items = this.parseAggregateItems();
          return { kind: 'aggregate', items, span: span(nameToken.span.start, this.closeParen(open)) };
        }
        case 'groupby':
          return this.parseGroupBy(nameToken, open);
        case 'filter': {
          const expression = this.canStartExpression()
            ? this.parseExpression()
            : this.expectedExpressionHere('Expected a condition');
          if (!this.at(')') && !this.atEnd) this.skipUntil([')']);
          return { kind: 'filter', expression, span: span(nameToken.span.start, this.closeParen(open)) };
        }
        case 'orderby': {
          const orderBy = this.parseOrderBy([')']);
          return { kind: 'orderby', orderBy, span: span(nameToken.span.start, this.closeParen(open)) };
        }
        case 'top':
        case 'skip': {
          const count = this.parseInteger(name);
          if (!this.at(')') && !this.atEnd) this.skipUntil([')']);
          return { kind: name, count, span: span(nameToken.span.start, this.closeParen(open)) };
        }
        default: {
          const suggestion = closestName(name, ['aggregate', 'groupby', 'filter', 'orderby', 'top', 'skip']);
          this.report(
            'unknownTransformation',
            `Unknown transformation '${name}'.` + (suggestion ? ` Did you mean '${suggestion}'?` : ''),
            nameToken.span,
          );
          this.skipUntil([')'], null);
          return { kind: 'unknownTransformation', name, span: span(nameToken.span.start, this.closeParen(open)) };
        }
      }
    } finally {
      this.leave();
    }
  }

  private parseAggregateItems(): AggregateItem[] {
    const items: AggregateItem[] = [];
    for (;;) {
      const start = this.peek();
      if (start.kind === 'identifier' && start.text === '$count' && this.atWord('as', 1)) {
        this.next();
        const alias = this.parseAlias();
        items.push({
          kind: 'aggregateItem',
          expression: undefined,
          method: '$count',
          methodSpan: start.span,
          alias,
          span: span(start.span.start, alias ? alias.span.end : this.previousEnd),
        });
      } else if (!this.canStartExpression()) {
        this.report(
          'expectedExpression',
          `Expected 'property with method as alias', found ${this.describe(start)}.`,
          start.span,
        );
      } else {
        const expression = this.parseExpression();
        let method = '';
        let methodSpan = span(this.previousEnd, this.previousEnd);
        if (this.atWord('with')) {
          const withToken = this.next();
          const methodToken = this.peek();
          if (methodToken.kind === 'identifier' && methodToken.text !== 'as') {
            this.next();
            method = methodToken.text;
            methodSpan = methodToken.span;
            if (!AGGREGATE_METHODS.has(method) && !method.includes('.')) {
              const suggestion = closestName(method, AGGREGATE_METHODS);
              this.report(
                'unknownAggregateMethod',
                `Unknown aggregation method '${method}'.` + (suggestion ? ` Did you mean '${suggestion}'?` : ''),
                methodToken.span,
              );
            }
          } else {
            this.report(
              'expectedIdentifier',
              "Expected sum, min, max, average or countdistinct after 'with'.",
              withToken.span,
            );
          }
        } else {
          this.report(
            'expectedToken',
            "Expected 'with' and an aggregation method, e.g. 'revenue with sum as total'.",
            expression.span,
          );
        }
        const alias = this.parseAlias();
        items.push({
          kind: 'aggregateItem',
          expression,
          method,
          methodSpan,
          alias,
          span: span(expression.span.start, alias ? alias.span.end : this.previousEnd),
        });
      }
      if (!this.at(',') && !this.at(')') && !this.atEnd) this.skipUntil([',', ')']);
      if (!this.accept(',')) return items;
    }
  }

  private parseAlias(): Identifier | undefined {
    const asToken = this.peek();
    if (!this.atWord('as')) {
      this.report('expectedToken', `Expected 'as alias', found ${this.describe(asToken)}.`, asToken.span);
      return undefined;
    }
    this.next();
    const aliasToken = this.peek();
    if (aliasToken.kind !== 'identifier') {
      this.report(
        'expectedIdentifier',
        `Expected an alias after 'as', found ${this.describe(aliasToken)}.`,
        asToken.span,
      );
      return undefined;
    }
    return this.identifier(this.next());
  }

  private parseGroupBy(nameToken: Token, open: Token): Transformation {
    const properties: MemberNode[] = [];
    const listOpen = this.accept('(');
    if (!listOpen) {
      this.report(
        'expectedToken',
        'groupby needs a parenthesized property list: groupby((a,b),...).',
        this.peek().span,
      );
    } else {
      for (;;) {
        const property = this.parseMemberPath();
        if (property) properties.push(property);
        if (!this.at(',') && !this.at(')') && !this.atEnd) this.skipUntil([',', ')']);
        if (!this.accept(',')) break;
      }
      this.closeParen(listOpen);
    }
    let transformations: Transformation[] = [];
    if (this.accept(',')) transformations = this.parseTransformations();
    if (!this.at(')') && !this.atEnd) this.skipUntil([')']);
    return { kind: 'groupby', properties, transformations, span: span(nameToken.span.start, this.closeParen(open)) };
  }

  // -------------------------------------------------------------------------------------------
  // Resource path

  parseResourcePath(start: number, end: number): ResourcePath {
    const segments: PathSegment[] = [];
    if (this.atEnd) return { kind: 'path', segments, span: span(start, end) };
    for (;;) {
      const token = this.peek();
      if (token.kind === 'identifier') {
        segments.push(this.parseNameSegment());
      } else if (token.kind === 'eof' && segments.length > 0) {
        // A trailing slash (`…/opportunity_parent_account/?savedQuery=…` in Microsoft's docs) is harmless.
        break;
      } else {
        this.report('expectedIdentifier', `Expected a resource name, found ${this.describe(token)}.`, token.span);
        this.skipUntil(['/']);
      }
      if (!this.at('/') && !this.atEnd) this.skipUntil(['/']);
      if (!this.accept('/')) break;
    }
    return { kind: 'path', segments, span: span(start, end) };
  }

  private parseNameSegment(): PathSegment {
    const nameToken = this.next();
    const name = nameToken.text;
    if (name.startsWith('$') && !this.at('(')) return { kind: 'system', name, span: nameToken.span };
    let args: SegmentArguments | undefined;
    const open = this.accept('(');
    if (open) {
      const singleValue = !this.at(')') && !(this.peek().kind === 'identifier' && this.peek(1).kind === '=');
      if (singleValue) {
        const value = this.parseExpression();
        if (!this.at(')') && !this.atEnd) this.skipUntil([')']);
        args = { kind: 'keyValue', value, span: span(open.span.start, this.closeParen(open)) };
      } else {
        const values = this.parseNamedValues();
        if (!this.at(')') && !this.atEnd) this.skipUntil([')']);
        args = { kind: 'namedValues', values, span: span(open.span.start, this.closeParen(open)) };
      }
    }
    return {
      kind: 'name',
      name,
      nameSpan: nameToken.span,
      qualified: name.includes('.'),
      args,
      span: span(nameToken.span.start, args ? args.span.end : nameToken.span.end),
    };
  }
}

/**
 * Translates the shared OData parser's syntax trees (src/odata/url) into parameterized SQLite: `$filter`
 * (comparisons, logic, string functions, navigation paths, lambdas, Dataverse query functions), `$select`
 * and `$orderby`. Values only ever travel as parameters; identifiers come from the schema, never from the
 * request text.
 */
import type {
  CallNode,
  ExpressionNode,
  FunctionCallNode,
  LambdaNode,
  LiteralNode,
  MemberNode,
  OrderByClause,
  SelectClause,
} from '../odata/url';
import { QUERY_FUNCTION_NAMESPACE, QUERY_FUNCTIONS } from '../odata/url';
import { edmType } from './csdl';
import { mayHoldExactLiteral, SQL_NUMBER_FUNCTION } from './exactNumber';
import { badRequest, guessed, notValidForCondition, notValidForRead, propertyNotFound } from './errors';
import type { Column, ColumnType, Schema, Table } from './schema/schema';
import { isLookupType, manyToManySide } from './schema/schema';
import { limitExceeded, MAX_FILTER_TERMS, MAX_LIST_VALUES, MAX_ORDERBY_ITEMS, MAX_PATH_NAVIGATIONS } from './limits';
import { isStorableText } from './records';
import { intersectStorage, sqlTable } from './store';

export type SqlParam = string | number;

/** A piece of SQL with the parameters its `?` placeholders stand for, in order. */
export interface Sql {
  readonly text: string;
  readonly params: readonly SqlParam[];
}

export function sql(text: string, ...params: SqlParam[]): Sql {
  return { text, params };
}

/** Concatenates strings and fragments, keeping parameters in placeholder order. */
export function cat(...parts: (string | Sql)[]): Sql {
  let text = '';
  const params: SqlParam[] = [];
  for (const part of parts) {
    if (typeof part === 'string') text += part;
    else {
      text += part.text;
      params.push(...part.params);
    }
  }
  return { text, params };
}

export function joinSql(parts: readonly Sql[], separator: string): Sql {
  const out: (string | Sql)[] = [];
  parts.forEach((p, i) => {
    if (i > 0) out.push(separator);
    out.push(p);
  });
  return cat(...out);
}

/**
 * A string as a SQL value. The SQLite driver binds text only up to a U+0000, so a string holding one is put
 * together from its pieces around `char(0)`: comparisons then see every character.
 */
export function textValue(value: string): Sql {
  if (!value.includes('\u0000')) return sql('?', value);
  const pieces = value.split('\u0000');
  return sql(`(${pieces.map(() => '?').join(' || char(0) || ')})`, ...pieces);
}

/**
 * Conditions joined by ` AND ` or ` OR ` as a balanced tree: written as a chain, SQLite parses them nested one level
 * per condition and refuses expressions nested deeper than 1,000. True for no conditions.
 */
export function logical(parts: readonly Sql[], operator: ' AND ' | ' OR '): Sql {
  if (parts.length <= 1) return parts[0] ?? sql('1');
  const middle = Math.ceil(parts.length / 2);
  return cat('(', logical(parts.slice(0, middle), operator), operator, logical(parts.slice(middle), operator), ')');
}

export function quoteId(identifier: string): string {
  return `"${identifier.replace(/"/g, '""')}"`;
}

export function col(alias: string, name: string): string {
  return `${alias}.${quoteId(name)}`;
}

/**
 * A column as an operand of comparisons, sorting and aggregates. Number columns that may hold an exact literal
 * (exactNumber.ts) are read through `dvw_number`, so that such a value compares as the number it is.
 */
export function operandSql(alias: string, column: Column): string {
  const target = col(alias, column.name);
  // A managed property compares, sorts and groups by its Value, as FetchXML does.
  if (column.type === 'managedproperty') return `json_extract(${target}, '$.Value')`;
  return mayHoldExactLiteral(column.type) ? `${SQL_NUMBER_FUNCTION}(${target})` : target;
}

/** What a query needs to know besides the request: the schema, who asks, and what time it is. */
export interface QueryEnv {
  readonly schema: Schema;
  readonly userId: string;
  readonly businessUnitId: string;
  /** Injectable so that relative-date functions are testable. */
  readonly now: () => Date;
  /** Parameter aliases of the request (`@p1=...`), without the `@`. */
  readonly aliases: ReadonlyMap<string, ExpressionNode>;
}

type ValueKind = 'string' | 'number' | 'boolean' | 'datetime' | 'date' | 'guid' | 'null';

export interface Operand {
  readonly sql: Sql;
  readonly kind: ValueKind;
  /** The column when the operand is a property path. */
  readonly column?: Column;
  readonly literal?: LiteralNode;
}

interface Bound {
  readonly table: Table;
  readonly alias: string;
}

interface Scope {
  readonly root: Bound;
  readonly variables: ReadonlyMap<string, Bound>;
}

export function valueKind(type: ColumnType): Exclude<ValueKind, 'null'> {
  switch (type) {
    case 'string':
    case 'memo':
    case 'choices':
    case 'binary':
      return 'string';
    case 'integer':
    case 'bigint':
    case 'decimal':
    case 'currency':
    case 'float':
    case 'choice':
    case 'state':
    case 'status':
      return 'number';
    case 'boolean':
    case 'managedproperty':
      return 'boolean';
    case 'datetime':
      return 'datetime';
    case 'dateonly':
      return 'date';
    default:
      return 'guid';
  }
}

const KIND_EDM: Record<ValueKind, string> = {
  string: 'Edm.String',
  number: 'Edm.Int32',
  boolean: 'Edm.Boolean',
  datetime: 'Edm.DateTimeOffset',
  date: 'Edm.Date',
  guid: 'Edm.Guid',
  null: 'null',
};

const OPERATOR_KIND: Record<string, string> = {
  eq: 'Equal',
  ne: 'NotEqual',
  gt: 'GreaterThan',
  ge: 'GreaterThanOrEqual',
  lt: 'LessThan',
  le: 'LessThanOrEqual',
};

const SQL_OPERATOR: Record<string, string> = { eq: '=', ne: '<>', gt: '>', ge: '>=', lt: '<', le: '<=' };

const GUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const DATE = /^\d{4}-\d{2}-\d{2}$/;
const MAX_ALIAS_DEPTH = 8;
const DAY = 86_400_000;

function isoSeconds(time: number): string {
  return new Date(time).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function isoDate(time: number): string {
  return new Date(time).toISOString().slice(0, 10);
}

function parseInstant(text: string): number | undefined {
  const value = DATE.test(text) ? Date.parse(`${text}T00:00:00Z`) : Date.parse(text);
  return Number.isNaN(value) ? undefined : value;
}

function describe(node: ExpressionNode): string {
  if (node.kind === 'literal') return node.raw;
  if (node.kind === 'member') return node.segments.map((s) => s.name).join('/');
  if (node.kind === 'call' || node.kind === 'functionCall') return `${node.name}(...)`;
  return node.kind;
}

/** Finds a column by logical name or, for lookups, by its `_x_value` property name. */
/**
 * A member of a managed property as an operand (`iscustomizable/Value eq true`,
 * https://learn.microsoft.com/power-apps/developer/data-platform/webapi/reference/booleanmanagedproperty):
 * `Value` and `CanBeChanged` are Booleans in its stored JSON, `ManagedPropertyLogicalName` the attribute's.
 */
function managedPropertyMember(bound: Bound, column: Column, member: string): Operand {
  const stored = col(bound.alias, column.name);
  switch (member) {
    case 'Value':
    case 'CanBeChanged':
      return {
        sql: sql(`json_extract(${stored}, '$.${member}')`),
        kind: 'boolean',
        column: { ...column, type: 'boolean' },
      };
    case 'ManagedPropertyLogicalName':
      return {
        sql: sql(`CASE WHEN ${stored} IS NULL THEN NULL ELSE ? END`, column.managedPropertyName ?? column.name),
        kind: 'string',
        column: { ...column, type: 'string' },
      };
    default:
      throw propertyNotFound('BooleanManagedProperty', member);
  }
}

export function findColumn(table: Table, name: string): Column | undefined {
  const direct = table.columns.get(name);
  if (direct !== undefined && !isLookupType(direct.type)) return direct;
  const lookup = /^_([a-z0-9_]+)_value$/.exec(name);
  if (lookup?.[1] !== undefined) {
    const column = table.columns.get(lookup[1]);
    // A hidden lookup has no `_x_value` property in $metadata.
    if (column !== undefined && isLookupType(column.type) && column.hidden !== true) return column;
  }
  return undefined;
}

/**
 * ` AND <alias>.<column>__type = ?`: a referencing row's lookup names the table as well as the id. Empty for the
 * 1:1 link of an activity to its pointer row (`activity_pointer_task`), where the column is the row's own key.
 */
export function referencingType(source: Table, alias: string, column: string, type: string): Sql {
  const lookup = source.columns.get(column);
  return lookup !== undefined && isLookupType(lookup.type)
    ? sql(` AND ${col(alias, `${column}__type`)} = ?`, type)
    : sql('');
}

/** The table a single-valued navigation leads to for a row of the given stored type, or undefined for owners. */
function singleTarget(schema: Schema, target: string): Table | undefined {
  return target === 'principal' ? undefined : schema.tables.get(target);
}

export class QueryCompiler {
  private counter = 0;
  /** Conditions and list values compiled so far in this query, aliases expanded (limits.ts). */
  private terms = 0;
  private values = 0;

  constructor(readonly env: QueryEnv) {}

  nextAlias(prefix = 't'): string {
    this.counter += 1;
    return `${prefix}${this.counter}`;
  }

  private resolveAlias(node: ExpressionNode, depth = 0): ExpressionNode {
    if (node.kind !== 'alias') return node;
    if (depth > MAX_ALIAS_DEPTH) throw guessed(400, 'querySyntax', `The parameter alias '@${node.name}' is circular.`);
    const value = this.env.aliases.get(node.name);
    // Dataverse treats an alias that has no value as null.
    if (value === undefined) return { kind: 'literal', literalType: 'null', value: null, raw: 'null', span: node.span };
    return this.resolveAlias(value, depth + 1);
  }

  /** A property path (`name`, `primarycontactid/fullname`) of `table` as a SQL value. */
  property(table: Table, alias: string, node: ExpressionNode): Operand {
    const resolved = this.resolveAlias(node);
    if (resolved.kind !== 'member') throw guessed(400, 'querySyntax', `'${describe(resolved)}' is not a property.`);
    return this.member(resolved, { root: { table, alias }, variables: new Map() });
  }

  /** `$filter` as a SQL boolean expression over `alias`. */
  filter(table: Table, alias: string, node: ExpressionNode): Sql {
    return this.predicate(node, { root: { table, alias }, variables: new Map() });
  }

  private countTerm(): void {
    this.terms += 1;
    if (this.terms > MAX_FILTER_TERMS) throw limitExceeded('conditions in the query', this.terms, MAX_FILTER_TERMS);
  }

  private countValues(n: number): void {
    this.values += n;
    if (this.values > MAX_LIST_VALUES) throw limitExceeded('list values in the query', this.values, MAX_LIST_VALUES);
  }

  /** The operands of a chain of one logical operator (`a or b or c`), in order, aliases resolved. */
  private chain(node: ExpressionNode, operator: string): ExpressionNode[] {
    const operands: ExpressionNode[] = [];
    const pending = [node];
    while (pending.length > 0) {
      const next = this.resolveAlias(pending.pop() as ExpressionNode);
      if (next.kind === 'binary' && next.operator === operator) pending.push(next.right, next.left);
      else operands.push(next);
      if (operands.length + pending.length > MAX_FILTER_TERMS) {
        throw limitExceeded('conditions in the query', operands.length + pending.length, MAX_FILTER_TERMS);
      }
    }
    return operands;
  }

  private predicate(raw: ExpressionNode, scope: Scope): Sql {
    const node = this.resolveAlias(raw);
    switch (node.kind) {
      case 'binary': {
        if (node.operator === 'and' || node.operator === 'or') {
          const parts = this.chain(node, node.operator).map((operand) => this.predicate(operand, scope));
          return logical(parts, node.operator === 'and' ? ' AND ' : ' OR ');
        }
        this.countTerm();
        if (node.operator in SQL_OPERATOR) return this.comparison(node.operator, node.left, node.right, scope);
        throw guessed(400, 'functionNotSupported', `The operator '${node.operator}' is not supported.`);
      }
      case 'unary':
        if (node.operator === 'not') return cat('(NOT ', this.predicate(node.operand, scope), ')');
        throw guessed(400, 'incompatibleTypes', 'A negated number is not a condition.');
      case 'call':
        this.countTerm();
        return this.canonicalCall(node, scope);
      case 'functionCall':
        this.countTerm();
        return this.queryFunction(node, scope);
      case 'lambda':
        this.countTerm();
        return this.lambda(node, scope);
      case 'member': {
        const operand = this.member(node, scope);
        if (operand.kind !== 'boolean') {
          throw guessed(
            400,
            'incompatibleTypes',
            `The $filter expression must evaluate to a single boolean value; '${describe(node)}' is ${KIND_EDM[operand.kind]}.`,
          );
        }
        return cat('(', operand.sql, ' = 1)');
      }
      case 'literal':
        if (node.literalType === 'boolean') return sql(node.value === true ? '1' : '0');
        throw guessed(400, 'incompatibleTypes', 'The $filter expression must evaluate to a single boolean value.');
      case 'in':
        throw guessed(
          400,
          'functionNotSupported',
          "The 'in' operator is not supported; use Microsoft.Dynamics.CRM.In.",
        );
      default:
        throw guessed(400, 'querySyntax', `The $filter expression is not valid near '${describe(node)}'.`);
    }
  }

  /** A property path: a column of the current row, or through single-valued navigations (scalar subqueries). */
  member(node: MemberNode, scope: Scope): Operand {
    const segments = node.segments.map((s) => s.name);
    let bound = scope.root;
    let start = 0;
    const variable = node.lambdaVariable ? scope.variables.get(segments[0] ?? '') : undefined;
    if (variable !== undefined) {
      bound = variable;
      start = 1;
    }
    if (start >= segments.length) throw guessed(400, 'querySyntax', `'${segments.join('/')}' is not a property.`);
    if (segments.length - start - 1 > MAX_PATH_NAVIGATIONS) {
      throw limitExceeded(
        `navigations in the path '${segments.slice(start, start + 3).join('/')}/…'`,
        segments.length - start - 1,
        MAX_PATH_NAVIGATIONS,
      );
    }
    return this.path(bound, segments.slice(start));
  }

  private path(bound: Bound, segments: readonly string[]): Operand {
    const [first = '', ...rest] = segments;
    const complex = rest.length === 1 ? findColumn(bound.table, first) : undefined;
    if (complex?.type === 'managedproperty') return managedPropertyMember(bound, complex, rest[0] ?? '');
    if (rest.length === 0) {
      const column = findColumn(bound.table, first);
      if (column === undefined) throw propertyNotFound(bound.table.logicalName, first);
      // Every operand of $filter, $orderby, $apply and lambdas ends here: a write-only value is no operand.
      if (!column.validForRead) throw notValidForCondition(bound.table.logicalName, column.name);
      if (column.type === 'managedproperty') {
        throw guessed(
          400,
          'incompatibleTypes',
          `'${column.name}' is of complex type '${edmType(column.type)}', not a primitive value: use '${column.name}/Value'.`,
        );
      }
      return { sql: sql(operandSql(bound.alias, column)), kind: valueKind(column.type), column };
    }
    const navigation = bound.table.navigations.get(first);
    if (navigation?.kind !== 'single') throw propertyNotFound(bound.table.logicalName, first);
    const target = singleTarget(this.env.schema, navigation.target);
    if (target === undefined) throw propertyNotFound(bound.table.logicalName, `${first}/${rest.join('/')}`);
    const alias = this.nextAlias('n');
    const inner = this.path({ table: target, alias }, rest);
    const polymorphic = (navigation.column.targets ?? []).length > 1;
    const typeCheck = polymorphic
      ? sql(` AND ${col(bound.alias, `${navigation.column.name}__type`)} = ?`, target.logicalName)
      : sql('');
    return {
      ...inner,
      sql: cat(
        `(SELECT `,
        inner.sql,
        ` FROM ${sqlTable(target)} ${alias} WHERE ${col(alias, target.primaryIdAttribute)} = ${col(bound.alias, navigation.column.name)}`,
        typeCheck,
        ')',
      ),
    };
  }

  private operand(raw: ExpressionNode, scope: Scope): Operand {
    const node = this.resolveAlias(raw);
    if (node.kind === 'member') return this.member(node, scope);
    if (node.kind === 'literal') return this.literal(node);
    throw guessed(400, 'functionNotSupported', `'${describe(node)}' is not supported as an operand of a comparison.`);
  }

  private literal(node: LiteralNode): Operand {
    switch (node.literalType) {
      case 'null':
        return { sql: sql('NULL'), kind: 'null', literal: node };
      case 'boolean':
        return { sql: sql('?', node.value === true ? 1 : 0), kind: 'boolean', literal: node };
      case 'int':
      case 'int64':
      case 'decimal':
      case 'double':
      case 'single':
        return { sql: sql('?', Number(node.value)), kind: 'number', literal: node };
      case 'string':
        return { sql: textValue(String(node.value)), kind: 'string', literal: node };
      case 'guid':
        return { sql: sql('?', String(node.value).toLowerCase()), kind: 'guid', literal: node };
      case 'date':
        return { sql: sql('?', String(node.value)), kind: 'date', literal: node };
      case 'dateTimeOffset':
        return { sql: sql('?', String(node.value)), kind: 'datetime', literal: node };
      default:
        throw guessed(400, 'functionNotSupported', `Literals of type '${node.literalType}' are not supported.`);
    }
  }

  private incompatible(operator: string, left: Operand, right: Operand): never {
    const edm = (o: Operand): string => (o.column !== undefined ? edmType(o.column.type) : KIND_EDM[o.kind]);
    throw guessed(
      400,
      'incompatibleTypes',
      `A binary operator with incompatible types was detected. Found operand types '${edm(left)}' and '${edm(right)}' for operator kind '${OPERATOR_KIND[operator] ?? operator}'.`,
    );
  }

  private comparison(operator: string, leftNode: ExpressionNode, rightNode: ExpressionNode, scope: Scope): Sql {
    let left = this.operand(leftNode, scope);
    let right = this.operand(rightNode, scope);
    if (left.column === undefined && right.column !== undefined) {
      // Keep the column on the left; flip the operator so `5 lt x` reads `x gt 5`.
      [left, right] = [right, left];
      operator = { gt: 'lt', lt: 'gt', ge: 'le', le: 'ge' }[operator] ?? operator;
    }
    if (left.kind === 'null' || right.kind === 'null') {
      const other = left.kind === 'null' ? right : left;
      if (other.kind === 'null') return sql(operator === 'eq' ? '1' : '0');
      if (operator === 'eq') return cat('(', other.sql, ' IS NULL)');
      if (operator === 'ne') return cat('(', other.sql, ' IS NOT NULL)');
      return sql('0');
    }
    if (left.column === undefined) {
      // Two literals: Dataverse needs a property on one side.
      throw guessed(400, 'querySyntax', 'A comparison needs a property on one side.');
    }
    const op = SQL_OPERATOR[operator] ?? '=';
    if (right.column !== undefined) {
      if (left.kind !== right.kind) this.incompatible(operator, left, right);
      return cat('(', left.sql, ` ${op} `, right.sql, left.kind === 'string' ? ' COLLATE NOCASE)' : ')');
    }
    const literal = right.literal;
    switch (left.kind) {
      case 'string':
        if (right.kind !== 'string') this.incompatible(operator, left, right);
        return cat('(', left.sql, ` ${op} `, right.sql, ' COLLATE NOCASE)');
      case 'number':
      case 'boolean':
        if (right.kind !== left.kind) this.incompatible(operator, left, right);
        return cat('(', left.sql, ` ${op} `, right.sql, ')');
      case 'guid': {
        // Docs show lookups compared with bare and quoted GUIDs alike.
        const text = literal === undefined ? '' : String(literal.value);
        if (!(right.kind === 'guid' || (right.kind === 'string' && GUID.test(text))))
          this.incompatible(operator, left, right);
        return cat('(', left.sql, ` ${op} ?)`, sql('', text.toLowerCase()));
      }
      case 'datetime':
      case 'date': {
        if (right.kind !== 'datetime' && right.kind !== 'date') this.incompatible(operator, left, right);
        const instant = parseInstant(String(literal?.value ?? ''));
        if (instant === undefined) throw badRequest(`The date value '${literal?.raw ?? ''}' is not valid.`);
        return this.instantComparison(left, operator, instant);
      }
      default:
        return this.incompatible(operator, left, right);
    }
  }

  /**
   * Stored date-times have whole seconds and compare as text; a literal with a fraction is moved to the next
   * whole second with the operator adjusted, so the text comparison stays exact.
   */
  private instantComparison(left: Operand, operator: string, instant: number): Sql {
    if (left.kind === 'date') {
      const day = isoDate(instant);
      const fraction = instant % DAY !== 0;
      if (!fraction) return cat('(', left.sql, ` ${SQL_OPERATOR[operator] ?? '='} ?)`, sql('', day));
      const adjusted: Record<string, string> = { gt: '>', ge: '>', lt: '<=', le: '<=', eq: '', ne: '' };
      if (operator === 'eq') return sql('0');
      if (operator === 'ne') return cat('(', left.sql, ' IS NOT NULL)');
      return cat('(', left.sql, ` ${adjusted[operator] ?? '='} ?)`, sql('', day));
    }
    const whole = Math.ceil(instant / 1000) * 1000;
    if (whole === instant)
      return cat('(', left.sql, ` ${SQL_OPERATOR[operator] ?? '='} ?)`, sql('', isoSeconds(whole)));
    if (operator === 'eq') return sql('0');
    if (operator === 'ne') return cat('(', left.sql, ' IS NOT NULL)');
    const adjusted: Record<string, string> = { gt: '>=', ge: '>=', lt: '<', le: '<' };
    return cat('(', left.sql, ` ${adjusted[operator] ?? '='} ?)`, sql('', isoSeconds(whole)));
  }

  private canonicalCall(node: CallNode, scope: Scope): Sql {
    const name = node.name;
    if (name !== 'contains' && name !== 'startswith' && name !== 'endswith') {
      throw guessed(400, 'functionNotSupported', `The function '${name}' is not supported.`);
    }
    const [subjectNode, valueNode] = node.args;
    if (subjectNode === undefined || valueNode === undefined)
      throw guessed(400, 'querySyntax', `'${name}' needs two arguments.`);
    const subject = this.operand(subjectNode, scope);
    const value = this.operand(valueNode, scope);
    if (
      subject.column === undefined ||
      subject.kind !== 'string' ||
      value.kind !== 'string' ||
      value.literal === undefined
    ) {
      throw guessed(
        400,
        'incompatibleTypes',
        `No function signature for the function with name '${name}' matches the specified arguments.`,
      );
    }
    // Dataverse passes `%`, `_` and `[...]` through to SQL LIKE; SQLite's LIKE knows the first two.
    const text = String(value.literal.value);
    // No stored string holds a character Dataverse refuses (records.ts), and SQLite's LIKE would stop at a U+0000:
    // false for every value, unknown (null) for a null one, as LIKE is.
    if (!isStorableText(text)) return cat('(', subject.sql, ' IS NULL AND NULL)');
    const pattern = name === 'contains' ? `%${text}%` : name === 'startswith' ? `${text}%` : `%${text}`;
    return cat('(', subject.sql, ' LIKE ?)', sql('', pattern));
  }

  private lambda(node: LambdaNode, scope: Scope): Sql {
    const segments = node.source.segments.map((s) => s.name);
    let bound = scope.root;
    let rest = segments;
    if (node.source.lambdaVariable) {
      const variable = scope.variables.get(segments[0] ?? '');
      if (variable === undefined) throw guessed(400, 'querySyntax', `'${segments[0] ?? ''}' is not in scope.`);
      bound = variable;
      rest = segments.slice(1);
    }
    const [name = '', ...extra] = rest;
    const navigation = bound.table.navigations.get(name);
    if (extra.length > 0 || navigation === undefined || navigation.kind === 'single') {
      throw propertyNotFound(bound.table.logicalName, rest.join('/'));
    }
    const alias = this.nextAlias('l');
    let from: Sql;
    let target: Table | undefined;
    if (navigation.kind === 'collection') {
      target = this.env.schema.tables.get(navigation.source);
      if (target === undefined) throw propertyNotFound(bound.table.logicalName, name);
      from = cat(
        `FROM ${sqlTable(target)} ${alias} WHERE ${col(alias, navigation.column)} = ${col(bound.alias, bound.table.primaryIdAttribute)}`,
        referencingType(target, alias, navigation.column, bound.table.logicalName),
      );
    } else {
      target = this.env.schema.tables.get(navigation.target);
      const side = manyToManySide(this.env.schema, bound.table, navigation.name);
      if (target === undefined || side === undefined) throw propertyNotFound(bound.table.logicalName, name);
      const storage = intersectStorage(this.env.schema, side.relationship);
      const [mine, theirs] = side.mine === 'a' ? [storage.a, storage.b] : [storage.b, storage.a];
      const link = this.nextAlias('i');
      from = sql(
        `FROM ${sqlTable(target)} ${alias} JOIN ${storage.table} ${link} ON ${link}.${theirs} = ${col(alias, target.primaryIdAttribute)} WHERE ${link}.${mine} = ${col(bound.alias, bound.table.primaryIdAttribute)}`,
      );
    }
    if (node.predicate === undefined || node.variable === undefined) {
      if (node.operator === 'all') throw guessed(400, 'querySyntax', "'all' needs a condition.");
      return cat('EXISTS (SELECT 1 ', from, ')');
    }
    const variables = new Map(scope.variables);
    variables.set(node.variable.name, { table: target, alias });
    const inner = this.predicate(node.predicate, { root: scope.root, variables });
    if (node.operator === 'any') return cat('EXISTS (SELECT 1 ', from, ' AND ', inner, ')');
    // A row whose condition is unknown (null) does not satisfy `all`.
    return cat('NOT EXISTS (SELECT 1 ', from, ' AND (', inner, ') IS NOT 1)');
  }

  private stringParameter(node: NamedValueLike | undefined, fn: string, name: string): string {
    const value = node === undefined ? undefined : this.resolveAlias(node.value);
    if (value?.kind !== 'literal' || value.literalType !== 'string') {
      throw guessed(400, 'invalidArgument', `The parameter '${name}' of '${fn}' must be a string.`);
    }
    return String(value.value);
  }

  private listParameter(node: NamedValueLike | undefined, fn: string): string[] {
    const value = node === undefined ? undefined : this.resolveAlias(node.value);
    if (value?.kind !== 'array' && value?.kind !== 'list') {
      throw guessed(400, 'invalidArgument', `The parameter 'PropertyValues' of '${fn}' must be an array.`);
    }
    this.countValues(value.items.length);
    return value.items.map((item) => {
      const v = this.resolveAlias(item);
      if (v.kind !== 'literal' || v.value === null) {
        throw guessed(400, 'invalidArgument', `The values of '${fn}' must be literals.`);
      }
      return String(v.value);
    });
  }

  private countParameter(node: NamedValueLike | undefined, fn: string): number {
    const value = node === undefined ? undefined : this.resolveAlias(node.value);
    const n =
      value?.kind === 'literal' && (typeof value.value === 'number' || typeof value.value === 'string')
        ? Number(value.value)
        : Number.NaN;
    if (!Number.isInteger(n) || n < 0 || n > 100_000) {
      throw guessed(400, 'invalidArgument', `The parameter 'PropertyValue' of '${fn}' must be a whole number.`);
    }
    return n;
  }

  /** A value from `PropertyValues` converted to the column's stored form. */
  private typedValue(column: Column, text: string, fn: string): SqlParam {
    const kind = valueKind(column.type);
    const fail = (): never => {
      throw guessed(
        400,
        'invalidArgument',
        `The value '${text}' of '${fn}' cannot be converted to ${edmType(column.type)} for '${column.name}'.`,
      );
    };
    switch (kind) {
      case 'number': {
        const n = Number(text);
        return text.trim() !== '' && Number.isFinite(n) ? n : fail();
      }
      case 'boolean':
        return text === 'true' || text === '1' ? 1 : text === 'false' || text === '0' ? 0 : fail();
      case 'guid':
        return GUID.test(text) ? text.toLowerCase() : fail();
      case 'datetime': {
        const t = parseInstant(text);
        return t === undefined ? fail() : isoSeconds(t);
      }
      case 'date': {
        const t = parseInstant(text);
        return t === undefined ? fail() : isoDate(t);
      }
      default:
        return text;
    }
  }

  private queryFunction(node: FunctionCallNode, scope: Scope): Sql {
    const prefix = `${QUERY_FUNCTION_NAMESPACE}.`;
    const short = node.name.startsWith(prefix) ? node.name.slice(prefix.length) : undefined;
    if (short === undefined || !QUERY_FUNCTIONS.has(short)) {
      throw guessed(400, 'functionNotSupported', `The function '${node.name}' is not supported.`);
    }
    const params = new Map(node.parameters.map((p) => [p.name, p] as const));
    const propertyName = this.stringParameter(params.get('PropertyName'), short, 'PropertyName');
    const column = findColumn(scope.root.table, propertyName) ?? scope.root.table.columns.get(propertyName);
    if (column === undefined) throw propertyNotFound(scope.root.table.logicalName, propertyName);
    if (!column.validForRead) throw notValidForCondition(scope.root.table.logicalName, column.name);
    const target = sql(operandSql(scope.root.alias, column));
    const kind = valueKind(column.type);
    const requireKind = (...kinds: ValueKind[]): void => {
      if (!kinds.includes(kind)) {
        throw guessed(
          400,
          'invalidArgument',
          `The function '${short}' cannot be used with '${column.name}' of type ${edmType(column.type)}.`,
        );
      }
    };
    switch (short) {
      case 'In':
      case 'NotIn': {
        const values = this.listParameter(params.get('PropertyValues'), short).map((v) =>
          this.typedValue(column, v, short),
        );
        if (values.length === 0) return sql(short === 'In' ? '0' : '1');
        const list = joinSql(
          values.map((v) => (typeof v === 'string' ? textValue(v) : sql('?', v))),
          ', ',
        );
        const collate = kind === 'string' ? ' COLLATE NOCASE' : '';
        return cat('(', target, `${collate} ${short === 'In' ? 'IN' : 'NOT IN'} (`, list, '))');
      }
      case 'Between':
      case 'NotBetween': {
        const values = this.listParameter(params.get('PropertyValues'), short);
        if (values.length !== 2) throw guessed(400, 'invalidArgument', `'${short}' takes exactly two values.`);
        const [low = '', high = ''] = values;
        const bound = (text: string): Sql => {
          const v = this.typedValue(column, text, short);
          return typeof v === 'string' ? textValue(v) : sql('?', v);
        };
        const range = cat(bound(low), ' AND ', bound(high));
        return cat('(', target, short === 'Between' ? ' BETWEEN ' : ' NOT BETWEEN ', range, ')');
      }
      case 'EqualUserId':
      case 'NotEqualUserId':
      case 'EqualBusinessId':
      case 'NotEqualBusinessId': {
        requireKind('guid');
        const id = short.endsWith('UserId') ? this.env.userId : this.env.businessUnitId;
        return cat('(', target, short.startsWith('Equal') ? ' = ?)' : ' <> ?)', sql('', id));
      }
      case 'ContainValues':
      case 'DoesNotContainValues': {
        if (column.type !== 'choices') {
          throw guessed(400, 'invalidArgument', `The function '${short}' needs a multi-select choice column.`);
        }
        const values = this.listParameter(params.get('PropertyValues'), short).map((v) =>
          this.typedValue({ ...column, type: 'integer' }, v, short),
        );
        if (values.length === 0) return sql(short === 'ContainValues' ? '0' : '1');
        const any = joinSql(
          values.map((v) => cat(`(',' || `, target, ` || ',') LIKE ?`, sql('', `%,${String(v)},%`))),
          ' OR ',
        );
        return short === 'ContainValues' ? cat('(', any, ')') : cat('(NOT (', any, ') OR ', target, ' IS NULL)');
      }
      default:
        break;
    }
    const range = this.dateRange(short, params);
    if (range === undefined) {
      throw guessed(400, 'functionNotSupported', `The function '${node.name}' is not supported by the emulator.`);
    }
    requireKind('datetime', 'date');
    const parts: Sql[] = [];
    const text = (t: number): string => (kind === 'date' ? isoDate(t) : isoSeconds(t));
    if (range.from !== undefined) parts.push(cat(target, ' >= ?', sql('', text(range.from))));
    if (range.to !== undefined) {
      const aligned = kind === 'datetime' || range.to % DAY === 0;
      const op = range.toInclusive || !aligned ? ' <= ?' : ' < ?';
      parts.push(cat(target, op, sql('', text(range.to))));
    }
    if (range.before !== undefined) parts.push(cat(target, ' < ?', sql('', text(range.before))));
    return cat('(', joinSql(parts, ' AND '), ')');
  }

  /** Time ranges of the date functions, in UTC (the emulator's users all live in UTC). */
  private dateRange(
    fn: string,
    params: ReadonlyMap<string, NamedValueLike>,
  ): { from?: number; to?: number; toInclusive?: boolean; before?: number } | undefined {
    const now = this.env.now().getTime();
    const today = Math.floor(now / DAY) * DAY;
    const date = new Date(today);
    const month = (offset: number): number => Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + offset, 1);
    const year = (offset: number): number => Date.UTC(date.getUTCFullYear() + offset, 0, 1);
    const addMonths = (t: number, n: number): number => {
      const d = new Date(t);
      return Date.UTC(
        d.getUTCFullYear(),
        d.getUTCMonth() + n,
        d.getUTCDate(),
        d.getUTCHours(),
        d.getUTCMinutes(),
        d.getUTCSeconds(),
      );
    };
    const week = today - date.getUTCDay() * DAY;
    const n = (): number => this.countParameter(params.get('PropertyValue'), fn);
    const day = (): number => {
      const value = params.get('PropertyValue');
      const node = value === undefined ? undefined : this.resolveAlias(value.value);
      const t = node?.kind === 'literal' && node.value !== null ? parseInstant(String(node.value)) : undefined;
      if (t === undefined)
        throw guessed(400, 'invalidArgument', `The parameter 'PropertyValue' of '${fn}' must be a date.`);
      return Math.floor(t / DAY) * DAY;
    };
    const units: Record<string, (k: number) => number> = {
      Minutes: (k) => now - k * 60_000,
      Hours: (k) => now - k * 3_600_000,
      Days: (k) => now - k * DAY,
      Weeks: (k) => now - 7 * k * DAY,
      Months: (k) => addMonths(now, -k),
      Years: (k) => addMonths(now, -12 * k),
    };
    switch (fn) {
      case 'Today':
        return { from: today, to: today + DAY };
      case 'Yesterday':
        return { from: today - DAY, to: today };
      case 'Tomorrow':
        return { from: today + DAY, to: today + 2 * DAY };
      case 'Last7Days':
        return { from: today - 7 * DAY, to: now, toInclusive: true };
      case 'Next7Days':
        return { from: now, to: today + 8 * DAY };
      case 'ThisWeek':
        return { from: week, to: week + 7 * DAY };
      case 'LastWeek':
        return { from: week - 7 * DAY, to: week };
      case 'NextWeek':
        return { from: week + 7 * DAY, to: week + 14 * DAY };
      case 'ThisMonth':
        return { from: month(0), to: month(1) };
      case 'LastMonth':
        return { from: month(-1), to: month(0) };
      case 'NextMonth':
        return { from: month(1), to: month(2) };
      case 'ThisYear':
        return { from: year(0), to: year(1) };
      case 'LastYear':
        return { from: year(-1), to: year(0) };
      case 'NextYear':
        return { from: year(1), to: year(2) };
      case 'LastXHours':
        return { from: now - n() * 3_600_000, to: now, toInclusive: true };
      case 'NextXHours':
        return { from: now, to: now + n() * 3_600_000, toInclusive: true };
      case 'LastXDays':
        return { from: today - n() * DAY, to: now, toInclusive: true };
      case 'NextXDays':
        return { from: now, to: today + (n() + 1) * DAY };
      case 'LastXWeeks':
        return { from: today - 7 * n() * DAY, to: now, toInclusive: true };
      case 'NextXWeeks':
        return { from: now, to: today + (7 * n() + 1) * DAY };
      case 'LastXMonths':
        return { from: addMonths(today, -n()), to: now, toInclusive: true };
      case 'NextXMonths':
        return { from: now, to: addMonths(today, n()) + DAY };
      case 'LastXYears':
        return { from: addMonths(today, -12 * n()), to: now, toInclusive: true };
      case 'NextXYears':
        return { from: now, to: addMonths(today, 12 * n()) + DAY };
      case 'On': {
        const d = day();
        return { from: d, to: d + DAY };
      }
      case 'OnOrAfter':
        return { from: day() };
      case 'OnOrBefore':
        return { before: day() + DAY };
      default: {
        const older = /^OlderThanX(Minutes|Hours|Days|Weeks|Months|Years)$/.exec(fn);
        const unit = older?.[1] === undefined ? undefined : units[older[1]];
        return unit === undefined ? undefined : { before: unit(n()) };
      }
    }
  }

  /** `$orderby` keys, then the primary key so that equal keys page deterministically. */
  orderBy(table: Table, alias: string, clause: OrderByClause | undefined): Sql {
    const scope: Scope = { root: { table, alias }, variables: new Map() };
    const keys: Sql[] = [];
    const items = clause?.items ?? [];
    if (items.length > MAX_ORDERBY_ITEMS) throw limitExceeded('$orderby items', items.length, MAX_ORDERBY_ITEMS);
    for (const item of items) {
      const node = this.resolveAlias(item.expression);
      if (node.kind !== 'member') {
        throw guessed(400, 'querySyntax', `The $orderby expression '${describe(node)}' must be a property.`);
      }
      const operand = this.member(node, scope);
      let key = operand.sql;
      const column = operand.column;
      if (column !== undefined && isLookupType(column.type) && node.segments.length === 1) {
        // Dataverse orders lookups by the primary name of the related row.
        const target =
          column.targets?.length === 1 ? this.env.schema.tables.get(column.targets[0]?.table ?? '') : undefined;
        if (target?.primaryNameAttribute !== undefined) {
          const n = this.nextAlias('o');
          key = sql(
            `(SELECT ${col(n, target.primaryNameAttribute)} FROM ${sqlTable(target)} ${n} WHERE ${col(n, target.primaryIdAttribute)} = ${col(alias, column.name)})`,
          );
        }
      }
      const collate = operand.kind === 'string' ? ' COLLATE NOCASE' : '';
      keys.push(cat(key, `${collate}${item.direction === 'desc' ? ' DESC' : ''}`));
    }
    keys.push(sql(col(alias, table.primaryIdAttribute)));
    return joinSql(keys, ', ');
  }
}

type NamedValueLike = FunctionCallNode['parameters'][number];

/** Columns named by `$select`, in request order; undefined for all columns. Write-only columns are refused. */
export function selectedColumns(table: Table, clause: SelectClause | undefined): Column[] | undefined {
  if (clause === undefined) return undefined;
  const columns: Column[] = [];
  for (const item of clause.items) {
    const names = item.segments.map((s) => s.name);
    if (names.length === 1 && names[0] === '*') return undefined;
    const name = names.join('/');
    const column = names.length === 1 ? findColumn(table, name) : undefined;
    if (column === undefined) throw propertyNotFound(table.logicalName, name);
    if (!column.validForRead) throw notValidForRead(table.logicalName, column.name);
    if (!columns.includes(column)) columns.push(column);
  }
  return columns;
}

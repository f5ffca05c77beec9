/**
 * Prints syntax trees back to canonical OData text: single spaces around operators, no spaces after
 * commas, parentheses only where precedence needs them. Parsing the output gives the same tree
 * (spans aside), which is what the round-trip tests check.
 */
import { operatorPrecedence } from './parser';
import type {
  ApplyClause,
  ExpandClause,
  ExpandItem,
  ExpressionNode,
  IntegerValue,
  ODataUrl,
  OrderByClause,
  PathSegment,
  QueryOptions,
  SelectClause,
  TextValue,
  Transformation,
} from './syntax';

/** Precedence of the node as an operand; primaries bind tightest. */
function precedenceOf(node: ExpressionNode): number {
  if (node.kind === 'binary') return operatorPrecedence(node.operator);
  if (node.kind === 'in') return operatorPrecedence('in');
  if (node.kind === 'unary') return 6;
  return 7;
}

function wrap(node: ExpressionNode, minPrecedence: number): string {
  const text = printExpression(node);
  return precedenceOf(node) < minPrecedence ? `(${text})` : text;
}

export function quoteString(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

export function printExpression(node: ExpressionNode): string {
  switch (node.kind) {
    case 'literal':
      if (node.literalType === 'string') {
        return node.raw.startsWith('"') ? JSON.stringify(node.value) : quoteString(String(node.value));
      }
      return node.raw;
    case 'array':
      return `[${node.items.map(printExpression).join(',')}]`;
    case 'object':
      return node.raw;
    case 'alias':
      return `@${node.name}`;
    case 'template':
      return `{{${node.name}}}`;
    case 'member':
      return node.segments.map((s) => s.name).join('/');
    case 'lambda': {
      const source = printExpression(node.source);
      if (node.predicate === undefined && node.variable === undefined) return `${source}/${node.operator}()`;
      const variable = node.variable ? `${node.variable.name}:` : '';
      return `${source}/${node.operator}(${variable}${node.predicate ? printExpression(node.predicate) : ''})`;
    }
    case 'call':
      return `${node.name}(${node.args.map(printExpression).join(',')})`;
    case 'functionCall':
      return `${node.name}(${node.parameters.map((p) => `${p.name}=${printExpression(p.value)}`).join(',')})`;
    case 'binary': {
      const precedence = operatorPrecedence(node.operator);
      // Long `a or b or c …` chains nest to the left; walking them in a loop keeps deep trees off the stack.
      const tail: string[] = [];
      let current: ExpressionNode = node;
      while (current.kind === 'binary' && operatorPrecedence(current.operator) === precedence) {
        // Left-associative: an equal-precedence operand on the right needs parentheses.
        tail.push(`${current.operator} ${wrap(current.right, precedence + 1)}`);
        current = current.left;
      }
      return `${wrap(current, precedence)} ${tail.reverse().join(' ')}`;
    }
    case 'in': {
      const precedence = operatorPrecedence('in');
      const right = node.right.kind === 'list' ? printExpression(node.right) : wrap(node.right, precedence + 1);
      return `${wrap(node.left, precedence)} in ${right}`;
    }
    case 'list':
      return `(${node.items.map(printExpression).join(',')})`;
    case 'unary': {
      const operand = node.operand;
      if (node.operator === 'not') return `not ${wrap(operand, 6)}`;
      // `-5` would read back as a negative literal, `-2024-01-01` as a date: keep literals apart.
      const needsParens = operand.kind === 'literal' || precedenceOf(operand) < 6;
      return needsParens ? `-(${printExpression(operand)})` : `-${printExpression(operand)}`;
    }
    case 'error':
      return '';
  }
}

export function printSelect(clause: SelectClause): string {
  return clause.items.map((item) => item.segments.map((s) => s.name).join('/')).join(',');
}

export function printOrderBy(clause: OrderByClause): string {
  return clause.items
    .map((item) => printExpression(item.expression) + (item.direction ? ` ${item.direction}` : ''))
    .join(',');
}

function printExpandItem(item: ExpandItem): string {
  const path = item.segments.map((s) => s.name).join('/');
  const o = item.options;
  const parts: string[] = [];
  if (o.select) parts.push(`$select=${printSelect(o.select)}`);
  if (o.filter) parts.push(`$filter=${printExpression(o.filter)}`);
  if (o.orderBy) parts.push(`$orderby=${printOrderBy(o.orderBy)}`);
  if (o.top?.value !== undefined) parts.push(`$top=${o.top.value}`);
  if (o.skip?.value !== undefined) parts.push(`$skip=${o.skip.value}`);
  if (o.count?.value !== undefined) parts.push(`$count=${String(o.count.value)}`);
  if (o.levels) parts.push(`$levels=${o.levels.max ? 'max' : String(o.levels.value)}`);
  if (o.search) parts.push(`$search=${o.search.value}`);
  if (o.expand) parts.push(`$expand=${printExpand(o.expand)}`);
  return parts.length > 0 ? `${path}(${parts.join(';')})` : path;
}

export function printExpand(clause: ExpandClause): string {
  return clause.items.map(printExpandItem).join(',');
}

function printTransformation(t: Transformation): string {
  switch (t.kind) {
    case 'aggregate':
      return `aggregate(${t.items
        .map((item) => {
          const alias = item.alias ? ` as ${item.alias.name}` : '';
          if (item.expression === undefined) return `$count${alias}`;
          return `${printExpression(item.expression)} with ${item.method}${alias}`;
        })
        .join(',')})`;
    case 'groupby': {
      const properties = `(${t.properties.map(printExpression).join(',')})`;
      const rest = t.transformations.length > 0 ? `,${t.transformations.map(printTransformation).join('/')}` : '';
      return `groupby(${properties}${rest})`;
    }
    case 'filter':
      return `filter(${printExpression(t.expression)})`;
    case 'orderby':
      return `orderby(${printOrderBy(t.orderBy)})`;
    case 'top':
    case 'skip':
      return `${t.kind}(${t.count.value ?? ''})`;
    case 'identity':
      return 'identity';
    case 'unknownTransformation':
      return `${t.name}()`;
  }
}

export function printApply(clause: ApplyClause): string {
  return clause.transformations.map(printTransformation).join('/');
}

function printSegment(segment: PathSegment): string {
  if (segment.kind === 'system' || segment.args === undefined) return segment.name;
  const args = segment.args;
  if (args.kind === 'keyValue') return `${segment.name}(${printExpression(args.value)})`;
  return `${segment.name}(${args.values.map((v) => `${v.name}=${printExpression(v.value)}`).join(',')})`;
}

/**
 * Characters that must be escaped inside a query option value: the separators of the query string
 * itself, `%`, `#`, `+` (read as a space by some servers) and whitespace.
 */
export function encodeQueryValue(value: string): string {
  return value.replace(/[%&#+\s"<>\\^`{|}]/g, (c) => encodeURIComponent(c));
}

/** Option values in canonical form, in the order Microsoft's samples use; `encoded` marks values already percent-encoded. */
export function printQueryOptions(query: QueryOptions): [name: string, value: string, encoded: boolean][] {
  const out: [string, string, boolean][] = [];
  if (query.select) out.push(['$select', printSelect(query.select), false]);
  if (query.expand) out.push(['$expand', printExpand(query.expand), false]);
  if (query.filter) out.push(['$filter', printExpression(query.filter), false]);
  if (query.apply) out.push(['$apply', printApply(query.apply), false]);
  if (query.orderBy) out.push(['$orderby', printOrderBy(query.orderBy), false]);
  const integer = (name: string, value: IntegerValue | undefined): void => {
    if (value?.template) out.push([name, printExpression(value.template), false]);
    else if (value?.value !== undefined) out.push([name, String(value.value), false]);
  };
  integer('$top', query.top);
  integer('$skip', query.skip);
  if (query.count?.value !== undefined) out.push(['$count', String(query.count.value), false]);
  // Opaque values (paging cookies hold percent-escapes of their own) are always printed encoded,
  // so that the output decodes back to the same value.
  const opaque = (name: string, value: TextValue | undefined): void => {
    if (value) out.push([name, encodeQueryValue(value.value), true]);
  };
  opaque('$skiptoken', query.skipToken);
  opaque('$deltatoken', query.deltaToken);
  opaque('$search', query.search);
  opaque('$format', query.format);
  opaque('$id', query.id);
  opaque('fetchXml', query.fetchXml);
  opaque('savedQuery', query.savedQuery);
  opaque('userQuery', query.userQuery);
  for (const alias of query.aliases) out.push([`@${alias.name}`, printExpression(alias.value), false]);
  return out;
}

export interface PrintUrlOptions {
  /** Percent-encode option values for the wire. Default false (the as-typed form). */
  readonly encode?: boolean;
}

/** The URL relative to the service root (or with the root it was written with). */
export function printODataUrl(url: ODataUrl, options: PrintUrlOptions = {}): string {
  const root = url.serviceRoot?.text ?? '';
  const path = url.path.segments.map(printSegment).join('/');
  const query = printQueryOptions(url.query)
    .map(([name, value, encoded]) => `${name}=${options.encode && !encoded ? encodeQueryValue(value) : value}`)
    .join('&');
  return `${root}${path}${query ? `?${query}` : ''}`;
}

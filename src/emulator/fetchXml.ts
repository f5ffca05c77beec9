/**
 * `?fetchXml=` (reference §6), the common subset: entity, attribute, all-attributes, order, filter and
 * condition (nested and/or), link-entity (inner/outer), distinct, top, count, page, paging cookies.
 * Parsed with saxes; anything else answers a clear 400.
 */
import type { SaxesTagPlain } from 'saxes';
import { SaxesParser } from 'saxes';
import type { ExpressionNode, FunctionCallNode } from '../odata/url';
import { annotate, MORE_RECORDS, PAGING_COOKIE } from './annotations';
import { propertyName } from './csdl';
import type { Engine } from './engine';
import { MAX_PAGE } from './engine';
import { guessed, notValidForCondition, notValidForRead } from './errors';
import type { Sql, SqlParam } from './query';
import { cat, col, joinSql, logical, operandSql, sql, valueKind } from './query';
import { etag, jsonValue } from './records';
import type { Column, Table } from './schema/schema';
import { isLookupType } from './schema/schema';
import { AGGREGATE_LIMIT } from './apply';
import type { Row } from './store';
import { sqlTable } from './store';

interface Element {
  readonly name: string;
  readonly attributes: Readonly<Record<string, string>>;
  readonly children: Element[];
  text: string;
}

const MAX_ELEMENTS = 2000;

function fail(message: string): never {
  throw guessed(400, 'fetchXml', `The FetchXML is not valid: ${message}`);
}

export function parseFetchXml(xml: string): Element {
  const parser = new SaxesParser({ xmlns: false });
  const stack: Element[] = [];
  let root: Element | undefined;
  let count = 0;
  let error: string | undefined;
  parser.on('error', (e) => {
    error ??= e.message;
  });
  parser.on('opentag', (tag: SaxesTagPlain) => {
    count += 1;
    if (count > MAX_ELEMENTS) {
      error ??= 'the document has too many elements';
      return;
    }
    const attributes: Record<string, string> = {};
    for (const [k, v] of Object.entries(tag.attributes)) attributes[k] = String(v);
    const element: Element = { name: tag.name, attributes, children: [], text: '' };
    const parent = stack[stack.length - 1];
    if (parent === undefined) root ??= element;
    else parent.children.push(element);
    stack.push(element);
  });
  parser.on('text', (text) => {
    const current = stack[stack.length - 1];
    if (current !== undefined) current.text += text;
  });
  parser.on('closetag', () => {
    stack.pop();
  });
  try {
    parser.write(xml).close();
  } catch (e) {
    error ??= e instanceof Error ? e.message : 'unreadable XML';
  }
  if (error !== undefined) fail(error);
  if (root?.name !== 'fetch') fail('the root element must be <fetch>.');
  return root;
}

interface Linked {
  readonly table: Table;
  readonly alias: string;
  /** Prefix of its attributes in results (`alias.`), empty for the root entity. */
  readonly prefix: string;
}

interface Plan {
  /** Selected columns; in an aggregate query each keeps its `<attribute>` (aggregate, groupby, alias). */
  readonly outputs: { readonly linked: Linked; readonly column: Column; readonly element?: Element }[];
  readonly joins: Sql[];
  readonly where: Sql[];
  readonly orders: Sql[];
  readonly aliases: Map<string, Linked>;
}

function attr(element: Element, name: string): string | undefined {
  const value = element.attributes[name];
  return value === undefined || value === '' ? undefined : value;
}

function columnOf(linked: Linked, name: string | undefined): Column {
  const column = name === undefined ? undefined : linked.table.columns.get(name);
  if (column === undefined) fail(`'${linked.table.logicalName}' has no attribute '${name ?? ''}'.`);
  return column;
}

/** A column a condition, order or link compares: write-only columns are refused. */
function operandOf(linked: Linked, name: string | undefined): Column {
  const column = columnOf(linked, name);
  if (!column.validForRead) throw notValidForCondition(linked.table.logicalName, column.name);
  return column;
}

function typed(column: Column, text: string): SqlParam {
  switch (valueKind(column.type)) {
    case 'number': {
      const n = Number(text);
      if (text.trim() === '' || !Number.isFinite(n)) fail(`'${text}' is not a number for '${column.name}'.`);
      return n;
    }
    case 'boolean':
      if (text === 'true' || text === '1') return 1;
      if (text === 'false' || text === '0') return 0;
      return fail(`'${text}' is not a boolean for '${column.name}'.`);
    case 'guid':
      return text.replace(/[{}]/g, '').toLowerCase();
    default:
      return text;
  }
}

const COMPARISONS: Record<string, string> = { eq: '=', ne: '<>', neq: '<>', gt: '>', ge: '>=', lt: '<', le: '<=' };
const LIKES: Record<string, [boolean, (v: string) => string]> = {
  like: [false, (v) => v],
  'not-like': [true, (v) => v],
  'begins-with': [false, (v) => `${v}%`],
  'not-begin-with': [true, (v) => `${v}%`],
  'ends-with': [false, (v) => `%${v}`],
  'not-end-with': [true, (v) => `%${v}`],
};
/** FetchXML operators that are Web API query functions, so that both share one implementation. */
const FUNCTIONS: Record<string, string> = {
  today: 'Today',
  yesterday: 'Yesterday',
  tomorrow: 'Tomorrow',
  'this-month': 'ThisMonth',
  'last-month': 'LastMonth',
  'this-year': 'ThisYear',
  'last-x-days': 'LastXDays',
  'next-x-days': 'NextXDays',
  'last-x-hours': 'LastXHours',
  'olderthan-x-days': 'OlderThanXDays',
  on: 'On',
  'on-or-after': 'OnOrAfter',
  'on-or-before': 'OnOrBefore',
  'eq-userid': 'EqualUserId',
  'ne-userid': 'NotEqualUserId',
  'eq-businessid': 'EqualBusinessId',
  'ne-businessid': 'NotEqualBusinessId',
  'contain-values': 'ContainValues',
  'not-contain-values': 'DoesNotContainValues',
};

const SPAN = { start: 0, end: 0 };

function stringLiteral(value: string): ExpressionNode {
  return { kind: 'literal', literalType: 'string', value, raw: `'${value}'`, span: SPAN };
}

function functionNode(name: string, property: string, value: string | undefined, values: string[]): FunctionCallNode {
  const parameters = [
    { kind: 'namedValue' as const, name: 'PropertyName', nameSpan: SPAN, value: stringLiteral(property), span: SPAN },
  ];
  if (value !== undefined) {
    parameters.push({
      kind: 'namedValue',
      name: 'PropertyValue',
      nameSpan: SPAN,
      value: stringLiteral(value),
      span: SPAN,
    });
  }
  if (values.length > 0) {
    parameters.push({
      kind: 'namedValue',
      name: 'PropertyValues',
      nameSpan: SPAN,
      value: { kind: 'array', items: values.map(stringLiteral), span: SPAN },
      span: SPAN,
    });
  }
  return { kind: 'functionCall', name: `Microsoft.Dynamics.CRM.${name}`, nameSpan: SPAN, parameters, span: SPAN };
}

class Planner {
  private counter = 0;
  readonly plan: Plan = { outputs: [], joins: [], where: [], orders: [], aliases: new Map() };

  constructor(
    private readonly engine: Engine,
    private readonly aggregate = false,
  ) {}

  entity(element: Element, linked: Linked, conditions: Sql[]): void {
    for (const child of element.children) {
      switch (child.name) {
        case 'attribute': {
          const column = columnOf(linked, attr(child, 'name'));
          if (!column.validForRead) throw notValidForRead(linked.table.logicalName, column.name);
          if (this.aggregate) {
            // The same column may be aggregated twice (sum and avg), each under its own alias.
            this.plan.outputs.push({ linked, column, element: child });
          } else if (!this.plan.outputs.some((o) => o.linked === linked && o.column === column)) {
            this.plan.outputs.push({ linked, column });
          }
          break;
        }
        case 'all-attributes':
          // Like a ColumnSet with AllColumns: write-only columns are silently left out.
          for (const column of linked.table.columns.values()) {
            if (column.validForRead) this.plan.outputs.push({ linked, column });
          }
          break;
        case 'order': {
          const byAlias = attr(child, 'alias');
          if (this.aggregate && byAlias !== undefined) {
            // An aggregate query orders by the alias of a grouped or aggregated value.
            if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(byAlias)) fail(`'${byAlias}' is not a valid alias.`);
            this.plan.orders.push(sql(`"${byAlias}"${attr(child, 'descending') === 'true' ? ' DESC' : ''}`));
            break;
          }
          const column = operandOf(linked, attr(child, 'attribute'));
          const collate = valueKind(column.type) === 'string' ? ' COLLATE NOCASE' : '';
          this.plan.orders.push(
            sql(`${operandSql(linked.alias, column)}${collate}${attr(child, 'descending') === 'true' ? ' DESC' : ''}`),
          );
          break;
        }
        case 'filter':
          conditions.push(this.filter(child, linked));
          break;
        case 'link-entity':
          this.link(child, linked);
          break;
        default:
          fail(`<${child.name}> is not supported inside <${element.name}>.`);
      }
    }
  }

  private link(element: Element, parent: Linked): void {
    const name = attr(element, 'name');
    const table = name === undefined ? undefined : this.engine.env.schema.tables.get(name);
    if (table === undefined) fail(`<link-entity name="${name ?? ''}"> names no table.`);
    this.counter += 1;
    const aliasName = attr(element, 'alias') ?? `${table.logicalName}${this.counter}`;
    if (this.plan.aliases.has(aliasName)) fail(`the alias '${aliasName}' is used twice.`);
    const linked: Linked = { table, alias: `f${this.counter}`, prefix: `${aliasName}.` };
    this.plan.aliases.set(aliasName, linked);
    const from = operandOf(linked, attr(element, 'from'));
    const to = operandOf(parent, attr(element, 'to'));
    const type = attr(element, 'link-type') ?? 'inner';
    if (type !== 'inner' && type !== 'outer') fail(`link-type '${type}' is not supported.`);
    const conditions: Sql[] = [];
    this.entity(element, linked, conditions);
    const on = joinSql(
      [sql(`${col(linked.alias, from.name)} = ${col(parent.alias, to.name)}`), ...conditions],
      ' AND ',
    );
    this.plan.joins.push(cat(` ${type === 'outer' ? 'LEFT JOIN' : 'JOIN'} ${sqlTable(table)} ${linked.alias} ON `, on));
  }

  private filter(element: Element, linked: Linked): Sql {
    const type = attr(element, 'type') ?? 'and';
    if (type !== 'and' && type !== 'or') fail(`filter type '${type}' is not supported.`);
    const parts: Sql[] = [];
    for (const child of element.children) {
      if (child.name === 'condition') parts.push(this.condition(child, linked));
      else if (child.name === 'filter') parts.push(this.filter(child, linked));
      else fail(`<${child.name}> is not supported inside <filter>.`);
    }
    return logical(parts, type === 'and' ? ' AND ' : ' OR ');
  }

  private condition(element: Element, owner: Linked): Sql {
    const entityName = attr(element, 'entityname');
    const linked = entityName === undefined ? owner : this.plan.aliases.get(entityName);
    if (linked === undefined) fail(`entityname '${entityName ?? ''}' names no link-entity alias.`);
    const column = operandOf(linked, attr(element, 'attribute'));
    const operator = attr(element, 'operator') ?? fail('a condition has no operator.');
    const value = attr(element, 'value');
    const values = element.children.filter((c) => c.name === 'value').map((c) => c.text.trim());
    const target = operandSql(linked.alias, column);
    const collate = valueKind(column.type) === 'string' ? ' COLLATE NOCASE' : '';
    const needValue = (): string => value ?? fail(`operator '${operator}' needs a value.`);
    const comparison = COMPARISONS[operator];
    if (comparison !== undefined) return sql(`(${target} ${comparison} ?${collate})`, typed(column, needValue()));
    const like = LIKES[operator];
    if (like !== undefined) {
      if (valueKind(column.type) !== 'string') fail(`operator '${operator}' needs a text attribute.`);
      return sql(`(${target} ${like[0] ? 'NOT LIKE' : 'LIKE'} ?)`, like[1](needValue()));
    }
    switch (operator) {
      case 'null':
        return sql(`(${target} IS NULL)`);
      case 'not-null':
        return sql(`(${target} IS NOT NULL)`);
      case 'in':
      case 'not-in': {
        if (values.length === 0) return sql(operator === 'in' ? '0' : '1');
        const list = values.map(() => '?').join(', ');
        return sql(
          `(${target}${collate} ${operator === 'in' ? 'IN' : 'NOT IN'} (${list}))`,
          ...values.map((v) => typed(column, v)),
        );
      }
      case 'between':
      case 'not-between': {
        const [low, high] = values;
        if (values.length !== 2 || low === undefined || high === undefined)
          fail(`'${operator}' needs two <value> elements.`);
        return sql(
          `(${target} ${operator === 'between' ? 'BETWEEN' : 'NOT BETWEEN'} ? AND ?)`,
          typed(column, low),
          typed(column, high),
        );
      }
      default:
        break;
    }
    const fn = FUNCTIONS[operator];
    if (fn === undefined)
      throw guessed(400, 'functionNotSupported', `The FetchXML operator '${operator}' is not supported.`);
    const node = functionNode(fn, column.name, value, values);
    return this.engine.compiler.filter(linked.table, linked.alias, node);
  }
}

function positiveInt(element: Element, name: string): number | undefined {
  const text = attr(element, name);
  if (text === undefined) return undefined;
  if (!/^\d{1,9}$/.test(text) || Number(text) < 1) fail(`${name}="${text}" must be a positive whole number.`);
  return Number(text);
}

/** Runs a FetchXML query against the entity set's table. */
export function runFetchXml(
  engine: Engine,
  table: Table,
  xml: string,
  entitySet: string,
  withCount: boolean,
): Record<string, unknown> {
  const fetch = parseFetchXml(xml);
  const aggregate = attr(fetch, 'aggregate') === 'true';
  const entities = fetch.children.filter((c) => c.name === 'entity');
  const entity = entities[0];
  if (entities.length !== 1 || entity === undefined || fetch.children.length !== 1) {
    fail('<fetch> must hold exactly one <entity>.');
  }
  if (attr(entity, 'name') !== table.logicalName) {
    fail(`the entity '${attr(entity, 'name') ?? ''}' does not match the entity set '${entitySet}'.`);
  }
  const top = positiveInt(fetch, 'top');
  const count = positiveInt(fetch, 'count');
  const page = positiveInt(fetch, 'page') ?? 1;
  if (top !== undefined && (count !== undefined || attr(fetch, 'page') !== undefined)) {
    fail('top cannot be combined with count or page.');
  }
  const root: Linked = { table, alias: 't0', prefix: '' };
  const planner = new Planner(engine, aggregate);
  const conditions: Sql[] = [];
  planner.entity(entity, root, conditions);
  const plan = planner.plan;
  if (aggregate) return runAggregate(engine, table, plan, conditions, entitySet, top ?? count);
  const primary = table.columns.get(table.primaryIdAttribute);
  if (primary !== undefined && !plan.outputs.some((o) => o.linked === root && o.column === primary)) {
    plan.outputs.push({ linked: root, column: primary });
  }
  const select: string[] = [`${col('t0', 'versionnumber')} AS "c_v"`];
  plan.outputs.forEach((o, i) => {
    select.push(`${col(o.linked.alias, o.column.name)} AS "c${i}"`);
    if (isLookupType(o.column.type)) select.push(`${col(o.linked.alias, `${o.column.name}__type`)} AS "c${i}_t"`);
  });
  const size = top ?? Math.min(count ?? MAX_PAGE, MAX_PAGE);
  const offset = top === undefined ? (page - 1) * size : 0;
  const distinct = attr(fetch, 'distinct') === 'true' ? 'DISTINCT ' : '';
  const from = cat(
    ` FROM ${sqlTable(table)} t0`,
    ...plan.joins,
    conditions.length > 0 ? cat(' WHERE ', joinSql(conditions, ' AND ')) : '',
  );
  const query = cat(
    `SELECT ${distinct}${select.join(', ')}`,
    from,
    ' ORDER BY ',
    joinSql([...plan.orders, sql(col('t0', table.primaryIdAttribute))], ', '),
    sql(' LIMIT ? OFFSET ?', top === undefined ? size + 1 : size, offset),
  );
  const rows = engine.store.all(query.text, query.params);
  const more = top === undefined && rows.length > size;
  const value = rows.slice(0, size).map((r) => {
    const out: Record<string, unknown> = { '@odata.etag': etag({ versionnumber: r.c_v ?? null }) };
    plan.outputs.forEach((o, i) => {
      const stored = r[`c${i}`] ?? null;
      // FetchXML results leave out null values (reference §6).
      if (stored === null) return;
      const name = `${o.linked.prefix}${propertyName(o.column)}`;
      const row: Row = { [o.column.name]: stored, [`${o.column.name}__type`]: r[`c${i}_t`] ?? null };
      annotate(out, name, o.column, row, engine.annotations, engine.formatter);
      out[name] = jsonValue(o.column, stored);
    });
    return out;
  });
  const body: Record<string, unknown> = { '@odata.context': `${engine.webApi}$metadata#${entitySet}` };
  if (withCount) {
    const counted = cat('SELECT COUNT(*) AS "n" FROM (SELECT 1', from, sql(' LIMIT ?)', MAX_PAGE + 1));
    body['@odata.count'] = Math.min(Number(engine.store.all(counted.text, counted.params)[0]?.n ?? 0), MAX_PAGE);
  }
  const last = rows[Math.min(rows.length, size) - 1];
  const first = rows[0];
  if (more && first !== undefined && last !== undefined) {
    const key = plan.outputs.findIndex((o) => o.linked === root && o.column === primary);
    const id = (r: Row): string => `{${String(r[`c${key}`] ?? '').toUpperCase()}}`;
    const inner = `<cookie page="${page}"><${table.primaryIdAttribute} last="${id(last)}" first="${id(first)}" /></cookie>`;
    if (engine.annotations?.wants(PAGING_COOKIE)) {
      body[`@${PAGING_COOKIE}`] =
        `<cookie pagenumber="${page + 1}" pagingcookie="${encodeURIComponent(encodeURIComponent(inner).replace(/%[0-9A-F]{2}/g, (e) => e.toLowerCase()))}" istracking="False" />`;
    }
    if (engine.annotations?.wants(MORE_RECORDS)) body[`@${MORE_RECORDS}`] = true;
  }
  body.value = value;
  return body;
}

/** `dategrouping` values and the SQLite expression of each over an ISO date-time text. */
const DATE_GROUPINGS: Record<string, (value: string) => string> = {
  year: (v) => `CAST(strftime('%Y', ${v}) AS INTEGER)`,
  quarter: (v) => `((CAST(strftime('%m', ${v}) AS INTEGER) + 2) / 3)`,
  month: (v) => `CAST(strftime('%m', ${v}) AS INTEGER)`,
  week: (v) => `(CAST(strftime('%W', ${v}) AS INTEGER) + 1)`,
  day: (v) => `CAST(strftime('%d', ${v}) AS INTEGER)`,
};

const AGGREGATES: Record<string, string> = { sum: 'SUM', avg: 'AVG', min: 'MIN', max: 'MAX' };

/**
 * An aggregate query (`<fetch aggregate="true">`): `count`, `countcolumn` (with `distinct="true"`), `sum`, `avg`,
 * `min`, `max`, `groupby` with `dategrouping` (UTC, as Dataverse groups), each value under its `alias`, ordered by
 * alias. As Dataverse, more than 50,000 source rows is the AggregateQueryRecordLimit error (0x8004E023).
 * https://learn.microsoft.com/power-apps/developer/data-platform/fetchxml/aggregate-data
 */
function runAggregate(
  engine: Engine,
  table: Table,
  plan: Plan,
  conditions: Sql[],
  entitySet: string,
  rowLimit: number | undefined,
): Record<string, unknown> {
  const from = cat(
    ` FROM ${sqlTable(table)} t0`,
    ...plan.joins,
    conditions.length > 0 ? cat(' WHERE ', joinSql(conditions, ' AND ')) : '',
  );
  const counted = cat('SELECT COUNT(*) AS "n" FROM (SELECT 1', from, sql(' LIMIT ?)', AGGREGATE_LIMIT + 1));
  if (Number(engine.store.all(counted.text, counted.params)[0]?.n ?? 0) > AGGREGATE_LIMIT) {
    throw guessed(400, 'aggregateLimit', 'AggregateQueryRecordLimit exceeded. Cannot perform this operation.');
  }
  if (plan.outputs.length === 0) fail('an aggregate query needs at least one <attribute> with aggregate or groupby.');
  const select: string[] = [];
  const groups: string[] = [];
  const shapes: { alias: string; column: Column | undefined }[] = [];
  const seen = new Set<string>();
  for (const output of plan.outputs) {
    const element = output.element as Element;
    const alias = attr(element, 'alias');
    if (alias === undefined || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(alias)) {
      fail(`every <attribute> of an aggregate query needs an alias (a name of letters, digits and _).`);
    }
    if (seen.has(alias)) fail(`the alias '${alias}' is used twice.`);
    seen.add(alias);
    const value = operandSql(output.linked.alias, output.column);
    const method = attr(element, 'aggregate');
    if (attr(element, 'groupby') === 'true') {
      const grouping = attr(element, 'dategrouping');
      let key = value;
      if (grouping !== undefined) {
        const by = DATE_GROUPINGS[grouping];
        if (by === undefined) fail(`dategrouping '${grouping}' is not supported.`);
        if (valueKind(output.column.type) !== 'datetime')
          fail(`dategrouping needs a date column, not '${output.column.name}'.`);
        key = by(value);
      }
      select.push(`${key} AS "${alias}"`);
      groups.push(key);
      shapes.push({ alias, column: grouping === undefined ? output.column : undefined });
      continue;
    }
    if (method === 'count') select.push(`COUNT(*) AS "${alias}"`);
    else if (method === 'countcolumn') {
      const distinct = attr(element, 'distinct') === 'true' ? 'DISTINCT ' : '';
      select.push(`COUNT(${distinct}${value}) AS "${alias}"`);
    } else if (method !== undefined && AGGREGATES[method] !== undefined) {
      if ((method === 'sum' || method === 'avg') && valueKind(output.column.type) !== 'number') {
        fail(`aggregate '${method}' needs a numeric attribute, not '${output.column.name}'.`);
      }
      select.push(`${AGGREGATES[method]}(${value}) AS "${alias}"`);
    } else {
      fail(`<attribute name="${output.column.name}"> in an aggregate query needs aggregate= or groupby="true".`);
    }
    shapes.push({ alias, column: method === 'min' || method === 'max' ? output.column : undefined });
  }
  const query = cat(
    `SELECT ${select.join(', ')}`,
    from,
    groups.length > 0 ? ` GROUP BY ${groups.join(', ')}` : '',
    plan.orders.length > 0 ? cat(' ORDER BY ', joinSql(plan.orders, ', ')) : '',
    rowLimit === undefined ? '' : sql(' LIMIT ?', rowLimit),
  );
  const rows = engine.store.all(query.text, query.params);
  const value = rows.map((row) => {
    const out: Record<string, unknown> = {};
    for (const shape of shapes) {
      const stored = row[shape.alias] ?? null;
      out[shape.alias] = shape.column === undefined || stored === null ? stored : jsonValue(shape.column, stored);
    }
    return out;
  });
  return { '@odata.context': `${engine.webApi}$metadata#${entitySet}`, value };
}

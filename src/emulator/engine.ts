/**
 * Runs OData reads over the store: selection, filtering, ordering, paging, counts, expansion and
 * annotations, producing Dataverse-shaped JSON.
 */
import type { ExpandClause, ExpandItem, ExpressionNode, OrderByClause, SelectClause } from '../odata/url';
import type { AnnotationFilter } from './annotations';
import { annotate, Formatter, TOTAL_RECORD_COUNT, TOTAL_RECORD_COUNT_EXCEEDED } from './annotations';
import { propertyName } from './csdl';
import { badRequest, guessed, propertyNotFound } from './errors';
import type { QueryEnv, Sql } from './query';
import { cat, col, joinSql, QueryCompiler, referencingType, selectedColumns, sql } from './query';
import { etag, jsonValue } from './records';
import type { Column, ManyToMany, Navigation, Table } from './schema/schema';
import { isLookupType, manyToManySide } from './schema/schema';
import type { Row, Store } from './store';
import { intersectStorage, sqlTable } from './store';

export const MAX_PAGE = 5000;
const MAX_EXPANDS = 15;

export interface ExpandPlan {
  readonly name: string;
  readonly navigation: Navigation;
  readonly selection: Selection;
  readonly filter: ExpressionNode | undefined;
  readonly orderBy: OrderByClause | undefined;
  readonly top: number | undefined;
  readonly ref: boolean;
}

export interface Selection {
  /** Undefined for every column. */
  readonly columns: readonly Column[] | undefined;
  readonly expands: readonly ExpandPlan[];
}

/** Where a collection's rows come from besides `$filter`: a whole set, or the rows related to one record. */
export type Source =
  | { readonly kind: 'set' }
  | { readonly kind: 'oneToMany'; readonly column: string; readonly id: string; readonly type: string }
  | { readonly kind: 'manyToMany'; readonly relationship: ManyToMany; readonly mine: 'a' | 'b'; readonly id: string };

export interface Position {
  readonly page: number;
  /** Primary key of the last row of the previous page (default order). */
  readonly after: string | undefined;
  /** Rows already returned (explicit `$orderby`). */
  readonly offset: number;
}

export interface CollectionRequest {
  readonly table: Table;
  readonly source: Source;
  readonly selection: Selection;
  readonly filter: ExpressionNode | undefined;
  readonly orderBy: OrderByClause | undefined;
  readonly top: number | undefined;
  readonly pageSize: number | undefined;
  readonly count: boolean;
  readonly position: Position;
}

export interface CollectionResult {
  readonly rows: Record<string, unknown>[];
  /** Set when there are more rows: the first and last row of this page and where the next one starts. */
  readonly next: { readonly first: Row; readonly last: Row; readonly position: Position } | undefined;
  readonly count: number | undefined;
  readonly annotations: Record<string, unknown>;
}

function expandCount(clause: ExpandClause | undefined): number {
  return (clause?.items ?? []).reduce((n, item) => n + 1 + expandCount(item.options.expand), 0);
}

function hasNested(clause: ExpandClause | undefined): boolean {
  return (clause?.items ?? []).some((item) => item.options.expand !== undefined);
}

export class Engine {
  readonly compiler: QueryCompiler;
  readonly formatter: Formatter;

  constructor(
    readonly env: QueryEnv,
    readonly store: Store,
    readonly webApi: string,
    readonly annotations: AnnotationFilter | undefined,
  ) {
    this.compiler = new QueryCompiler(env);
    this.formatter = new Formatter(env.schema, store);
  }

  /** Resolves `$select` and `$expand` against the table, applying Dataverse's expansion rules. */
  selection(table: Table, select: SelectClause | undefined, expand: ExpandClause | undefined): Selection {
    if (expandCount(expand) > MAX_EXPANDS) {
      throw guessed(400, 'expandLimit', `The number of $expand options exceeds the limit of ${MAX_EXPANDS}.`);
    }
    return this.resolveSelection(table, select, expand, hasNested(expand), 0);
  }

  private resolveSelection(
    table: Table,
    select: SelectClause | undefined,
    expand: ExpandClause | undefined,
    nested: boolean,
    depth: number,
  ): Selection {
    const columns = selectedColumns(table, select);
    const expands = (expand?.items ?? []).map((item) => this.expandPlan(table, item, nested, depth));
    return { columns, expands };
  }

  private expandPlan(table: Table, item: ExpandItem, nested: boolean, depth: number): ExpandPlan {
    const names = item.segments.map((s) => s.name);
    const ref = names[names.length - 1] === '$ref';
    const path = ref ? names.slice(0, -1) : names;
    const [name = ''] = path;
    if (name === '*') throw guessed(400, 'expandLimit', '$expand=* is not supported; name the navigation properties.');
    const navigation = path.length === 1 ? table.navigations.get(name) : undefined;
    if (navigation === undefined) throw propertyNotFound(table.logicalName, path.join('/'));
    if (ref && navigation.kind !== 'single') {
      throw badRequest('Expand with $ref is only supported on lookup type navigation property.');
    }
    for (const option of item.optionList) {
      if (!['$select', '$filter', '$orderby', '$top', '$expand'].includes(option.name)) {
        throw guessed(
          400,
          'unsupportedQueryOption',
          `The query option '${option.name}' is not supported inside $expand.`,
        );
      }
    }
    const options = item.options;
    const collection = navigation.kind !== 'single';
    if (!collection && (options.filter !== undefined || options.orderBy !== undefined || options.top !== undefined)) {
      throw guessed(
        400,
        'expandLimit',
        'Only $select and $expand can be provided while doing $expand on a single-valued navigation property.',
      );
    }
    if (collection && nested && (options.orderBy !== undefined || options.top !== undefined)) {
      throw badRequest(
        'Only $select and $filter clause can be provided while doing $expand on many-to-one relationship or nested one-to-many relationship.',
      );
    }
    if (navigation.kind === 'manyToMany' && (options.expand !== undefined || depth > 0)) {
      throw guessed(400, 'expandLimit', 'Many-to-many navigation properties cannot be expanded in nested expansions.');
    }
    const target = this.targetTable(navigation);
    const selection =
      target === undefined
        ? { columns: undefined, expands: [] }
        : this.resolveSelection(target, options.select, options.expand, nested, depth + 1);
    return {
      name,
      navigation,
      selection,
      filter: options.filter,
      orderBy: options.orderBy,
      top: options.top?.value,
      ref,
    };
  }

  /** The table on the other side of a navigation (undefined for owner lookups, which are polymorphic). */
  targetTable(navigation: Navigation): Table | undefined {
    const schema = this.env.schema;
    if (navigation.kind === 'collection') return schema.tables.get(navigation.source);
    return navigation.target === 'principal' ? undefined : schema.tables.get(navigation.target);
  }

  /** Stored columns to read for a selection (all when every column is wanted). */
  private storedColumns(table: Table, selection: Selection): string[] | undefined {
    if (selection.columns === undefined) return undefined;
    const names = new Set<string>([table.primaryIdAttribute, 'versionnumber']);
    for (const column of selection.columns) {
      addStored(names, column);
      if (column.type === 'currency' && table.columns.has('transactioncurrencyid')) {
        const currency = table.columns.get('transactioncurrencyid');
        if (currency !== undefined) addStored(names, currency);
      }
    }
    for (const expand of selection.expands) {
      if (expand.navigation.kind === 'single') addStored(names, expand.navigation.column);
    }
    return [...names].filter((n) => n === 'versionnumber' || table.columns.has(n) || n.endsWith('__type'));
  }

  sourceConstraint(table: Table, alias: string, source: Source): Sql | undefined {
    switch (source.kind) {
      case 'set':
        return undefined;
      case 'oneToMany':
        return cat(
          sql(`${col(alias, source.column)} = ?`, source.id),
          referencingType(table, alias, source.column, source.type),
        );
      case 'manyToMany': {
        const storage = intersectStorage(this.env.schema, source.relationship);
        const [mine, theirs] = source.mine === 'a' ? [storage.a, storage.b] : [storage.b, storage.a];
        return sql(
          `${col(alias, table.primaryIdAttribute)} IN (SELECT ${theirs} FROM ${storage.table} WHERE ${mine} = ?)`,
          source.id,
        );
      }
    }
  }

  /** Builds the SELECT for a collection request; exposed so that benchmarks can run the same SQL bare. */
  collectionSql(request: CollectionRequest, limit: number): Sql {
    const { table } = request;
    const alias = 't0';
    const where: Sql[] = [];
    const source = this.sourceConstraint(table, alias, request.source);
    if (source !== undefined) where.push(source);
    if (request.filter !== undefined) where.push(this.compiler.filter(table, alias, request.filter));
    const ordered = request.orderBy !== undefined && request.orderBy.items.length > 0;
    if (!ordered && request.position.after !== undefined) {
      where.push(sql(`${col(alias, table.primaryIdAttribute)} > ?`, request.position.after));
    }
    const stored = this.storedColumns(table, request.selection);
    const list = stored === undefined ? `${alias}.*` : stored.map((n) => col(alias, n)).join(', ');
    const order = this.compiler.orderBy(table, alias, request.orderBy);
    const offset = ordered && request.position.offset > 0 ? sql(' OFFSET ?', request.position.offset) : sql('');
    return cat(
      `SELECT ${list} FROM ${sqlTable(table)} ${alias}`,
      where.length > 0 ? cat(' WHERE ', joinSql(where, ' AND ')) : '',
      ' ORDER BY ',
      order,
      sql(' LIMIT ?', limit),
      offset,
    );
  }

  /** `COUNT(*)` of the filtered rows, stopping at 5,001 since Dataverse caps counts at 5,000. */
  count(table: Table, source: Source, filter: ExpressionNode | undefined): number {
    const alias = 't0';
    const where: Sql[] = [];
    const constraint = this.sourceConstraint(table, alias, source);
    if (constraint !== undefined) where.push(constraint);
    if (filter !== undefined) where.push(this.compiler.filter(table, alias, filter));
    const query = cat(
      `SELECT COUNT(*) AS "n" FROM (SELECT 1 FROM ${sqlTable(table)} ${alias}`,
      where.length > 0 ? cat(' WHERE ', joinSql(where, ' AND ')) : '',
      sql(' LIMIT ?)', MAX_PAGE + 1),
    );
    return Number(this.store.all(query.text, query.params)[0]?.n ?? 0);
  }

  collection(request: CollectionRequest): CollectionResult {
    const paged = request.pageSize !== undefined || request.top === undefined;
    const size = request.pageSize ?? Math.min(request.top ?? MAX_PAGE, MAX_PAGE);
    const query = this.collectionSql(request, paged ? size + 1 : size);
    const rows = this.store.all(query.text, query.params);
    const more = paged && rows.length > size;
    const page = rows.slice(0, size);
    const first = page[0];
    const last = page[page.length - 1];
    const next =
      more && first !== undefined && last !== undefined
        ? {
            first,
            last,
            position: {
              page: request.position.page + 1,
              after: String(last[request.table.primaryIdAttribute]),
              offset: request.position.offset + page.length,
            },
          }
        : undefined;
    const count = request.count
      ? Math.min(this.count(request.table, request.source, request.filter), MAX_PAGE)
      : undefined;
    const annotations: Record<string, unknown> = {};
    if (this.annotations?.wants(TOTAL_RECORD_COUNT)) {
      annotations[`@${TOTAL_RECORD_COUNT}`] = count ?? -1;
    }
    if (this.annotations?.wants(TOTAL_RECORD_COUNT_EXCEEDED)) {
      annotations[`@${TOTAL_RECORD_COUNT_EXCEEDED}`] =
        count !== undefined && this.count(request.table, request.source, request.filter) > MAX_PAGE;
    }
    return {
      rows: page.map((row) => this.project(request.table, row, request.selection)),
      next,
      count,
      annotations,
    };
  }

  /**
   * One stored row as Dataverse returns it for a selection, with expansions and requested annotations. A
   * selection never names a write-only column (`selectedColumns` refuses it); reading every column shows it null.
   */
  project(table: Table, row: Row, selection: Selection): Record<string, unknown> {
    const out: Record<string, unknown> = { '@odata.etag': etag(row) };
    const annotations = this.annotations;
    for (const { column, name } of projectedColumns(table, selection)) {
      // A write-only column is in $metadata, so a full read names it, always null and without annotations.
      if (!column.validForRead) {
        out[name] = null;
        continue;
      }
      if (annotations !== undefined) annotate(out, name, column, row, annotations, this.formatter);
      out[name] = jsonValue(column, row[column.name] ?? null);
    }
    for (const expand of selection.expands) out[expand.name] = this.expand(table, row, expand, out);
    return out;
  }

  private expand(table: Table, row: Row, plan: ExpandPlan, out: Record<string, unknown>): unknown {
    const navigation = plan.navigation;
    const id = String(row[table.primaryIdAttribute]);
    if (navigation.kind === 'single') {
      const targetId = row[navigation.column.name];
      const type = row[`${navigation.column.name}__type`];
      const targetName = navigation.target === 'principal' ? type : navigation.target;
      const target = typeof targetName === 'string' ? this.env.schema.tables.get(targetName) : undefined;
      // A polymorphic navigation (`parentcustomerid_account`) is null when the row points at another table. The
      // 1:1 link of an activity to its pointer row (`activityid_activitypointer`) is the row's own key, untyped.
      if (
        typeof targetId !== 'string' ||
        target === undefined ||
        (typeof type === 'string' && type !== target.logicalName)
      ) {
        return null;
      }
      if (plan.ref) return { '@odata.id': `${this.webApi}${target.entitySetName}(${targetId})` };
      const found = this.store.get(target, targetId);
      return found === null ? null : this.project(target, found, plan.selection);
    }
    const target = this.targetTable(navigation);
    if (target === undefined) return [];
    let source: Source;
    if (navigation.kind === 'collection') {
      source = { kind: 'oneToMany', column: navigation.column, id, type: table.logicalName };
    } else {
      const side = manyToManySide(this.env.schema, table, navigation.name);
      if (side === undefined) return [];
      source = { kind: 'manyToMany', ...side, id };
    }
    const result = this.collection({
      table: target,
      source,
      selection: plan.selection,
      filter: plan.filter,
      orderBy: plan.orderBy,
      top: plan.top ?? MAX_PAGE,
      pageSize: undefined,
      count: false,
      position: { page: 0, after: undefined, offset: 0 },
    });
    if (result.rows.length >= MAX_PAGE && plan.top === undefined) {
      out[`${plan.name}@odata.nextLink`] = `${this.webApi}${table.entitySetName}(${id})/${plan.name}`;
    }
    return result.rows;
  }
}

function addStored(names: Set<string>, column: Column): void {
  names.add(column.name);
  if (isLookupType(column.type)) names.add(`${column.name}__type`);
}

interface ProjectedColumn {
  readonly column: Column;
  readonly name: string;
}

/**
 * What `project` emits, in order, worked out once per table or selection instead of once per row: a page
 * holds up to 5,000 rows and `propertyName` builds a string per lookup.
 */
const allColumns = new WeakMap<Table, readonly ProjectedColumn[]>();
const selectedColumnsOf = new WeakMap<Selection, readonly ProjectedColumn[]>();

function named(column: Column): ProjectedColumn {
  return { column, name: propertyName(column) };
}

function projectedColumns(table: Table, selection: Selection): readonly ProjectedColumn[] {
  if (selection.columns === undefined) {
    let columns = allColumns.get(table);
    if (columns === undefined) {
      columns = [...table.columns.values()].filter((c) => c.hidden !== true).map(named);
      allColumns.set(table, columns);
    }
    return columns;
  }
  let columns = selectedColumnsOf.get(selection);
  if (columns !== undefined) return columns;
  const list = [...selection.columns];
  const currency = table.columns.get('transactioncurrencyid');
  if (currency !== undefined && !list.includes(currency) && list.some((c) => c.type === 'currency')) {
    list.push(currency);
  }
  const primary = table.columns.get(table.primaryIdAttribute);
  if (primary !== undefined && !list.includes(primary)) list.push(primary);
  columns = list.map(named);
  selectedColumnsOf.set(selection, columns);
  return columns;
}

/** The `(a,b,nav(c))` part of `@odata.context`. */
export function contextSelection(selection: Selection): string {
  const parts: string[] = (selection.columns ?? []).map((c) => propertyName(c));
  for (const expand of selection.expands) {
    const inner = contextSelection(expand.selection);
    parts.push(`${expand.name}${inner === '' ? '()' : inner}`);
  }
  return parts.length === 0 ? '' : `(${parts.join(',')})`;
}

/**
 * `$apply` (reference §4.5): `filter(...)` steps followed by one `aggregate(...)` or
 * `groupby((keys),aggregate(...))`, run as one GROUP BY query.
 */
import type { AggregateItem, ApplyClause, ExpressionNode, Transformation } from '../odata/url';
import { FORMATTED_VALUE } from './annotations';
import { propertyName } from './csdl';
import type { Engine, Source } from './engine';
import { guessed } from './errors';
import type { Sql } from './query';
import { cat, joinSql, logical, quoteId, sql } from './query';
import type { Column, Table } from './schema/schema';
import { sqlTable } from './store';

/** Dataverse refuses aggregates over more rows than this (AggregateQueryRecordLimit). */
export const AGGREGATE_LIMIT = 50_000;

const METHODS: Record<string, string> = { sum: 'SUM', average: 'AVG', min: 'MIN', max: 'MAX', countdistinct: 'COUNT' };

interface OutputColumn {
  readonly name: string;
  readonly sql: Sql;
  /** For formatted values: the column the value is measured in. */
  readonly column: Column | undefined;
  readonly key: boolean;
}

function aggregateColumns(
  engine: Engine,
  table: Table,
  alias: string,
  items: readonly AggregateItem[],
): OutputColumn[] {
  return items.map((item, index) => {
    const name = item.alias?.name;
    if (name === undefined) throw guessed(400, 'querySyntax', 'Every aggregate needs an alias (`with sum as total`).');
    const label = quoteId(`a${index}`);
    if (item.method === '$count') {
      return { name, sql: sql(`COUNT(*) AS ${label}`), column: undefined, key: false };
    }
    const fn = METHODS[item.method];
    if (fn === undefined || item.expression === undefined) {
      throw guessed(400, 'functionNotSupported', `The aggregation method '${item.method}' is not supported.`);
    }
    const operand = engine.compiler.property(table, alias, item.expression);
    const numeric = operand.kind === 'number';
    if ((item.method === 'sum' || item.method === 'average') && !numeric) {
      throw guessed(400, 'incompatibleTypes', `The aggregation method '${item.method}' needs a numeric property.`);
    }
    const inner = item.method === 'countdistinct' ? cat('DISTINCT ', operand.sql) : operand.sql;
    const measured = item.method === 'countdistinct' ? undefined : operand.column;
    return { name, sql: cat(`${fn}(`, inner, `) AS ${label}`), column: measured, key: false };
  });
}

export function runApply(
  engine: Engine,
  table: Table,
  source: Source,
  apply: ApplyClause,
  filter: ExpressionNode | undefined,
  entitySet: string,
): Record<string, unknown> {
  const alias = 't0';
  const where: Sql[] = [];
  const constraint = engine.sourceConstraint(table, alias, source);
  if (constraint !== undefined) where.push(constraint);
  if (filter !== undefined) where.push(engine.compiler.filter(table, alias, filter));
  const steps = [...apply.transformations];
  let terminal: Transformation | undefined;
  for (const step of steps) {
    if (terminal !== undefined) {
      throw guessed(
        400,
        'functionNotSupported',
        `The transformation '${step.kind}' after '${terminal.kind}' is not supported.`,
      );
    }
    if (step.kind === 'filter') where.push(engine.compiler.filter(table, alias, step.expression));
    else if (step.kind === 'groupby' || step.kind === 'aggregate') terminal = step;
    else throw guessed(400, 'functionNotSupported', `The transformation '${step.kind}' is not supported.`);
  }
  const whereSql = where.length > 0 ? cat(' WHERE ', logical(where, ' AND ')) : sql('');
  const sourceCount = cat(
    `SELECT COUNT(*) AS "n" FROM (SELECT 1 FROM ${sqlTable(table)} ${alias}`,
    whereSql,
    sql(' LIMIT ?)', AGGREGATE_LIMIT + 1),
  );
  if (Number(engine.store.all(sourceCount.text, sourceCount.params)[0]?.n ?? 0) > AGGREGATE_LIMIT) {
    throw guessed(400, 'aggregateLimit', 'AggregateQueryRecordLimit exceeded. Cannot perform this operation.');
  }
  const outputs: OutputColumn[] = [];
  if (terminal?.kind === 'groupby') {
    terminal.properties.forEach((property, index) => {
      const operand = engine.compiler.property(table, alias, property);
      if (operand.kind === 'datetime') {
        throw guessed(400, 'functionNotSupported', 'Grouping by a date and time column is not supported.');
      }
      const segments = property.segments.map((s) => s.name);
      if (table.columns.get(segments[0] ?? '')?.type === 'managedproperty') {
        // What Dataverse names a complex property's member in a group is not documented.
        throw guessed(400, 'functionNotSupported', `Grouping by '${segments.join('/')}' is not supported.`);
      }
      let name = operand.column === undefined ? segments.join('_') : propertyName(operand.column);
      if (segments.length > 1 && operand.column !== undefined) {
        // Dataverse names a related key `<target table>_<column>` (reference §4.5).
        const owner = [...engine.env.schema.tables.values()].find(
          (t) => t.columns.get(operand.column?.name ?? '') === operand.column,
        );
        name = `${owner?.logicalName ?? 'related'}_${propertyName(operand.column)}`;
      }
      outputs.push({ name, sql: cat(operand.sql, ` AS ${quoteId(`k${index}`)}`), column: operand.column, key: true });
    });
    for (const inner of terminal.transformations) {
      if (inner.kind !== 'aggregate') {
        throw guessed(
          400,
          'functionNotSupported',
          `The transformation '${inner.kind}' inside groupby is not supported.`,
        );
      }
      outputs.push(...aggregateColumns(engine, table, alias, inner.items));
    }
  } else if (terminal?.kind === 'aggregate') {
    outputs.push(...aggregateColumns(engine, table, alias, terminal.items));
  } else {
    throw guessed(400, 'functionNotSupported', '$apply needs an aggregate or groupby transformation.');
  }
  const keys = outputs.map((o, i) => ({ o, label: o.key ? `k${i}` : '' })).filter((k) => k.o.key);
  const groupBy =
    keys.length > 0
      ? ` GROUP BY ${keys.map((k) => quoteId(k.label)).join(', ')} ORDER BY ${keys.map((k) => quoteId(k.label)).join(', ')}`
      : '';
  const query = cat(
    'SELECT ',
    joinSql(
      outputs.map((o) => o.sql),
      ', ',
    ),
    ` FROM ${sqlTable(table)} ${alias}`,
    whereSql,
    groupBy,
  );
  const rows = engine.store.all(query.text, query.params);
  const wantsFormatted = engine.annotations?.wants(FORMATTED_VALUE) === true;
  const value = rows.map((row) => {
    const out: Record<string, unknown> = {};
    const labels = Object.keys(row);
    outputs.forEach((output, index) => {
      const raw = row[labels[index] ?? ''] ?? null;
      // Null group keys are left out of the row, as Dataverse does.
      if (raw === null && output.key) return;
      if (wantsFormatted && raw !== null) {
        const column: Column =
          output.column ??
          ({
            name: output.name,
            type: 'integer',
            displayName: output.name,
            required: 'None',
            maxLength: undefined,
            min: undefined,
            max: undefined,
            precision: undefined,
            options: undefined,
            targets: undefined,
            readOnly: true,
            validForRead: true,
            setIndicator: undefined,
            concatOf: undefined,
            baseOf: undefined,
            system: false,
          } satisfies Column);
        const formatted = engine.formatter.format(column, { [column.name]: raw });
        if (formatted !== undefined) out[`${output.name}@${FORMATTED_VALUE}`] = formatted;
      }
      out[output.name] = outputValue(output, raw);
    });
    return out;
  });
  return { '@odata.context': `${engine.webApi}$metadata#${entitySet}`, value };
}

function outputValue(output: OutputColumn, raw: string | number | null): unknown {
  if (raw === null) return null;
  if (output.column?.type === 'boolean') return raw === 1;
  return raw;
}

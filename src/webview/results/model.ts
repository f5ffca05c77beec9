// What the grid shows, as pure functions over rows: columns, cell text, local sort and filter.
import type { ColumnHint, JsonValue, ResultRow, SortDirection } from '../resultsProtocol';

export const FORMATTED = '@OData.Community.Display.V1.FormattedValue';
export const LOOKUP_LOGICAL_NAME = '@Microsoft.Dynamics.CRM.lookuplogicalname';

export interface Column {
  readonly name: string;
  readonly displayName?: string;
  readonly type?: string;
  /** `_x_value` columns: the id of another record, shown with its name. */
  readonly lookup: boolean;
  /** The names of its annotations, built once: the grid looks them up for every cell it draws. */
  readonly formattedKey: string;
  readonly targetKey: string;
}

/** A row of the grid: a record, or a record change tracking reports as removed. */
export interface GridRow {
  readonly data: ResultRow;
  /** Set for rows of a delta answer that are gone, with OData's reason. */
  readonly removed?: string;
  /** Position in the rows the host sent (what `export` refers to); -1 for removed rows, which the host did not send as rows. */
  readonly sourceIndex: number;
}

const LOOKUP = /^_.+_value$/;

/**
 * Columns in metadata order when the host knows it, then any other property in first-seen order.
 * Annotations (`x@…`) and `@odata.*` properties are not columns: they decorate one.
 */
export function deriveColumns(rows: readonly ResultRow[], hints: readonly ColumnHint[] = []): Column[] {
  const seen = new Map<string, ColumnHint | undefined>();
  for (const hint of hints) seen.set(hint.logicalName, hint);
  const present = new Set<string>();
  const keys = new Set<string>();
  for (const row of rows) {
    for (const key in row) {
      if (keys.has(key)) continue;
      keys.add(key);
      if (key.includes('@')) continue;
      present.add(key);
      if (!seen.has(key)) seen.set(key, undefined);
    }
  }
  const columns: Column[] = [];
  for (const [name, hint] of seen) {
    // A hint for a column the query did not select would be an empty column.
    if (rows.length > 0 && !present.has(name)) continue;
    columns.push({
      name,
      ...(hint?.displayName === undefined ? {} : { displayName: hint.displayName }),
      ...(hint?.type === undefined ? {} : { type: hint.type }),
      lookup: LOOKUP.test(name) || hint?.type === 'Lookup' || hint?.type === 'Customer' || hint?.type === 'Owner',
      formattedKey: `${name}${FORMATTED}`,
      targetKey: `${name}${LOOKUP_LOGICAL_NAME}`,
    });
  }
  return columns;
}

/**
 * The shown columns with display names and types from hints that came after the rows; the order stays
 * as it is (the user may be looking at it), and columns without a hint keep what they had.
 */
export function applyColumnHints(columns: readonly Column[], hints: readonly ColumnHint[]): Column[] {
  const byName = new Map(hints.map((hint) => [hint.logicalName, hint]));
  return columns.map((column) => {
    const hint = byName.get(column.name);
    if (hint === undefined) return column;
    const displayName = hint.displayName ?? column.displayName;
    const type = hint.type ?? column.type;
    return {
      ...column,
      ...(displayName === undefined ? {} : { displayName }),
      ...(type === undefined ? {} : { type }),
      lookup: column.lookup || type === 'Lookup' || type === 'Customer' || type === 'Owner',
    };
  });
}

/** Columns added by later pages keep the earlier order and come last. */
export function mergeColumns(existing: readonly Column[], added: readonly Column[]): Column[] {
  const names = new Set(existing.map((c) => c.name));
  return [...existing, ...added.filter((c) => !names.has(c.name))];
}

export function formattedValue(row: ResultRow, column: string): string | undefined {
  const value = row[`${column}${FORMATTED}`];
  return typeof value === 'string' ? value : undefined;
}

export function lookupTarget(row: ResultRow, column: string): string | undefined {
  const value = row[`${column}${LOOKUP_LOGICAL_NAME}`];
  return typeof value === 'string' ? value : undefined;
}

export function rawText(value: JsonValue | undefined): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value);
}

/**
 * The text of a cell as copy, filter and export see it: the formatted value when asked for and
 * Dataverse sent one (a lookup's formatted value is the name of the record it points to).
 */
export function cellText(row: ResultRow, column: string, formatted: boolean): string {
  if (formatted) {
    const text = formattedValue(row, column);
    if (text !== undefined) return text;
  }
  return rawText(row[column]);
}

export type CellKind = 'null' | 'absent' | 'empty' | 'text' | 'number' | 'boolean' | 'json' | 'lookup';

export interface CellView {
  readonly kind: CellKind;
  readonly text: string;
  /** For lookups: the id beside the name. */
  readonly secondary?: string;
  readonly title?: string;
}

/** How one cell looks: null, a missing property and an empty string each look different. */
export function cellView(row: ResultRow, column: Column, formatted: boolean): CellView {
  const value = row[column.name];
  if (value === undefined) return { kind: 'absent', text: '', title: 'Not in this row' };
  if (value === null) return { kind: 'null', text: 'null', title: 'null' };
  if (value === '') return { kind: 'empty', text: '""', title: 'Empty string' };
  const annotation = row[column.formattedKey];
  const display = typeof annotation === 'string' ? annotation : undefined;
  if (column.lookup && typeof value === 'string') {
    const target = row[column.targetKey];
    const title = typeof target === 'string' ? `${target} ${value}` : value;
    return display === undefined
      ? { kind: 'lookup', text: value, title }
      : { kind: 'lookup', text: display, secondary: value, title };
  }
  const text = formatted && display !== undefined ? display : rawText(value);
  const title = display !== undefined && display !== text ? display : undefined;
  // An option set's label ("Active") reads as text even though its value is a number.
  const numeric = typeof value === 'number' && (text === display ? /\d/.test(text) : true);
  const kind: CellKind = numeric
    ? 'number'
    : typeof value === 'boolean'
      ? 'boolean'
      : typeof value === 'object'
        ? 'json'
        : 'text';
  return title === undefined ? { kind, text } : { kind, text, title };
}

/** The id of a row, from the primary id column the host named or the `<table>id` convention. */
export function rowId(row: ResultRow, primaryIdAttribute: string | undefined): string | undefined {
  if (primaryIdAttribute === undefined) return undefined;
  const value = row[primaryIdAttribute];
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

// ---- Local sort and filter ----------------------------------------------------------------------

export interface ViewOptions {
  readonly sort?: { readonly column: string; readonly direction: SortDirection };
  readonly filter: string;
  readonly formatted: boolean;
  readonly columns: readonly Column[];
}

const collator = new Intl.Collator(undefined, { numeric: true, sensitivity: 'base' });

function compareValues(a: JsonValue | undefined, b: JsonValue | undefined): number {
  const aMissing = a === null || a === undefined;
  const bMissing = b === null || b === undefined;
  if (aMissing || bMissing) return aMissing === bMissing ? 0 : aMissing ? 1 : -1;
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'boolean' && typeof b === 'boolean') return Number(a) - Number(b);
  return collator.compare(rawText(a), rawText(b));
}

/**
 * The order in which the grid shows `rows`, as indexes into it. Sorting is by the raw value, so
 * dates and money sort by value even while formatted values are shown; it is stable.
 */
export function viewOrder(rows: readonly GridRow[], options: ViewOptions): number[] {
  const needle = options.filter.trim().toLocaleLowerCase();
  let order: number[] = [];
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i];
    if (row !== undefined && (needle === '' || rowMatches(row, needle, options.columns))) order.push(i);
  }
  const sort = options.sort;
  if (sort !== undefined) {
    const sign = sort.direction === 'asc' ? 1 : -1;
    const keyed = order.map((index) => ({ index, value: rows[index]?.data[sort.column] }));
    // Empty cells stay at the bottom in both directions, so either direction starts with values.
    keyed.sort((a, b) => {
      const aMissing = a.value === null || a.value === undefined;
      const bMissing = b.value === null || b.value === undefined;
      const byValue = aMissing || bMissing ? compareValues(a.value, b.value) : sign * compareValues(a.value, b.value);
      return byValue !== 0 ? byValue : a.index - b.index;
    });
    order = keyed.map((k) => k.index);
  }
  return order;
}

/** Matches the raw and the formatted text alike, so "1,000" and "1000" both find a revenue of 1000. */
function rowMatches(row: GridRow, needle: string, columns: readonly Column[]): boolean {
  for (const column of columns) {
    if (rawText(row.data[column.name]).toLocaleLowerCase().includes(needle)) return true;
    const display = formattedValue(row.data, column.name);
    if (display?.toLocaleLowerCase().includes(needle)) return true;
  }
  return row.removed !== undefined && `removed ${row.removed}`.includes(needle);
}

/** The header click cycle: ascending, descending, unsorted. */
export function nextSort(
  current: ViewOptions['sort'],
  column: string,
): { readonly column: string; readonly direction: SortDirection } | undefined {
  if (current?.column !== column) return { column, direction: 'asc' };
  return current.direction === 'asc' ? { column, direction: 'desc' } : undefined;
}

/** Tab-separated text of a rectangle of cells, what spreadsheets paste as a range. */
export function rangeText(
  rows: readonly GridRow[],
  order: readonly number[],
  columns: readonly Column[],
  range: { readonly top: number; readonly bottom: number; readonly left: number; readonly right: number },
  formatted: boolean,
): string {
  const lines: string[] = [];
  for (let r = range.top; r <= range.bottom; r++) {
    const row = rows[order[r] ?? -1];
    if (row === undefined) continue;
    const cells: string[] = [];
    for (let c = range.left; c <= range.right; c++) {
      const column = columns[c];
      if (column !== undefined) cells.push(cellText(row.data, column.name, formatted).replace(/[\t\r\n]+/g, ' '));
    }
    lines.push(cells.join('\t'));
  }
  return lines.join('\n');
}

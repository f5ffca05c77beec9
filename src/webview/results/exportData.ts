// CSV and JSON export of loaded rows. Pure, so the host writes files with exactly what the page shows.
import { CSV_BOM, csvCell, csvLines } from '../../core/csv';
import type { JsonValue, ResultRow } from '../resultsProtocol';
import { cellText } from './model';

export interface CsvOptions {
  /** Use Dataverse's formatted values (option labels, lookup names, currency) where it sent them. */
  readonly formatted: boolean;
}

/**
 * Excel-friendly CSV: a UTF-8 byte order mark (without it Excel reads UTF-8 as the ANSI code page),
 * CRLF line ends, a header row of logical names, RFC 4180 quoting. Null and a missing property are
 * both an empty field.
 */
export function toCsv(rows: readonly ResultRow[], columns: readonly string[], options: CsvOptions): string {
  const cells = rows.map((row) =>
    columns.map((column) => {
      const value = row[column];
      const text = cellText(row, column, options.formatted);
      return csvCell(text, typeof value === 'number' && text === String(value));
    }),
  );
  return `${CSV_BOM}${csvLines(columns, cells)}`;
}

/** The rows with only the given columns and their annotations (formatted values, lookup targets). */
export function pickColumns(rows: readonly ResultRow[], columns: readonly string[]): ResultRow[] {
  const wanted = new Set(columns);
  return rows.map((row) => {
    const picked: Record<string, JsonValue> = {};
    for (const [key, value] of Object.entries(row)) {
      const at = key.indexOf('@');
      if (wanted.has(at === -1 ? key : key.slice(0, at))) picked[key] = value;
    }
    return picked;
  });
}

/** Pretty JSON of the rows (an array), with the given columns; values keep their JSON types and nulls. */
export function toJson(rows: readonly ResultRow[], columns: readonly string[]): string {
  return `${JSON.stringify(pickColumns(rows, columns), null, 2)}\n`;
}

/** The rows an `export` message names, in its order; indexes the host does not have are an error. */
export function rowsAt(rows: readonly ResultRow[], indexes: readonly number[]): ResultRow[] {
  return indexes.map((index) => {
    const row = rows[index];
    if (row === undefined) throw new RangeError(`No row ${index}: ${rows.length} rows were sent to the page`);
    return row;
  });
}

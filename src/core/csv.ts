// CSV for spreadsheets, shared by the results grid's export and `dvw run --output csv`: one formula guard,
// one quoting rule, one byte order mark.

/** Without it Excel reads UTF-8 as the ANSI code page. */
export const CSV_BOM = '\uFEFF';

/**
 * A spreadsheet runs a cell that starts with one of these as a formula (OWASP "CSV injection"),
 * so such text gets a leading apostrophe, which Excel hides. Plain numbers are left alone.
 */
const FORMULA_START = /^[=+\-@\t\r]/;
const PLAIN_NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

export function guardFormula(text: string): string {
  return FORMULA_START.test(text) && !PLAIN_NUMBER.test(text) ? `'${text}` : text;
}

/** RFC 4180 quoting, and quotes around leading or trailing blanks that a spreadsheet would trim. */
export function csvField(text: string): string {
  return /[",\r\n]/.test(text) || /^\s|\s$/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** One cell: a JSON number stays a number even when negative; only text can smuggle a formula. */
export function csvCell(text: string, isNumber: boolean): string {
  return csvField(isNumber ? text : guardFormula(text));
}

/** CRLF-terminated lines of cells, a header of column names first. */
export function csvLines(columns: readonly string[], rows: readonly (readonly string[])[]): string {
  const header = columns.map((column) => csvCell(column, false)).join(',');
  return [header, ...rows.map((cells) => cells.join(','))].map((line) => `${line}\r\n`).join('');
}

/**
 * Results sized for a model: a compact table with formatted values, rows capped with the total and how
 * to read more, and a character budget with a "truncated" note instead of a silent cut.
 */

/** Characters of one answer; about 3,000 tokens, enough for 50 rows of a few columns. */
export const CHARACTER_BUDGET = 12_000;
const MAX_CELL = 60;
const FORMATTED = '@OData.Community.Display.V1.FormattedValue';

function scalar(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value);
}

/** What a cell cannot hold as is: line breaks and tabs (one line per row) and the column separator. */
const SPECIAL = /[\r\n\t|]/;

/** One line, at most MAX_CELL characters, with the table's separator escaped so a value cannot add columns. */
export function cellText(value: unknown, max = MAX_CELL): string {
  let text = scalar(value);
  // Tested first: almost no value needs the replacements, and every cell of every answer comes here.
  if (SPECIAL.test(text)) text = text.replace(/[\r\n\t]+/g, ' ').replace(/\|/g, '\\|');
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** The columns of records: every key that is no annotation (`name`, `_x_value`), in first-seen order. */
function columnNames(rows: readonly Readonly<Record<string, unknown>>[]): string[] {
  const names = new Set<string>();
  for (const row of rows) for (const key of Object.keys(row)) if (!key.includes('@')) names.add(key);
  return [...names];
}

/** A column's value as shown to a model: its formatted value beside the raw one ("Active (0)"). */
function shownValue(row: Readonly<Record<string, unknown>>, name: string, formattedKey: string): string {
  const raw = scalar(row[name]);
  const formatted = row[formattedKey];
  return typeof formatted === 'string' && formatted !== raw && raw !== '' ? `${formatted} (${raw})` : raw;
}

/**
 * A record's columns as shown to a model: OData control annotations dropped, formatted values beside
 * the raw ones ("Active (0)", "Contoso (8f1c…)"), lookups under their `_x_value` names.
 */
export function displayColumns(row: Readonly<Record<string, unknown>>): Map<string, string> {
  return new Map(columnNames([row]).map((name) => [name, shownValue(row, name, `${name}${FORMATTED}`)]));
}

/**
 * `cellText(shownValue(…))` without testing the joined "formatted (raw)" text: a test on a joined
 * string copies it into one piece first, and its parts tell the same (" (" and ")" need no escaping).
 */
function shownCell(row: Readonly<Record<string, unknown>>, name: string, formattedKey: string): string {
  const raw = scalar(row[name]);
  if (raw === '') return '';
  const formatted = row[formattedKey];
  if (typeof formatted !== 'string' || formatted === raw) return cellText(raw);
  if (SPECIAL.test(formatted) || SPECIAL.test(raw) || formatted.length + raw.length + 3 > MAX_CELL) {
    return cellText(`${formatted} (${raw})`);
  }
  return `${formatted} (${raw})`;
}

export interface TableText {
  readonly text: string;
  readonly shownRows: number;
}

/** `a | b | c` lines under a header; stops before the budget and says how many rows it shows. */
export function compactTable(rows: readonly Readonly<Record<string, unknown>>[], budget: number): TableText {
  const columns = columnNames(rows);
  if (columns.length === 0) return { text: '', shownRows: rows.length };
  // Each annotation's name built once per answer, not once per cell.
  const formattedKeys = columns.map((name) => `${name}${FORMATTED}`);
  let text = `${columns.join(' | ')}\n`;
  let count = 0;
  for (const row of rows) {
    // Concatenated in place: no array of cells per row, and an empty cell adds nothing but its separator.
    let line = '';
    for (let i = 0; i < columns.length; i++) {
      if (i > 0) line += ' | ';
      line += shownCell(row, columns[i]!, formattedKeys[i]!);
    }
    line += '\n';
    if (text.length + line.length > budget) break;
    text += line;
    count += 1;
  }
  return { text, shownRows: count };
}

/** Cuts text to the budget at a line end, with a note saying so and what to do. */
export function withinBudget(text: string, budget: number, advice: string): string {
  if (text.length <= budget) return text;
  const cut = text.lastIndexOf('\n', budget);
  return `${text.slice(0, cut > 0 ? cut + 1 : budget)}[truncated: the answer was ${text.length} characters, over the ${budget}-character budget. ${advice}]\n`;
}

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

/** One line, at most MAX_CELL characters, with the table's separator escaped so a value cannot add columns. */
export function cellText(value: unknown, max = MAX_CELL): string {
  const text = scalar(value)
    .replace(/[\r\n\t]+/g, ' ')
    .replace(/\|/g, '\\|');
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/**
 * A record's columns as shown to a model: OData control annotations dropped, formatted values beside
 * the raw ones ("Active (0)", "Contoso (8f1c…)"), lookups under their `_x_value` names.
 */
export function displayColumns(row: Readonly<Record<string, unknown>>): Map<string, string> {
  const columns = new Map<string, string>();
  for (const [key, value] of Object.entries(row)) {
    if (key.includes('@')) continue;
    const formatted = row[`${key}${FORMATTED}`];
    const raw = scalar(value);
    columns.set(key, typeof formatted === 'string' && formatted !== raw && raw !== '' ? `${formatted} (${raw})` : raw);
  }
  return columns;
}

export interface TableText {
  readonly text: string;
  readonly shownRows: number;
}

/** `a | b | c` lines under a header; stops before the budget and says how many rows it shows. */
export function compactTable(rows: readonly Readonly<Record<string, unknown>>[], budget: number): TableText {
  const shown = rows.map(displayColumns);
  const columns: string[] = [];
  for (const row of shown) for (const key of row.keys()) if (!columns.includes(key)) columns.push(key);
  if (columns.length === 0) return { text: '', shownRows: rows.length };
  let text = `${columns.join(' | ')}\n`;
  let count = 0;
  for (const row of shown) {
    const line = `${columns.map((c) => cellText(row.get(c))).join(' | ')}\n`;
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

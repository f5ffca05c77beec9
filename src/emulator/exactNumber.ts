/**
 * Numbers a 64-bit double cannot hold exactly: money with 19 significant digits, decimals with 10 places,
 * whole numbers past 2^53. Dataverse keeps them (SQL `money`, `decimal(23,10)`, `bigint`), so the emulator
 * must read them back as written.
 *
 * Such a value is stored as text marked with `~` (`~922337203685477.1234`) in its column: SQLite keeps text
 * that is not a number literal as text, and every other value stays a plain number, so the usual case costs
 * nothing. Queries compare and sort these columns through `dvw_number`, at double precision; answers write
 * the literal's digits unchanged (`exactJson`, `finishJson`).
 */
import { randomBytes } from 'node:crypto';
import type { SQLiteValue } from 'node-sqlite3-wasm';
import type { ColumnType } from './schema/schema';
import type { StoredValue } from './store';

const MARK = '~';

/** The most significant digits a Dataverse decimal keeps (.NET `System.Decimal`). */
export const MAX_DECIMAL_DIGITS = 28;

/** A JSON number literal as [negative, whole digits, fraction digits], without redundant zeros or exponent. */
function plainParts(literal: string): [boolean, string, string] | undefined {
  const match = /^(-?)(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/.exec(literal);
  if (match === null) return undefined;
  const [, sign = '', whole = '', fraction = '', exponent = '0'] = match;
  const shift = Number(exponent);
  if (!Number.isSafeInteger(shift) || Math.abs(shift) > 400) return undefined;
  let digits = whole + fraction;
  let point = whole.length + shift;
  if (point < 0) {
    digits = '0'.repeat(-point) + digits;
    point = 0;
  }
  if (point > digits.length) digits += '0'.repeat(point - digits.length);
  const wholeDigits = digits.slice(0, point).replace(/^0+/, '');
  const fractionDigits = digits.slice(point).replace(/0+$/, '');
  const zero = wholeDigits === '' && fractionDigits === '';
  return [sign === '-' && !zero, wholeDigits, fractionDigits];
}

/** The literal written without exponent or redundant zeros ("1.50e1" → "15"); undefined when it is not one. */
export function plainDecimal(literal: string): string | undefined {
  const parts = plainParts(literal);
  if (parts === undefined) return undefined;
  const [negative, whole, fraction] = parts;
  return `${negative ? '-' : ''}${whole === '' ? '0' : whole}${fraction === '' ? '' : `.${fraction}`}`;
}

/** Significant digits of a literal ("0.00120" → 2). */
export function significantDigits(literal: string): number {
  const parts = plainParts(literal);
  if (parts === undefined) return Number.POSITIVE_INFINITY;
  const digits = (parts[1] + parts[2]).replace(/^0+/, '').replace(/0+$/, '');
  return Math.max(digits.length, 1);
}

/** Compares two decimal literals exactly: negative, zero or positive as a < b, a = b, a > b. */
export function compareDecimals(a: string, b: string): number {
  const x = plainParts(a);
  const y = plainParts(b);
  if (x === undefined || y === undefined) return Number(a) - Number(b);
  if (x[0] !== y[0]) return x[0] ? -1 : 1;
  const sign = x[0] ? -1 : 1;
  if (x[1].length !== y[1].length) return sign * (x[1].length - y[1].length);
  if (x[1] !== y[1]) return sign * (x[1] < y[1] ? -1 : 1);
  const width = Math.max(x[2].length, y[2].length);
  const fx = x[2].padEnd(width, '0');
  const fy = y[2].padEnd(width, '0');
  return fx === fy ? 0 : sign * (fx < fy ? -1 : 1);
}

/** The stored form of a number that only its literal holds exactly. */
export function exactStored(literal: string): string {
  return MARK + (plainDecimal(literal) ?? literal);
}

/** The literal of a value stored by `exactStored`, or undefined for any other stored value. */
export function exactLiteral(value: StoredValue | undefined): string | undefined {
  return typeof value === 'string' && value.startsWith(MARK) ? value.slice(MARK.length) : undefined;
}

/** A stored number as a double: exact for plain numbers, the nearest double for an exact literal. */
export function storedNumber(value: StoredValue): number {
  if (typeof value === 'number') return value;
  return Number(exactLiteral(value) ?? value);
}

/** Whether a column of this type may hold an exact literal. */
export function mayHoldExactLiteral(type: ColumnType): boolean {
  return type === 'decimal' || type === 'currency' || type === 'bigint';
}

/** The SQL function that reads a number column for comparison and sorting (registered by the store). */
export const SQL_NUMBER_FUNCTION = 'dvw_number';

export function sqlNumber(value: SQLiteValue): SQLiteValue {
  return typeof value === 'string' && value.startsWith(MARK) ? Number(value.slice(MARK.length)) : value;
}

// A JSON text can only hold a number's digits if they are written there, not as a double: the answer carries a
// token string in their place, and `finishJson` turns each token back into the bare literal. The token holds a
// random part of this process, so no value a client sends can pass for one.
const TOKEN = `dvwexact${randomBytes(12).toString('hex')}`;
const TOKEN_STRING = new RegExp(`"${TOKEN}(-?\\d+(?:\\.\\d+)?(?:[eE][+-]?\\d+)?)"`, 'g');

/** What goes into an answer's JSON value in place of a stored exact literal. */
export function exactJson(literal: string): string {
  return `${TOKEN}${literal}`;
}

/** JSON text with every `exactJson` token written as the number it stands for. */
export function finishJson(text: string): string {
  return text.includes(TOKEN) ? text.replace(TOKEN_STRING, '$1') : text;
}

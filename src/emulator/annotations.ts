/**
 * `Prefer` parsing and the instance annotations Dataverse adds on request: formatted values, lookup
 * logical names and associated navigation properties (reference §7.3).
 */
import { exactLiteral } from './exactNumber';
import type { Column, Schema } from './schema/schema';
import { isLookupType } from './schema/schema';
import type { Row, Store } from './store';

export const FORMATTED_VALUE = 'OData.Community.Display.V1.FormattedValue';
export const LOOKUP_LOGICAL_NAME = 'Microsoft.Dynamics.CRM.lookuplogicalname';
export const ASSOCIATED_NAVIGATION = 'Microsoft.Dynamics.CRM.associatednavigationproperty';
export const TOTAL_RECORD_COUNT = 'Microsoft.Dynamics.CRM.totalrecordcount';
export const TOTAL_RECORD_COUNT_EXCEEDED = 'Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded';
export const PAGING_COOKIE = 'Microsoft.Dynamics.CRM.fetchxmlpagingcookie';
export const MORE_RECORDS = 'Microsoft.Dynamics.CRM.morerecords';

const MAX_PAGE = 5000;

/** Which annotations a client asked for: `*`, exact terms, or `Namespace.*` prefixes; `-term` excludes. */
export class AnnotationFilter {
  private readonly include: string[] = [];
  private readonly exclude: string[] = [];

  constructor(list: string) {
    for (const raw of list.split(',')) {
      const item = raw.trim();
      if (item === '') continue;
      if (item.startsWith('-')) this.exclude.push(item.slice(1));
      else this.include.push(item);
    }
  }

  private static matches(pattern: string, term: string): boolean {
    if (pattern === '*') return true;
    if (pattern.endsWith('.*')) return term.startsWith(pattern.slice(0, -1));
    return pattern === term;
  }

  wants(term: string): boolean {
    if (this.exclude.some((p) => AnnotationFilter.matches(p, term))) return false;
    return this.include.some((p) => AnnotationFilter.matches(p, term));
  }
}

export interface Prefer {
  readonly representation: boolean;
  readonly maxPageSize: number | undefined;
  /** The `odata.include-annotations` value as sent, quotes included, for `Preference-Applied`. */
  readonly annotationsText: string | undefined;
  readonly annotations: AnnotationFilter | undefined;
}

/** Splits on commas outside double quotes (`odata.include-annotations="a,b"` is one preference). */
function splitPreferences(text: string): string[] {
  const parts: string[] = [];
  let current = '';
  let quoted = false;
  for (const c of text) {
    if (c === '"') quoted = !quoted;
    if (c === ',' && !quoted) {
      parts.push(current);
      current = '';
    } else current += c;
  }
  parts.push(current);
  return parts.map((p) => p.trim()).filter((p) => p !== '');
}

export function parsePrefer(header: string | string[] | undefined): Prefer {
  const text = Array.isArray(header) ? header.join(',') : (header ?? '');
  let representation = false;
  let maxPageSize: number | undefined;
  let annotationsText: string | undefined;
  for (const item of splitPreferences(text)) {
    if (item === 'return=representation') representation = true;
    const page = /^odata\.maxpagesize\s*=\s*"?(\d{1,9})"?$/.exec(item);
    // Dataverse ignores page sizes above 5,000 (page-results.md).
    if (page?.[1] !== undefined && Number(page[1]) >= 1 && Number(page[1]) <= MAX_PAGE) maxPageSize = Number(page[1]);
    const annotations = /^odata\.include-annotations\s*=\s*(.+)$/.exec(item);
    if (annotations?.[1] !== undefined) annotationsText = annotations[1];
  }
  const list = annotationsText?.replace(/^"(.*)"$/, '$1');
  return {
    representation,
    maxPageSize,
    annotationsText,
    annotations: list === undefined ? undefined : new AnnotationFilter(list),
  };
}

/** `Preference-Applied` for what a read honoured. */
export function preferenceApplied(prefer: Prefer, paged: boolean): Record<string, string> {
  const applied: string[] = [];
  if (prefer.annotationsText !== undefined) applied.push(`odata.include-annotations=${prefer.annotationsText}`);
  if (paged && prefer.maxPageSize !== undefined) applied.push(`odata.maxpagesize=${prefer.maxPageSize}`);
  return applied.length === 0 ? {} : { 'Preference-Applied': applied.join(',') };
}

function pad(n: number): string {
  return String(n).padStart(2, '0');
}

/** Dates as Dataverse shows them to a user with English (US) settings; the emulator's users live in UTC. */
export function formatDateTime(text: string): string {
  const d = new Date(text);
  if (Number.isNaN(d.getTime())) return text;
  const hours = d.getUTCHours();
  const h12 = hours % 12 === 0 ? 12 : hours % 12;
  return `${d.getUTCMonth() + 1}/${d.getUTCDate()}/${d.getUTCFullYear()} ${h12}:${pad(d.getUTCMinutes())} ${hours < 12 ? 'AM' : 'PM'}`;
}

export function formatDate(text: string): string {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  return m === null ? text : `${Number(m[2])}/${Number(m[3])}/${m[1]}`;
}

// `toLocaleString` with options builds a new `Intl.NumberFormat` on every call (a profile of the agent tools' bench
// found it in every formatted read); one formatter per number of fraction digits is built once.
const numberFormats = new Map<number, Intl.NumberFormat>();

/** A number formatted en-US; an exact literal (exactNumber.ts) is formatted from its digits, not a double. */
function formatNumber(value: number | string, digits: number): string {
  let format = numberFormats.get(digits);
  if (format === undefined) {
    format = new Intl.NumberFormat('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
    numberFormats.set(digits, format);
  }
  // Intl formats a decimal string digit for digit (ECMA-402 Intl.NumberFormat v3, in Node 20); this
  // TypeScript lib declares only numbers.
  return (format.format as (input: number | string) => string)(value);
}

/**
 * Computes formatted values; remembers related names and currencies for the length of one request so that
 * a page of rows pointing at the same owner asks the store once.
 */
export class Formatter {
  private readonly names = new Map<string, string | null>();
  private readonly currencies = new Map<string, { symbol: string; precision: number }>();

  constructor(
    private readonly schema: Schema,
    private readonly store: Store,
  ) {}

  primaryName(tableName: string, id: string): string | null {
    const key = `${tableName}:${id}`;
    const cached = this.names.get(key);
    if (cached !== undefined) return cached;
    const table = this.schema.tables.get(tableName);
    const row = table === undefined ? null : this.store.get(table, id);
    const value = table?.primaryNameAttribute === undefined ? undefined : row?.[table.primaryNameAttribute];
    const name = typeof value === 'string' ? value : null;
    this.names.set(key, name);
    return name;
  }

  private currency(id: unknown): { symbol: string; precision: number } {
    const fallback = { symbol: '$', precision: 2 };
    if (typeof id !== 'string') return fallback;
    const cached = this.currencies.get(id);
    if (cached !== undefined) return cached;
    const table = this.schema.tables.get('transactioncurrency');
    const row = table === undefined ? null : this.store.get(table, id);
    const symbol = row?.currencysymbol;
    const precision = row?.currencyprecision;
    const found = {
      symbol: typeof symbol === 'string' ? symbol : '$',
      precision: typeof precision === 'number' ? precision : 2,
    };
    this.currencies.set(id, found);
    return found;
  }

  /** The formatted value of a column, or undefined when Dataverse shows none (strings, ids, nulls). */
  format(column: Column, row: Row): string | undefined {
    const value = row[column.name];
    if (value === null || value === undefined || column.name === 'versionnumber') return undefined;
    switch (column.type) {
      case 'choice':
      case 'state':
      case 'status':
        return column.options?.find((o) => o.value === value)?.label ?? String(value);
      case 'choices':
        return String(value)
          .split(',')
          .map((v) => column.options?.find((o) => o.value === Number(v))?.label ?? v)
          .join('; ');
      case 'boolean': {
        const label = column.options?.find((o) => o.value === value)?.label;
        return label ?? (value === 1 ? 'Yes' : 'No');
      }
      case 'currency': {
        const { symbol, precision } = this.currency(row.transactioncurrencyid);
        const amount = exactLiteral(value) ?? Number(value);
        const negative = typeof amount === 'string' ? amount.startsWith('-') : amount < 0;
        const magnitude = typeof amount === 'string' ? amount.replace(/^-/, '') : Math.abs(amount);
        return `${negative ? '-' : ''}${symbol}${formatNumber(magnitude, precision)}`;
      }
      case 'integer':
      case 'bigint':
        return formatNumber(exactLiteral(value) ?? Number(value), 0);
      case 'decimal':
      case 'float':
        return formatNumber(exactLiteral(value) ?? Number(value), column.precision ?? 2);
      case 'datetime':
        return formatDateTime(String(value));
      case 'dateonly':
        return formatDate(String(value));
      case 'lookup':
      case 'customer':
      case 'owner': {
        const type = row[`${column.name}__type`];
        return typeof type === 'string' ? (this.primaryName(type, String(value)) ?? undefined) : undefined;
      }
      default:
        return undefined;
    }
  }
}

/** The single-valued navigation property a lookup value is reached through, for its stored target type. */
export function associatedNavigation(column: Column, type: unknown): string | undefined {
  const targets = column.targets ?? [];
  if (column.type === 'owner') return targets[0]?.navigation;
  return (targets.find((t) => t.table === type) ?? targets[0])?.navigation;
}

/** Adds the annotations of one column to `out`, in Dataverse's order (annotations precede the value). */
export function annotate(
  out: Record<string, unknown>,
  name: string,
  column: Column,
  row: Row,
  annotations: AnnotationFilter | undefined,
  formatter: Formatter,
): void {
  if (annotations === undefined) return;
  if (annotations.wants(FORMATTED_VALUE)) {
    const formatted = formatter.format(column, row);
    if (formatted !== undefined) out[`${name}@${FORMATTED_VALUE}`] = formatted;
  }
  if (isLookupType(column.type) && row[column.name] !== null && row[column.name] !== undefined) {
    const type = row[`${column.name}__type`];
    if (annotations.wants(ASSOCIATED_NAVIGATION)) {
      const navigation = associatedNavigation(column, type);
      if (navigation !== undefined) out[`${name}@${ASSOCIATED_NAVIGATION}`] = navigation;
    }
    if (annotations.wants(LOOKUP_LOGICAL_NAME) && typeof type === 'string') {
      out[`${name}@${LOOKUP_LOGICAL_NAME}`] = type;
    }
  }
}

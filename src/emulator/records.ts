import { randomUUID } from 'node:crypto';
import { edmType, NAMESPACE, propertyName } from './csdl';
import { badRequest, DataverseHttpError, ErrorCodes, guessed, recordNotFound } from './errors';
import {
  compareDecimals,
  exactJson,
  exactLiteral,
  exactStored,
  MAX_DECIMAL_DIGITS,
  plainDecimal,
  significantDigits,
  storedNumber,
} from './exactNumber';
import { inexactLiteral } from './jsonBody';
import type { Column, Schema, Table } from './schema/schema';
import { isLookupType, manyToManySide } from './schema/schema';
import type { Row, Store, StoredValue } from './store';
import { completeRow } from './store';
import { isJsonObject } from '../core/json';

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DATE_ONLY = /^(\d{4})-(\d{2})-(\d{2})$/;
/** `Edm.Binary` in JSON: base64, standard or URL-safe alphabet (OData JSON format §7.1). */
const BASE64 = /^(?:[A-Za-z0-9+/_-]{4})*(?:[A-Za-z0-9+/_-]{2}(?:==)?|[A-Za-z0-9+/_-]{3}=?)?$/;
const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?(?:Z|[+-](\d{2}):(\d{2}))$/;
/**
 * `DateTimeAttributeMetadata.MinSupportedValue` and `MaxSupportedValue` (SQL Server's `datetime` range):
 * 1753-01-01T00:00:00 to 9999-12-31T23:59:59.
 */
const MIN_INSTANT = Date.UTC(1753, 0, 1);
const MAX_INSTANT = Date.UTC(9999, 11, 31, 23, 59, 59);
/**
 * Characters XML 1.0 cannot hold: C0 controls but tab, LF and CR; lone surrogates; U+FFFE and U+FFFF. Dataverse
 * checks every string and memo value with `XmlConvert.VerifyXmlChars` and refuses these (InvalidCharactersInField,
 * https://learn.microsoft.com/power-apps/developer/data-platform/best-practices/work-with-data/invalidcharactersinfield).
 */
const NOT_XML_CHAR =
  // eslint-disable-next-line no-control-regex -- the control characters are what it finds
  /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * The ranges Dataverse gives these columns when the schema names none ("Types of columns": decimal and float
 * ±100,000,000,000; currency ±922,337,203,685,477).
 */
const NUMBER_RANGE = {
  decimal: [-100_000_000_000, 100_000_000_000],
  float: [-100_000_000_000, 100_000_000_000],
  currency: [-922_337_203_685_477, 922_337_203_685_477],
} as const;

/** Whether a string holds only characters Dataverse stores (and so only ones a stored value can contain). */
export function isStorableText(value: string): boolean {
  return !NOT_XML_CHAR.test(value);
}

/** Whether the year, month, day (and time) fields name a real calendar instant; `Date.parse` rolls 02-30 over. */
function isCalendarDate(match: RegExpExecArray): boolean {
  const [, year, month, day, hour = '0', minute = '0', second = '0', offsetHour = '0', offsetMinute = '0'] = match.map(
    (part) => part ?? '0',
  );
  const y = Number(year);
  const m = Number(month);
  const d = Number(day);
  const daysInMonth = new Date(Date.UTC(y, m, 0)).getUTCDate();
  return (
    m >= 1 &&
    m <= 12 &&
    d >= 1 &&
    d <= daysInMonth &&
    Number(hour) <= 23 &&
    Number(minute) <= 59 &&
    Number(second) <= 59 &&
    Number(offsetHour) <= 23 &&
    Number(offsetMinute) <= 59
  );
}

export function isGuid(value: string): boolean {
  return GUID.test(value);
}

/** The identity every write is attributed to. */
export interface Caller {
  readonly userId: string;
  readonly businessUnitId: string;
}

export interface Organization {
  readonly organizationId: string;
  readonly baseCurrencyId: string;
}

export function etag(row: Row): string {
  return `W/"${String(row.versionnumber ?? 0)}"`;
}

let clockSecond = Number.NaN;
let clockText = '';

/** Dataverse writes date-times to the second, in UTC (formatted once a second: a bulk request stamps every row). */
export function nowIso(): string {
  const second = Math.floor(Date.now() / 1000);
  if (second !== clockSecond) {
    clockSecond = second;
    clockText = new Date(second * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
  }
  return clockText;
}

/** A stored SQLite value as the Web API's JSON writes it. */
export function jsonValue(column: Column, value: StoredValue): unknown {
  if (value === null) return null;
  switch (column.type) {
    case 'boolean':
      return value === 1;
    case 'bigint':
    case 'decimal':
    case 'currency': {
      const literal = exactLiteral(value);
      return literal === undefined ? Number(value) : exactJson(literal);
    }
    case 'integer':
    case 'choice':
    case 'state':
    case 'status':
    case 'float':
      return typeof value === 'number' ? value : Number(value);
    case 'managedproperty':
      return managedPropertyJson(column, value);
    default:
      return value;
  }
}

/**
 * A stored row as Dataverse returns it (minimal metadata): etag, columns, `_x_value` lookups. Write-only
 * columns (`validForRead` false) are null: their value never leaves the emulator.
 */
export function rowToJson(table: Table, row: Row): Record<string, unknown> {
  const out: Record<string, unknown> = { '@odata.etag': etag(row) };
  for (const column of table.columns.values()) {
    if (column.hidden === true) continue;
    out[propertyName(column)] = column.validForRead ? jsonValue(column, row[column.name] ?? null) : null;
  }
  return out;
}

/**
 * A stored managed property (its JSON text) as the Web API answers it: `Value`, `CanBeChanged` and the
 * attribute's `ManagedPropertyLogicalName`, in Dataverse's order
 * (https://learn.microsoft.com/power-apps/developer/data-platform/webapi/reference/booleanmanagedproperty).
 */
export function managedPropertyJson(column: Column, value: StoredValue): unknown {
  let parsed: unknown;
  try {
    parsed = JSON.parse(String(value));
  } catch {
    return null;
  }
  if (!isJsonObject(parsed)) return null;
  return {
    Value: parsed.Value === true,
    CanBeChanged: parsed.CanBeChanged !== false,
    ManagedPropertyLogicalName: column.managedPropertyName ?? column.name,
  };
}

const MANAGED_PROPERTY_MEMBERS = new Set(['Value', 'CanBeChanged', 'ManagedPropertyLogicalName']);

/**
 * A managed property as written (`"iscustomizable": {"Value": false}`): an object with a Boolean `Value`, an
 * optional Boolean `CanBeChanged` (true when left out) and no other member; `ManagedPropertyLogicalName` is the
 * attribute's and is ignored. Stored as its JSON text.
 */
function managedPropertyValue(column: Column, value: unknown): string {
  if (!isJsonObject(value)) {
    throw badRequest(
      `An unexpected '${Array.isArray(value) ? 'StartArray' : 'PrimitiveValue'}' node was found when reading from the JSON reader. A 'StartObject' node was expected. The property '${column.name}' is of type '${edmType(column.type)}': write it as {"Value": true} or {"Value": false}.`,
    );
  }
  for (const key of Object.keys(value)) {
    if (!key.includes('@') && !MANAGED_PROPERTY_MEMBERS.has(key)) {
      throw badRequest(
        `The property '${key}' does not exist on type '${edmType(column.type)}'. Make sure to only use property names that are defined by the type.`,
      );
    }
  }
  if (typeof value.Value !== 'boolean') {
    throw badRequest(
      `The property '${column.name}' of type '${edmType(column.type)}' needs a Boolean 'Value' (${JSON.stringify(value.Value ?? null)} was given).`,
    );
  }
  if (value.CanBeChanged !== undefined && typeof value.CanBeChanged !== 'boolean') {
    throw typeError(value.CanBeChanged, { ...column, type: 'boolean' });
  }
  return JSON.stringify({ Value: value.Value, CanBeChanged: value.CanBeChanged !== false });
}

/**
 * What a new record's `iscustomizable` holds when the request leaves it out: customizable, as Dataverse makes
 * every new solution component (https://learn.microsoft.com/power-platform/alm/use-managed-properties: "By
 * default, all custom solution components are customizable").
 */
const NEW_RECORD_CUSTOMIZABLE = JSON.stringify({ Value: true, CanBeChanged: true });

function typeError(value: unknown, column: Column): DataverseHttpError {
  const literal = typeof value === 'string' ? value : JSON.stringify(value);
  return badRequest(`Cannot convert the literal '${literal}' to the expected type '${edmType(column.type)}'.`);
}

function outOfRange(table: Table, column: Column, value: unknown): DataverseHttpError {
  const accepted =
    column.options === undefined ? '' : ` Accepted Values: ${column.options.map((o) => o.value).join(',')}`;
  return badRequest(
    `A validation error occurred.  The value ${JSON.stringify(value)} of '${column.name}' on record of type '${table.logicalName}' is outside the valid range.${accepted}`,
    ErrorCodes.validationOutOfRange,
  );
}

function outOfSupportedRange(table: Table, column: Column, value: unknown): DataverseHttpError {
  return badRequest(
    `A validation error occurred.  The value ${JSON.stringify(value)} of '${column.name}' on record of type '${table.logicalName}' is outside the supported range of 1753-01-01 to 9999-12-31.`,
    ErrorCodes.validationOutOfRange,
  );
}

/**
 * A number no Dataverse column keeps exactly: a whole number column given more digits than 64 bits hold, or a
 * decimal with more significant digits than .NET's decimal. Refused, so that what is read back is always what
 * was written.
 */
function inexactNumber(table: Table, column: Column, literal: string): DataverseHttpError {
  const wholeNumber = column.type !== 'decimal' && column.type !== 'currency';
  return badRequest(
    `The value ${literal} of '${column.name}' on record of type '${table.logicalName}' has more significant digits than ${wholeNumber ? 'a 64-bit whole number holds' : `the ${MAX_DECIMAL_DIGITS} a Dataverse decimal holds`}.`,
    ErrorCodes.validationOutOfRange,
  );
}

const INT64_RANGE = ['-9223372036854775808', '9223372036854775807'] as const;

/**
 * A decimal, money or big integer value past what a double holds exactly, checked against its column's
 * range digit for digit and stored as its literal (exactNumber.ts).
 */
function exactNumberValue(table: Table, column: Column, literal: string): StoredValue {
  const plain = plainDecimal(literal);
  if (plain === undefined) throw typeError(literal, column);
  if (column.type === 'bigint') {
    if (plain.includes('.')) throw typeError(literal, column);
    if (compareDecimals(plain, INT64_RANGE[0]) < 0 || compareDecimals(plain, INT64_RANGE[1]) > 0) {
      throw typeError(literal, column);
    }
  } else {
    if (significantDigits(plain) > MAX_DECIMAL_DIGITS) throw inexactNumber(table, column, literal);
    const [min, max] = NUMBER_RANGE[column.type === 'currency' ? 'currency' : 'decimal'];
    if (
      compareDecimals(plain, String(column.min ?? min)) < 0 ||
      compareDecimals(plain, String(column.max ?? max)) > 0
    ) {
      throw outOfRange(table, column, Number(plain));
    }
  }
  return exactStored(plain);
}

/**
 * Converts one JSON value to its stored form, validating it as Dataverse does. `literal` is the number as the
 * client wrote it when reading it lost digits (jsonBody.ts `inexactLiteral`).
 */
export function toStoredValue(table: Table, column: Column, value: unknown, literal?: string): StoredValue {
  // A double column keeps the nearest double, as Dataverse's does; the others would store another value. A
  // literal beyond any double (1e400) is refused below as out of range.
  if (literal !== undefined && column.type !== 'float' && Number.isFinite(value)) {
    if (column.type === 'decimal' || column.type === 'currency' || column.type === 'bigint') {
      return exactNumberValue(table, column, literal);
    }
    throw inexactNumber(table, column, literal);
  }
  if (value === null) {
    if (column.required === 'SystemRequired') {
      throw badRequest(
        `A validation error occurred.  The '${column.name}' attribute of the '${table.logicalName}' entity is required and cannot be set to null.`,
        ErrorCodes.validationRequired,
      );
    }
    return null;
  }
  switch (column.type) {
    case 'string':
    case 'memo': {
      if (typeof value !== 'string') throw typeError(value, column);
      if (!isStorableText(value)) {
        throw badRequest(
          `The field '${column.name}' contains one or more invalid characters.`,
          ErrorCodes.invalidCharactersInField,
        );
      }
      if (column.maxLength !== undefined && value.length > column.maxLength) {
        throw badRequest(
          `A validation error occurred.  The length of the '${column.name}' attribute of the '${table.logicalName}' entity exceeded the maximum allowed length of '${column.maxLength}'.`,
          ErrorCodes.validationMaxLength,
        );
      }
      return value;
    }
    case 'integer':
    case 'bigint': {
      if (typeof value !== 'number' || !Number.isInteger(value)) throw typeError(value, column);
      // A whole number past 2^53 that is still a double (2^60 sent as 1152921504606846976) is kept as its digits.
      if (column.type === 'bigint' && !Number.isSafeInteger(value))
        return exactNumberValue(table, column, String(value));
      if (column.type === 'integer' && (value > 2147483647 || value < -2147483648)) throw typeError(value, column);
      if ((column.min !== undefined && value < column.min) || (column.max !== undefined && value > column.max)) {
        throw outOfRange(table, column, value);
      }
      return value;
    }
    case 'decimal':
    case 'currency':
    case 'float': {
      if (typeof value !== 'number' || !Number.isFinite(value)) throw typeError(value, column);
      const [min, max] = NUMBER_RANGE[column.type];
      if (value < (column.min ?? min) || value > (column.max ?? max)) throw outOfRange(table, column, value);
      return value;
    }
    case 'boolean':
      if (typeof value !== 'boolean') throw typeError(value, column);
      return value ? 1 : 0;
    case 'datetime': {
      if (typeof value !== 'string') throw typeError(value, column);
      // A date alone is accepted for date-time columns and means midnight UTC.
      const text = DATE_ONLY.test(value) ? `${value}T00:00:00Z` : value;
      const match = DATE_TIME.exec(text);
      const time = match !== null && isCalendarDate(match) ? Date.parse(text) : Number.NaN;
      if (Number.isNaN(time)) throw typeError(value, column);
      if (time < MIN_INSTANT || time > MAX_INSTANT) throw outOfSupportedRange(table, column, value);
      // Stored to the second, as Dataverse returns date-times; the fraction is dropped, not rounded.
      return new Date(time).toISOString().replace(/\.\d{3}Z$/, 'Z');
    }
    case 'dateonly': {
      const match = typeof value === 'string' ? DATE_ONLY.exec(value) : null;
      if (typeof value !== 'string' || match === null || !isCalendarDate(match)) throw typeError(value, column);
      const time = Date.parse(`${value}T00:00:00Z`);
      if (time < MIN_INSTANT || time > MAX_INSTANT) throw outOfSupportedRange(table, column, value);
      return value;
    }
    case 'uniqueidentifier':
      if (typeof value !== 'string' || !isGuid(value)) throw typeError(value, column);
      return value.toLowerCase();
    case 'choice':
    case 'state':
    case 'status': {
      if (typeof value !== 'number' || !Number.isInteger(value)) throw typeError(value, column);
      if (!(column.options ?? []).some((o) => o.value === value)) throw outOfRange(table, column, value);
      return value;
    }
    case 'choices': {
      // Multi-select choices travel as a comma-separated string of option values ("1,3").
      if (typeof value !== 'string') throw typeError(value, column);
      if (value === '') return null;
      const parts = value.split(',').map((p) => p.trim());
      const numbers = parts.map((p) => (/^-?\d+$/.test(p) ? Number(p) : Number.NaN));
      if (numbers.some((n) => Number.isNaN(n))) throw typeError(value, column);
      for (const n of numbers)
        if (!(column.options ?? []).some((o) => o.value === n)) throw outOfRange(table, column, n);
      return [...new Set(numbers)].sort((a, b) => a - b).join(',');
    }
    case 'binary':
      if (typeof value !== 'string' || !BASE64.test(value)) throw typeError(value, column);
      return value;
    case 'managedproperty':
      return managedPropertyValue(column, value);
    case 'lookup':
    case 'customer':
    case 'owner':
      throw badRequest(
        'CRM do not support direct update of Entity Reference properties, Use Navigation properties instead.',
      );
  }
}

export interface ParsedReference {
  readonly table: Table;
  readonly id: string;
}

/** Resolves an `@odata.bind` / `@odata.id` value: `/accounts(<id>)`, `accounts(<id>)` or an absolute URL. */
export function parseReference(schema: Schema, value: unknown): ParsedReference {
  if (typeof value !== 'string')
    throw badRequest(`The reference value must be a string, not ${JSON.stringify(value)}.`);
  let path = value;
  const api = /\/api\/data\/v9\.[0-2]\/(.*)$/.exec(value);
  if (api?.[1] !== undefined) path = api[1];
  else if (/^[a-z]+:\/\//i.test(value)) throw badRequest(`The URI '${value}' is not valid for the service.`);
  const match = /^\/?([A-Za-z0-9_]+)\(([^)]*)\)$/.exec(path);
  if (match === null) throw badRequest(`The URI '${value}' is not valid for the service.`);
  const [, set = '', key = ''] = match;
  const table = schema.byEntitySet.get(set);
  if (table === undefined)
    throw new DataverseHttpError(
      404,
      ErrorCodes.resourceNotFoundForSegment,
      `Resource not found for the segment '${set}'.`,
    );
  if (!isGuid(key)) throw badRequest(`The key value '${key}' in '${value}' is not a valid GUID.`);
  return { table, id: key.toLowerCase() };
}

/** Sees every record write inside its transaction: webhook delivery (webhookDelivery.ts) hooks in here. */
export interface WriteObserver {
  /** The row about to be stored, after derived columns: may set more of them, or refuse it by throwing. */
  prepare(table: Table, row: Row, existing: Row | null): void;
  created(table: Table, row: Row): void;
  /** `written`: the columns the request set (its Target), not only those whose value changed. */
  updated(table: Table, before: Row, after: Row, written: readonly string[]): void;
  /** Before the row goes; may delete what Dataverse deletes with it. */
  deleting(table: Table, row: Row): void;
  /**
   * Runs a bulk message's records (`work` answers their ids, in the order of `Targets`), so that steps on the
   * message itself see them as one request.
   */
  multiple(message: MultipleWriteMessage, table: Table, work: () => readonly string[]): void;
}

/** The bulk messages that write records; steps can be registered on each. */
export type MultipleWriteMessage = 'CreateMultiple' | 'UpdateMultiple' | 'UpsertMultiple';

export interface WriteContext {
  readonly schema: Schema;
  readonly store: Store;
  readonly caller: Caller;
  readonly organization: Organization;
  readonly observer?: WriteObserver;
  /** Set for one bulk request (`requestScope`): what its records share is worked out once. */
  readonly scope?: RequestScope;
}

/**
 * What the records of one bulk request share, worked out once for all of them instead of once per record:
 * owners' business units, and a block of row versions taken with one statement. Valid inside the request's
 * transaction only. A request that writes users or teams gets none of the units kept (it may move one).
 */
export interface RequestScope {
  readonly businessUnits: Map<string, StoredValue | undefined> | undefined;
  /** The next reserved version and the end of the block (exclusive); past it, versions are taken one by one. */
  versions: { next: number; readonly end: number };
}

/** A scope for a bulk request on `table` writing about `records` rows; `ctx` must be inside the request's transaction. */
export function requestScope(ctx: WriteContext, table: Table, records: number): WriteContext {
  const movesUnits = table.logicalName === 'systemuser' || table.logicalName === 'team';
  const first = ctx.store.reserveVersions(records);
  return {
    ...ctx,
    scope: { businessUnits: movesUnits ? undefined : new Map(), versions: { next: first, end: first + records } },
  };
}

/** The organization-wide row version for the next write: from the request's reserved block while it lasts. */
function nextVersion(ctx: WriteContext): number {
  const block = ctx.scope?.versions;
  if (block !== undefined && block.next < block.end) return block.next++;
  return ctx.store.nextVersion();
}

/** The business unit of a user or team owner (remembered for the request when it has a scope). */
function businessUnitOf(ctx: WriteContext, ownerTable: Table, ownerId: string): StoredValue | undefined {
  const units = ctx.scope?.businessUnits;
  if (units?.has(ownerId) === true) return units.get(ownerId);
  const unit = ctx.store.valueOf(ownerTable, ownerId, 'businessunitid');
  units?.set(ownerId, unit);
  return unit;
}

interface PendingChild {
  readonly navigation: string;
  readonly body: unknown;
}

interface ParsedWrite {
  readonly values: Row;
  readonly children: PendingChild[];
  readonly collectionBinds: { navigation: string; refs: ParsedReference[] }[];
  readonly clientId: string | undefined;
}

function unknownProperty(table: Table, name: string): DataverseHttpError {
  return badRequest(
    `The property '${name}' does not exist on type '${NAMESPACE}.${table.logicalName}'. Make sure to only use property names that are defined by the type or mark the type as open type.`,
  );
}

function setLookup(values: Row, column: Column, target: ParsedReference | null): void {
  Object.assign(values, lookupValues(column, target));
}

/**
 * The stored values of a lookup pointing at `target` (null clears it): the id, and the table beside it. A plain
 * Guid column behind a navigation (`stageid` of `stageid_processstage`) keeps the id only.
 */
export function lookupValues(column: Column, target: { readonly table: Table; readonly id: string } | null): Row {
  const values: Row = { [column.name]: target?.id ?? null };
  if (isLookupType(column.type)) values[`${column.name}__type`] = target?.table.logicalName ?? null;
  return values;
}

/**
 * Refuses to set or clear the 1:1 link of an activity to its pointer row (`activityid_activitypointer`): its
 * "lookup" is the record's own key.
 */
export function checkSettable(table: Table, navigation: { readonly name: string; readonly column: Column }): void {
  if (navigation.column.name === table.primaryIdAttribute) {
    throw badRequest(
      `The navigation property '${navigation.name}' links the record to its own '${table.baseType ?? table.logicalName}' row and cannot be changed.`,
    );
  }
}

function checkLookupTarget(column: Column, navigationTarget: string, ref: ParsedReference, ctx: WriteContext): void {
  const allowed = navigationTarget === 'principal' ? ['systemuser', 'team'] : [navigationTarget];
  if (!allowed.includes(ref.table.logicalName)) {
    throw badRequest(
      `A reference to '${ref.table.entitySetName}' cannot be bound to '${column.name}', which points to '${allowed.join("' or '")}'.`,
    );
  }
  if (!ctx.store.exists(ref.table, ref.id)) throw recordNotFound(ref.table.logicalName, ref.id);
}

function parseWrite(ctx: WriteContext, table: Table, body: unknown): ParsedWrite {
  if (!isJsonObject(body)) throw badRequest('The request body must be a JSON object.');
  const values: Row = {};
  const children: PendingChild[] = [];
  const collectionBinds: { navigation: string; refs: ParsedReference[] }[] = [];
  let clientId: string | undefined;
  for (const [key, value] of Object.entries(body)) {
    const at = key.indexOf('@');
    if (at === 0) continue; // @odata.type, @odata.context: accepted and ignored, as Dataverse does.
    if (at > 0) {
      const name = key.slice(0, at);
      const annotation = key.slice(at + 1);
      if (annotation !== 'odata.bind') continue;
      const navigation = table.navigations.get(name);
      // A polymorphic lookup has one navigation per target (`parentcustomerid_account`, `…_contact`): a target the
      // lookup does not allow has none, and ODataLib refuses the annotation (Dataverse's message, as quoted in
      // public issue threads).
      if (navigation === undefined) {
        throw badRequest(
          `An undeclared property '${name}' which only has property annotations in the payload but no property value was found in the payload. In OData, only declared navigation properties and declared named streams can be represented as properties without values.`,
        );
      }
      if (navigation.kind === 'single') {
        checkSettable(table, navigation);
        if (value === null) setLookup(values, navigation.column, null);
        else {
          const ref = parseReference(ctx.schema, value);
          checkLookupTarget(navigation.column, navigation.target, ref, ctx);
          setLookup(values, navigation.column, ref);
        }
      } else if (navigation.kind === 'collection' || navigation.kind === 'manyToMany') {
        if (!Array.isArray(value)) throw badRequest(`The value of '${key}' must be an array of references.`);
        collectionBinds.push({ navigation: name, refs: value.map((v) => parseReference(ctx.schema, v)) });
      }
      continue;
    }
    const column = table.columns.get(key);
    if (column !== undefined && !isLookupType(column.type)) {
      if (column.name === table.primaryIdAttribute) {
        if (typeof value !== 'string' || !isGuid(value)) throw typeError(value, column);
        clientId = value.toLowerCase();
        continue;
      }
      const stored = toStoredValue(table, column, value, inexactLiteral(body, key));
      // Columns the server maintains are ignored on write, as Dataverse does.
      if (!column.readOnly) values[column.name] = stored;
      continue;
    }
    const navigation = table.navigations.get(key);
    if (navigation !== undefined) {
      if (navigation.kind === 'single') checkSettable(table, navigation);
      if (navigation.kind === 'single' && value === null) setLookup(values, navigation.column, null);
      else if (navigation.kind === 'single' && isJsonObject(value)) children.push({ navigation: key, body: value });
      else if (navigation.kind !== 'single' && Array.isArray(value)) children.push({ navigation: key, body: value });
      else
        throw badRequest(
          `The value of the navigation property '${key}' must be ${navigation.kind === 'single' ? 'an object or null' : 'an array'}.`,
        );
      continue;
    }
    if (/^_[a-z0-9_]+_value$/.test(key) && table.columns.has(key.slice(1, -6))) {
      throw badRequest(
        'CRM do not support direct update of Entity Reference properties, Use Navigation properties instead.',
      );
    }
    throw unknownProperty(table, key);
  }
  return { values, children, collectionBinds, clientId };
}

function currencyRate(ctx: WriteContext, currencyId: StoredValue): number {
  const currencyTable = ctx.schema.tables.get('transactioncurrency');
  if (currencyTable === undefined || typeof currencyId !== 'string') return 1;
  const rate = ctx.store.valueOf(currencyTable, currencyId, 'exchangerate');
  return typeof rate === 'number' && rate > 0 ? rate : 1;
}

/** The columns `derive` works on, found once per table: a bulk request derives thousands of rows. */
interface DerivedColumns {
  readonly indicated: readonly Column[];
  readonly concatenated: readonly Column[];
  /** Money columns a caller writes (not their `_base` twins). */
  readonly money: readonly Column[];
  readonly bases: readonly Column[];
}

const derivedColumnsOf = new WeakMap<Table, DerivedColumns>();

function derivedColumns(table: Table): DerivedColumns {
  let found = derivedColumnsOf.get(table);
  if (found === undefined) {
    const columns = [...table.columns.values()];
    found = {
      indicated: columns.filter((c) => c.setIndicator !== undefined),
      concatenated: columns.filter((c) => c.concatOf !== undefined),
      money: columns.filter((c) => c.type === 'currency' && c.baseOf === undefined),
      bases: columns.filter((c) => c.baseOf !== undefined),
    };
    derivedColumnsOf.set(table, found);
  }
  return found;
}

/** Whether a write-only column holds a value, as its `is…set` indicator reports it. */
function holdsValue(value: StoredValue | undefined): boolean {
  if (value === null || value === undefined) return false;
  return typeof value !== 'string' || value.trim() !== '';
}

/** Recomputes the columns Dataverse derives: names, currency bases, ownership columns, `is…set` indicators. */
function derive(ctx: WriteContext, table: Table, row: Row): void {
  // An activity's type is its table (`activitytypecode`, read-only); its pointer row carries it to activitypointers.
  if (table.baseType === 'activitypointer' && table.columns.has('activitytypecode')) {
    row.activitytypecode = table.logicalName;
  }
  const columns = derivedColumns(table);
  for (const column of columns.indicated) {
    // Secrets cannot be read back; `isauthvalueset` and its kin say whether one is set.
    if (column.setIndicator !== undefined) row[column.setIndicator] = holdsValue(row[column.name]) ? 1 : 0;
  }
  for (const column of columns.concatenated) {
    const text = (column.concatOf ?? [])
      .map((name) => row[name])
      .filter((v): v is string => typeof v === 'string' && v.length > 0)
      .join(' ');
    row[column.name] = text.length > 0 ? text : null;
  }
  if (table.columns.has('transactioncurrencyid') && table.columns.has('exchangerate')) {
    if (row.transactioncurrencyid === null || row.transactioncurrencyid === undefined) {
      const hasMoney = columns.money.some((c) => row[c.name] !== null && row[c.name] !== undefined);
      if (hasMoney) {
        row.transactioncurrencyid = ctx.organization.baseCurrencyId;
        row.transactioncurrencyid__type = 'transactioncurrency';
      }
    }
    const rate =
      row.transactioncurrencyid === null || row.transactioncurrencyid === undefined
        ? null
        : currencyRate(ctx, row.transactioncurrencyid);
    row.exchangerate = rate;
    for (const column of columns.bases) {
      if (column.baseOf === undefined) continue;
      const amount = row[column.baseOf];
      row[column.name] =
        amount === null || amount === undefined || rate === null
          ? null
          : Math.round((storedNumber(amount) / rate) * 10000) / 10000;
    }
  }
  if (table.columns.has('owninguser') && typeof row.ownerid === 'string') {
    const isTeam = row.ownerid__type === 'team';
    row.owninguser = isTeam ? null : row.ownerid;
    row.owninguser__type = isTeam ? null : 'systemuser';
    row.owningteam = isTeam ? row.ownerid : null;
    row.owningteam__type = isTeam ? 'team' : null;
    const ownerTable = ctx.schema.tables.get(isTeam ? 'team' : 'systemuser');
    const bu =
      (ownerTable === undefined ? undefined : businessUnitOf(ctx, ownerTable, row.ownerid)) ??
      ctx.caller.businessUnitId;
    row.owningbusinessunit = bu;
    row.owningbusinessunit__type = 'businessunit';
  }
}

function checkAlternateKeys(ctx: WriteContext, table: Table, row: Row, id: string): void {
  for (const key of table.alternateKeys) {
    const values: Record<string, StoredValue> = {};
    let complete = true;
    for (const name of key.columns) {
      const value = row[name] ?? null;
      if (value === null) complete = false;
      values[name] = value;
    }
    if (!complete) continue;
    const clash = ctx.store.findBy(table, values).find((r) => r[table.primaryIdAttribute] !== id);
    if (clash !== undefined) {
      const labels = key.columns.map((c) => table.columns.get(c)?.displayName ?? c).join(', ');
      throw new DataverseHttpError(
        412,
        ErrorCodes.duplicateRecordEntityKey,
        `A record that has the attribute values ${labels} already exists. The entity key ${key.name} requires that this set of attributes contains unique values. Select unique values and try again.`,
      );
    }
  }
}

function checkRequired(table: Table, row: Row): void {
  for (const column of table.columns.values()) {
    if (column.required !== 'SystemRequired' || column.readOnly) continue;
    if (row[column.name] === null || row[column.name] === undefined) {
      throw badRequest(
        `A validation error occurred.  The '${column.name}' attribute of the '${table.logicalName}' entity is required and cannot be null.`,
        ErrorCodes.validationRequired,
      );
    }
  }
}

function applyCollectionBinds(
  ctx: WriteContext,
  table: Table,
  id: string,
  binds: ParsedWrite['collectionBinds'],
): void {
  for (const bind of binds) {
    for (const ref of bind.refs) associate(ctx, table, id, bind.navigation, ref);
  }
}

/** Links `ref` to the record through a collection navigation (1:N sets the lookup, N:N adds a row). */
export function associate(
  ctx: WriteContext,
  table: Table,
  id: string,
  navigationName: string,
  ref: ParsedReference,
): void {
  const navigation = table.navigations.get(navigationName);
  if (navigation === undefined) throw unknownProperty(table, navigationName);
  if (navigation.kind === 'single') {
    checkSettable(table, navigation);
    const column = navigation.column;
    checkLookupTarget(column, navigation.target, ref, ctx);
    updateRecord(ctx, table, id, {}, lookupValues(column, ref));
    return;
  }
  if (navigation.kind === 'collection') {
    if (ref.table.logicalName !== navigation.source) {
      throw badRequest(`A reference to '${ref.table.entitySetName}' cannot be added to '${navigationName}'.`);
    }
    if (!ctx.store.exists(ref.table, ref.id)) throw recordNotFound(ref.table.logicalName, ref.id);
    const column = ref.table.columns.get(navigation.column);
    if (column === undefined) throw unknownProperty(table, navigationName);
    checkSettable(ref.table, { name: navigation.partner, column });
    updateRecord(ctx, ref.table, ref.id, {}, lookupValues(column, { table, id }));
    return;
  }
  const side = manyToManySide(ctx.schema, table, navigation.name);
  if (side === undefined || ref.table.logicalName !== navigation.target) {
    throw badRequest(`A reference to '${ref.table.entitySetName}' cannot be added to '${navigationName}'.`);
  }
  if (!ctx.store.exists(ref.table, ref.id)) throw recordNotFound(ref.table.logicalName, ref.id);
  const first = side.mine === 'a';
  ctx.store.associate(side.relationship, first ? id : ref.id, first ? ref.id : id);
}

/**
 * Refuses the writes Dataverse does not take on a table: `activitypointer` is read only (an activity is written
 * through its own table: https://learn.microsoft.com/power-apps/developer/data-platform/reference/entities/activitypointer
 * lists Retrieve and RetrieveMultiple), and an N:N intersect table is written by associate and disassociate only.
 */
export function checkWritable(table: Table, message: 'Create' | 'Update' | 'Delete'): void {
  if (table.logicalName === 'activitypointer') {
    throw guessed(
      400,
      'messageNotSupported',
      `The '${message}' method does not support entities of type '${table.logicalName}'. MessageProcessorCache returned MessageProcessor.Empty.`,
    );
  }
  if (table.isIntersect) {
    throw guessed(
      400,
      'intersectReadOnly',
      `The '${message}' method does not support entities of type '${table.logicalName}': it is the intersect table of an N:N relationship; use associate and disassociate (POST or DELETE …/<navigation>/$ref).`,
    );
  }
}

const createDefaultsOf = new WeakMap<Table, readonly (readonly [string, StoredValue])[]>();

/**
 * A new record's state (active) and status (the first of the active state): worked out once per table, as
 * pairs that `insertRecord` assigns into a fresh row (spreading a cached object into each row made every bulk
 * create 2.7x slower, `npm run bench -- bulk`).
 */
function createDefaults(table: Table): readonly (readonly [string, StoredValue])[] {
  let defaults = createDefaultsOf.get(table);
  if (defaults === undefined) {
    const pairs: [string, StoredValue][] = [];
    for (const column of table.columns.values()) {
      if (column.type === 'state') pairs.push([column.name, 0]);
      if (column.type === 'managedproperty' && column.name === 'iscustomizable') {
        pairs.push([column.name, NEW_RECORD_CUSTOMIZABLE]);
      }
      if (column.type === 'status')
        pairs.push([
          column.name,
          column.options?.find((o) => o.state === 0)?.value ?? column.options?.[0]?.value ?? null,
        ]);
    }
    defaults = pairs;
    createDefaultsOf.set(table, defaults);
  }
  return defaults;
}

/** Creates a record (with deep insert of nested records); returns its stored row. */
export function createRecord(ctx: WriteContext, table: Table, body: unknown, forcedId?: string): Row {
  const { row, stored } = insertRecord(ctx, table, body, forcedId, false);
  return stored ?? completeRow(table, row);
}

/**
 * Creates a record and answers its id, for a bulk message (which answers ids, not rows). `idFree` says the caller
 * has just found no record with `forcedId`.
 */
export function createRecordId(
  ctx: WriteContext,
  table: Table,
  body: unknown,
  forcedId?: string,
  idFree = false,
): string {
  return insertRecord(ctx, table, body, forcedId, idFree).id;
}

/**
 * Creates a record: answers its id, the row as built here, and the stored row when it had to be read back. The
 * observer gets the built row: a column it lacks is one the stored row holds as null.
 */
function insertRecord(
  ctx: WriteContext,
  table: Table,
  body: unknown,
  forcedId: string | undefined,
  idFree: boolean,
): { readonly id: string; readonly row: Row; readonly stored: Row | null } {
  checkWritable(table, 'Create');
  const parsed = parseWrite(ctx, table, body);
  if (forcedId !== undefined && parsed.clientId !== undefined && parsed.clientId !== forcedId) {
    throw badRequest(`The key in the URL and the '${table.primaryIdAttribute}' in the body differ.`);
  }
  const id = forcedId ?? parsed.clientId ?? randomUUID();
  if (!(idFree && id === forcedId) && ctx.store.exists(table, id)) {
    throw new DataverseHttpError(412, ErrorCodes.duplicateRecord, 'A record with matching key values already exists.');
  }
  const now = nowIso();
  const row: Row = {};
  for (const [name, value] of createDefaults(table)) row[name] = value;
  Object.assign(row, parsed.values);
  row[table.primaryIdAttribute] = id;
  row.createdon = now;
  row.modifiedon = now;
  row.createdby = ctx.caller.userId;
  row.createdby__type = 'systemuser';
  row.modifiedby = ctx.caller.userId;
  row.modifiedby__type = 'systemuser';
  if (table.columns.has('ownerid') && (row.ownerid === null || row.ownerid === undefined)) {
    row.ownerid = ctx.caller.userId;
    row.ownerid__type = 'systemuser';
  }
  for (const child of parsed.children) {
    const navigation = table.navigations.get(child.navigation);
    if (navigation?.kind !== 'single' || navigation.target === 'principal') continue;
    const target = ctx.schema.tables.get(navigation.target);
    if (target === undefined) continue;
    const created = createRecord(ctx, target, child.body);
    row[navigation.column.name] = created[target.primaryIdAttribute] ?? null;
    row[`${navigation.column.name}__type`] = target.logicalName;
  }
  derive(ctx, table, row);
  ctx.observer?.prepare(table, row, null);
  checkRequired(table, row);
  checkAlternateKeys(ctx, table, row, id);
  row.versionnumber = nextVersion(ctx);
  ctx.store.insert(table, row);
  for (const child of parsed.children) {
    const navigation = table.navigations.get(child.navigation);
    if (navigation === undefined || navigation.kind === 'single' || !Array.isArray(child.body)) continue;
    for (const item of child.body as unknown[]) {
      if (navigation.kind === 'collection') {
        const source = ctx.schema.tables.get(navigation.source);
        if (source === undefined) continue;
        const sourceNavigation = source.navigations.get(navigation.partner);
        if (!isJsonObject(item)) throw badRequest(`The items of '${child.navigation}' must be objects.`);
        createRecord(ctx, source, {
          ...item,
          [`${sourceNavigation?.name ?? navigation.partner}@odata.bind`]: `/${table.entitySetName}(${id})`,
        });
      } else {
        const target = ctx.schema.tables.get(navigation.target);
        if (target === undefined) continue;
        const created = createRecord(ctx, target, item);
        associate(ctx, table, id, navigation.name, { table: target, id: String(created[target.primaryIdAttribute]) });
      }
    }
  }
  applyCollectionBinds(ctx, table, id, parsed.collectionBinds);
  // The stored row is the one built here, unless related records written after the insert changed it (a record
  // bound as its own child) or the store added principal's `ownerid` (systemuser, team).
  const readBack = parsed.children.length > 0 || parsed.collectionBinds.length > 0 || table.baseType === 'principal';
  const stored = readBack ? ctx.store.get(table, id) : null;
  ctx.observer?.created(table, stored ?? row);
  return { id, row, stored };
}

/** Updates the given columns of an existing record; `raw` are already-stored values set by the server. */
export function updateRecord(ctx: WriteContext, table: Table, id: string, body: unknown, raw: Row = {}): Row {
  checkWritable(table, 'Update');
  const existing = ctx.store.get(table, id);
  if (existing === null) throw recordNotFound(table.logicalName, id);
  const parsed = parseWrite(ctx, table, body);
  if (parsed.children.length > 0)
    throw badRequest('Deep update is not supported: update related records on their own URLs.');
  const row: Row = { ...existing, ...parsed.values, ...raw };
  row.modifiedon = nowIso();
  row.modifiedby = ctx.caller.userId;
  row.modifiedby__type = 'systemuser';
  derive(ctx, table, row);
  ctx.observer?.prepare(table, row, existing);
  checkRequired(table, row);
  checkAlternateKeys(ctx, table, row, id);
  row.versionnumber = nextVersion(ctx);
  const changes: Row = {};
  for (const [key, value] of Object.entries(row)) {
    if (key !== table.primaryIdAttribute && existing[key] !== value) changes[key] = value;
  }
  ctx.store.update(table, id, changes);
  applyCollectionBinds(ctx, table, id, parsed.collectionBinds);
  const updated = ctx.store.get(table, id) ?? row;
  if (ctx.observer !== undefined) {
    const written = [...Object.keys(parsed.values), ...Object.keys(raw)].filter((key) => !key.endsWith('__type'));
    ctx.observer.updated(table, existing, updated, written);
  }
  return updated;
}

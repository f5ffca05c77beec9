import { isJsonObject } from './json';

/**
 * What a record edited as JSON text turns into on save: the PATCH body of the columns the user
 * changed, and the edits that cannot be sent (read-only columns), so they can be named to the user.
 */

export type RecordJson = Record<string, unknown>;

/** Columns Dataverse maintains on every table: never written by a client. The emulator marks them read-only. */
export const SERVER_MAINTAINED_COLUMNS: ReadonlySet<string> = new Set([
  'createdon',
  'modifiedon',
  'createdby',
  'modifiedby',
  'createdonbehalfby',
  'modifiedonbehalfby',
  'versionnumber',
  'owninguser',
  'owningteam',
  'owningbusinessunit',
  'exchangerate',
]);

/**
 * Columns Dataverse fills in itself, or that an edit of a record should not send (composed names, create-only
 * and image bookkeeping columns). Sending them makes a real org answer 400 or ignore them silently, so an edit
 * to them is reported instead of sent.
 */
const SYSTEM_COLUMNS = new Set([
  ...SERVER_MAINTAINED_COLUMNS,
  'timezoneruleversionnumber',
  'utcconversiontimezonecode',
  'importsequencenumber',
  'overriddencreatedon',
  'fullname',
  'yomifullname',
  'entityimage_timestamp',
  'entityimage_url',
  'entityimageid',
]);

export interface RecordColumnRules {
  /** The primary key column: part of the URL, never of the body. */
  readonly primaryId?: string;
  /** Extra read-only columns known from metadata. */
  readonly readOnly?: ReadonlySet<string>;
}

/** True for columns a PATCH must not carry: annotations, lookup values, keys and system columns. */
export function isReadOnlyColumn(name: string, rules: RecordColumnRules = {}): boolean {
  if (name === rules.primaryId) return true;
  // `x@odata.bind` is how a lookup is written; every other `@` key is an annotation the service added.
  if (name.includes('@')) return !name.endsWith('@odata.bind');
  // `_x_value` is the read form of a lookup; Dataverse rejects it in a write body.
  if (/^_.+_value$/.test(name)) return true;
  // Money columns in the base currency are computed from the transaction currency.
  if (name.endsWith('_base')) return true;
  return SYSTEM_COLUMNS.has(name) || rules.readOnly?.has(name) === true;
}

export interface RecordPatch {
  /** Changed and added writable columns, with their new values. */
  readonly changes: RecordJson;
  /** Read-only columns the user changed; not sent. */
  readonly ignored: readonly string[];
  /** Columns removed from the text; a removal is not a change (set the value to null to clear it). */
  readonly removed: readonly string[];
}

/** The PATCH body for `edited` compared with `original`, the record as it was read. */
export function diffRecord(original: RecordJson, edited: RecordJson, rules: RecordColumnRules = {}): RecordPatch {
  const changes: RecordJson = {};
  const ignored: string[] = [];
  for (const [name, value] of Object.entries(edited)) {
    if (Object.prototype.hasOwnProperty.call(original, name) && jsonEqual(original[name], value)) continue;
    if (isReadOnlyColumn(name, rules)) {
      ignored.push(name);
      continue;
    }
    changes[name] = value;
  }
  const removed = Object.keys(original).filter(
    (name) => !Object.prototype.hasOwnProperty.call(edited, name) && !isReadOnlyColumn(name, rules),
  );
  return { changes, ignored, removed };
}

export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((item, index) => jsonEqual(item, b[index]));
  }
  const left = a as RecordJson;
  const right = b as RecordJson;
  const keys = Object.keys(left);
  return (
    keys.length === Object.keys(right).length &&
    keys.every((key) => Object.prototype.hasOwnProperty.call(right, key) && jsonEqual(left[key], right[key]))
  );
}

export type ParsedRecord =
  { readonly ok: true; readonly record: RecordJson } | { readonly ok: false; readonly message: string };

/** The edited text as a record, or a message that says where the text is wrong. */
export function parseRecordText(text: string): ParsedRecord {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { ok: false, message: `${jsonErrorAt(text, error)} (nothing was sent)` };
  }
  if (!isJsonObject(value)) {
    return { ok: false, message: 'The record must be a JSON object ({ "column": value, ... }), so nothing was sent.' };
  }
  return { ok: true, record: value };
}

/**
 * `line L, column C: <what is wrong>` for a `JSON.parse` error. V8 says "at position N" (Node 22 adds
 * "(line L column C)"), which means nothing in an editor that counts lines and columns.
 */
export function jsonErrorAt(text: string, error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const position = /\bat position (\d+)/.exec(message);
  const offset = position === null ? text.length : Math.min(Number(position[1]), text.length);
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  const column = offset - before.lastIndexOf('\n');
  const what = message.replace(/\s*in JSON at position \d+.*$/s, '').replace(/ of JSON input$/, ' of the text');
  return `line ${line}, column ${column}: ${what}`;
}

/** The text a record is shown as: the service's context URL left out, as it says nothing about the row. */
export function recordText(record: RecordJson): string {
  const shown: RecordJson = {};
  for (const [name, value] of Object.entries(record)) if (name !== '@odata.context') shown[name] = value;
  return `${JSON.stringify(shown, null, 2)}\n`;
}

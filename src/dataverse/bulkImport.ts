import { hash as cryptoHash } from 'node:crypto';
import { WorkbenchError } from '../core/errors';
import type { MetadataModel, Property } from '../metadata/model';
import type { BatchRequest, BatchResult } from './batch';
import { executeBatch, MAX_BATCH_REQUESTS } from './batch';
import { BulkTargets, targetShape } from './bulkTargets';
import type { ImportSource, SourceRow } from './importSource';
import type { MetadataCache } from './metadataCache';
import type { JsonObject } from '../core/json';
import { isJsonObject } from '../core/json';
import type { WebApiClient } from './webApiClient';

export type { ImportFormat, ImportSource, SourceRow } from './importSource';
// ---- Validation ------------------------------------------------------------------------------------

/** What the import knows about the target table's columns. */
export interface TableRules {
  readonly entitySet: string;
  /** The table's logical name: the `@odata.type` of bulk targets and the table of its sdkmessagefilters. */
  readonly logicalName: string;
  readonly primaryKey: string;
  readonly properties: ReadonlyMap<string, Property>;
  /** Single-valued navigation properties, for `name@odata.bind` columns. */
  readonly lookups: ReadonlySet<string>;
  /** From EntityDefinitions when the service told us (`$metadata` rarely carries MaxLength). */
  readonly maxLengths: ReadonlyMap<string, number>;
}

export function tableRules(
  model: MetadataModel,
  entitySet: string,
  maxLengths: ReadonlyMap<string, number> = new Map(),
) {
  const set = model.entitySets.get(entitySet);
  if (set === undefined)
    throw new WorkbenchError('invalidInput', `'${entitySet}' is not an entity set of this environment.`);
  const typeName = set.entityType.slice(set.entityType.lastIndexOf('.') + 1);
  const properties = new Map<string, Property>();
  const lookups = new Set<string>();
  let primaryKey: string | undefined;
  // Walk the base types too: Dataverse's entities inherit `crmbaseentity`.
  for (let type = model.entityTypes.get(typeName); type !== undefined;) {
    primaryKey ??= type.key[0];
    for (const property of type.properties) if (!properties.has(property.name)) properties.set(property.name, property);
    for (const nav of type.navigationProperties) if (!nav.collection) lookups.add(nav.name);
    const base = type.baseType;
    type = base === undefined ? undefined : model.entityTypes.get(base.slice(base.lastIndexOf('.') + 1));
  }
  if (primaryKey === undefined) throw new WorkbenchError('invalidInput', `'${entitySet}' has no primary key.`);
  const rules: TableRules = { entitySet, logicalName: typeName, primaryKey, properties, lookups, maxLengths };
  return rules;
}

/** Logical name of the entity set's type, for EntityDefinitions. */
export function logicalNameOf(model: MetadataModel, entitySet: string): string | undefined {
  const set = model.entitySets.get(entitySet);
  return set === undefined ? undefined : set.entityType.slice(set.entityType.lastIndexOf('.') + 1);
}

/**
 * An instance annotation column (`name@OData.Community.Display.V1.FormattedValue`, as `dvw export` writes lookup
 * names): for people reading the file, not a value to write, so the import passes over it.
 */
function isAnnotation(column: string): boolean {
  return column.includes('@') && !column.endsWith('@odata.bind');
}

/** The columns of `columns` the table does not have (`x@odata.bind` needs a lookup `x`). */
export function unknownColumns(rules: TableRules, columns: readonly string[]): string[] {
  return columns.filter((c) => {
    if (isAnnotation(c)) return false;
    if (c.endsWith('@odata.bind')) return !rules.lookups.has(c.slice(0, -'@odata.bind'.length));
    return !rules.properties.has(c);
  });
}

/**
 * The rules of `entitySet` for `source`, for `dvw import` and the VS Code command alike. A cached
 * `$metadata` is downloaded again when it lacks the table or a column the file names: one added since the
 * download must not be refused as unknown. What is still unknown afterwards comes back for the caller to
 * refuse (a CSV header) or report per row (JSONL).
 */
export async function loadTableRules(options: {
  readonly cache: MetadataCache;
  readonly client: WebApiClient;
  readonly entitySet: string;
  /** The CSV header, or the keys of the first JSON Lines row. */
  readonly columns: readonly string[];
  /** Names the environment in the error for an unknown entity set. */
  readonly environmentLabel?: string;
  readonly signal?: AbortSignal;
}): Promise<{ readonly rules: TableRules; readonly unknownColumns: readonly string[] }> {
  const { cache, client, entitySet, columns, signal } = options;
  let loaded = await cache.get(signal === undefined ? {} : { signal });
  if (loaded.model.entitySets.get(entitySet) === undefined && loaded.source !== 'network') {
    loaded = await cache.refresh(signal);
  }
  const logicalName = logicalNameOf(loaded.model, entitySet);
  if (logicalName === undefined) {
    throw new WorkbenchError(
      'invalidInput',
      `'${entitySet}' is not an entity set of ${options.environmentLabel ?? 'this environment'}`,
    );
  }
  const maxLengths = await fetchMaxLengths(client, logicalName, signal);
  let rules = tableRules(loaded.model, entitySet, maxLengths);
  if (unknownColumns(rules, columns).length > 0 && loaded.source !== 'network') {
    loaded = await cache.refresh(signal);
    rules = tableRules(loaded.model, entitySet, maxLengths);
  }
  return { rules, unknownColumns: unknownColumns(rules, columns) };
}

/**
 * MaxLength of the table's text columns from EntityDefinitions. Lengths are a courtesy (the service checks
 * them anyway), so a service without this metadata yields none rather than failing the import.
 */
export async function fetchMaxLengths(
  client: WebApiClient,
  logicalName: string,
  signal?: AbortSignal,
): Promise<Map<string, number>> {
  const lengths = new Map<string, number>();
  if (!/^[a-z0-9_]+$/i.test(logicalName)) return lengths;
  for (const cast of ['StringAttributeMetadata', 'MemoAttributeMetadata']) {
    try {
      const body = await client.get(
        `EntityDefinitions(LogicalName='${logicalName}')/Attributes/Microsoft.Dynamics.CRM.${cast}?$select=LogicalName,MaxLength`,
        signal === undefined ? {} : { signal },
      );
      const value: unknown[] = Array.isArray(body.value) ? body.value : [];
      for (const item of value) {
        if (isJsonObject(item) && typeof item.LogicalName === 'string' && typeof item.MaxLength === 'number') {
          lengths.set(item.LogicalName, item.MaxLength);
        }
      }
    } catch (error) {
      if (error instanceof WorkbenchError && (error.kind === 'cancelled' || error.kind === 'auth')) throw error;
    }
  }
  return lengths;
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DATE = /^\d{4}-\d{2}-\d{2}$/;
const DATE_TIME = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?$/;
const INT32 = { min: -2147483648, max: 2147483647 };

type Converted = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly message: string };

function refused(column: string, what: string): Converted {
  return { ok: false, message: `column '${column}' ${what}` };
}

/**
 * A column's value as the Web API wants it, checked against its Edm type. Messages name the column and
 * the rule, never the value: rows are customer data and must not reach logs.
 */
function convert(
  column: string,
  raw: unknown,
  property: Property,
  maxLength: number | undefined,
  csv: boolean,
): Converted {
  if (raw === null) return property.nullable ? { ok: true, value: null } : refused(column, 'cannot be empty');
  const text = typeof raw === 'string' ? raw : undefined;
  switch (property.type) {
    case 'Edm.String': {
      if (text === undefined) return refused(column, 'must be text');
      const limit = maxLength ?? property.maxLength;
      if (limit !== undefined && text.length > limit)
        return refused(column, `is longer than ${limit} characters (${text.length})`);
      return { ok: true, value: text };
    }
    case 'Edm.Int16':
    case 'Edm.Int32':
    case 'Edm.Int64':
    case 'Edm.Byte': {
      const value = csv && text !== undefined && /^[+-]?\d+$/.test(text.trim()) ? Number(text) : raw;
      if (typeof value !== 'number' || !Number.isSafeInteger(value)) return refused(column, 'must be a whole number');
      if (property.type !== 'Edm.Int64' && (value < INT32.min || value > INT32.max))
        return refused(column, 'is out of range');
      return { ok: true, value };
    }
    case 'Edm.Decimal':
    case 'Edm.Double':
    case 'Edm.Single': {
      const value =
        csv && text !== undefined && /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/.test(text.trim()) ? Number(text) : raw;
      if (typeof value !== 'number' || !Number.isFinite(value)) return refused(column, 'must be a number');
      return { ok: true, value };
    }
    case 'Edm.Boolean': {
      if (typeof raw === 'boolean') return { ok: true, value: raw };
      const word = csv ? text?.trim().toLowerCase() : undefined;
      if (word === 'true' || word === '1') return { ok: true, value: true };
      if (word === 'false' || word === '0') return { ok: true, value: false };
      return refused(column, 'must be true or false');
    }
    case 'Edm.Guid':
      return text !== undefined && GUID.test(text.trim())
        ? { ok: true, value: text.trim().toLowerCase() }
        : refused(column, 'must be a GUID');
    case 'Edm.Date':
      return text !== undefined && DATE.test(text.trim())
        ? { ok: true, value: text.trim() }
        : refused(column, 'must be a date (YYYY-MM-DD)');
    case 'Edm.DateTimeOffset':
      return text !== undefined && DATE_TIME.test(text.trim()) && !Number.isNaN(Date.parse(text.trim()))
        ? { ok: true, value: text.trim() }
        : refused(column, 'must be an ISO 8601 date and time');
    default:
      // Enums, binary and complex values go through as given; the service is the judge of those.
      return { ok: true, value: raw };
  }
}

export interface RowProblem {
  readonly line: number;
  readonly message: string;
}

/** The body of one row, or what is wrong with it (every problem of the row, joined). */
export function validateRow(
  rules: TableRules,
  row: SourceRow,
  csv: boolean,
): { ok: true; body: JsonObject; key: string | undefined } | { ok: false; problem: RowProblem } {
  if (row.values === undefined) return { ok: false, problem: { line: row.line, message: row.problem ?? 'unreadable' } };
  const problems: string[] = [];
  const body: JsonObject = {};
  let key: string | undefined;
  for (const [column, raw] of Object.entries(row.values)) {
    // An empty CSV cell means "not given", not "clear the column".
    if (csv && raw === '') continue;
    if (isAnnotation(column)) continue;
    if (column.endsWith('@odata.bind')) {
      const navigation = column.slice(0, -'@odata.bind'.length);
      if (!rules.lookups.has(navigation)) problems.push(`column '${column}' binds no lookup of '${rules.entitySet}'`);
      else if (typeof raw !== 'string' || !/^\/?[A-Za-z0-9_]+\([^)]+\)$/.test(raw.trim())) {
        problems.push(`column '${column}' must be a reference like accounts(<id>)`);
      } else body[column] = raw.trim();
      continue;
    }
    const property = rules.properties.get(column);
    if (property === undefined) {
      problems.push(`unknown column '${column}'`);
      continue;
    }
    const converted = convert(column, raw, property, rules.maxLengths.get(column), csv);
    if (!converted.ok) {
      problems.push(converted.message);
      continue;
    }
    if (column === rules.primaryKey) {
      if (typeof converted.value !== 'string' || !GUID.test(converted.value))
        problems.push(`column '${column}' must be a GUID`);
      else key = converted.value;
      continue;
    }
    body[column] = converted.value;
  }
  if (problems.length > 0) return { ok: false, problem: { line: row.line, message: problems.join('; ') } };
  if (Object.keys(body).length === 0) {
    return { ok: false, problem: { line: row.line, message: 'the row sets no column' } };
  }
  return { ok: true, body, key };
}

// ---- Keys ------------------------------------------------------------------------------------------

/** The namespace of import keys (RFC 9562 UUID v5): any fixed UUID, so keys are stable across versions. */
const IMPORT_NAMESPACE = '6d1f6f7e-3b0a-4c8e-9a51-2f0d7c9e4b13';

const IMPORT_NAMESPACE_BYTES = Buffer.from(IMPORT_NAMESPACE.replace(/-/g, ''), 'hex');

/**
 * The namespace and name to hash, written into one buffer used again for every key: a buffer (or a digest as a
 * Buffer) per row is memory outside the heap that only a garbage collection returns, and it piled up.
 */
let uuidInput = Buffer.alloc(4096);

export function uuidV5(name: string, namespace: string = IMPORT_NAMESPACE): string {
  const space =
    namespace === IMPORT_NAMESPACE ? IMPORT_NAMESPACE_BYTES : Buffer.from(namespace.replace(/-/g, ''), 'hex');
  if (16 + name.length * 3 > uuidInput.length)
    uuidInput = Buffer.alloc(Math.max(16 + name.length * 3, uuidInput.length * 2));
  space.copy(uuidInput, 0);
  const length = 16 + uuidInput.write(name, 16, 'utf8');
  // One-shot `hash`: an import derives a key per row, and a Hash object per call costs more than the digest.
  const hex = cryptoHash('sha1', uuidInput.subarray(0, length), 'hex');
  // Version 5 in the high nibble of byte 6, the RFC 9562 variant in the two high bits of byte 8.
  const variant = ((parseInt(hex.charAt(16), 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (isJsonObject(value)) return canonicalObject(value, keyOrder(Object.keys(value)));
  return JSON.stringify(value) ?? 'null';
}

/** An object's keys in sorted order, each with its JSON text and colon ready. */
type KeyOrder = readonly { readonly key: string; readonly prefix: string }[];

function keyOrder(keys: readonly string[]): KeyOrder {
  return [...keys].sort().map((key) => ({ key, prefix: `${JSON.stringify(key)}:` }));
}

/** The canonical JSON of an object: keys sorted (by UTF-16 code units, as `sort` does), no spaces. */
function canonicalObject(value: JsonObject, order: KeyOrder): string {
  let text = '{';
  for (let i = 0; i < order.length; i++) {
    const { key, prefix } = order[i] as KeyOrder[number];
    text += `${i === 0 ? '' : ','}${prefix}${canonical(value[key])}`;
  }
  return `${text}}`;
}

function sameKeys(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Slots of the occurrence counter (fixed: the keys of files imported before depend on it). */
const OCCURRENCE_SLOTS = 1 << 22;
/** A count the fixed table holds itself; from here on a slot's count lives in a Map. */
const SMALL_COUNT = 0xff;
/** Slots counted in a Map before the fixed table takes over (a few MB). */
const SPARSE_SLOTS = 1 << 16;

/**
 * How many rows so far hashed to each slot. A fresh table costs a page fault for nearly every slot a small file
 * touches first, so the counts start in a Map and move to the table once the Map holds `SPARSE_SLOTS` slots. The
 * table keeps a byte per slot (4 MB): a slot that reaches `SMALL_COUNT` rows (copies of one row, mostly) counts on
 * in a Map, at most one entry per 255 rows. The same counts either way, so the same keys, and memory bounded for
 * any number of rows.
 */
class OccurrenceCounter {
  private sparse: Map<number, number> | undefined = new Map();
  private dense: Uint8Array | undefined;
  private readonly large = new Map<number, number>();

  /** The count of `slot` before this row, then one more. */
  take(slot: number): number {
    const dense = this.dense;
    if (dense !== undefined) {
      const small = dense[slot] ?? 0;
      if (small < SMALL_COUNT) {
        dense[slot] = small + 1;
        return small;
      }
      const count = this.large.get(slot) ?? SMALL_COUNT;
      this.large.set(slot, count + 1);
      return count;
    }
    const sparse = this.sparse ?? new Map<number, number>();
    const count = sparse.get(slot) ?? 0;
    sparse.set(slot, count + 1);
    if (sparse.size > SPARSE_SLOTS) {
      const table = new Uint8Array(OCCURRENCE_SLOTS);
      for (const [at, n] of sparse) {
        table[at] = Math.min(n, SMALL_COUNT);
        if (n >= SMALL_COUNT) this.large.set(at, n);
      }
      this.dense = table;
      this.sparse = undefined;
    }
    return count;
  }
}

/**
 * Primary keys for rows without an id column: a UUID v5 of the entity set, the row's content and an occurrence
 * number, so importing the same file again yields the same keys and a re-run after an interruption upserts the
 * records it had already made instead of adding copies. Identical rows must get different keys (or the second
 * would overwrite the first): the occurrence number counts rows whose content hashes to the same slot of a
 * fixed-size table. Identical rows always share a slot, so they always differ; different rows sharing a slot
 * only get a higher number, still the same on every run of the same file. The table's size is fixed, so memory
 * stays flat for any number of rows (an exact count per distinct content would grow with the file).
 */
export class RowKeys {
  private readonly counts = new OccurrenceCounter();
  /** The rows of one file share their columns: their sorted order is worked out once per shape. */
  private shape: { readonly keys: readonly string[]; readonly order: KeyOrder } = { keys: [], order: [] };

  constructor(private readonly entitySet: string) {}

  next(body: JsonObject): string {
    const keys = Object.keys(body);
    if (!sameKeys(keys, this.shape.keys)) this.shape = { keys, order: keyOrder(keys) };
    const content = canonicalObject(body, this.shape.order);
    const slot = parseInt(cryptoHash('sha1', content, 'hex').slice(0, 8), 16) & (OCCURRENCE_SLOTS - 1);
    const occurrence = this.counts.take(slot);
    return uuidV5(`${this.entitySet}\n${occurrence}\n${content}`);
  }
}

// ---- Sending ---------------------------------------------------------------------------------------

/** How rows reach the service: the UpsertMultiple bulk message, or upserts in `$batch` change sets. */
export type WriteMode = 'bulk' | 'batch';

export interface ImportProgress {
  /** Rows read from the file so far (after a resume: since the checkpoint). */
  readonly read: number;
  /** Rows answered (imported or failed), plus invalid rows. */
  readonly done: number;
  readonly imported: number;
  readonly failed: number;
  readonly invalid: number;
  /** Share of the file's bytes read (0 to 1), when its size is known. */
  readonly fraction: number | undefined;
  readonly elapsedMs: number;
  readonly rowsPerSecond: number;
  /** From the bytes left; undefined until a first request has finished. */
  readonly etaMs: number | undefined;
  readonly mode: WriteMode;
  /** Requests in flight allowed now (x-ms-dop-hint within the `parallel` cap). */
  readonly parallel: number;
}

/**
 * Where an import stands: every row on or before `afterLine` is imported, failed or invalid (the counts), so a
 * resume reads on from the next line. Rows after it may be imported too; their fixed keys make sending them again
 * an update, never a copy.
 */
export interface ImportCheckpoint {
  readonly afterLine: number;
  readonly rows: number;
  readonly imported: number;
  readonly invalid: number;
  readonly failed: number;
}

export interface ImportOptions {
  readonly client: WebApiClient;
  readonly rules: TableRules;
  readonly source: ImportSource;
  readonly csv: boolean;
  /** Rows per request, at most 1,000; default 1,000 per UpsertMultiple, 100 per change set. */
  readonly batchSize?: number;
  /** The most requests in flight; without it the service's x-ms-dop-hint decides (4 until it has answered). */
  readonly parallel?: number;
  /** `auto` (the default) asks the environment whether the table has UpsertMultiple. */
  readonly mode?: 'auto' | WriteMode;
  /** Continue after this checkpoint: rows up to its line are read (for their keys) but not sent again. */
  readonly resume?: ImportCheckpoint;
  /** Called each time the checkpoint moves on (in line order), and once at the end. */
  readonly onCheckpoint?: (checkpoint: ImportCheckpoint) => void;
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: ImportProgress) => void;
  /** A row that was not imported: invalid before sending, or refused by the service. */
  readonly onRowProblem?: (problem: RowProblem & { readonly phase: 'validation' | 'service' }) => void;
  readonly now?: () => number;
}

export interface ImportSummary {
  /** Rows of the file (including those before a resume's checkpoint). */
  readonly rows: number;
  readonly imported: number;
  readonly invalid: number;
  readonly failed: number;
  /** The first problems, by line (at most `MAX_KEPT_PROBLEMS`; every one went to `onRowProblem`). */
  readonly problems: readonly (RowProblem & { readonly phase: 'validation' | 'service' })[];
  readonly requests: number;
  readonly mode: WriteMode;
  readonly elapsedMs: number;
  readonly cancelled: boolean;
  /** The file could not be read on (bad encoding, unclosed quote): rows before it were imported. */
  readonly fileError: string | undefined;
  readonly resumedAfterLine: number | undefined;
}

export const DEFAULT_BATCH_SIZE = 100;
export const DEFAULT_BULK_SIZE = 1000;
export const DEFAULT_PARALLEL = 4;
export const MAX_PARALLEL = 64;
const MAX_KEPT_PROBLEMS = 1000;
const NAMESPACE = 'Microsoft.Dynamics.CRM.';

const bulkSupport = new Map<string, Promise<boolean>>();

/**
 * Whether `logicalName` has the UpsertMultiple message, asked as Microsoft documents it (an sdkmessagefilter of
 * the message for the table; "Use bulk operation messages", availability). Cached per environment and table for
 * the life of the process; a failed question means no (the `$batch` path works everywhere).
 */
export function supportsUpsertMultiple(
  client: WebApiClient,
  logicalName: string,
  signal?: AbortSignal,
): Promise<boolean> {
  const cacheKey = `${client.webApiUrl}|${logicalName}`;
  let known = bulkSupport.get(cacheKey);
  if (known === undefined) {
    const filter = `sdkmessageid/name eq 'UpsertMultiple' and primaryobjecttypecode eq '${logicalName.replace(/'/g, "''")}'`;
    known = client
      .get(`sdkmessagefilters?$select=sdkmessagefilterid&$filter=${encodeURIComponent(filter)}&$top=1`, {
        ...(signal === undefined ? {} : { signal }),
      })
      .then((body) => Array.isArray(body.value) && body.value.length > 0)
      .catch((error: unknown) => {
        bulkSupport.delete(cacheKey);
        if (error instanceof WorkbenchError && (error.kind === 'cancelled' || error.kind === 'auth')) throw error;
        return false;
      });
    bulkSupport.set(cacheKey, known);
  }
  return known;
}

/** The service ran out of time on a request (gateway timeout, request timeout, client timeout): send fewer rows. */
function isTimeLimit(error: unknown): boolean {
  if (!(error instanceof WorkbenchError)) return false;
  if (error.status === 504 || error.status === 408) return true;
  return error.status === undefined && error.kind === 'network' && /timed? ?out/i.test(error.message);
}

/** The service does not know the bulk message here (an old version, a table without it): use `$batch`. */
function isBulkUnavailable(error: unknown): boolean {
  if (!(error instanceof WorkbenchError) || error.status === undefined) return false;
  if (![400, 404, 405].includes(error.status)) return false;
  // Not "record not found" (a bad row): the request's URL or message itself is unknown.
  return /UpsertMultiple|segment|No HTTP resource/i.test(error.message);
}

/** A cut of the file: its rows were sent in one chunk; it is done when they are answered. */
interface Mark {
  readonly lastLine: number;
  readonly rowsSoFar: number;
  readonly invalidSoFar: number;
  imported: number;
  failed: number;
  done: boolean;
}

/**
 * Imports rows as upserts keyed before sending (the row's id column, or `RowKeys`), which makes every request safe
 * to repeat: after a dropped connection, a 503, a kill or a re-run of the whole file, a row lands on its own record
 * again. Reads the source as a stream (memory stays flat), sends `UpsertMultiple` where the table has it and
 * `$batch` change sets elsewhere, keeps as many requests in flight as the service's `x-ms-dop-hint` asks (within the
 * `parallel` cap and the client's limiter), halves a request the service timed out on, and moves a checkpoint on
 * in line order. A request the service refuses as a whole is sent again as single upserts (continue-on-error), so
 * the good rows go in and each bad one is reported by line with the service's message.
 */
export async function importRows(options: ImportOptions): Promise<ImportSummary> {
  const { client, rules, source, csv, signal } = options;
  const now = options.now ?? (() => performance.now());
  const given = options.batchSize;
  if (given !== undefined && (!Number.isInteger(given) || given < 1 || given > MAX_BATCH_REQUESTS)) {
    throw new WorkbenchError('invalidInput', `The batch size must be a whole number from 1 to ${MAX_BATCH_REQUESTS}.`);
  }
  const cap = options.parallel;
  if (cap !== undefined && (!Number.isInteger(cap) || cap < 1 || cap > MAX_PARALLEL)) {
    throw new WorkbenchError(
      'invalidInput',
      `The number of parallel requests must be a whole number from 1 to ${MAX_PARALLEL}.`,
    );
  }
  let mode: WriteMode =
    options.mode === 'bulk' || options.mode === 'batch'
      ? options.mode
      : (await supportsUpsertMultiple(client, rules.logicalName, signal))
        ? 'bulk'
        : 'batch';
  // One bulk request carries many rows at little cost per row; a change set pays per part, so it stays smaller.
  let batchSize = given ?? (mode === 'bulk' ? DEFAULT_BULK_SIZE : DEFAULT_BATCH_SIZE);
  const parallelNow = (): number => {
    const wanted = client.limiter.parallelismHint ?? DEFAULT_PARALLEL;
    return Math.max(1, Math.min(wanted, cap ?? MAX_PARALLEL));
  };

  const started = now();
  const resume = options.resume;
  const keys = new RowKeys(rules.entitySet);
  const problems: (RowProblem & { phase: 'validation' | 'service' })[] = [];
  const report = (problem: RowProblem, phase: 'validation' | 'service'): void => {
    if (problems.length < MAX_KEPT_PROBLEMS) problems.push({ ...problem, phase });
    options.onRowProblem?.({ ...problem, phase });
  };
  let read = 0;
  let invalid = 0;
  let imported = 0;
  let failed = 0;
  let requests = 0;
  let cancelled = false;
  let fatal: unknown;
  let fileError: string | undefined;
  // What the checkpoint has passed (counts of rows at or before its line).
  let checkpoint: ImportCheckpoint = resume ?? { afterLine: 0, rows: 0, imported: 0, invalid: 0, failed: 0 };
  const marks: Mark[] = [];

  const progress = (): void => {
    const elapsedMs = now() - started;
    const answered = imported + failed;
    const rowsPerSecond = elapsedMs > 0 ? (answered * 1000) / elapsedMs : 0;
    const { read: bytesRead, size } = source.bytes();
    const fraction = size > 0 ? Math.min(1, bytesRead / size) : undefined;
    options.onProgress?.({
      read,
      done: answered + invalid,
      imported,
      failed,
      invalid,
      fraction,
      elapsedMs,
      rowsPerSecond,
      etaMs:
        fraction !== undefined && fraction > 0 && answered > 0 ? (elapsedMs * (1 - fraction)) / fraction : undefined,
      mode,
      parallel: parallelNow(),
    });
  };
  const advance = (): void => {
    let moved = false;
    while (marks[0]?.done === true) {
      const mark = marks.shift() as Mark;
      const base = resume ?? { rows: 0, imported: 0, invalid: 0, failed: 0 };
      checkpoint = {
        afterLine: mark.lastLine,
        rows: base.rows + mark.rowsSoFar,
        imported: checkpoint.imported + mark.imported,
        invalid: base.invalid + mark.invalidSoFar,
        failed: checkpoint.failed + mark.failed,
      };
      moved = true;
    }
    if (moved) options.onCheckpoint?.(checkpoint);
  };

  const fail = (line: number, message: string, mark: Mark): void => {
    failed += 1;
    mark.failed += 1;
    report({ line, message }, 'service');
  };
  const single = (rows: BulkTargets, index: number): BatchRequest => ({
    method: 'PATCH',
    url: `${rules.entitySet}(${rows.key(index)})`,
    body: rows.columns(index),
    idempotent: true,
  });
  const singles = (rows: BulkTargets, from: number, to: number): BatchRequest[] =>
    Array.from({ length: to - from }, (_, i) => single(rows, from + i));
  const succeeded = (count: number, mark: Mark): void => {
    imported += count;
    mark.imported += count;
  };
  /** A request counts once it is answered, refused ones too, so the summary adds up to what was sent. */
  const counted = <T>(sent: Promise<T>): Promise<T> =>
    sent.then(
      (value) => {
        requests += 1;
        return value;
      },
      (error: unknown) => {
        if (!(error instanceof WorkbenchError && error.kind === 'cancelled')) requests += 1;
        throw error;
      },
    );
  /** Each row on its own, continue-on-error: the good ones go in, the bad ones come back with the service's message. */
  const oneByOne = async (rows: BulkTargets, from: number, to: number, mark: Mark): Promise<void> => {
    const results: BatchResult[] = await counted(
      executeBatch(client, singles(rows, from, to), {
        continueOnError: true,
        ...(signal === undefined ? {} : { signal }),
      }),
    );
    for (let i = from; i < to; i++) {
      const result = results[i - from];
      if (result?.executed === true) succeeded(1, mark);
      else fail(rows.line(i), result?.error?.message ?? 'the service did not run this request', mark);
    }
  };
  const viaBatch = async (rows: BulkTargets, from: number, to: number, mark: Mark): Promise<void> => {
    const results = await counted(
      executeBatch(client, [{ changeSet: singles(rows, from, to) }], {
        ...(signal === undefined ? {} : { signal }),
      }),
    );
    if (results.every((r) => r.executed)) succeeded(to - from, mark);
    // The change set was rolled back as a whole: find the culprits row by row.
    else await oneByOne(rows, from, to, mark);
  };
  const viaBulk = async (rows: BulkTargets, from: number, to: number, mark: Mark): Promise<void> => {
    await counted(
      client.request({
        method: 'POST',
        path: `${rules.entitySet}/${NAMESPACE}UpsertMultiple`,
        rawBody: { content: rows.body(from, to), contentType: 'application/json; charset=utf-8' },
        idempotent: true,
        ...(signal === undefined ? {} : { signal }),
      }),
    );
    succeeded(to - from, mark);
  };
  const send = async (rows: BulkTargets, from: number, to: number, mark: Mark): Promise<void> => {
    if (to - from > batchSize) {
      // Cut before a time-out lowered the size.
      for (let i = from; i < to; i += batchSize) await send(rows, i, Math.min(to, i + batchSize), mark);
      return;
    }
    try {
      await (mode === 'bulk' ? viaBulk(rows, from, to, mark) : viaBatch(rows, from, to, mark));
    } catch (error) {
      if (error instanceof WorkbenchError && (error.kind === 'cancelled' || error.kind === 'auth')) throw error;
      if (isTimeLimit(error) && to - from > 1) {
        // Fewer rows per request from now on, and this one again in halves.
        batchSize = Math.max(1, Math.min(batchSize, Math.floor((to - from) / 2)));
        const half = from + Math.ceil((to - from) / 2);
        await send(rows, from, half, mark);
        await send(rows, half, to, mark);
        return;
      }
      if (mode === 'bulk' && isBulkUnavailable(error)) {
        mode = 'batch';
        await send(rows, from, to, mark);
        return;
      }
      try {
        // A refused bulk request: the same rows one by one finds the bad ones and imports the rest.
        await oneByOne(rows, from, to, mark);
      } catch (again) {
        if (again instanceof WorkbenchError && (again.kind === 'cancelled' || again.kind === 'auth')) throw again;
        const message = again instanceof Error ? again.message : 'the request failed';
        for (let i = from; i < to; i++) fail(rows.line(i), message, mark);
      }
    }
  };

  const inFlight = new Set<Promise<void>>();
  // The buffers of answered requests, for the next ones: as many as were ever in flight at once.
  const spare: BulkTargets[] = [];
  const shape = targetShape(rules);
  const launch = async (rows: BulkTargets, mark: Mark): Promise<void> => {
    while (inFlight.size >= parallelNow()) await Promise.race(inFlight);
    if (fatal !== undefined || cancelled) return;
    const running = (async () => {
      try {
        if (rows.count > 0) await send(rows, 0, rows.count, mark);
        rows.clear();
        spare.push(rows);
        mark.done = true;
        advance();
        progress();
      } catch (error) {
        if (error instanceof WorkbenchError && error.kind === 'cancelled') cancelled = true;
        else fatal ??= error;
      }
    })();
    inFlight.add(running);
    void running.finally(() => inFlight.delete(running));
  };

  let pending = new BulkTargets(shape);
  let lastLine = resume?.afterLine ?? 0;
  const cut = async (): Promise<void> => {
    const mark: Mark = { lastLine, rowsSoFar: read, invalidSoFar: invalid, imported: 0, failed: 0, done: false };
    marks.push(mark);
    const rows = pending;
    pending = spare.pop() ?? new BulkTargets(shape);
    await launch(rows, mark);
  };

  progress();
  try {
    for await (const row of source.rows) {
      if (fatal !== undefined || cancelled) break;
      if (signal?.aborted) {
        cancelled = true;
        break;
      }
      const checked = validateRow(rules, row, csv);
      const key = checked.ok ? (checked.key ?? keys.next(checked.body)) : undefined;
      // Before the checkpoint: read for the key counter only.
      if (resume !== undefined && row.line <= resume.afterLine) continue;
      read += 1;
      lastLine = row.line;
      if (!checked.ok) {
        invalid += 1;
        report(checked.problem, 'validation');
      } else pending.add(row.line, key ?? '', checked.body);
      if (pending.count >= batchSize) await cut();
    }
  } catch (error) {
    if (error instanceof WorkbenchError && error.kind === 'invalidInput') fileError = error.message;
    else if (error instanceof WorkbenchError && error.kind === 'cancelled') cancelled = true;
    else fatal ??= error;
  }
  if (fatal === undefined && !cancelled) await cut();
  while (inFlight.size > 0) await Promise.race(inFlight);
  if (fatal !== undefined) {
    throw fatal instanceof Error ? fatal : new WorkbenchError('internal', 'The import failed.', { cause: fatal });
  }
  progress();
  const base = resume ?? { rows: 0, imported: 0, invalid: 0, failed: 0 };
  return {
    rows: base.rows + read,
    imported: base.imported + imported,
    invalid: base.invalid + invalid,
    failed: base.failed + failed,
    problems,
    requests,
    mode,
    elapsedMs: now() - started,
    cancelled,
    fileError,
    resumedAfterLine: resume?.afterLine,
  };
}

/** A checkpoint as read back from disk. */
export function isImportCheckpoint(value: unknown): value is ImportCheckpoint {
  return (
    isJsonObject(value) &&
    ['afterLine', 'rows', 'imported', 'invalid', 'failed'].every(
      (name) => Number.isSafeInteger(value[name]) && Number(value[name]) >= 0,
    )
  );
}

import { createHash } from 'node:crypto';
import { WorkbenchError } from '../core/errors';
import type { MetadataModel, Property } from '../metadata/model';
import type { BatchRequest, BatchResult } from './batch';
import { executeBatch, MAX_BATCH_REQUESTS } from './batch';
import type { MetadataCache } from './metadataCache';
import type { JsonObject } from '../core/json';
import { isJsonObject } from '../core/json';
import type { WebApiClient } from './webApiClient';

export type ImportFormat = 'csv' | 'jsonl';

/** One record of the source file, with the line it starts on (1-based, as editors count). */
export interface SourceRow {
  readonly line: number;
  /** Strings from CSV, JSON values from JSONL; undefined when the line could not be read at all. */
  readonly values: Readonly<Record<string, unknown>> | undefined;
  /** Why the line could not be read (bad JSON, wrong number of CSV fields). */
  readonly problem?: string;
}

export interface ParsedSource {
  /** CSV's header names; undefined for JSONL. */
  readonly columns: readonly string[] | undefined;
  readonly rows: readonly SourceRow[];
}

// ---- Reading ---------------------------------------------------------------------------------------

/**
 * RFC 4180 CSV: quoted fields may hold commas, quotes (`""`) and line breaks; CRLF or LF; a UTF-8 BOM is
 * dropped. The first record is the header. Blank lines are skipped.
 */
export function parseCsv(text: string): ParsedSource {
  const source = text.startsWith('\uFEFF') ? text.slice(1) : text;
  const records: { line: number; fields: string[] }[] = [];
  let fields: string[] = [];
  let field = '';
  let quoted = false;
  let line = 1;
  let recordLine = 1;
  let fieldStarted = false;
  const endRecord = (): void => {
    if (fieldStarted || fields.length > 0 || field !== '') {
      fields.push(field);
      records.push({ line: recordLine, fields });
    }
    fields = [];
    field = '';
    fieldStarted = false;
  };
  for (let i = 0; i < source.length; i++) {
    const ch = source[i];
    if (quoted) {
      if (ch === '"') {
        if (source[i + 1] === '"') {
          field += '"';
          i++;
        } else quoted = false;
      } else {
        if (ch === '\n') line++;
        field += ch;
      }
      continue;
    }
    if (ch === '"' && field === '') {
      quoted = true;
      fieldStarted = true;
    } else if (ch === ',') {
      fields.push(field);
      field = '';
      fieldStarted = true;
    } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && source[i + 1] === '\n') i++;
      endRecord();
      line++;
      recordLine = line;
    } else {
      field += ch;
      fieldStarted = true;
    }
  }
  if (quoted) {
    const last = { line: recordLine, values: undefined, problem: 'a quoted field is not closed' };
    endRecord();
    return finishCsv(records.slice(0, -1), last);
  }
  endRecord();
  return finishCsv(records, undefined);
}

function finishCsv(
  records: readonly { line: number; fields: string[] }[],
  broken: SourceRow | undefined,
): ParsedSource {
  const [header, ...body] = records;
  if (header === undefined) throw new WorkbenchError('invalidInput', 'The CSV file has no header line.');
  const columns = header.fields.map((name) => name.trim());
  const seen = new Set<string>();
  for (const column of columns) {
    if (column === '') throw new WorkbenchError('invalidInput', 'The CSV header has an empty column name.');
    if (seen.has(column)) throw new WorkbenchError('invalidInput', `The CSV header names '${column}' twice.`);
    seen.add(column);
  }
  const rows: SourceRow[] = body.map(({ line, fields }) => {
    if (fields.length !== columns.length) {
      return { line, values: undefined, problem: `${fields.length} fields where the header has ${columns.length}` };
    }
    return { line, values: Object.fromEntries(columns.map((column, i) => [column, fields[i] ?? ''])) };
  });
  if (broken !== undefined) rows.push(broken);
  return { columns, rows };
}

/** One JSON object per line; blank lines are skipped. */
export function parseJsonLines(text: string): ParsedSource {
  const source = text.startsWith('\uFEFF') ? text.slice(1) : text;
  const rows: SourceRow[] = [];
  source.split(/\r?\n/).forEach((content, index) => {
    if (content.trim() === '') return;
    const line = index + 1;
    let value: unknown;
    try {
      value = JSON.parse(content) as unknown;
    } catch {
      rows.push({ line, values: undefined, problem: 'not valid JSON' });
      return;
    }
    if (!isJsonObject(value)) rows.push({ line, values: undefined, problem: 'not a JSON object' });
    else rows.push({ line, values: value });
  });
  return { columns: undefined, rows };
}

export function parseSource(text: string, format: ImportFormat): ParsedSource {
  return format === 'csv' ? parseCsv(text) : parseJsonLines(text);
}

// ---- Validation ------------------------------------------------------------------------------------

/** What the import knows about the target table's columns. */
export interface TableRules {
  readonly entitySet: string;
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
  const rules: TableRules = { entitySet, primaryKey, properties, lookups, maxLengths };
  return rules;
}

/** Logical name of the entity set's type, for EntityDefinitions. */
export function logicalNameOf(model: MetadataModel, entitySet: string): string | undefined {
  const set = model.entitySets.get(entitySet);
  return set === undefined ? undefined : set.entityType.slice(set.entityType.lastIndexOf('.') + 1);
}

/** Columns no row may carry: for CSV the header, for JSONL every key seen. */
export function unknownColumns(rules: TableRules, source: ParsedSource): string[] {
  const columns = new Set<string>(source.columns ?? []);
  if (source.columns === undefined)
    for (const row of source.rows) for (const key of Object.keys(row.values ?? {})) columns.add(key);
  return [...columns].filter((c) => {
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
  readonly source: ParsedSource;
  /** Names the environment in the error for an unknown entity set. */
  readonly environmentLabel?: string;
  readonly signal?: AbortSignal;
}): Promise<{ readonly rules: TableRules; readonly unknownColumns: readonly string[] }> {
  const { cache, client, entitySet, source, signal } = options;
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
  if (unknownColumns(rules, source).length > 0 && loaded.source !== 'network') {
    loaded = await cache.refresh(signal);
    rules = tableRules(loaded.model, entitySet, maxLengths);
  }
  return { rules, unknownColumns: unknownColumns(rules, source) };
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
  const bad = (what: string): Converted => ({ ok: false, message: `column '${column}' ${what}` });
  if (raw === null) return property.nullable ? { ok: true, value: null } : bad('cannot be empty');
  const text = typeof raw === 'string' ? raw : undefined;
  switch (property.type) {
    case 'Edm.String': {
      if (text === undefined) return bad('must be text');
      const limit = maxLength ?? property.maxLength;
      if (limit !== undefined && text.length > limit) return bad(`is longer than ${limit} characters (${text.length})`);
      return { ok: true, value: text };
    }
    case 'Edm.Int16':
    case 'Edm.Int32':
    case 'Edm.Int64':
    case 'Edm.Byte': {
      const value = csv && text !== undefined && /^[+-]?\d+$/.test(text.trim()) ? Number(text) : raw;
      if (typeof value !== 'number' || !Number.isSafeInteger(value)) return bad('must be a whole number');
      if (property.type !== 'Edm.Int64' && (value < INT32.min || value > INT32.max)) return bad('is out of range');
      return { ok: true, value };
    }
    case 'Edm.Decimal':
    case 'Edm.Double':
    case 'Edm.Single': {
      const value =
        csv && text !== undefined && /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/.test(text.trim()) ? Number(text) : raw;
      if (typeof value !== 'number' || !Number.isFinite(value)) return bad('must be a number');
      return { ok: true, value };
    }
    case 'Edm.Boolean': {
      if (typeof raw === 'boolean') return { ok: true, value: raw };
      const word = csv ? text?.trim().toLowerCase() : undefined;
      if (word === 'true' || word === '1') return { ok: true, value: true };
      if (word === 'false' || word === '0') return { ok: true, value: false };
      return bad('must be true or false');
    }
    case 'Edm.Guid':
      return text !== undefined && GUID.test(text.trim())
        ? { ok: true, value: text.trim().toLowerCase() }
        : bad('must be a GUID');
    case 'Edm.Date':
      return text !== undefined && DATE.test(text.trim())
        ? { ok: true, value: text.trim() }
        : bad('must be a date (YYYY-MM-DD)');
    case 'Edm.DateTimeOffset':
      return text !== undefined && DATE_TIME.test(text.trim()) && !Number.isNaN(Date.parse(text.trim()))
        ? { ok: true, value: text.trim() }
        : bad('must be an ISO 8601 date and time');
    default:
      // Enums, binary and complex values go through as given; the service is the judge of those.
      return { ok: true, value: raw };
  }
}

export interface ValidRow {
  readonly line: number;
  readonly key: string;
  readonly body: JsonObject;
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
      if (typeof converted.value !== 'string') problems.push(`column '${column}' must be a GUID`);
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

export function uuidV5(name: string, namespace: string = IMPORT_NAMESPACE): string {
  const hash = createHash('sha1')
    .update(Buffer.from(namespace.replace(/-/g, ''), 'hex'))
    .update(name, 'utf8')
    .digest();
  hash[6] = ((hash[6] ?? 0) & 0x0f) | 0x50;
  hash[8] = ((hash[8] ?? 0) & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (isJsonObject(value)) {
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical(value[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/**
 * Primary keys for rows without an id column: a UUID v5 of the entity set, the row's content and how many
 * identical rows came before it. Running the same file again yields the same keys, so a re-run after an
 * interruption upserts the records it had already made instead of adding copies; unlike line numbers,
 * the keys survive rows being added or removed elsewhere in the file.
 */
export function rowKeys(entitySet: string, bodies: readonly JsonObject[]): string[] {
  const seen = new Map<string, number>();
  return bodies.map((body) => {
    const content = canonical(body);
    const occurrence = seen.get(content) ?? 0;
    seen.set(content, occurrence + 1);
    return uuidV5(`${entitySet}\n${occurrence}\n${content}`);
  });
}

// ---- Sending ---------------------------------------------------------------------------------------

export interface ImportProgress {
  readonly total: number;
  /** Rows sent and answered (imported or failed), plus invalid rows. */
  readonly done: number;
  readonly imported: number;
  readonly failed: number;
  readonly invalid: number;
  readonly elapsedMs: number;
  readonly rowsPerSecond: number;
  /** Undefined until a first batch has finished. */
  readonly etaMs: number | undefined;
}

export interface ImportOptions {
  readonly client: WebApiClient;
  readonly rules: TableRules;
  readonly source: ParsedSource;
  readonly csv: boolean;
  /** Rows per change set (default 100, at most 1,000). */
  readonly batchSize?: number;
  /** Change sets in flight at once (default 4); the client's limiter still caps what reaches the service. */
  readonly parallel?: number;
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: ImportProgress) => void;
  /** A row that was not imported: invalid before sending, or refused by the service. */
  readonly onRowProblem?: (problem: RowProblem & { readonly phase: 'validation' | 'service' }) => void;
  readonly now?: () => number;
}

export interface ImportSummary {
  readonly total: number;
  readonly imported: number;
  readonly invalid: readonly RowProblem[];
  readonly failed: readonly RowProblem[];
  readonly batches: number;
  readonly elapsedMs: number;
  readonly cancelled: boolean;
}

interface Chunk {
  readonly rows: readonly ValidRow[];
}

export const DEFAULT_BATCH_SIZE = 100;
export const DEFAULT_PARALLEL = 4;

/**
 * Imports rows as upserts (`PATCH <set>(<key>)`) in `$batch` change sets, several in flight. Each row's key
 * is fixed before sending (its id column, or `rowKeys`), which makes every batch safe to repeat: after a
 * dropped connection, a 503 or a re-run of the whole file, a row lands on its own record again. A change
 * set the service refuses is atomic, so its rows are sent again one by one (continue-on-error) to find and
 * report the bad row by its line while the others are imported.
 */
export async function importRows(options: ImportOptions): Promise<ImportSummary> {
  const { client, rules, source, csv, signal } = options;
  const now = options.now ?? (() => performance.now());
  const batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE;
  const parallel = options.parallel ?? DEFAULT_PARALLEL;
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > MAX_BATCH_REQUESTS) {
    throw new WorkbenchError('invalidInput', `The batch size must be a whole number from 1 to ${MAX_BATCH_REQUESTS}.`);
  }
  if (!Number.isInteger(parallel) || parallel < 1 || parallel > 64) {
    throw new WorkbenchError('invalidInput', 'The number of parallel batches must be a whole number from 1 to 64.');
  }
  const started = now();
  const invalid: RowProblem[] = [];
  const failed: RowProblem[] = [];
  const valid: { line: number; body: JsonObject; key: string | undefined }[] = [];
  for (const row of source.rows) {
    const checked = validateRow(rules, row, csv);
    if (checked.ok) valid.push({ line: row.line, body: checked.body, key: checked.key });
    else {
      invalid.push(checked.problem);
      options.onRowProblem?.({ ...checked.problem, phase: 'validation' });
    }
  }
  const derived = rowKeys(
    rules.entitySet,
    valid.map((row) => row.body),
  );
  const rows: ValidRow[] = valid.map((row, i) => ({
    line: row.line,
    body: row.body,
    key: row.key ?? derived[i] ?? '',
  }));
  const chunks: Chunk[] = [];
  for (let i = 0; i < rows.length; i += batchSize) chunks.push({ rows: rows.slice(i, i + batchSize) });

  const total = source.rows.length;
  let imported = 0;
  let batches = 0;
  let cancelled = false;
  let fatal: unknown;
  const progress = (): void => {
    const elapsedMs = now() - started;
    const sent = imported + failed.length;
    const rowsPerSecond = elapsedMs > 0 ? (sent * 1000) / elapsedMs : 0;
    const remaining = total - sent - invalid.length;
    options.onProgress?.({
      total,
      done: sent + invalid.length,
      imported,
      failed: failed.length,
      invalid: invalid.length,
      elapsedMs,
      rowsPerSecond,
      etaMs: rowsPerSecond > 0 ? (remaining * 1000) / rowsPerSecond : undefined,
    });
  };
  const fail = (row: ValidRow, message: string): void => {
    failed.push({ line: row.line, message });
    options.onRowProblem?.({ line: row.line, message, phase: 'service' });
  };
  const request = (row: ValidRow): BatchRequest => ({
    method: 'PATCH',
    url: `${rules.entitySet}(${row.key})`,
    body: row.body,
    idempotent: true,
  });
  const send = async (chunk: Chunk): Promise<void> => {
    let results: BatchResult[];
    try {
      results = await executeBatch(client, [{ changeSet: chunk.rows.map(request) }], {
        ...(signal === undefined ? {} : { signal }),
      });
      batches += 1;
      if (results.every((r) => r.executed)) {
        imported += chunk.rows.length;
        return;
      }
      // The change set was rolled back as a whole: find the culprits row by row.
      results = await executeBatch(client, chunk.rows.map(request), {
        continueOnError: true,
        ...(signal === undefined ? {} : { signal }),
      });
      batches += 1;
    } catch (error) {
      if (error instanceof WorkbenchError && (error.kind === 'cancelled' || error.kind === 'auth')) throw error;
      const message = error instanceof Error ? error.message : 'the batch failed';
      for (const row of chunk.rows) fail(row, message);
      return;
    }
    chunk.rows.forEach((row, i) => {
      const result = results[i];
      if (result?.executed === true) imported += 1;
      else fail(row, result?.error?.message ?? 'the service did not run this request');
    });
  };
  let next = 0;
  const worker = async (): Promise<void> => {
    while (fatal === undefined && !cancelled) {
      if (signal?.aborted) {
        cancelled = true;
        return;
      }
      const chunk = chunks[next++];
      if (chunk === undefined) return;
      try {
        await send(chunk);
      } catch (error) {
        if (error instanceof WorkbenchError && error.kind === 'cancelled') cancelled = true;
        else fatal ??= error;
        return;
      }
      progress();
    }
  };
  progress();
  await Promise.all(Array.from({ length: Math.min(parallel, Math.max(1, chunks.length)) }, worker));
  if (fatal !== undefined) {
    throw fatal instanceof Error ? fatal : new WorkbenchError('internal', 'The import failed.', { cause: fatal });
  }
  return { total, imported, invalid, failed, batches, elapsedMs: now() - started, cancelled };
}

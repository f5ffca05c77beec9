import { WorkbenchError } from '../core/errors';
import type { MetadataModel } from '../metadata/model';
import type { JsonObject } from '../core/json';
import { isJsonObject } from '../core/json';
import { fetchXmlColumns, fetchXmlOf, queryPages } from './fetchXmlPages';
import type { WebApiClient } from './webApiClient';

/**
 * `dvw export`: every page of a table or query to a CSV or JSON Lines file, one page in memory at a time. Lookups
 * are written as `nav@odata.bind` references (`accounts(<id>)`) beside their names, so `dvw import` of the file
 * points them at the same records again; annotation columns (`…@OData.Community.Display.V1.FormattedValue`) are
 * for people and skipped by the import.
 */

export type ExportFormat = 'csv' | 'jsonl';

const FORMATTED = 'OData.Community.Display.V1.FormattedValue';
const LOOKUP_TABLE = 'Microsoft.Dynamics.CRM.lookuplogicalname';
const LOOKUP = /^_(.+)_value$/;

/** Where an export stands: the file holds `rows` rows in its first `bytes` bytes; `nextLink` reads on. */
export interface ExportCheckpoint {
  readonly nextLink: string;
  readonly rows: number;
  readonly bytes: number;
}

export function isExportCheckpoint(value: unknown): value is ExportCheckpoint & { readonly header: readonly string[] } {
  return (
    isJsonObject(value) &&
    typeof value.nextLink === 'string' &&
    Number.isSafeInteger(value.rows) &&
    Number.isSafeInteger(value.bytes) &&
    Array.isArray(value.header) &&
    value.header.every((column) => typeof column === 'string')
  );
}

/** How one lookup column is written: a reference per navigation property it may bind (one unless polymorphic). */
interface LookupColumn {
  readonly property: string;
  /** Navigation property → the entity set of its target table, keyed by the target's logical name. */
  readonly navigations: ReadonlyMap<string, { readonly navigation: string; readonly entitySet: string }>;
}

/** The columns of the file, fixed by the first page (CSV needs its header before the first row). */
export interface ExportLayout {
  readonly header: readonly string[];
  readonly row: (record: JsonObject) => Record<string, unknown>;
}

function entitySetOfType(model: MetadataModel, type: string): string | undefined {
  const name = type.slice(type.lastIndexOf('.') + 1);
  for (const set of model.entitySets.values()) {
    if (set.entityType.slice(set.entityType.lastIndexOf('.') + 1) === name) return set.name;
  }
  return undefined;
}

/** The lookup columns of `entitySet` (`_x_value`) and the navigation properties that bind them. */
function lookupColumns(model: MetadataModel, entitySet: string): Map<string, LookupColumn> {
  const lookups = new Map<string, LookupColumn>();
  const set = model.entitySets.get(entitySet);
  if (set === undefined) return lookups;
  for (
    let type = model.entityTypes.get(set.entityType.slice(set.entityType.lastIndexOf('.') + 1));
    type !== undefined;
  ) {
    for (const navigation of type.navigationProperties) {
      if (navigation.collection) continue;
      const property = navigation.referentialConstraints[0]?.property;
      const target = entitySetOfType(model, navigation.type);
      if (property === undefined || target === undefined || !LOOKUP.test(property)) continue;
      const column = lookups.get(property) ?? { property, navigations: new Map() };
      const logical = navigation.type.slice(navigation.type.lastIndexOf('.') + 1);
      (column.navigations as Map<string, { navigation: string; entitySet: string }>).set(logical, {
        navigation: navigation.name,
        entitySet: target,
      });
      lookups.set(property, column);
    }
    const base = type.baseType;
    type = base === undefined ? undefined : model.entityTypes.get(base.slice(base.lastIndexOf('.') + 1));
  }
  return lookups;
}

/**
 * The file's columns from the first record the service sent: its properties in order (the service sends every
 * selected column, null or not), each lookup as its `nav@odata.bind` column(s) and its name, and with `formatted`
 * the formatted value of every column that has one.
 */
export function exportLayout(
  model: MetadataModel,
  entitySet: string,
  first: JsonObject,
  formatted: boolean,
): ExportLayout {
  const lookups = lookupColumns(model, entitySet);
  const header: string[] = [];
  const writers: ((record: JsonObject, out: Record<string, unknown>) => void)[] = [];
  for (const key of Object.keys(first)) {
    if (key.includes('@')) continue;
    const lookup = lookups.get(key);
    if (lookup !== undefined) {
      const only = lookup.navigations.size === 1 ? [...lookup.navigations.values()][0] : undefined;
      for (const { navigation } of lookup.navigations.values()) header.push(`${navigation}@odata.bind`);
      header.push(`${key}@${FORMATTED}`);
      writers.push((record, out) => {
        const id = record[key];
        const table = record[`${key}@${LOOKUP_TABLE}`];
        const target = typeof table === 'string' ? lookup.navigations.get(table) : only;
        if (typeof id === 'string' && target !== undefined)
          out[`${target.navigation}@odata.bind`] = `${target.entitySet}(${id})`;
        out[`${key}@${FORMATTED}`] = record[`${key}@${FORMATTED}`] ?? null;
      });
      continue;
    }
    header.push(key);
    writers.push((record, out) => (out[key] = record[key] ?? null));
    if (formatted && `${key}@${FORMATTED}` in first) {
      header.push(`${key}@${FORMATTED}`);
      writers.push((record, out) => (out[`${key}@${FORMATTED}`] = record[`${key}@${FORMATTED}`] ?? null));
    }
  }
  return {
    header,
    row: (record) => {
      const out: Record<string, unknown> = {};
      for (const write of writers) write(record, out);
      return out;
    },
  };
}

/**
 * The table with the columns an import can write back (valid for create and read, from EntityDefinitions; owners
 * left out, as they differ between environments), so that `dvw import` of the file reproduces the rows.
 */
export async function writableColumnsPath(
  client: WebApiClient,
  entitySet: string,
  logicalName: string,
  signal?: AbortSignal,
): Promise<string> {
  const body = await client.get(
    `EntityDefinitions(LogicalName='${logicalName}')/Attributes?$select=LogicalName,AttributeType,IsValidForCreate,IsValidForRead,AttributeOf`,
    signal === undefined ? {} : { signal },
  );
  const columns: string[] = [];
  for (const attribute of Array.isArray(body.value) ? body.value : []) {
    if (!isJsonObject(attribute)) continue;
    const name = attribute.LogicalName;
    if (typeof name !== 'string' || (attribute.AttributeOf ?? null) !== null || attribute.IsValidForRead !== true)
      continue;
    if (attribute.IsValidForCreate !== true || attribute.AttributeType === 'Owner') continue;
    const lookup = attribute.AttributeType === 'Lookup' || attribute.AttributeType === 'Customer';
    columns.push(lookup ? `_${name}_value` : name);
  }
  return `${entitySet}?$select=${columns.join(',')}`;
}

/** Text for a CSV cell: strings as they are, other values as JSON; null and missing as an empty cell. */
export function cellText(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  return JSON.stringify(value) ?? '';
}

export interface ExportProgress {
  readonly rows: number;
  readonly pages: number;
  readonly elapsedMs: number;
}

export interface ExportOptions {
  readonly client: WebApiClient;
  readonly model: MetadataModel;
  /** The entity set the rows belong to (for lookups). */
  readonly entitySet: string;
  /** The first page's URL, relative to the Web API root (`accounts?$select=name`, or `accounts?fetchXml=…`). */
  readonly path: string;
  readonly format: ExportFormat;
  readonly formatted: boolean;
  /** Appends text to the file and resolves once it is written (the export's only buffer is one page). */
  readonly write: (text: string) => Promise<void>;
  /** One CSV line from a row's cells, escaped and guarded as the results grid's export does. */
  readonly csvLine: (cells: readonly string[]) => string;
  /** Rows per page asked of the service (`Prefer: odata.maxpagesize`, default 5,000). */
  readonly pageSize?: number;
  /** Continue from this checkpoint: the file already holds its rows (and header). */
  readonly resume?: ExportCheckpoint & { readonly header: readonly string[] };
  readonly onCheckpoint?: (checkpoint: ExportCheckpoint & { readonly header: readonly string[] }) => void;
  readonly onProgress?: (progress: ExportProgress) => void;
  readonly signal?: AbortSignal;
  readonly now?: () => number;
}

export interface ExportSummary {
  readonly rows: number;
  readonly pages: number;
  readonly elapsedMs: number;
  readonly resumed: boolean;
}

/**
 * The first record with every column a FetchXML query names, in its order: FetchXML leaves null values out, so the
 * first record alone would not give the file all its columns.
 */
function withDeclared(options: ExportOptions, first: JsonObject): JsonObject {
  const xml = fetchXmlOf(options.path);
  if (xml === undefined) return first;
  const lookups = lookupColumns(options.model, options.entitySet);
  const columns = fetchXmlColumns(xml, (name) => lookups.has(`_${name}_value`));
  if (columns === undefined) return first;
  return { ...Object.fromEntries(columns.map((column) => [column, null])), ...first };
}

/** Streams every page of `path` (an OData query or FetchXML) to the file, a checkpoint after each page written. */
export async function exportRows(options: ExportOptions): Promise<ExportSummary> {
  const { client, format, write, signal } = options;
  const now = options.now ?? (() => performance.now());
  const started = now();
  let rows = options.resume?.rows ?? 0;
  let bytes = options.resume?.bytes ?? 0;
  let pages = 0;
  let header = options.resume?.header;
  let layout: ExportLayout | undefined;
  const put = async (text: string): Promise<void> => {
    await write(text);
    bytes += Buffer.byteLength(text);
  };
  const pagesOf = queryPages(client, options.resume?.nextLink ?? options.path, {
    maxPageSize: options.pageSize ?? 5000,
    includeAnnotations: [FORMATTED, LOOKUP_TABLE],
    ...(signal === undefined ? {} : { signal }),
  });
  for await (const page of pagesOf) {
    if (signal?.aborted) throw new WorkbenchError('cancelled', 'Cancelled.');
    const first = page.value[0];
    if (layout === undefined && first !== undefined) {
      layout = exportLayout(options.model, options.entitySet, withDeclared(options, first), options.formatted);
      if (header !== undefined && header.join('\n') !== layout.header.join('\n')) {
        throw new WorkbenchError(
          'invalidInput',
          'The columns changed since the checkpoint; export again without --resume.',
        );
      }
      if (header === undefined && format === 'csv') await put(options.csvLine(layout.header));
      header = layout.header;
    }
    let text = '';
    for (const record of page.value) {
      const row = (layout as ExportLayout).row(record);
      text +=
        format === 'csv'
          ? options.csvLine((header ?? []).map((column) => cellText(row[column])))
          : `${JSON.stringify(row)}\n`;
    }
    await put(text);
    rows += page.value.length;
    pages += 1;
    if (page.nextLink !== undefined)
      options.onCheckpoint?.({ nextLink: page.nextLink, rows, bytes, header: header ?? [] });
    options.onProgress?.({ rows, pages, elapsedMs: now() - started });
  }
  return { rows, pages, elapsedMs: now() - started, resumed: options.resume !== undefined };
}

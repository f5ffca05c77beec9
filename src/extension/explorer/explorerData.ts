import { WorkbenchError } from '../../core/errors';
import type { JsonObject } from '../../core/json';
import { isJsonObject, nonEmptyString } from '../../core/json';
import type { Page } from '../../dataverse/webApiClient';
import { readPage } from '../../dataverse/webApiClient';
import { labelOf } from '../../metadata/entityDefinitions';
import { MetadataIndex } from '../../metadata/lookup';
import type { EntityType, MetadataModel, NavigationProperty, Property } from '../../metadata/model';
import { compareColumns } from '../../metadata/columnNames';
import { encodeQueryValue } from '../../odata/url';
import type { Connection, ConnectionManager } from '../connections';

/** One table as the explorer lists it. */
export interface TableInfo {
  readonly logicalName: string;
  readonly entitySet: string;
  readonly displayName: string | undefined;
  readonly isCustom: boolean;
  readonly primaryId: string | undefined;
  readonly primaryName: string | undefined;
}

export interface TableSchema {
  readonly index: MetadataIndex;
  readonly type: EntityType;
}

export interface TableKey {
  readonly name: string;
  /** The columns as URLs name them (a lookup is `_x_value`). */
  readonly columns: readonly string[];
  readonly primary: boolean;
  /** EntityKeyIndexStatus (`Active`, `Pending`, `InProgress`, `Failed`); unknown when only `$metadata` lists it. */
  readonly status?: string;
}

export interface TableKeys {
  readonly keys: readonly TableKey[];
  /** False when neither the table's definition nor `$metadata` lists its alternate keys. */
  readonly alternateKeysKnown: boolean;
}

/** The table list needs no more than this, and one request for ~800 tables beats 800 enrichments. */
const TABLE_SELECT = 'LogicalName,EntitySetName,DisplayName,IsCustomEntity,PrimaryIdAttribute,PrimaryNameAttribute';

/** What the explorer reads from an environment; the tree decides when, and remembers the answers. */
export class ExplorerData {
  private readonly indexes = new WeakMap<MetadataModel, MetadataIndex>();

  constructor(private readonly connections: ConnectionManager) {}

  async tables(connection: Connection, signal: AbortSignal): Promise<TableInfo[]> {
    const body = await this.connections.client(connection).get(`EntityDefinitions?$select=${TABLE_SELECT}`, { signal });
    const value = Array.isArray(body.value) ? body.value : [];
    const tables: TableInfo[] = [];
    for (const item of value) {
      if (!isJsonObject(item)) continue;
      const logicalName = nonEmptyString(item.LogicalName);
      const entitySet = nonEmptyString(item.EntitySetName);
      // Tables without an entity set (intersect tables of some solutions) cannot be queried.
      if (logicalName === undefined || entitySet === undefined) continue;
      tables.push({
        logicalName,
        entitySet,
        displayName: labelOf(item.DisplayName),
        isCustom: item.IsCustomEntity === true,
        primaryId: nonEmptyString(item.PrimaryIdAttribute),
        primaryName: nonEmptyString(item.PrimaryNameAttribute),
      });
    }
    return tables.sort((a, b) => a.logicalName.localeCompare(b.logicalName));
  }

  /** `$metadata` enriched with the table's EntityDefinitions (display names, choices, required level). */
  async schema(connection: Connection, table: TableInfo, signal: AbortSignal): Promise<TableSchema> {
    const model = await this.connections.metadata(connection).withEntityDefinition(table.logicalName, signal);
    let index = this.indexes.get(model);
    if (index === undefined) {
      index = new MetadataIndex(model);
      this.indexes.set(model, index);
    }
    const type = index.entityType(table.logicalName) ?? index.entityTypeOfSet(table.entitySet);
    if (type === undefined) {
      throw new WorkbenchError('notFound', `The service's $metadata does not describe the table ${table.logicalName}.`);
    }
    return { index, type };
  }

  async columns(connection: Connection, table: TableInfo, signal: AbortSignal): Promise<readonly Property[]> {
    const { index, type } = await this.schema(connection, table, signal);
    return [...index.properties(type)].sort(compareColumns);
  }

  async relationships(
    connection: Connection,
    table: TableInfo,
    signal: AbortSignal,
  ): Promise<readonly NavigationProperty[]> {
    const { index, type } = await this.schema(connection, table, signal);
    return [...index.navigationProperties(type)].sort((a, b) => a.name.localeCompare(b.name));
  }

  /**
   * The primary key and the alternate keys of the same model the language checks key segments with:
   * the table's EntityDefinitions (names, index status) when read, else `$metadata`'s key vocabulary.
   */
  async keys(connection: Connection, table: TableInfo, signal: AbortSignal): Promise<TableKeys> {
    const { index, type } = await this.schema(connection, table, signal);
    const alternate = index.alternateKeys(type);
    const keys: TableKey[] = [
      { name: 'Primary key', columns: index.key(type), primary: true },
      ...(alternate ?? []).map((key, i) => ({
        name: key.name ?? `Alternate key ${i + 1}`,
        columns: key.columns,
        primary: false,
        ...(key.status === undefined ? {} : { status: key.status }),
      })),
    ];
    return { keys, alternateKeysKnown: alternate !== undefined };
  }

  /**
   * The first page of a table's records (primary id and name only), optionally filtered, sorted by name
   * (then id, so pages never overlap) and counted: Dataverse counts up to 5,000 rows.
   */
  async firstRecords(
    connection: Connection,
    table: TableInfo,
    filter: string | undefined,
    pageSize: number,
    signal: AbortSignal,
  ): Promise<Page> {
    const columns = [table.primaryId, table.primaryName].filter(isString);
    const options = [
      ...(columns.length > 0 ? [`$select=${[...new Set(columns)].join(',')}`] : []),
      ...(filter === undefined ? [] : [`$filter=${encodeQueryValue(filter)}`]),
      ...(columns.length > 0 ? [`$orderby=${[...new Set(columns)].reverse().join(',')}`] : []),
      '$count=true',
    ];
    return this.page(
      connection,
      `${table.entitySet}${options.length > 0 ? `?${options.join('&')}` : ''}`,
      pageSize,
      signal,
    );
  }

  /** The page behind an `@odata.nextLink`, sent verbatim with the same page size, as Dataverse requires. */
  async nextRecords(connection: Connection, nextLink: string, pageSize: number, signal: AbortSignal): Promise<Page> {
    return this.page(connection, nextLink, pageSize, signal);
  }

  private async page(connection: Connection, path: string, pageSize: number, signal: AbortSignal): Promise<Page> {
    const response = await this.connections.client(connection).request({
      method: 'GET',
      path,
      prefer: { maxPageSize: pageSize },
      signal,
    });
    return readPage(response);
  }
}

/** Dataverse stops counting at 5,000 rows (`$count`, reference §1.5). */
export const COUNT_LIMIT = 5000;

/** `1 record`, `42 records`, `5,000+ records` (Dataverse counts no further). */
export function recordCountText(count: number): string {
  if (count >= COUNT_LIMIT) return `${COUNT_LIMIT.toLocaleString('en-US')}+ records`;
  return `${count.toLocaleString('en-US')} ${count === 1 ? 'record' : 'records'}`;
}

/** A record's primary name, or undefined when the table has none or the value is empty. */
export function recordName(record: JsonObject, table: TableInfo): string | undefined {
  const value = table.primaryName === undefined ? undefined : record[table.primaryName];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/**
 * A service message fit to follow "…: " in a tree node: the leading error code (`0x80060888:`) dropped,
 * a capital first letter and a full stop.
 */
export function asSentence(message: string): string {
  const text = message.replace(/^\s*0x[0-9a-f]+\s*:?\s*/i, '').trim();
  if (text === '') return 'The service gave no reason.';
  const capital = text.charAt(0).toUpperCase() + text.slice(1);
  return /[.!?]$/.test(capital) ? capital : `${capital}.`;
}

function isString(value: unknown): value is string {
  return typeof value === 'string';
}

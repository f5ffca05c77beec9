import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeWholeFile } from './wholeFile';
import { WorkbenchError } from '../core/errors';
import { parseCsdl } from '../metadata/csdl';
import { enrichModel } from '../metadata/entityDefinitions';
import type { MetadataModel } from '../metadata/model';
import { serializeModel, tryDeserializeModel } from '../metadata/serialize';
import type { Clock } from './retryPolicy';
import { systemClock } from './retryPolicy';
import type { WebApiClient } from './webApiClient';
import { isJsonObject } from '../core/json';

export interface MetadataCacheOptions {
  readonly client: WebApiClient;
  /** Where cache files go (the extension's global storage, or the CLI's cache directory). */
  readonly directory: string;
  /** Older than this, the cache is downloaded again on next use. Default one day. */
  readonly maxAgeMs?: number;
  readonly clock?: Pick<Clock, 'now'>;
}

export interface LoadedMetadata {
  readonly model: MetadataModel;
  /** When `$metadata` was downloaded (ms since the epoch). */
  readonly fetchedAt: number;
  readonly source: 'memory' | 'disk' | 'network';
}

const DEFAULT_MAX_AGE_MS = 24 * 60 * 60_000;
/** A first line in front of the serialized model so the fetch time is read without parsing the model. */
const HEADER = 'dvw-metadata-cache-file';

/** The `$select` of the per-table EntityDefinitions request: what `enrichModel` reads, and no more. */
const ENTITY_SELECT =
  'LogicalName,SchemaName,EntitySetName,DisplayName,Description,PrimaryIdAttribute,PrimaryNameAttribute,IsCustomEntity';
const ATTRIBUTE_SELECT = 'LogicalName,AttributeType,DisplayName,Description,RequiredLevel';
/** Alternate keys ride along in the same request (EntityKeyMetadata). */
const KEY_SELECT = 'LogicalName,KeyAttributes,EntityKeyIndexStatus';
/**
 * Choices and lookup targets live on derived attribute types, which `$expand=Attributes` cannot reach:
 * each needs a request on a cast segment (there is no cast to their base, EnumAttributeMetadata). Their
 * answers are merged into the attributes by name. State and Status option sets are never global; a
 * Boolean's has TrueOption and FalseOption ("Query table definitions using the Web API", retrieve
 * attributes: https://learn.microsoft.com/power-apps/developer/data-platform/webapi/query-metadata-web-api).
 */
const ATTRIBUTE_CASTS = [
  'PicklistAttributeMetadata?$select=LogicalName&$expand=OptionSet,GlobalOptionSet',
  'MultiSelectPicklistAttributeMetadata?$select=LogicalName&$expand=OptionSet,GlobalOptionSet',
  'StateAttributeMetadata?$select=LogicalName&$expand=OptionSet',
  'StatusAttributeMetadata?$select=LogicalName&$expand=OptionSet',
  'BooleanAttributeMetadata?$select=LogicalName&$expand=OptionSet,GlobalOptionSet',
  'LookupAttributeMetadata?$select=LogicalName,Targets',
];

/**
 * `$metadata` of one environment, downloaded once and kept on disk with its fetch time. Concurrent
 * callers share one download. `EntityDefinitions` (display names, option sets) are fetched per table on
 * first need and merged into the model in memory.
 */
export class MetadataCache {
  private readonly client: WebApiClient;
  private readonly file: string;
  private readonly maxAgeMs: number;
  private readonly clock: Pick<Clock, 'now'>;
  private current: LoadedMetadata | undefined;
  private loading: Promise<LoadedMetadata> | undefined;
  private readonly enriched = new Map<string, Promise<void>>();

  constructor(options: MetadataCacheOptions) {
    this.client = options.client;
    this.maxAgeMs = options.maxAgeMs ?? DEFAULT_MAX_AGE_MS;
    this.clock = options.clock ?? systemClock;
    const key = createHash('sha256').update(options.client.webApiUrl).digest('hex').slice(0, 24);
    this.file = join(options.directory, `metadata-${key}.cache`);
  }

  /** The cache file; the language server reads it with `readMetadataCacheFile`. */
  get cacheFile(): string {
    return this.file;
  }

  /** The model: from memory, else the disk cache when fresh enough, else downloaded. */
  async get(options: { refresh?: boolean; signal?: AbortSignal } = {}): Promise<LoadedMetadata> {
    if (options.refresh) return this.download(options.signal);
    if (this.current !== undefined && this.isFresh(this.current.fetchedAt)) return this.current;
    this.loading ??= this.load(options.signal).finally(() => {
      this.loading = undefined;
    });
    return this.loading;
  }

  async refresh(signal?: AbortSignal): Promise<LoadedMetadata> {
    return this.get({ refresh: true, ...(signal === undefined ? {} : { signal }) });
  }

  /** The primary key of an entity set, for safe creates (`WebApiClientOptions.primaryKeyOf`). */
  async primaryKeyOf(entitySet: string, signal?: AbortSignal): Promise<string | undefined> {
    const { model } = await this.get(signal === undefined ? {} : { signal });
    const set = model.entitySets.get(entitySet);
    if (set === undefined) return undefined;
    const typeName = set.entityType.slice(set.entityType.lastIndexOf('.') + 1);
    return model.entityTypes.get(typeName)?.key[0];
  }

  /**
   * The model with `EntityDefinitions` of `logicalName` merged in (once per table per cache). A table
   * unknown to the service is an error; the other tables keep their enrichment.
   */
  async withEntityDefinition(logicalName: string, signal?: AbortSignal): Promise<MetadataModel> {
    if (!/^[a-z0-9_]+$/i.test(logicalName)) {
      throw new WorkbenchError('invalidInput', `'${logicalName}' is not a table logical name.`);
    }
    await this.get(signal === undefined ? {} : { signal });
    let pending = this.enriched.get(logicalName);
    if (pending === undefined) {
      pending = this.enrich(logicalName, signal);
      this.enriched.set(logicalName, pending);
      pending.catch(() => this.enriched.delete(logicalName));
    }
    await pending;
    if (this.current === undefined) throw new WorkbenchError('internal', 'The metadata cache lost its model.');
    return this.current.model;
  }

  private async enrich(logicalName: string, signal: AbortSignal | undefined): Promise<void> {
    const path =
      `EntityDefinitions(LogicalName='${logicalName}')?$select=${ENTITY_SELECT}` +
      `&$expand=Attributes($select=${ATTRIBUTE_SELECT}),Keys($select=${KEY_SELECT})`;
    const json = await this.client.get(path, signal === undefined ? {} : { signal });
    const extras = await Promise.all(ATTRIBUTE_CASTS.map((cast) => this.castAttributes(logicalName, cast, signal)));
    const current = this.current;
    if (current === undefined) throw new WorkbenchError('internal', 'The metadata cache lost its model.');
    const byName = new Map<unknown, Record<string, unknown>>();
    for (const item of extras.flat()) {
      if (isJsonObject(item)) byName.set(item.LogicalName, { ...byName.get(item.LogicalName), ...item });
    }
    const attributes = Array.isArray(json.Attributes) ? (json.Attributes as unknown[]) : [];
    const merged = attributes.map((attribute) => {
      const extra = isJsonObject(attribute) ? byName.get(attribute.LogicalName) : undefined;
      return extra === undefined || !isJsonObject(attribute) ? attribute : { ...attribute, ...extra };
    });
    const result = enrichModel(current.model, { ...json, Attributes: merged });
    this.current = { ...current, model: result.model };
  }

  /** A service without the cast (an older emulator) still yields display names: only cancellation stops here. */
  private async castAttributes(logicalName: string, cast: string, signal: AbortSignal | undefined): Promise<unknown[]> {
    try {
      const body = await this.client.get(
        `EntityDefinitions(LogicalName='${logicalName}')/Attributes/Microsoft.Dynamics.CRM.${cast}`,
        signal === undefined ? {} : { signal },
      );
      return Array.isArray(body.value) ? (body.value as unknown[]) : [];
    } catch (error) {
      if (error instanceof WorkbenchError && error.kind === 'cancelled') throw error;
      return [];
    }
  }

  private isFresh(fetchedAt: number): boolean {
    return this.clock.now() - fetchedAt < this.maxAgeMs;
  }

  private async load(signal: AbortSignal | undefined): Promise<LoadedMetadata> {
    const cached = await this.readDisk();
    if (cached !== undefined && this.isFresh(cached.fetchedAt)) {
      this.current = cached;
      return cached;
    }
    return this.download(signal);
  }

  private async readDisk(): Promise<LoadedMetadata | undefined> {
    return readMetadataCacheFile(this.file);
  }

  private async download(signal: AbortSignal | undefined): Promise<LoadedMetadata> {
    const response = await this.client.request({
      method: 'GET',
      path: '$metadata',
      headers: { Accept: 'application/xml' },
      ...(signal === undefined ? {} : { signal }),
    });
    if (typeof response.body !== 'string') throw new WorkbenchError('odata', 'The $metadata answer is not XML.');
    const parsed = parseCsdl(response.body);
    if (parsed.model.entityTypes.size === 0) {
      throw new WorkbenchError('odata', 'The $metadata document describes no entity types.');
    }
    const fetchedAt = this.clock.now();
    const loaded: LoadedMetadata = { model: parsed.model, fetchedAt, source: 'network' };
    this.current = loaded;
    this.enriched.clear();
    await this.writeDisk(loaded);
    return loaded;
  }

  private async writeDisk(loaded: LoadedMetadata): Promise<void> {
    await writeWholeFile(this.file, `${HEADER} ${loaded.fetchedAt}\n${serializeModel(loaded.model)}`);
  }
}

/**
 * Reads a cache file written by `MetadataCache`. Undefined when it is missing, from another version or
 * damaged: callers then download again.
 */
export async function readMetadataCacheFile(file: string): Promise<LoadedMetadata | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return undefined;
  }
  const newline = text.indexOf('\n');
  const header = /^(\S+) (\d+)$/.exec(text.slice(0, Math.max(0, newline)));
  if (header?.[1] !== HEADER) return undefined;
  const result = tryDeserializeModel(text.slice(newline + 1));
  if (!result.ok) return undefined;
  return { model: result.model, fetchedAt: Number(header[2]), source: 'disk' };
}

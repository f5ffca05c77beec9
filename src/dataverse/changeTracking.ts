import { WorkbenchError } from '../core/errors';
import type { JsonObject } from '../core/json';
import type { WebApiClient } from './webApiClient';

/** A row Dataverse reports as gone since the last delta link (OData 4.0 `$deletedEntity`). */
export interface DeletedEntity {
  readonly id: string;
  /** `deleted` or `changed` (OData 4.0: the row left the tracked set). */
  readonly reason: string;
}

export interface Changes {
  /** New and updated rows (all rows on the first sync). */
  readonly changed: readonly JsonObject[];
  readonly deleted: readonly DeletedEntity[];
  readonly deltaLink: string;
  /** True when this was the initial full read rather than a delta. */
  readonly initial: boolean;
}

/** Where delta links are kept between runs; keyed by whatever names the tracked query. */
export interface DeltaLinkStore {
  get(key: string): Promise<string | undefined>;
  set(key: string, deltaLink: string): Promise<void>;
}

export function memoryDeltaLinkStore(): DeltaLinkStore {
  const links = new Map<string, string>();
  return {
    get: (key) => Promise.resolve(links.get(key)),
    set: (key, link) => {
      links.set(key, link);
      return Promise.resolve();
    },
  };
}

function deletedEntity(row: JsonObject): DeletedEntity | undefined {
  const context = row['@odata.context'];
  if (typeof context !== 'string' || !context.endsWith('/$deletedEntity')) return undefined;
  const id = row.id;
  const reason = row.reason;
  if (typeof id !== 'string') throw new WorkbenchError('odata', 'A deleted-entity row has no id.');
  return { id, reason: typeof reason === 'string' ? reason : 'deleted' };
}

/**
 * Reads every page of a tracked query and splits rows from deletions. Dataverse puts the delta link on
 * the last page only; `@odata.nextLink` pages before it (more than 5,000 changes) are followed first.
 */
async function readChanges(
  client: WebApiClient,
  path: string,
  options: { trackChanges: boolean; signal?: AbortSignal; maxPageSize?: number },
): Promise<Omit<Changes, 'initial'>> {
  const changed: JsonObject[] = [];
  const deleted: DeletedEntity[] = [];
  let deltaLink: string | undefined;
  for await (const page of client.pages(path, {
    trackChanges: options.trackChanges,
    ...(options.signal === undefined ? {} : { signal: options.signal }),
    ...(options.maxPageSize === undefined ? {} : { maxPageSize: options.maxPageSize }),
  })) {
    for (const row of page.value) {
      const gone = deletedEntity(row);
      if (gone === undefined) changed.push(row);
      else deleted.push(gone);
    }
    deltaLink = page.deltaLink ?? deltaLink;
  }
  if (deltaLink === undefined) {
    throw new WorkbenchError(
      'odata',
      'The service returned no delta link: change tracking is probably not enabled for this table.',
    );
  }
  client.resolve(deltaLink);
  return { changed, deleted, deltaLink };
}

/** The first read of a tracked query (`Prefer: odata.track-changes`): all rows and the delta link. */
export async function startTracking(
  client: WebApiClient,
  query: string,
  options: { signal?: AbortSignal; maxPageSize?: number } = {},
): Promise<Changes> {
  return { ...(await readChanges(client, query, { ...options, trackChanges: true })), initial: true };
}

/** Changes since `deltaLink`; the answer carries the next delta link. */
export async function fetchChanges(
  client: WebApiClient,
  deltaLink: string,
  options: { signal?: AbortSignal; maxPageSize?: number } = {},
): Promise<Changes> {
  return { ...(await readChanges(client, deltaLink, { ...options, trackChanges: false })), initial: false };
}

/**
 * Keeps one tracked query in step: the first `sync` reads everything, later ones only the delta. The new
 * delta link is stored only after all pages were read, so an interrupted sync repeats rather than skips.
 */
export class ChangeTracker {
  constructor(
    private readonly client: WebApiClient,
    private readonly store: DeltaLinkStore,
    private readonly query: string,
    private readonly key: string = `${client.webApiUrl} ${query}`,
  ) {}

  async sync(signal?: AbortSignal): Promise<Changes> {
    const stored = await this.store.get(this.key);
    const options = signal === undefined ? {} : { signal };
    const changes =
      stored === undefined
        ? await startTracking(this.client, this.query, options)
        : await fetchChanges(this.client, stored, options);
    await this.store.set(this.key, changes.deltaLink);
    return changes;
  }
}

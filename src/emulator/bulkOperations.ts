/**
 * Dataverse's bulk operation messages, bound to an entity set:
 * `POST accounts/Microsoft.Dynamics.CRM.CreateMultiple` with `{"Targets":[{"@odata.type":"Microsoft.Dynamics.CRM.account", …}]}`.
 * Followed: https://learn.microsoft.com/power-apps/developer/data-platform/bulk-operations ("Use bulk operation
 * messages") and its Web API samples. CreateMultiple answers 200 with `Ids`; UpdateMultiple and UpsertMultiple
 * answer 204. Every target must name the bound table in `@odata.type`. On standard tables the request is all or
 * nothing: one failing record fails the request and nothing is written. DeleteMultiple exists for elastic tables
 * only, and the emulator has none. Each record goes through createRecord/updateRecord, so steps on Create and Update
 * fire once per record, as the pipeline runs them for the `*Multiple` messages; steps on the message itself fire once
 * for the request, with every record in `Targets` and the step's images per record (webhookDelivery.ts).
 */
import { parseODataUrl } from '../odata/url';
import { DataverseHttpError, ErrorCodes, badRequest, guessed } from './errors';
import type { WriteContext } from './records';
import { createRecordId, isGuid, requestScope, updateRecord } from './records';
import type { Reply } from './reply';
import type { Service } from './routes/context';
import type { Key } from './routes/keys';
import { findByKey, missingRecord, resolveKey } from './routes/keys';
import type { Table } from './schema/schema';
import { isJsonObject } from '../core/json';

export const BULK_MESSAGES = ['CreateMultiple', 'UpdateMultiple', 'UpsertMultiple', 'DeleteMultiple'] as const;
export type BulkMessage = (typeof BULK_MESSAGES)[number];

/** The messages a standard table has (DeleteMultiple is for elastic tables); seeded as sdkmessagefilters. */
export const STANDARD_TABLE_BULK_MESSAGES: readonly BulkMessage[] = [
  'CreateMultiple',
  'UpdateMultiple',
  'UpsertMultiple',
];

const NAMESPACE = 'Microsoft.Dynamics.CRM.';

/** The bulk message a bound-action segment names (`Microsoft.Dynamics.CRM.CreateMultiple`), if any. */
export function bulkMessageOf(segment: string): BulkMessage | undefined {
  if (!segment.startsWith(NAMESPACE)) return undefined;
  const name = segment.slice(NAMESPACE.length);
  return BULK_MESSAGES.find((m) => m === name);
}

/** The record at `index` failed: the request fails with Dataverse's error, the index added to the message. */
function atIndex(index: number, error: unknown): never {
  if (error instanceof DataverseHttpError) {
    throw new DataverseHttpError(
      error.status,
      error.code,
      `${error.message} (Targets[${index}])`,
      { ...error.headers },
      error.guess,
    );
  }
  throw error;
}

function targetsOf(table: Table, message: BulkMessage, body: unknown): Record<string, unknown>[] {
  if (!isJsonObject(body) || !Array.isArray(body.Targets)) {
    throw badRequest(`${message} needs a body {"Targets": [...]} with the records of '${table.logicalName}'.`);
  }
  if (body.Targets.length === 0) throw badRequest(`${message} needs at least one record in Targets.`);
  const expected = `${NAMESPACE}${table.logicalName}`;
  return body.Targets.map((target: unknown, index) => {
    if (!isJsonObject(target)) throw badRequest(`Targets[${index}] must be a JSON object.`);
    const type = target['@odata.type'];
    if (type !== expected && type !== `#${expected}`) {
      throw badRequest(
        type === undefined
          ? `Targets[${index}] has no '@odata.type'; every record of ${message} must have '@odata.type': '${expected}'.`
          : `Targets[${index}] has '@odata.type' ${JSON.stringify(type)}; ${message} on '${table.entitySetName}' takes only '${expected}'.`,
      );
    }
    return target;
  });
}

/**
 * `accounts(<guid>)`, the reference importers send for every target: read without the URL parser (which costs more
 * than the rest of the key's work); anything else goes through it.
 */
const RECORD_BY_ID = /^([A-Za-z0-9_]+)\(([0-9A-Fa-f-]{36})\)$/;

/** The key of an UpdateMultiple/UpsertMultiple target: `@odata.id` (primary or alternate key) or the primary id column. */
function keyOf(table: Table, target: Record<string, unknown>): Key | undefined {
  const reference = target['@odata.id'];
  if (reference !== undefined) {
    if (typeof reference !== 'string') throw badRequest(`'@odata.id' must be a string.`);
    const path = /\/api\/data\/v9\.[0-2]\/(.*)$/.exec(reference)?.[1] ?? reference.replace(/^\//, '');
    const byId = RECORD_BY_ID.exec(path);
    if (byId?.[1] === table.entitySetName && isGuid(byId[2] ?? '')) return (byId[2] ?? '').toLowerCase();
    // Read as the router reads a URL's key, so `@odata.id` takes what a URL takes.
    const parsed = parseODataUrl(path, { templates: false });
    const [segment, ...rest] = parsed.path.segments;
    if (
      segment?.kind === 'system' ||
      segment?.name !== table.entitySetName ||
      segment.args === undefined ||
      rest.length > 0
    ) {
      throw badRequest(`The '@odata.id' '${reference}' does not name a record of '${table.entitySetName}'.`);
    }
    return resolveKey(table, segment.args);
  }
  const id = target[table.primaryIdAttribute];
  if (typeof id === 'string' && isGuid(id)) return id.toLowerCase();
  return undefined;
}

/** The target's columns without the key values that `@odata.id` repeats (they identify, they are not written). */
function columnsOf(target: Record<string, unknown>, key: Key): Record<string, unknown> {
  if (typeof key === 'string') return target;
  return Object.fromEntries(Object.entries(target).filter(([name]) => !(name in key.alternate)));
}

/** Runs one bulk message on `table`; the caller runs it inside one transaction (savepoint) so a throw writes nothing. */
export function runBulkMessage(service: Service, table: Table, message: BulkMessage, body: unknown): Reply {
  if (message === 'DeleteMultiple') {
    throw new DataverseHttpError(
      400,
      ErrorCodes.notSupported,
      `DeleteMultiple is supported for elastic tables only; '${table.logicalName}' is a standard table.`,
    );
  }
  const targets = targetsOf(table, message, body);
  // Per request, not per record: owners' business units, and one block of row versions.
  const ctx = requestScope(service.ctx, table, targets.length);
  const run = (work: () => readonly string[]): void => {
    if (ctx.observer === undefined) work();
    else ctx.observer.multiple(message, table, work);
  };
  if (message === 'CreateMultiple') {
    const ids: string[] = [];
    run(() => {
      targets.forEach((target, index) => {
        try {
          ids.push(createRecordId(ctx, table, target));
        } catch (error) {
          atIndex(index, error);
        }
      });
      return ids;
    });
    return {
      status: 200,
      headers: { 'Content-Type': 'application/json; odata.metadata=minimal' },
      body: JSON.stringify({
        '@odata.context': `${service.webApi}$metadata#Microsoft.Dynamics.CRM.CreateMultipleResponse`,
        Ids: ids,
      }),
    };
  }
  const existing = new KnownIds(service, table, targets);
  run(() => targets.map((target, index) => writeTarget(ctx, table, message, target, index, existing)));
  return { status: 204, headers: {} };
}

/** A value that writes related records with the target (a deep insert), rather than a column of its own. */
function isNested(value: unknown): boolean {
  return value !== null && typeof value === 'object';
}

/**
 * Which ids of the bound table have a record, for targets keyed by id: asked once for the whole request, then kept
 * up to date as its targets create records (a later target with the same key updates the record an earlier one
 * made). A target that writes related records may create records of this table under other ids, so after one the
 * store is asked again per target.
 */
class KnownIds {
  private ids: Set<string> | undefined;

  constructor(
    private readonly service: Service,
    private readonly table: Table,
    targets: readonly Record<string, unknown>[],
  ) {
    const byId: string[] = [];
    for (const target of targets) {
      try {
        const key = keyOf(table, target);
        if (typeof key === 'string') byId.push(key);
      } catch {
        // A bad key fails its target, with its index, when the target is written.
      }
    }
    this.ids = service.store.existingIds(table, byId);
  }

  /** The id of the record a key names, if there is one; by id, only whether it exists (updateRecord reads the row). */
  find(key: Key): string | undefined {
    const { store } = this.service;
    if (typeof key !== 'string') {
      const row = findByKey(store, this.table, key);
      return row === null ? undefined : String(row[this.table.primaryIdAttribute]);
    }
    const known = this.ids === undefined ? store.exists(this.table, key) : this.ids.has(key);
    return known ? key : undefined;
  }

  /** Told after each target is written: its own record exists now, and a deep insert ends the shortcut. */
  written(target: Record<string, unknown>, id: string): void {
    if (this.ids === undefined) return;
    if (Object.values(target).some(isNested)) this.ids = undefined;
    else this.ids.add(id);
  }
}

/** Updates (or, for UpsertMultiple, creates) one target; answers its record's id. */
function writeTarget(
  ctx: WriteContext,
  table: Table,
  message: 'UpdateMultiple' | 'UpsertMultiple',
  target: Record<string, unknown>,
  index: number,
  existing: KnownIds,
): string {
  try {
    const key = keyOf(table, target);
    if (key === undefined) {
      throw guessed(
        400,
        'bulkTargetKey',
        `${message} needs the key of every record: '${table.primaryIdAttribute}' or '@odata.id'.`,
      );
    }
    const id = existing.find(key);
    if (id !== undefined) {
      updateRecord(ctx, table, id, columnsOf(target, key));
      existing.written(target, id);
      return id;
    }
    if (message === 'UpdateMultiple') throw missingRecord(table, key);
    // `existing` has just found no record with this id.
    const created =
      typeof key === 'string'
        ? createRecordId(ctx, table, target, key, true)
        : createRecordId(ctx, table, { ...target, ...key.alternate });
    existing.written(target, created);
    return created;
  } catch (error) {
    return atIndex(index, error);
  }
}

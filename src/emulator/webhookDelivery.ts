import { randomUUID } from 'node:crypto';
import type { ContextValue, Entity, KeyValue, RemoteExecutionContext } from '../core/remoteExecutionContext';
import { encodeRemoteExecutionContext } from '../core/remoteExecutionContext';
import { storedNumber } from './exactNumber';
import type { Bypass } from './bypass';
import { bypasses } from './bypass';
import { DataverseHttpError, guessed } from './errors';
import type { Caller, MultipleWriteMessage, Organization, WriteObserver } from './records';
import { managedPropertyJson } from './records';
import type { Reply } from './reply';
import type { Column, Schema, Table } from './schema/schema';
import type { Row, SetAsideWrites, Store, TransactionJournal } from './store';
import { ReapplyError, sqlTable } from './store';

// Webhook delivery (reference §13.5). Every write request runs inside one outer transaction while
// the records it touches are noted; afterwards the enabled steps that match are turned into
// RemoteExecutionContext bodies. Synchronous ones are POSTed before the commit, so a failing
// endpoint rolls the request back; asynchronous ones go out after the commit, off the request path.
//
// While a synchronous endpoint has not answered, the request's transaction is set aside (Store.setAside:
// rolled back, its statements kept) and applied again once every endpoint said yes. Meanwhile other requests
// are served as Dataverse serves them, in their own transactions: reads see the last committed state (not the
// change in flight); writes wait for their turn, since SQLite has one writer and no row locks.

export interface WebhookEvent {
  readonly outcome: 'delivered' | 'failed' | 'retrying' | 'notDelivered';
  readonly endpoint: string;
  readonly step: string;
  readonly message: string;
  readonly table: string;
  readonly mode: 'sync' | 'async';
  /** The endpoint's HTTP status, when it answered. */
  readonly status?: number;
  /** Why it failed or was not delivered; never a URL, key or payload. */
  readonly reason?: string;
}

export interface WebhookDeliveryOptions {
  readonly schema: Schema;
  readonly store: Store;
  readonly caller: Caller;
  readonly organization: Organization;
  /** The emulator's own URL, for `x-ms-dynamics-organization`. */
  readonly baseUrl: () => string;
  readonly onEvent?: (event: WebhookEvent) => void;
  /** Dataverse waits 60 s for an endpoint. */
  readonly timeoutMs?: number;
}

type MessageName = 'Create' | 'Update' | 'Delete';

interface WriteEvent {
  readonly message: MessageName;
  readonly table: Table;
  readonly id: string;
  readonly before: Row | null;
  readonly after: Row | null;
  /** The columns the request wrote (an Update's Target); a Create's are its non-null columns, found when needed. */
  readonly written: readonly string[] | undefined;
  /** The steps the operation that wrote it asked to skip (the `MSCRM.Bypass…` headers). */
  readonly bypass: Bypass | undefined;
  /** Written by a bulk message, whose own steps see it in that message's Targets (not in one of its own). */
  readonly inMultiple: boolean;
}

/** A bulk message's records, for the steps registered on the message itself. */
interface MultipleEvent {
  readonly message: MultipleWriteMessage;
  readonly table: Table;
  readonly records: readonly WriteEvent[];
  readonly bypass: Bypass | undefined;
}

type Event = WriteEvent | MultipleEvent;

/**
 * "Write plug-ins for CreateMultiple and UpdateMultiple" (Microsoft Learn): the pipeline merges the steps of the
 * single and the multiple message, so a step on CreateMultiple also runs for a Create, with that one record in
 * Targets. UpsertMultiple has no such single twin in the emulator (an upsert runs as Create or Update).
 */
const MULTIPLE_OF: Partial<Record<MessageName, MultipleWriteMessage>> = {
  Create: 'CreateMultiple',
  Update: 'UpdateMultiple',
};

/** The empty GUID: a bulk message's context names no single record. */
const NO_RECORD = '00000000-0000-0000-0000-000000000000';

interface Delivery {
  readonly mode: 'sync' | 'async';
  readonly endpoint: string;
  readonly step: string;
  readonly message: string;
  readonly table: string;
  /** Undefined when the endpoint is not a webhook: stored, validated, not delivered. */
  readonly request?: { readonly url: string; readonly headers: Record<string, string>; readonly body: string };
  readonly problem?: string;
}

type Outcome =
  | { readonly ok: true; readonly status: number }
  | { readonly ok: false; readonly status?: number; readonly reason: string; readonly timedOut?: true };

const CONTRACT_WEBHOOK = 8;
const SERVICE_BUS_CONTRACTS = new Set([2, 5, 6, 7]);
const CONTRACT_EVENT_GRID = 9;
const AUTH = { sasKey: 2, sasToken: 3, webhookKey: 4, httpHeader: 5, httpQueryString: 6, accessKey: 8 } as const;
const CUSTOM_STAGES = new Set([10, 20, 40, 50]);
const MAX_BODY_BYTES = 256 * 1024;
const RETRY_STATUSES = new Set([502, 503, 504]);
const DEFAULT_TIMEOUT_MS = 60_000;
const LOG_SIZE = 200;
/** Registration tables take no steps; Dataverse refuses them too. */
const REGISTRATION_TABLES = new Set([
  'serviceendpoint',
  'sdkmessage',
  'sdkmessagefilter',
  'sdkmessageprocessingstep',
  'sdkmessageprocessingstepimage',
]);
/** Stored for ETags and change tracking, not an attribute Dataverse puts in a context. */
const HIDDEN_COLUMNS = new Set(['versionnumber']);
/** Pre- and post-images: non-null readable columns, with the row version. */
const IMAGE = { keepNulls: false, rowVersion: true, readable: true } as const;

function invalidEndpoint(message: string): DataverseHttpError {
  return guessed(400, 'serviceEndpointInvalid', message);
}

function text(row: Row, column: string): string | undefined {
  const value = row[column];
  return typeof value === 'string' && value.trim() !== '' ? value : undefined;
}

function integer(row: Row, column: string): number | undefined {
  const value = row[column];
  return typeof value === 'number' ? value : undefined;
}

function columnList(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((item) => item.trim().toLowerCase())
    .filter((item) => item !== '');
}

function xmlUnescape(value: string): string {
  return value.replace(/&(#x[0-9a-f]+|#\d+|amp|lt|gt|quot|apos);/gi, (_, entity: string) => {
    const lower = entity.toLowerCase();
    if (lower.startsWith('#x')) return String.fromCodePoint(parseInt(lower.slice(2), 16));
    if (lower.startsWith('#')) return String.fromCodePoint(Number(lower.slice(1)));
    return { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" }[lower] ?? '';
  });
}

/** HttpHeader and HttpQueryString keep their pairs as `<settings><setting name="…" value="…" /></settings>`. */
export function parseAuthSettings(value: string): [string, string][] | undefined {
  if (!/^\s*<settings>[\s\S]*<\/settings>\s*$/.test(value)) return undefined;
  const pairs: [string, string][] = [];
  for (const match of value.matchAll(/<setting\s+name="([^"]*)"\s+value="([^"]*)"\s*\/>/g)) {
    pairs.push([xmlUnescape(match[1] ?? ''), xmlUnescape(match[2] ?? '')]);
  }
  return pairs.length > 0 && pairs.every(([name]) => /^[A-Za-z0-9_.-]+$/.test(name)) ? pairs : undefined;
}

function checkUrl(row: Row, what: string): URL {
  const url = text(row, 'url');
  if (url === undefined) throw invalidEndpoint(`A ${what} service endpoint needs a url.`);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw invalidEndpoint(`The url of the ${what} service endpoint is not an absolute URL.`);
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
    throw invalidEndpoint(`The url of the ${what} service endpoint must use https.`);
  }
  return parsed;
}

/** What Dataverse checks when an endpoint is registered, so a bad one fails then and not at delivery. */
function validateEndpoint(row: Row): void {
  const contract = integer(row, 'contract');
  const authtype = integer(row, 'authtype');
  const authvalue = text(row, 'authvalue');
  if (contract === CONTRACT_WEBHOOK) {
    checkUrl(row, 'webhook');
    if (authtype !== AUTH.webhookKey && authtype !== AUTH.httpHeader && authtype !== AUTH.httpQueryString) {
      throw invalidEndpoint('A webhook authenticates with WebhookKey (4), HttpHeader (5) or HttpQueryString (6).');
    }
    if (authvalue === undefined) throw invalidEndpoint('A webhook needs an authvalue.');
    if (authtype !== AUTH.webhookKey && parseAuthSettings(authvalue) === undefined) {
      throw invalidEndpoint(
        'The authvalue of an HttpHeader or HttpQueryString webhook must be <settings><setting name="…" value="…" /></settings>.',
      );
    }
  } else if (contract !== undefined && SERVICE_BUS_CONTRACTS.has(contract)) {
    if (text(row, 'solutionnamespace') === undefined && text(row, 'namespaceaddress') === undefined) {
      throw invalidEndpoint('A Service Bus or Event Hub endpoint needs a solutionnamespace or namespaceaddress.');
    }
    if (text(row, 'path') === undefined) throw invalidEndpoint('A Service Bus or Event Hub endpoint needs a path.');
    if (authtype === AUTH.sasKey) {
      if (text(row, 'saskeyname') === undefined || text(row, 'saskey') === undefined)
        throw invalidEndpoint('SAS key authentication needs saskeyname and saskey.');
    } else if (authtype === AUTH.sasToken) {
      if (text(row, 'sastoken') === undefined) throw invalidEndpoint('SAS token authentication needs a sastoken.');
    } else {
      throw invalidEndpoint('A Service Bus or Event Hub endpoint authenticates with SASKey (2) or SASToken (3).');
    }
  } else if (contract === CONTRACT_EVENT_GRID) {
    checkUrl(row, 'Event Grid');
    if (authvalue === undefined) throw invalidEndpoint('An Event Grid endpoint needs its access key as authvalue.');
  }
}

function validateStep(row: Row): void {
  const stage = integer(row, 'stage');
  if (stage === undefined || !CUSTOM_STAGES.has(stage)) {
    throw guessed(
      400,
      'stepStage',
      'Only steps in the pre-validation (10), pre-operation (20) and post-operation (40) stages can be registered.',
    );
  }
  if (integer(row, 'mode') === 1 && stage !== 40 && stage !== 50) {
    throw guessed(400, 'stepStage', 'Asynchronous steps can only be registered in the post-operation stage.');
  }
}

function contextValue(column: Column, row: Row): ContextValue {
  const value = row[column.name] ?? null;
  if (value === null) return null;
  switch (column.type) {
    case 'string':
    case 'memo':
    case 'uniqueidentifier':
    case 'binary':
      // A byte[] travels as its base64 text in the context's JSON.
      return String(value);
    case 'integer':
    case 'bigint':
    case 'decimal':
    case 'float':
      // The execution context's JSON carries numbers as doubles.
      return storedNumber(value);
    case 'currency':
      return { kind: 'money', value: storedNumber(value) };
    case 'boolean':
      return value === 1;
    case 'choice':
    case 'state':
    case 'status':
      return { kind: 'optionSet', value: Number(value) };
    case 'choices':
      return {
        kind: 'list',
        items: String(value)
          .split(',')
          .map((option) => ({ kind: 'optionSet', value: Number(option) })),
      };
    case 'datetime':
      return { kind: 'dateTime', epochMs: Date.parse(String(value)) };
    case 'dateonly':
      return { kind: 'dateTime', epochMs: Date.parse(`${String(value)}T00:00:00Z`) };
    case 'managedproperty':
      // The SDK's BooleanManagedProperty data contract, with the members the Web API answers.
      return {
        kind: 'opaque',
        json: {
          __type: 'BooleanManagedProperty:http://schemas.microsoft.com/xrm/2011/Contracts',
          ...(managedPropertyJson(column, value) as Record<string, boolean | string>),
        },
      };
    case 'lookup':
    case 'customer':
    case 'owner': {
      const type = row[`${column.name}__type`];
      return {
        kind: 'entityReference',
        id: String(value),
        logicalName: typeof type === 'string' ? type : (column.targets?.[0]?.table ?? ''),
        name: null,
        keyAttributes: [],
        rowVersion: null,
      };
    }
  }
}

/**
 * An entity of the context. `readable` (entity images, read back from the row as Dataverse retrieves them)
 * leaves out write-only columns; a Target is the request itself and carries what the caller wrote.
 */
function entity(
  table: Table,
  row: Row,
  columns: readonly string[],
  options: { readonly keepNulls: boolean; readonly rowVersion: boolean; readonly readable: boolean },
): Entity {
  const { keepNulls, rowVersion, readable } = options;
  const attributes: KeyValue<ContextValue>[] = [];
  const seen = new Set<string>();
  for (const name of columns) {
    const column = table.columns.get(name);
    if (column === undefined || seen.has(name) || HIDDEN_COLUMNS.has(name)) continue;
    if (readable && !column.validForRead) continue;
    seen.add(name);
    const value = contextValue(column, row);
    if (value !== null || keepNulls) attributes.push({ key: name, value });
  }
  const version = row.versionnumber;
  return {
    kind: 'entity',
    logicalName: table.logicalName,
    id: String(row[table.primaryIdAttribute]),
    attributes,
    entityState: null,
    formattedValues: [],
    keyAttributes: [],
    relatedEntities: [],
    rowVersion: rowVersion && version !== null && version !== undefined ? String(version) : null,
  };
}

/** The columns a record event wrote: an Update's Target, or a Create's non-null columns. */
function writtenBy(event: WriteEvent): readonly string[] {
  if (event.written !== undefined) return event.written;
  const row = event.after ?? {};
  return [...event.table.columns.keys()].filter((name) => row[name] !== null && row[name] !== undefined);
}

/** A record's Target as its single message has it: the entity written, or a Delete's reference. */
function target(event: WriteEvent): ContextValue {
  if (event.message !== 'Delete') return writtenEntity(event);
  return {
    kind: 'entityReference',
    id: event.id,
    logicalName: event.table.logicalName,
    name: null,
    keyAttributes: [],
    rowVersion: null,
  };
}

/** A Create's or Update's Target: the columns written (an Update's with the modification columns). */
function writtenEntity(event: WriteEvent): Entity {
  const { table } = event;
  const columns =
    event.message === 'Update'
      ? [...writtenBy(event), table.primaryIdAttribute, 'modifiedon', 'modifiedby', 'modifiedonbehalfby']
      : writtenBy(event);
  return entity(table, event.after ?? event.before ?? {}, columns, {
    keepNulls: true,
    rowVersion: false,
    readable: false,
  });
}

/** A promise chain that lets one holder at a time through, in arrival order. */
class Lock {
  private tail: Promise<void> = Promise.resolve();
  private queued = 0;

  /** How many are waiting for their turn (the holder not counted). */
  get waiting(): number {
    return this.queued;
  }

  async acquire(): Promise<() => void> {
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => (release = resolve));
    const previous = this.tail;
    this.tail = previous.then(() => held);
    this.queued++;
    try {
      await previous;
    } finally {
      this.queued--;
    }
    return release;
  }
}

export class WebhookDelivery implements WriteObserver, TransactionJournal {
  private readonly lock = new Lock();
  private events: Event[] | undefined;
  /** How many bulk messages are running (records written meanwhile belong to one). */
  private multipleDepth = 0;
  /** The bypass of the operation running now (one request, or one `$batch` part). */
  private bypass: Bypass | undefined;
  /** Event counts at each open transaction or savepoint: a rollback forgets what was noted inside it. */
  private readonly marks: number[] = [];
  private readonly pending = new Set<Promise<void>>();
  private readonly closing = new AbortController();
  private readonly recent: WebhookEvent[] = [];
  private readonly timeoutMs: number;
  private readonly tables: { step: Table; message: Table; filter: Table; endpoint: Table; image: Table } | undefined;

  constructor(private readonly options: WebhookDeliveryOptions) {
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const get = (name: string): Table | undefined => options.schema.tables.get(name);
    const step = get('sdkmessageprocessingstep');
    const message = get('sdkmessage');
    const filter = get('sdkmessagefilter');
    const endpoint = get('serviceendpoint');
    const image = get('sdkmessageprocessingstepimage');
    // A user schema without the registration tables simply has no webhooks.
    this.tables =
      step && message && filter && endpoint && image ? { step, message, filter, endpoint, image } : undefined;
  }

  /** The last deliveries and failures, newest last. */
  log(): readonly WebhookEvent[] {
    return [...this.recent];
  }

  /** Resolves once every delivery started so far has finished (tests wait on it for asynchronous ones). */
  async idle(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  /** Abandons deliveries in flight; the server is going away. */
  async close(): Promise<void> {
    this.closing.abort();
    await this.idle();
  }

  /** Runs one operation; the writes it makes skip the steps `bypass` names (see bypass.ts). */
  withBypass<T>(bypass: Bypass | undefined, work: () => T): T {
    const outer = this.bypass;
    this.bypass = bypass;
    try {
      return work();
    } finally {
      this.bypass = outer;
    }
  }

  // ---- TransactionJournal ----

  begin(): void {
    this.marks.push(this.events?.length ?? 0);
  }

  commit(): void {
    this.marks.pop();
  }

  rollback(): void {
    const mark = this.marks.pop();
    if (this.events !== undefined && mark !== undefined) this.events.length = mark;
  }

  // ---- WriteObserver ----

  prepare(table: Table, row: Row, existing: Row | null): void {
    if (table.logicalName === 'serviceendpoint') {
      // The secrets are write-only columns; records.ts keeps their `is…set` indicators.
      validateEndpoint(row);
    } else if (table.logicalName === 'sdkmessageprocessingstep') {
      const moved = existing === null || existing.stage !== row.stage || existing.mode !== row.mode;
      if (moved) validateStep(row);
    }
  }

  created(table: Table, row: Row): void {
    if (this.events === undefined || REGISTRATION_TABLES.has(table.logicalName)) return;
    this.events.push({
      message: 'Create',
      table,
      id: String(row[table.primaryIdAttribute]),
      before: null,
      after: row,
      written: undefined,
      bypass: this.bypass,
      inMultiple: this.multipleDepth > 0,
    });
  }

  updated(table: Table, before: Row, after: Row, written: readonly string[]): void {
    if (this.events === undefined || REGISTRATION_TABLES.has(table.logicalName)) return;
    this.events.push({
      message: 'Update',
      table,
      id: String(after[table.primaryIdAttribute]),
      before,
      after,
      written,
      bypass: this.bypass,
      inMultiple: this.multipleDepth > 0,
    });
  }

  deleting(table: Table, row: Row): void {
    const id = String(row[table.primaryIdAttribute]);
    const tables = this.tables;
    // Dataverse deletes an endpoint's steps and a step's images with it (cascade, not "remove link").
    if (tables !== undefined && table.logicalName === 'serviceendpoint') {
      const steps = this.options.store.all(
        `SELECT "sdkmessageprocessingstepid" FROM ${sqlTable(tables.step)} WHERE "eventhandler" = ?`,
        [id],
      );
      for (const step of steps) {
        const stepId = String(step.sdkmessageprocessingstepid);
        this.deleteImagesOf(stepId);
        this.options.store.delete(tables.step, stepId);
      }
    } else if (tables !== undefined && table.logicalName === 'sdkmessageprocessingstep') {
      this.deleteImagesOf(id);
    }
    if (this.events === undefined || REGISTRATION_TABLES.has(table.logicalName)) return;
    this.events.push({
      message: 'Delete',
      table,
      id,
      before: row,
      after: null,
      written: [],
      bypass: this.bypass,
      inMultiple: this.multipleDepth > 0,
    });
  }

  multiple(message: MultipleWriteMessage, table: Table, work: () => readonly string[]): void {
    const mark = this.events?.length ?? 0;
    this.multipleDepth++;
    let ids: readonly string[];
    try {
      ids = work();
    } finally {
      this.multipleDepth--;
    }
    const events = this.events;
    if (events === undefined || REGISTRATION_TABLES.has(table.logicalName)) return;
    // Each target's record is the last Create or Update of its id on this table (a deep insert writes others).
    const byId = new Map<string, WriteEvent>();
    for (const event of events.slice(mark)) {
      if (event.table === table && (event.message === 'Create' || event.message === 'Update'))
        byId.set(event.id, event);
    }
    const records = ids.map((id) => byId.get(id)).filter((event) => event !== undefined);
    events.push({ message, table, records, bypass: this.bypass });
  }

  private deleteImagesOf(stepId: string): void {
    const tables = this.tables;
    if (tables === undefined) return;
    const images = this.options.store.all(
      `SELECT "sdkmessageprocessingstepimageid" FROM ${sqlTable(tables.image)} WHERE "sdkmessageprocessingstepid" = ?`,
      [stepId],
    );
    for (const image of images) this.options.store.delete(tables.image, String(image.sdkmessageprocessingstepimageid));
  }

  // ---- running requests ----

  /**
   * Runs one request. A read runs at once: no transaction is ever open across an `await`, so it sees the last
   * committed state, even while a synchronous delivery is pending. Writes take turns: the turn is held across
   * a synchronous delivery, whose writes are set aside meanwhile (see the top of this file).
   */
  async run(write: boolean, work: () => Reply, errorReply: (error: DataverseHttpError) => Reply): Promise<Reply> {
    if (!write) return work();
    const release = await this.lock.acquire();
    try {
      const tables = this.tables;
      if (tables === undefined) return work();
      const store = this.options.store;
      // Noting the writes costs a little per statement, so only when a synchronous step may fire.
      const noteWrites = this.syncStepsExist(tables.step);
      let { reply, deliveries } = this.attempt(work, noteWrites);
      if (!noteWrites && deliveries.some((d) => d.mode === 'sync')) {
        // The request registered or enabled a synchronous step that fires on its own writes. Nothing of this
        // run has left the process: it runs again from the same state, noting its writes this time.
        store.rollback();
        ({ reply, deliveries } = this.attempt(work, true));
      }
      const sync = deliveries.filter((d) => d.mode === 'sync');
      if (sync.length === 0) store.commit();
      else {
        let aside: SetAsideWrites;
        try {
          aside = store.setAside();
        } catch (error) {
          store.rollback();
          throw error;
        }
        const failure = await this.deliverSync(sync, aside);
        if (failure !== undefined) return errorReply(failure);
      }
      for (const delivery of deliveries.filter((d) => d.mode === 'async')) void this.track(this.deliver(delivery));
      return reply;
    } finally {
      release();
    }
  }

  /** Runs the request's work in an outer transaction, left open, and matches the steps its writes fire. */
  private attempt(work: () => Reply, noteWrites: boolean): { reply: Reply; deliveries: Delivery[] } {
    const store = this.options.store;
    this.events = [];
    store.begin(noteWrites);
    let reply: Reply;
    let events: Event[];
    try {
      reply = work();
      events = this.events;
    } catch (error) {
      store.rollback();
      throw error;
    } finally {
      this.events = undefined;
    }
    try {
      return { reply, deliveries: this.match(events) };
    } catch (error) {
      store.rollback();
      throw error;
    }
  }

  /** An enabled step that `match` would deliver synchronously may exist (a superset: `match` decides). */
  /**
   * Whether any step may fire. Asked before the query joining messages and filters: a write on an emulator without
   * steps then leaves their storage (thousands of seeded filters, seed.ts) uncreated.
   */
  private activeStepsExist(step: Table): boolean {
    const sql = `SELECT 1 AS "found" FROM ${sqlTable(step)} WHERE "statecode" = 0 AND "eventhandler__type" = 'serviceendpoint' LIMIT 1`;
    return this.options.store.all(sql, []).length > 0;
  }

  private syncStepsExist(step: Table): boolean {
    const sql = `SELECT 1 AS "found" FROM ${sqlTable(step)} WHERE "statecode" = 0 AND COALESCE("mode", 0) <> 1 AND "eventhandler__type" = 'serviceendpoint' LIMIT 1`;
    return this.options.store.all(sql, []).length > 0;
  }

  /**
   * Posts the synchronous deliveries in order while the request's writes are set aside, then applies them
   * (all answered 2xx) or gives them up. Answers the error the request gets, if any.
   */
  private async deliverSync(
    deliveries: readonly Delivery[],
    aside: SetAsideWrites,
  ): Promise<DataverseHttpError | undefined> {
    const store = this.options.store;
    for (const delivery of deliveries) {
      let outcome: Outcome;
      try {
        outcome = await this.track(this.deliver(delivery));
      } catch (error) {
        store.discard();
        throw error;
      }
      if (!outcome.ok) {
        store.discard();
        return this.failure(delivery, outcome);
      }
    }
    try {
      store.reapply(aside);
    } catch (error) {
      if (!(error instanceof ReapplyError)) throw error;
      return new DataverseHttpError(
        500,
        '0x80040216',
        `The request was rolled back after its synchronous steps answered: ${error.message}.`,
      );
    }
    return undefined;
  }

  private failure(delivery: Delivery, outcome: Extract<Outcome, { ok: false }>): DataverseHttpError {
    let message = `The synchronous step '${delivery.step}' could not post the execution context to the service endpoint '${delivery.endpoint}': ${outcome.reason}.`;
    const waiting = this.lock.waiting;
    if (outcome.timedOut === true && waiting > 0) {
      // The likely cause: the endpoint wrote back to the emulator before answering, and that write waits for this one.
      message +=
        ` Meanwhile ${waiting === 1 ? '1 other write request' : `${waiting} other write requests`} waited for this one:` +
        ' the emulator applies one write at a time, so an endpoint that writes to the emulator before answering' +
        ' cannot answer in time (reads are answered meanwhile).';
    }
    return guessed(400, 'webhookFailed', message);
  }

  /** Every delivery in flight is known, so `idle` and `close` can wait for it. */
  private track<T>(work: Promise<T>): Promise<T> {
    const settled = work.then(
      () => undefined,
      () => undefined,
    );
    this.pending.add(settled);
    void settled.finally(() => this.pending.delete(settled));
    return work;
  }

  private report(event: WebhookEvent): void {
    this.recent.push(event);
    if (this.recent.length > LOG_SIZE) this.recent.shift();
    try {
      this.options.onEvent?.(event);
    } catch {
      // A listener's bug must not fail the write or the delivery.
    }
  }

  /** The deliveries the noted writes trigger, in stage and rank order, with their bodies built now. */
  private match(events: readonly Event[]): Delivery[] {
    const tables = this.tables;
    if (tables === undefined || events.length === 0 || !this.activeStepsExist(tables.step)) return [];
    const store = this.options.store;
    const sql =
      `SELECT s.* FROM ${sqlTable(tables.step)} s JOIN ${sqlTable(tables.message)} m ON m."sdkmessageid" = s."sdkmessageid"` +
      ` LEFT JOIN ${sqlTable(tables.filter)} f ON f."sdkmessagefilterid" = s."sdkmessagefilterid"` +
      ` WHERE s."statecode" = 0 AND m."name" = ? AND (s."sdkmessagefilterid" IS NULL OR f."primaryobjecttypecode" = ?)` +
      ` AND s."eventhandler__type" = 'serviceendpoint' ORDER BY s."stage", s."rank", s."sdkmessageprocessingstepid"`;
    // Looked up once per message and table in a request: a bulk request notes thousands of writes.
    const found = new Map<string, Row[]>();
    const stepsOf = (message: string, table: Table): Row[] => {
      const key = `${message} ${table.logicalName}`;
      let steps = found.get(key);
      if (steps === undefined) {
        steps = store.all(sql, [message, table.logicalName]);
        found.set(key, steps);
      }
      return steps;
    };
    const correlationId = randomUUID();
    const deliveries: Delivery[] = [];
    const deliver = (event: Event, step: Row): void => {
      const mode = step.mode === 1 ? 'async' : 'sync';
      if (bypasses(event.bypass, String(step.sdkmessageprocessingstepid), mode)) return;
      const filtering = columnList(text(step, 'filteringattributes'));
      if (filtering.length > 0 && !this.writesAny(event, filtering)) return;
      const endpoint = store.get(tables.endpoint, String(step.eventhandler));
      if (endpoint !== null) deliveries.push(this.delivery(event, step, endpoint, correlationId));
    };
    for (const event of events) {
      for (const step of stepsOf(event.message, event.table)) deliver(event, step);
      if ('records' in event) continue;
      const multiple = MULTIPLE_OF[event.message];
      if (multiple === undefined || event.inMultiple) continue;
      const single: MultipleEvent = { message: multiple, table: event.table, records: [event], bypass: event.bypass };
      for (const step of stepsOf(multiple, event.table)) deliver(single, step);
    }
    return deliveries;
  }

  /** Whether an update wrote one of a step's filtering attributes (only Update and UpdateMultiple honour them). */
  private writesAny(event: Event, filtering: readonly string[]): boolean {
    if (event.message !== 'Update' && event.message !== 'UpdateMultiple') return true;
    const records = 'records' in event ? event.records : [event];
    return records.some((record) => filtering.some((c) => writtenBy(record).includes(c)));
  }

  private delivery(event: Event, step: Row, endpoint: Row, correlationId: string): Delivery {
    const mode = step.mode === 1 ? 'async' : 'sync';
    const base = {
      mode,
      endpoint: text(endpoint, 'name') ?? String(endpoint.serviceendpointid),
      step: text(step, 'name') ?? String(step.sdkmessageprocessingstepid),
      message: event.message,
      table: event.table.logicalName,
    } as const;
    if (endpoint.contract !== CONTRACT_WEBHOOK) return base;
    const body = this.body(event, step, mode, correlationId);
    let url: URL;
    try {
      url = new URL(String(endpoint.url));
    } catch {
      return { ...base, problem: 'the endpoint URL is not valid' };
    }
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'x-ms-dynamics-organization': new URL(this.options.baseUrl()).host,
      'x-ms-dynamics-entity-name': event.table.logicalName,
      'x-ms-dynamics-request-name': event.message,
      'x-ms-correlation-request-id': correlationId,
      'x-request-id': randomUUID(),
    };
    if (body.trimmed) headers['x-ms-dynamics-msg-size-exceeded'] = 'true';
    const authvalue = text(endpoint, 'authvalue') ?? '';
    if (endpoint.authtype === AUTH.webhookKey) url.searchParams.set('code', authvalue);
    else {
      const settings = parseAuthSettings(authvalue) ?? [];
      for (const [name, value] of settings) {
        if (endpoint.authtype === AUTH.httpHeader) headers[name.toLowerCase()] = value;
        else url.searchParams.append(name, value);
      }
    }
    return { ...base, request: { url: url.toString(), headers, body: body.text } };
  }

  /**
   * The context's InputParameters and OutputParameters. A bulk message has `Targets`, an EntityCollection of the
   * records as each would be the Target of its single message, and CreateMultiple answers `Ids` (Microsoft Learn,
   * "Write plug-ins for CreateMultiple and UpdateMultiple"; CreateMultipleResponse).
   */
  private parameters(
    event: Event,
    stage: number,
  ): { inputs: KeyValue<ContextValue>[]; outputs: KeyValue<ContextValue>[]; primaryEntityId: string } {
    if (!('records' in event)) {
      const outputs: KeyValue<ContextValue>[] =
        event.message === 'Create' && stage === 40 ? [{ key: 'id', value: event.id }] : [];
      return { inputs: [{ key: 'Target', value: target(event) }], outputs, primaryEntityId: event.id };
    }
    const entities = event.records.map(writtenEntity);
    const targets: ContextValue = {
      kind: 'entityCollection',
      entities,
      entityName: event.table.logicalName,
      minActiveRowVersion: null,
      moreRecords: false,
      pagingCookie: null,
      totalRecordCount: -1,
      totalRecordCountLimitExceeded: false,
    };
    const outputs: KeyValue<ContextValue>[] =
      event.message === 'CreateMultiple' && stage === 40
        ? [{ key: 'Ids', value: { kind: 'list', items: event.records.map((record) => record.id) } }]
        : [];
    return { inputs: [{ key: 'Targets', value: targets }], outputs, primaryEntityId: NO_RECORD };
  }

  private body(
    event: Event,
    step: Row,
    mode: 'sync' | 'async',
    correlationId: string,
  ): { text: string; trimmed: boolean } {
    const tables = this.tables;
    const { table } = event;
    const stage = integer(step, 'stage') ?? 40;
    const stepId = String(step.sdkmessageprocessingstepid);
    const images =
      tables === undefined
        ? []
        : this.options.store.all(
            `SELECT * FROM ${sqlTable(tables.image)} WHERE "sdkmessageprocessingstepid" = ? ORDER BY "name"`,
            [stepId],
          );
    /** The step's images of one record, by alias: pre from the row before the write, post (post-operation only) after it. */
    const imagesOf = (before: Row | null, after: Row | null): { pre: KeyValue<Entity>[]; post: KeyValue<Entity>[] } => {
      const pre: KeyValue<Entity>[] = [];
      const post: KeyValue<Entity>[] = [];
      for (const image of images) {
        const alias = text(image, 'entityalias') ?? text(image, 'name') ?? 'Image';
        const listed = columnList(text(image, 'attributes'));
        const columns = listed.length > 0 ? [table.primaryIdAttribute, ...listed] : [...table.columns.keys()];
        const type = integer(image, 'imagetype') ?? 0;
        if ((type === 0 || type === 2) && before !== null)
          pre.push({ key: alias, value: entity(table, before, columns, IMAGE) });
        if ((type === 1 || type === 2) && after !== null && stage === 40)
          post.push({ key: alias, value: entity(table, after, columns, IMAGE) });
      }
      return { pre, post };
    };
    // A single message's images are its record's. A bulk message's are per record of Targets, in its order, in
    // PreEntityImagesCollection and PostEntityImagesCollection (IPluginExecutionContext4; Microsoft Learn, "Write
    // plug-ins for CreateMultiple and UpdateMultiple"); its PreEntityImages and PostEntityImages stay empty.
    const single = 'records' in event ? undefined : event;
    const before = single?.before ?? null;
    const after = single?.after ?? null;
    const { pre, post } = imagesOf(before, after);
    const perRecord =
      'records' in event && images.length > 0
        ? event.records.map((record) => imagesOf(record.before, record.after))
        : undefined;
    if (mode === 'async' && after !== null && table.primaryNameAttribute !== undefined) {
      // Dataverse adds this image to every asynchronous step (reference §13.5).
      post.push({
        key: 'AsynchronousStepPrimaryName',
        value: entity(table, after, [table.primaryNameAttribute, table.primaryIdAttribute], {
          keepNulls: false,
          rowVersion: false,
          readable: true,
        }),
      });
    }
    const { caller, organization } = this.options;
    const operationId = randomUUID();
    const { inputs, outputs, primaryEntityId } = this.parameters(event, stage);
    const common = {
      businessUnitId: caller.businessUnitId,
      correlationId,
      depth: 1,
      initiatingUserId: caller.userId,
      inputParameters: inputs,
      isExecutingOffline: false,
      isOfflinePlayback: false,
      isolationMode: 1,
      messageName: event.message,
      operationCreatedOn: { kind: 'dateTime', epochMs: Date.now() },
      operationId,
      organizationId: organization.organizationId,
      organizationName: `unq${organization.organizationId.replace(/-/g, '')}`.slice(0, 32),
      primaryEntityId,
      primaryEntityName: table.logicalName,
      requestId: operationId,
      secondaryEntityName: 'none',
      userId: caller.userId,
    } as const;
    const context: RemoteExecutionContext = {
      ...common,
      isInTransaction: mode === 'sync' && stage !== 10,
      mode: mode === 'async' ? 1 : 0,
      outputParameters: outputs,
      owningExtension: {
        kind: 'entityReference',
        id: stepId,
        logicalName: 'sdkmessageprocessingstep',
        name: text(step, 'name') ?? null,
        keyAttributes: [],
        rowVersion: null,
      },
      parentContext: {
        ...common,
        isInTransaction: true,
        mode: 0,
        outputParameters: outputs,
        owningExtension: null,
        parentContext: null,
        postEntityImages: [],
        preEntityImages: [],
        sharedVariables: [],
        stage: 30,
      },
      postEntityImages: post,
      preEntityImages: pre,
      ...(perRecord === undefined
        ? {}
        : {
            postEntityImagesCollection: perRecord.map((record) => record.post),
            preEntityImagesCollection: perRecord.map((record) => record.pre),
          }),
      sharedVariables: [],
      stage,
    };
    const full = encodeRemoteExecutionContext(context);
    if (Buffer.byteLength(full, 'utf8') <= MAX_BODY_BYTES) return { text: full, trimmed: false };
    const trimmed: RemoteExecutionContext = {
      ...context,
      parentContext: undefined,
      inputParameters: undefined,
      preEntityImages: undefined,
      postEntityImages: undefined,
      preEntityImagesCollection: undefined,
      postEntityImagesCollection: undefined,
    };
    return { text: encodeRemoteExecutionContext(trimmed), trimmed: true };
  }

  /** POSTs once, and once more on 502/503/504; never throws. */
  private async deliver(delivery: Delivery): Promise<Outcome> {
    const { mode, endpoint, step, message, table } = delivery;
    const about = { endpoint, step, message, table, mode } as const;
    if (delivery.request === undefined) {
      if (delivery.problem !== undefined) {
        this.report({ ...about, outcome: 'failed', reason: delivery.problem });
        return { ok: false, reason: delivery.problem };
      }
      this.report({ ...about, outcome: 'notDelivered', reason: 'not delivered by the emulator (not a webhook)' });
      return { ok: true, status: 0 };
    }
    let outcome = await this.post(delivery.request);
    if (!outcome.ok && outcome.status !== undefined && RETRY_STATUSES.has(outcome.status)) {
      this.report({ ...about, outcome: 'retrying', status: outcome.status, reason: outcome.reason });
      outcome = await this.post(delivery.request);
    }
    if (outcome.ok) this.report({ ...about, outcome: 'delivered', status: outcome.status });
    else
      this.report({
        ...about,
        outcome: 'failed',
        reason: outcome.reason,
        ...(outcome.status === undefined ? {} : { status: outcome.status }),
      });
    return outcome;
  }

  private async post(request: NonNullable<Delivery['request']>): Promise<Outcome> {
    if (this.closing.signal.aborted) return { ok: false, reason: 'the emulator is stopping' };
    const signal = AbortSignal.any([AbortSignal.timeout(this.timeoutMs), this.closing.signal]);
    try {
      const response = await fetch(request.url, {
        method: 'POST',
        headers: request.headers,
        body: request.body,
        redirect: 'manual',
        signal,
      });
      // The answer's body means nothing to Dataverse; reading it frees the connection.
      await response.arrayBuffer().catch(() => undefined);
      if (response.status >= 200 && response.status < 300) return { ok: true, status: response.status };
      return { ok: false, status: response.status, reason: `the endpoint answered HTTP ${response.status}` };
    } catch (error) {
      if (this.closing.signal.aborted) return { ok: false, reason: 'the emulator is stopping' };
      if (signal.aborted)
        return { ok: false, reason: `the endpoint did not answer within ${this.timeoutMs / 1000} s`, timedOut: true };
      const cause = error instanceof Error && error.cause instanceof Error ? error.cause : undefined;
      const code = cause !== undefined && 'code' in cause && typeof cause.code === 'string' ? ` (${cause.code})` : '';
      return { ok: false, reason: `the endpoint could not be reached${code}` };
    }
  }
}

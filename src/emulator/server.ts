import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ODataUrl } from '../odata/url';
import { parseODataUrl } from '../odata/url';
import type { Prefer } from './annotations';
import { parsePrefer, preferenceApplied } from './annotations';
import type { Access } from './access';
import { DEFAULT_TOKEN_LIFETIME_MS, startAccess } from './access';
import { runApply } from './apply';
import type { BatchEnvironment, ParsedBatch } from './batch';
import { parseBatch, runBatch } from './batch';
import { parseBypass } from './bypass';
import { ChangeTracking, wantsChanges } from './changeTracking';
import { generateCsdl, propertyName } from './csdl';
import type { CollectionRequest, Position, Source } from './engine';
import { contextSelection, Engine } from './engine';
import { EntityDefinitions } from './entityDefinitions';
import type { GuessedCode } from './errors';
import {
  badRequest,
  DataverseHttpError,
  errorBody,
  ErrorCodes,
  guessed,
  methodNotAllowed,
  notFoundSegment,
  notValidForRead,
  recordNotFound,
} from './errors';
import type { Faults } from './faults';
import { runFetchXml } from './fetchXml';
import type { Limits } from './protection';
import type { InProcessRequest, Reply } from './reply';
import type { QueryEnv } from './query';
import type { Caller, Organization, WriteContext, WriteObserver } from './records';
import {
  associate,
  createRecord,
  etag,
  isGuid,
  isRecord,
  parseReference,
  rowToJson,
  toStoredValue,
  updateRecord,
} from './records';
import type { Schema, Table } from './schema/schema';
import { builtinSchema, isLookupType } from './schema/schema';
import { bootstrap, seedAccounts, seedSample } from './seed';
import type { Row } from './store';
import { readBody } from './readBody';
import { Store } from './store';
import type { WebhookEvent } from './webhookDelivery';
import { WebhookDelivery } from './webhookDelivery';

export interface EmulatorOptions {
  /** Defaults to 127.0.0.1: the emulator is for this machine only unless asked otherwise. */
  readonly host?: string;
  /** 0 (the default) picks a free port. */
  readonly port?: number;
  /** SQLite file; in memory when absent. */
  readonly dataPath?: string;
  readonly seed?: 'sample' | 'none';
  readonly seedAccounts?: number;
  /** Accept requests without a bearer token. */
  readonly noAuth?: boolean;
  /** A schema other than the built-in one (see loadSchemaWithFile). */
  readonly schema?: Schema;
  /** Largest request body accepted, in bytes. */
  readonly maxBodyBytes?: number;
  /** The clock of relative-date query functions (`Today`, `LastXDays`, ...); tests pin it. */
  readonly now?: () => Date;
  /** Replaces error codes the emulator had to guess (see GUESSED_CODES in errors.ts), by name. */
  readonly errorCodes?: Partial<Record<GuessedCode, string>>;
  /** Lifetime of issued access tokens (default one hour, as Entra). */
  readonly tokenLifetimeMs?: number;
  /** Service protection limits (protection.ts); none by default. */
  readonly limits?: Limits;
  /** Injected faults (faults.ts); none by default, switchable at run time through `/_emulator/faults`. */
  readonly faults?: Faults;
  /** Replaces the seeded PRNG of fault injection. */
  readonly random?: () => number;
  /** Fixed identity-endpoint ids; random per start when absent. */
  readonly tenantId?: string;
  readonly clientId?: string;
  readonly clientSecret?: string;
  /**
   * PEM certificates (public part only) registered on the app: client assertions signed with their keys
   * are accepted as its credential, as for a service principal with a certificate in Entra.
   */
  readonly clientCertificates?: readonly string[];
  /** Each webhook delivery, retry, failure and non-delivery (Service Bus, Event Hub, Event Grid); never payloads or keys. */
  readonly onWebhook?: (event: WebhookEvent) => void;
  /** How long a webhook endpoint gets to answer, in milliseconds (default 60,000, as Dataverse). */
  readonly webhookTimeoutMs?: number;
}

export interface RunningEmulator {
  readonly url: string;
  readonly webApi: string;
  /** Bearer token (a JWT from the identity endpoint) of the built-in admin user, issued at start. */
  readonly token: string;
  readonly userId: string;
  readonly businessUnitId: string;
  readonly organizationId: string;
  /** MSAL `authority` of the local identity endpoint (`https://127.0.0.1:<port>/<tenantId>`). */
  readonly authority: string;
  readonly tenantId: string;
  /** The app registration whose client credentials the token endpoint accepts. */
  readonly clientId: string;
  readonly clientSecret: string;
  /** PEM of the identity endpoint's self-signed certificate, and a file holding it (removed on close). */
  readonly certificate: string;
  readonly certificatePath: string;
  /** A fresh admin token, `lifetimeMs` long (default: the configured token lifetime). */
  issueToken(lifetimeMs?: number): string;
  /** Faults and limits, changeable while running. */
  readonly access: Pick<Access, 'faults' | 'protection'>;
  /** Webhook delivery: the recent outcomes, and a promise for the asynchronous deliveries in flight. */
  readonly webhooks: { log(): readonly WebhookEvent[]; idle(): Promise<void> };
  close(): Promise<void>;
}

const API_PREFIX = /^\/api\/data\/v9\.[0-2](\/|$)/;
const BATCH_PATH = /^\/api\/data\/v9\.[0-2]\/\$batch$/;
const DEFAULT_MAX_BODY = 8 * 1024 * 1024;
const MAX_PAGE = 5000;
/** Standard OData options Dataverse refuses (reference §1.5). */
const REFUSED_OPTIONS = new Set(['$skip', '$search', '$format', '$compute', '$levels', '$index', '$schemaversion']);
/** Options each method accepts besides parameter aliases. */
const METHOD_OPTIONS: Record<string, ReadonlySet<string>> = {
  GET: new Set([
    '$select',
    '$filter',
    '$orderby',
    '$top',
    '$count',
    '$expand',
    '$apply',
    '$skiptoken',
    '$deltatoken',
    'fetchXml',
  ]),
  POST: new Set(['$select', '$expand']),
  PATCH: new Set(['$select', '$expand']),
  DELETE: new Set(['$id']),
};
const MAX_URL = 32 * 1024;
const SEGMENT = /^([A-Za-z_][A-Za-z0-9_.]*)(?:\(([^()]*)\))?$/;
const JSON_TYPE = 'application/json; odata.metadata=minimal';

function json(status: number, value: unknown, headers: Record<string, string> = {}): Reply {
  return { status, headers: { 'Content-Type': JSON_TYPE, ...headers }, body: JSON.stringify(value) };
}

/**
 * The Dataverse paging cookie, so that debugging tools that decode `$skiptoken` see the usual shape. The
 * emulator adds `offset` to the inner cookie: with `$orderby` it pages by position, not by key.
 */
function skipToken(table: Table, position: Position, first: string, last: string): string {
  const inner = `<cookie page="${position.page}" offset="${position.offset}"><${table.primaryIdAttribute} last="{${last.toUpperCase()}}" first="{${first.toUpperCase()}}" /></cookie>`;
  return `<cookie pagenumber="${position.page + 1}" pagingcookie="${lowerEscapes(encodeURIComponent(inner))}" istracking="False" />`;
}

/** Dataverse writes percent escapes in lower case inside paging cookies (`%3ccookie`). */
function lowerEscapes(text: string): string {
  return text.replace(/%[0-9A-F]{2}/g, (escape) => escape.toLowerCase());
}

function readSkipToken(token: string): Position {
  const page = /pagenumber="(\d{1,9})"/.exec(token);
  const cookie = /pagingcookie="([^"]*)"/.exec(token);
  let inner = '';
  try {
    inner = decodeURIComponent(cookie?.[1] ?? '');
  } catch {
    inner = '';
  }
  const last = /last="\{([0-9A-Fa-f-]{36})\}"/.exec(inner);
  const offset = /offset="(\d{1,9})"/.exec(inner);
  if (page?.[1] === undefined || last?.[1] === undefined) throw badRequest('The $skiptoken is not valid.');
  return { page: Math.max(0, Number(page[1]) - 1), after: last[1].toLowerCase(), offset: Number(offset?.[1] ?? 0) };
}

/** Dataverse accepts a trailing comma in `$select` (the Web API sample sends `$select=name,`). */
function tolerateTrailingSelectComma(rawUrl: string): string {
  return rawUrl.replace(/([?&]\$select=[^&]*?)(?:,|%2C)+(?=&|$)/gi, '$1');
}

/** One request as the handler sees it. */
interface Request {
  readonly method: string;
  readonly path: string;
  /** The request URL (path and query) after the trailing-comma fix, as parsed. */
  readonly rawUrl: string;
  readonly url: ODataUrl;
  readonly headers: IncomingMessage['headers'];
  readonly body: unknown;
}

type Key = string | { alternate: Record<string, string | number> };

class Handler {
  readonly ctx: WriteContext;
  private readonly metadataXml: string;
  private readonly entityDefinitions: EntityDefinitions;
  private readonly changes: ChangeTracking;

  constructor(
    readonly schema: Schema,
    readonly store: Store,
    readonly caller: Caller,
    readonly organization: Organization,
    readonly baseUrl: () => string,
    readonly now: () => Date,
    observer?: WriteObserver,
  ) {
    this.ctx = { schema, store, caller, organization, ...(observer === undefined ? {} : { observer }) };
    // A schema read from a `$metadata` document serves that document, with what the model does not hold.
    this.metadataXml = schema.csdl ?? generateCsdl(schema);
    this.entityDefinitions = new EntityDefinitions(schema);
    this.changes = new ChangeTracking(schema, store, now);
  }

  get webApi(): string {
    return `${this.baseUrl()}/api/data/v9.2/`;
  }

  private engine(url: ODataUrl, prefer: Prefer): Engine {
    const env: QueryEnv = {
      schema: this.schema,
      userId: this.caller.userId,
      businessUnitId: this.caller.businessUnitId,
      now: this.now,
      aliases: new Map(url.query.aliases.map((a) => [a.name, a.value] as const)),
    };
    return new Engine(env, this.store, this.webApi, prefer.annotations);
  }

  handle(request: Request): Reply {
    const { method, path, url, headers, body } = request;
    const rest = path.replace(API_PREFIX, '');
    const segments = rest === '' ? [] : rest.split('/').map((s) => decodeURIComponent(s));
    if (segments.length > 0 && segments[segments.length - 1] === '') segments.pop();
    const first = segments[0];
    if (first === undefined) {
      this.only(method, ['GET']);
      return json(200, {
        '@odata.context': `${this.webApi}$metadata`,
        value: [...this.schema.tables.values()].map((t) => ({
          name: t.entitySetName,
          kind: 'EntitySet',
          url: t.entitySetName,
        })),
      });
    }
    if (first === '$metadata' && segments.length === 1) {
      this.only(method, ['GET']);
      return { status: 200, headers: { 'Content-Type': 'application/xml' }, body: this.metadataXml };
    }
    if ((first === 'WhoAmI' || first === 'WhoAmI()') && segments.length === 1) {
      if (method !== 'GET') {
        // What Dataverse answers for a POST to a function.
        throw new DataverseHttpError(
          404,
          '',
          `No HTTP resource was found that matches the request URI '${this.webApi}WhoAmI'.`,
        );
      }
      return json(200, {
        '@odata.context': `${this.webApi}$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse`,
        BusinessUnitId: this.caller.businessUnitId,
        UserId: this.caller.userId,
        OrganizationId: this.organization.organizationId,
      });
    }
    const prefer = parsePrefer(headers.prefer);
    if (first.startsWith('EntityDefinitions')) {
      this.only(method, ['GET']);
      this.checkQuery(url, method);
      const answer = this.entityDefinitions.handle(segments, url, this.webApi);
      return json(200, answer, preferenceApplied(prefer, false));
    }
    const match = SEGMENT.exec(first);
    const table = match?.[1] === undefined ? undefined : this.schema.byEntitySet.get(match[1]);
    if (match === null || table === undefined) throw notFoundSegment(match?.[1] ?? first);
    this.checkQuery(url, method);
    const key = match[2];
    if (wantsChanges(method, headers, url)) {
      const tracked = this.changes.answer({
        table,
        key,
        rest: segments.slice(1),
        url,
        rawUrl: request.rawUrl,
        engine: this.engine(url, prefer),
        webApi: this.webApi,
        maxPageSize: prefer.maxPageSize,
        readAll: () => this.collection(request, table, prefer, { kind: 'set' }, table.entitySetName),
      });
      if (tracked !== undefined) return tracked;
    }
    if (key === undefined) {
      if (segments.length === 2 && segments[1] === '$count') {
        this.only(method, ['GET']);
        const count = this.engine(url, prefer).count(table, { kind: 'set' }, url.query.filter);
        return {
          status: 200,
          headers: { 'Content-Type': 'text/plain' },
          body: String(Math.min(count, MAX_PAGE)),
        };
      }
      if (segments.length > 1) throw notFoundSegment(segments[1] ?? '');
      if (method === 'GET') return this.collection(request, table, prefer, { kind: 'set' }, table.entitySetName);
      if (method === 'POST') return this.create(request, table, body, prefer);
      throw methodNotAllowed(method, ['GET', 'POST']);
    }
    const id = this.resolveKey(table, key);
    if (segments.length === 1) return this.entity(request, table, id, key, prefer);
    return this.member(request, table, id, segments.slice(1), prefer);
  }

  private only(method: string, allowed: string[]): void {
    if (!allowed.includes(method)) throw methodNotAllowed(method, allowed);
  }

  /** Rejects what Dataverse rejects before running anything: refused, unknown, misplaced or malformed options. */
  private checkQuery(url: ODataUrl, method: string): void {
    const allowed = METHOD_OPTIONS[method] ?? new Set<string>();
    for (const option of url.options) {
      const name = option.name;
      if (REFUSED_OPTIONS.has(name)) {
        throw guessed(400, 'unsupportedQueryOption', `The query parameter ${name} is not supported`);
      }
      if (option.kind === 'unknown') {
        throw guessed(400, 'unsupportedQueryOption', `The query parameter '${name}' is not supported.`);
      }
      if (option.duplicate) {
        throw guessed(
          400,
          'querySyntax',
          `Query option '${name}' was specified more than once, but it must be specified at most once.`,
        );
      }
      if (option.kind === 'alias' ? method !== 'GET' : !allowed.has(name)) {
        throw guessed(400, 'unsupportedQueryOption', `The query parameter '${name}' is not supported with ${method}.`);
      }
    }
    const queryStart = url.options[0]?.span.start ?? Number.POSITIVE_INFINITY;
    const error = url.diagnostics.find((d) => d.severity === 'error' && d.span.start >= queryStart);
    if (error === undefined) return;
    const fetchXml = url.options.find((o) => o.name === 'fetchXml');
    if (fetchXml !== undefined && error.span.start >= fetchXml.span.start && error.span.end <= fetchXml.span.end) {
      throw guessed(400, 'fetchXml', `The FetchXML is not valid: ${error.message}`);
    }
    throw guessed(400, 'querySyntax', `Syntax error: ${error.message}`);
  }

  /** A GUID, or an alternate key `col='x',col2=1` (values as OData literals). */
  private resolveKey(table: Table, key: string): Key {
    if (isGuid(key)) return key.toLowerCase();
    if (!key.includes('=')) throw badRequest(`Bad Request - Error in query syntax.`);
    const values: Record<string, string | number> = {};
    for (const part of key.split(',')) {
      const m = /^([a-z0-9_]+)=(?:'((?:[^']|'')*)'|(-?\d+(?:\.\d+)?)|([0-9a-fA-F-]{36}))$/.exec(part.trim());
      if (m?.[1] === undefined) throw badRequest('Bad Request - Error in query syntax.');
      const name = m[1].startsWith('_') && m[1].endsWith('_value') ? m[1].slice(1, -6) : m[1];
      if (!table.columns.has(name)) {
        throw new DataverseHttpError(
          400,
          ErrorCodes.propertyNotFound,
          `Could not find a property named '${m[1]}' on type 'Microsoft.Dynamics.CRM.${table.logicalName}'.`,
        );
      }
      values[name] =
        m[2] !== undefined ? m[2].replace(/''/g, "'") : m[3] !== undefined ? Number(m[3]) : (m[4] ?? '').toLowerCase();
    }
    const names = Object.keys(values).sort();
    const matches = table.alternateKeys.some((k) => [...k.columns].sort().join(',') === names.join(','));
    if (!matches) throw badRequest(`The key ${names.join(',')} is not an alternate key of '${table.logicalName}'.`);
    return { alternate: values };
  }

  private find(table: Table, id: Key): Row | null {
    if (typeof id === 'string') return this.store.get(table, id);
    return this.store.findBy(table, id.alternate)[0] ?? null;
  }

  private entityUrl(table: Table, id: string): string {
    return `${this.webApi}${table.entitySetName}(${id})`;
  }

  /** The request's URL without `$skiptoken`, then the given token: options travel to the next page as sent. */
  private nextLink(request: Request, token: string): string {
    const kept = request.url.options
      .filter((o) => o.name !== '$skiptoken')
      .map((o) => request.rawUrl.slice(o.span.start, o.span.end));
    kept.push(`$skiptoken=${encodeURIComponent(token)}`);
    return `${this.baseUrl()}${request.path}?${kept.join('&')}`;
  }

  private collection(request: Request, table: Table, prefer: Prefer, source: Source, entitySet: string): Reply {
    const { query } = request.url;
    if (query.fetchXml !== undefined) {
      const engine = this.engine(request.url, prefer);
      const result = runFetchXml(engine, table, query.fetchXml.value, entitySet, query.count?.value === true);
      return json(200, result, preferenceApplied(prefer, false));
    }
    if (query.apply !== undefined) {
      const engine = this.engine(request.url, prefer);
      const result = runApply(engine, table, source, query.apply, query.filter, entitySet);
      return json(200, result, preferenceApplied(prefer, false));
    }
    if (query.top !== undefined && (query.top.value === undefined || query.top.value < 0)) {
      throw guessed(400, 'querySyntax', 'The $top value must be a non-negative whole number.');
    }
    const engine = this.engine(request.url, prefer);
    const selection = engine.selection(table, query.select, query.expand);
    const position: Position =
      query.skipToken === undefined ? { page: 0, after: undefined, offset: 0 } : readSkipToken(query.skipToken.value);
    const collectionRequest: CollectionRequest = {
      table,
      source,
      selection,
      filter: query.filter,
      orderBy: query.orderBy,
      // Dataverse ignores $top when the client pages with odata.maxpagesize (reference §4).
      top: prefer.maxPageSize === undefined ? query.top?.value : undefined,
      pageSize: prefer.maxPageSize,
      count: query.count?.value === true,
      position,
    };
    const result = engine.collection(collectionRequest);
    const body: Record<string, unknown> = {
      '@odata.context': `${this.webApi}$metadata#${entitySet}${contextSelection(selection)}`,
    };
    if (result.count !== undefined) body['@odata.count'] = result.count;
    Object.assign(body, result.annotations);
    body.value = result.rows;
    if (result.next !== undefined) {
      const token = skipToken(
        table,
        result.next.position,
        String(result.next.first[table.primaryIdAttribute]),
        String(result.next.last[table.primaryIdAttribute]),
      );
      body['@odata.nextLink'] = this.nextLink(request, token);
    }
    return json(200, body, preferenceApplied(prefer, prefer.maxPageSize !== undefined));
  }

  private representation(
    request: Request,
    table: Table,
    row: Row,
    status: number,
    prefer: Prefer,
    extra: Record<string, string> = {},
  ): Reply {
    const engine = this.engine(request.url, prefer);
    const selection = engine.selection(table, request.url.query.select, request.url.query.expand);
    const body = {
      '@odata.context': `${this.webApi}$metadata#${table.entitySetName}${contextSelection(selection)}/$entity`,
      ...engine.project(table, row, selection),
    };
    return json(status, body, { 'Preference-Applied': 'return=representation', ETag: etag(row), ...extra });
  }

  private create(request: Request, table: Table, body: unknown, prefer: Prefer): Reply {
    const row = this.store.transaction(() => createRecord(this.ctx, table, body));
    const id = String(row[table.primaryIdAttribute]);
    if (prefer.representation) return this.representation(request, table, row, 201, prefer);
    return { status: 204, headers: { 'OData-EntityId': this.entityUrl(table, id) } };
  }

  private entity(request: Request, table: Table, key: Key, rawKey: string, prefer: Prefer): Reply {
    const { method, headers, body } = request;
    const ifMatch = typeof headers['if-match'] === 'string' ? headers['if-match'].trim() : undefined;
    const ifNoneMatch = typeof headers['if-none-match'] === 'string' ? headers['if-none-match'].trim() : undefined;
    const missing = (): DataverseHttpError => recordNotFound(table.logicalName, typeof key === 'string' ? key : rawKey);
    if (method === 'GET') {
      const engine = this.engine(request.url, prefer);
      const selection = engine.selection(table, request.url.query.select, request.url.query.expand);
      const row = this.find(table, key);
      if (row === null) throw missing();
      const tag = etag(row);
      if (ifNoneMatch !== undefined && ifNoneMatch !== 'null' && (ifNoneMatch === tag || ifNoneMatch === '*')) {
        return { status: 304, headers: { ETag: tag } };
      }
      return json(
        200,
        {
          '@odata.context': `${this.webApi}$metadata#${table.entitySetName}${contextSelection(selection)}/$entity`,
          ...engine.project(table, row, selection),
        },
        { ETag: tag, ...preferenceApplied(prefer, false) },
      );
    }
    if (method === 'PATCH') {
      return this.store.transaction(() => {
        const existing = this.find(table, key);
        if (existing === null) {
          if (ifMatch !== undefined) throw missing();
          // Upsert: PATCH to a missing key creates the record with that key.
          const createBody = typeof key === 'string' ? body : { ...(isRecord(body) ? body : {}), ...key.alternate };
          if (typeof key !== 'string' && !isRecord(body)) throw badRequest('The request body must be a JSON object.');
          const row = createRecord(this.ctx, table, createBody, typeof key === 'string' ? key : undefined);
          const id = String(row[table.primaryIdAttribute]);
          if (prefer.representation) return this.representation(request, table, row, 201, prefer);
          return { status: 204, headers: { 'OData-EntityId': this.entityUrl(table, id) } };
        }
        const id = String(existing[table.primaryIdAttribute]);
        if (ifNoneMatch === '*') {
          throw new DataverseHttpError(
            412,
            ErrorCodes.duplicateRecord,
            'A record with matching key values already exists.',
          );
        }
        if (ifMatch !== undefined && ifMatch !== '*' && ifMatch !== etag(existing)) {
          throw new DataverseHttpError(
            412,
            ErrorCodes.concurrencyVersionMismatch,
            "The version of the existing record doesn't match the RowVersion property provided.",
          );
        }
        const strippedBody =
          typeof key === 'string' || !isRecord(body)
            ? body
            : Object.fromEntries(Object.entries(body).filter(([k]) => !(k in key.alternate)));
        const row = updateRecord(this.ctx, table, id, strippedBody);
        if (prefer.representation) return this.representation(request, table, row, 200, prefer);
        return { status: 204, headers: { 'OData-EntityId': this.entityUrl(table, id) } };
      });
    }
    if (method === 'DELETE') {
      return this.store.transaction(() => {
        const existing = this.find(table, key);
        if (existing === null) throw missing();
        if (ifMatch !== undefined && ifMatch !== '*' && ifMatch !== etag(existing)) {
          throw new DataverseHttpError(
            412,
            ErrorCodes.concurrencyVersionMismatch,
            "The version of the existing record doesn't match the RowVersion property provided.",
          );
        }
        this.ctx.observer?.deleting(table, existing);
        this.store.delete(table, String(existing[table.primaryIdAttribute]));
        return { status: 204, headers: {} };
      });
    }
    throw methodNotAllowed(method, ['GET', 'PATCH', 'DELETE']);
  }

  private member(request: Request, table: Table, key: Key, rest: string[], prefer: Prefer): Reply {
    const { method, body } = request;
    const row = this.find(table, key);
    if (row === null)
      throw recordNotFound(table.logicalName, typeof key === 'string' ? key : JSON.stringify(key.alternate));
    const id = String(row[table.primaryIdAttribute]);
    const [name = '', second, third] = rest;
    const segment = SEGMENT.exec(name);
    const memberName = segment?.[1] ?? name;
    const column =
      table.columns.get(memberName) ?? [...table.columns.values()].find((c) => propertyName(c) === memberName);
    if (column !== undefined && rest.length === 1 && segment?.[2] === undefined) {
      if (method === 'GET') {
        // Retrieve with a ColumnSet of that one column: refused for a write-only column, which PUT/DELETE still set.
        if (!column.validForRead) throw notValidForRead(table.logicalName, column.name);
        return json(200, {
          '@odata.context': `${this.webApi}$metadata#${table.entitySetName}(${id})/${memberName}`,
          value: rowToJson(table, row)[propertyName(column)] ?? null,
        });
      }
      if (isLookupType(column.type))
        throw badRequest(
          'CRM do not support direct update of Entity Reference properties, Use Navigation properties instead.',
        );
      if (method === 'PUT' || method === 'DELETE') {
        if (column.readOnly || column.name === table.primaryIdAttribute)
          throw badRequest(`The property '${column.name}' cannot be updated.`);
        let value: unknown = null;
        if (method === 'PUT') {
          if (!isRecord(body) || !('value' in body))
            throw badRequest('The request body must be an object with a "value" property.');
          value = body.value;
        }
        toStoredValue(table, column, value);
        this.store.transaction(() => updateRecord(this.ctx, table, id, { [column.name]: value }));
        return { status: 204, headers: {} };
      }
      throw methodNotAllowed(method, ['GET', 'PUT', 'DELETE']);
    }
    const navigation = table.navigations.get(memberName);
    if (navigation === undefined) throw notFoundSegment(name);
    const isRef = second === '$ref' || third === '$ref';
    const refKey = segment?.[2];
    if (isRef) return this.reference(request, table, id, navigation.name, refKey);
    const countOnly = second === '$count' && rest.length === 2;
    if (rest.length > 1 && !countOnly) throw notFoundSegment(second ?? '');
    this.only(method, ['GET']);
    if (navigation.kind === 'single') {
      if (countOnly) throw notFoundSegment('$count');
      const targetId = row[navigation.column.name];
      const targetTable = this.schema.tables.get(
        typeof row[`${navigation.column.name}__type`] === 'string'
          ? String(row[`${navigation.column.name}__type`])
          : navigation.target,
      );
      if (typeof targetId !== 'string' || targetTable === undefined) {
        return { status: 204, headers: {} };
      }
      const target = this.store.get(targetTable, targetId);
      if (target === null) return { status: 204, headers: {} };
      const engine = this.engine(request.url, prefer);
      const selection = engine.selection(targetTable, request.url.query.select, request.url.query.expand);
      return json(
        200,
        {
          '@odata.context': `${this.webApi}$metadata#${targetTable.entitySetName}${contextSelection(selection)}/$entity`,
          ...engine.project(targetTable, target, selection),
        },
        preferenceApplied(prefer, false),
      );
    }
    let source: Source;
    let target: Table | undefined;
    if (navigation.kind === 'collection') {
      target = this.schema.tables.get(navigation.source);
      source = { kind: 'oneToMany', column: navigation.column, id, type: table.logicalName };
    } else {
      target = this.schema.tables.get(navigation.target);
      const relationship = this.schema.manyToMany.find((m) => m.name === navigation.name);
      if (relationship === undefined) throw notFoundSegment(name);
      source = {
        kind: 'manyToMany',
        intersect: relationship.intersect,
        mine: relationship.tables[0] === table.logicalName ? 'a' : 'b',
        id,
      };
    }
    if (target === undefined) throw notFoundSegment(name);
    if (countOnly) {
      const count = this.engine(request.url, prefer).count(target, source, request.url.query.filter);
      // Dataverse starts the navigation count with a byte order mark (reference §7.2).
      return { status: 200, headers: { 'Content-Type': 'text/plain' }, body: `\uFEFF${Math.min(count, MAX_PAGE)}` };
    }
    return this.collection(request, target, prefer, source, target.entitySetName);
  }

  private reference(
    request: Request,
    table: Table,
    id: string,
    navigationName: string,
    refKey: string | undefined,
  ): Reply {
    const { method, body } = request;
    const navigation = table.navigations.get(navigationName);
    if (navigation === undefined) throw notFoundSegment(navigationName);
    if (method === 'POST' || method === 'PUT') {
      if ((method === 'PUT') !== (navigation.kind === 'single')) {
        throw methodNotAllowed(method, navigation.kind === 'single' ? ['PUT', 'DELETE'] : ['POST', 'DELETE']);
      }
      if (!isRecord(body)) throw badRequest('The request body must be an object with "@odata.id".');
      const ref = parseReference(this.schema, body['@odata.id']);
      this.store.transaction(() => associate(this.ctx, table, id, navigationName, ref));
      return { status: 204, headers: {} };
    }
    if (method !== 'DELETE') throw methodNotAllowed(method, ['POST', 'PUT', 'DELETE']);
    this.store.transaction(() => {
      if (navigation.kind === 'single') {
        updateRecord(
          this.ctx,
          table,
          id,
          {},
          { [navigation.column.name]: null, [`${navigation.column.name}__type`]: null },
        );
        return;
      }
      let otherId = refKey;
      const idParam = request.url.query.id?.value;
      if (otherId === undefined && idParam !== undefined) otherId = parseReference(this.schema, idParam).id;
      if (otherId === undefined || !isGuid(otherId))
        throw badRequest('The related record must be named by key or by $id.');
      otherId = otherId.toLowerCase();
      if (navigation.kind === 'collection') {
        const source = this.schema.tables.get(navigation.source);
        const other = source === undefined ? null : this.store.get(source, otherId);
        if (source === undefined || other === null || other[navigation.column] !== id)
          throw recordNotFound(navigation.source, otherId);
        updateRecord(
          this.ctx,
          source,
          otherId,
          {},
          { [navigation.column]: null, [`${navigation.column}__type`]: null },
        );
        return;
      }
      const relationship = this.schema.manyToMany.find((m) => m.name === navigation.name);
      if (relationship === undefined) throw notFoundSegment(navigationName);
      const first = relationship.tables[0] === table.logicalName;
      this.store.disassociate(relationship, first ? id : otherId, first ? otherId : id);
    });
    return { status: 204, headers: {} };
  }
}

/** Starts the emulator; resolves once it is listening. */
export async function startEmulator(options: EmulatorOptions = {}): Promise<RunningEmulator> {
  const timeout = options.webhookTimeoutMs;
  if (timeout !== undefined && (!Number.isFinite(timeout) || timeout <= 0 || timeout > 2_147_483_647)) {
    throw new Error('webhookTimeoutMs must be a positive number of milliseconds (at most 2147483647).');
  }
  const schema = options.schema ?? builtinSchema();
  const store = new Store(schema, options.dataPath);
  let identity: ReturnType<typeof bootstrap>;
  try {
    identity = bootstrap(store);
    if (options.seed === 'sample') seedSample(store, identity);
    if (options.seedAccounts !== undefined && options.seedAccounts > 0)
      seedAccounts(store, identity, options.seedAccounts);
  } catch (error) {
    store.close();
    throw error;
  }
  const caller: Caller = { userId: identity.userId, businessUnitId: identity.businessUnitId };
  const organization: Organization = { organizationId: identity.organizationId, baseCurrencyId: identity.currencyId };
  const maxBody = options.maxBodyBytes ?? DEFAULT_MAX_BODY;
  let baseUrl = '';
  let access: Access;
  try {
    access = await startAccess({
      noAuth: options.noAuth === true,
      userId: identity.userId,
      audience: () => baseUrl,
      tokenLifetimeMs: options.tokenLifetimeMs ?? DEFAULT_TOKEN_LIFETIME_MS,
      limits: options.limits ?? {},
      faults: options.faults ?? {},
      ...(options.random === undefined ? {} : { random: options.random }),
      ...(options.tenantId === undefined ? {} : { tenantId: options.tenantId }),
      ...(options.clientId === undefined ? {} : { clientId: options.clientId }),
      ...(options.clientSecret === undefined ? {} : { clientSecret: options.clientSecret }),
      ...(options.clientCertificates === undefined ? {} : { clientCertificates: options.clientCertificates }),
    });
  } catch (error) {
    store.close();
    throw error;
  }
  const webhooks = new WebhookDelivery({
    schema,
    store,
    caller,
    organization,
    baseUrl: () => baseUrl,
    ...(options.onWebhook === undefined ? {} : { onEvent: options.onWebhook }),
    ...(timeout === undefined ? {} : { timeoutMs: timeout }),
  });
  store.journal = webhooks;
  const handler = new Handler(
    schema,
    store,
    caller,
    organization,
    () => baseUrl,
    options.now ?? (() => new Date()),
    webhooks,
  );

  const send = (res: ServerResponse, requestId: string, reply: Reply): void => {
    const headers: Record<string, string> = {
      'OData-Version': '4.0',
      REQ_ID: requestId,
      'x-ms-service-request-id': requestId,
      ...reply.headers,
    };
    if (reply.body !== undefined) headers['Content-Length'] = String(Buffer.byteLength(reply.body));
    if (reply.statusText !== undefined) res.writeHead(reply.status, reply.statusText, headers);
    else res.writeHead(reply.status, headers);
    res.end(reply.body);
  };
  const errorReply = (error: DataverseHttpError): Reply => {
    const code = error.guess === undefined ? undefined : options.errorCodes?.[error.guess];
    const answer =
      code === undefined ? error : new DataverseHttpError(error.status, code, error.message, { ...error.headers });
    return {
      status: answer.status,
      headers: { 'Content-Type': JSON_TYPE, ...answer.headers },
      body: errorBody(answer),
    };
  };
  const fail = (res: ServerResponse, requestId: string, error: DataverseHttpError): void => {
    send(res, requestId, errorReply(error));
  };

  /**
   * Routes one authenticated request, top-level or a `$batch` part (same parsing, same handler), and answers
   * errors as Dataverse does. Never throws.
   */
  const dispatch = (request: InProcessRequest, requestId: string): Reply => {
    try {
      const { method, url: rawUrl } = request;
      let url: URL;
      try {
        url = new URL(rawUrl, 'http://emulator.invalid');
      } catch {
        throw badRequest('Bad Request - Error in query syntax.');
      }
      if (!API_PREFIX.test(url.pathname))
        throw new DataverseHttpError(
          404,
          '',
          `No HTTP resource was found that matches the request URI '${baseUrl}${url.pathname}'.`,
        );
      let body: unknown = undefined;
      const text = request.body ?? '';
      if ((method === 'POST' || method === 'PATCH' || method === 'PUT') && text.trim() !== '') {
        try {
          body = JSON.parse(text) as unknown;
        } catch {
          throw badRequest('Invalid JSON. The request body could not be read as JSON.');
        }
      }
      let decodedPath: string;
      try {
        decodeURIComponent(url.pathname);
        decodedPath = url.pathname;
      } catch {
        throw badRequest('Bad Request - Error in query syntax.');
      }
      const requestUrl = tolerateTrailingSelectComma(rawUrl);
      const parsed = parseODataUrl(requestUrl, { templates: false, plusAsSpace: true });
      // Checked before anything runs: a bad value is a 400 that changes nothing.
      const bypass = parseBypass(request.headers);
      return webhooks.withBypass(bypass, () =>
        handler.handle({
          method,
          path: decodedPath,
          rawUrl: requestUrl,
          url: parsed,
          headers: request.headers,
          body,
        }),
      );
    } catch (error) {
      if (error instanceof DataverseHttpError) return errorReply(error);
      // Never echo internals (they may hold record data); the request id ties the answer to the cause.
      return errorReply(
        new DataverseHttpError(500, '0x80040216', `An unexpected error occurred. Request id: ${requestId}.`),
      );
    }
  };
  const batchEnv: BatchEnvironment = {
    dispatch,
    errorReply,
    transaction: <T>(work: () => T): T => store.transaction(work),
    apiPath: '/api/data/v9.2/',
  };

  const serve = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const requestId = randomUUID();
    try {
      const method = req.method ?? 'GET';
      const rawUrl = req.url ?? '/';
      if (rawUrl.length > MAX_URL)
        throw new DataverseHttpError(414, ErrorCodes.queryShape, 'The request URL is too long.');
      let url: URL;
      try {
        url = new URL(rawUrl, 'http://emulator.invalid');
      } catch {
        throw badRequest('Bad Request - Error in query syntax.');
      }
      if (url.pathname.startsWith('/_emulator/')) {
        await access.admin(req, res, url.pathname);
        return;
      }
      if (!API_PREFIX.test(url.pathname))
        throw new DataverseHttpError(
          404,
          '',
          `No HTTP resource was found that matches the request URI '${baseUrl}${url.pathname}'.`,
        );
      const gate = await access.enter(req, res, access.authenticate(req));
      if (gate === undefined) return;
      let text: string | undefined;
      if (method === 'POST' || method === 'PATCH' || method === 'PUT') {
        const raw = await readBody(req, maxBody);
        if (raw === 'tooLarge') {
          res.setHeader('Connection', 'close');
          throw new DataverseHttpError(
            413,
            ErrorCodes.requestTooLarge,
            `The request body exceeds the limit of ${maxBody} bytes.`,
          );
        }
        text = raw.toString('utf8');
      } else {
        req.resume();
      }
      const batch: ParsedBatch | undefined = BATCH_PATH.test(url.pathname)
        ? parseBatch(method, req.headers, text)
        : undefined;
      // Reads (a $batch of GETs too) are answered at once, even while a synchronous webhook is pending.
      const write = batch === undefined ? method !== 'GET' && method !== 'HEAD' : !batch.readOnly;
      const reply = await webhooks.run(
        write,
        () =>
          batch === undefined
            ? dispatch({ method, url: rawUrl, headers: req.headers, body: text }, requestId)
            : runBatch(batchEnv, batch),
        errorReply,
      );
      if (gate.dropAfterCommit()) return;
      send(res, requestId, { ...reply, headers: { ...reply.headers, ...gate.headers } });
    } catch (error) {
      if (error instanceof DataverseHttpError) fail(res, requestId, error);
      else {
        // Never echo internals (they may hold record data); the request id ties the answer to the cause.
        fail(
          res,
          requestId,
          new DataverseHttpError(500, '0x80040216', `An unexpected error occurred. Request id: ${requestId}.`),
        );
      }
    }
  };

  const server = createServer((req, res) => {
    serve(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });
  // Idle keep-alive sockets stay open longer than the clients that pool them keep them: Node's default (5 s)
  // closed sockets that dynamics-web-api, .NET's HttpClient (60 s idle) and other agents still held, and a request
  // sent just as the server closed one failed with ECONNRESET. 65 s outlasts those pools (Node's agents, undici and
  // agentkeepalive let go after 4-5 s, .NET after 60 s); the `Keep-Alive: timeout=65` hint it sends lets clients that
  // read it close first. headersTimeout stays above keepAliveTimeout (the long-standing advice, so a request that
  // starts on a socket about to go idle is not cut off by the headers timer first) and requestTimeout, which Node
  // requires to be at least headersTimeout, above both.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  server.requestTimeout = 70_000;
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  }).catch(async (error: unknown) => {
    await access.close();
    store.close();
    throw error;
  });
  const address = server.address() as AddressInfo;
  const hostForUrl = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  baseUrl = `http://${hostForUrl}:${address.port}`;
  let closed: Promise<void> | undefined;
  return {
    url: baseUrl,
    webApi: `${baseUrl}/api/data/v9.2/`,
    token: access.identity.issueToken(),
    userId: identity.userId,
    businessUnitId: identity.businessUnitId,
    organizationId: identity.organizationId,
    authority: access.identity.authority,
    tenantId: access.identity.tenantId,
    clientId: access.identity.clientId,
    clientSecret: access.identity.clientSecret,
    certificate: access.identity.certificate,
    certificatePath: access.certificatePath,
    issueToken: (lifetimeMs?: number) => access.identity.issueToken(lifetimeMs),
    access: { faults: access.faults, protection: access.protection },
    webhooks: { log: () => webhooks.log(), idle: () => webhooks.idle() },
    close(): Promise<void> {
      closed ??= new Promise<void>((resolve) => {
        // Deliveries in flight are abandoned first: a synchronous one holds a transaction open.
        const stopped = webhooks.close();
        server.close(() => {
          void stopped.finally(() => {
            store.close();
            void access.close().finally(resolve);
          });
        });
        server.closeAllConnections();
      });
      return closed;
    },
  };
}

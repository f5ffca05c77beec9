import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { generateCsdl, propertyName } from './csdl';
import {
  badRequest,
  DataverseHttpError,
  errorBody,
  ErrorCodes,
  methodNotAllowed,
  notFoundSegment,
  recordNotFound,
} from './errors';
import type { Caller, Organization, WriteContext } from './records';
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
import { Store } from './store';

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
}

export interface RunningEmulator {
  readonly url: string;
  readonly webApi: string;
  /** Bearer token of the built-in admin user (random per start). */
  readonly token: string;
  readonly userId: string;
  readonly businessUnitId: string;
  readonly organizationId: string;
  close(): Promise<void>;
}

const API_PREFIX = /^\/api\/data\/v9\.[0-2](\/|$)/;
const DEFAULT_MAX_BODY = 8 * 1024 * 1024;
const MAX_PAGE = 5000;
const MAX_URL = 32 * 1024;
const SEGMENT = /^([A-Za-z_][A-Za-z0-9_.]*)(?:\(([^()]*)\))?$/;
const JSON_TYPE = 'application/json; odata.metadata=minimal';

interface Prefer {
  readonly representation: boolean;
  readonly maxPageSize: number | undefined;
}

function parsePrefer(header: string | string[] | undefined): Prefer {
  const text = Array.isArray(header) ? header.join(',') : (header ?? '');
  let representation = false;
  let maxPageSize: number | undefined;
  for (const part of text.split(',')) {
    const item = part.trim();
    if (item === 'return=representation') representation = true;
    const page = /^odata\.maxpagesize=(\d+)$/.exec(item);
    if (page?.[1] !== undefined) maxPageSize = Math.min(MAX_PAGE, Math.max(1, Number(page[1])));
  }
  return { representation, maxPageSize };
}

interface Reply {
  status: number;
  headers: Record<string, string>;
  body?: string;
}

function json(status: number, value: unknown, headers: Record<string, string> = {}): Reply {
  return { status, headers: { 'Content-Type': JSON_TYPE, ...headers }, body: JSON.stringify(value) };
}

/** The Dataverse paging cookie, so that debugging tools that decode `$skiptoken` see the usual shape. */
function skipToken(table: Table, page: number, first: string, last: string): string {
  const inner = `<cookie page="${page}"><${table.primaryIdAttribute} last="{${last.toUpperCase()}}" first="{${first.toUpperCase()}}" /></cookie>`;
  return `<cookie pagenumber="${page + 1}" pagingcookie="${encodeURIComponent(inner)}" istracking="False" />`;
}

function readSkipToken(token: string): { page: number; after: string } {
  const page = /pagenumber="(\d+)"/.exec(token);
  const cookie = /pagingcookie="([^"]*)"/.exec(token);
  let inner = '';
  try {
    inner = decodeURIComponent(cookie?.[1] ?? '');
  } catch {
    inner = '';
  }
  const last = /last="\{([0-9A-Fa-f-]{36})\}"/.exec(inner);
  if (page?.[1] === undefined || last?.[1] === undefined) throw badRequest('The $skiptoken is not valid.');
  return { page: Number(page[1]) - 1, after: last[1].toLowerCase() };
}

class Handler {
  readonly ctx: WriteContext;
  private readonly metadataXml: string;

  constructor(
    readonly schema: Schema,
    readonly store: Store,
    readonly caller: Caller,
    readonly organization: Organization,
    readonly baseUrl: () => string,
  ) {
    this.ctx = { schema, store, caller, organization };
    this.metadataXml = generateCsdl(schema);
  }

  get webApi(): string {
    return `${this.baseUrl()}/api/data/v9.2/`;
  }

  handle(
    method: string,
    path: string,
    query: URLSearchParams,
    headers: IncomingMessage['headers'],
    body: unknown,
  ): Reply {
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
    const match = SEGMENT.exec(first);
    const table = match?.[1] === undefined ? undefined : this.schema.byEntitySet.get(match[1]);
    if (match === null || table === undefined) throw notFoundSegment(match?.[1] ?? first);
    this.checkQueryOptions(query, method);
    const prefer = parsePrefer(headers.prefer);
    const key = match[2];
    if (key === undefined) {
      if (segments.length === 2 && segments[1] === '$count') {
        this.only(method, ['GET']);
        return {
          status: 200,
          headers: { 'Content-Type': 'text/plain' },
          body: String(Math.min(this.store.count(table), MAX_PAGE)),
        };
      }
      if (segments.length > 1) throw notFoundSegment(segments[1] ?? '');
      if (method === 'GET') return this.collection(table, query, prefer);
      if (method === 'POST') return this.create(table, body, prefer);
      throw methodNotAllowed(method, ['GET', 'POST']);
    }
    const id = this.resolveKey(table, key);
    if (segments.length === 1) return this.entity(method, table, id, key, headers, body, prefer);
    return this.member(method, table, id, segments.slice(1), query, body, prefer);
  }

  private only(method: string, allowed: string[]): void {
    if (!allowed.includes(method)) throw methodNotAllowed(method, allowed);
  }

  private checkQueryOptions(query: URLSearchParams, method: string): void {
    for (const name of query.keys()) {
      if (name === '$skiptoken' && method === 'GET') continue;
      if (name === '$id' && method === 'DELETE') continue;
      if (name === '$skip' || name === '$search' || name === '$format') {
        throw badRequest(`The query parameter ${name} is not supported`);
      }
      if (name.startsWith('$') || name.startsWith('@')) {
        // The query engine arrives with the project's shared OData parser (src/odata); until then the
        // emulator says so instead of answering as if the option had been applied.
        throw new DataverseHttpError(
          501,
          ErrorCodes.notImplemented,
          `The query option '${name}' is not implemented by the emulator yet.`,
        );
      }
      throw badRequest(`The query parameter '${name}' is not supported.`);
    }
  }

  /** A GUID, or an alternate key `col='x',col2=1` (values as OData literals). */
  private resolveKey(table: Table, key: string): string | { alternate: Record<string, string | number> } {
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

  private find(table: Table, id: string | { alternate: Record<string, string | number> }): Row | null {
    if (typeof id === 'string') return this.store.get(table, id);
    return this.store.findBy(table, id.alternate)[0] ?? null;
  }

  private entityUrl(table: Table, id: string): string {
    return `${this.webApi}${table.entitySetName}(${id})`;
  }

  private collection(
    table: Table,
    query: URLSearchParams,
    prefer: Prefer,
    where?: { column: string; value: string; type?: string },
    contextSet?: string,
  ): Reply {
    const size = prefer.maxPageSize ?? MAX_PAGE;
    const token = query.get('$skiptoken');
    const position = token === null ? { page: 0, after: undefined } : readSkipToken(token);
    const rows = this.store.page(table, size + 1, position.after, where);
    const more = rows.length > size;
    const page = rows.slice(0, size);
    const body: Record<string, unknown> = {
      '@odata.context': `${this.webApi}$metadata#${contextSet ?? table.entitySetName}`,
      value: page.map((r) => rowToJson(table, r)),
    };
    const firstRow = page[0];
    const lastRow = page[page.length - 1];
    if (more && firstRow !== undefined && lastRow !== undefined) {
      const next = new URLSearchParams();
      next.set(
        '$skiptoken',
        skipToken(
          table,
          position.page + 1,
          String(firstRow[table.primaryIdAttribute]),
          String(lastRow[table.primaryIdAttribute]),
        ),
      );
      body['@odata.nextLink'] = `${this.baseUrl()}${this.currentPath}?${next.toString().replace(/\+/g, '%20')}`;
    }
    const headers: Record<string, string> = {};
    if (prefer.maxPageSize !== undefined) headers['Preference-Applied'] = `odata.maxpagesize=${prefer.maxPageSize}`;
    return json(200, body, headers);
  }

  currentPath = '';

  private representation(table: Table, row: Row, status: number, extra: Record<string, string> = {}): Reply {
    const body = {
      '@odata.context': `${this.webApi}$metadata#${table.entitySetName}/$entity`,
      ...rowToJson(table, row),
    };
    return json(status, body, { 'Preference-Applied': 'return=representation', ETag: etag(row), ...extra });
  }

  private create(table: Table, body: unknown, prefer: Prefer): Reply {
    const row = this.store.transaction(() => createRecord(this.ctx, table, body));
    const id = String(row[table.primaryIdAttribute]);
    if (prefer.representation) return this.representation(table, row, 201);
    return { status: 204, headers: { 'OData-EntityId': this.entityUrl(table, id) } };
  }

  private entity(
    method: string,
    table: Table,
    key: string | { alternate: Record<string, string | number> },
    rawKey: string,
    headers: IncomingMessage['headers'],
    body: unknown,
    prefer: Prefer,
  ): Reply {
    const ifMatch = typeof headers['if-match'] === 'string' ? headers['if-match'].trim() : undefined;
    const ifNoneMatch = typeof headers['if-none-match'] === 'string' ? headers['if-none-match'].trim() : undefined;
    const missing = (): DataverseHttpError => recordNotFound(table.logicalName, typeof key === 'string' ? key : rawKey);
    if (method === 'GET') {
      const row = this.find(table, key);
      if (row === null) throw missing();
      const tag = etag(row);
      if (ifNoneMatch !== undefined && ifNoneMatch !== 'null' && (ifNoneMatch === tag || ifNoneMatch === '*')) {
        return { status: 304, headers: { ETag: tag } };
      }
      return json(
        200,
        { '@odata.context': `${this.webApi}$metadata#${table.entitySetName}/$entity`, ...rowToJson(table, row) },
        { ETag: tag },
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
          if (prefer.representation) return this.representation(table, row, 201);
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
        if (prefer.representation) return this.representation(table, row, 200);
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
        this.store.delete(table, String(existing[table.primaryIdAttribute]));
        return { status: 204, headers: {} };
      });
    }
    throw methodNotAllowed(method, ['GET', 'PATCH', 'DELETE']);
  }

  private member(
    method: string,
    table: Table,
    key: string | { alternate: Record<string, string | number> },
    rest: string[],
    query: URLSearchParams,
    body: unknown,
    prefer: Prefer,
  ): Reply {
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
    if (isRef) return this.reference(method, table, id, navigation.name, refKey, query, body);
    if (rest.length > 1) throw notFoundSegment(second ?? '');
    this.only(method, ['GET']);
    if (navigation.kind === 'single') {
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
      return json(200, {
        '@odata.context': `${this.webApi}$metadata#${targetTable.entitySetName}/$entity`,
        ...rowToJson(targetTable, target),
      });
    }
    if (navigation.kind === 'collection') {
      const source = this.schema.tables.get(navigation.source);
      if (source === undefined) throw notFoundSegment(name);
      return this.collection(
        source,
        query,
        prefer,
        { column: navigation.column, value: id, type: table.logicalName },
        source.entitySetName,
      );
    }
    const target = this.schema.tables.get(navigation.target);
    const relationship = this.schema.manyToMany.find((m) => m.name === navigation.name);
    if (target === undefined || relationship === undefined) throw notFoundSegment(name);
    const size = prefer.maxPageSize ?? MAX_PAGE;
    const rows = this.store.related(relationship, target, id, relationship.tables[0] === table.logicalName, size);
    return json(200, {
      '@odata.context': `${this.webApi}$metadata#${target.entitySetName}`,
      value: rows.map((r) => rowToJson(target, r)),
    });
  }

  private reference(
    method: string,
    table: Table,
    id: string,
    navigationName: string,
    refKey: string | undefined,
    query: URLSearchParams,
    body: unknown,
  ): Reply {
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
      const idParam = query.get('$id');
      if (otherId === undefined && idParam !== null) otherId = parseReference(this.schema, idParam).id;
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

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

function readBody(req: IncomingMessage, limit: number): Promise<Buffer | 'tooLarge'> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    req.on('data', (chunk: Buffer) => {
      if (done) return;
      size += chunk.length;
      if (size > limit) {
        done = true;
        resolve('tooLarge');
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (!done) resolve(Buffer.concat(chunks));
    });
    req.on('error', reject);
  });
}

/** Starts the emulator; resolves once it is listening. */
export async function startEmulator(options: EmulatorOptions = {}): Promise<RunningEmulator> {
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
  const token = randomBytes(32).toString('base64url');
  const tokenDigest = digest(token);
  const maxBody = options.maxBodyBytes ?? DEFAULT_MAX_BODY;
  let baseUrl = '';
  const handler = new Handler(schema, store, caller, organization, () => baseUrl);

  const send = (res: ServerResponse, requestId: string, reply: Reply): void => {
    const headers: Record<string, string> = {
      'OData-Version': '4.0',
      REQ_ID: requestId,
      'x-ms-service-request-id': requestId,
      ...reply.headers,
    };
    if (reply.body !== undefined) headers['Content-Length'] = String(Buffer.byteLength(reply.body));
    res.writeHead(reply.status, headers);
    res.end(reply.body);
  };
  const fail = (res: ServerResponse, requestId: string, error: DataverseHttpError): void => {
    send(res, requestId, {
      status: error.status,
      headers: { 'Content-Type': JSON_TYPE, ...error.headers },
      body: errorBody(error),
    });
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
      if (!API_PREFIX.test(url.pathname))
        throw new DataverseHttpError(
          404,
          '',
          `No HTTP resource was found that matches the request URI '${baseUrl}${url.pathname}'.`,
        );
      if (!options.noAuth) {
        const auth = req.headers.authorization ?? '';
        const presented = /^Bearer (.+)$/i.exec(auth)?.[1] ?? '';
        if (!timingSafeEqual(digest(presented), tokenDigest)) {
          req.resume();
          throw new DataverseHttpError(
            401,
            ErrorCodes.accessTokenExpired,
            'The user is not authenticated. A valid bearer token is required.',
            {
              'WWW-Authenticate': `Bearer authorization_uri=${baseUrl}/common/oauth2/authorize, resource_id=${baseUrl}/`,
            },
          );
        }
      }
      let body: unknown = undefined;
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
        const text = raw.toString('utf8');
        if (text.trim() !== '') {
          try {
            body = JSON.parse(text) as unknown;
          } catch {
            throw badRequest('Invalid JSON. The request body could not be read as JSON.');
          }
        }
      } else {
        req.resume();
      }
      let decodedPath: string;
      try {
        decodeURIComponent(url.pathname);
        decodedPath = url.pathname;
      } catch {
        throw badRequest('Bad Request - Error in query syntax.');
      }
      handler.currentPath = decodedPath;
      send(res, requestId, handler.handle(method, decodedPath, url.searchParams, req.headers, body));
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
  server.requestTimeout = 60_000;
  server.headersTimeout = 30_000;
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  }).catch((error: unknown) => {
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
    token,
    userId: identity.userId,
    businessUnitId: identity.businessUnitId,
    organizationId: identity.organizationId,
    close(): Promise<void> {
      closed ??= new Promise<void>((resolve) => {
        server.close(() => {
          store.close();
          resolve();
        });
        server.closeAllConnections();
      });
      return closed;
    },
  };
}

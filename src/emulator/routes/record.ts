import { preferenceApplied } from '../annotations';
import type { Engine, Selection } from '../engine';
import { contextSelection } from '../engine';
import { badRequest, DataverseHttpError, ErrorCodes, methodNotAllowed } from '../errors';
import { checkWritable, createRecord, etag, updateRecord } from '../records';
import type { Reply } from '../reply';
import type { Table } from '../schema/schema';
import type { Row } from '../store';
import { json } from './answers';
import type { Request, Service } from './context';
import type { Key } from './keys';
import { findByKey, missingRecord } from './keys';
import { isJsonObject } from '../../core/json';

/** A record as the answer of a write with `Prefer: return=representation`. */
export function representation(
  service: Service,
  request: Request,
  table: Table,
  row: Row,
  status: number,
  extra: Record<string, string> = {},
): Reply {
  const { engine, selection } = readOf(service, request, table);
  const body = {
    '@odata.context': `${service.webApi}$metadata#${table.entitySetName}${contextSelection(selection)}/$entity`,
    ...engine.project(table, row, selection),
  };
  return json(status, body, { 'Preference-Applied': 'return=representation', ETag: etag(row), ...extra });
}

/** One record as a GET answers it, with `selection` (checked before the record was looked up). */
export function recordReply(
  service: Service,
  request: Request,
  table: Table,
  row: Row,
  read: { readonly engine: Engine; readonly selection: Selection },
  headers: Record<string, string> = {},
): Reply {
  return json(
    200,
    {
      '@odata.context': `${service.webApi}$metadata#${table.entitySetName}${contextSelection(read.selection)}/$entity`,
      ...read.engine.project(table, row, read.selection),
    },
    { ...headers, ...preferenceApplied(request.prefer, false) },
  );
}

/** The engine of a read and its checked `$select`/`$expand`. */
export function readOf(service: Service, request: Request, table: Table): { engine: Engine; selection: Selection } {
  const engine = service.engine(request);
  return { engine, selection: engine.selection(table, request.url.query.select, request.url.query.expand) };
}

function versionMismatch(): DataverseHttpError {
  return new DataverseHttpError(
    412,
    ErrorCodes.concurrencyVersionMismatch,
    "The version of the existing record doesn't match the RowVersion property provided.",
  );
}

/** GET, PATCH (update or upsert) and DELETE of `set(<key>)`, with `If-Match`/`If-None-Match`. */
export function recordRoute(service: Service, request: Request, table: Table, key: Key): Reply {
  const { method, headers, body } = request;
  const { store } = service;
  const ifMatch = typeof headers['if-match'] === 'string' ? headers['if-match'].trim() : undefined;
  const ifNoneMatch = typeof headers['if-none-match'] === 'string' ? headers['if-none-match'].trim() : undefined;
  if (method === 'GET') {
    const read = readOf(service, request, table);
    const row = findByKey(store, table, key);
    if (row === null) throw missingRecord(table, key);
    const tag = etag(row);
    if (ifNoneMatch !== undefined && ifNoneMatch !== 'null' && (ifNoneMatch === tag || ifNoneMatch === '*')) {
      return { status: 304, headers: { ETag: tag } };
    }
    return recordReply(service, request, table, row, read, { ETag: tag });
  }
  if (method === 'PATCH') {
    return store.transaction(() => {
      const existing = findByKey(store, table, key);
      if (existing === null) {
        if (ifMatch !== undefined) throw missingRecord(table, key);
        // Upsert: PATCH to a missing key creates the record with that key.
        if (typeof key !== 'string' && !isJsonObject(body)) throw badRequest('The request body must be a JSON object.');
        const createBody = typeof key === 'string' ? body : { ...(body as Record<string, unknown>), ...key.alternate };
        const row = createRecord(service.ctx, table, createBody, typeof key === 'string' ? key : undefined);
        const id = String(row[table.primaryIdAttribute]);
        if (request.prefer.representation) return representation(service, request, table, row, 201);
        return { status: 204, headers: { 'OData-EntityId': service.entityUrl(table, id) } };
      }
      const id = String(existing[table.primaryIdAttribute]);
      if (ifNoneMatch === '*') {
        throw new DataverseHttpError(
          412,
          ErrorCodes.duplicateRecord,
          'A record with matching key values already exists.',
        );
      }
      if (ifMatch !== undefined && ifMatch !== '*' && ifMatch !== etag(existing)) throw versionMismatch();
      const strippedBody =
        typeof key === 'string' || !isJsonObject(body)
          ? body
          : Object.fromEntries(Object.entries(body).filter(([k]) => !(k in key.alternate)));
      const row = updateRecord(service.ctx, table, id, strippedBody);
      if (request.prefer.representation) return representation(service, request, table, row, 200);
      return { status: 204, headers: { 'OData-EntityId': service.entityUrl(table, id) } };
    });
  }
  if (method === 'DELETE') {
    checkWritable(table, 'Delete');
    return store.transaction(() => {
      const existing = findByKey(store, table, key);
      if (existing === null) throw missingRecord(table, key);
      if (ifMatch !== undefined && ifMatch !== '*' && ifMatch !== etag(existing)) throw versionMismatch();
      service.ctx.observer?.deleting(table, existing);
      store.delete(table, String(existing[table.primaryIdAttribute]));
      return { status: 204, headers: {} };
    });
  }
  throw methodNotAllowed(method, ['GET', 'PATCH', 'DELETE']);
}

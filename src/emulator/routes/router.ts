import { bulkMessageOf, runBulkMessage } from '../bulkOperations';
import { wantsChanges } from '../changeTracking';
import { badRequest, methodNotAllowed, notFoundSegment } from '../errors';
import type { Reply } from '../reply';
import { countRows, createInSet, readCollection } from './collection';
import type { Request, Service } from './context';
import { only } from './context';
import { findByKey, missingRecord, resolveKey } from './keys';
import { memberRoute } from './member';
import {
  entityDefinitionsRoute,
  globalOptionSetsRoute,
  metadataDocument,
  relationshipDefinitionsRoute,
  serviceDocument,
} from './metadata';
import { unboundOperation } from './operations';
import { checkQuery } from './options';
import { recordRoute } from './record';

/**
 * Routes one Web API request on its parsed path (`url.path.segments`): the service document, `$metadata`,
 * operations, metadata endpoints, then an entity set, a record by key, and what follows the key.
 */
export function route(service: Service, request: Request): Reply {
  const { method, url } = request;
  const { span } = url.path;
  if (url.diagnostics.some((d) => d.severity === 'error' && d.span.start >= span.start && d.span.start < span.end)) {
    throw badRequest('Bad Request - Error in query syntax.');
  }
  const [first, ...rest] = url.path.segments;
  if (first === undefined) return serviceDocument(service, request);
  if (first.kind === 'system') {
    if (first.name === '$metadata' && rest.length === 0) return metadataDocument(service, request);
    throw notFoundSegment(first.name);
  }
  if (first.name === 'EntityDefinitions') return entityDefinitionsRoute(service, request);
  if (first.name === 'RelationshipDefinitions') return relationshipDefinitionsRoute(service, request);
  if (first.name === 'GlobalOptionSetDefinitions') return globalOptionSetsRoute(service, request);
  const table = service.schema.byEntitySet.get(first.name);
  if (table === undefined) {
    const answer = unboundOperation(service, request, first, rest.length === 0);
    if (answer !== undefined) return answer;
    throw notFoundSegment(first.name);
  }
  checkQuery(url, method);
  if (wantsChanges(method, request.headers, url)) {
    const tracked = service.changes.answer({
      table,
      keyed: first.args !== undefined,
      rest: rest.map((s) => s.name),
      url,
      rawUrl: request.rawUrl,
      engine: service.engine(request),
      webApi: service.webApi,
      maxPageSize: request.prefer.maxPageSize,
      readAll: () => readCollection(service, request, table, { kind: 'set' }, table.entitySetName),
    });
    if (tracked !== undefined) return tracked;
  }
  if (first.args === undefined) {
    const [second] = rest;
    if (second?.name === '$count' && rest.length === 1) {
      only(method, ['GET']);
      return countRows(service, request, table, { kind: 'set' });
    }
    const bulk = second !== undefined && rest.length === 1 ? bulkMessageOf(second.name) : undefined;
    if (bulk !== undefined) {
      only(method, ['POST']);
      return service.store.transaction(() => runBulkMessage(service, table, bulk, request.body));
    }
    if (second !== undefined) throw notFoundSegment(second.name);
    if (method === 'GET') return readCollection(service, request, table, { kind: 'set' }, table.entitySetName);
    if (method === 'POST') return createInSet(service, request, table);
    throw methodNotAllowed(method, ['GET', 'POST']);
  }
  const key = resolveKey(table, first.args);
  if (rest.length === 0) return recordRoute(service, request, table, key);
  const row = findByKey(service.store, table, key);
  if (row === null) throw missingRecord(table, key);
  return memberRoute(service, request, table, row, rest);
}

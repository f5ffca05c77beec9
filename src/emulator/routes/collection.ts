import { preferenceApplied } from '../annotations';
import { runApply } from '../apply';
import type { CollectionRequest, Position, Source } from '../engine';
import { contextSelection } from '../engine';
import { guessed } from '../errors';
import { runFetchXml } from '../fetchXml';
import { createRecord } from '../records';
import type { Reply } from '../reply';
import type { Table } from '../schema/schema';
import { json } from './answers';
import type { Request, Service } from './context';
import { representation } from './record';
import { MAX_PAGE, nextLink, readSkipToken, skipToken } from './paging';

/** A GET of rows: an entity set, or a navigation's related rows (`source`), with FetchXML, `$apply` or options. */
export function readCollection(
  service: Service,
  request: Request,
  table: Table,
  source: Source,
  entitySet: string,
): Reply {
  const { query } = request.url;
  const { prefer } = request;
  if (query.fetchXml !== undefined) {
    const engine = service.engine(request);
    const result = runFetchXml(engine, table, query.fetchXml.value, entitySet, query.count?.value === true);
    return json(200, result, preferenceApplied(prefer, false));
  }
  if (query.apply !== undefined) {
    const engine = service.engine(request);
    const result = runApply(engine, table, source, query.apply, query.filter, entitySet);
    return json(200, result, preferenceApplied(prefer, false));
  }
  if (query.top !== undefined && (query.top.value === undefined || query.top.value < 0)) {
    throw guessed(400, 'querySyntax', 'The $top value must be a non-negative whole number.');
  }
  const engine = service.engine(request);
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
    '@odata.context': `${service.webApi}$metadata#${entitySet}${contextSelection(selection)}`,
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
    body['@odata.nextLink'] = nextLink(service.baseUrl(), request, token);
  }
  return json(200, body, preferenceApplied(prefer, prefer.maxPageSize !== undefined));
}

/**
 * `…/$count` of rows: plain text, capped at 5,000 as Dataverse caps it. A navigation's count starts with a byte
 * order mark, as Dataverse's does (reference §7.2).
 */
export function countRows(service: Service, request: Request, table: Table, source: Source): Reply {
  const count = service.engine(request).count(table, source, request.url.query.filter);
  const text = String(Math.min(count, MAX_PAGE));
  return {
    status: 200,
    headers: { 'Content-Type': 'text/plain' },
    body: source.kind === 'set' ? text : `\uFEFF${text}`,
  };
}

/** POST to an entity set. */
export function createInSet(service: Service, request: Request, table: Table): Reply {
  const row = service.store.transaction(() => createRecord(service.ctx, table, request.body));
  const id = String(row[table.primaryIdAttribute]);
  if (request.prefer.representation) return representation(service, request, table, row, 201);
  return { status: 204, headers: { 'OData-EntityId': service.entityUrl(table, id) } };
}

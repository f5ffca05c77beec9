import type { PathSegment } from '../../odata/url';
import { propertyName } from '../csdl';
import type { Source } from '../engine';
import { badRequest, methodNotAllowed, notFoundSegment, notValidForRead, recordNotFound } from '../errors';
import { inexactLiteral } from '../jsonBody';
import {
  associate,
  checkSettable,
  isGuid,
  lookupValues,
  parseReference,
  rowToJson,
  toStoredValue,
  updateRecord,
} from '../records';
import type { Reply } from '../reply';
import type { Column, Table } from '../schema/schema';
import { isLookupType, manyToManySide } from '../schema/schema';
import type { Row } from '../store';
import { json } from './answers';
import { countRows, readCollection } from './collection';
import type { Request, Service } from './context';
import { only } from './context';
import { refuseDeclared } from './operations';
import { readOf, recordReply } from './record';
import { isJsonObject } from '../../core/json';

/**
 * What follows a record's key: a property (`/name`: GET, PUT, DELETE), a navigation (`/primarycontactid`,
 * `/contact_customer_accounts`, `/…/$count`) or a reference (`/…/$ref`).
 */
export function memberRoute(
  service: Service,
  request: Request,
  table: Table,
  row: Row,
  rest: readonly PathSegment[],
): Reply {
  const [first, second, third] = rest;
  if (first === undefined || first.kind === 'system') throw notFoundSegment(first?.name ?? '');
  const id = String(row[table.primaryIdAttribute]);
  const name = first.name;
  const navigation = table.navigations.get(name);
  // A lookup's logical name is also its single-valued navigation (`primarycontactid`): that names the related
  // record; its value is the `_primarycontactid_value` property.
  const column =
    navigation?.kind === 'single'
      ? undefined
      : (table.columns.get(name) ?? [...table.columns.values()].find((c) => propertyName(c) === name));
  if (column !== undefined && rest.length === 1 && first.args === undefined) {
    return propertyRoute(service, request, table, row, column);
  }
  if (navigation === undefined) {
    if (first.qualified) refuseDeclared(service, name);
    throw notFoundSegment(name);
  }
  if (second?.name === '$ref' || third?.name === '$ref') {
    const args = first.args;
    const refKey =
      args === undefined
        ? undefined
        : args.kind === 'keyValue' && args.value.kind === 'literal'
          ? String(args.value.value)
          : '';
    return referenceRoute(service, request, table, id, navigation.name, refKey);
  }
  const countOnly = second?.name === '$count' && rest.length === 2;
  if (rest.length > 1 && !countOnly) throw notFoundSegment(second?.name ?? '');
  only(request.method, ['GET']);
  if (navigation.kind === 'single') {
    if (countOnly) throw notFoundSegment('$count');
    const targetId = row[navigation.column.name];
    const typeColumn = row[`${navigation.column.name}__type`];
    const targetTable = service.schema.tables.get(typeof typeColumn === 'string' ? typeColumn : navigation.target);
    if (typeof targetId !== 'string' || targetTable === undefined) return { status: 204, headers: {} };
    const read = readOf(service, request, targetTable);
    const target = service.store.get(targetTable, targetId);
    if (target === null) return { status: 204, headers: {} };
    return recordReply(service, request, targetTable, target, read);
  }
  let source: Source;
  let target: Table | undefined;
  if (navigation.kind === 'collection') {
    target = service.schema.tables.get(navigation.source);
    source = { kind: 'oneToMany', column: navigation.column, id, type: table.logicalName };
  } else {
    target = service.schema.tables.get(navigation.target);
    const side = manyToManySide(service.schema, table, navigation.name);
    if (side === undefined) throw notFoundSegment(name);
    source = { kind: 'manyToMany', ...side, id };
  }
  if (target === undefined) throw notFoundSegment(name);
  if (countOnly) return countRows(service, request, target, source);
  return readCollection(service, request, target, source, target.entitySetName);
}

/** `set(<key>)/<column>`: GET its value, PUT `{"value": …}`, DELETE (sets null). */
function propertyRoute(service: Service, request: Request, table: Table, row: Row, column: Column): Reply {
  const { method, body } = request;
  const id = String(row[table.primaryIdAttribute]);
  if (method === 'GET') {
    // Retrieve with a ColumnSet of that one column: refused for a write-only column, which PUT/DELETE still set.
    if (!column.validForRead) throw notValidForRead(table.logicalName, column.name);
    const name = propertyName(column);
    const context = `${service.webApi}$metadata#${table.entitySetName}(${id})/${name}`;
    const value = rowToJson(table, row)[name] ?? null;
    // A complex value is its own object beside the context (OData JSON Format 4.01, "Individual Property").
    if (column.type === 'managedproperty' && isJsonObject(value))
      return json(200, { '@odata.context': context, ...value });
    return json(200, { '@odata.context': context, value });
  }
  if (isLookupType(column.type))
    throw badRequest(
      'CRM do not support direct update of Entity Reference properties, Use Navigation properties instead.',
    );
  if (method !== 'PUT' && method !== 'DELETE') throw methodNotAllowed(method, ['GET', 'PUT', 'DELETE']);
  if (column.readOnly || column.name === table.primaryIdAttribute)
    throw badRequest(`The property '${column.name}' cannot be updated.`);
  let value: unknown = null;
  if (method === 'PUT') {
    if (!isJsonObject(body) || !('value' in body))
      throw badRequest('The request body must be an object with a "value" property.');
    value = body.value;
  }
  toStoredValue(table, column, value, isJsonObject(body) ? inexactLiteral(body, 'value') : undefined);
  service.store.transaction(() => updateRecord(service.ctx, table, id, { [column.name]: value }));
  return { status: 204, headers: {} };
}

/** `…/<navigation>/$ref`: associate (POST, or PUT for a single-valued one) and disassociate (DELETE). */
function referenceRoute(
  service: Service,
  request: Request,
  table: Table,
  id: string,
  navigationName: string,
  refKey: string | undefined,
): Reply {
  const { method, body } = request;
  const { schema, store } = service;
  const navigation = table.navigations.get(navigationName);
  if (navigation === undefined) throw notFoundSegment(navigationName);
  if (method === 'GET' && navigation.kind === 'single') {
    // The related record's URL (OData 4.01 §11.2.9): `@odata.id`, or 204 when the lookup is empty.
    const row = store.get(table, id);
    const targetId = row?.[navigation.column.name];
    const typeColumn = row?.[`${navigation.column.name}__type`];
    const target = schema.tables.get(typeof typeColumn === 'string' ? typeColumn : navigation.target);
    if (typeof targetId !== 'string' || target === undefined) return { status: 204, headers: {} };
    return json(200, {
      '@odata.context': `${service.webApi}$metadata#$ref`,
      '@odata.id': service.entityUrl(target, targetId),
    });
  }
  if (method === 'POST' || method === 'PUT') {
    if ((method === 'PUT') !== (navigation.kind === 'single')) {
      throw methodNotAllowed(method, navigation.kind === 'single' ? ['PUT', 'DELETE'] : ['POST', 'DELETE']);
    }
    if (!isJsonObject(body)) throw badRequest('The request body must be an object with "@odata.id".');
    const ref = parseReference(schema, body['@odata.id']);
    store.transaction(() => associate(service.ctx, table, id, navigationName, ref));
    return { status: 204, headers: {} };
  }
  if (method !== 'DELETE') throw methodNotAllowed(method, ['POST', 'PUT', 'DELETE']);
  store.transaction(() => {
    if (navigation.kind === 'single') {
      checkSettable(table, navigation);
      updateRecord(service.ctx, table, id, {}, lookupValues(navigation.column, null));
      return;
    }
    let otherId = refKey;
    const idParam = request.url.query.id?.value;
    if (otherId === undefined && idParam !== undefined) otherId = parseReference(schema, idParam).id;
    if (otherId === undefined || !isGuid(otherId))
      throw badRequest('The related record must be named by key or by $id.');
    otherId = otherId.toLowerCase();
    if (navigation.kind === 'collection') {
      const source = schema.tables.get(navigation.source);
      const other = source === undefined ? null : store.get(source, otherId);
      const column = source?.columns.get(navigation.column);
      if (source === undefined || column === undefined || other === null || other[navigation.column] !== id)
        throw recordNotFound(navigation.source, otherId);
      checkSettable(source, { name: navigation.partner, column });
      updateRecord(service.ctx, source, otherId, {}, lookupValues(column, null));
      return;
    }
    const side = manyToManySide(schema, table, navigation.name);
    if (side === undefined) throw notFoundSegment(navigationName);
    const first = side.mine === 'a';
    store.disassociate(side.relationship, first ? id : otherId, first ? otherId : id);
  });
  return { status: 204, headers: {} };
}

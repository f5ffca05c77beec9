import { preferenceApplied } from '../annotations';
import type { Reply } from '../reply';
import { json } from './answers';
import type { Request, Service } from './context';
import { only } from './context';
import { checkQuery } from './options';

/** `GET /api/data/v9.2/`: the service document, one entry per entity set. */
export function serviceDocument(service: Service, request: Request): Reply {
  only(request.method, ['GET']);
  return json(200, {
    '@odata.context': `${service.webApi}$metadata`,
    value: [...service.schema.tables.values()].map((t) => ({
      name: t.entitySetName,
      kind: 'EntitySet',
      url: t.entitySetName,
    })),
  });
}

/** `GET $metadata`: the CSDL generated from the schema at start. */
export function metadataDocument(service: Service, request: Request): Reply {
  only(request.method, ['GET']);
  return { status: 200, headers: { 'Content-Type': 'application/xml' }, body: service.metadataXml };
}

/** `EntityDefinitions…` (entityDefinitions.ts). */
export function entityDefinitionsRoute(service: Service, request: Request): Reply {
  only(request.method, ['GET']);
  checkQuery(request.url, request.method);
  const answer = service.entityDefinitions.handle(request.url, service.webApi);
  return json(200, answer, preferenceApplied(request.prefer, false));
}

/** `RelationshipDefinitions…` (entityDefinitions.ts). */
export function relationshipDefinitionsRoute(service: Service, request: Request): Reply {
  only(request.method, ['GET']);
  checkQuery(request.url, request.method);
  const answer = service.entityDefinitions.relationships(request.url, service.webApi);
  return json(200, answer, preferenceApplied(request.prefer, false));
}

/** `GlobalOptionSetDefinitions…` (entityDefinitions.ts). */
export function globalOptionSetsRoute(service: Service, request: Request): Reply {
  only(request.method, ['GET']);
  checkQuery(request.url, request.method);
  const answer = service.entityDefinitions.optionSets(request.url, service.webApi);
  return json(200, answer, preferenceApplied(request.prefer, false));
}

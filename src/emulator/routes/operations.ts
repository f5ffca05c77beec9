import type { ExpressionNode, NameSegment } from '../../odata/url';
import { DataverseHttpError, ErrorCodes, guessed } from '../errors';
import type { Reply } from '../reply';
import { json, noResource } from './answers';
import type { Request, Service } from './context';

/**
 * Unbound functions the emulator answers (Web API function reference): `WhoAmI`, `RetrieveVersion`,
 * `RetrieveTotalRecordCount`. Any other operation the `$metadata` declares answers "not implemented", never 404.
 */

/** What `RetrieveVersion` answers: Dataverse's major and minor version, which the emulator's Web API speaks. */
export const EMULATOR_VERSION = '9.2.0.0';

type Operation = (service: Service, request: Request, segment: NameSegment) => Reply;

/** Functions answer GET only; ASP.NET Web API has no route for another method. */
function functionOnly(service: Service, request: Request, name: string): void {
  if (request.method !== 'GET') throw noResource(`${service.webApi}${name}`);
}

/** https://learn.microsoft.com/power-apps/developer/data-platform/webapi/reference/whoami */
function whoAmI(service: Service, request: Request): Reply {
  functionOnly(service, request, 'WhoAmI');
  return json(200, {
    '@odata.context': `${service.webApi}$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse`,
    BusinessUnitId: service.caller.businessUnitId,
    UserId: service.caller.userId,
    OrganizationId: service.organization.organizationId,
  });
}

/** https://learn.microsoft.com/power-apps/developer/data-platform/webapi/reference/retrieveversion */
function retrieveVersion(service: Service, request: Request): Reply {
  functionOnly(service, request, 'RetrieveVersion');
  return json(200, {
    '@odata.context': `${service.webApi}$metadata#Microsoft.Dynamics.CRM.RetrieveVersionResponse`,
    Version: EMULATOR_VERSION,
  });
}

/** A parameter's value: written in place, or a parameter alias (`EntityNames=@p1&@p1=[...]`). */
function parameter(request: Request, segment: NameSegment, name: string): ExpressionNode | undefined {
  const args = segment.args;
  const value = args?.kind === 'namedValues' ? args.values.find((v) => v.name === name)?.value : undefined;
  if (value?.kind !== 'alias') return value;
  return request.url.query.aliases.find((a) => a.name === value.name)?.value;
}

/**
 * https://learn.microsoft.com/power-apps/developer/data-platform/webapi/reference/retrievetotalrecordcount:
 * `EntityRecordCountCollection` with the tables' logical names (`Keys`) and counts (`Values`). Dataverse counts
 * from a snapshot up to a day old; the emulator counts now.
 */
function retrieveTotalRecordCount(service: Service, request: Request, segment: NameSegment): Reply {
  functionOnly(service, request, 'RetrieveTotalRecordCount');
  const names = parameter(request, segment, 'EntityNames');
  if (names?.kind !== 'array' || names.items.some((i) => i.kind !== 'literal' || i.literalType !== 'string')) {
    throw guessed(
      400,
      'invalidArgument',
      'RetrieveTotalRecordCount needs EntityNames, an array of table logical names.',
    );
  }
  const keys = names.items.map((i) => (i.kind === 'literal' ? String(i.value) : ''));
  const engine = service.engine(request);
  const values = keys.map((name) => {
    const table = service.schema.tables.get(name);
    if (table === undefined) {
      throw new DataverseHttpError(
        404,
        ErrorCodes.objectDoesNotExist,
        `Could not find entity with logical name '${name}'.`,
      );
    }
    return engine.count(table, { kind: 'set' }, undefined);
  });
  return json(200, {
    '@odata.context': `${service.webApi}$metadata#Microsoft.Dynamics.CRM.RetrieveTotalRecordCountResponse`,
    EntityRecordCountCollection: { Count: keys.length, IsReadOnly: false, Keys: keys, Values: values },
  });
}

const OPERATIONS: ReadonlyMap<string, Operation> = new Map<string, Operation>([
  ['WhoAmI', whoAmI],
  ['RetrieveVersion', retrieveVersion],
  ['RetrieveTotalRecordCount', retrieveTotalRecordCount],
]);

const QUALIFIER = 'Microsoft.Dynamics.CRM.';

/** The operation's name without the `Microsoft.Dynamics.CRM.` qualifier bound operations are called with. */
function unqualified(name: string): string {
  return name.startsWith(QUALIFIER) ? name.slice(QUALIFIER.length) : name;
}

/** The names of the functions and actions the served `$metadata` declares, read once. */
const declared = new WeakMap<Service, ReadonlySet<string>>();
function declaredOperations(service: Service): ReadonlySet<string> {
  let names = declared.get(service);
  if (names === undefined) {
    const found = new Set<string>();
    for (const match of service.metadataXml.matchAll(/<(?:Function|Action)\s+Name="([^"]+)"/g)) {
      if (match[1] !== undefined) found.add(match[1]);
    }
    names = found;
    declared.set(service, names);
  }
  return names;
}

/** The answer of an unbound operation the emulator serves or the `$metadata` declares; undefined otherwise. */
export function unboundOperation(
  service: Service,
  request: Request,
  segment: NameSegment,
  last: boolean,
): Reply | undefined {
  const operation = OPERATIONS.get(segment.name);
  if (operation !== undefined && last) return operation(service, request, segment);
  refuseDeclared(service, segment.name);
  return undefined;
}

/**
 * An operation the `$metadata` declares that the emulator does not run (bound, `accounts(<id>)/Microsoft.Dynamics.
 * CRM.X`, or unbound): Dataverse's "not implemented" error naming the emulator, never a 404 that reads as a typo.
 * Returns when no operation of that name is declared.
 */
export function refuseDeclared(service: Service, name: string): void {
  const bare = unqualified(name);
  if (!declaredOperations(service).has(bare)) return;
  throw new DataverseHttpError(
    501,
    ErrorCodes.notImplemented,
    `The Dataverse emulator does not implement the '${bare}' message. Dataverse runs it; test this request against an environment.`,
  );
}

import type { Reply } from '../reply';
import { json, noResource } from './answers';
import type { Request, Service } from './context';

/** `WhoAmI()` (reference §9): the caller, its business unit and the organization. */
export function whoAmI(service: Service, request: Request): Reply {
  // What Dataverse answers for a POST to a function.
  if (request.method !== 'GET') throw noResource(`${service.webApi}WhoAmI`);
  return json(200, {
    '@odata.context': `${service.webApi}$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse`,
    BusinessUnitId: service.caller.businessUnitId,
    UserId: service.caller.userId,
    OrganizationId: service.organization.organizationId,
  });
}

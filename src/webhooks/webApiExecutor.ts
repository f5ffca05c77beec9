import { WorkbenchError } from '../core/errors';
import type { JsonObject } from '../core/json';
import { isJsonObject } from '../core/json';
import type { WebApiClient } from '../dataverse/webApiClient';
import type {
  EntitySetName,
  PlanExecutor,
  RegisteredState,
  SdkMessageFilterRecord,
  SdkMessageRecord,
  ServiceEndpointRecord,
  StepRecord,
} from './plan';
import {
  endpointRecord,
  ENDPOINT_SELECT,
  IMAGE_SELECT,
  imageRecord,
  malformed,
  RowReader,
  STEP_SELECT,
  stepRecord,
} from './registrationModel';

// The plan's operations over the Dataverse Web API (reference §13), and the snapshot of what is
// registered that planning starts from, read with the columns and readers of registrationModel.ts.

const PRIMARY_KEY: Record<EntitySetName, string> = {
  serviceendpoints: 'serviceendpointid',
  sdkmessageprocessingsteps: 'sdkmessageprocessingstepid',
  sdkmessageprocessingstepimages: 'sdkmessageprocessingstepimageid',
};

/** Ids per `$filter` of `or`ed comparisons: keeps URLs far below Dataverse's length limit. */
const IDS_PER_QUERY = 25;

function literal(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

async function rowsWhereIdIn(
  client: WebApiClient,
  set: string,
  column: string,
  select: readonly string[],
  ids: readonly string[],
  signal: AbortSignal | undefined,
): Promise<JsonObject[]> {
  const rows: JsonObject[] = [];
  for (const group of chunks([...new Set(ids)], IDS_PER_QUERY)) {
    const filter = group.map((id) => `${column} eq ${id}`).join(' or ');
    const path = `${set}?$select=${select.join(',')}&$filter=${encodeURIComponent(filter)}`;
    for await (const row of client.rows(path, signal === undefined ? {} : { signal })) rows.push(row);
  }
  return rows;
}

/**
 * What is registered: every service endpoint, their steps (through `serviceendpoint_sdkmessageprocessingstep`,
 * so plug-in steps are never read), the steps' images, and the messages and filters the steps point at.
 */
export async function loadRegisteredState(client: WebApiClient, signal?: AbortSignal): Promise<RegisteredState> {
  const options = signal === undefined ? {} : { signal };
  const serviceEndpoints: ServiceEndpointRecord[] = [];
  for await (const row of client.rows(`serviceendpoints?$select=${ENDPOINT_SELECT.join(',')}`, options)) {
    serviceEndpoints.push(endpointRecord(row));
  }
  const steps: StepRecord[] = [];
  for (const endpoint of serviceEndpoints) {
    const path = `serviceendpoints(${endpoint.serviceendpointid})/serviceendpoint_sdkmessageprocessingstep?$select=${STEP_SELECT.join(',')}`;
    for await (const row of client.rows(path, options)) steps.push(stepRecord(row, endpoint.serviceendpointid));
  }
  const stepIds = steps.map((step) => step.sdkmessageprocessingstepid);
  const images = (
    await rowsWhereIdIn(
      client,
      'sdkmessageprocessingstepimages',
      '_sdkmessageprocessingstepid_value',
      IMAGE_SELECT,
      stepIds,
      signal,
    )
  ).map(imageRecord);
  const sdkMessages: SdkMessageRecord[] = (
    await rowsWhereIdIn(
      client,
      'sdkmessages',
      'sdkmessageid',
      ['sdkmessageid', 'name'],
      steps.map((step) => step._sdkmessageid_value),
      signal,
    )
  ).map((row) => {
    const r = new RowReader(row, 'sdkmessages');
    return { sdkmessageid: r.id('sdkmessageid'), name: r.string('name') };
  });
  const filterIds = steps.flatMap((step) =>
    step._sdkmessagefilterid_value === null || step._sdkmessagefilterid_value === undefined
      ? []
      : [step._sdkmessagefilterid_value],
  );
  const sdkMessageFilters: SdkMessageFilterRecord[] = (
    await rowsWhereIdIn(
      client,
      'sdkmessagefilters',
      'sdkmessagefilterid',
      ['sdkmessagefilterid', '_sdkmessageid_value', 'primaryobjecttypecode'],
      filterIds,
      signal,
    )
  ).map((row) => {
    const r = new RowReader(row, 'sdkmessagefilters');
    return {
      sdkmessagefilterid: r.id('sdkmessagefilterid'),
      _sdkmessageid_value: r.id('_sdkmessageid_value'),
      primaryobjecttypecode: r.string('primaryobjecttypecode'),
    };
  });
  return { serviceEndpoints, steps, images, sdkMessages, sdkMessageFilters };
}

async function firstId(
  client: WebApiClient,
  path: string,
  column: string,
  signal: AbortSignal | undefined,
): Promise<string | undefined> {
  const page = await client.get(path, signal === undefined ? {} : { signal });
  const value = page.value;
  if (!Array.isArray(value)) throw new WorkbenchError('odata', 'The collection answer has no "value" list.');
  const first: unknown = value[0];
  if (first === undefined) return undefined;
  if (!isJsonObject(first)) throw malformed(path.split('?')[0] ?? path, column);
  return new RowReader(first, path.split('?')[0] ?? path).id(column);
}

/** Carries out plan operations with the Web API; creates send their own key, so a retried POST cannot duplicate. */
export function createWebApiExecutor(client: WebApiClient, signal?: AbortSignal): PlanExecutor {
  const options = signal === undefined ? {} : { signal };
  return {
    create: async (entitySet, body) => {
      const result = await client.create(entitySet, { ...body }, { primaryKey: PRIMARY_KEY[entitySet], ...options });
      if (result.id === undefined) throw new WorkbenchError('odata', `Creating in ${entitySet} returned no id.`);
      return result.id;
    },
    update: async (entitySet, id, body) => {
      await client.update(entitySet, id, { ...body }, options);
    },
    delete: async (entitySet, id) => {
      await client.delete(entitySet, id, options);
    },
    findMessageId: async (name) => {
      const filter = encodeURIComponent(`name eq ${literal(name)}`);
      const id = await firstId(client, `sdkmessages?$select=sdkmessageid&$filter=${filter}`, 'sdkmessageid', signal);
      if (id === undefined) throw new WorkbenchError('notFound', `There is no SDK message named '${name}'.`);
      return id;
    },
    findMessageFilterId: async (messageId, table) => {
      const filter = encodeURIComponent(
        `primaryobjecttypecode eq ${literal(table)} and _sdkmessageid_value eq ${messageId}`,
      );
      const id = await firstId(
        client,
        `sdkmessagefilters?$select=sdkmessagefilterid&$filter=${filter}`,
        'sdkmessagefilterid',
        signal,
      );
      if (id === undefined) {
        throw new WorkbenchError('notFound', `Steps cannot be registered for that message on the table '${table}'.`);
      }
      return id;
    },
  };
}

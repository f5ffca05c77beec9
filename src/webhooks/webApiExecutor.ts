import { WorkbenchError } from '../core/errors';
import type { JsonObject, WebApiClient } from '../dataverse/webApiClient';
import type {
  EntitySetName,
  ImageRecord,
  PlanExecutor,
  RegisteredState,
  SdkMessageFilterRecord,
  SdkMessageRecord,
  ServiceEndpointRecord,
  StepRecord,
} from './plan';

// The plan's operations over the Dataverse Web API (reference §13), and the snapshot of what is
// registered that planning starts from. Rows are read with explicit `$select`s and checked field by
// field: the answer is outside input, and a missing column must not read as "different".

const PRIMARY_KEY: Record<EntitySetName, string> = {
  serviceendpoints: 'serviceendpointid',
  sdkmessageprocessingsteps: 'sdkmessageprocessingstepid',
  sdkmessageprocessingstepimages: 'sdkmessageprocessingstepimageid',
};

export const ENDPOINT_SELECT = [
  'serviceendpointid',
  'name',
  'description',
  'contract',
  'url',
  'authtype',
  'isauthvalueset',
  'messageformat',
  'namespaceaddress',
  'namespaceformat',
  'solutionnamespace',
  'path',
  'saskeyname',
  'issaskeyset',
  'issastokenset',
] as const;

export const STEP_SELECT = [
  'sdkmessageprocessingstepid',
  'name',
  'description',
  'stage',
  'mode',
  'rank',
  'filteringattributes',
  'asyncautodelete',
  'supporteddeployment',
  'statecode',
  'statuscode',
  '_eventhandler_value',
  '_sdkmessageid_value',
  '_sdkmessagefilterid_value',
] as const;

export const IMAGE_SELECT = [
  'sdkmessageprocessingstepimageid',
  'name',
  'entityalias',
  'imagetype',
  'messagepropertyname',
  'attributes',
  'description',
  '_sdkmessageprocessingstepid_value',
] as const;

/** Ids per `$filter` of `or`ed comparisons: keeps URLs far below Dataverse's length limit. */
const IDS_PER_QUERY = 25;

function literal(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}

function malformed(set: string, column: string): WorkbenchError {
  return new WorkbenchError('odata', `A row of ${set} has no valid '${column}'.`);
}

/** Typed reads of one answer row; `set` names it in errors. */
class RowReader {
  constructor(
    private readonly row: JsonObject,
    private readonly set: string,
  ) {}

  id(column: string): string {
    const value = this.row[column];
    if (typeof value !== 'string' || !/^[0-9a-f-]{36}$/i.test(value)) throw malformed(this.set, column);
    return value.toLowerCase();
  }

  optionalId(column: string): string | null {
    return this.row[column] === null || this.row[column] === undefined ? null : this.id(column);
  }

  string(column: string): string {
    const value = this.row[column];
    if (typeof value !== 'string') throw malformed(this.set, column);
    return value;
  }

  optionalString(column: string): string | null {
    const value = this.row[column];
    if (value === null || value === undefined) return null;
    if (typeof value !== 'string') throw malformed(this.set, column);
    return value;
  }

  number(column: string): number {
    const value = this.row[column];
    if (typeof value !== 'number') throw malformed(this.set, column);
    return value;
  }

  optionalNumber(column: string): number | null {
    const value = this.row[column];
    if (value === null || value === undefined) return null;
    if (typeof value !== 'number') throw malformed(this.set, column);
    return value;
  }

  boolean(column: string): boolean {
    const value = this.row[column];
    if (value === null || value === undefined) return false;
    if (typeof value !== 'boolean') throw malformed(this.set, column);
    return value;
  }
}

function endpointRecord(row: JsonObject): ServiceEndpointRecord {
  const r = new RowReader(row, 'serviceendpoints');
  return {
    serviceendpointid: r.id('serviceendpointid'),
    name: r.string('name'),
    description: r.optionalString('description'),
    contract: r.number('contract'),
    url: r.optionalString('url'),
    authtype: r.optionalNumber('authtype'),
    isauthvalueset: r.boolean('isauthvalueset'),
    messageformat: r.optionalNumber('messageformat'),
    namespaceaddress: r.optionalString('namespaceaddress'),
    namespaceformat: r.optionalNumber('namespaceformat'),
    solutionnamespace: r.optionalString('solutionnamespace'),
    path: r.optionalString('path'),
    saskeyname: r.optionalString('saskeyname'),
    issaskeyset: r.boolean('issaskeyset'),
    issastokenset: r.boolean('issastokenset'),
  };
}

function stepRecord(row: JsonObject, endpointId: string): StepRecord {
  const r = new RowReader(row, 'sdkmessageprocessingsteps');
  const supporteddeployment = r.optionalNumber('supporteddeployment');
  return {
    sdkmessageprocessingstepid: r.id('sdkmessageprocessingstepid'),
    name: r.string('name'),
    description: r.optionalString('description'),
    stage: r.number('stage'),
    mode: r.number('mode'),
    rank: r.number('rank'),
    filteringattributes: r.optionalString('filteringattributes'),
    asyncautodelete: r.boolean('asyncautodelete'),
    ...(supporteddeployment === null ? {} : { supporteddeployment }),
    statecode: r.number('statecode'),
    statuscode: r.number('statuscode'),
    // Read through the endpoint's navigation, so the endpoint is known even where the lookup is polymorphic.
    _eventhandler_value: r.optionalId('_eventhandler_value') ?? endpointId,
    _sdkmessageid_value: r.id('_sdkmessageid_value'),
    _sdkmessagefilterid_value: r.optionalId('_sdkmessagefilterid_value'),
  };
}

function imageRecord(row: JsonObject): ImageRecord {
  const r = new RowReader(row, 'sdkmessageprocessingstepimages');
  return {
    sdkmessageprocessingstepimageid: r.id('sdkmessageprocessingstepimageid'),
    name: r.string('name'),
    entityalias: r.string('entityalias'),
    imagetype: r.number('imagetype'),
    messagepropertyname: r.string('messagepropertyname'),
    attributes: r.optionalString('attributes'),
    description: r.optionalString('description'),
    _sdkmessageprocessingstepid_value: r.id('_sdkmessageprocessingstepid_value'),
  };
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
  if (typeof first !== 'object' || first === null) throw malformed(path.split('?')[0] ?? path, column);
  return new RowReader(first as JsonObject, path.split('?')[0] ?? path).id(column);
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

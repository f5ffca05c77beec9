import { WorkbenchError } from '../../core/errors';
import type { JsonObject, WebApiClient } from '../../dataverse/webApiClient';
import { MetadataIndex } from '../../metadata/lookup';
import type { MetadataCache } from '../../dataverse/metadataCache';
import type { Plan, PlanOperation, RegisteredState } from '../../webhooks/plan';
import { applyPlan, computePlan } from '../../webhooks/plan';
import type { SecretRef, ValidationIssue } from '../../webhooks/registrationFile';
import { validateRegistrationFile } from '../../webhooks/registrationFile';
import { createWebApiExecutor } from '../../webhooks/webApiExecutor';

// Reads and writes of service endpoints, steps and images for the VS Code commands. Every rule and
// every column mapping comes from src/webhooks: a prompted registration is turned into the same
// JSON a `dataverse.webhooks.json` holds, validated by `validateRegistrationFile`, and planned by
// `computePlan`, so the commands and the declarative file can never disagree.

export const CONTRACTS: Readonly<Record<number, string>> = {
  1: 'One-way',
  2: 'Service Bus queue',
  3: 'REST',
  4: 'Two-way',
  5: 'Service Bus topic',
  6: 'Persistent queue',
  7: 'Event Hub',
  8: 'Webhook',
  9: 'Event Grid',
  10: 'Managed Data Lake',
};

/** The file's endpoint kinds by `contract`: only these can take steps from the commands. */
export const KIND_OF_CONTRACT: Readonly<
  Record<number, 'serviceBusQueue' | 'serviceBusTopic' | 'eventHub' | 'webhook' | 'eventGrid'>
> = { 2: 'serviceBusQueue', 5: 'serviceBusTopic', 7: 'eventHub', 8: 'webhook', 9: 'eventGrid' };

export const STAGE_LABELS: Readonly<Record<number, string>> = {
  10: 'Pre-validation',
  20: 'Pre-operation',
  40: 'Post-operation',
  50: 'Post-operation (deprecated)',
};
export const STAGE_NAMES = { 10: 'pre-validation', 20: 'pre-operation', 40: 'post-operation' } as const;
export const IMAGE_TYPE_LABELS: Readonly<Record<number, string>> = {
  0: 'Pre-image',
  1: 'Post-image',
  2: 'Pre and post',
};
export const IMAGE_TYPE_NAMES = { 0: 'pre', 1: 'post', 2: 'both' } as const;

export interface EndpointRow {
  readonly id: string;
  readonly name: string;
  readonly contract: number;
  readonly url: string | undefined;
  readonly authtype: number | undefined;
  readonly path: string | undefined;
  readonly namespace: string | undefined;
  readonly messageformat: number | undefined;
  readonly saskeyname: string | undefined;
  readonly description: string | undefined;
}

export interface StepRow {
  readonly id: string;
  readonly name: string;
  readonly endpointId: string;
  readonly message: string | undefined;
  readonly table: string | undefined;
  readonly stage: number;
  readonly mode: number;
  readonly rank: number;
  readonly filteringAttributes: readonly string[];
  readonly description: string | undefined;
  readonly asyncAutoDelete: boolean;
  readonly enabled: boolean;
}

export interface ImageRow {
  readonly id: string;
  readonly name: string;
  readonly alias: string;
  readonly imagetype: number;
  readonly attributes: readonly string[];
  readonly stepId: string;
}

export interface SdkMessage {
  readonly id: string;
  readonly name: string;
}

export interface MessageFilter {
  readonly id: string;
  readonly table: string;
}

const str = (value: unknown): string | undefined => (typeof value === 'string' && value !== '' ? value : undefined);
const num = (value: unknown): number | undefined => (typeof value === 'number' ? value : undefined);
const list = (value: unknown): string[] =>
  typeof value === 'string'
    ? value
        .split(',')
        .map((item) => item.trim())
        .filter((item) => item !== '')
    : [];
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function guid(value: unknown, what: string): string {
  if (typeof value !== 'string' || !GUID.test(value))
    throw new WorkbenchError('odata', `The service returned ${what} without a valid id.`);
  return value;
}

// Secrets (authvalue, saskey, sastoken) are write-only in Dataverse and never selected here.
const ENDPOINT_SELECT =
  'serviceendpointid,name,contract,url,authtype,path,solutionnamespace,messageformat,saskeyname,description';
const STEP_SELECT =
  'sdkmessageprocessingstepid,name,_eventhandler_value,_sdkmessageid_value,_sdkmessagefilterid_value,stage,mode,rank,filteringattributes,description,asyncautodelete,statecode';
const IMAGE_SELECT =
  'sdkmessageprocessingstepimageid,name,entityalias,imagetype,attributes,_sdkmessageprocessingstepid_value';

function endpointRow(row: JsonObject): EndpointRow {
  return {
    id: guid(row.serviceendpointid, 'a service endpoint'),
    name: str(row.name) ?? '(no name)',
    contract: num(row.contract) ?? 0,
    url: str(row.url),
    authtype: num(row.authtype),
    path: str(row.path),
    namespace: str(row.solutionnamespace),
    messageformat: num(row.messageformat),
    saskeyname: str(row.saskeyname),
    description: str(row.description),
  };
}

function imageRow(row: JsonObject): ImageRow {
  return {
    id: guid(row.sdkmessageprocessingstepimageid, 'an image'),
    name: str(row.name) ?? '(no name)',
    alias: str(row.entityalias) ?? '',
    imagetype: num(row.imagetype) ?? 0,
    attributes: list(row.attributes),
    stepId: guid(row._sdkmessageprocessingstepid_value, 'an image step'),
  };
}

/** What the tree and the commands read; message names and filter tables are cached per client. */
export class Registrations {
  private messages: Promise<readonly SdkMessage[]> | undefined;
  private readonly filters = new Map<string, Promise<readonly MessageFilter[]>>();
  private readonly filterTables = new Map<string, string>();

  constructor(
    readonly client: WebApiClient,
    private readonly metadata: MetadataCache,
  ) {}

  async endpoints(signal?: AbortSignal): Promise<EndpointRow[]> {
    const { rows: found } = await this.client.collectAll(
      `serviceendpoints?$select=${ENDPOINT_SELECT}&$orderby=name`,
      signal === undefined ? {} : { signal },
    );
    return found.map(endpointRow);
  }

  async endpoint(id: string, signal?: AbortSignal): Promise<EndpointRow> {
    return endpointRow(await this.client.get(`serviceendpoints(${id})?$select=${ENDPOINT_SELECT}`, { signal }));
  }

  async steps(endpointId: string, signal?: AbortSignal): Promise<StepRow[]> {
    const { rows: found } = await this.client.collectAll(
      `sdkmessageprocessingsteps?$select=${STEP_SELECT}&$filter=_eventhandler_value eq ${guid(endpointId, 'an endpoint')}&$orderby=name`,
      signal === undefined ? {} : { signal },
    );
    return Promise.all(found.map((row) => this.stepRow(row, signal)));
  }

  async step(id: string, signal?: AbortSignal): Promise<StepRow> {
    return this.stepRow(await this.client.get(`sdkmessageprocessingsteps(${id})?$select=${STEP_SELECT}`, { signal }));
  }

  async images(stepId: string, signal?: AbortSignal): Promise<ImageRow[]> {
    const { rows: found } = await this.client.collectAll(
      `sdkmessageprocessingstepimages?$select=${IMAGE_SELECT}&$filter=_sdkmessageprocessingstepid_value eq ${guid(stepId, 'a step')}&$orderby=name`,
      signal === undefined ? {} : { signal },
    );
    return found.map(imageRow);
  }

  /** Public messages, the common ones first. */
  async sdkMessages(signal?: AbortSignal): Promise<readonly SdkMessage[]> {
    this.messages ??= this.client
      .collectAll('sdkmessages?$select=sdkmessageid,name&$filter=isprivate eq false&$orderby=name', {
        ...(signal === undefined ? {} : { signal }),
      })
      .then(({ rows: found }) =>
        found.flatMap((row) => {
          const name = str(row.name);
          return name === undefined ? [] : [{ id: guid(row.sdkmessageid, 'a message'), name }];
        }),
      );
    this.messages.catch(() => {
      this.messages = undefined;
    });
    return this.messages;
  }

  async messageNamed(name: string, signal?: AbortSignal): Promise<SdkMessage> {
    const found = (await this.sdkMessages(signal)).find((message) => message.name === name);
    if (found === undefined) throw new WorkbenchError('notFound', `This environment has no message "${name}".`);
    return found;
  }

  /** The tables a message can take a step on. */
  async messageFilters(messageId: string, signal?: AbortSignal): Promise<readonly MessageFilter[]> {
    let pending = this.filters.get(messageId);
    if (pending === undefined) {
      pending = this.client
        .collectAll(
          `sdkmessagefilters?$select=sdkmessagefilterid,primaryobjecttypecode&$filter=_sdkmessageid_value eq ${guid(messageId, 'a message')} and iscustomprocessingstepallowed eq true`,
          signal === undefined ? {} : { signal },
        )
        .then(({ rows: found }) =>
          found
            .flatMap((row) => {
              const table = str(row.primaryobjecttypecode);
              if (table === undefined) return [];
              const id = guid(row.sdkmessagefilterid, 'a message filter');
              this.filterTables.set(id, table);
              return [{ id, table }];
            })
            .sort((a, b) => a.table.localeCompare(b.table)),
        );
      this.filters.set(messageId, pending);
      pending.catch(() => this.filters.delete(messageId));
    }
    return pending;
  }

  /** Column logical names of a table, from `$metadata` (lookups by their column name, not `_x_value`). */
  async columns(table: string, signal?: AbortSignal): Promise<readonly string[]> {
    const { model } = await this.metadata.get(signal === undefined ? {} : { signal });
    const index = new MetadataIndex(model);
    const type = index.entityType(table);
    if (type === undefined) throw new WorkbenchError('notFound', `The $metadata does not describe the table ${table}.`);
    const names = index.properties(type).map((property) => /^_(.+)_value$/.exec(property.name)?.[1] ?? property.name);
    return [...new Set(names)].sort();
  }

  async setEnabled(stepId: string, enabled: boolean): Promise<void> {
    await this.client.update('sdkmessageprocessingsteps', stepId, {
      statecode: enabled ? 0 : 1,
      statuscode: enabled ? 1 : 2,
    });
  }

  /** Deletes images, then steps, then the endpoint: a Web API without cascades leaves nothing behind. */
  async unregisterEndpoint(endpointId: string): Promise<{ steps: number; images: number }> {
    let images = 0;
    const steps = await this.steps(endpointId);
    for (const step of steps) images += await this.unregisterStep(step.id);
    await this.client.delete('serviceendpoints', endpointId);
    return { steps: steps.length, images };
  }

  async unregisterStep(stepId: string): Promise<number> {
    const images = await this.images(stepId);
    for (const image of images) await this.client.delete('sdkmessageprocessingstepimages', image.id);
    await this.client.delete('sdkmessageprocessingsteps', stepId);
    return images.length;
  }

  async unregisterImage(imageId: string): Promise<void> {
    await this.client.delete('sdkmessageprocessingstepimages', imageId);
  }

  private async stepRow(row: JsonObject, signal?: AbortSignal): Promise<StepRow> {
    const messageId = str(row._sdkmessageid_value);
    const filterId = str(row._sdkmessagefilterid_value);
    const message =
      messageId === undefined ? undefined : (await this.sdkMessages(signal)).find((m) => m.id === messageId);
    let table = filterId === undefined ? undefined : this.filterTables.get(filterId);
    if (table === undefined && filterId !== undefined) {
      const filter = await this.client.get(`sdkmessagefilters(${filterId})?$select=primaryobjecttypecode`, { signal });
      table = str(filter.primaryobjecttypecode);
      if (table !== undefined) this.filterTables.set(filterId, table);
    }
    return {
      id: guid(row.sdkmessageprocessingstepid, 'a step'),
      name: str(row.name) ?? '(no name)',
      endpointId: str(row._eventhandler_value) ?? '',
      message: message?.name,
      table,
      stage: num(row.stage) ?? 0,
      mode: num(row.mode) ?? 0,
      rank: num(row.rank) ?? 1,
      filteringAttributes: list(row.filteringattributes),
      description: str(row.description),
      asyncAutoDelete: row.asyncautodelete === true,
      enabled: num(row.statecode) !== 1,
    };
  }
}

// ---- Registering through the file engine ----------------------------------------------------------

/** A file fragment as JSON (what `dataverse.webhooks.json` holds), secrets as `{ env }` references. */
export type JsonSpec = Readonly<Record<string, unknown>>;

/** Prompted secrets by the reference name the fragment uses; only ever in memory. */
export type Secrets = ReadonlyMap<string, string>;

/** An endpoint the step-validation can stand on: only its kind matters for the step rules. */
function placeholderEndpoint(kind: string, steps: readonly JsonSpec[]): JsonSpec {
  const secret: SecretRef = { env: 'PLACEHOLDER' };
  const base = { name: 'endpoint', kind, steps };
  switch (kind) {
    case 'webhook':
      return { ...base, url: 'https://example.invalid/', auth: { kind: 'WebhookKey', value: secret } };
    case 'eventGrid':
      return { ...base, url: 'https://example.invalid/', accessKey: secret };
    default:
      return { ...base, namespace: 'placeholder', path: 'placeholder', auth: { kind: 'SASToken', token: secret } };
  }
}

/** Reasons a fragment is refused, from the file validator, with paths made readable. */
export function problemsOf(endpoints: readonly JsonSpec[]): readonly ValidationIssue[] {
  const result = validateRegistrationFile({ endpoints });
  return result.ok ? [] : result.issues;
}

export function describeProblems(issues: readonly ValidationIssue[]): string {
  return issues
    .map((issue) => {
      const member = /\.([A-Za-z]+)(\[\d+\])?$/.exec(issue.path)?.[1];
      return member === undefined || /^(endpoints|steps|images)$/.test(member)
        ? issue.message
        : `${member} ${issue.message}`;
    })
    .join('; ');
}

function refuse(issues: readonly ValidationIssue[]): never {
  throw new WorkbenchError('invalidInput', `Nothing was sent: ${describeProblems(issues)}.`);
}

const EMPTY_STATE: RegisteredState = {
  serviceEndpoints: [],
  steps: [],
  images: [],
  sdkMessages: [],
  sdkMessageFilters: [],
};

/** Plans a fragment against nothing registered: the create operations carry the file's column mapping. */
function plannedCreates(endpoints: readonly JsonSpec[]): readonly PlanOperation[] {
  const result = validateRegistrationFile({ endpoints });
  if (!result.ok) refuse(result.issues);
  return computePlan(result.file, EMPTY_STATE).operations;
}

async function run(
  operations: readonly PlanOperation[],
  registrations: Registrations,
  secrets: Secrets,
): Promise<Readonly<Record<string, string>>> {
  const plan: Plan = { operations };
  const result = await applyPlan(plan, createWebApiExecutor(registrations.client), {
    resolveSecret: (ref) => secrets.get(ref.env),
  });
  return result.ids;
}

function only<T extends PlanOperation['entitySet']>(
  operations: readonly PlanOperation[],
  entitySet: T,
): Extract<PlanOperation, { action: 'create'; entitySet: T }> {
  const found = operations.find(
    (op): op is Extract<PlanOperation, { action: 'create'; entitySet: T }> =>
      op.action === 'create' && op.entitySet === entitySet,
  );
  if (found === undefined) throw new WorkbenchError('internal', `The plan has no ${entitySet} to create.`);
  return found;
}

/** Validates an endpoint fragment (no steps) and creates it; returns the new id. */
export async function registerEndpoint(
  registrations: Registrations,
  endpoint: JsonSpec,
  secrets: Secrets,
): Promise<string> {
  const op = only(plannedCreates([{ ...endpoint, steps: [] }]), 'serviceendpoints');
  const ids = await run([op], registrations, secrets);
  return ids[op.ref] ?? '';
}

/** Validates a step fragment as a step of an endpoint of this kind and creates it there. */
export async function registerStep(
  registrations: Registrations,
  endpoint: EndpointRow,
  step: JsonSpec,
): Promise<string> {
  const kind = KIND_OF_CONTRACT[endpoint.contract];
  if (kind === undefined) {
    throw new WorkbenchError(
      'invalidInput',
      `Nothing was sent: steps can be registered here on webhooks, Service Bus, Event Hub and Event Grid endpoints, not on a ${CONTRACTS[endpoint.contract] ?? `contract ${endpoint.contract}`} endpoint.`,
    );
  }
  const created = only(plannedCreates([placeholderEndpoint(kind, [step])]), 'sdkmessageprocessingsteps');
  const op: PlanOperation = { ...created, endpoint: { id: endpoint.id } };
  const ids = await run([op], registrations, new Map());
  return ids[op.ref] ?? '';
}

/** The step as the file would describe it, for validating an image or an edit against it. */
export function stepSpecOf(step: StepRow, overrides: JsonSpec = {}): Record<string, unknown> {
  const stage = STAGE_NAMES[step.stage as keyof typeof STAGE_NAMES];
  return {
    name: step.name,
    message: step.message ?? 'Unknown',
    table: step.table ?? 'none',
    ...(stage === undefined ? {} : { stage }),
    mode: step.mode === 1 ? 'async' : 'sync',
    rank: step.rank,
    filteringAttributes: step.filteringAttributes.map((column) => column.toLowerCase()),
    deleteAsyncJobOnSuccess: step.asyncAutoDelete,
    enabled: step.enabled,
    ...(step.description === undefined ? {} : { description: step.description }),
    ...overrides,
  };
}

/** Validates an image against its step's message and stage and creates it on the step. */
export async function registerImage(
  registrations: Registrations,
  endpoint: EndpointRow,
  step: StepRow,
  image: JsonSpec,
): Promise<string> {
  const kind = KIND_OF_CONTRACT[endpoint.contract] ?? 'webhook';
  const spec = stepSpecOf(step, { images: [image] });
  const created = only(plannedCreates([placeholderEndpoint(kind, [spec])]), 'sdkmessageprocessingstepimages');
  const op: PlanOperation = { ...created, step: { id: step.id } };
  const ids = await run([op], registrations, new Map());
  return ids[op.ref] ?? '';
}

/** Validates the edited step and sends only the columns that changed; returns their names. */
export async function updateStep(
  registrations: Registrations,
  endpoint: EndpointRow,
  step: StepRow,
  edited: JsonSpec,
): Promise<readonly string[]> {
  const kind = KIND_OF_CONTRACT[endpoint.contract] ?? 'webhook';
  const created = only(plannedCreates([placeholderEndpoint(kind, [edited])]), 'sdkmessageprocessingsteps');
  const current = only(
    plannedCreates([placeholderEndpoint(kind, [stepSpecOf(step, { images: [] })])]),
    'sdkmessageprocessingsteps',
  );
  const changes: Record<string, unknown> = {};
  for (const [column, value] of Object.entries(created.columns)) {
    if (current.columns[column] !== value) changes[column] = value;
  }
  if (Object.keys(changes).length > 0) {
    await registrations.client.update('sdkmessageprocessingsteps', step.id, changes);
  }
  return Object.keys(changes);
}

/** Validates the edited endpoint and sends its columns, with the secrets when new ones were given. */
export async function updateEndpoint(
  registrations: Registrations,
  endpoint: EndpointRow,
  edited: JsonSpec,
  secrets: Secrets,
): Promise<void> {
  const op = only(plannedCreates([{ ...edited, steps: [] }]), 'serviceendpoints');
  const body: Record<string, unknown> = { ...op.columns };
  if (secrets.size > 0) {
    // The same resolution `applyPlan` does for an update, through a one-operation plan.
    await applyPlan(
      {
        operations: [
          {
            action: 'update',
            entitySet: 'serviceendpoints',
            id: endpoint.id,
            label: `endpoint ${endpoint.name}`,
            changes: Object.entries(body).map(([column, to]) => ({
              column,
              from: null,
              to: to as string | number | boolean | null,
            })),
            secrets: op.secrets,
          },
        ],
      },
      createWebApiExecutor(registrations.client),
      { resolveSecret: (ref) => secrets.get(ref.env) },
    );
    return;
  }
  await registrations.client.update('serviceendpoints', endpoint.id, body);
}

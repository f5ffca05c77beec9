import { WorkbenchError } from '../core/errors';
import type { JsonObject } from '../core/json';
import type { MetadataCache } from '../dataverse/metadataCache';
import type { WebApiClient } from '../dataverse/webApiClient';
import { MetadataIndex } from '../metadata/lookup';
import type { ApplyResult, EntitySetName, Plan, PlanOperation, RegisteredState } from './plan';
import { applyPlan, computePlan } from './plan';
import type { SecretRef, ValidationIssue } from './registrationFile';
import { validateRegistrationFile } from './registrationFile';
import {
  CONTRACT_LABELS,
  ENDPOINT_SELECT,
  IMAGE_SELECT,
  imageRecord,
  kindOfContract,
  endpointRecord,
  RowReader,
  STEP_SELECT,
  stageNameOf,
  stepRecord,
} from './registrationModel';
import { createWebApiExecutor, loadRegisteredState } from './webApiExecutor';

// Reads and writes of service endpoints, steps and images for the VS Code commands and tree (which keep the
// prompts and the UI). Rows are read with the columns and checked readers of registrationModel.ts; every
// rule and column mapping of a write comes from the file engine: a prompted registration is turned into the
// same JSON a `dataverse.webhooks.json` holds, validated by `validateRegistrationFile`, and planned by
// `computePlan`, so the commands and the declarative file can never disagree.

/** An endpoint as the tree and the commands show it (its record, optional columns as undefined). */
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
  /** Whether Dataverse holds the endpoint's secret (the secret itself is never read back). */
  readonly secretSet: boolean;
}

/** A step, with its message and table resolved to names. */
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

/** Messages most steps are for, offered first. */
export const COMMON_MESSAGES: readonly string[] = [
  'Create',
  'Update',
  'Delete',
  'Assign',
  'SetState',
  'SetStateDynamicEntity',
];

const TABLE_NAME = /^[a-z_][a-z0-9_]{0,127}$/i;

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function guid(value: string, what: string): string {
  if (!GUID.test(value)) throw new WorkbenchError('invalidInput', `${what} is not a valid id.`);
  return value;
}

function optional<T>(value: T | null | undefined): T | undefined {
  return value ?? undefined;
}

function columnList(value: string | null | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
}

function endpointRow(row: JsonObject): EndpointRow {
  const record = endpointRecord(row);
  return {
    id: record.serviceendpointid,
    name: record.name,
    contract: record.contract,
    url: optional(record.url),
    authtype: optional(record.authtype),
    path: optional(record.path),
    namespace: optional(record.solutionnamespace),
    messageformat: optional(record.messageformat),
    saskeyname: optional(record.saskeyname),
    description: optional(record.description),
    secretSet: record.isauthvalueset === true || record.issaskeyset === true || record.issastokenset === true,
  };
}

function imageRow(row: JsonObject): ImageRow {
  const record = imageRecord(row);
  return {
    id: record.sdkmessageprocessingstepimageid,
    name: record.name,
    alias: record.entityalias,
    imagetype: record.imagetype,
    attributes: columnList(record.attributes),
    stepId: record._sdkmessageprocessingstepid_value,
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
      `serviceendpoints?$select=${ENDPOINT_SELECT.join(',')}&$orderby=name`,
      signal === undefined ? {} : { signal },
    );
    return found.map(endpointRow);
  }

  async endpoint(id: string, signal?: AbortSignal): Promise<EndpointRow> {
    return endpointRow(
      await this.client.get(`serviceendpoints(${id})?$select=${ENDPOINT_SELECT.join(',')}`, { signal }),
    );
  }

  async steps(endpointId: string, signal?: AbortSignal): Promise<StepRow[]> {
    const { rows: found } = await this.client.collectAll(
      `sdkmessageprocessingsteps?$select=${STEP_SELECT.join(',')}&$filter=_eventhandler_value eq ${guid(endpointId, 'The endpoint')}&$orderby=name`,
      signal === undefined ? {} : { signal },
    );
    return Promise.all(found.map((row) => this.stepRow(row, endpointId, signal)));
  }

  async step(id: string, signal?: AbortSignal): Promise<StepRow> {
    const row = await this.client.get(`sdkmessageprocessingsteps(${id})?$select=${STEP_SELECT.join(',')}`, { signal });
    return this.stepRow(row, '', signal);
  }

  async images(stepId: string, signal?: AbortSignal): Promise<ImageRow[]> {
    const { rows: found } = await this.client.collectAll(
      `sdkmessageprocessingstepimages?$select=${IMAGE_SELECT.join(',')}&$filter=_sdkmessageprocessingstepid_value eq ${guid(stepId, 'The step')}&$orderby=name`,
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
        found.map((row) => {
          const r = new RowReader(row, 'sdkmessages');
          return { id: r.id('sdkmessageid'), name: r.string('name') };
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
          `sdkmessagefilters?$select=sdkmessagefilterid,primaryobjecttypecode&$filter=_sdkmessageid_value eq ${guid(messageId, 'The message')} and iscustomprocessingstepallowed eq true`,
          signal === undefined ? {} : { signal },
        )
        .then(({ rows: found }) =>
          found
            .map((row) => {
              const r = new RowReader(row, 'sdkmessagefilters');
              const filter = { id: r.id('sdkmessagefilterid'), table: r.string('primaryobjecttypecode') };
              this.filterTables.set(filter.id, filter.table);
              return filter;
            })
            .sort((a, b) => a.table.localeCompare(b.table)),
        );
      this.filters.set(messageId, pending);
      pending.catch(() => this.filters.delete(messageId));
    }
    return pending;
  }

  /** The messages a step can be registered for on a table (its `sdkmessagefilters`), common ones first. */
  async messagesForTable(table: string, signal?: AbortSignal): Promise<readonly string[]> {
    if (!TABLE_NAME.test(table)) throw new WorkbenchError('invalidInput', `"${table}" is not a table logical name.`);
    const { rows: found } = await this.client.collectAll(
      `sdkmessagefilters?$select=_sdkmessageid_value&$filter=primaryobjecttypecode eq '${table}' and iscustomprocessingstepallowed eq true`,
      signal === undefined ? {} : { signal },
    );
    const ids = new Set(found.map((row) => new RowReader(row, 'sdkmessagefilters').id('_sdkmessageid_value')));
    const names = (await this.sdkMessages(signal)).filter((m) => ids.has(m.id)).map((m) => m.name);
    return [
      ...COMMON_MESSAGES.filter((name) => names.includes(name)),
      ...names.filter((name) => !COMMON_MESSAGES.includes(name)).sort(),
    ];
  }

  /** Tables with an entity set in `$metadata`, with their display names when enriched. */
  async tables(signal?: AbortSignal): Promise<readonly { name: string; label: string }[]> {
    const { model } = await this.metadata.get(signal === undefined ? {} : { signal });
    const index = new MetadataIndex(model);
    return [...model.entitySets.values()]
      .flatMap((set) => {
        const type = index.entityTypeOfSet(set);
        return type === undefined || !TABLE_NAME.test(type.name)
          ? []
          : [{ name: type.name, label: type.info?.displayName ?? '' }];
      })
      .sort((a, b) => a.name.localeCompare(b.name));
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

  /** A step row; `endpointId` stands in when the step is read by itself and its handler lookup is absent. */
  private async stepRow(row: JsonObject, endpointId: string, signal?: AbortSignal): Promise<StepRow> {
    const record = stepRecord(row, endpointId);
    const messageId = record._sdkmessageid_value;
    const filterId = record._sdkmessagefilterid_value ?? undefined;
    const message = (await this.sdkMessages(signal)).find((m) => m.id === messageId);
    let table = filterId === undefined ? undefined : this.filterTables.get(filterId);
    if (table === undefined && filterId !== undefined) {
      const filter = await this.client.get(`sdkmessagefilters(${filterId})?$select=primaryobjecttypecode`, { signal });
      table = new RowReader(filter, 'sdkmessagefilters').string('primaryobjecttypecode');
      this.filterTables.set(filterId, table);
    }
    return {
      id: record.sdkmessageprocessingstepid,
      name: record.name,
      endpointId: record._eventhandler_value,
      message: message?.name,
      table,
      stage: record.stage,
      mode: record.mode,
      rank: record.rank,
      filteringAttributes: columnList(record.filteringattributes),
      description: optional(record.description),
      asyncAutoDelete: record.asyncautodelete,
      enabled: record.statecode !== 1,
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
  const kind = kindOfContract(endpoint.contract);
  if (kind === undefined) {
    throw new WorkbenchError(
      'invalidInput',
      `Nothing was sent: steps can be registered here on webhooks, Service Bus, Event Hub and Event Grid endpoints, not on a ${CONTRACT_LABELS[endpoint.contract] ?? `contract ${endpoint.contract}`} endpoint.`,
    );
  }
  const created = only(plannedCreates([placeholderEndpoint(kind, [step])]), 'sdkmessageprocessingsteps');
  const op: PlanOperation = { ...created, endpoint: { id: endpoint.id } };
  const ids = await run([op], registrations, new Map());
  return ids[op.ref] ?? '';
}

/** The step as the file would describe it, for validating an image or an edit against it. */
export function stepSpecOf(step: StepRow, overrides: JsonSpec = {}): Record<string, unknown> {
  const stage = stageNameOf(step.stage);
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
  const kind = kindOfContract(endpoint.contract) ?? 'webhook';
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
  const kind = kindOfContract(endpoint.contract) ?? 'webhook';
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

// ---- One endpoint with its steps and images (the registration form) -------------------------------

/** The registered rows a form edits: the endpoint's id and, per step of the fragment, the step it edits. */
export interface EditedRegistration {
  readonly endpointId: string;
  /** Parallel to the fragment's steps; undefined for a step added in the form. */
  readonly stepIds: readonly (string | undefined)[];
  /** Parallel to each step's images; undefined for an image added in the form. Absent: no image is renamed. */
  readonly imageIds?: readonly (readonly (string | undefined)[])[];
}

/** The endpoint (and its steps and images) alone, renamed as the form names them so the plan matches by id. */
function scopedState(
  state: RegisteredState,
  file: {
    readonly name: string;
    readonly steps: readonly { readonly name: string; readonly images: readonly { readonly name: string }[] }[];
  },
  edited: EditedRegistration,
): { state: RegisteredState; renames: PlanOperation[] } {
  const endpoint = state.serviceEndpoints.find((record) => record.serviceendpointid === edited.endpointId);
  if (endpoint === undefined) throw new WorkbenchError('notFound', 'The endpoint is no longer registered.');
  const renames: PlanOperation[] = [];
  const rename = (entitySet: EntitySetName, id: string, from: string, to: string): void => {
    if (from !== to) {
      renames.push({
        action: 'update',
        entitySet,
        id,
        label: `rename ${from}`,
        changes: [{ column: 'name', from, to }],
        secrets: [],
      });
    }
  };
  rename('serviceendpoints', endpoint.serviceendpointid, endpoint.name, file.name);
  const nameOfStep = new Map<string, string>();
  edited.stepIds.forEach((id, index) => {
    const name = file.steps[index]?.name;
    if (id !== undefined && name !== undefined) nameOfStep.set(id, name);
  });
  const steps = state.steps
    .filter((step) => step._eventhandler_value === edited.endpointId)
    .map((step) => {
      const name = nameOfStep.get(step.sdkmessageprocessingstepid);
      if (name === undefined) return step;
      rename('sdkmessageprocessingsteps', step.sdkmessageprocessingstepid, step.name, name);
      return { ...step, name };
    });
  const stepIds = new Set(steps.map((step) => step.sdkmessageprocessingstepid));
  // An image renamed in the form (Dataverse updates name and entityalias in place) is the same row.
  const nameOfImage = new Map<string, string>();
  edited.imageIds?.forEach((ids, stepIndex) =>
    ids.forEach((id, index) => {
      const name = file.steps[stepIndex]?.images[index]?.name;
      if (id !== undefined && name !== undefined) nameOfImage.set(id, name);
    }),
  );
  const images = state.images
    .filter((image) => stepIds.has(image._sdkmessageprocessingstepid_value))
    .map((image) => {
      const name = nameOfImage.get(image.sdkmessageprocessingstepimageid);
      if (name === undefined) return image;
      rename('sdkmessageprocessingstepimages', image.sdkmessageprocessingstepimageid, image.name, name);
      return { ...image, name };
    });
  return {
    state: { ...state, serviceEndpoints: [{ ...endpoint, name: file.name }], steps, images },
    renames,
  };
}

/**
 * Plans one endpoint fragment with its steps and images against what is registered (nothing, for a new
 * one): one create per new row, one PATCH of only the changed columns per changed row, one DELETE per row
 * removed. Renames in the form are name changes of the same rows, not new registrations. Pure.
 */
export function planRegistration(
  endpoint: JsonSpec,
  current: RegisteredState,
  edited: EditedRegistration | undefined,
  options: { readonly newSecrets: boolean },
): Plan {
  const result = validateRegistrationFile({ endpoints: [endpoint] });
  if (!result.ok) refuse(result.issues);
  const [spec] = result.file.endpoints;
  if (spec === undefined) throw new WorkbenchError('internal', 'The registration has no endpoint.');
  if (edited === undefined) return computePlan(result.file, EMPTY_STATE);
  const { state, renames } = scopedState(current, spec, edited);
  const planned = computePlan(result.file, state, { rotateSecrets: options.newSecrets });
  const deleted = new Set(planned.operations.flatMap((op) => (op.action === 'delete' ? [op.id] : [])));
  const operations = [...planned.operations];
  for (const rename of renames) {
    if (rename.action !== 'update' || deleted.has(rename.id)) continue;
    const index = operations.findIndex((op) => op.action === 'update' && op.id === rename.id);
    const existing = operations[index];
    if (existing?.action === 'update') {
      operations[index] = { ...existing, changes: [...existing.changes, ...rename.changes] };
    } else {
      operations.push(rename);
    }
  }
  // Back in the plan's order (deletes, then endpoints, steps, images); the sort is stable.
  const order: Record<EntitySetName, number> = {
    serviceendpoints: 1,
    sdkmessageprocessingsteps: 2,
    sdkmessageprocessingstepimages: 3,
  };
  const rank = (op: PlanOperation): number => (op.action === 'delete' ? 0 : order[op.entitySet]);
  return { operations: operations.sort((a, b) => rank(a) - rank(b)) };
}

/** Applies `planRegistration`'s plan; returns the endpoint's id and what was sent. */
export async function saveRegistration(
  registrations: Registrations,
  endpoint: JsonSpec,
  secrets: Secrets,
  edited: EditedRegistration | undefined,
): Promise<{ endpointId: string; plan: Plan; result: ApplyResult }> {
  const current = edited === undefined ? EMPTY_STATE : await loadRegisteredState(registrations.client);
  const plan = planRegistration(endpoint, current, edited, { newSecrets: secrets.size > 0 });
  const result = await applyPlan(plan, createWebApiExecutor(registrations.client), {
    resolveSecret: (ref) => secrets.get(ref.env),
  });
  const created = plan.operations.find((op) => op.action === 'create' && op.entitySet === 'serviceendpoints');
  const endpointId = edited?.endpointId ?? (created?.action === 'create' ? result.ids[created.ref] : undefined);
  if (endpointId === undefined) throw new WorkbenchError('internal', 'The plan created no endpoint.');
  return { endpointId, plan, result };
}

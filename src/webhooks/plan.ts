import { WorkbenchError } from '../core/errors';
import { imagePropertyOf, isImagePropertyOf } from '../core/stepImages';
import type { EndpointSpec, ImageSpec, RegistrationFile, SecretRef, StepSpec } from './registrationFile';
import { AUTH_TYPE, CONTRACT_OF_KIND, IMAGE_TYPE_OF_NAME, MESSAGE_FORMAT, STAGE_OF_NAME } from './registrationModel';

// Plan and apply for `dataverse.webhooks.json`. Planning is pure: desired file + registered state →
// a list of operations (plain data, printable, testable). Applying walks that list through a small
// executor interface, so the Web API client, the emulator or an in-memory snapshot can carry it out.

export type ColumnValue = string | number | boolean | null;

/** A `serviceendpoint` as `GET serviceendpoints` returns it (write-only secrets come back as flags). */
export interface ServiceEndpointRecord {
  readonly serviceendpointid: string;
  readonly name: string;
  readonly description?: string | null;
  readonly contract: number;
  readonly url?: string | null;
  readonly authtype?: number | null;
  readonly isauthvalueset?: boolean;
  readonly messageformat?: number | null;
  readonly namespaceaddress?: string | null;
  readonly namespaceformat?: number | null;
  readonly solutionnamespace?: string | null;
  readonly path?: string | null;
  readonly saskeyname?: string | null;
  readonly issaskeyset?: boolean;
  readonly issastokenset?: boolean;
}

export interface StepRecord {
  readonly sdkmessageprocessingstepid: string;
  readonly name: string;
  readonly description?: string | null;
  readonly stage: number;
  readonly mode: number;
  readonly rank: number;
  readonly filteringattributes?: string | null;
  readonly asyncautodelete: boolean;
  readonly supporteddeployment?: number;
  readonly statecode: number;
  readonly statuscode: number;
  readonly _eventhandler_value: string;
  readonly _sdkmessageid_value: string;
  readonly _sdkmessagefilterid_value?: string | null;
}

export interface ImageRecord {
  readonly sdkmessageprocessingstepimageid: string;
  readonly name: string;
  readonly entityalias: string;
  readonly imagetype: number;
  readonly messagepropertyname: string;
  readonly attributes?: string | null;
  readonly description?: string | null;
  readonly _sdkmessageprocessingstepid_value: string;
}

export interface SdkMessageRecord {
  readonly sdkmessageid: string;
  readonly name: string;
}

export interface SdkMessageFilterRecord {
  readonly sdkmessagefilterid: string;
  readonly _sdkmessageid_value: string;
  readonly primaryobjecttypecode: string;
}

/** What is registered now: the rows of five entity sets, as the Web API returns them. */
export interface RegisteredState {
  readonly serviceEndpoints: readonly ServiceEndpointRecord[];
  readonly steps: readonly StepRecord[];
  readonly images: readonly ImageRecord[];
  /** At least the messages and filters the steps above point at, to name their message and table. */
  readonly sdkMessages: readonly SdkMessageRecord[];
  readonly sdkMessageFilters: readonly SdkMessageFilterRecord[];
}

export type EntitySetName = 'serviceendpoints' | 'sdkmessageprocessingsteps' | 'sdkmessageprocessingstepimages';

/** An existing row, or one created earlier in the same plan (by its `ref`). */
export type RowTarget = { readonly id: string } | { readonly ref: string };

export type SecretSource =
  | { readonly kind: 'secret'; readonly ref: SecretRef }
  /** HttpHeader and HttpQueryString keep name/value pairs as `<settings>` XML in `authvalue`. */
  | { readonly kind: 'settings'; readonly values: Readonly<Record<string, SecretRef>> };

export interface SecretAssignment {
  readonly column: 'authvalue' | 'saskey' | 'sastoken';
  readonly source: SecretSource;
}

export interface ColumnChange {
  readonly column: string;
  readonly from: ColumnValue;
  readonly to: ColumnValue;
}

export type PlanOperation =
  | {
      readonly action: 'create';
      readonly entitySet: 'serviceendpoints';
      readonly ref: string;
      readonly label: string;
      readonly columns: Readonly<Record<string, ColumnValue>>;
      readonly secrets: readonly SecretAssignment[];
    }
  | {
      readonly action: 'create';
      readonly entitySet: 'sdkmessageprocessingsteps';
      readonly ref: string;
      readonly label: string;
      readonly columns: Readonly<Record<string, ColumnValue>>;
      readonly endpoint: RowTarget;
      readonly message: string;
      readonly table: string;
    }
  | {
      readonly action: 'create';
      readonly entitySet: 'sdkmessageprocessingstepimages';
      readonly ref: string;
      readonly label: string;
      readonly columns: Readonly<Record<string, ColumnValue>>;
      readonly step: RowTarget;
    }
  | {
      readonly action: 'update';
      readonly entitySet: EntitySetName;
      readonly id: string;
      readonly label: string;
      /** Only the columns that differ. */
      readonly changes: readonly ColumnChange[];
      readonly secrets: readonly SecretAssignment[];
    }
  | {
      readonly action: 'delete';
      readonly entitySet: EntitySetName;
      readonly id: string;
      readonly label: string;
      /** Rows Dataverse deletes with this one (steps of an endpoint, images of a step). */
      readonly cascades: number;
    };

export interface Plan {
  /** In dependency order: deletes (images, steps, endpoints), then endpoints, steps, images. */
  readonly operations: readonly PlanOperation[];
}

export interface PlanOptions {
  /** Delete registered endpoints the file does not name (only kinds the file can describe). */
  readonly prune?: boolean;
  /** Send every secret again; otherwise only when new, when the auth type changes or when none is set. */
  readonly rotateSecrets?: boolean;
}

const MANAGEABLE_CONTRACTS = new Set<number>(Object.values(CONTRACT_OF_KIND));

function endpointColumns(spec: EndpointSpec): Record<string, ColumnValue> {
  const common = { name: spec.name, description: spec.description ?? null, contract: CONTRACT_OF_KIND[spec.kind] };
  switch (spec.kind) {
    case 'webhook':
      return { ...common, url: spec.url, authtype: AUTH_TYPE[spec.auth.kind] };
    case 'eventGrid':
      return { ...common, url: spec.url, authtype: AUTH_TYPE.AccessKey };
    default:
      return {
        ...common,
        solutionnamespace: spec.namespace,
        namespaceaddress: `sb://${spec.namespace}.servicebus.windows.net/`,
        namespaceformat: 2,
        path: spec.path,
        messageformat: MESSAGE_FORMAT[spec.messageFormat],
        authtype: AUTH_TYPE[spec.auth.kind],
        saskeyname: spec.auth.kind === 'SASKey' ? spec.auth.keyName : null,
      };
  }
}

function endpointSecrets(spec: EndpointSpec): SecretAssignment[] {
  switch (spec.kind) {
    case 'webhook':
      return [
        spec.auth.kind === 'WebhookKey'
          ? { column: 'authvalue', source: { kind: 'secret', ref: spec.auth.value } }
          : { column: 'authvalue', source: { kind: 'settings', values: spec.auth.values } },
      ];
    case 'eventGrid':
      return [{ column: 'authvalue', source: { kind: 'secret', ref: spec.accessKey } }];
    default:
      return spec.auth.kind === 'SASKey'
        ? [{ column: 'saskey', source: { kind: 'secret', ref: spec.auth.key } }]
        : [{ column: 'sastoken', source: { kind: 'secret', ref: spec.auth.token } }];
  }
}

function secretIsSet(record: ServiceEndpointRecord, column: SecretAssignment['column']): boolean {
  if (column === 'authvalue') return record.isauthvalueset === true;
  return (column === 'saskey' ? record.issaskeyset : record.issastokenset) === true;
}

function stepColumns(spec: StepSpec): Record<string, ColumnValue> {
  return {
    name: spec.name,
    description: spec.description ?? null,
    stage: STAGE_OF_NAME[spec.stage],
    mode: spec.mode === 'async' ? 1 : 0,
    rank: spec.rank,
    filteringattributes: spec.filteringAttributes.length > 0 ? spec.filteringAttributes.join(',') : null,
    asyncautodelete: spec.deleteAsyncJobOnSuccess,
    supporteddeployment: 0,
    statecode: spec.enabled ? 0 : 1,
    statuscode: spec.enabled ? 1 : 2,
  };
}

/** The file has validated the message as one that takes images, so it has a property. */
function imageColumns(spec: ImageSpec, message: string): Record<string, ColumnValue> {
  return {
    name: spec.name,
    entityalias: spec.alias,
    imagetype: IMAGE_TYPE_OF_NAME[spec.type],
    // Dataverse refuses an image under another request property than its message's (stepImages.ts).
    messagepropertyname: imagePropertyOf(message) ?? 'Target',
    attributes: spec.columns.length > 0 ? spec.columns.join(',') : null,
    description: spec.description ?? null,
  };
}

/** Column lists compare as sets: Dataverse may hand them back in another order. */
const LIST_COLUMNS = new Set(['filteringattributes', 'attributes']);

function normalized(column: string, value: unknown): ColumnValue {
  if (value === undefined || value === '') return null;
  if (LIST_COLUMNS.has(column) && typeof value === 'string') {
    const items = value
      .split(',')
      .map((item) => item.trim().toLowerCase())
      .filter((item) => item !== '');
    return items.length === 0 ? null : [...new Set(items)].sort().join(',');
  }
  return typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean' ? value : null;
}

function diff(desired: Readonly<Record<string, ColumnValue>>, current: object): ColumnChange[] {
  const row = current as Readonly<Record<string, unknown>>;
  const changes: ColumnChange[] = [];
  for (const [column, to] of Object.entries(desired)) {
    const from = normalized(column, row[column]);
    if (normalized(column, to) !== from) changes.push({ column, from, to });
  }
  return changes;
}

/** Computes the operations that turn `current` into what `file` describes. Pure. */
export function computePlan(file: RegistrationFile, current: RegisteredState, options: PlanOptions = {}): Plan {
  const deleteImages: PlanOperation[] = [];
  const deleteSteps: PlanOperation[] = [];
  const deleteEndpoints: PlanOperation[] = [];
  const endpointOps: PlanOperation[] = [];
  const stepOps: PlanOperation[] = [];
  const imageOps: PlanOperation[] = [];

  const messageName = new Map(current.sdkMessages.map((m) => [m.sdkmessageid, m.name]));
  const filterTable = new Map(current.sdkMessageFilters.map((f) => [f.sdkmessagefilterid, f.primaryobjecttypecode]));
  const imagesOf = (stepId: string): ImageRecord[] =>
    current.images.filter((image) => image._sdkmessageprocessingstepid_value === stepId);
  const stepsOf = (endpointId: string): StepRecord[] =>
    current.steps.filter((step) => step._eventhandler_value === endpointId);
  const cascadeCount = (endpointId: string): number =>
    stepsOf(endpointId).reduce((sum, step) => sum + 1 + imagesOf(step.sdkmessageprocessingstepid).length, 0);

  const createImages = (step: StepSpec, stepTarget: RowTarget, stepLabel: string): void => {
    for (const image of step.images) {
      imageOps.push({
        action: 'create',
        entitySet: 'sdkmessageprocessingstepimages',
        ref: `image:${stepLabel}/${image.name}`,
        label: `image ${stepLabel} / ${image.name}`,
        columns: imageColumns(image, step.message),
        step: stepTarget,
      });
    }
  };

  const createStep = (step: StepSpec, endpoint: RowTarget, endpointName: string): void => {
    const label = `${endpointName} / ${step.name}`;
    const ref = `step:${label}`;
    stepOps.push({
      action: 'create',
      entitySet: 'sdkmessageprocessingsteps',
      ref,
      label: `step ${label} (${step.message} of ${step.table})`,
      columns: stepColumns(step),
      endpoint,
      message: step.message,
      table: step.table,
    });
    createImages(step, { ref }, label);
  };

  const deleteStep = (record: StepRecord, label: string): void => {
    deleteSteps.push({
      action: 'delete',
      entitySet: 'sdkmessageprocessingsteps',
      id: record.sdkmessageprocessingstepid,
      label: `step ${label}`,
      cascades: imagesOf(record.sdkmessageprocessingstepid).length,
    });
  };

  const reconcileImages = (step: StepSpec, record: StepRecord, label: string): void => {
    const existing = imagesOf(record.sdkmessageprocessingstepid);
    const matched = new Set<ImageRecord>();
    for (const image of step.images) {
      const found = existing.find((candidate) => !matched.has(candidate) && candidate.name === image.name);
      const imageLabel = `image ${label} / ${image.name}`;
      if (!found) {
        imageOps.push({
          action: 'create',
          entitySet: 'sdkmessageprocessingstepimages',
          ref: `image:${label}/${image.name}`,
          label: imageLabel,
          columns: imageColumns(image, step.message),
          step: { id: record.sdkmessageprocessingstepid },
        });
        continue;
      }
      matched.add(found);
      // A property Dataverse holds for the message is left as it is, not rewritten to the one a new image gets.
      const changes = diff(imageColumns(image, step.message), found).filter(
        (change) =>
          change.column !== 'messagepropertyname' || !isImagePropertyOf(step.message, found.messagepropertyname),
      );
      if (changes.length > 0) {
        imageOps.push({
          action: 'update',
          entitySet: 'sdkmessageprocessingstepimages',
          id: found.sdkmessageprocessingstepimageid,
          label: imageLabel,
          changes,
          secrets: [],
        });
      }
    }
    for (const image of existing.filter((candidate) => !matched.has(candidate))) {
      deleteImages.push({
        action: 'delete',
        entitySet: 'sdkmessageprocessingstepimages',
        id: image.sdkmessageprocessingstepimageid,
        label: `image ${label} / ${image.name}`,
        cascades: 0,
      });
    }
  };

  const reconcileSteps = (spec: EndpointSpec, endpointId: string): void => {
    const existing = stepsOf(endpointId);
    const matched = new Set<StepRecord>();
    for (const step of spec.steps) {
      const label = `${spec.name} / ${step.name}`;
      const found = existing.find((candidate) => !matched.has(candidate) && candidate.name === step.name);
      if (found) matched.add(found);
      const sameTrigger =
        found !== undefined &&
        messageName.get(found._sdkmessageid_value) === step.message &&
        filterTable.get(found._sdkmessagefilterid_value ?? '') === step.table;
      if (!found || !sameTrigger) {
        // A step's message and table are its identity: moving them is a new registration.
        if (found) deleteStep(found, label);
        createStep(step, { id: endpointId }, spec.name);
        continue;
      }
      const changes = diff(stepColumns(step), found);
      if (changes.length > 0) {
        stepOps.push({
          action: 'update',
          entitySet: 'sdkmessageprocessingsteps',
          id: found.sdkmessageprocessingstepid,
          label: `step ${label}`,
          changes,
          secrets: [],
        });
      }
      reconcileImages(step, found, label);
    }
    for (const record of existing.filter((candidate) => !matched.has(candidate))) {
      deleteStep(record, `${spec.name} / ${record.name}`);
    }
  };

  const claimed = new Set<ServiceEndpointRecord>();
  for (const spec of file.endpoints) {
    const sameName = current.serviceEndpoints.filter((record) => !claimed.has(record) && record.name === spec.name);
    const found = sameName.find((record) => record.contract === CONTRACT_OF_KIND[spec.kind]);
    const columns = endpointColumns(spec);
    const secrets = endpointSecrets(spec);
    if (!found) {
      // The contract (webhook, queue, …) cannot change in place; a different kind replaces the endpoint.
      for (const record of sameName.slice(0, 1)) {
        claimed.add(record);
        deleteEndpoints.push({
          action: 'delete',
          entitySet: 'serviceendpoints',
          id: record.serviceendpointid,
          label: `endpoint ${record.name}`,
          cascades: cascadeCount(record.serviceendpointid),
        });
      }
      const ref = `endpoint:${spec.name}`;
      endpointOps.push({
        action: 'create',
        entitySet: 'serviceendpoints',
        ref,
        label: `endpoint ${spec.name} (${spec.kind})`,
        columns,
        secrets,
      });
      for (const step of spec.steps) createStep(step, { ref }, spec.name);
      continue;
    }
    claimed.add(found);
    const changes = diff(columns, found);
    const authTypeChanged = changes.some((change) => change.column === 'authtype');
    const resend = secrets.filter(
      (secret) => options.rotateSecrets === true || authTypeChanged || !secretIsSet(found, secret.column),
    );
    if (changes.length > 0 || resend.length > 0) {
      endpointOps.push({
        action: 'update',
        entitySet: 'serviceendpoints',
        id: found.serviceendpointid,
        label: `endpoint ${spec.name}`,
        changes,
        secrets: resend,
      });
    }
    reconcileSteps(spec, found.serviceendpointid);
  }

  if (options.prune === true) {
    for (const record of current.serviceEndpoints) {
      if (claimed.has(record) || !MANAGEABLE_CONTRACTS.has(record.contract)) continue;
      deleteEndpoints.push({
        action: 'delete',
        entitySet: 'serviceendpoints',
        id: record.serviceendpointid,
        label: `endpoint ${record.name}`,
        cascades: cascadeCount(record.serviceendpointid),
      });
    }
  }

  // Children go with their parent (Dataverse cascades the delete), and only unmatched children of
  // kept parents are deleted one by one, so no delete below targets a row already gone.
  return {
    operations: [...deleteImages, ...deleteSteps, ...deleteEndpoints, ...endpointOps, ...stepOps, ...imageOps],
  };
}

export function isEmptyPlan(plan: Plan): boolean {
  return plan.operations.length === 0;
}

function show(value: ColumnValue): string {
  return value === null ? 'null' : JSON.stringify(value);
}

/** One line per operation (and per changed column), for `dvw webhooks plan` and the VS Code preview. */
export function formatPlan(plan: Plan): string {
  if (isEmptyPlan(plan)) return 'No changes: the registrations match the file.\n';
  const lines: string[] = [];
  for (const op of plan.operations) {
    switch (op.action) {
      case 'create':
        lines.push(`+ create ${op.label}`);
        break;
      case 'update':
        lines.push(`~ update ${op.label}`);
        for (const change of op.changes) lines.push(`    ${change.column}: ${show(change.from)} -> ${show(change.to)}`);
        for (const secret of op.secrets) lines.push(`    ${secret.column}: (secret, set again)`);
        break;
      case 'delete':
        lines.push(`- delete ${op.label}${op.cascades > 0 ? ` (and ${op.cascades} registrations under it)` : ''}`);
        break;
    }
  }
  const count = (action: PlanOperation['action']): number => plan.operations.filter((o) => o.action === action).length;
  lines.push(`${count('create')} to create, ${count('update')} to update, ${count('delete')} to delete.`);
  return `${lines.join('\n')}\n`;
}

// ---- apply ----

/** The Web API operations a plan needs. Bodies use Web API column names and `@odata.bind` lookups. */
export interface PlanExecutor {
  /** Returns the id of the new row. */
  create(entitySet: EntitySetName, body: Readonly<Record<string, unknown>>): Promise<string>;
  update(entitySet: EntitySetName, id: string, body: Readonly<Record<string, unknown>>): Promise<void>;
  delete(entitySet: EntitySetName, id: string): Promise<void>;
  /** `sdkmessages?$filter=name eq '…'`. */
  findMessageId(name: string): Promise<string>;
  /** `sdkmessagefilters?$filter=primaryobjecttypecode eq '…' and _sdkmessageid_value eq …`. */
  findMessageFilterId(messageId: string, table: string): Promise<string>;
}

export interface ApplyOptions {
  /** Reads a secret reference (the CLI: `process.env`); undefined when it is not set. */
  readonly resolveSecret: (ref: SecretRef) => string | undefined;
  readonly signal?: AbortSignal;
}

export interface ApplyResult {
  readonly created: number;
  readonly updated: number;
  readonly deleted: number;
  /** Ids of the rows created, by the plan's refs. */
  readonly ids: Readonly<Record<string, string>>;
}

function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function resolveSecrets(
  secrets: readonly SecretAssignment[],
  resolve: (ref: SecretRef) => string,
): Record<string, string> {
  const body: Record<string, string> = {};
  for (const { column, source } of secrets) {
    body[column] =
      source.kind === 'secret'
        ? resolve(source.ref)
        : `<settings>${Object.entries(source.values)
            .map(([name, ref]) => `<setting name="${escapeXml(name)}" value="${escapeXml(resolve(ref))}" />`)
            .join('')}</settings>`;
  }
  return body;
}

function secretsOf(op: PlanOperation): readonly SecretAssignment[] {
  return op.action === 'delete' || (op.action === 'create' && op.entitySet !== 'serviceendpoints') ? [] : op.secrets;
}

/**
 * Carries out a plan in order. Every secret is resolved before the first request, so a missing
 * variable changes nothing. A failure stops the run; re-planning then shows what is left.
 */
export async function applyPlan(plan: Plan, executor: PlanExecutor, options: ApplyOptions): Promise<ApplyResult> {
  const missing = new Set<string>();
  for (const op of plan.operations) {
    for (const { source } of secretsOf(op)) {
      const refs = source.kind === 'secret' ? [source.ref] : Object.values(source.values);
      for (const ref of refs) if (options.resolveSecret(ref) === undefined) missing.add(ref.env);
    }
  }
  if (missing.size > 0) {
    throw new WorkbenchError(
      'invalidInput',
      `Set these environment variables before applying: ${[...missing].sort().join(', ')}.`,
    );
  }
  const resolve = (ref: SecretRef): string => options.resolveSecret(ref) ?? '';

  const ids: Record<string, string> = {};
  const idOf = (target: RowTarget): string => {
    if ('id' in target) return target.id;
    const id = ids[target.ref];
    if (id === undefined) throw new WorkbenchError('internal', `The plan refers to ${target.ref} before creating it.`);
    return id;
  };
  const messageIds = new Map<string, string>();
  let created = 0;
  let updated = 0;
  let deleted = 0;

  for (const op of plan.operations) {
    if (options.signal?.aborted) throw new WorkbenchError('cancelled', 'Apply was cancelled.');
    switch (op.action) {
      case 'create': {
        let body: Record<string, unknown> = { ...op.columns };
        if (op.entitySet === 'serviceendpoints') {
          body = { ...body, ...resolveSecrets(op.secrets, resolve) };
        } else if (op.entitySet === 'sdkmessageprocessingsteps') {
          let messageId = messageIds.get(op.message);
          if (messageId === undefined) {
            messageId = await executor.findMessageId(op.message);
            messageIds.set(op.message, messageId);
          }
          const filterId = await executor.findMessageFilterId(messageId, op.table);
          body = {
            ...body,
            'eventhandler_serviceendpoint@odata.bind': `/serviceendpoints(${idOf(op.endpoint)})`,
            'sdkmessageid@odata.bind': `/sdkmessages(${messageId})`,
            'sdkmessagefilterid@odata.bind': `/sdkmessagefilters(${filterId})`,
          };
        } else {
          body = { ...body, 'sdkmessageprocessingstepid@odata.bind': `/sdkmessageprocessingsteps(${idOf(op.step)})` };
        }
        ids[op.ref] = await executor.create(op.entitySet, body);
        created++;
        break;
      }
      case 'update': {
        const body: Record<string, unknown> = resolveSecrets(op.secrets, resolve);
        for (const change of op.changes) body[change.column] = change.to;
        await executor.update(op.entitySet, op.id, body);
        updated++;
        break;
      }
      case 'delete':
        await executor.delete(op.entitySet, op.id);
        deleted++;
        break;
    }
  }
  return { created, updated, deleted, ids };
}

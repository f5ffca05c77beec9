import { WorkbenchError } from '../../core/errors';
import type { Plan } from '../../webhooks/plan';
import { imageTypeNameOf, kindOfContract, messageFormatOf, stageNameOf } from '../../webhooks/registrationModel';
import type { EditedRegistration, EndpointRow, ImageRow, JsonSpec, StepRow } from '../../webhooks/registrations';
import type {
  FormAuthKind,
  FormEndpoint,
  FormEndpointKind,
  FormRegistration,
  FormStep,
} from '../../webview/registrationProtocol';
import { blankEndpoint } from '../../webview/registrationProtocol';

// Between the registration form's fields and the registration file's JSON (what the plan engine takes).
// No `vscode` here, so unit tests cover it in plain Node.

const AUTH_OF_TYPE: Readonly<Record<number, FormAuthKind>> = {
  2: 'SASKey',
  3: 'SASToken',
  4: 'WebhookKey',
  5: 'HttpHeader',
  6: 'HttpQueryString',
};

/** A new registration: a webhook to the running inspector when there is one. */
export function emptyRegistration(inspectorUrl: string | undefined): FormRegistration {
  return { endpoint: blankEndpoint(inspectorUrl), steps: [] };
}

/** A registered endpoint as the form shows it; its secret stays where it is (`keepAuth`). */
export function registrationOfRows(
  endpoint: EndpointRow,
  steps: readonly StepRow[],
  images: ReadonlyMap<string, readonly ImageRow[]>,
): FormRegistration {
  const kind = kindOfContract(endpoint.contract);
  if (kind === undefined || kind === 'eventGrid') {
    throw new WorkbenchError('invalidInput', 'Only webhook, Service Bus and Event Hub endpoints open in the form.');
  }
  const fallbackAuth: FormAuthKind = kind === 'webhook' ? 'WebhookKey' : 'SASKey';
  return {
    endpoint: {
      ...emptyRegistration(undefined).endpoint,
      name: endpoint.name,
      kind,
      description: endpoint.description ?? '',
      url: endpoint.url ?? '',
      authKind: AUTH_OF_TYPE[endpoint.authtype ?? 0] ?? fallbackAuth,
      keepAuth: true,
      namespace: endpoint.namespace ?? '',
      path: endpoint.path ?? '',
      keyName: endpoint.saskeyname ?? 'RootManageSharedAccessKey',
      messageFormat: messageFormatOf(endpoint.messageformat ?? 2) ?? 'json',
    },
    steps: steps.map((step): FormStep => ({
      id: step.id,
      name: step.name,
      message: step.message ?? '',
      table: step.table ?? '',
      stage: stageNameOf(step.stage) ?? 'post-operation',
      mode: step.mode === 1 ? 'async' : 'sync',
      rank: step.rank,
      filteringAttributes: step.filteringAttributes.map((column) => column.toLowerCase()),
      description: step.description ?? '',
      deleteAsyncJobOnSuccess: step.asyncAutoDelete,
      enabled: step.enabled,
      images: (images.get(step.id) ?? []).map((image) => ({
        id: image.id,
        alias: image.alias,
        type: imageTypeNameOf(image.imagetype) ?? 'pre',
        columns: image.attributes.map((column) => column.toLowerCase()),
      })),
    })),
  };
}

function authSpec(endpoint: FormEndpoint, secrets: Map<string, string>): JsonSpec {
  // A kept secret is a reference nothing resolves: the plan sends no secret unless the auth type changes.
  const ref = (value: string): { env: string } => {
    if (endpoint.keepAuth || value === '') return { env: 'UNCHANGED' };
    const name = `SECRET_${secrets.size + 1}`;
    secrets.set(name, value);
    return { env: name };
  };
  switch (endpoint.authKind) {
    case 'WebhookKey':
      return { kind: 'WebhookKey', value: ref(endpoint.secret) };
    case 'HttpHeader':
    case 'HttpQueryString': {
      const pairs = endpoint.keepAuth ? [{ name: 'unchanged', value: '' }] : endpoint.pairs;
      return {
        kind: endpoint.authKind,
        values: Object.fromEntries(pairs.map((pair) => [pair.name.trim(), ref(pair.value)])),
      };
    }
    case 'SASKey':
      return { kind: 'SASKey', keyName: endpoint.keyName.trim(), key: ref(endpoint.secret) };
    case 'SASToken':
      return { kind: 'SASToken', token: ref(endpoint.secret) };
  }
}

function missingSecret(endpoint: FormEndpoint): string | undefined {
  if (endpoint.keepAuth) return undefined;
  if (endpoint.authKind === 'HttpHeader' || endpoint.authKind === 'HttpQueryString') {
    if (endpoint.pairs.length === 0)
      return `add at least one ${endpoint.authKind === 'HttpHeader' ? 'header' : 'query parameter'}`;
    const empty = endpoint.pairs.find((pair) => pair.value === '');
    return empty === undefined ? undefined : `enter the value of ${empty.name.trim() || 'every pair'}`;
  }
  return endpoint.secret === '' ? 'enter the secret (or keep the registered one)' : undefined;
}

const WEBHOOK_AUTH: readonly FormAuthKind[] = ['WebhookKey', 'HttpHeader', 'HttpQueryString'];

function authFits(kind: FormEndpointKind, auth: FormAuthKind): boolean {
  return kind === 'webhook' ? WEBHOOK_AUTH.includes(auth) : !WEBHOOK_AUTH.includes(auth);
}

/**
 * The form as a registration-file fragment, the secrets typed in it (by the reference names the fragment
 * uses; only in memory) and which registered steps its rows edit. Refuses what the file validator cannot
 * say in the form's words (a missing secret).
 */
export function specOfRegistration(
  form: FormRegistration,
  endpointId: string | undefined,
): { spec: JsonSpec; secrets: Map<string, string>; edited: EditedRegistration | undefined } {
  const { endpoint } = form;
  if (!authFits(endpoint.kind, endpoint.authKind)) {
    throw new WorkbenchError(
      'invalidInput',
      `Nothing was sent: ${endpoint.authKind} is not an authentication of this endpoint kind.`,
    );
  }
  if (endpoint.keepAuth && endpointId === undefined) {
    throw new WorkbenchError('invalidInput', 'Nothing was sent: a new endpoint has no registered secret to keep.');
  }
  const missing = missingSecret(endpoint);
  if (missing !== undefined) throw new WorkbenchError('invalidInput', `Nothing was sent: ${missing}.`);
  const secrets = new Map<string, string>();
  const auth = authSpec(endpoint, secrets);
  const common = {
    name: endpoint.name.trim(),
    kind: endpoint.kind,
    ...(endpoint.description.trim() === '' ? {} : { description: endpoint.description.trim() }),
  };
  const where =
    endpoint.kind === 'webhook'
      ? { url: endpoint.url.trim() }
      : { namespace: endpoint.namespace.trim(), path: endpoint.path.trim(), messageFormat: endpoint.messageFormat };
  const steps = form.steps.map((step) => ({
    name: step.name.trim() || `${common.name}: ${step.message} of ${step.table}`.slice(0, 256),
    message: step.message,
    table: step.table,
    stage: step.stage,
    mode: step.mode,
    rank: step.rank,
    filteringAttributes: step.filteringAttributes,
    ...(step.description.trim() === '' ? {} : { description: step.description.trim() }),
    deleteAsyncJobOnSuccess: step.mode === 'async' && step.deleteAsyncJobOnSuccess,
    enabled: step.enabled,
    images: step.images.map((image) => ({
      name: image.alias.trim(),
      alias: image.alias.trim(),
      type: image.type,
      columns: image.columns,
    })),
  }));
  return {
    spec: { ...common, ...where, auth, steps },
    secrets,
    edited:
      endpointId === undefined
        ? undefined
        : {
            endpointId,
            stepIds: form.steps.map((step) => step.id),
            imageIds: form.steps.map((step) => step.images.map((image) => image.id)),
          },
  };
}

/** "2 created, 1 updated" for the notification and the form, from what the plan sent. */
export function planSummary(plan: Plan): string {
  const count = (action: string): number => plan.operations.filter((op) => op.action === action).length;
  const parts = [
    [count('create'), 'created'],
    [count('update'), 'updated'],
    [count('delete'), 'deleted'],
  ].flatMap(([n, word]) => (n === 0 ? [] : [`${n} ${word}`]));
  return parts.length === 0 ? 'no changes' : parts.join(', ');
}

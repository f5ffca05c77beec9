import type { ImageRecord, RegisteredState, ServiceEndpointRecord, StepRecord } from './plan';
import type { EndpointSpec, ImageSpec, RegistrationFile, SecretRef, StepSpec } from './registrationFile';
import {
  AUTH_TYPE,
  imageTypeNameOf,
  kindOfContract,
  MESSAGE_FORMAT,
  messageFormatOf,
  stageNameOf,
} from './registrationModel';

// The inverse of planning: what is registered, as a `dataverse.webhooks.json` that plans to no
// changes against the same state. Secrets are write-only in Dataverse and never written to a file
// anyway, so each one becomes an `{ "env": "NAME" }` reference for whoever applies the file later.

/** HttpHeader/HttpQueryString names live in the write-only `authvalue`; the file gets this in their place. */
export const UNKNOWN_SETTING_NAME = 'REPLACE-WITH-THE-NAME';

function list(value: string | null | undefined): string[] {
  return [
    ...new Set(
      (value ?? '')
        .split(',')
        .map((item) => item.trim().toLowerCase())
        .filter((item) => item !== ''),
    ),
  ];
}

function text(value: string | null | undefined): string | undefined {
  return value === null || value === undefined || value === '' ? undefined : value;
}

/** Environment variable names from endpoint names: `Revenue hook` → `REVENUE_HOOK_KEY`, unique per file. */
class EnvNames {
  private readonly used = new Set<string>();

  take(endpoint: string, suffix: string): SecretRef {
    let stem = endpoint
      .toUpperCase()
      .replace(/[^A-Z0-9]+/g, '_')
      .replace(/^_+|_+$/g, '');
    if (stem === '' || /^\d/.test(stem)) stem = `ENDPOINT_${stem}`.replace(/_+$/, '');
    let name = `${stem}_${suffix}`;
    for (let n = 2; this.used.has(name); n++) name = `${stem}_${n}_${suffix}`;
    this.used.add(name);
    return { env: name };
  }
}

function imageSpec(record: ImageRecord): ImageSpec | undefined {
  const type = imageTypeNameOf(record.imagetype);
  if (type === undefined) return undefined;
  const description = text(record.description);
  return {
    name: record.name,
    type,
    alias: record.entityalias,
    columns: list(record.attributes),
    ...(description === undefined ? {} : { description }),
  };
}

/**
 * The registration file for `state`. Endpoints of kinds the file cannot describe and steps it cannot
 * express (plug-in stages, no table) are left out; `notes` (when given) says what was left out and
 * which secret references need their variables set.
 */
export function exportRegistrations(state: RegisteredState, notes: string[] = []): RegistrationFile {
  const messages = new Map(state.sdkMessages.map((m) => [m.sdkmessageid, m.name]));
  const tables = new Map(state.sdkMessageFilters.map((f) => [f.sdkmessagefilterid, f.primaryobjecttypecode]));
  const env = new EnvNames();
  const endpoints: EndpointSpec[] = [];

  const stepsOf = (endpoint: ServiceEndpointRecord): StepSpec[] => {
    const steps: StepSpec[] = [];
    const names = new Set<string>();
    for (const step of state.steps.filter((s) => s._eventhandler_value === endpoint.serviceendpointid)) {
      const spec = stepSpec(step, endpoint.name);
      if (spec === undefined) continue;
      if (names.has(spec.name)) {
        notes.push(
          `endpoint ${endpoint.name}: a second step named "${spec.name}" was left out (names must be unique).`,
        );
        continue;
      }
      names.add(spec.name);
      steps.push(spec);
    }
    return steps;
  };

  const stepSpec = (step: StepRecord, endpoint: string): StepSpec | undefined => {
    const message = messages.get(step._sdkmessageid_value);
    const table = tables.get(step._sdkmessagefilterid_value ?? '');
    const stage = stageNameOf(step.stage);
    if (message === undefined || table === undefined || table === 'none' || stage === undefined) {
      notes.push(
        `endpoint ${endpoint}: step "${step.name}" was left out (no table, or a stage the file cannot express).`,
      );
      return undefined;
    }
    const mode = step.mode === 1 ? 'async' : 'sync';
    const description = text(step.description);
    const images = state.images
      .filter((image) => image._sdkmessageprocessingstepid_value === step.sdkmessageprocessingstepid)
      .map(imageSpec)
      .filter((image): image is ImageSpec => image !== undefined);
    return {
      name: step.name,
      message,
      table,
      stage,
      mode,
      rank: step.rank,
      filteringAttributes: list(step.filteringattributes),
      ...(description === undefined ? {} : { description }),
      deleteAsyncJobOnSuccess: mode === 'async' && step.asyncautodelete,
      enabled: step.statecode === 0,
      images,
    };
  };

  for (const record of state.serviceEndpoints) {
    const kind = kindOfContract(record.contract);
    if (kind === undefined) {
      notes.push(`endpoint ${record.name} (contract ${record.contract}) was left out: the file cannot describe it.`);
      continue;
    }
    const description = text(record.description);
    const base = { name: record.name, steps: stepsOf(record), ...(description === undefined ? {} : { description }) };
    if (kind === 'webhook') {
      const url = record.url ?? '';
      if (record.authtype === AUTH_TYPE.HttpHeader || record.authtype === AUTH_TYPE.HttpQueryString) {
        const what = record.authtype === AUTH_TYPE.HttpHeader ? 'header' : 'query parameter';
        notes.push(
          `endpoint ${record.name}: the ${what} names are write-only in Dataverse; replace "${UNKNOWN_SETTING_NAME}" with them.`,
        );
        const values = {
          [UNKNOWN_SETTING_NAME]: env.take(record.name, record.authtype === AUTH_TYPE.HttpHeader ? 'HEADER' : 'QUERY'),
        };
        endpoints.push({
          ...base,
          kind,
          url,
          auth: { kind: record.authtype === AUTH_TYPE.HttpHeader ? 'HttpHeader' : 'HttpQueryString', values },
        });
      } else {
        endpoints.push({ ...base, kind, url, auth: { kind: 'WebhookKey', value: env.take(record.name, 'KEY') } });
      }
    } else if (kind === 'eventGrid') {
      endpoints.push({ ...base, kind, url: record.url ?? '', accessKey: env.take(record.name, 'ACCESS_KEY') });
    } else {
      const fromAddress = /^sb:\/\/([^./]+)\./i.exec(record.namespaceaddress ?? '')?.[1];
      endpoints.push({
        ...base,
        kind,
        namespace: text(record.solutionnamespace) ?? fromAddress ?? '',
        path: record.path ?? '',
        messageFormat: messageFormatOf(record.messageformat ?? MESSAGE_FORMAT.json) ?? 'json',
        auth:
          record.authtype === AUTH_TYPE.SASToken
            ? { kind: 'SASToken', token: env.take(record.name, 'SAS_TOKEN') }
            : { kind: 'SASKey', keyName: record.saskeyname ?? '', key: env.take(record.name, 'SAS_KEY') },
      });
    }
  }
  return { endpoints };
}

/** The secret references a file uses, for telling people which variables to set. */
export function secretReferences(file: RegistrationFile): string[] {
  const names: string[] = [];
  for (const endpoint of file.endpoints) {
    if (endpoint.kind === 'webhook') {
      if (endpoint.auth.kind === 'WebhookKey') names.push(endpoint.auth.value.env);
      else names.push(...Object.values(endpoint.auth.values).map((ref) => ref.env));
    } else if (endpoint.kind === 'eventGrid') names.push(endpoint.accessKey.env);
    else names.push(endpoint.auth.kind === 'SASKey' ? endpoint.auth.key.env : endpoint.auth.token.env);
  }
  return names;
}

/** The file as JSON text, members in the order people read them. */
export function formatRegistrationFile(file: RegistrationFile, schema?: string): string {
  const json = {
    ...(schema === undefined ? {} : { $schema: schema }),
    endpoints: file.endpoints.map((endpoint) => ({
      name: endpoint.name,
      kind: endpoint.kind,
      ...(endpoint.description === undefined ? {} : { description: endpoint.description }),
      ...(endpoint.kind === 'webhook'
        ? { url: endpoint.url, auth: endpoint.auth }
        : endpoint.kind === 'eventGrid'
          ? { url: endpoint.url, accessKey: endpoint.accessKey }
          : {
              namespace: endpoint.namespace,
              path: endpoint.path,
              messageFormat: endpoint.messageFormat,
              auth: endpoint.auth,
            }),
      steps: endpoint.steps.map((step) => ({
        name: step.name,
        message: step.message,
        table: step.table,
        stage: step.stage,
        mode: step.mode,
        rank: step.rank,
        ...(step.filteringAttributes.length === 0 ? {} : { filteringAttributes: step.filteringAttributes }),
        ...(step.description === undefined ? {} : { description: step.description }),
        ...(step.deleteAsyncJobOnSuccess ? { deleteAsyncJobOnSuccess: true } : {}),
        ...(step.enabled ? {} : { enabled: false }),
        ...(step.images.length === 0
          ? {}
          : {
              images: step.images.map((image) => ({
                name: image.name,
                type: image.type,
                alias: image.alias,
                ...(image.columns.length === 0 ? {} : { columns: image.columns }),
                ...(image.description === undefined ? {} : { description: image.description }),
              })),
            }),
      })),
    })),
  };
  return `${JSON.stringify(json, null, 2)}\n`;
}

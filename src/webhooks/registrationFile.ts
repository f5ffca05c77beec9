import { WorkbenchError } from '../core/errors';
import { isJsonObject } from '../core/json';
import type { StepImageStage, StepImageType } from '../core/stepImages';
import { imageTypeReasons, noImagesReason } from '../core/stepImages';

// `dataverse.webhooks.json`: endpoints, their steps and the steps' images, by name. Secrets are never
// written in the file, only where to find them, so the file can be committed.

/** Where a secret comes from at apply time. */
export interface SecretRef {
  readonly env: string;
}

export type WebhookAuth =
  | { readonly kind: 'WebhookKey'; readonly value: SecretRef }
  | { readonly kind: 'HttpHeader'; readonly values: Readonly<Record<string, SecretRef>> }
  | { readonly kind: 'HttpQueryString'; readonly values: Readonly<Record<string, SecretRef>> };

export type SasAuth =
  | { readonly kind: 'SASKey'; readonly keyName: string; readonly key: SecretRef }
  | { readonly kind: 'SASToken'; readonly token: SecretRef };

export type MessageFormat = 'binaryXml' | 'json' | 'textXml';
export type StepStage = StepImageStage;
export type StepMode = 'sync' | 'async';
export type ImageType = StepImageType;

export interface ImageSpec {
  readonly name: string;
  readonly type: ImageType;
  readonly alias: string;
  /** Empty means every column. */
  readonly columns: readonly string[];
  readonly description?: string;
}

export interface StepSpec {
  readonly name: string;
  readonly message: string;
  readonly table: string;
  readonly stage: StepStage;
  readonly mode: StepMode;
  readonly rank: number;
  /** Empty means every column; only Update honours it. */
  readonly filteringAttributes: readonly string[];
  readonly description?: string;
  readonly deleteAsyncJobOnSuccess: boolean;
  readonly enabled: boolean;
  readonly images: readonly ImageSpec[];
}

interface EndpointBase {
  readonly name: string;
  readonly description?: string;
  readonly steps: readonly StepSpec[];
}

export type EndpointSpec =
  | (EndpointBase & { readonly kind: 'webhook'; readonly url: string; readonly auth: WebhookAuth })
  | (EndpointBase & {
      readonly kind: 'serviceBusQueue' | 'serviceBusTopic' | 'eventHub';
      readonly namespace: string;
      readonly path: string;
      readonly auth: SasAuth;
      readonly messageFormat: MessageFormat;
    })
  | (EndpointBase & { readonly kind: 'eventGrid'; readonly url: string; readonly accessKey: SecretRef });

export interface RegistrationFile {
  readonly endpoints: readonly EndpointSpec[];
}

export interface ValidationIssue {
  /** JSON path of the offending member, e.g. `$.endpoints[0].steps[1].mode`. */
  readonly path: string;
  readonly message: string;
}

export type ValidationResult =
  | { readonly ok: true; readonly file: RegistrationFile }
  | { readonly ok: false; readonly issues: readonly ValidationIssue[] };

type Obj = Readonly<Record<string, unknown>>;

const ENDPOINT_KINDS = ['webhook', 'serviceBusQueue', 'serviceBusTopic', 'eventHub', 'eventGrid'] as const;
const STAGES: readonly StepStage[] = ['pre-validation', 'pre-operation', 'post-operation'];
const MODES: readonly StepMode[] = ['sync', 'async'];
const IMAGE_TYPES: readonly ImageType[] = ['pre', 'post', 'both'];
const FORMATS: readonly MessageFormat[] = ['binaryXml', 'json', 'textXml'];
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const COLUMN_NAME = /^[a-z_][a-z0-9_]*$/;

class Checker {
  readonly issues: ValidationIssue[] = [];

  problem(path: string, message: string): undefined {
    this.issues.push({ path, message });
    return undefined;
  }

  object(value: unknown, path: string, allowed: readonly string[]): Obj | undefined {
    if (!isJsonObject(value)) return this.problem(path, 'must be an object');
    const obj = value;
    for (const key of Object.keys(obj)) {
      if (!allowed.includes(key))
        this.problem(`${path}.${key}`, `unknown member (expected one of ${allowed.join(', ')})`);
    }
    return obj;
  }

  string(obj: Obj, key: string, path: string, options: { max?: number; required?: boolean } = {}): string | undefined {
    const value = obj[key];
    if (value === undefined)
      return options.required === false ? undefined : this.problem(`${path}.${key}`, 'is required');
    if (typeof value !== 'string' || value.trim() === '')
      return this.problem(`${path}.${key}`, 'must be a non-empty string');
    if (options.max !== undefined && value.length > options.max)
      return this.problem(`${path}.${key}`, `must be at most ${options.max} characters`);
    return value;
  }

  oneOf<T extends string>(obj: Obj, key: string, path: string, values: readonly T[], fallback?: T): T | undefined {
    const value = obj[key];
    if (value === undefined && fallback !== undefined) return fallback;
    if (typeof value !== 'string' || !(values as readonly string[]).includes(value))
      return this.problem(`${path}.${key}`, `must be one of ${values.map((v) => `"${v}"`).join(', ')}`);
    return value as T;
  }

  boolean(obj: Obj, key: string, path: string, fallback: boolean): boolean {
    const value = obj[key];
    if (value === undefined) return fallback;
    if (typeof value !== 'boolean') {
      this.problem(`${path}.${key}`, 'must be true or false');
      return fallback;
    }
    return value;
  }

  columns(obj: Obj, key: string, path: string): readonly string[] {
    const value = obj[key];
    if (value === undefined) return [];
    if (!Array.isArray(value)) {
      this.problem(`${path}.${key}`, 'must be an array of column logical names');
      return [];
    }
    const seen = new Set<string>();
    value.forEach((column: unknown, index) => {
      if (typeof column !== 'string' || !COLUMN_NAME.test(column))
        this.problem(`${path}.${key}[${index}]`, 'must be a column logical name (lower case)');
      else if (seen.has(column)) this.problem(`${path}.${key}[${index}]`, `lists "${column}" twice`);
      else seen.add(column);
    });
    return [...seen];
  }

  secret(value: unknown, path: string): SecretRef | undefined {
    if (typeof value === 'string')
      return this.problem(path, 'secrets are never written in the file; reference one: { "env": "VARIABLE_NAME" }');
    const obj = this.object(value, path, ['env']);
    if (!obj) return undefined;
    const env = obj.env;
    if (typeof env !== 'string' || !ENV_NAME.test(env))
      return this.problem(`${path}.env`, 'must name an environment variable (letters, digits, _)');
    return { env };
  }

  secretMap(value: unknown, path: string): Readonly<Record<string, SecretRef>> | undefined {
    if (!isJsonObject(value)) return this.problem(path, 'must map each name to a secret reference');
    const entries = Object.entries(value);
    if (entries.length === 0) return this.problem(path, 'must hold at least one name');
    const result: Record<string, SecretRef> = {};
    for (const [name, ref] of entries) {
      if (!/^[A-Za-z0-9_.-]+$/.test(name)) this.problem(`${path}.${name}`, 'is not a valid header or parameter name');
      const secret = this.secret(ref, `${path}.${name}`);
      if (secret) result[name] = secret;
    }
    return result;
  }
}

function webhookAuth(check: Checker, value: unknown, path: string): WebhookAuth | undefined {
  const obj = check.object(value, path, ['kind', 'value', 'values']);
  if (!obj) return undefined;
  const kind = check.oneOf(obj, 'kind', path, ['WebhookKey', 'HttpHeader', 'HttpQueryString'] as const);
  if (kind === 'WebhookKey') {
    if (obj.values !== undefined) check.problem(`${path}.values`, 'WebhookKey takes one "value"');
    const secret = check.secret(obj.value, `${path}.value`);
    return secret && { kind, value: secret };
  }
  if (kind === 'HttpHeader' || kind === 'HttpQueryString') {
    if (obj.value !== undefined) check.problem(`${path}.value`, `${kind} takes "values": { name: secret }`);
    const values = check.secretMap(obj.values, `${path}.values`);
    return values && { kind, values };
  }
  return undefined;
}

function sasAuth(check: Checker, value: unknown, path: string): SasAuth | undefined {
  const obj = check.object(value, path, ['kind', 'keyName', 'key', 'token']);
  if (!obj) return undefined;
  const kind = check.oneOf(obj, 'kind', path, ['SASKey', 'SASToken'] as const);
  if (kind === 'SASKey') {
    const keyName = check.string(obj, 'keyName', path, { max: 256 });
    const key = check.secret(obj.key, `${path}.key`);
    if (obj.token !== undefined) check.problem(`${path}.token`, 'SASKey takes "keyName" and "key", not "token"');
    return keyName !== undefined && key ? { kind, keyName, key } : undefined;
  }
  if (kind === 'SASToken') {
    const token = check.secret(obj.token, `${path}.token`);
    if (obj.key !== undefined || obj.keyName !== undefined)
      check.problem(path, 'SASToken takes "token" only, not "keyName" or "key"');
    return token && { kind, token };
  }
  return undefined;
}

function checkUrl(check: Checker, url: string | undefined, path: string): void {
  if (url === undefined) return;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    check.problem(path, 'must be an absolute URL');
    return;
  }
  const loopback = ['127.0.0.1', 'localhost', '[::1]'].includes(parsed.hostname);
  if (parsed.protocol !== 'https:' && !(parsed.protocol === 'http:' && loopback))
    check.problem(path, 'must use https (http only on loopback, for the emulator)');
  if (parsed.username || parsed.password) check.problem(path, 'must not carry credentials; use auth');
  if (parsed.searchParams.has('code')) check.problem(path, 'must not carry ?code=; use a WebhookKey auth');
}

function image(check: Checker, value: unknown, path: string, step: Partial<StepSpec>): ImageSpec | undefined {
  const obj = check.object(value, path, ['name', 'type', 'alias', 'columns', 'description']);
  if (!obj) return undefined;
  const alias = check.string(obj, 'alias', path, { max: 256 });
  const name = obj.name === undefined ? alias : check.string(obj, 'name', path, { max: 256 });
  const type = check.oneOf(obj, 'type', path, IMAGE_TYPES);
  const columns = check.columns(obj, 'columns', path);
  const description = check.string(obj, 'description', path, { max: 256, required: false });
  const noImages = step.message === undefined ? undefined : noImagesReason(step.message);
  if (noImages !== undefined) check.problem(path, noImages);
  else if (step.message !== undefined && type !== undefined)
    for (const reason of imageTypeReasons(step.message, step.stage, type)) check.problem(`${path}.type`, reason);
  if (name === undefined || alias === undefined || type === undefined) return undefined;
  return { name, alias, type, columns, ...(description === undefined ? {} : { description }) };
}

function stepSpec(check: Checker, value: unknown, path: string): StepSpec | undefined {
  const obj = check.object(value, path, [
    'name',
    'message',
    'table',
    'stage',
    'mode',
    'rank',
    'filteringAttributes',
    'description',
    'deleteAsyncJobOnSuccess',
    'enabled',
    'images',
  ]);
  if (!obj) return undefined;
  const name = check.string(obj, 'name', path, { max: 256 });
  const message = check.string(obj, 'message', path, { max: 256 });
  const table = check.string(obj, 'table', path, { max: 128 });
  if (table !== undefined && !COLUMN_NAME.test(table)) check.problem(`${path}.table`, 'must be a table logical name');
  const stage = check.oneOf(obj, 'stage', path, STAGES);
  const mode = check.oneOf(obj, 'mode', path, MODES, 'sync');
  let rank = 1;
  if (obj.rank !== undefined) {
    if (typeof obj.rank !== 'number' || !Number.isInteger(obj.rank) || obj.rank < 1 || obj.rank > 2147483647)
      check.problem(`${path}.rank`, 'must be a whole number from 1');
    else rank = obj.rank;
  }
  const filteringAttributes = check.columns(obj, 'filteringAttributes', path);
  const description = check.string(obj, 'description', path, { max: 256, required: false });
  const deleteAsyncJobOnSuccess = check.boolean(obj, 'deleteAsyncJobOnSuccess', path, false);
  const enabled = check.boolean(obj, 'enabled', path, true);

  if (mode === 'async' && stage !== undefined && stage !== 'post-operation')
    check.problem(`${path}.mode`, `asynchronous steps run only post-operation, not ${stage}`);
  if (deleteAsyncJobOnSuccess && mode === 'sync')
    check.problem(`${path}.deleteAsyncJobOnSuccess`, 'only asynchronous steps have a system job to delete');
  if (filteringAttributes.length > 0 && message !== undefined && message !== 'Update')
    check.problem(`${path}.filteringAttributes`, `only Update honours filtering attributes, not ${message}`);

  const images: ImageSpec[] = [];
  if (obj.images !== undefined) {
    if (!Array.isArray(obj.images)) check.problem(`${path}.images`, 'must be an array');
    else {
      const partial = { message, stage };
      obj.images.forEach((item: unknown, index) => {
        const spec = image(check, item, `${path}.images[${index}]`, partial);
        if (spec) images.push(spec);
      });
      unique(check, images, (i) => i.alias, `${path}.images`, 'alias');
      unique(check, images, (i) => i.name, `${path}.images`, 'name');
    }
  }
  if (name === undefined || message === undefined || table === undefined || stage === undefined || mode === undefined)
    return undefined;
  return {
    name,
    message,
    table,
    stage,
    mode,
    rank,
    filteringAttributes,
    ...(description === undefined ? {} : { description }),
    deleteAsyncJobOnSuccess,
    enabled,
    images,
  };
}

function unique<T>(check: Checker, items: readonly T[], key: (item: T) => string, path: string, what: string): void {
  const seen = new Set<string>();
  for (const item of items) {
    const value = key(item);
    if (seen.has(value)) check.problem(path, `two entries have the ${what} "${value}"`);
    seen.add(value);
  }
}

function endpointSpec(check: Checker, value: unknown, path: string): EndpointSpec | undefined {
  const obj = check.object(value, path, [
    'name',
    'kind',
    'description',
    'url',
    'auth',
    'namespace',
    'path',
    'messageFormat',
    'accessKey',
    'steps',
  ]);
  if (!obj) return undefined;
  const name = check.string(obj, 'name', path, { max: 256 });
  const kind = check.oneOf(obj, 'kind', path, ENDPOINT_KINDS);
  const description = check.string(obj, 'description', path, { max: 2000, required: false });
  const steps: StepSpec[] = [];
  if (obj.steps !== undefined) {
    if (!Array.isArray(obj.steps)) check.problem(`${path}.steps`, 'must be an array');
    else
      obj.steps.forEach((item: unknown, index) => {
        const spec = stepSpec(check, item, `${path}.steps[${index}]`);
        if (spec) steps.push(spec);
      });
    unique(check, steps, (s) => s.name, `${path}.steps`, 'name');
  }
  const refuse = (members: readonly string[]): void => {
    for (const member of members)
      if (obj[member] !== undefined) check.problem(`${path}.${member}`, `does not apply to a ${kind} endpoint`);
  };
  if (name === undefined || kind === undefined) return undefined;
  const base = { name, steps, ...(description === undefined ? {} : { description }) };
  switch (kind) {
    case 'webhook': {
      refuse(['namespace', 'path', 'messageFormat', 'accessKey']);
      const url = check.string(obj, 'url', path, { max: 2000 });
      checkUrl(check, url, `${path}.url`);
      const auth = webhookAuth(check, obj.auth, `${path}.auth`);
      return url !== undefined && auth ? { ...base, kind, url, auth } : undefined;
    }
    case 'eventGrid': {
      refuse(['namespace', 'path', 'messageFormat', 'auth']);
      const url = check.string(obj, 'url', path, { max: 2000 });
      checkUrl(check, url, `${path}.url`);
      const accessKey = check.secret(obj.accessKey, `${path}.accessKey`);
      return url !== undefined && accessKey ? { ...base, kind, url, accessKey } : undefined;
    }
    default: {
      refuse(['url', 'accessKey']);
      const namespace = check.string(obj, 'namespace', path, { max: 160 });
      const entityPath = check.string(obj, 'path', path, { max: 160 });
      const messageFormat = check.oneOf(obj, 'messageFormat', path, FORMATS, 'json');
      const auth = sasAuth(check, obj.auth, `${path}.auth`);
      for (const step of steps) {
        // Queues, topics and hubs take the context as a message; there is no synchronous answer to wait for.
        if (step.mode === 'sync')
          check.problem(`${path}.steps`, `step "${step.name}" must be asynchronous on a ${kind} endpoint`);
      }
      return namespace !== undefined && entityPath !== undefined && messageFormat !== undefined && auth
        ? { ...base, kind, namespace, path: entityPath, messageFormat, auth }
        : undefined;
    }
  }
}

/** Validates parsed JSON as a registration file, collecting every problem with its JSON path. */
export function validateRegistrationFile(value: unknown): ValidationResult {
  const check = new Checker();
  const obj = check.object(value, '$', ['$schema', 'endpoints']);
  const endpoints: EndpointSpec[] = [];
  if (obj) {
    if (!Array.isArray(obj.endpoints)) check.problem('$.endpoints', 'must be an array');
    else
      obj.endpoints.forEach((item: unknown, index) => {
        const spec = endpointSpec(check, item, `$.endpoints[${index}]`);
        if (spec) endpoints.push(spec);
      });
    unique(check, endpoints, (e) => e.name, '$.endpoints', 'name');
  }
  return check.issues.length > 0 ? { ok: false, issues: check.issues } : { ok: true, file: { endpoints } };
}

/** Parses and validates file text; throws `invalidInput` listing every problem. */
export function parseRegistrationFile(text: string): RegistrationFile {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new WorkbenchError('invalidInput', 'The registration file is not valid JSON.', { cause: error });
  }
  const result = validateRegistrationFile(json);
  if (!result.ok) {
    const lines = result.issues.map((issue) => `  ${issue.path}: ${issue.message}`);
    throw new WorkbenchError('invalidInput', `The registration file is invalid:\n${lines.join('\n')}`);
  }
  return result.file;
}

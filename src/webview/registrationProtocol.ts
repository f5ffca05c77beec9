/**
 * The message protocol between the webhook registration form's host (src/extension/webhooks) and its page
 * (src/webview/registration). Imports nothing, so both sides compile it into their own bundle.
 *
 * Secrets go one way only: the page may send a new secret on Save; the host never sends one back (it
 * only says whether one is set). Each side validates every message it receives.
 */

export type FormEndpointKind = 'webhook' | 'serviceBusQueue' | 'serviceBusTopic' | 'eventHub';
export type FormAuthKind = 'WebhookKey' | 'HttpHeader' | 'HttpQueryString' | 'SASKey' | 'SASToken';
export type FormStage = 'pre-validation' | 'pre-operation' | 'post-operation';
export type FormMode = 'sync' | 'async';
export type FormImageType = 'pre' | 'post' | 'both';
export type FormMessageFormat = 'json' | 'binaryXml' | 'textXml';

export const ENDPOINT_KINDS: readonly FormEndpointKind[] = [
  'webhook',
  'serviceBusQueue',
  'serviceBusTopic',
  'eventHub',
];
export const AUTH_KINDS: readonly FormAuthKind[] = [
  'WebhookKey',
  'HttpHeader',
  'HttpQueryString',
  'SASKey',
  'SASToken',
];
export const STAGES: readonly FormStage[] = ['pre-validation', 'pre-operation', 'post-operation'];
export const IMAGE_TYPES: readonly FormImageType[] = ['pre', 'post', 'both'];
export const MESSAGE_FORMATS: readonly FormMessageFormat[] = ['json', 'binaryXml', 'textXml'];

/** A header or query-string pair; `value` empty keeps what is registered (edit only). */
export interface FormPair {
  readonly name: string;
  readonly value: string;
}

export interface FormEndpoint {
  readonly name: string;
  readonly kind: FormEndpointKind;
  readonly description: string;
  /** Webhook only. */
  readonly url: string;
  readonly authKind: FormAuthKind;
  /** Edit only: send no auth and keep what Dataverse holds. */
  readonly keepAuth: boolean;
  /** The WebhookKey, SAS key or SAS token typed now; empty when kept. */
  readonly secret: string;
  /** HttpHeader and HttpQueryString. */
  readonly pairs: readonly FormPair[];
  /** Service Bus and Event Hub. */
  readonly namespace: string;
  readonly path: string;
  readonly keyName: string;
  readonly messageFormat: FormMessageFormat;
}

/** A new endpoint's fields: a webhook, to `url` when there is one to offer (the running inspector's). */
export function blankEndpoint(url = ''): FormEndpoint {
  return {
    name: '',
    kind: 'webhook',
    description: '',
    url,
    authKind: 'WebhookKey',
    keepAuth: false,
    secret: '',
    pairs: [],
    namespace: '',
    path: '',
    keyName: 'RootManageSharedAccessKey',
    messageFormat: 'json',
  };
}

export interface FormImage {
  /** The registered image this row edits; absent for a new one. */
  readonly id?: string;
  readonly alias: string;
  readonly type: FormImageType;
  readonly columns: readonly string[];
}

export interface FormStep {
  /** The registered step this row edits; absent for a new one. */
  readonly id?: string;
  readonly name: string;
  readonly message: string;
  readonly table: string;
  readonly stage: FormStage;
  readonly mode: FormMode;
  readonly rank: number;
  readonly filteringAttributes: readonly string[];
  readonly description: string;
  readonly deleteAsyncJobOnSuccess: boolean;
  readonly enabled: boolean;
  readonly images: readonly FormImage[];
}

export interface FormRegistration {
  readonly endpoint: FormEndpoint;
  readonly steps: readonly FormStep[];
}

export interface FormTable {
  readonly name: string;
  readonly label: string;
}

export type HostMessage =
  | {
      readonly type: 'init';
      /** `edit` when the form shows a registered endpoint. */
      readonly mode: 'create' | 'edit';
      readonly environment: string;
      readonly registration: FormRegistration;
      /** Whether the registered endpoint holds a secret (never the secret). */
      readonly secretSet: boolean;
      /** The running delivery inspector's URL, offered as the webhook URL. */
      readonly inspectorUrl?: string;
      readonly tables: readonly FormTable[];
    }
  | {
      readonly type: 'messages';
      readonly requestId: number;
      readonly table: string;
      readonly messages: readonly string[];
    }
  | {
      readonly type: 'columns';
      readonly requestId: number;
      readonly table: string;
      readonly columns: readonly string[];
    }
  | {
      readonly type: 'saved';
      readonly requestId: number;
      readonly summary: string;
      readonly registration: FormRegistration;
    }
  | { readonly type: 'failed'; readonly requestId: number; readonly error: string };

export type PageMessage =
  | { readonly type: 'ready' }
  | { readonly type: 'messages'; readonly requestId: number; readonly table: string }
  | { readonly type: 'columns'; readonly requestId: number; readonly table: string }
  | { readonly type: 'save'; readonly requestId: number; readonly registration: FormRegistration }
  | { readonly type: 'cancel' };

export type Parsed<T> = { readonly ok: true; readonly message: T } | { readonly ok: false; readonly error: string };

type Obj = Readonly<Record<string, unknown>>;

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Table and column logical names (what `sdkmessagefilters` and `$metadata` use). */
const LOGICAL_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
const MAX_LIST = 5000;

function isObj(value: unknown): value is Obj {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isText(value: unknown, max: number): value is string {
  return typeof value === 'string' && value.length <= max;
}

function isOneOf<T extends string>(value: unknown, options: readonly T[]): value is T {
  return typeof value === 'string' && (options as readonly string[]).includes(value);
}

function isRequestId(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function only(obj: Obj, keys: readonly string[]): boolean {
  return Object.keys(obj).every((key) => keys.includes(key));
}

function isList<T>(value: unknown, item: (value: unknown) => value is T, max = MAX_LIST): value is readonly T[] {
  return Array.isArray(value) && value.length <= max && value.every(item);
}

export function isLogicalName(value: unknown): value is string {
  return typeof value === 'string' && LOGICAL_NAME.test(value);
}

const isId = (value: unknown): boolean => value === undefined || (typeof value === 'string' && GUID.test(value));

function isPair(value: unknown): value is FormPair {
  return isObj(value) && only(value, ['name', 'value']) && isText(value.name, 256) && isText(value.value, 4000);
}

const ENDPOINT_KEYS = [
  'name',
  'kind',
  'description',
  'url',
  'authKind',
  'keepAuth',
  'secret',
  'pairs',
  'namespace',
  'path',
  'keyName',
  'messageFormat',
] as const;

function isEndpoint(value: unknown): value is FormEndpoint {
  return (
    isObj(value) &&
    only(value, ENDPOINT_KEYS) &&
    isText(value.name, 256) &&
    isOneOf(value.kind, ENDPOINT_KINDS) &&
    isText(value.description, 256) &&
    isText(value.url, 2000) &&
    isOneOf(value.authKind, AUTH_KINDS) &&
    typeof value.keepAuth === 'boolean' &&
    isText(value.secret, 4000) &&
    isList(value.pairs, isPair, 20) &&
    isText(value.namespace, 160) &&
    isText(value.path, 160) &&
    isText(value.keyName, 256) &&
    isOneOf(value.messageFormat, MESSAGE_FORMATS)
  );
}

function isImage(value: unknown): value is FormImage {
  return (
    isObj(value) &&
    only(value, ['id', 'alias', 'type', 'columns']) &&
    isId(value.id) &&
    isText(value.alias, 256) &&
    isOneOf(value.type, IMAGE_TYPES) &&
    isList(value.columns, isLogicalName)
  );
}

const STEP_KEYS = [
  'id',
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
] as const;

function isStep(value: unknown): value is FormStep {
  return (
    isObj(value) &&
    only(value, STEP_KEYS) &&
    isId(value.id) &&
    isText(value.name, 256) &&
    isText(value.message, 256) &&
    (value.table === '' || isLogicalName(value.table)) &&
    isOneOf(value.stage, STAGES) &&
    isOneOf(value.mode, ['sync', 'async'] as const) &&
    typeof value.rank === 'number' &&
    Number.isSafeInteger(value.rank) &&
    isList(value.filteringAttributes, isLogicalName) &&
    isText(value.description, 256) &&
    typeof value.deleteAsyncJobOnSuccess === 'boolean' &&
    typeof value.enabled === 'boolean' &&
    isList(value.images, isImage, 20)
  );
}

export function isRegistration(value: unknown): value is FormRegistration {
  return (
    isObj(value) && only(value, ['endpoint', 'steps']) && isEndpoint(value.endpoint) && isList(value.steps, isStep, 100)
  );
}

function isTable(value: unknown): value is FormTable {
  return isObj(value) && only(value, ['name', 'label']) && isLogicalName(value.name) && isText(value.label, 256);
}

const isMessageName = (value: unknown): value is string => isText(value, 256);

export function parseHostMessage(raw: unknown): Parsed<HostMessage> {
  if (!isObj(raw) || typeof raw.type !== 'string') return { ok: false, error: 'not a message object' };
  switch (raw.type) {
    case 'init':
      return only(raw, ['type', 'mode', 'environment', 'registration', 'secretSet', 'inspectorUrl', 'tables']) &&
        isOneOf(raw.mode, ['create', 'edit'] as const) &&
        isText(raw.environment, 256) &&
        isRegistration(raw.registration) &&
        typeof raw.secretSet === 'boolean' &&
        (raw.inspectorUrl === undefined || isText(raw.inspectorUrl, 256)) &&
        isList(raw.tables, isTable, 20_000)
        ? {
            ok: true,
            message: {
              type: 'init',
              mode: raw.mode,
              environment: raw.environment,
              registration: raw.registration,
              secretSet: raw.secretSet,
              tables: raw.tables,
              ...(raw.inspectorUrl === undefined ? {} : { inspectorUrl: raw.inspectorUrl }),
            },
          }
        : { ok: false, error: 'invalid init' };
    case 'messages':
      return only(raw, ['type', 'requestId', 'table', 'messages']) &&
        isRequestId(raw.requestId) &&
        isLogicalName(raw.table) &&
        isList(raw.messages, isMessageName)
        ? {
            ok: true,
            message: { type: 'messages', requestId: raw.requestId, table: raw.table, messages: raw.messages },
          }
        : { ok: false, error: 'invalid messages' };
    case 'columns':
      return only(raw, ['type', 'requestId', 'table', 'columns']) &&
        isRequestId(raw.requestId) &&
        isLogicalName(raw.table) &&
        isList(raw.columns, isLogicalName)
        ? { ok: true, message: { type: 'columns', requestId: raw.requestId, table: raw.table, columns: raw.columns } }
        : { ok: false, error: 'invalid columns' };
    case 'saved':
      return only(raw, ['type', 'requestId', 'summary', 'registration']) &&
        isRequestId(raw.requestId) &&
        isText(raw.summary, 4000) &&
        isRegistration(raw.registration)
        ? {
            ok: true,
            message: { type: 'saved', requestId: raw.requestId, summary: raw.summary, registration: raw.registration },
          }
        : { ok: false, error: 'invalid saved' };
    case 'failed':
      return only(raw, ['type', 'requestId', 'error']) && isRequestId(raw.requestId) && isText(raw.error, 8000)
        ? { ok: true, message: { type: 'failed', requestId: raw.requestId, error: raw.error } }
        : { ok: false, error: 'invalid failed' };
    default:
      return { ok: false, error: `unknown message type ${JSON.stringify(raw.type.slice(0, 40))}` };
  }
}

export function parsePageMessage(raw: unknown): Parsed<PageMessage> {
  if (!isObj(raw) || typeof raw.type !== 'string') return { ok: false, error: 'not a message object' };
  switch (raw.type) {
    case 'ready':
    case 'cancel':
      return only(raw, ['type'])
        ? { ok: true, message: { type: raw.type } }
        : { ok: false, error: `invalid ${raw.type}` };
    case 'messages':
    case 'columns':
      return only(raw, ['type', 'requestId', 'table']) && isRequestId(raw.requestId) && isLogicalName(raw.table)
        ? { ok: true, message: { type: raw.type, requestId: raw.requestId, table: raw.table } }
        : { ok: false, error: `invalid ${raw.type}` };
    case 'save':
      return only(raw, ['type', 'requestId', 'registration']) &&
        isRequestId(raw.requestId) &&
        isRegistration(raw.registration)
        ? { ok: true, message: { type: 'save', requestId: raw.requestId, registration: raw.registration } }
        : { ok: false, error: 'invalid save' };
    default:
      return { ok: false, error: `unknown message type ${JSON.stringify(raw.type.slice(0, 40))}` };
  }
}

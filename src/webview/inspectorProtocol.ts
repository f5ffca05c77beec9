/**
 * The message protocol between the webhook delivery inspector's host (src/extension/webhooks) and its
 * page (src/webview/inspector). Imports nothing, so both sides compile it into their own bundle.
 *
 * Deliveries carry record values from whoever posted to the receiver: the page shows them as text only,
 * and each side validates every message it receives (`parseHostMessage`, `parsePageMessage`).
 */

export interface InspectorValue {
  readonly column: string;
  /** Already formatted for reading (`formatContextValue`). */
  readonly value: string;
}

export interface InspectorChange {
  readonly column: string;
  /** Absent when no pre-image holds the column. */
  readonly before?: string;
  readonly after: string;
}

export interface InspectorImage {
  readonly alias: string;
  readonly values: readonly InspectorValue[];
}

/** One record of a bulk message's Targets (CreateMultiple, UpdateMultiple, …) with its own images. */
export interface InspectorTarget {
  readonly logicalName: string;
  readonly id: string;
  readonly changes: readonly InspectorChange[];
  readonly preImages: readonly InspectorImage[];
  readonly postImages: readonly InspectorImage[];
}

export interface InspectorDelivery {
  /** Counts up from 1 per receiver run. */
  readonly sequence: number;
  readonly receivedAt: string;
  readonly messageName: string;
  readonly primaryEntityName: string;
  readonly primaryEntityId: string;
  readonly stage: number;
  readonly stageLabel: string;
  readonly mode: number;
  readonly modeLabel: string;
  readonly depth: number;
  readonly correlationId: string;
  readonly organizationName: string;
  readonly changes: readonly InspectorChange[];
  readonly preImages: readonly InspectorImage[];
  readonly postImages: readonly InspectorImage[];
  /** A bulk message's records in the order of Targets, each with entry i of Pre/PostEntityImagesCollection. */
  readonly targets: readonly InspectorTarget[];
  readonly bodyBytes: number;
  readonly msgSizeExceeded: boolean;
  /** The body, indented. */
  readonly raw: string;
}

export type HostMessage =
  | { readonly type: 'status'; readonly state: 'listening' | 'stopped'; readonly url?: string; readonly keyed: boolean }
  | { readonly type: 'delivery'; readonly delivery: InspectorDelivery }
  | { readonly type: 'rejected'; readonly status: number; readonly reason: string }
  | { readonly type: 'clear' };

export type PageMessage =
  | { readonly type: 'ready' }
  | { readonly type: 'clear' }
  | { readonly type: 'stop' }
  | { readonly type: 'copy'; readonly text: string };

export type Parsed<T> = { readonly ok: true; readonly message: T } | { readonly ok: false; readonly error: string };

type Obj = Readonly<Record<string, unknown>>;

const MAX_TEXT = 2 * 1024 * 1024;

function isObj(value: unknown): value is Obj {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isText(value: unknown, max = MAX_TEXT): value is string {
  return typeof value === 'string' && value.length <= max;
}

function isInt(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value);
}

/** An array whose every item passes `item`. */
function isListOf<T>(value: unknown, item: (entry: unknown) => entry is T): value is T[] {
  return Array.isArray(value) && value.every(item);
}

function only(obj: Obj, keys: readonly string[]): boolean {
  return Object.keys(obj).every((key) => keys.includes(key));
}

function isValue(value: unknown): value is InspectorValue {
  return isObj(value) && only(value, ['column', 'value']) && isText(value.column, 256) && isText(value.value);
}

function isChange(value: unknown): value is InspectorChange {
  return (
    isObj(value) &&
    only(value, ['column', 'before', 'after']) &&
    isText(value.column, 256) &&
    (value.before === undefined || isText(value.before)) &&
    isText(value.after)
  );
}

function isImage(value: unknown): value is InspectorImage {
  return (
    isObj(value) && only(value, ['alias', 'values']) && isText(value.alias, 256) && isListOf(value.values, isValue)
  );
}

function isTarget(value: unknown): value is InspectorTarget {
  return (
    isObj(value) &&
    only(value, ['logicalName', 'id', 'changes', 'preImages', 'postImages']) &&
    isText(value.logicalName, 256) &&
    isText(value.id, 256) &&
    isListOf(value.changes, isChange) &&
    isListOf(value.preImages, isImage) &&
    isListOf(value.postImages, isImage)
  );
}

const DELIVERY_KEYS = [
  'sequence',
  'receivedAt',
  'messageName',
  'primaryEntityName',
  'primaryEntityId',
  'stage',
  'stageLabel',
  'mode',
  'modeLabel',
  'depth',
  'correlationId',
  'organizationName',
  'changes',
  'preImages',
  'postImages',
  'targets',
  'bodyBytes',
  'msgSizeExceeded',
  'raw',
] as const;

export function isDelivery(value: unknown): value is InspectorDelivery {
  if (!isObj(value) || !only(value, DELIVERY_KEYS)) return false;
  return (
    isInt(value.sequence) &&
    isText(value.receivedAt, 64) &&
    isText(value.messageName, 256) &&
    isText(value.primaryEntityName, 256) &&
    isText(value.primaryEntityId, 256) &&
    isInt(value.stage) &&
    isText(value.stageLabel, 64) &&
    isInt(value.mode) &&
    isText(value.modeLabel, 64) &&
    isInt(value.depth) &&
    isText(value.correlationId, 256) &&
    isText(value.organizationName, 256) &&
    isListOf(value.changes, isChange) &&
    isListOf(value.preImages, isImage) &&
    isListOf(value.postImages, isImage) &&
    isListOf(value.targets, isTarget) &&
    isInt(value.bodyBytes) &&
    typeof value.msgSizeExceeded === 'boolean' &&
    isText(value.raw, 8 * 1024 * 1024)
  );
}

export function parseHostMessage(raw: unknown): Parsed<HostMessage> {
  if (!isObj(raw) || typeof raw.type !== 'string') return { ok: false, error: 'not a message object' };
  switch (raw.type) {
    case 'status':
      if (
        only(raw, ['type', 'state', 'url', 'keyed']) &&
        (raw.state === 'listening' || raw.state === 'stopped') &&
        (raw.url === undefined || isText(raw.url, 256)) &&
        typeof raw.keyed === 'boolean'
      ) {
        return {
          ok: true,
          message: {
            type: 'status',
            state: raw.state,
            keyed: raw.keyed,
            ...(raw.url === undefined ? {} : { url: raw.url }),
          },
        };
      }
      return { ok: false, error: 'invalid status' };
    case 'delivery':
      return only(raw, ['type', 'delivery']) && isDelivery(raw.delivery)
        ? { ok: true, message: { type: 'delivery', delivery: raw.delivery } }
        : { ok: false, error: 'invalid delivery' };
    case 'rejected':
      return only(raw, ['type', 'status', 'reason']) && isInt(raw.status) && isText(raw.reason, 1000)
        ? { ok: true, message: { type: 'rejected', status: raw.status, reason: raw.reason } }
        : { ok: false, error: 'invalid rejection' };
    case 'clear':
      return only(raw, ['type']) ? { ok: true, message: { type: 'clear' } } : { ok: false, error: 'invalid clear' };
    default:
      return { ok: false, error: `unknown message type ${JSON.stringify(raw.type.slice(0, 40))}` };
  }
}

export function parsePageMessage(raw: unknown): Parsed<PageMessage> {
  if (!isObj(raw) || typeof raw.type !== 'string') return { ok: false, error: 'not a message object' };
  switch (raw.type) {
    case 'ready':
    case 'clear':
    case 'stop':
      return only(raw, ['type'])
        ? { ok: true, message: { type: raw.type } }
        : { ok: false, error: `invalid ${raw.type}` };
    case 'copy':
      return only(raw, ['type', 'text']) && isText(raw.text, 8 * 1024 * 1024)
        ? { ok: true, message: { type: 'copy', text: raw.text } }
        : { ok: false, error: 'invalid copy' };
    default:
      return { ok: false, error: `unknown message type ${JSON.stringify(raw.type.slice(0, 40))}` };
  }
}

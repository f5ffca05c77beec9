import { WorkbenchError } from './errors';
import { isJsonObject } from './json';

// The body Dataverse POSTs to webhooks: `Microsoft.Xrm.Sdk.RemoteExecutionContext` written by WCF's
// DataContractJsonSerializer. This codec lives in core (pure) because both the delivery inspector
// (src/webhooks) and the emulator, which may import only core/metadata/odata, need it.

export type JsonValue = null | boolean | number | string | readonly JsonValue[] | { readonly [key: string]: JsonValue };

export interface KeyValue<T> {
  readonly key: string;
  readonly value: T;
}

/** `\/Date(ms)\/` or `\/Date(ms+hhmm)\/`; the offset is kept as written so a round trip loses nothing. */
export interface DateTimeValue {
  readonly kind: 'dateTime';
  readonly epochMs: number;
  readonly offset?: string;
}

export interface OptionSetValue {
  readonly kind: 'optionSet';
  readonly value: number;
}

export interface MoneyValue {
  readonly kind: 'money';
  readonly value: number;
}

export interface EntityReference {
  readonly kind: 'entityReference';
  readonly id: string;
  readonly logicalName: string;
  readonly name: string | null;
  readonly keyAttributes: readonly KeyValue<ContextValue>[];
  readonly rowVersion: string | null;
}

export interface Entity {
  readonly kind: 'entity';
  readonly logicalName: string;
  readonly id: string;
  readonly attributes: readonly KeyValue<ContextValue>[];
  readonly entityState: number | null;
  readonly formattedValues: readonly KeyValue<string>[];
  readonly keyAttributes: readonly KeyValue<ContextValue>[];
  /** Always empty in webhook payloads seen so far; kept verbatim rather than modelled. */
  readonly relatedEntities: readonly JsonValue[];
  readonly rowVersion: string | null;
}

/** Activity parties (`to`, `from`, …) arrive as an EntityCollection. */
export interface EntityCollection {
  readonly kind: 'entityCollection';
  readonly entities: readonly Entity[];
  readonly entityName: string | null;
  readonly minActiveRowVersion: string | null;
  readonly moreRecords: boolean;
  readonly pagingCookie: string | null;
  readonly totalRecordCount: number;
  readonly totalRecordCountLimitExceeded: boolean;
}

/** A plain JSON array: multi-select choices (OptionSetValueCollection) and `object[]` values. */
export interface ValueList {
  readonly kind: 'list';
  readonly items: readonly ContextValue[];
}

/** A value whose `__type` this codec does not model (e.g. `KeyValuePairOfstringstring`), kept verbatim. */
export interface OpaqueValue {
  readonly kind: 'opaque';
  readonly json: JsonValue;
}

/** GUIDs are plain strings on the wire, so they decode as strings. */
export type ContextValue =
  | null
  | string
  | number
  | boolean
  | DateTimeValue
  | OptionSetValue
  | MoneyValue
  | EntityReference
  | Entity
  | EntityCollection
  | ValueList
  | OpaqueValue;

/**
 * Members Dataverse sends on every delivery are required. The rest are optional so that a decoded
 * body encodes back to the same members: a body over 256 KB arrives without ParentContext,
 * InputParameters and the images, and an encoder asked to trim simply leaves them undefined.
 */
export interface RemoteExecutionContext {
  readonly businessUnitId: string;
  readonly correlationId: string;
  readonly depth: number;
  readonly initiatingUserId: string;
  readonly inputParameters?: readonly KeyValue<ContextValue>[];
  readonly isExecutingOffline?: boolean;
  readonly isInTransaction?: boolean;
  readonly isOfflinePlayback?: boolean;
  readonly isolationMode?: number;
  readonly messageName: string;
  /** 0 synchronous, 1 asynchronous. */
  readonly mode: number;
  readonly operationCreatedOn?: DateTimeValue;
  readonly operationId?: string | null;
  readonly organizationId: string;
  readonly organizationName: string;
  readonly outputParameters?: readonly KeyValue<ContextValue>[];
  readonly owningExtension?: EntityReference | null;
  readonly parentContext?: RemoteExecutionContext | null;
  readonly postEntityImages?: readonly KeyValue<Entity>[];
  /**
   * A bulk message's images (CreateMultiple, UpdateMultiple…): one image list per record of its `Targets`, in the
   * same order (IPluginExecutionContext4; Microsoft Learn, "Write plug-ins for CreateMultiple and UpdateMultiple",
   * entity images). A single message's context has none.
   */
  readonly postEntityImagesCollection?: readonly (readonly KeyValue<Entity>[])[];
  readonly preEntityImages?: readonly KeyValue<Entity>[];
  readonly preEntityImagesCollection?: readonly (readonly KeyValue<Entity>[])[];
  readonly primaryEntityId: string;
  readonly primaryEntityName: string;
  readonly requestId?: string | null;
  readonly secondaryEntityName?: string;
  readonly sharedVariables?: readonly KeyValue<ContextValue>[];
  /** 10 pre-validation, 20 pre-operation, 30 main operation (parent contexts), 40 post-operation. */
  readonly stage: number;
  readonly userId: string;
  /**
   * Members this codec does not model, by name, kept verbatim: newer SDK builds add some
   * (`InitiatingUserAzureActiveDirectoryObjectId`, `IsPortalsClientCall`, …) and receivers must ignore them.
   */
  readonly otherMembers?: Readonly<Record<string, JsonValue>>;
}

const CONTRACTS = 'http://schemas.microsoft.com/xrm/2011/Contracts';
const DATE = /^\/Date\((-?\d+)([+-]\d{4})?\)\/$/;
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

type JsonObject = { readonly [key: string]: JsonValue };

function fail(path: string, expected: string): never {
  throw new WorkbenchError('invalidInput', `Not a RemoteExecutionContext: ${path} should be ${expected}.`);
}

function objectAt(value: unknown, path: string): JsonObject {
  if (!isJsonObject(value)) fail(path, 'an object');
  // Parsed JSON: its members are JSON values.
  return value as JsonObject;
}

function arrayAt(value: unknown, path: string): readonly JsonValue[] {
  if (!Array.isArray(value)) fail(path, 'an array');
  return value as readonly JsonValue[];
}

function stringAt(value: unknown, path: string): string {
  if (typeof value !== 'string') fail(path, 'a string');
  return value;
}

function nullableStringAt(value: unknown, path: string): string | null {
  if (value === null || value === undefined) return null;
  return stringAt(value, path);
}

function guidAt(value: unknown, path: string): string {
  const text = stringAt(value, path);
  if (!GUID.test(text)) fail(path, 'a GUID');
  return text;
}

function integerAt(value: unknown, path: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value)) fail(path, 'an integer');
  return value;
}

function numberAt(value: unknown, path: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) fail(path, 'a number');
  return value;
}

function booleanAt(value: unknown, path: string): boolean {
  if (typeof value !== 'boolean') fail(path, 'true or false');
  return value;
}

function optional<T>(value: unknown, path: string, decode: (value: unknown, path: string) => T): T | undefined {
  return value === undefined ? undefined : decode(value, path);
}

function dateTimeAt(value: unknown, path: string): DateTimeValue {
  const match = DATE.exec(stringAt(value, path));
  if (!match) fail(path, 'a date in the form /Date(milliseconds)/');
  return parsedDate(match);
}

function parsedDate(match: RegExpExecArray): DateTimeValue {
  const epochMs = Number(match[1]);
  return match[2] === undefined ? { kind: 'dateTime', epochMs } : { kind: 'dateTime', epochMs, offset: match[2] };
}

function keyValuesAt<T>(
  value: unknown,
  path: string,
  decode: (value: unknown, path: string) => T,
): readonly KeyValue<T>[] {
  return arrayAt(value, path).map((item, index) => {
    const itemPath = `${path}[${index}]`;
    const pair = objectAt(item, itemPath);
    return { key: stringAt(pair.key, `${itemPath}.key`), value: decode(pair.value, `${itemPath}.value`) };
  });
}

function typeName(json: JsonObject): string | undefined {
  const type = json.__type;
  if (typeof type !== 'string') return undefined;
  const colon = type.indexOf(':');
  return colon > 0 && type.slice(colon + 1) === CONTRACTS ? type.slice(0, colon) : undefined;
}

/** A value where the declared type is `object`, so the serializer annotates it with `__type`. */
function contextValueAt(value: unknown, path: string): ContextValue {
  if (value === null || typeof value === 'boolean') return value;
  if (typeof value === 'number') return numberAt(value, path);
  if (typeof value === 'string') {
    const match = DATE.exec(value);
    return match ? parsedDate(match) : value;
  }
  if (Array.isArray(value)) {
    return { kind: 'list', items: value.map((item, index) => contextValueAt(item, `${path}[${index}]`)) };
  }
  const json = objectAt(value, path);
  switch (typeName(json)) {
    case 'Entity':
      return entityAt(json, path);
    case 'EntityReference':
      return entityReferenceAt(json, path);
    case 'EntityCollection':
      return entityCollectionAt(json, path);
    case 'OptionSetValue':
      return { kind: 'optionSet', value: integerAt(json.Value, `${path}.Value`) };
    case 'Money':
      return { kind: 'money', value: numberAt(json.Value, `${path}.Value`) };
    default:
      return { kind: 'opaque', json };
  }
}

function entityReferenceAt(value: unknown, path: string): EntityReference {
  const json = objectAt(value, path);
  return {
    kind: 'entityReference',
    id: guidAt(json.Id, `${path}.Id`),
    logicalName: stringAt(json.LogicalName, `${path}.LogicalName`),
    name: nullableStringAt(json.Name, `${path}.Name`),
    keyAttributes:
      json.KeyAttributes === undefined ? [] : keyValuesAt(json.KeyAttributes, `${path}.KeyAttributes`, contextValueAt),
    rowVersion: nullableStringAt(json.RowVersion, `${path}.RowVersion`),
  };
}

function entityAt(value: unknown, path: string): Entity {
  const json = objectAt(value, path);
  const state = json.EntityState;
  return {
    kind: 'entity',
    logicalName: stringAt(json.LogicalName, `${path}.LogicalName`),
    id: guidAt(json.Id, `${path}.Id`),
    attributes: keyValuesAt(json.Attributes, `${path}.Attributes`, contextValueAt),
    entityState: state === undefined || state === null ? null : integerAt(state, `${path}.EntityState`),
    formattedValues:
      json.FormattedValues === undefined ? [] : keyValuesAt(json.FormattedValues, `${path}.FormattedValues`, stringAt),
    keyAttributes:
      json.KeyAttributes === undefined ? [] : keyValuesAt(json.KeyAttributes, `${path}.KeyAttributes`, contextValueAt),
    relatedEntities: json.RelatedEntities === undefined ? [] : arrayAt(json.RelatedEntities, `${path}.RelatedEntities`),
    rowVersion: nullableStringAt(json.RowVersion, `${path}.RowVersion`),
  };
}

function entityCollectionAt(json: JsonObject, path: string): EntityCollection {
  return {
    kind: 'entityCollection',
    entities: arrayAt(json.Entities, `${path}.Entities`).map((item, index) =>
      entityAt(item, `${path}.Entities[${index}]`),
    ),
    entityName: nullableStringAt(json.EntityName, `${path}.EntityName`),
    minActiveRowVersion: nullableStringAt(json.MinActiveRowVersion, `${path}.MinActiveRowVersion`),
    moreRecords: json.MoreRecords === undefined ? false : booleanAt(json.MoreRecords, `${path}.MoreRecords`),
    pagingCookie: nullableStringAt(json.PagingCookie, `${path}.PagingCookie`),
    totalRecordCount:
      json.TotalRecordCount === undefined ? -1 : integerAt(json.TotalRecordCount, `${path}.TotalRecordCount`),
    totalRecordCountLimitExceeded:
      json.TotalRecordCountLimitExceeded === undefined
        ? false
        : booleanAt(json.TotalRecordCountLimitExceeded, `${path}.TotalRecordCountLimitExceeded`),
  };
}

const MODELLED_MEMBERS = new Set([
  'BusinessUnitId',
  'CorrelationId',
  'Depth',
  'InitiatingUserId',
  'InputParameters',
  'IsExecutingOffline',
  'IsInTransaction',
  'IsOfflinePlayback',
  'IsolationMode',
  'MessageName',
  'Mode',
  'OperationCreatedOn',
  'OperationId',
  'OrganizationId',
  'OrganizationName',
  'OutputParameters',
  'OwningExtension',
  'ParentContext',
  'PostEntityImages',
  'PostEntityImagesCollection',
  'PreEntityImages',
  'PreEntityImagesCollection',
  'PrimaryEntityId',
  'PrimaryEntityName',
  'RequestId',
  'SecondaryEntityName',
  'SharedVariables',
  'Stage',
  'UserId',
]);

function modeAt(value: unknown, path: string): number {
  const mode = integerAt(value, path);
  if (mode !== 0 && mode !== 1) fail(path, '0 (synchronous) or 1 (asynchronous)');
  return mode;
}

/** An array of EntityImageCollection: per record, its images by alias. */
function imagesListAt(value: unknown, path: string): readonly (readonly KeyValue<Entity>[])[] {
  return arrayAt(value, path).map((item, index) => keyValuesAt(item, `${path}[${index}]`, entityAt));
}

function contextAt(value: unknown, path: string): RemoteExecutionContext {
  const json = objectAt(value, path);
  const at = (member: string): string => `${path}.${member}`;
  const otherMembers: Record<string, JsonValue> = {};
  for (const [name, member] of Object.entries(json)) if (!MODELLED_MEMBERS.has(name)) otherMembers[name] = member;
  const parent = json.ParentContext;
  return {
    businessUnitId: guidAt(json.BusinessUnitId, at('BusinessUnitId')),
    correlationId: guidAt(json.CorrelationId, at('CorrelationId')),
    depth: integerAt(json.Depth, at('Depth')),
    initiatingUserId: guidAt(json.InitiatingUserId, at('InitiatingUserId')),
    inputParameters: optional(json.InputParameters, at('InputParameters'), (v, p) => keyValuesAt(v, p, contextValueAt)),
    isExecutingOffline: optional(json.IsExecutingOffline, at('IsExecutingOffline'), booleanAt),
    isInTransaction: optional(json.IsInTransaction, at('IsInTransaction'), booleanAt),
    isOfflinePlayback: optional(json.IsOfflinePlayback, at('IsOfflinePlayback'), booleanAt),
    isolationMode: optional(json.IsolationMode, at('IsolationMode'), integerAt),
    messageName: stringAt(json.MessageName, at('MessageName')),
    mode: modeAt(json.Mode, at('Mode')),
    operationCreatedOn: optional(json.OperationCreatedOn, at('OperationCreatedOn'), dateTimeAt),
    operationId: optional(json.OperationId, at('OperationId'), nullableStringAt),
    organizationId: guidAt(json.OrganizationId, at('OrganizationId')),
    organizationName: stringAt(json.OrganizationName, at('OrganizationName')),
    outputParameters: optional(json.OutputParameters, at('OutputParameters'), (v, p) =>
      keyValuesAt(v, p, contextValueAt),
    ),
    owningExtension: optional(json.OwningExtension, at('OwningExtension'), (v, p) =>
      v === null ? null : entityReferenceAt(v, p),
    ),
    parentContext: parent === undefined || parent === null ? parent : contextAt(parent, at('ParentContext')),
    postEntityImages: optional(json.PostEntityImages, at('PostEntityImages'), (v, p) => keyValuesAt(v, p, entityAt)),
    postEntityImagesCollection: optional(
      json.PostEntityImagesCollection,
      at('PostEntityImagesCollection'),
      imagesListAt,
    ),
    preEntityImages: optional(json.PreEntityImages, at('PreEntityImages'), (v, p) => keyValuesAt(v, p, entityAt)),
    preEntityImagesCollection: optional(json.PreEntityImagesCollection, at('PreEntityImagesCollection'), imagesListAt),
    primaryEntityId: guidAt(json.PrimaryEntityId, at('PrimaryEntityId')),
    primaryEntityName: stringAt(json.PrimaryEntityName, at('PrimaryEntityName')),
    requestId: optional(json.RequestId, at('RequestId'), nullableStringAt),
    secondaryEntityName: optional(json.SecondaryEntityName, at('SecondaryEntityName'), stringAt),
    sharedVariables: optional(json.SharedVariables, at('SharedVariables'), (v, p) => keyValuesAt(v, p, contextValueAt)),
    stage: integerAt(json.Stage, at('Stage')),
    userId: guidAt(json.UserId, at('UserId')),
    ...(Object.keys(otherMembers).length > 0 ? { otherMembers } : {}),
  };
}

/** Validates parsed JSON (`unknown`) as a delivery body; throws `invalidInput` naming the JSON path at fault. */
export function decodeRemoteExecutionContext(body: unknown): RemoteExecutionContext {
  return contextAt(body, '$');
}

/** Parses and decodes delivery body text; malformed JSON is an `invalidInput` error too. */
export function parseRemoteExecutionContext(text: string): RemoteExecutionContext {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new WorkbenchError('invalidInput', 'The body is not valid JSON.', { cause: error });
  }
  return decodeRemoteExecutionContext(json);
}

// ---- encoding ----

/** DataContractJsonSerializer writes `__type` first, then members in ordinal order of their names. */
function ordered(members: Record<string, JsonValue | undefined>): JsonObject {
  const names = Object.keys(members)
    .filter((name) => members[name] !== undefined)
    .sort((a, b) => (a === '__type' ? -1 : b === '__type' ? 1 : a < b ? -1 : a > b ? 1 : 0));
  const result: Record<string, JsonValue> = {};
  for (const name of names) result[name] = members[name] as JsonValue;
  return result;
}

function encodeDate(value: DateTimeValue): string {
  return `/Date(${value.epochMs}${value.offset ?? ''})/`;
}

function encodeKeyValues<T>(pairs: readonly KeyValue<T>[], encode: (value: T) => JsonValue): JsonValue {
  return pairs.map((pair) => ({ key: pair.key, value: encode(pair.value) }));
}

function encodeEntityReference(value: EntityReference, typed: boolean): JsonObject {
  return ordered({
    __type: typed ? `EntityReference:${CONTRACTS}` : undefined,
    Id: value.id,
    KeyAttributes: encodeKeyValues(value.keyAttributes, encodeContextValue),
    LogicalName: value.logicalName,
    Name: value.name,
    RowVersion: value.rowVersion,
  });
}

function encodeEntity(value: Entity, typed: boolean): JsonObject {
  return ordered({
    __type: typed ? `Entity:${CONTRACTS}` : undefined,
    Attributes: encodeKeyValues(value.attributes, encodeContextValue),
    EntityState: value.entityState,
    FormattedValues: encodeKeyValues(value.formattedValues, (text) => text),
    Id: value.id,
    KeyAttributes: encodeKeyValues(value.keyAttributes, encodeContextValue),
    LogicalName: value.logicalName,
    RelatedEntities: value.relatedEntities,
    RowVersion: value.rowVersion,
  });
}

function encodeContextValue(value: ContextValue): JsonValue {
  if (value === null || typeof value !== 'object') return value;
  switch (value.kind) {
    case 'dateTime':
      return encodeDate(value);
    case 'optionSet':
      return { __type: `OptionSetValue:${CONTRACTS}`, Value: value.value };
    case 'money':
      return { __type: `Money:${CONTRACTS}`, Value: value.value };
    case 'entityReference':
      return encodeEntityReference(value, true);
    case 'entity':
      return encodeEntity(value, true);
    case 'entityCollection':
      return ordered({
        __type: `EntityCollection:${CONTRACTS}`,
        Entities: value.entities.map((entity) => encodeEntity(entity, false)),
        EntityName: value.entityName,
        MinActiveRowVersion: value.minActiveRowVersion,
        MoreRecords: value.moreRecords,
        PagingCookie: value.pagingCookie,
        TotalRecordCount: value.totalRecordCount,
        TotalRecordCountLimitExceeded: value.totalRecordCountLimitExceeded,
      });
    case 'list':
      return value.items.map(encodeContextValue);
    case 'opaque':
      return value.json;
  }
}

function encodeContext(context: RemoteExecutionContext): JsonObject {
  const parameters = (pairs: readonly KeyValue<ContextValue>[] | undefined): JsonValue | undefined =>
    pairs && encodeKeyValues(pairs, encodeContextValue);
  const images = (pairs: readonly KeyValue<Entity>[] | undefined): JsonValue | undefined =>
    pairs && encodeKeyValues(pairs, (entity) => encodeEntity(entity, false));
  return ordered({
    ...context.otherMembers,
    BusinessUnitId: context.businessUnitId,
    CorrelationId: context.correlationId,
    Depth: context.depth,
    InitiatingUserId: context.initiatingUserId,
    InputParameters: parameters(context.inputParameters),
    IsExecutingOffline: context.isExecutingOffline,
    IsInTransaction: context.isInTransaction,
    IsOfflinePlayback: context.isOfflinePlayback,
    IsolationMode: context.isolationMode,
    MessageName: context.messageName,
    Mode: context.mode,
    OperationCreatedOn: context.operationCreatedOn && encodeDate(context.operationCreatedOn),
    OperationId: context.operationId,
    OrganizationId: context.organizationId,
    OrganizationName: context.organizationName,
    OutputParameters: parameters(context.outputParameters),
    OwningExtension: context.owningExtension && encodeEntityReference(context.owningExtension, false),
    ParentContext: context.parentContext && encodeContext(context.parentContext),
    PostEntityImages: images(context.postEntityImages),
    PostEntityImagesCollection: context.postEntityImagesCollection?.map((list) => images(list) as JsonValue),
    PreEntityImages: images(context.preEntityImages),
    PreEntityImagesCollection: context.preEntityImagesCollection?.map((list) => images(list) as JsonValue),
    PrimaryEntityId: context.primaryEntityId,
    PrimaryEntityName: context.primaryEntityName,
    RequestId: context.requestId,
    SecondaryEntityName: context.secondaryEntityName,
    SharedVariables: parameters(context.sharedVariables),
    Stage: context.stage,
    UserId: context.userId,
  });
}

/** One value as JSON, with its `__type` annotation where Dataverse writes one. */
export function contextValueToJson(value: ContextValue): JsonValue {
  return encodeContextValue(value);
}

/** The context as JSON values in Dataverse's member order (dates as `/Date(ms)/` strings). */
export function remoteExecutionContextToJson(context: RemoteExecutionContext): JsonValue {
  return encodeContext(context);
}

/**
 * The delivery body exactly as Dataverse writes it: same members and order, `__type` annotations,
 * `\/Date(…)\/` dates and every `/` escaped as `\/` (legal JSON that DataContractJsonSerializer emits).
 */
export function encodeRemoteExecutionContext(context: RemoteExecutionContext): string {
  // Outside strings JSON has no `/`, so escaping every one only touches string contents.
  return JSON.stringify(encodeContext(context)).replace(/\//g, '\\/');
}

// ---- reading a context ----

export function findKeyValue<T>(pairs: readonly KeyValue<T>[] | undefined, key: string): T | undefined {
  return pairs?.find((pair) => pair.key === key)?.value;
}

/** The `Target` input parameter when it is an entity (Create, Update); Delete's Target is a reference. */
export function targetEntity(context: RemoteExecutionContext): Entity | undefined {
  const target = findKeyValue(context.inputParameters, 'Target');
  return target !== null && typeof target === 'object' && target.kind === 'entity' ? target : undefined;
}

/**
 * The columns the triggering request wrote: the attributes of its Target, in the order sent. That
 * includes the columns the platform sets itself (`modifiedon`, …), because Dataverse sends them too.
 */
export function changedColumns(context: RemoteExecutionContext): readonly string[] {
  return targetEntity(context)?.attributes.map((attribute) => attribute.key) ?? [];
}

export function attributeValue(entity: Entity, column: string): ContextValue | undefined {
  return findKeyValue(entity.attributes, column);
}

export interface ColumnChange {
  readonly column: string;
  /** From the first pre-image that holds the column; undefined when no image has it. */
  readonly before: ContextValue | undefined;
  /** The value written, from the Target. */
  readonly after: ContextValue | undefined;
}

function changesOf(target: Entity, pre: readonly KeyValue<Entity>[]): readonly ColumnChange[] {
  return target.attributes.map(({ key, value }) => ({
    column: key,
    before: pre.map((image) => attributeValue(image.value, key)).find((found) => found !== undefined),
    after: value,
  }));
}

/** Each changed column with its value before (pre-images) and after (Target). */
export function columnChanges(context: RemoteExecutionContext): readonly ColumnChange[] {
  const target = targetEntity(context);
  return target ? changesOf(target, context.preEntityImages ?? []) : [];
}

/** One record of a bulk message's `Targets`, with the images Dataverse sent for it. */
export interface BulkTarget {
  readonly entity: Entity;
  /** Its columns as written, each with its value before from this record's own pre-images. */
  readonly changes: readonly ColumnChange[];
  readonly preImages: readonly KeyValue<Entity>[];
  readonly postImages: readonly KeyValue<Entity>[];
}

/**
 * The records of a bulk message (CreateMultiple, UpdateMultiple, …): each entity of its `Targets` with entry i of
 * PreEntityImagesCollection and PostEntityImagesCollection, which Dataverse keeps in the order of Targets
 * (Microsoft Learn, "Write plug-ins for CreateMultiple and UpdateMultiple"). Empty for a single message.
 */
export function bulkTargets(context: RemoteExecutionContext): readonly BulkTarget[] {
  const targets = findKeyValue(context.inputParameters, 'Targets');
  if (targets === null || typeof targets !== 'object' || targets.kind !== 'entityCollection') return [];
  return targets.entities.map((entity, index) => {
    const preImages = context.preEntityImagesCollection?.[index] ?? [];
    return {
      entity,
      changes: changesOf(entity, preImages),
      preImages,
      postImages: context.postEntityImagesCollection?.[index] ?? [],
    };
  });
}

/** A short, readable rendering of a value for people (the inspector), never for machines. */
export function formatContextValue(value: ContextValue | undefined): string {
  if (value === undefined) return '(absent)';
  if (value === null) return 'null';
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value !== 'object') return String(value);
  switch (value.kind) {
    case 'dateTime':
      return `${new Date(value.epochMs).toISOString()}${value.offset === undefined ? '' : ` (${value.offset})`}`;
    case 'optionSet':
      return `option ${value.value}`;
    case 'money':
      return `money ${value.value}`;
    case 'entityReference':
      return `${value.logicalName}(${value.id})${value.name === null ? '' : ` ${JSON.stringify(value.name)}`}`;
    case 'entity':
      return `${value.logicalName}(${value.id}) {${value.attributes.length} columns}`;
    case 'entityCollection':
      return `[${value.entities.map(partyLabel).join(', ')}]`;
    case 'list':
      return `[${value.items.map((item) => formatContextValue(item)).join(', ')}]`;
    case 'opaque':
      return JSON.stringify(value.json);
  }
}

/** Activity parties read best as the party they point at. */
function partyLabel(entity: Entity): string {
  const party = attributeValue(entity, 'partyid');
  return party !== null && typeof party === 'object' && party.kind === 'entityReference'
    ? formatContextValue(party)
    : formatContextValue(entity);
}

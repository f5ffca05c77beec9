import { WorkbenchError } from '../core/errors';
import type { JsonObject } from '../core/json';
import type { ImageRecord, ServiceEndpointRecord, StepRecord } from './plan';
import type { EndpointSpec, ImageType, MessageFormat, StepStage } from './registrationFile';

// The read model of webhook registrations, once for the file engine (plan, apply, export), `dvw` and the
// VS Code commands and tree: the option-set codes and their names, the columns read (`$select`), and the
// checked readers of answer rows. Rows are checked field by field: the answer is outside input, and a
// missing column must not read as "different".

/** `serviceendpoint.contract` of the endpoint kinds a registration file can describe. */
export const CONTRACT_OF_KIND = {
  serviceBusQueue: 2,
  serviceBusTopic: 5,
  eventHub: 7,
  webhook: 8,
  eventGrid: 9,
} as const satisfies Record<EndpointSpec['kind'], number>;

export type EndpointKind = EndpointSpec['kind'];

/** The file's kind of an endpoint by its `contract`; undefined for contracts the file cannot describe. */
export function kindOfContract(contract: number): EndpointKind | undefined {
  return (Object.keys(CONTRACT_OF_KIND) as EndpointKind[]).find((kind) => CONTRACT_OF_KIND[kind] === contract);
}

/** Every `contract` value, as the Plug-in Registration Tool names it. */
export const CONTRACT_LABELS: Readonly<Record<number, string>> = {
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

export const AUTH_TYPE = {
  SASKey: 2,
  SASToken: 3,
  WebhookKey: 4,
  HttpHeader: 5,
  HttpQueryString: 6,
  AccessKey: 8,
} as const;

export const MESSAGE_FORMAT = { binaryXml: 1, json: 2, textXml: 3 } as const satisfies Record<MessageFormat, number>;

export function messageFormatOf(value: number): MessageFormat | undefined {
  return (Object.keys(MESSAGE_FORMAT) as MessageFormat[]).find((format) => MESSAGE_FORMAT[format] === value);
}

/** `sdkmessageprocessingstep.stage` of the stages a step can be registered in. */
export const STAGE_OF_NAME = {
  'pre-validation': 10,
  'pre-operation': 20,
  'post-operation': 40,
} as const satisfies Record<StepStage, number>;

export function stageNameOf(stage: number): StepStage | undefined {
  return (Object.keys(STAGE_OF_NAME) as StepStage[]).find((name) => STAGE_OF_NAME[name] === stage);
}

/** Every stage a step or a delivery can report, 30 (the platform's own operation) and 50 included. */
const STAGE_LABELS: Readonly<Record<number, string>> = {
  10: 'pre-validation',
  20: 'pre-operation',
  30: 'main operation',
  40: 'post-operation',
  50: 'post-operation (deprecated)',
};

export function stageLabel(stage: number): string {
  return STAGE_LABELS[stage] ?? `stage ${stage}`;
}

export function modeLabel(mode: number): string {
  return mode === 0 ? 'synchronous' : mode === 1 ? 'asynchronous' : `mode ${mode}`;
}

export const IMAGE_TYPE_OF_NAME = { pre: 0, post: 1, both: 2 } as const satisfies Record<ImageType, number>;

export function imageTypeNameOf(imagetype: number): ImageType | undefined {
  return (Object.keys(IMAGE_TYPE_OF_NAME) as ImageType[]).find((name) => IMAGE_TYPE_OF_NAME[name] === imagetype);
}

const IMAGE_TYPE_LABELS: Readonly<Record<number, string>> = { 0: 'pre-image', 1: 'post-image', 2: 'pre and post' };

export function imageTypeLabel(imagetype: number): string {
  return IMAGE_TYPE_LABELS[imagetype] ?? `type ${imagetype}`;
}

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

export function malformed(set: string, column: string): WorkbenchError {
  return new WorkbenchError('odata', `A row of ${set} has no valid '${column}'.`);
}

/** Typed reads of one answer row; `set` names it in errors. */
export class RowReader {
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

export function endpointRecord(row: JsonObject): ServiceEndpointRecord {
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

export function stepRecord(row: JsonObject, endpointId: string): StepRecord {
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

export function imageRecord(row: JsonObject): ImageRecord {
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

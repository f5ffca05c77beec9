import type {
  FormAuthKind,
  FormEndpointKind,
  FormImageType,
  FormMessageFormat,
  FormMode,
  FormStage,
} from '../registrationProtocol';

// What the form offers for each choice, with the reason a choice is disabled. The same rules as the
// registration file's validator (src/webhooks/registrationFile.ts), which the host runs again on Save.

export interface Choice<T extends string> {
  readonly value: T;
  readonly label: string;
  /** Set when the choice cannot be taken here; shown beside it. */
  readonly disabledReason?: string;
}

export const ENDPOINT_KIND_CHOICES: readonly Choice<FormEndpointKind>[] = [
  { value: 'webhook', label: 'Webhook' },
  { value: 'serviceBusQueue', label: 'Service Bus queue' },
  { value: 'serviceBusTopic', label: 'Service Bus topic' },
  { value: 'eventHub', label: 'Event Hub' },
];

export const STAGE_CHOICES: readonly Choice<FormStage>[] = [
  { value: 'pre-validation', label: 'Pre-validation (before, outside the transaction)' },
  { value: 'pre-operation', label: 'Pre-operation (before, inside the transaction)' },
  { value: 'post-operation', label: 'Post-operation (after the operation)' },
];

export const MESSAGE_FORMAT_CHOICES: readonly Choice<FormMessageFormat>[] = [
  { value: 'json', label: 'JSON' },
  { value: 'binaryXml', label: 'Binary XML' },
  { value: 'textXml', label: 'Text XML' },
];

const IMAGE_MESSAGES = ['Create', 'Update', 'Delete', 'SetState', 'SetStateDynamicEntity'];

export function authChoices(kind: FormEndpointKind): readonly Choice<FormAuthKind>[] {
  return kind === 'webhook'
    ? [
        { value: 'WebhookKey', label: 'Webhook key (sent as ?code=, Azure Functions)' },
        { value: 'HttpHeader', label: 'HTTP headers' },
        { value: 'HttpQueryString', label: 'Query string parameters' },
      ]
    : [
        { value: 'SASKey', label: 'SAS key (policy name and key)' },
        { value: 'SASToken', label: 'SAS token' },
      ];
}

export function modeChoices(stage: FormStage, kind: FormEndpointKind): readonly Choice<FormMode>[] {
  const queue = kind !== 'webhook';
  return [
    {
      value: 'sync',
      label: 'Synchronous',
      ...(queue ? { disabledReason: 'a queue, topic or hub takes the context as a message: asynchronous only' } : {}),
    },
    {
      value: 'async',
      label: 'Asynchronous',
      ...(stage === 'post-operation' ? {} : { disabledReason: 'asynchronous steps run only post-operation' }),
    },
  ];
}

/** Why a message takes no images, or undefined when it does. */
export function noImagesReason(message: string): string | undefined {
  return message === '' || IMAGE_MESSAGES.includes(message)
    ? undefined
    : `images are available only for ${IMAGE_MESSAGES.join(', ')}`;
}

export function imageTypeChoices(message: string, stage: FormStage): readonly Choice<FormImageType>[] {
  const pre = message === 'Create' ? 'a Create has no pre-image: the record does not exist yet' : undefined;
  const post =
    message === 'Delete'
      ? 'a Delete has no post-image: the record is gone'
      : stage !== 'post-operation'
        ? 'post-images exist only in the post-operation stage'
        : undefined;
  return [
    { value: 'pre', label: 'Pre-image', ...(pre === undefined ? {} : { disabledReason: pre }) },
    { value: 'post', label: 'Post-image', ...(post === undefined ? {} : { disabledReason: post }) },
    {
      value: 'both',
      label: 'Pre and post',
      ...(pre === undefined && post === undefined ? {} : { disabledReason: pre ?? post ?? '' }),
    },
  ];
}

/** The first choice that can be taken, when the current one cannot. */
export function allowed<T extends string>(choices: readonly Choice<T>[], current: T): T {
  if (choices.some((choice) => choice.value === current && choice.disabledReason === undefined)) return current;
  return choices.find((choice) => choice.disabledReason === undefined)?.value ?? current;
}

/** Columns whose name contains every word of the query, picked ones first. */
export function searchColumns(columns: readonly string[], picked: readonly string[], query: string): string[] {
  const words = query
    .toLowerCase()
    .split(/\s+/)
    .filter((word) => word !== '');
  const matches = columns.filter((column) => words.every((word) => column.includes(word)));
  return [...matches.filter((c) => picked.includes(c)), ...matches.filter((c) => !picked.includes(c))];
}

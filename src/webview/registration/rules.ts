import { imageTypeReasons, noImagesReason as messageNoImagesReason } from '../../core/stepImages';
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

/** Why a message takes no images, or undefined when it does (or none is picked yet). */
export function noImagesReason(message: string): string | undefined {
  return message === '' ? undefined : messageNoImagesReason(message);
}

export function imageTypeChoices(message: string, stage: FormStage): readonly Choice<FormImageType>[] {
  const choices: readonly [FormImageType, string][] = [
    ['pre', 'Pre-image'],
    ['post', 'Post-image'],
    ['both', 'Pre and post'],
  ];
  return choices.map(([value, label]) => {
    const [reason] = imageTypeReasons(message, stage, value);
    return { value, label, ...(reason === undefined ? {} : { disabledReason: reason }) };
  });
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

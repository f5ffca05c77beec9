import {
  changedColumns,
  columnChanges,
  contextValueToJson,
  formatContextValue,
  remoteExecutionContextToJson,
} from '../core/remoteExecutionContext';
import type { ContextValue, JsonValue, KeyValue, Entity } from '../core/remoteExecutionContext';
import type { DeliveryHeaders, WebhookDelivery } from './receiver';
import { modeLabel, stageLabel } from './registrationModel';

// What the inspector shows of a delivery, shared by `dvw webhooks listen` and the VS Code view so
// that both present the same facts.

export interface ImageSummary {
  readonly alias: string;
  readonly values: Readonly<Record<string, JsonValue>>;
}

/** One delivery as plain JSON: what `--json` prints, one line each. */
export interface DeliverySummary {
  readonly receivedAt: string;
  readonly messageName: string;
  readonly primaryEntityName: string;
  readonly primaryEntityId: string;
  readonly stage: number;
  readonly mode: number;
  readonly depth: number;
  readonly correlationId: string;
  readonly organizationName: string;
  readonly userId: string;
  readonly changedColumns: readonly string[];
  readonly preImages: readonly ImageSummary[];
  readonly postImages: readonly ImageSummary[];
  readonly headers: DeliveryHeaders;
  readonly bodyBytes: number;
  /** The body as JSON values (not text), so a JSON line stays one line. */
  readonly body: JsonValue;
}

/** Values as Dataverse sends them (`__type`, `/Date(…)/`), which is what scripts reading --json expect. */
function imageSummaries(images: readonly KeyValue<Entity>[] | undefined): readonly ImageSummary[] {
  return (images ?? []).map((image) => ({
    alias: image.key,
    values: Object.fromEntries(image.value.attributes.map((a) => [a.key, contextValueToJson(a.value)])),
  }));
}

export function summarizeDelivery(delivery: WebhookDelivery): DeliverySummary {
  const { context } = delivery;
  return {
    receivedAt: delivery.receivedAt.toISOString(),
    messageName: context.messageName,
    primaryEntityName: context.primaryEntityName,
    primaryEntityId: context.primaryEntityId,
    stage: context.stage,
    mode: context.mode,
    depth: context.depth,
    correlationId: context.correlationId,
    organizationName: context.organizationName,
    userId: context.userId,
    changedColumns: changedColumns(context),
    preImages: imageSummaries(context.preEntityImages),
    postImages: imageSummaries(context.postEntityImages),
    headers: delivery.headers,
    bodyBytes: delivery.bodyBytes,
    body: remoteExecutionContextToJson(context),
  };
}

function imageLines(label: string, images: readonly KeyValue<Entity>[] | undefined): string[] {
  return (images ?? []).flatMap((image) => [
    `  ${label} image ${image.key}:`,
    ...image.value.attributes.map(
      (attribute: KeyValue<ContextValue>) => `    ${attribute.key} = ${formatContextValue(attribute.value)}`,
    ),
  ]);
}

/** A readable block of lines for a person watching deliveries arrive. */
export function formatDelivery(delivery: WebhookDelivery): string {
  const { context, headers } = delivery;
  const changes = columnChanges(context);
  const lines = [
    `${delivery.receivedAt.toISOString()}  ${context.messageName} ${context.primaryEntityName}(${context.primaryEntityId})`,
    `  stage ${context.stage} (${stageLabel(context.stage)}), ${modeLabel(context.mode)}, depth ${context.depth}`,
    `  correlation ${context.correlationId}, organization ${context.organizationName}, ${delivery.bodyBytes} bytes`,
  ];
  const sent = [
    ['organization', headers.organization],
    ['entity', headers.entityName],
    ['request', headers.requestName],
    ['correlation', headers.correlationRequestId],
  ].filter((pair): pair is [string, string] => pair[1] !== undefined);
  if (sent.length > 0) lines.push(`  headers: ${sent.map(([name, value]) => `${name} ${value}`).join(', ')}`);
  if (headers.msgSizeExceeded) {
    lines.push('  body over 256 KB: Dataverse left out ParentContext, InputParameters and the images');
  }
  lines.push(`  changed columns: ${changes.length === 0 ? '(none)' : changes.map((c) => c.column).join(', ')}`);
  for (const change of changes) {
    lines.push(
      change.before === undefined
        ? `    ${change.column} = ${formatContextValue(change.after)}`
        : `    ${change.column}: ${formatContextValue(change.before)} -> ${formatContextValue(change.after)}`,
    );
  }
  lines.push(...imageLines('pre', context.preEntityImages), ...imageLines('post', context.postEntityImages));
  return `${lines.join('\n')}\n`;
}

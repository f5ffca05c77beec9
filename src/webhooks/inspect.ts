import {
  bulkTargets,
  changedColumns,
  columnChanges,
  contextValueToJson,
  formatContextValue,
  remoteExecutionContextToJson,
} from '../core/remoteExecutionContext';
import type { ColumnChange, ContextValue, JsonValue, KeyValue, Entity } from '../core/remoteExecutionContext';
import type { DeliveryHeaders, WebhookDelivery } from './receiver';
import { modeLabel, stageLabel } from './registrationModel';

// What the inspector shows of a delivery, shared by `dvw webhooks listen` and the VS Code view so
// that both present the same facts.

export interface ImageSummary {
  readonly alias: string;
  readonly values: Readonly<Record<string, JsonValue>>;
}

/** One record of a bulk message's Targets, with its own images. */
export interface TargetSummary {
  readonly id: string;
  readonly changedColumns: readonly string[];
  readonly preImages: readonly ImageSummary[];
  readonly postImages: readonly ImageSummary[];
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
  /** A bulk message's records (CreateMultiple, UpdateMultiple, …), in the order of Targets; empty otherwise. */
  readonly targets: readonly TargetSummary[];
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
    targets: bulkTargets(context).map((target) => ({
      id: target.entity.id,
      changedColumns: target.changes.map((change) => change.column),
      preImages: imageSummaries(target.preImages),
      postImages: imageSummaries(target.postImages),
    })),
    headers: delivery.headers,
    bodyBytes: delivery.bodyBytes,
    body: remoteExecutionContextToJson(context),
  };
}

function imageLines(indent: string, label: string, images: readonly KeyValue<Entity>[] | undefined): string[] {
  return (images ?? []).flatMap((image) => [
    `${indent}${label} image ${image.key}:`,
    ...image.value.attributes.map(
      (attribute: KeyValue<ContextValue>) => `${indent}  ${attribute.key} = ${formatContextValue(attribute.value)}`,
    ),
  ]);
}

function changeLines(indent: string, changes: readonly ColumnChange[]): string[] {
  return [
    `${indent}changed columns: ${changes.length === 0 ? '(none)' : changes.map((c) => c.column).join(', ')}`,
    ...changes.map((change) =>
      change.before === undefined
        ? `${indent}  ${change.column} = ${formatContextValue(change.after)}`
        : `${indent}  ${change.column}: ${formatContextValue(change.before)} -> ${formatContextValue(change.after)}`,
    ),
  ];
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
  const targets = bulkTargets(context);
  if (targets.length === 0) lines.push(...changeLines('  ', changes));
  targets.forEach((target, index) => {
    lines.push(`  record ${index + 1} of ${targets.length}: ${target.entity.logicalName}(${target.entity.id})`);
    lines.push(...changeLines('    ', target.changes));
    lines.push(...imageLines('    ', 'pre', target.preImages), ...imageLines('    ', 'post', target.postImages));
  });
  lines.push(
    ...imageLines('  ', 'pre', context.preEntityImages),
    ...imageLines('  ', 'post', context.postEntityImages),
  );
  return `${lines.join('\n')}\n`;
}

import type { ColumnChange, Entity, KeyValue } from '../../core/remoteExecutionContext';
import { bulkTargets, columnChanges, formatContextValue } from '../../core/remoteExecutionContext';
import { modeLabel, stageLabel } from '../../webhooks/registrationModel';
import type { WebhookDelivery } from '../../webhooks/receiver';
import type { InspectorChange, InspectorDelivery, InspectorImage } from '../../webview/inspectorProtocol';

// Kept apart from the panel (no `vscode` here) so the page's UI tests can build deliveries from the
// real fixture payloads exactly as the host does.

function images(list: readonly KeyValue<Entity>[] | undefined): InspectorImage[] {
  return (list ?? []).map((image) => ({
    alias: image.key,
    values: image.value.attributes.map((attribute) => ({
      column: attribute.key,
      value: formatContextValue(attribute.value),
    })),
  }));
}

function changes(list: readonly ColumnChange[]): InspectorChange[] {
  return list.map((change) => ({
    column: change.column,
    ...(change.before === undefined ? {} : { before: formatContextValue(change.before) }),
    after: formatContextValue(change.after),
  }));
}

function prettyBody(body: string): string {
  try {
    return JSON.stringify(JSON.parse(body), null, 2);
  } catch {
    return body;
  }
}

/** What the page shows of a delivery: the same facts `dvw webhooks listen` prints. */
export function inspectorDelivery(sequence: number, delivery: WebhookDelivery): InspectorDelivery {
  const { context } = delivery;
  return {
    sequence,
    receivedAt: delivery.receivedAt.toISOString(),
    messageName: context.messageName,
    primaryEntityName: context.primaryEntityName,
    primaryEntityId: context.primaryEntityId,
    stage: context.stage,
    stageLabel: stageLabel(context.stage),
    mode: context.mode,
    modeLabel: modeLabel(context.mode),
    depth: context.depth,
    correlationId: context.correlationId,
    organizationName: context.organizationName,
    changes: changes(columnChanges(context)),
    preImages: images(context.preEntityImages),
    postImages: images(context.postEntityImages),
    targets: bulkTargets(context).map((target) => ({
      logicalName: target.entity.logicalName,
      id: target.entity.id,
      changes: changes(target.changes),
      preImages: images(target.preImages),
      postImages: images(target.postImages),
    })),
    bodyBytes: delivery.bodyBytes,
    msgSizeExceeded: delivery.headers.msgSizeExceeded,
    raw: prettyBody(delivery.body),
  };
}

import type { Entity, KeyValue } from '../../core/remoteExecutionContext';
import { columnChanges, formatContextValue } from '../../core/remoteExecutionContext';
import { modeLabel, stageLabel } from '../../webhooks/registrationModel';
import type { WebhookDelivery } from '../../webhooks/receiver';
import type { InspectorDelivery, InspectorImage } from '../../webview/inspectorProtocol';

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
    changes: columnChanges(context).map((change) => ({
      column: change.column,
      ...(change.before === undefined ? {} : { before: formatContextValue(change.before) }),
      after: formatContextValue(change.after),
    })),
    preImages: images(context.preEntityImages),
    postImages: images(context.postEntityImages),
    bodyBytes: delivery.bodyBytes,
    msgSizeExceeded: delivery.headers.msgSizeExceeded,
    raw: prettyBody(delivery.body),
  };
}

// The webhook inspector page in a real Chromium, served by pageServer.ts, with deliveries built from
// the real fixture payloads as the host builds them.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { parseRemoteExecutionContext } from '../../src/core/remoteExecutionContext';
import { inspectorDelivery } from '../../src/extension/webhooks/inspectorModel';
import type { HostMessage, InspectorDelivery, PageMessage } from '../../src/webview/inspectorProtocol';
import { renderInspectorHtml } from '../../src/webview/inspector/html';
import type { PageServer } from './pageServer';
import { startPageServer } from './pageServer';

const root = path.resolve(__dirname, '../..');
export const WEBHOOK_FIXTURES = path.resolve(root, '../shared/fixtures/webhooks');

export type InspectorServer = PageServer;

export function startInspectorServer(): Promise<InspectorServer> {
  return startPageServer('inspector', renderInspectorHtml);
}

/** A fixture payload (optionally changed first) turned into what the host sends, as the host does. */
export function fixtureDelivery(
  name: string,
  sequence: number,
  change: (json: Record<string, unknown>) => void = () => undefined,
): InspectorDelivery {
  const json = JSON.parse(readFileSync(path.join(WEBHOOK_FIXTURES, name), 'utf8')) as Record<string, unknown>;
  change(json);
  return bodyDelivery(JSON.stringify(json), sequence);
}

/** A delivery's body turned into what the host sends, as the host does. */
export function bodyDelivery(body: string, sequence: number): InspectorDelivery {
  return inspectorDelivery(sequence, {
    receivedAt: new Date(Date.UTC(2025, 0, 2, 3, 4, 5)),
    context: parseRemoteExecutionContext(body),
    headers: { msgSizeExceeded: false },
    body,
    bodyBytes: Buffer.byteLength(body),
  });
}

export async function postToInspector(page: Page, message: HostMessage | Record<string, unknown>): Promise<void> {
  await page.evaluate(
    (json) => (window as unknown as { __host: { post(m: unknown): void } }).__host.post(JSON.parse(json)),
    JSON.stringify(message),
  );
}

export async function inspectorPosted(page: Page): Promise<PageMessage[]> {
  return page.evaluate(() => (window as unknown as { __posted: PageMessage[] }).__posted.slice());
}

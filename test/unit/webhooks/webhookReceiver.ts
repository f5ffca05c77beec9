// A webhook endpoint for emulator delivery tests: a loopback HTTP server that keeps every body it receives,
// registered with the given steps through a registration file (plan, apply), as a user registers them.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { WebApiClient } from '../../../src/dataverse/webApiClient';
import { applyPlan, computePlan } from '../../../src/webhooks/plan';
import { validateRegistrationFile } from '../../../src/webhooks/registrationFile';
import { createWebApiExecutor, loadRegisteredState } from '../../../src/webhooks/webApiExecutor';

export interface WebhookReceiver {
  /** The request bodies delivered so far, in order. */
  readonly bodies: string[];
  close(): Promise<void>;
}

/** Starts the receiver and registers `steps` (registration-file step objects) on one webhook named Bulk. */
export async function registerWebhookReceiver(
  client: WebApiClient,
  steps: readonly Record<string, unknown>[],
  onBody: (body: string) => void = () => undefined,
): Promise<WebhookReceiver> {
  const bodies: string[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      bodies.push(body);
      onBody(body);
      res.writeHead(200);
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const close = (): Promise<void> => new Promise<void>((resolve) => server.close(() => resolve()));
  try {
    const file = validateRegistrationFile({
      endpoints: [
        {
          name: 'Bulk',
          kind: 'webhook',
          url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
          auth: { kind: 'WebhookKey', value: { env: 'K' } },
          steps,
        },
      ],
    });
    if (!file.ok) throw new Error(JSON.stringify(file.issues));
    await applyPlan(computePlan(file.file, await loadRegisteredState(client)), createWebApiExecutor(client), {
      resolveSecret: () => 'key',
    });
  } catch (error) {
    await close();
    throw error;
  }
  return { bodies, close };
}

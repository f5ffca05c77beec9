// A real UpdateMultiple delivery with its images, as the emulator sends it: for the tests of what the
// inspector (`dvw webhooks listen`, the VS Code view) shows of a bulk message.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { staticTokenProvider, WebApiClient } from '../../../src/dataverse/webApiClient';
import { startEmulator } from '../../../src/emulator/server';
import { applyPlan, computePlan } from '../../../src/webhooks/plan';
import { validateRegistrationFile } from '../../../src/webhooks/registrationFile';
import { createWebApiExecutor, loadRegisteredState } from '../../../src/webhooks/webApiExecutor';

export interface BulkUpdate {
  /** The account's name before and after, in the order of Targets. */
  readonly names: readonly (readonly [before: string, after: string])[];
}

/**
 * Registers a post-operation step on UpdateMultiple of account with a pre-image (name) and a post-image (name,
 * telephone1) from a registration file, creates the accounts, renames them in one UpdateMultiple and answers the
 * body the step's webhook received.
 */
export async function captureUpdateMultipleDelivery(update: BulkUpdate): Promise<string> {
  const bodies: string[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      bodies.push(Buffer.concat(chunks).toString('utf8'));
      res.writeHead(200);
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const emulator = await startEmulator({ port: 0, seed: 'none' });
  try {
    const client = new WebApiClient({ url: emulator.url, tokenProvider: staticTokenProvider(emulator.token) });
    const file = validateRegistrationFile({
      endpoints: [
        {
          name: 'Bulk',
          kind: 'webhook',
          url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
          auth: { kind: 'WebhookKey', value: { env: 'K' } },
          steps: [
            {
              name: 'accounts renamed',
              message: 'UpdateMultiple',
              table: 'account',
              stage: 'post-operation',
              mode: 'async',
              images: [
                { type: 'pre', alias: 'Before', columns: ['name'] },
                { type: 'post', alias: 'After', columns: ['name', 'telephone1'] },
              ],
            },
          ],
        },
      ],
    });
    if (!file.ok) throw new Error(JSON.stringify(file.issues));
    await applyPlan(computePlan(file.file, await loadRegisteredState(client)), createWebApiExecutor(client), {
      resolveSecret: () => 'key',
    });
    const targets = [];
    for (const [index, [before, after]] of update.names.entries()) {
      const created = await client.create('accounts', { name: before }, { primaryKey: 'accountid' });
      targets.push({
        '@odata.type': 'Microsoft.Dynamics.CRM.account',
        accountid: created.id,
        name: after,
        telephone1: `555-010${index}`,
      });
    }
    await client.request({
      method: 'POST',
      path: 'accounts/Microsoft.Dynamics.CRM.UpdateMultiple',
      body: { Targets: targets },
    });
    await emulator.webhooks.idle();
    const [body, ...others] = bodies;
    if (body === undefined || others.length > 0) throw new Error(`expected one delivery, got ${bodies.length}`);
    return body;
  } finally {
    await emulator.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

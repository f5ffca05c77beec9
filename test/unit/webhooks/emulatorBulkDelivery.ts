// A real UpdateMultiple delivery with its images, as the emulator sends it: for the tests of what the
// inspector (`dvw webhooks listen`, the VS Code view) shows of a bulk message.
import { staticTokenProvider, WebApiClient } from '../../../src/dataverse/webApiClient';
import { startEmulator } from '../../../src/emulator/server';
import { registerWebhookReceiver } from './webhookReceiver';

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
  const emulator = await startEmulator({ port: 0, seed: 'none' });
  const client = new WebApiClient({ url: emulator.url, tokenProvider: staticTokenProvider(emulator.token) });
  const hook = await registerWebhookReceiver(client, [
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
  ]).catch(async (error: unknown) => {
    await emulator.close();
    throw error;
  });
  const { bodies } = hook;
  try {
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
    await hook.close();
  }
}

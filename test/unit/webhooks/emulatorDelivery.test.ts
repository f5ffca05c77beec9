import * as assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { IncomingHttpHeaders, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseRemoteExecutionContext, targetEntity } from '../../../src/core/remoteExecutionContext';
import { staticTokenProvider, WebApiClient } from '../../../src/dataverse/webApiClient';
import type { RunningEmulator } from '../../../src/emulator/server';
import { startEmulator } from '../../../src/emulator/server';
import { extendSchemaWithFile } from '../../../src/emulator/schema/extension';
import { builtinSchema } from '../../../src/emulator/schema/snapshot';
import { applyPlan, computePlan } from '../../../src/webhooks/plan';
import type { RegistrationFile } from '../../../src/webhooks/registrationFile';
import { validateRegistrationFile } from '../../../src/webhooks/registrationFile';
import { createWebApiExecutor, loadRegisteredState } from '../../../src/webhooks/webApiExecutor';

interface Received {
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

/** A loopback endpoint that answers the statuses it is given, in turn (then 200), and keeps what it got. */
async function endpoint(): Promise<{ url: string; received: Received[]; answers: number[]; close(): Promise<void> }> {
  const received: Received[] = [];
  const answers: number[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      received.push({ url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(answers.shift() ?? 200);
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    received,
    answers,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

function registrations(json: unknown): RegistrationFile {
  const result = validateRegistrationFile(json);
  if (!result.ok) throw new Error(JSON.stringify(result.issues));
  return result.file;
}

describe('emulator webhook delivery', () => {
  let emulator: RunningEmulator;
  let client: WebApiClient;
  let target: Awaited<ReturnType<typeof endpoint>>;

  beforeEach(async () => {
    emulator = await startEmulator({ port: 0, seed: 'none' });
    client = new WebApiClient({ url: emulator.url, tokenProvider: staticTokenProvider(emulator.token) });
    target = await endpoint();
  });

  afterEach(async () => {
    await emulator.close();
    await target.close();
  });

  async function apply(json: unknown, secrets: Record<string, string>): Promise<void> {
    const state = await loadRegisteredState(client);
    await applyPlan(computePlan(registrations(json), state), createWebApiExecutor(client), {
      resolveSecret: (ref) => secrets[ref.env],
    });
  }

  it('sends HttpHeader auth, fires Create and Delete, and retries once on 503', async () => {
    await apply(
      {
        endpoints: [
          {
            name: 'Headers',
            kind: 'webhook',
            url: target.url,
            auth: { kind: 'HttpHeader', values: { 'x-api-key': { env: 'K' } } },
            steps: [
              { name: 'created', message: 'Create', table: 'contact', stage: 'post-operation', mode: 'async' },
              {
                name: 'deleted',
                message: 'Delete',
                table: 'contact',
                stage: 'post-operation',
                mode: 'async',
                images: [{ type: 'pre', alias: 'Before', columns: ['lastname'] }],
              },
            ],
          },
        ],
      },
      { K: 'header & "secret"' },
    );
    const endpoints = await client.get('serviceendpoints?$select=name,isauthvalueset');
    assert.deepEqual(
      (endpoints.value as Record<string, unknown>[]).map((row) => row.isauthvalueset),
      [true],
      'the emulator answers the write-only secret with its flag',
    );

    target.answers.push(503);
    const created = await client.create('contacts', { lastname: 'Adams' }, { primaryKey: 'contactid' });
    await emulator.webhooks.idle();
    assert.equal(target.received.length, 2, 'one retry after the 503');
    const [firstTry, retry] = target.received;
    assert.equal(retry?.body, firstTry?.body, 'the retry sends the same body');
    assert.equal(retry?.headers['x-api-key'], 'header & "secret"');
    assert.equal(retry?.headers['x-ms-dynamics-request-name'], 'Create');
    const createContext = parseRemoteExecutionContext(retry?.body ?? '');
    assert.equal(createContext.primaryEntityId, created.id);
    assert.deepEqual(createContext.outputParameters, [{ key: 'id', value: created.id }]);
    assert.equal(targetEntity(createContext)?.logicalName, 'contact');

    await client.delete('contacts', created.id ?? '');
    await emulator.webhooks.idle();
    assert.equal(target.received.length, 3);
    const deleteContext = parseRemoteExecutionContext(target.received[2]?.body ?? '');
    assert.equal(deleteContext.messageName, 'Delete');
    const reference = deleteContext.inputParameters?.[0]?.value;
    assert.ok(reference !== null && typeof reference === 'object' && reference.kind === 'entityReference');
    assert.equal(deleteContext.preEntityImages?.[0]?.key, 'Before');
    assert.deepEqual(deleteContext.preEntityImages?.[0]?.value.attributes.map((a) => a.key).sort(), [
      'contactid',
      'lastname',
    ]);
    assert.deepEqual(
      emulator.webhooks.log().map((event) => event.outcome),
      ['retrying', 'delivered', 'delivered'],
    );
  });

  it('stores a Service Bus queue, reports its steps as not delivered, and deletes steps and images with an endpoint', async () => {
    const file = {
      endpoints: [
        {
          name: 'Orders',
          kind: 'serviceBusQueue',
          namespace: 'contoso',
          path: 'orders',
          auth: { kind: 'SASKey', keyName: 'send', key: { env: 'SB' } },
          steps: [
            {
              name: 'account created',
              message: 'Create',
              table: 'account',
              stage: 'post-operation',
              mode: 'async',
            },
          ],
        },
        {
          name: 'Hook',
          kind: 'webhook',
          url: target.url,
          auth: { kind: 'WebhookKey', value: { env: 'K' } },
          steps: [
            {
              name: 'account updated',
              message: 'Update',
              table: 'account',
              stage: 'post-operation',
              mode: 'async',
              images: [{ type: 'post', alias: 'After' }],
            },
          ],
        },
      ],
    };
    await apply(file, { SB: 'sas-key', K: 'the-key' });
    const created = await client.create('accounts', { name: 'Queue me' }, { primaryKey: 'accountid' });
    await emulator.webhooks.idle();
    assert.equal(target.received.length, 0);
    assert.deepEqual(
      emulator.webhooks.log().map((event) => [event.endpoint, event.outcome]),
      [['Orders', 'notDelivered']],
    );

    await client.update('accounts', created.id ?? '', { name: 'Renamed' });
    await emulator.webhooks.idle();
    assert.equal(target.received.length, 1);
    assert.equal(new URL(target.received[0]?.url ?? '', 'http://x').searchParams.get('code'), 'the-key');

    const state = await loadRegisteredState(client);
    const hook = state.serviceEndpoints.find((e) => e.name === 'Hook');
    assert.ok(hook);
    assert.equal(state.images.length, 1);
    await client.delete('serviceendpoints', hook.serviceendpointid);
    const after = await loadRegisteredState(client);
    assert.deepEqual(
      after.steps.map((s) => s.name),
      ['account created'],
    );
    assert.equal(after.images.length, 0, 'the image went with its step');
    const images = await client.get('sdkmessageprocessingstepimages?$select=name');
    assert.deepEqual(images.value, []);
  });

  // Microsoft Learn, "Write plug-ins for CreateMultiple and UpdateMultiple": a step on UpdateMultiple gets its images
  // as one EntityImageCollection per entity of Targets, in Targets order (PreEntityImagesCollection and
  // PostEntityImagesCollection of IPluginExecutionContext4). The image is registered under Targets: Dataverse refuses
  // "Message property name 'Target' is not valid on message UpdateMultiple" (SparkleXrm issue 486).
  it('registers images on an UpdateMultiple step from the file and delivers them per record of Targets', async () => {
    await apply(
      {
        endpoints: [
          {
            name: 'Bulk',
            kind: 'webhook',
            url: target.url,
            auth: { kind: 'WebhookKey', value: { env: 'K' } },
            steps: [
              {
                name: 'contacts renamed',
                message: 'UpdateMultiple',
                table: 'contact',
                stage: 'post-operation',
                mode: 'async',
                images: [
                  { type: 'pre', alias: 'Before', columns: ['lastname'] },
                  { type: 'post', alias: 'After', columns: ['lastname', 'firstname'] },
                ],
              },
            ],
          },
        ],
      },
      { K: 'key' },
    );
    const images = await client.get(
      'sdkmessageprocessingstepimages?$select=entityalias,imagetype,messagepropertyname&$orderby=entityalias',
    );
    assert.deepEqual(
      (images.value as Record<string, unknown>[]).map((row) => [
        row.entityalias,
        row.imagetype,
        row.messagepropertyname,
      ]),
      [
        ['After', 1, 'Targets'],
        ['Before', 0, 'Targets'],
      ],
    );
    const ids: string[] = [];
    for (const lastname of ['Adams', 'Baker'])
      ids.push((await client.create('contacts', { lastname }, { primaryKey: 'contactid' })).id ?? '');
    const [adams = '', baker = ''] = ids;
    const contact = 'Microsoft.Dynamics.CRM.contact';
    const response = await client.request({
      method: 'POST',
      path: 'contacts/Microsoft.Dynamics.CRM.UpdateMultiple',
      body: {
        Targets: [
          { '@odata.type': contact, contactid: baker, lastname: 'Barker', firstname: 'Bo' },
          { '@odata.type': contact, contactid: adams, lastname: 'Addams' },
        ],
      },
    });
    assert.equal(response.status, 204);
    await emulator.webhooks.idle();
    assert.equal(target.received.length, 1, 'one delivery for the request');
    const context = parseRemoteExecutionContext(target.received[0]?.body ?? '');
    assert.equal(context.messageName, 'UpdateMultiple');
    const values = (
      list: readonly { key: string; value: { attributes: readonly { key: string; value: unknown }[] } }[],
    ) => list.map((image) => [image.key, Object.fromEntries(image.value.attributes.map((a) => [a.key, a.value]))]);
    assert.deepEqual(context.preEntityImagesCollection?.map(values), [
      [['Before', { contactid: baker, lastname: 'Baker' }]],
      [['Before', { contactid: adams, lastname: 'Adams' }]],
    ]);
    assert.deepEqual(context.postEntityImagesCollection?.map(values), [
      [['After', { contactid: baker, lastname: 'Barker', firstname: 'Bo' }]],
      [['After', { contactid: adams, lastname: 'Addams' }]], // an image leaves a null column out
    ]);
  });

  it('refuses invalid registrations: a webhook without auth, an asynchronous pre-operation step', async () => {
    await assert.rejects(
      client.create('serviceendpoints', { name: 'bad', contract: 8, url: target.url, authtype: 4 }),
      /authvalue/,
    );
    await apply(
      {
        endpoints: [
          { name: 'Hook', kind: 'webhook', url: target.url, auth: { kind: 'WebhookKey', value: { env: 'K' } } },
        ],
      },
      { K: 'key' },
    );
    const state = await loadRegisteredState(client);
    const [hook] = state.serviceEndpoints;
    assert.ok(hook);
    const executor = createWebApiExecutor(client);
    const messageId = await executor.findMessageId('Update');
    const filterId = await executor.findMessageFilterId(messageId, 'account');
    await assert.rejects(
      executor.create('sdkmessageprocessingsteps', {
        name: 'async pre-op',
        stage: 20,
        mode: 1,
        rank: 1,
        'eventhandler_serviceendpoint@odata.bind': `/serviceendpoints(${hook.serviceendpointid})`,
        'sdkmessageid@odata.bind': `/sdkmessages(${messageId})`,
        'sdkmessagefilterid@odata.bind': `/sdkmessagefilters(${filterId})`,
      }),
      /post-operation/,
    );
  });

  it('trims a body over 256 KB as Dataverse does and says so in a header', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'dvw-webhooks-big-'));
    const schemaFile = path.join(dir, 'schema.json');
    writeFileSync(
      schemaFile,
      JSON.stringify({
        tables: [{ logicalName: 'account', columns: [{ name: 'new_notes', type: 'memo', maxLength: 1_000_000 }] }],
      }),
    );
    await emulator.close();
    emulator = await startEmulator({
      port: 0,
      seed: 'none',
      schema: extendSchemaWithFile(builtinSchema(), schemaFile),
    });
    client = new WebApiClient({ url: emulator.url, tokenProvider: staticTokenProvider(emulator.token) });
    rmSync(dir, { recursive: true, force: true });
    await apply(
      {
        endpoints: [
          {
            name: 'Big',
            kind: 'webhook',
            url: target.url,
            auth: { kind: 'WebhookKey', value: { env: 'K' } },
            steps: [
              {
                name: 'notes',
                message: 'Update',
                table: 'account',
                stage: 'post-operation',
                mode: 'async',
                images: [{ type: 'pre', alias: 'Before' }],
              },
            ],
          },
        ],
      },
      { K: 'key' },
    );
    const created = await client.create('accounts', { name: 'Big' }, { primaryKey: 'accountid' });
    const id = created.id ?? '';
    await client.update('accounts', id, { new_notes: 'small' });
    // The Target and the parent context's Target each carry the notes: 2 × 150,000 characters pass 256 KB.
    await client.update('accounts', id, { new_notes: 'x'.repeat(150_000) });
    await emulator.webhooks.idle();
    assert.equal(target.received.length, 2);
    const [small, big] = target.received;
    assert.equal(small?.headers['x-ms-dynamics-msg-size-exceeded'], undefined);
    const smallContext = parseRemoteExecutionContext(small?.body ?? '');
    assert.ok(smallContext.inputParameters && smallContext.parentContext && smallContext.preEntityImages);
    assert.equal(big?.headers['x-ms-dynamics-msg-size-exceeded'], 'true');
    assert.ok(Buffer.byteLength(big?.body ?? '') < 256 * 1024);
    const bigContext = parseRemoteExecutionContext(big?.body ?? '');
    assert.equal(bigContext.inputParameters, undefined);
    assert.equal(bigContext.parentContext, undefined);
    assert.equal(bigContext.preEntityImages, undefined);
    assert.equal(bigContext.postEntityImages, undefined);
    assert.equal(bigContext.messageName, 'Update');
    assert.equal(bigContext.primaryEntityId, id);
  });
});

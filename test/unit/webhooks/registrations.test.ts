import * as assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { MetadataCache } from '../../../src/dataverse/metadataCache';
import type { RequestExchange } from '../../../src/dataverse/webApiClient';
import { staticTokenProvider, WebApiClient } from '../../../src/dataverse/webApiClient';
import { startEmulator } from '../../../src/emulator/server';
import type { RunningEmulator } from '../../../src/emulator/server';
import { planRegistration, Registrations, saveRegistration } from '../../../src/webhooks/registrations';

// The registration form's save: one endpoint fragment with its steps and images, planned by the file
// engine and sent as the smallest set of writes, against the emulator.

const hook = (steps: unknown[], name = 'FormHook'): Record<string, unknown> => ({
  name,
  kind: 'webhook',
  url: 'http://127.0.0.1:9/hook',
  auth: { kind: 'WebhookKey', value: { env: 'KEY' } },
  steps,
});

const revenueStep = (overrides: Record<string, unknown> = {}): Record<string, unknown> => ({
  name: 'Revenue changed',
  message: 'Update',
  table: 'account',
  stage: 'post-operation',
  mode: 'async',
  rank: 1,
  filteringAttributes: ['revenue'],
  deleteAsyncJobOnSuccess: false,
  enabled: true,
  images: [{ name: 'before', alias: 'before', type: 'pre', columns: ['revenue'] }],
  ...overrides,
});

describe('registrations: the registration form saves through the plan engine', function () {
  this.timeout(60_000);
  let emulator: RunningEmulator;
  let dir: string;
  const writes: string[] = [];
  let registrations: Registrations;

  before(async () => {
    emulator = await startEmulator({ port: 0, seed: 'none' });
    dir = mkdtempSync(path.join(tmpdir(), 'dvw-registrations-'));
    const client = new WebApiClient({
      url: emulator.url,
      tokenProvider: staticTokenProvider(emulator.token),
      onExchange: (exchange: RequestExchange) => {
        if (exchange.method !== 'GET')
          writes.push(`${exchange.method} ${new URL(exchange.url).pathname.split('/').pop() ?? ''}`);
      },
    });
    registrations = new Registrations(client, new MetadataCache({ client, directory: dir }));
  });

  after(async () => {
    await emulator.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('offers only the messages whose sdkmessagefilters name the table, common ones first', async () => {
    const messages = await registrations.messagesForTable('account');
    assert.deepEqual(messages.slice(0, 3), ['Create', 'Update', 'Delete']);
    const { rows } = await registrations.client.collectAll(
      `sdkmessagefilters?$select=_sdkmessageid_value&$filter=primaryobjecttypecode eq 'account'`,
    );
    assert.equal(messages.length, new Set(rows.map((row) => row._sdkmessageid_value)).size);
    await assert.rejects(registrations.messagesForTable("account' or 1 eq 1"), /not a table logical name/);
  });

  it('creates the endpoint, its step and image with one POST each, then edits with only the changed columns', async () => {
    writes.length = 0;
    const created = await saveRegistration(
      registrations,
      hook([revenueStep()]),
      new Map([['KEY', 'form-key-1']]),
      undefined,
    );
    assert.deepEqual(writes, [
      'POST serviceendpoints',
      'POST sdkmessageprocessingsteps',
      'POST sdkmessageprocessingstepimages',
    ]);
    const [step] = await registrations.steps(created.endpointId);
    assert.ok(step);
    assert.equal(step.filteringAttributes.join(), 'revenue');

    writes.length = 0;
    // Renamed endpoint and step, one column changed, the secret kept: three PATCHes, no secret sent.
    const edited = await saveRegistration(
      registrations,
      hook([revenueStep({ name: 'Revenue or name changed', filteringAttributes: ['revenue', 'name'] })], 'FormHook 2'),
      new Map(),
      { endpointId: created.endpointId, stepIds: [step.id] },
    );
    assert.equal(edited.endpointId, created.endpointId);
    assert.deepEqual(writes, [
      `PATCH serviceendpoints(${created.endpointId})`,
      `PATCH sdkmessageprocessingsteps(${step.id})`,
    ]);
    const after = await registrations.step(step.id);
    assert.equal(after.name, 'Revenue or name changed');
    assert.deepEqual([...after.filteringAttributes].sort(), ['name', 'revenue']);
    assert.equal((await registrations.endpoint(created.endpointId)).name, 'FormHook 2');
    assert.equal((await registrations.images(step.id)).length, 1, 'the image is kept, not re-created');

    // The image renamed in the form: one PATCH of its name and alias, the same row kept (its id), not DELETE+POST.
    const [image] = await registrations.images(step.id);
    assert.ok(image);
    writes.length = 0;
    await saveRegistration(
      registrations,
      hook(
        [
          revenueStep({
            name: 'Revenue or name changed',
            filteringAttributes: ['revenue', 'name'],
            images: [{ name: 'earlier', alias: 'earlier', type: 'pre', columns: ['revenue'] }],
          }),
        ],
        'FormHook 2',
      ),
      new Map(),
      { endpointId: created.endpointId, stepIds: [step.id], imageIds: [[image.id]] },
    );
    assert.deepEqual(writes, [`PATCH sdkmessageprocessingstepimages(${image.id})`]);
    const renamed = await registrations.images(step.id);
    assert.deepEqual(
      renamed.map((row) => [row.id, row.name, row.alias]),
      [[image.id, 'earlier', 'earlier']],
    );

    writes.length = 0;
    await saveRegistration(registrations, hook([], 'FormHook 2'), new Map(), {
      endpointId: created.endpointId,
      stepIds: [],
    });
    assert.deepEqual(writes, [`DELETE sdkmessageprocessingsteps(${step.id})`]);
  });

  it('refuses an asynchronous pre-operation step before planning anything', () => {
    assert.throws(
      () =>
        planRegistration(
          hook([revenueStep({ stage: 'pre-operation', images: [] })]),
          { serviceEndpoints: [], steps: [], images: [], sdkMessages: [], sdkMessageFilters: [] },
          undefined,
          { newSecrets: true },
        ),
      /Nothing was sent: .*asynchronous steps run only post-operation/,
    );
  });
});

import * as assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runCli } from '../../../src/cli/program';
import { attributeValue, targetEntity } from '../../../src/core/remoteExecutionContext';
import type { ContextValue } from '../../../src/core/remoteExecutionContext';
import { staticTokenProvider, WebApiClient } from '../../../src/dataverse/webApiClient';
import { startEmulator } from '../../../src/emulator/server';
import type { RunningEmulator } from '../../../src/emulator/server';
import { exportRegistrations } from '../../../src/webhooks/exportRegistrations';
import { computePlan, isEmptyPlan } from '../../../src/webhooks/plan';
import { startWebhookReceiver } from '../../../src/webhooks/receiver';
import type { WebhookDelivery, WebhookReceiver } from '../../../src/webhooks/receiver';
import { validateRegistrationFile } from '../../../src/webhooks/registrationFile';
import { loadRegisteredState } from '../../../src/webhooks/webApiExecutor';

const KEY = 'e2e-webhook-key-7f3a';
const FAILING_KEY = 'e2e-failing-key-91c2';

async function cli(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(argv, { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t) });
  return { code, stdout, stderr };
}

function money(value: ContextValue | undefined): number | undefined {
  return value !== null && typeof value === 'object' && value.kind === 'money' ? value.value : undefined;
}

describe('webhooks end to end: dvw webhooks apply, emulator delivery, listener', function () {
  this.timeout(60_000);
  let emulator: RunningEmulator;
  let receiver: WebhookReceiver;
  let failing: Server;
  let failingUrl: string;
  let failingHits = 0;
  let dir: string;
  const deliveries: WebhookDelivery[] = [];
  const saved: Record<string, string | undefined> = {};

  const api = (): WebApiClient =>
    new WebApiClient({ url: emulator.url, tokenProvider: staticTokenProvider(emulator.token) });
  const connection = (): string[] => ['--url', emulator.url, '--token', emulator.token];

  async function createAccount(body: Record<string, unknown>): Promise<string> {
    const result = await api().create('accounts', body, { primaryKey: 'accountid' });
    assert.ok(result.id);
    return result.id;
  }

  function writeRegistrations(name: string, endpoints: unknown[]): string {
    const file = path.join(dir, name);
    writeFileSync(file, JSON.stringify({ endpoints }, null, 2));
    return file;
  }

  const revenueHook = (): Record<string, unknown> => ({
    name: 'RevenueHook',
    kind: 'webhook',
    url: receiver.url,
    auth: { kind: 'WebhookKey', value: { env: 'E2E_REVENUE_KEY' } },
    steps: [
      {
        name: 'Revenue changed',
        message: 'Update',
        table: 'account',
        stage: 'post-operation',
        mode: 'async',
        filteringAttributes: ['revenue'],
        deleteAsyncJobOnSuccess: true,
        images: [{ type: 'pre', alias: 'PreImage', columns: ['revenue', 'name'] }],
      },
    ],
  });

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'dvw-webhooks-e2e-'));
    for (const name of ['E2E_REVENUE_KEY', 'E2E_FAILING_KEY']) saved[name] = process.env[name];
    process.env.E2E_REVENUE_KEY = KEY;
    process.env.E2E_FAILING_KEY = FAILING_KEY;
    emulator = await startEmulator({ port: 0, seed: 'none' });
    receiver = await startWebhookReceiver({ key: KEY, onDelivery: (delivery) => void deliveries.push(delivery) });
    failing = createServer((req, res) => {
      failingHits++;
      req.resume();
      req.on('end', () => {
        res.writeHead(500);
        res.end();
      });
    });
    await new Promise<void>((resolve) => failing.listen(0, '127.0.0.1', resolve));
    failingUrl = `http://127.0.0.1:${(failing.address() as AddressInfo).port}/hook`;
  });

  after(async () => {
    await emulator.close();
    await receiver.close();
    await new Promise<void>((resolve) => failing.close(() => resolve()));
    rmSync(dir, { recursive: true, force: true });
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  });

  it('applies a file, delivers an Update that touches a filtering attribute, and nothing for other columns', async () => {
    const file = writeRegistrations('revenue.webhooks.json', [revenueHook()]);

    const planned = await cli(['webhooks', 'plan', file, ...connection()]);
    assert.equal(planned.code, 0, planned.stderr);
    assert.match(planned.stdout, /\+ create endpoint RevenueHook \(webhook\)/);
    assert.match(planned.stdout, /3 to create, 0 to update, 0 to delete\./);

    const first = await cli(['webhooks', 'apply', file, '--yes', ...connection()]);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /Applied: 3 created, 0 updated, 0 deleted\./);
    assert.ok(!first.stdout.includes(KEY) && !first.stderr.includes(KEY), 'the key is never printed');

    const second = await cli(['webhooks', 'apply', file, '--yes', ...connection()]);
    assert.equal(second.code, 0, second.stderr);
    assert.equal(second.stdout, 'No changes: the registrations match the file.\n');

    const accountId = await createAccount({ name: 'Contoso', revenue: 1000, telephone1: '555-0100' });
    await emulator.webhooks.idle();
    assert.equal(deliveries.length, 0, 'a Create does not trigger an Update step');

    await api().update('accounts', accountId, { revenue: 2500 });
    await emulator.webhooks.idle();
    assert.equal(deliveries.length, 1);
    const delivery = deliveries[0];
    assert.ok(delivery);
    const { context, headers } = delivery;
    assert.equal(context.messageName, 'Update');
    assert.equal(context.primaryEntityName, 'account');
    assert.equal(context.primaryEntityId, accountId);
    assert.equal(context.mode, 1);
    assert.equal(context.stage, 40);
    const target = targetEntity(context);
    assert.ok(target);
    assert.equal(money(attributeValue(target, 'revenue')), 2500);
    assert.equal(attributeValue(target, 'telephone1'), undefined, 'the Target holds the columns written');
    const pre = context.preEntityImages?.find((image) => image.key === 'PreImage')?.value;
    assert.ok(pre, 'the registered pre-image is there');
    assert.equal(money(attributeValue(pre, 'revenue')), 1000);
    assert.equal(attributeValue(pre, 'name'), 'Contoso');
    assert.equal(attributeValue(pre, 'telephone1'), undefined, 'the image holds only its columns');
    assert.equal(headers.entityName, 'account');
    assert.equal(headers.requestName, 'Update');
    assert.equal(headers.correlationRequestId, context.correlationId);
    assert.equal(headers.organization, new URL(emulator.url).host);
    assert.equal(headers.msgSizeExceeded, false);
    assert.match(delivery.body, /"__type":"Entity:http:\\\/\\\/schemas\.microsoft\.com\\\/xrm\\\/2011\\\/Contracts"/);
    assert.match(delivery.body, /"OperationCreatedOn":"\\\/Date\(\d+\)\\\/"/);

    await api().update('accounts', accountId, { telephone1: '555-0199' });
    await emulator.webhooks.idle();
    assert.equal(deliveries.length, 1, 'an update of a column outside the filtering attributes fires nothing');
    assert.ok(
      emulator.webhooks.log().some((event) => event.outcome === 'delivered' && event.endpoint === 'RevenueHook'),
    );
  });

  it('rolls the write back when a synchronous step’s endpoint answers 500', async () => {
    const file = writeRegistrations('failing.webhooks.json', [
      revenueHook(),
      {
        name: 'Failing',
        kind: 'webhook',
        url: failingUrl,
        auth: { kind: 'WebhookKey', value: { env: 'E2E_FAILING_KEY' } },
        steps: [
          {
            name: 'Validate name',
            message: 'Update',
            table: 'account',
            stage: 'pre-operation',
            mode: 'sync',
            filteringAttributes: ['name'],
          },
        ],
      },
    ]);
    const applied = await cli(['webhooks', 'apply', file, '--yes', ...connection()]);
    assert.equal(applied.code, 0, applied.stderr);
    assert.match(applied.stdout, /Applied: 2 created, 0 updated, 0 deleted\./);

    const accountId = await createAccount({ name: 'Fabrikam', revenue: 10 });
    const before = await api().retrieve('accounts', accountId, { select: ['name', 'revenue'] });
    const hitsBefore = failingHits;
    await assert.rejects(
      api().update('accounts', accountId, { name: 'Renamed' }),
      (error: unknown) => error instanceof Error && /Failing/.test(error.message) && /HTTP 500/.test(error.message),
    );
    assert.equal(failingHits, hitsBefore + 1, 'a 500 is not retried');
    const after = await api().retrieve('accounts', accountId, { select: ['name', 'revenue'] });
    assert.equal(after.name, 'Fabrikam');
    assert.equal(after['@odata.etag'], before['@odata.etag'], 'the record is unchanged');

    // The same request that fires nothing synchronous goes through.
    const delivered = deliveries.length;
    await api().update('accounts', accountId, { revenue: 20 });
    await emulator.webhooks.idle();
    assert.equal(deliveries.length, delivered + 1);
  });

  it('exports what is registered as a file that validates and plans to no changes', async () => {
    const exported = path.join(dir, 'exported.webhooks.json');
    const result = await cli(['webhooks', 'export', exported, ...connection()]);
    assert.equal(result.code, 0, result.stderr);
    const text = readFileSync(exported, 'utf8');
    assert.ok(!text.includes(KEY) && !text.includes(FAILING_KEY), 'no secret is written');
    const validated = validateRegistrationFile(JSON.parse(text));
    assert.ok(validated.ok, JSON.stringify(validated));
    assert.deepEqual(validated.file.endpoints.map((e) => e.name).sort(), ['Failing', 'RevenueHook']);
    const hook = validated.file.endpoints.find((e) => e.name === 'RevenueHook');
    assert.equal(hook?.kind === 'webhook' ? hook.auth.kind : undefined, 'WebhookKey');
    assert.deepEqual(hook?.steps[0]?.images[0]?.columns, ['revenue', 'name']);

    const state = await loadRegisteredState(api());
    assert.ok(isEmptyPlan(computePlan(exportRegistrations(state), state)));

    // Through the CLI, with the variables the export names set.
    const names = [...text.matchAll(/"env": "([A-Z0-9_]+)"/g)].map((m) => m[1] ?? '');
    for (const name of names) process.env[name] = 'set-for-the-plan';
    try {
      const planned = await cli(['webhooks', 'plan', exported, ...connection()]);
      assert.equal(planned.code, 0, planned.stderr);
      assert.equal(planned.stdout, 'No changes: the registrations match the file.\n');
    } finally {
      for (const name of names) delete process.env[name];
    }
  });

  it('answers usage errors with exit code 2 and refuses deletions without --yes when it cannot ask', async () => {
    const missing = await cli(['webhooks', 'plan', path.join(dir, 'absent.json'), ...connection()]);
    assert.equal(missing.code, 2);
    const emptied = writeRegistrations('empty.webhooks.json', []);
    const refused = await cli(['webhooks', 'apply', emptied, '--prune', ...connection()]);
    if (process.stdin.isTTY) return;
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /pass --yes/);
    assert.match(refused.stdout, /- delete endpoint RevenueHook/);
  });
});

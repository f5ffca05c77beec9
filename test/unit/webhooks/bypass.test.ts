import * as assert from 'node:assert/strict';
import { createServer, request as httpRequest } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { staticTokenProvider, WebApiClient } from '../../../src/dataverse/webApiClient';
import type { RunningEmulator } from '../../../src/emulator/server';
import { startEmulator } from '../../../src/emulator/server';
import { applyPlan, computePlan } from '../../../src/webhooks/plan';
import { validateRegistrationFile } from '../../../src/webhooks/registrationFile';
import { createWebApiExecutor, loadRegisteredState } from '../../../src/webhooks/webApiExecutor';

/** A loopback endpoint that answers 200 and keeps the `kind` query parameter of each delivery. */
async function endpoint(): Promise<{ url: string; kinds: string[]; close(): Promise<void> }> {
  const kinds: string[] = [];
  const server: Server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      kinds.push(new URL(req.url ?? '/', 'http://endpoint.invalid').searchParams.get('kind') ?? '?');
      res.writeHead(200);
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    kinds,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

const hook = (name: string, url: string, mode: 'sync' | 'async') => ({
  name,
  kind: 'webhook',
  url: `${url}?kind=${mode}`,
  auth: { kind: 'WebhookKey', value: { env: 'K' } },
  steps: [{ name: `contact created (${mode})`, message: 'Create', table: 'contact', stage: 'post-operation', mode }],
});

function batchOf(boundary: string, parts: readonly { lastname: string; headers?: string[] }[]): string {
  const changeset = `changeset_${boundary}`;
  return [
    `--${boundary}`,
    `Content-Type: multipart/mixed; boundary=${changeset}`,
    '',
    ...parts.flatMap((part, index) => [
      `--${changeset}`,
      'Content-Type: application/http',
      'Content-Transfer-Encoding: binary',
      `Content-ID: ${index + 1}`,
      '',
      'POST contacts HTTP/1.1',
      'Content-Type: application/json',
      ...(part.headers ?? []),
      '',
      JSON.stringify({ lastname: part.lastname }),
    ]),
    `--${changeset}--`,
    `--${boundary}--`,
    '',
  ].join('\r\n');
}

describe('emulator: MSCRM.Bypass… headers skip webhook steps', function () {
  this.timeout(30_000);
  let emulator: RunningEmulator;
  let target: Awaited<ReturnType<typeof endpoint>>;
  let stepIds: { sync: string; async: string };

  const call = (method: string, url: string, init: { body?: string; headers?: Record<string, string> } = {}) =>
    fetch(`${emulator.webApi}${url}`, {
      method,
      headers: {
        Authorization: `Bearer ${emulator.token}`,
        Accept: 'application/json',
        'Content-Type': 'application/json',
        ...init.headers,
      },
      ...(init.body !== undefined ? { body: init.body } : {}),
    });

  /** Creates a contact with the headers, waits for every delivery, and answers the kinds that fired. */
  async function create(headers: Record<string, string>, lastname = 'Adams'): Promise<string[]> {
    const response = await call('POST', 'contacts', { body: JSON.stringify({ lastname }), headers });
    assert.equal(response.status, 204, await response.text());
    return fired();
  }

  async function fired(): Promise<string[]> {
    await emulator.webhooks.idle();
    return target.kinds.splice(0).sort();
  }

  async function contacts(): Promise<string[]> {
    const response = await call('GET', 'contacts?$select=lastname');
    const body = (await response.json()) as { value: { lastname: string }[] };
    return body.value.map((row) => row.lastname).sort();
  }

  async function errorOf(response: Response): Promise<{ code: string; message: string }> {
    assert.equal(response.status, 400);
    return ((await response.json()) as { error: { code: string; message: string } }).error;
  }

  beforeEach(async () => {
    emulator = await startEmulator({ port: 0, seed: 'none' });
    target = await endpoint();
    const client = new WebApiClient({ url: emulator.url, tokenProvider: staticTokenProvider(emulator.token) });
    const file = validateRegistrationFile({
      endpoints: [hook('Sync', target.url, 'sync'), hook('Async', target.url, 'async')],
    });
    if (!file.ok) throw new Error(JSON.stringify(file.issues));
    await applyPlan(computePlan(file.file, await loadRegisteredState(client)), createWebApiExecutor(client), {
      resolveSecret: () => 'key',
    });
    const steps = (await loadRegisteredState(client)).steps;
    const idOf = (mode: string): string => {
      const step = steps.find((s) => s.name === `contact created (${mode})`);
      assert.ok(step);
      return step.sdkmessageprocessingstepid;
    };
    stepIds = { sync: idOf('sync'), async: idOf('async') };
  });

  afterEach(async () => {
    await emulator.close();
    await target.close();
  });

  it('fires both steps without a header', async () => {
    assert.deepEqual(await create({}), ['async', 'sync']);
  });

  it('MSCRM.BypassCustomPluginExecution: true skips the synchronous step, as Dataverse does', async () => {
    assert.deepEqual(await create({ 'MSCRM.BypassCustomPluginExecution': 'true' }), ['async']);
    assert.deepEqual(await create({ 'MSCRM.BypassCustomPluginExecution': 'false' }), ['async', 'sync']);
  });

  it('MSCRM.BypassBusinessLogicExecution skips the kinds it names', async () => {
    assert.deepEqual(await create({ 'MSCRM.BypassBusinessLogicExecution': 'CustomSync' }), ['async']);
    assert.deepEqual(await create({ 'MSCRM.BypassBusinessLogicExecution': 'CustomAsync' }), ['sync']);
    assert.deepEqual(await create({ 'MSCRM.BypassBusinessLogicExecution': 'CustomSync,CustomAsync' }), []);
    assert.deepEqual(await contacts(), ['Adams', 'Adams', 'Adams'], 'the writes themselves happened');
  });

  it('MSCRM.BypassBusinessLogicExecutionStepIds skips those steps only', async () => {
    assert.deepEqual(await create({ 'MSCRM.BypassBusinessLogicExecutionStepIds': stepIds.sync }), ['async']);
    assert.deepEqual(
      await create({ 'MSCRM.BypassBusinessLogicExecutionStepIds': `${stepIds.async.toUpperCase()}, ${stepIds.sync}` }),
      [],
    );
    const unrelated = '00000000-0000-0000-0000-000000000001';
    assert.deepEqual(await create({ 'MSCRM.BypassBusinessLogicExecutionStepIds': unrelated }), ['async', 'sync']);
  });

  it('applies the $batch request header to its parts, and a part header to that part', async () => {
    const all = await call('POST', '$batch', {
      body: batchOf('batch_all', [{ lastname: 'One' }, { lastname: 'Two' }]),
      headers: {
        'Content-Type': 'multipart/mixed; boundary=batch_all',
        'MSCRM.BypassBusinessLogicExecution': 'CustomSync,CustomAsync',
      },
    });
    assert.equal(all.status, 200, await all.text());
    assert.deepEqual(await fired(), []);
    assert.deepEqual(await contacts(), ['One', 'Two']);

    const mixed = await call('POST', '$batch', {
      body: batchOf('batch_mixed', [
        { lastname: 'Three' },
        { lastname: 'Four', headers: ['MSCRM.BypassBusinessLogicExecution: CustomSync'] },
      ]),
      headers: {
        'Content-Type': 'multipart/mixed; boundary=batch_mixed',
        'MSCRM.BypassBusinessLogicExecution': 'CustomAsync',
      },
    });
    assert.equal(mixed.status, 200, await mixed.text());
    assert.deepEqual(await fired(), ['async', 'sync'], 'Three fired its sync step, Four its async step');

    const plain = await call('POST', '$batch', {
      body: batchOf('batch_plain', [{ lastname: 'Five' }]),
      headers: { 'Content-Type': 'multipart/mixed; boundary=batch_plain' },
    });
    assert.equal(plain.status, 200, await plain.text());
    assert.deepEqual(await fired(), ['async', 'sync']);
  });

  it('answers a bad value with a 400 and changes nothing', async () => {
    const bad: Record<string, string>[] = [
      { 'MSCRM.BypassBusinessLogicExecution': 'Everything' },
      { 'MSCRM.BypassBusinessLogicExecution': 'CustomSync;CustomAsync' },
      { 'MSCRM.BypassCustomPluginExecution': 'yes' },
      { 'MSCRM.BypassBusinessLogicExecutionStepIds': 'not-a-guid' },
    ];
    for (const headers of bad) {
      const response = await call('POST', 'contacts', { body: JSON.stringify({ lastname: 'Nope' }), headers });
      const error = await errorOf(response);
      assert.equal(error.code, '0x80040203');
      assert.match(error.message, /MSCRM\.Bypass/);
    }
    const tooMany = await errorOf(
      await call('POST', 'contacts', {
        body: JSON.stringify({ lastname: 'Nope' }),
        headers: {
          'MSCRM.BypassBusinessLogicExecutionStepIds': [1, 2, 3, 4]
            .map((n) => `00000000-0000-0000-0000-00000000000${n}`)
            .join(','),
        },
      }),
    );
    assert.match(tooMany.message, /names 4 steps; at most 3/);

    const outer = await call('POST', '$batch', {
      body: batchOf('batch_bad', [{ lastname: 'Nope' }]),
      headers: { 'Content-Type': 'multipart/mixed; boundary=batch_bad', 'MSCRM.BypassBusinessLogicExecution': 'All' },
    });
    assert.equal((await errorOf(outer)).code, '0x80040203');

    const inner = await call('POST', '$batch', {
      body: batchOf('batch_part', [
        { lastname: 'Nope' },
        { lastname: 'Nope', headers: ['MSCRM.BypassBusinessLogicExecution: Sometimes'] },
      ]),
      headers: { 'Content-Type': 'multipart/mixed; boundary=batch_part' },
    });
    const text = await inner.text();
    assert.equal(inner.status, 400, text);
    assert.match(text, /MSCRM\.BypassBusinessLogicExecution header is not valid/);

    assert.deepEqual(await contacts(), [], 'no write happened, not even the valid part of the change set');
    assert.deepEqual(await fired(), [], 'and nothing was delivered');
  });

  it('keeps idle connections open longer than client pools do, and says so', async () => {
    const url = new URL(`${emulator.webApi}WhoAmI`);
    const headers = await new Promise<Record<string, unknown>>((resolve, reject) => {
      const req = httpRequest(url, { headers: { Authorization: `Bearer ${emulator.token}` } }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.headers));
      });
      req.on('error', reject);
      req.end();
    });
    assert.equal(headers['keep-alive'], 'timeout=65');
  });
});

import * as assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseRemoteExecutionContext } from '../../../src/core/remoteExecutionContext';
import { staticTokenProvider, WebApiClient } from '../../../src/dataverse/webApiClient';
import type { RunningEmulator } from '../../../src/emulator/server';
import { startEmulator } from '../../../src/emulator/server';
import { applyPlan, computePlan } from '../../../src/webhooks/plan';
import { validateRegistrationFile } from '../../../src/webhooks/registrationFile';
import { createWebApiExecutor, loadRegisteredState } from '../../../src/webhooks/webApiExecutor';

// A synchronous webhook receiver (say an Azure Function running locally) that calls back into Dataverse before
// it answers. In Dataverse the call back is a request of its own, in its own transaction: it is answered, and it
// sees committed data, not the change whose step is running. The emulator sets the pending write aside meanwhile.

type Handler = (context: { primaryEntityId: string }) => Promise<number>;

/** A loopback webhook endpoint whose answer (a status) comes from `handler`, set per test. */
async function endpoint(): Promise<{ url: string; handle(handler: Handler): void; close(): Promise<void> }> {
  let handler: Handler = () => Promise.resolve(200);
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const context = parseRemoteExecutionContext(Buffer.concat(chunks).toString('utf8'));
      handler({ primaryEntityId: context.primaryEntityId ?? '' }).then(
        (status) => res.writeHead(status).end(),
        () => res.writeHead(500).end(),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/hook`,
    handle: (next) => (handler = next),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

const BATCH_OF_GETS = (contactId: string, accountId: string): string =>
  [
    '--batch_reads',
    'Content-Type: application/http',
    'Content-Transfer-Encoding: binary',
    '',
    `GET contacts(${contactId})?$select=lastname HTTP/1.1`,
    'Accept: application/json',
    '',
    '--batch_reads',
    'Content-Type: application/http',
    'Content-Transfer-Encoding: binary',
    '',
    `GET accounts(${accountId})?$select=name HTTP/1.1`,
    'Accept: application/json',
    '',
    '--batch_reads--',
    '',
  ].join('\r\n');

for (const storage of ['in memory', 'in a data file'] as const) {
  describe(`emulator (${storage}): requests while a synchronous webhook is pending`, function () {
    this.timeout(30_000);
    let dir: string;
    let emulator: RunningEmulator;
    let client: WebApiClient;
    let hook: Awaited<ReturnType<typeof endpoint>>;
    let accountId: string;
    let contactId: string;

    const call = (method: string, url: string, init: { body?: string; headers?: Record<string, string> } = {}) =>
      fetch(url.startsWith('http') ? url : `${emulator.webApi}${url}`, {
        method,
        headers: {
          Authorization: `Bearer ${emulator.token}`,
          Accept: 'application/json',
          ...(init.body !== undefined ? { 'Content-Type': 'application/json' } : {}),
          ...init.headers,
        },
        ...(init.body !== undefined ? { body: init.body } : {}),
      });

    async function json(response: Response): Promise<Record<string, unknown>> {
      const text = await response.text();
      assert.ok(response.ok, `HTTP ${response.status}: ${text}`);
      return JSON.parse(text) as Record<string, unknown>;
    }

    async function lastname(id: string): Promise<unknown> {
      return (await json(await call('GET', `contacts(${id})?$select=lastname`))).lastname;
    }

    async function register(message: 'Create' | 'Update', enabled = true): Promise<void> {
      const file = validateRegistrationFile({
        endpoints: [
          {
            name: 'Local function',
            kind: 'webhook',
            url: hook.url,
            auth: { kind: 'WebhookKey', value: { env: 'FUNCTION_KEY' } },
            steps: [
              { name: `contact ${message}`, message, table: 'contact', stage: 'post-operation', mode: 'sync', enabled },
            ],
          },
        ],
      });
      if (!file.ok) throw new Error(JSON.stringify(file.issues));
      const state = await loadRegisteredState(client);
      await applyPlan(computePlan(file.file, state), createWebApiExecutor(client), {
        resolveSecret: () => 'function-key',
      });
    }

    /** What a receiver typically reads before answering; every answer must come, and show committed data. */
    async function readBack(id: string): Promise<Record<string, unknown>> {
      const whoAmI = await json(await call('GET', 'WhoAmI'));
      const account = await json(await call('GET', `accounts(${accountId})?$select=name`));
      const contact = await call('GET', `contacts(${id})?$select=lastname`);
      const fetchXml = encodeURIComponent(
        `<fetch><entity name="contact"><attribute name="lastname" /><filter><condition attribute="contactid" operator="eq" value="${contactId}" /></filter></entity></fetch>`,
      );
      const fetched = await json(await call('GET', `contacts?fetchXml=${fetchXml}`));
      const metadata = await call('GET', '$metadata');
      const definition = await json(await call('GET', "EntityDefinitions(LogicalName='contact')?$select=LogicalName"));
      const tracked = await json(
        await call('GET', 'contacts?$select=lastname', { headers: { Prefer: 'odata.track-changes' } }),
      );
      const batch = await call('POST', '$batch', {
        body: BATCH_OF_GETS(contactId, accountId),
        headers: { 'Content-Type': 'multipart/mixed; boundary=batch_reads' },
      });
      return {
        whoAmI: whoAmI.UserId,
        account: account.name,
        contactStatus: contact.status,
        contact: contact.ok ? (JSON.parse(await contact.text()) as Record<string, unknown>).lastname : undefined,
        fetched: (fetched.value as Record<string, unknown>[]).map((row) => row.lastname),
        metadata: metadata.status,
        definition: definition.LogicalName,
        tracked: (tracked.value as Record<string, unknown>[]).map((row) => row.lastname),
        deltaLink: typeof tracked['@odata.deltaLink'],
        batch: batch.status,
        batchText: await batch.text(),
      };
    }

    beforeEach(async () => {
      dir = mkdtempSync(path.join(tmpdir(), 'dvw-sync-callback-'));
      emulator = await startEmulator({
        port: 0,
        seed: 'none',
        webhookTimeoutMs: 2_000,
        ...(storage === 'in a data file' ? { dataPath: path.join(dir, 'org.db') } : {}),
      });
      client = new WebApiClient({ url: emulator.url, tokenProvider: staticTokenProvider(emulator.token) });
      hook = await endpoint();
      accountId = (await client.create('accounts', { name: 'Contoso' }, { primaryKey: 'accountid' })).id ?? '';
      contactId =
        (
          await client.create(
            'contacts',
            { lastname: 'Old', 'parentcustomerid_account@odata.bind': `/accounts(${accountId})` },
            { primaryKey: 'contactid' },
          )
        ).id ?? '';
    });

    afterEach(async () => {
      await emulator.close();
      await hook.close();
      rmSync(dir, { recursive: true, force: true });
    });

    it('answers the endpoint’s reads with committed data, then commits the update when it answers 200', async () => {
      await register('Update');
      let seen: Record<string, unknown> | undefined;
      hook.handle(async ({ primaryEntityId }) => {
        seen = await readBack(primaryEntityId);
        return 200;
      });
      const update = await call('PATCH', `contacts(${contactId})`, { body: JSON.stringify({ lastname: 'New' }) });
      assert.equal(update.status, 204, await update.text());
      assert.ok(seen, 'the endpoint was called and its reads were answered');
      assert.equal(seen.whoAmI, emulator.userId);
      assert.equal(seen.account, 'Contoso');
      assert.equal(seen.contactStatus, 200);
      assert.equal(seen.contact, 'Old', 'the record being updated shows its committed value');
      assert.deepEqual(seen.fetched, ['Old'], 'FetchXML reads the committed value too');
      assert.equal(seen.metadata, 200);
      assert.equal(seen.definition, 'contact');
      assert.deepEqual(seen.tracked, ['Old'], 'a change-tracking read too');
      assert.equal(seen.deltaLink, 'string');
      assert.equal(seen.batch, 200);
      assert.match(String(seen.batchText), /"lastname":"Old"/);
      assert.match(String(seen.batchText), /"name":"Contoso"/);
      assert.doesNotMatch(String(seen.batchText), /"New"/);
      assert.equal(await lastname(contactId), 'New', 'the update committed once the endpoint said yes');
      assert.deepEqual(
        emulator.webhooks.log().map((event) => [event.mode, event.outcome]),
        [['sync', 'delivered']],
      );
    });

    it('rolls the update back when the endpoint answers 500 after reading', async () => {
      await register('Update');
      let seen: Record<string, unknown> | undefined;
      hook.handle(async ({ primaryEntityId }) => {
        seen = await readBack(primaryEntityId);
        return 500;
      });
      const update = await call('PATCH', `contacts(${contactId})`, { body: JSON.stringify({ lastname: 'New' }) });
      const body = await update.text();
      assert.equal(update.status, 400, body);
      assert.match(body, /the endpoint answered HTTP 500/);
      assert.equal(seen?.contact, 'Old');
      assert.equal(seen?.account, 'Contoso');
      assert.equal(await lastname(contactId), 'Old', 'nothing of the update is kept');
      const account = await json(await call('GET', `accounts(${accountId})?$select=name`));
      assert.equal(account.name, 'Contoso');
      // The emulator takes writes again.
      const next = await call('PATCH', `accounts(${accountId})`, { body: JSON.stringify({ name: 'Contoso Ltd' }) });
      assert.equal(next.status, 204, await next.text());
    });

    it('does not show a record being created until the endpoint has answered', async () => {
      await register('Create');
      let during: { byId?: number; listed?: unknown[] } = {};
      hook.handle(async ({ primaryEntityId }) => {
        const byId = await call('GET', `contacts(${primaryEntityId})?$select=lastname`);
        await byId.arrayBuffer();
        const listed = await json(await call('GET', "contacts?$select=lastname&$filter=lastname eq 'Fresh'"));
        during = { byId: byId.status, listed: listed.value as unknown[] };
        return 200;
      });
      const created = await client.create('contacts', { lastname: 'Fresh' }, { primaryKey: 'contactid' });
      assert.deepEqual(during, { byId: 404, listed: [] });
      assert.equal(await lastname(created.id ?? ''), 'Fresh');
    });

    it('serves reads too when the request itself enables the step that fires (a change set)', async () => {
      await register('Update', false);
      const steps = await json(await call('GET', 'sdkmessageprocessingsteps?$select=sdkmessageprocessingstepid'));
      const stepId = String((steps.value as Record<string, unknown>[])[0]?.sdkmessageprocessingstepid);
      let seen: { contact?: unknown; stepState?: unknown } = {};
      hook.handle(async ({ primaryEntityId }) => {
        const step = await json(await call('GET', `sdkmessageprocessingsteps(${stepId})?$select=statecode`));
        seen = { contact: await lastname(primaryEntityId), stepState: step.statecode };
        return 200;
      });
      const part = (id: number, url: string, body: unknown): string[] => [
        '--changeset_enable',
        'Content-Type: application/http',
        'Content-Transfer-Encoding: binary',
        `Content-ID: ${id}`,
        '',
        `PATCH ${url} HTTP/1.1`,
        'Content-Type: application/json',
        '',
        JSON.stringify(body),
      ];
      const body = [
        '--batch_enable',
        'Content-Type: multipart/mixed; boundary=changeset_enable',
        '',
        ...part(1, `sdkmessageprocessingsteps(${stepId})`, { statecode: 0, statuscode: 1 }),
        ...part(2, `contacts(${contactId})`, { lastname: 'New' }),
        '--changeset_enable--',
        '--batch_enable--',
        '',
      ].join('\r\n');
      const batch = await call('POST', '$batch', {
        body,
        headers: { 'Content-Type': 'multipart/mixed; boundary=batch_enable' },
      });
      assert.equal(batch.status, 200, await batch.text());
      assert.deepEqual(seen, { contact: 'Old', stepState: 1 }, 'the endpoint read the committed state');
      assert.equal(await lastname(contactId), 'New');
      const step = await json(await call('GET', `sdkmessageprocessingsteps(${stepId})?$select=statecode`));
      assert.equal(step.statecode, 0);
    });

    it('makes a write from the endpoint wait, and says why when the endpoint then does not answer', async () => {
      await register('Update');
      let writeBack: Promise<number> | undefined;
      hook.handle(async () => {
        // Writing back before answering: the write waits for the update, which waits for this answer.
        writeBack = call('PATCH', `accounts(${accountId})`, { body: JSON.stringify({ name: 'Written back' }) }).then(
          async (response) => {
            await response.arrayBuffer();
            return response.status;
          },
        );
        await writeBack;
        return 200;
      });
      const update = await call('PATCH', `contacts(${contactId})`, { body: JSON.stringify({ lastname: 'New' }) });
      const body = await update.text();
      assert.equal(update.status, 400, body);
      assert.match(body, /did not answer within 2 s/);
      assert.match(body, /Meanwhile 1 other write request waited for this one/);
      assert.ok(writeBack);
      assert.equal(await writeBack, 204, 'the waiting write runs once the update has been rolled back');
      assert.equal(await lastname(contactId), 'Old');
      const account = await json(await call('GET', `accounts(${accountId})?$select=name`));
      assert.equal(account.name, 'Written back');
    });
  });
}

describe('emulator: webhookTimeoutMs', () => {
  it('refuses a timeout that is not a positive number of milliseconds', async () => {
    for (const bad of [0, -1, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 31]) {
      await assert.rejects(startEmulator({ port: 0, seed: 'none', webhookTimeoutMs: bad }), /webhookTimeoutMs/);
    }
  });
});

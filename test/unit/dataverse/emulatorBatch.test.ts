import assert from 'node:assert/strict';
import type { BatchRequest } from '../../../src/dataverse/batch';
import { executeBatch } from '../../../src/dataverse/batch';
import { ChangeTracker, memoryDeltaLinkStore } from '../../../src/dataverse/changeTracking';
import type { WebApiClient } from '../../../src/dataverse/webApiClient';
import type { RunningEmulator } from '../../../src/emulator/server';
import { startEmulatorClient } from './emulatorClient';
import { rejection } from './helpers';

/** The project's client against the project's emulator: `$batch` and change tracking end to end. */
describe('dataverse client against the emulator: $batch and change tracking', () => {
  let emulator: RunningEmulator;
  let client: WebApiClient;
  beforeEach(async () => {
    ({ emulator, client } = await startEmulatorClient({ seed: 'none' }));
  });
  afterEach(() => emulator.close());

  const names = async (filter: string): Promise<string[]> => {
    const page = await client.request({ method: 'GET', path: `accounts?$select=name&$filter=${filter}` });
    const value = (page.body as { value: { name: string }[] }).value;
    return value.map((r) => r.name).sort();
  };

  it('runs a change set with Content-ID references and a GET, one result per request', async () => {
    const results = await executeBatch(client, [
      {
        changeSet: [
          { method: 'POST', url: 'accounts', body: { name: 'Batch parent' } },
          { method: 'POST', url: 'contacts', body: { lastname: 'Batch child' } },
          { method: 'PUT', url: '$1/primarycontactid/$ref', body: { '@odata.id': '$2' } },
        ],
      },
      { method: 'GET', url: "accounts?$select=name,_primarycontactid_value&$filter=name%20eq%20'Batch%20parent'" },
    ]);
    assert.deepEqual(
      results.map((r) => [r.status, r.executed]),
      [
        [204, true],
        [204, true],
        [204, true],
        [200, true],
      ],
    );
    const rows = (results[3]?.body as { value: Record<string, unknown>[] }).value;
    assert.deepEqual(
      rows.map((r) => [r.accountid, r._primarycontactid_value]),
      [[results[0]?.id, results[1]?.id]],
    );
  });

  it('reports a failed change set for all its requests and commits none of them', async () => {
    const results = await executeBatch(client, [
      {
        changeSet: [
          { method: 'POST', url: 'accounts', body: { name: 'Never committed' } },
          { method: 'POST', url: 'tasks', body: { subject: 'x'.repeat(201) } },
        ],
      },
      { method: 'POST', url: 'accounts', body: { name: 'Never reached' } },
    ]);
    assert.deepEqual(
      results.map((r) => [r.status, r.executed, r.error?.code]),
      [
        [400, false, '0x80044331'],
        [400, false, '0x80044331'],
        [undefined, false, undefined],
      ],
    );
    assert.match(results[0]?.error?.requestId ?? '', /^[0-9a-f-]{36}$/);
    assert.deepEqual(await names("startswith(name,'Never')"), []);
  });

  it('with continue-on-error answers every request', async () => {
    const requests: BatchRequest[] = [
      { method: 'POST', url: 'tasks', body: { subject: 'x'.repeat(201) } },
      { method: 'POST', url: 'accounts', body: { name: 'Continued 1' } },
      { method: 'POST', url: 'accounts', body: { name: 'Continued 2' } },
    ];
    const results = await executeBatch(client, requests, { continueOnError: true });
    assert.deepEqual(
      results.map((r) => [r.status, r.executed]),
      [
        [400, false],
        [204, true],
        [204, true],
      ],
    );
    assert.deepEqual(await names("startswith(name,'Continued')"), ['Continued 1', 'Continued 2']);
  });

  it('turns a batch the emulator refuses as a whole into an error', async () => {
    const error = await rejection(
      executeBatch(client, [
        {
          changeSet: [
            { method: 'POST', url: 'tasks', body: { subject: 't', 'regardingobjectid_account_task@odata.bind': '$1' } },
            { method: 'POST', url: 'accounts', body: { name: 'later' }, contentId: '1' },
          ],
        },
      ]),
    );
    assert.equal(error.kind, 'odata');
    assert.equal(error.status, 400);
    assert.match(error.message, /Content-ID Reference: '\$1' does not exist in the batch context/);
  });

  it('keeps a ChangeTracker in step: everything first, then exactly the creates, updates and deletes', async () => {
    const create = async (name: string): Promise<string> => {
      const [result] = await executeBatch(client, [{ method: 'POST', url: 'accounts', body: { name } }]);
      assert.ok(result?.id !== undefined);
      return result.id;
    };
    const first = await create('First');
    const second = await create('Second');
    const tracker = new ChangeTracker(client, memoryDeltaLinkStore(), 'accounts?$select=name');
    const initial = await tracker.sync();
    assert.equal(initial.initial, true);
    assert.deepEqual(initial.changed.map((r) => r.name).sort(), ['First', 'Second']);

    const third = await create('Third');
    await client.request({ method: 'PATCH', path: `accounts(${first})`, body: { name: 'First, renamed' } });
    await client.request({ method: 'DELETE', path: `accounts(${second})` });
    const changes = await tracker.sync();
    assert.equal(changes.initial, false);
    assert.deepEqual(
      changes.changed.map((r) => [r.accountid, r.name]).sort(),
      [
        [first, 'First, renamed'],
        [third, 'Third'],
      ].sort(),
    );
    assert.deepEqual(changes.deleted, [{ id: second, reason: 'deleted' }]);

    const none = await tracker.sync();
    assert.deepEqual([none.changed.length, none.deleted.length], [0, 0]);
  });

  it('says change tracking is not enabled for a table without it', async () => {
    const tracker = new ChangeTracker(client, memoryDeltaLinkStore(), 'businessunits?$select=name');
    const error = await rejection(tracker.sync());
    assert.equal(error.status, 400);
    assert.equal(error.code, '0x80072491');
  });
});

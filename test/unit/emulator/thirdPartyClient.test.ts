import assert from 'node:assert/strict';
import { DynamicsWebApi } from 'dynamics-web-api';
import type { RunningEmulator } from '../../../src/emulator/server';
import { startEmulator } from '../../../src/emulator/server';

interface Account {
  readonly accountid: string;
  readonly name: string;
  readonly numberofemployees?: number | null;
}

function isAccount(value: unknown): value is Account {
  return (
    typeof value === 'object' && value !== null && typeof (value as { accountid?: unknown }).accountid === 'string'
  );
}

/** The unmodified npm library `dynamics-web-api` (v2) against the emulator, as it would talk to Dataverse. */
describe('emulator with the dynamics-web-api client library', function () {
  let emulator: RunningEmulator;
  let api: DynamicsWebApi;

  before(async function () {
    emulator = await startEmulator({ port: 0, seedAccounts: 23 });
    api = new DynamicsWebApi({
      serverUrl: emulator.url,
      dataApi: { version: '9.2' },
      onTokenRefresh: () => Promise.resolve(emulator.token),
    });
  });
  after(async function () {
    await emulator.close();
  });

  it('creates, retrieves, updates, upserts and deletes', async function () {
    const created: unknown = await api.create({
      collection: 'accounts',
      data: { name: 'Library Co', numberofemployees: 7 },
      returnRepresentation: true,
    });
    assert.ok(isAccount(created));
    assert.equal(created.name, 'Library Co');
    const id = created.accountid;

    const retrieved: unknown = await api.retrieve({
      collection: 'accounts',
      key: id,
      select: ['name', 'numberofemployees'],
    });
    assert.ok(isAccount(retrieved));
    assert.equal(retrieved.numberofemployees, 7);

    await api.update({ collection: 'accounts', key: id, data: { numberofemployees: 8 } });
    const updated: unknown = await api.retrieve({ collection: 'accounts', key: id, select: ['numberofemployees'] });
    assert.ok(isAccount(updated));
    assert.equal(updated.numberofemployees, 8);

    const upsertId = '6f3a2c1e-9b8d-4e7f-a1b2-c3d4e5f60718';
    await api.upsert({ collection: 'accounts', key: upsertId, data: { name: 'Upserted by library' } });
    await api.upsert({ collection: 'accounts', key: upsertId, data: { name: 'Upserted twice' } });
    const upserted: unknown = await api.retrieve({ collection: 'accounts', key: upsertId, select: ['name'] });
    assert.ok(isAccount(upserted));
    assert.equal(upserted.name, 'Upserted twice');

    await api.deleteRecord({ collection: 'accounts', key: id });
    await assert.rejects(api.retrieve({ collection: 'accounts', key: id }), (error: unknown) => {
      return (error as { status?: unknown }).status === 404;
    });
  });

  it('retrieves with a filter, pages through every page, and counts', async function () {
    const filtered = await api.retrieveMultiple<Account>({
      collection: 'accounts',
      select: ['name', 'numberofemployees'],
      filter: "startswith(name,'Upserted') or numberofemployees ge 0",
      orderBy: ['name desc'],
    });
    assert.ok(filtered.value.length >= 23);
    const sorted = filtered.value.map((a) => a.name);
    assert.deepEqual(
      sorted,
      [...sorted].sort((a, b) => b.localeCompare(a, 'en', { sensitivity: 'base' })),
    );

    const firstPage = await api.retrieveMultiple<Account>({
      collection: 'accounts',
      select: ['name'],
      maxPageSize: 10,
    });
    assert.equal(firstPage.value.length, 10);
    assert.equal(typeof firstPage.oDataNextLink, 'string');
    const all = await api.retrieveAll<Account>({ collection: 'accounts', select: ['name'], maxPageSize: 10 });
    const total = await api.count({ collection: 'accounts' });
    assert.equal(all.value.length, total);
    assert.equal(new Set(all.value.map((a) => a.accountid)).size, total, 'every row once');
    const filteredCount = await api.count({ collection: 'accounts', filter: "startswith(name,'Upserted')" });
    assert.equal(filteredCount, 1);
    const countAll = await api.countAll({ collection: 'accounts', select: ['accountid'] });
    assert.equal(countAll, total);
  });

  it('associates and disassociates records', async function () {
    const account = await api.create<Record<string, unknown>, Account>({
      collection: 'accounts',
      data: { name: 'Parent' },
      returnRepresentation: true,
    });
    const contact = await api.create<Record<string, unknown>, { contactid: string }>({
      collection: 'contacts',
      data: { lastname: 'Child' },
      returnRepresentation: true,
    });
    await api.associate({
      collection: 'accounts',
      primaryKey: account.accountid,
      relationshipName: 'contact_customer_accounts',
      relatedCollection: 'contacts',
      relatedKey: contact.contactid,
    });
    const related = await api.retrieveMultiple<{ contactid: string }>({
      collection: `accounts(${account.accountid})/contact_customer_accounts`,
      select: ['fullname'],
    });
    assert.deepEqual(
      related.value.map((c) => c.contactid),
      [contact.contactid],
    );
    await api.disassociate({
      collection: 'accounts',
      primaryKey: account.accountid,
      relationshipName: 'contact_customer_accounts',
      relatedKey: contact.contactid,
    });
    const after = await api.retrieveMultiple<{ contactid: string }>({
      collection: `accounts(${account.accountid})/contact_customer_accounts`,
    });
    assert.equal(after.value.length, 0);
  });
});

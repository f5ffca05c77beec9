import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from './helpers';
import { errorOf, idFromEntityId, jsonOf, startClient } from './helpers';

const TRACK = { Prefer: 'odata.track-changes' };

interface Page {
  readonly body: Record<string, unknown>;
  readonly rows: Record<string, unknown>[];
}

async function read(client: Client, path: string, headers: Record<string, string> = {}): Promise<Page> {
  const response = await client.request('GET', path, { headers });
  assert.equal(response.status, 200, path);
  const body = await jsonOf(response);
  return { body, rows: body.value as Record<string, unknown>[] };
}

function link(page: Page, name: '@odata.deltaLink' | '@odata.nextLink'): string {
  const value = page.body[name];
  assert.equal(typeof value, 'string', name);
  return value as string;
}

async function create(client: Client, name: string): Promise<string> {
  const response = await client.request('POST', 'accounts', { body: { name } });
  assert.equal(response.status, 204);
  return idFromEntityId(response);
}

describe('emulator change tracking', () => {
  let client: Client;
  afterEach(() => client.emulator.close());

  it('answers the first tracked read with Preference-Applied and a delta link, then exactly the changes', async () => {
    client = await startClient({ seed: 'none' });
    const kept = await create(client, 'Kept');
    const updated = await create(client, 'To update');
    const deleted = await create(client, 'To delete');
    const response = await client.request('GET', 'accounts?$select=name,telephone1', { headers: TRACK });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('preference-applied'), 'odata.track-changes');
    const first = await jsonOf(response);
    assert.deepEqual(Object.keys(first), ['@odata.context', '@odata.deltaLink', 'value']);
    assert.equal(first['@odata.context'], `${client.emulator.webApi}$metadata#accounts(name,telephone1)`);
    const deltaLink = first['@odata.deltaLink'] as string;
    assert.match(
      deltaLink,
      new RegExp(
        `^${client.emulator.webApi.replace(/[.?$()]/g, '\\$&')}accounts\\?\\$select=name,telephone1&\\$deltatoken=\\d+%21\\d\\d%2f\\d\\d%2f\\d{4}%20\\d\\d%3a\\d\\d%3a\\d\\d$`,
      ),
    );
    assert.deepEqual((first.value as { name: string }[]).map((r) => r.name).sort(), ['Kept', 'To delete', 'To update']);

    const created = await create(client, 'Created');
    assert.equal((await client.request('PATCH', `accounts(${updated})`, { body: { telephone1: '555' } })).status, 204);
    assert.equal((await client.request('DELETE', `accounts(${deleted})`)).status, 204);
    // Created and deleted between two syncs: reported as deleted only (§11).
    const transient = await create(client, 'Transient');
    assert.equal((await client.request('DELETE', `accounts(${transient})`)).status, 204);

    const delta = await read(client, deltaLink);
    assert.equal(delta.body['@odata.context'], `${client.emulator.webApi}$metadata#accounts(name,telephone1)/$delta`);
    const changed = delta.rows.filter((r) => r.accountid !== undefined);
    assert.deepEqual(
      changed.map((r) => [r.accountid, r.name, r.telephone1]),
      [
        [created, 'Created', null],
        [updated, 'To update', '555'],
      ],
    );
    assert.deepEqual(Object.keys(changed[0] ?? {}), ['@odata.etag', 'name', 'telephone1', 'accountid']);
    assert.deepEqual(
      delta.rows.filter((r) => r.accountid === undefined),
      [deleted, transient].map((id) => ({
        '@odata.context': `${client.emulator.webApi}$metadata#accounts/$deletedEntity`,
        id,
        reason: 'deleted',
      })),
    );
    assert.ok(!delta.rows.some((r) => r.accountid === kept));

    const quiet = await read(client, link(delta, '@odata.deltaLink'));
    assert.deepEqual(quiet.rows, []);
    const counted = await client.request(
      'GET',
      link(delta, '@odata.deltaLink').replace('accounts?', 'accounts/$count?'),
    );
    assert.equal(await counted.text(), '0');
    const countedBefore = await client.request('GET', deltaLink.replace('accounts?', 'accounts/$count?'));
    assert.equal(await countedBefore.text(), '4');
  });

  it('pages the first read and carries its starting version, so a write during paging is in the next delta', async () => {
    client = await startClient({ seed: 'none' });
    const ids = [];
    for (let i = 0; i < 5; i++) ids.push(await create(client, `Row ${i}`));
    const headers = { Prefer: 'odata.track-changes,odata.maxpagesize=2' };
    let page = await read(client, 'accounts?$select=name', headers);
    assert.equal(page.body['@odata.deltaLink'], undefined);
    const seen = page.rows.map((r) => r.accountid);
    const early = String(seen[0]);
    assert.equal(
      (await client.request('PATCH', `accounts(${early})`, { body: { name: 'Changed while paging' } })).status,
      204,
    );
    while (page.body['@odata.nextLink'] !== undefined) {
      page = await read(client, link(page, '@odata.nextLink'), headers);
      seen.push(...page.rows.map((r) => r.accountid));
    }
    assert.deepEqual([...seen].sort(), [...ids].sort());
    const delta = await read(client, link(page, '@odata.deltaLink'));
    assert.deepEqual(
      delta.rows.map((r) => [r.accountid, r.name]),
      [[early, 'Changed while paging']],
    );
  });

  it('pages a delta of more changes than the page size', async () => {
    client = await startClient({ seed: 'none' });
    const start = await read(client, 'accounts?$select=name', TRACK);
    const ids = [];
    for (let i = 0; i < 5; i++) ids.push(await create(client, `Row ${i}`));
    assert.equal((await client.request('DELETE', `accounts(${ids[0] ?? ''})`)).status, 204);
    const seen: unknown[] = [];
    let next: string | undefined = link(start, '@odata.deltaLink');
    let pages = 0;
    let last: Page | undefined;
    while (next !== undefined) {
      last = await read(client, next, { Prefer: 'odata.maxpagesize=2' });
      seen.push(...last.rows.map((r) => r.accountid ?? `deleted ${String(r.id)}`));
      const nextLink = last.body['@odata.nextLink'];
      next = typeof nextLink === 'string' ? nextLink : undefined;
      pages++;
    }
    assert.equal(pages, 3);
    assert.deepEqual(seen.sort(), [...ids.slice(1), `deleted ${ids[0] ?? ''}`].sort());
    assert.ok(last !== undefined && typeof last.body['@odata.deltaLink'] === 'string');
  });

  it('refuses tables without change tracking, options it does not support, and tokens it did not issue', async () => {
    client = await startClient({ seed: 'none' });
    const untracked = await client.request('GET', 'businessunits?$select=name', { headers: TRACK });
    assert.equal(untracked.status, 400);
    assert.deepEqual(await errorOf(untracked), {
      code: '0x80072491',
      message: "Entity businessunit isn't enabled for change tracking.",
    });
    for (const option of ['$filter=name eq null', '$orderby=name', '$top=1', '$expand=primarycontactid']) {
      const response = await client.request('GET', `accounts?$select=name&${option}`, { headers: TRACK });
      assert.equal(response.status, 400, option);
      const name = option.slice(0, option.indexOf('='));
      assert.equal(
        (await errorOf(response)).message,
        `The "${name}" query parameter isn't supported when Change Tracking is enabled.`,
      );
    }
    for (const token of ['abc', '99999999!01/01/2030%2000:00:00']) {
      const response = await client.request('GET', `accounts?$select=name&$deltatoken=${token}`);
      assert.equal(response.status, 400, token);
    }
    const replaced = await startClient({ seed: 'none', errorCodes: { changeTrackingDisabled: '0x1' } });
    try {
      const response = await replaced.request('GET', 'roles', { headers: TRACK });
      assert.equal((await errorOf(response)).code, '0x1');
    } finally {
      await replaced.emulator.close();
    }
  });

  it('keeps a delta token valid across a restart of a file-backed emulator', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dvw-tracking-'));
    const dataPath = join(dir, 'data.sqlite');
    try {
      client = await startClient({ seed: 'none', dataPath });
      const survivor = await create(client, 'Survivor');
      const victim = await create(client, 'Victim');
      const start = await read(client, 'accounts?$select=name', TRACK);
      const pathAndQuery = link(start, '@odata.deltaLink').slice(client.emulator.webApi.length);
      assert.equal((await client.request('PATCH', `accounts(${survivor})`, { body: { name: 'Renamed' } })).status, 204);
      await client.emulator.close();

      client = await startClient({ seed: 'none', dataPath });
      assert.equal((await client.request('DELETE', `accounts(${victim})`)).status, 204);
      const delta = await read(client, pathAndQuery);
      assert.deepEqual(
        delta.rows.map((r) => (r.accountid === undefined ? ['deleted', r.id] : [r.accountid, r.name])),
        [
          [survivor, 'Renamed'],
          ['deleted', victim],
        ],
      );
    } finally {
      await client.emulator.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reports rows whose lookup a delete cleared, and leaves non-tracked reads alone', async () => {
    client = await startClient({ seed: 'none' });
    const account = await create(client, 'Parent');
    const contact = await client.request('POST', 'contacts', {
      body: { lastname: 'Child', 'parentcustomerid_account@odata.bind': `accounts(${account})` },
    });
    const contactId = idFromEntityId(contact);
    const start = await read(client, 'contacts?$select=lastname,_parentcustomerid_value', TRACK);
    assert.equal((await client.request('DELETE', `accounts(${account})`)).status, 204);
    const delta = await read(client, link(start, '@odata.deltaLink'));
    assert.deepEqual(
      delta.rows.map((r) => [r.contactid, r._parentcustomerid_value]),
      [[contactId, null]],
    );
    const plain = await client.request('GET', 'accounts?$select=name');
    assert.equal(plain.headers.get('preference-applied'), null);
    assert.equal((await jsonOf(plain))['@odata.deltaLink'], undefined);
  });
});

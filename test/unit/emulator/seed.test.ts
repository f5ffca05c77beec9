import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Database } from 'node-sqlite3-wasm';
import { builtinSchema, loadSnapshot } from '../../../src/emulator/schema/snapshot';
import type { Client } from './helpers';
import { startClient } from './helpers';
import { writeRealSnapshot } from './schema/fixtureSnapshot';

async function count(client: Client, set: string): Promise<number | string> {
  const response = await client.request('GET', `${set}/$count`);
  const text = (await response.text()).replace(/^\uFEFF/, '');
  return response.status === 200 ? Number(text) : `${response.status}`;
}

describe('emulator sample data (seed.ts)', function () {
  this.timeout(60_000);

  it('seeds the tables a snapshot of a few tables has (--tables account,contact), with lookups only to those', async () => {
    const folder = writeRealSnapshot(mkdtempSync(join(tmpdir(), 'dvw-seed-')), ['account', 'contact']);
    const client = await startClient({ schema: loadSnapshot(folder), seed: 'sample' });
    try {
      assert.deepEqual(
        [await count(client, 'accounts'), await count(client, 'contacts'), await count(client, 'opportunities')],
        [50, 150, '404'],
      );
      const response = await client.request('GET', 'contacts?$select=_parentcustomerid_value&$top=1');
      const [contact] = ((await response.json()) as { value: Record<string, unknown>[] }).value;
      assert.match(String(contact?._parentcustomerid_value), /^[0-9a-f-]{36}$/, 'contacts still belong to accounts');
    } finally {
      await client.emulator.close();
      rmSync(folder, { recursive: true, force: true });
    }
  });

  /** Every seeded filter's id and name, as a client reads them. */
  async function filters(client: Client): Promise<string[]> {
    const response = await client.request('GET', 'sdkmessagefilters?$select=name&$orderby=sdkmessagefilterid');
    const body = (await response.json()) as { value: { sdkmessagefilterid: string; name: string }[] };
    return body.value.map((f) => `${f.sdkmessagefilterid} ${f.name}`);
  }

  it('writes the sdkmessagefilters when they are first used, not at start: the same rows, whenever that is', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dvw-seed-messages-'));
    const dataPath = join(dir, 'org.db');
    const fresh = await startClient({ schema: builtinSchema() });
    const late = await startClient({ schema: builtinSchema(), dataPath });
    try {
      const created = await late.request('POST', 'accounts', { body: { name: 'Written before any filter is read' } });
      assert.equal(created.status, 204);
      await late.emulator.close();
      const db = new Database(dataPath);
      try {
        const names = db.all(
          `SELECT "name" FROM "sqlite_master" WHERE "name" IN ('t_sdkmessage', 't_sdkmessagefilter')`,
        );
        assert.deepEqual(names, [], 'a write on an emulator without steps leaves the message tables unwritten');
      } finally {
        db.close();
      }
      const reopened = await startClient({ schema: builtinSchema(), dataPath });
      try {
        const expected = await filters(fresh);
        assert.ok(expected.some((f) => f.endsWith(' Create account')));
        assert.deepEqual(await filters(reopened), expected);
      } finally {
        await reopened.emulator.close();
      }
    } finally {
      await fresh.emulator.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

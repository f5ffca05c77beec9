import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadSnapshot } from '../../../src/emulator/schema/snapshot';
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
});

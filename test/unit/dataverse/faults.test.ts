import assert from 'node:assert/strict';
import { parseFaults } from '../../../src/emulator/faults';
import type { ClientEvent } from '../../../src/dataverse/webApiClient';
import { startEmulatorClient } from './emulatorClient';

describe('dataverse/webApiClient against an emulator injecting faults', function () {
  this.timeout(60_000);

  it('N creates with client keys make exactly N records through 503s and resets before and after commit', async () => {
    const events: ClientEvent[] = [];
    const { emulator, client } = await startEmulatorClient(
      { seed: 'none', faults: parseFaults('503=10%,reset=10%,after-commit=50%,seed=20250115') },
      { onEvent: (event) => events.push(event) },
    );
    try {
      const n = 300;
      const names = Array.from({ length: n }, (_, i) => `Faulty ${String(i).padStart(4, '0')}`);
      const queue = [...names];
      const worker = async (): Promise<void> => {
        for (let name = queue.shift(); name !== undefined; name = queue.shift()) {
          await client.create('accounts', { name }, { primaryKey: 'accountid' });
        }
      };
      await Promise.all(Array.from({ length: 8 }, worker));
      const counts = emulator.access.faults.counts;
      assert.ok(counts.unavailable > 0, 'some 503s');
      assert.ok(counts.resetBeforeCommit > 0, 'some resets before commit');
      assert.ok(counts.resetAfterCommit > 0, 'some resets after commit');
      emulator.access.faults.configure({});
      const rows = await client.collectAll('accounts?$select=name', { maxPageSize: 5000 });
      const seen = rows.rows.map((row) => row.name);
      assert.equal(seen.length, n, 'exactly N records');
      assert.equal(new Set(seen).size, n, 'no duplicates by name');
      assert.deepEqual([...seen].sort(), names);
      assert.ok(events.some((event) => event.type === 'retry'));
    } finally {
      await emulator.close();
    }
  });
});

import * as assert from 'node:assert/strict';
import { WorkbenchError } from '../../../src/core/errors';
import type { EnvironmentConfig } from '../../../src/core/environments';
import { startEmulatorClient } from '../dataverse/emulatorClient';
import { clientFor } from '../dataverse/helpers';
import { CONFIRMED_WRITES_MS, createWriteGuard } from '../../../src/extension/writeGuard';

const base: EnvironmentConfig = { name: 'Contoso', url: 'https://contoso.crm.dynamics.com' };

describe('write guard of marked environments', () => {
  it('asks before a write to production, naming method and path, and a yes covers the next minute', async () => {
    const questions: string[] = [];
    let clock = 1_000;
    const guard = createWriteGuard({
      environment: () => ({ ...base, production: true }),
      confirm: (message) => {
        questions.push(message);
        return Promise.resolve(true);
      },
      now: () => clock,
    });
    await guard({ method: 'PATCH', path: '/api/data/v9.2/accounts(1)' });
    await guard({ method: 'POST', path: '/api/data/v9.2/$batch' });
    clock += CONFIRMED_WRITES_MS;
    await guard({ method: 'DELETE', path: '/api/data/v9.2/accounts(1)' });
    assert.deepEqual(questions, [
      'Contoso is a production environment. Send PATCH /api/data/v9.2/accounts(1)? (Writes there go without asking again for a minute.)',
      'Contoso is a production environment. Send DELETE /api/data/v9.2/accounts(1)? (Writes there go without asking again for a minute.)',
    ]);
  });

  it('a no stops the write; read-only refuses every write; unmarked environments are not asked', async () => {
    const declined = createWriteGuard({
      environment: () => ({ ...base, production: true }),
      confirm: () => Promise.resolve(false),
    });
    await assert.rejects(
      declined({ method: 'POST', path: '/x' }),
      (e: unknown) => e instanceof WorkbenchError && e.kind === 'cancelled',
    );
    const readOnly = createWriteGuard({
      environment: () => ({ ...base, readOnly: true }),
      confirm: () => assert.fail('not asked'),
    });
    await assert.rejects(
      readOnly({ method: 'POST', path: '/x' }),
      /Contoso is marked read-only: POST \/x was not sent/,
    );
    await createWriteGuard({ environment: () => base, confirm: () => assert.fail('not asked') })({
      method: 'POST',
      path: '/x',
    });
  });

  it("is called by the client before a write is sent, and a refusal leaves the emulator's data unchanged", async () => {
    const { emulator } = await startEmulatorClient();
    try {
      const seen: string[] = [];
      const client = clientFor(emulator.url, emulator.token, {
        beforeWrite: ({ method, path }) => {
          seen.push(`${method} ${path}`);
          return method === 'DELETE' ? Promise.reject(new WorkbenchError('cancelled', 'declined')) : Promise.resolve();
        },
      });
      const before = await client.count('accounts');
      const { id } = await client.create('accounts', { name: 'Guarded' });
      assert.ok(id !== undefined);
      await assert.rejects(client.delete('accounts', id), /declined/);
      assert.equal(await client.count('accounts'), before + 1);
      assert.deepEqual(seen, ['POST /api/data/v9.2/accounts', `DELETE /api/data/v9.2/accounts(${id})`]);
    } finally {
      await emulator.close();
    }
  });
});

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { startEmulator } from '../../../src/emulator/server';

describe('dvw emulator: a host other machines can reach requires authentication', function () {
  this.timeout(60_000);

  it('refuses --host 0.0.0.0 --no-auth with exit code 2 and says why', () => {
    const run = spawnSync(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', 'emulator', '--host', '0.0.0.0', '--no-auth', '--port', '0'],
      { encoding: 'utf8', timeout: 50_000 },
    );
    assert.equal(run.status, 2);
    assert.match(run.stderr, /refusing to listen on 0\.0\.0\.0 without authentication/);
    assert.equal(run.stdout, '', 'nothing listened');
  });

  it('startEmulator refuses the same, and still serves loopback without auth', async () => {
    await assert.rejects(startEmulator({ host: '0.0.0.0', noAuth: true, seed: 'none' }), /without authentication/);
    const local = await startEmulator({ host: '127.0.0.1', noAuth: true, seed: 'none' });
    try {
      assert.equal((await fetch(`${local.webApi}WhoAmI`)).status, 200);
    } finally {
      await local.close();
    }
  });
});

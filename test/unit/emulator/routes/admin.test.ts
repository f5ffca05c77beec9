import assert from 'node:assert/strict';
import { request } from 'node:http';
import type { RunningEmulator } from '../../../../src/emulator/server';
import { startEmulator } from '../../../../src/emulator/server';

/** A plain HTTP request with a chosen `Host` header (fetch does not let a caller set it). */
function withHost(url: string, method: string, host: string, body?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method, headers: { Host: host, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

describe('emulator admin endpoint (/_emulator/faults)', function () {
  this.timeout(20_000);
  let emulator: RunningEmulator;
  before(async () => {
    emulator = await startEmulator({ port: 0, seed: 'none' });
  });
  after(async () => {
    await emulator.close();
  });

  it('refuses a Host that does not name this machine, so a DNS-rebinding page cannot switch faults on', async () => {
    const admin = `${emulator.url}/_emulator/faults`;
    for (const host of ['attacker.example', `attacker.example:${new URL(emulator.url).port}`, '127.0.0.1.nip.io']) {
      const refused = await withHost(admin, 'POST', host, JSON.stringify({ unavailable: 1 }));
      assert.equal(refused.status, 403, host);
    }
    assert.deepEqual(emulator.access.faults.current, {}, 'nothing was switched on');
    const port = new URL(emulator.url).port;
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, 'localhost']) {
      assert.equal((await withHost(admin, 'GET', host)).status, 200, host);
    }
  });
});

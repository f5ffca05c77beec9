import assert from 'node:assert/strict';
import { startClient } from '../helpers';

describe('emulator answers: every 500 is logged with its request id and cause', function () {
  this.timeout(20_000);

  it('logs the cause under the request id the answer names, and the answer echoes no internals', async () => {
    const lines: string[] = [];
    // A clock that fails stands in for any internal fault: the relative-date functions read it.
    const client = await startClient({
      seed: 'none',
      now: () => {
        throw new RangeError('clock unavailable');
      },
      log: (line) => lines.push(line),
    });
    try {
      const response = await client.request(
        'GET',
        "accounts?$filter=Microsoft.Dynamics.CRM.Today(PropertyName='createdon')",
      );
      assert.equal(response.status, 500);
      const requestId = response.headers.get('x-ms-service-request-id') ?? '';
      const body = (await response.json()) as { error: { code: string; message: string } };
      assert.equal(body.error.code, '0x80040216');
      assert.ok(body.error.message.includes(requestId));
      assert.ok(!body.error.message.includes('clock unavailable'), 'internals stay out of the answer');
      assert.equal(lines.length, 1);
      assert.ok(lines[0]?.includes(requestId), 'the log names the request id');
      assert.match(lines[0] ?? '', /RangeError: clock unavailable/);
      // A client error is not an internal one: nothing logged.
      assert.equal((await client.request('GET', 'nosuchset')).status, 404);
      assert.equal(lines.length, 1);
    } finally {
      await client.emulator.close();
    }
  });
});

import assert from 'node:assert/strict';
import type { IdentityEndpoint } from '../../../../src/emulator/identity';
import { startIdentity } from '../../../../src/emulator/identity';
import { MAX_PENDING_DEVICE_CODES } from '../../../../src/emulator/identity/deviceCode';
import { call, json } from './identityClient';

describe('emulator identity endpoint: pending device-code sign-ins are bounded', function () {
  this.timeout(60_000);
  let identity: IdentityEndpoint;
  before(async () => {
    identity = await startIdentity({ audience: () => 'http://127.0.0.1:1', userId: 'u', tokenLifetimeMs: 60_000 });
  });
  after(async () => {
    await identity.close();
  });

  it('keeps at most MAX_PENDING_DEVICE_CODES waiting sign-ins, dropping the oldest; the newest still works', async () => {
    const start = async (): Promise<Record<string, unknown>> =>
      json(
        await call(identity.certificate, `${identity.authority}/oauth2/v2.0/devicecode`, {
          client_id: identity.clientId,
          scope: 'http://127.0.0.1:1/user_impersonation',
        }),
      );
    const first = await start();
    for (let i = 0; i < MAX_PENDING_DEVICE_CODES; i++) await start();
    const last = await start();
    assert.equal(identity.pendingUserCodes().length, MAX_PENDING_DEVICE_CODES);
    const poll = (started: Record<string, unknown>): Promise<Record<string, unknown>> =>
      call(identity.certificate, `${identity.authority}/oauth2/v2.0/token`, {
        grant_type: 'urn:ietf:params:oauth:grant-type:device_code',
        client_id: identity.clientId,
        device_code: String(started.device_code),
      }).then(json);
    assert.equal((await poll(first)).error, 'invalid_grant', 'the oldest sign-in was dropped');
    assert.equal((await poll(last)).error, 'authorization_pending');
    await call(identity.certificate, String(last.verification_uri), { user_code: String(last.user_code) });
    assert.equal(typeof (await poll(last)).access_token, 'string');
  });
});

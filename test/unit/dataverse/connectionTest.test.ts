import assert from 'node:assert/strict';
import { emulatorTokenProvider, MemoryTokenCacheStorage } from '../../../src/dataverse/auth';
import { checkConnection } from '../../../src/dataverse/connectionTest';
import { staticTokenProvider, WebApiClient } from '../../../src/dataverse/webApiClient';
import { WorkbenchError } from '../../../src/core/errors';
import type { RunningEmulator } from '../../../src/emulator/server';
import { startEmulator } from '../../../src/emulator/server';

// Against the emulator's identity endpoint, through MSAL's real client-credentials flow (Issue 14.4).
describe('checkConnection: a connection test that can fail', function () {
  this.timeout(60_000);
  let emulator: RunningEmulator;
  const signal = new AbortController().signal;

  before(async () => {
    emulator = await startEmulator({ port: 0, seed: 'none' });
  });
  after(async () => {
    await emulator.close();
  });

  it('refuses a wrong client secret even while MSAL holds a token the right one got, naming the sign-in', async () => {
    const cache = new MemoryTokenCacheStorage();
    const right = emulatorTokenProvider(emulator, { cacheStorage: cache });
    const first = await checkConnection(new WebApiClient({ url: emulator.url, tokenProvider: right }), right, signal);
    assert.ok(first.ok, 'the right secret signs in');
    assert.match(first.who.userId, /^[0-9a-f-]{36}$/);

    const wrong = emulatorTokenProvider(
      { ...emulator, clientSecret: `${emulator.clientSecret}-wrong` },
      {
        cacheStorage: cache,
      },
    );
    // What the old test did: the cached token answers, so a plain request succeeds with the wrong secret.
    assert.ok((await wrong.getToken(signal)).token.length > 0, 'MSAL answers from its cache');
    const second = await checkConnection(new WebApiClient({ url: emulator.url, tokenProvider: wrong }), wrong, signal);
    assert.equal(second.ok, false);
    assert.ok(!second.ok && second.part === 'signIn');
    assert.ok(second.error instanceof WorkbenchError);
    assert.equal(second.error.kind, 'auth');
    assert.match(second.error.message, /invalid_client/);
    assert.ok(!second.error.message.includes(emulator.clientSecret), 'the secret is not repeated');
  });

  it('names the Web API when the token is had but refused', async () => {
    const tokens = staticTokenProvider('not-a-token-the-emulator-issued');
    const result = await checkConnection(
      new WebApiClient({ url: emulator.url, tokenProvider: tokens }),
      tokens,
      signal,
    );
    assert.ok(!result.ok && result.part === 'webApi');
    assert.ok(result.error instanceof WorkbenchError);
    assert.equal(result.error.kind, 'auth');
    assert.equal(result.error.status, 401);
  });
});

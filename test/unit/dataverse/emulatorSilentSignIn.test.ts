import assert from 'node:assert/strict';
import { request } from 'node:https';
import { InteractionRequiredAuthError, LogLevel, PublicClientApplication } from '@azure/msal-node';
import type { AuthenticationResult, Configuration } from '@azure/msal-node';
import type { DeviceCodePrompt } from '../../../src/dataverse/auth';
import { DeviceCodeTokenProvider, HttpsNetworkClient, MemoryTokenCacheStorage } from '../../../src/dataverse/auth';
import type { RunningEmulator } from '../../../src/emulator/server';
import { startEmulator } from '../../../src/emulator/server';

const never = new AbortController().signal;

/** The user's part of a device-code sign-in: entering the code on the emulator's page. */
function enterCode(emulator: RunningEmulator, verificationUri: string, userCode: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      verificationUri,
      { method: 'POST', ca: emulator.certificate, headers: { 'Content-Type': 'application/x-www-form-urlencoded' } },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on('error', reject);
    req.end(new URLSearchParams({ user_code: userCode }).toString());
  });
}

/** MSAL configured for the emulator as docs/emulator.md describes: known authority, its certificate trusted. */
function msal(emulator: RunningEmulator): PublicClientApplication {
  const configuration: Configuration = {
    auth: {
      clientId: emulator.clientId,
      authority: emulator.authority,
      knownAuthorities: [new URL(emulator.authority).origin],
    },
    system: {
      networkClient: new HttpsNetworkClient({ ca: emulator.certificate }),
      loggerOptions: { logLevel: LogLevel.Error, piiLoggingEnabled: false, loggerCallback: () => undefined },
    },
  };
  return new PublicClientApplication(configuration);
}

async function whoAmI(emulator: RunningEmulator, accessToken: string): Promise<Response> {
  return fetch(`${emulator.webApi}WhoAmI`, { headers: { Authorization: `Bearer ${accessToken}` } });
}

describe('dataverse/auth: MSAL silent sign-in against the emulator (device code, then acquireTokenSilent)', function () {
  this.timeout(60_000);
  let emulator: RunningEmulator | undefined;
  afterEach(async () => {
    await emulator?.close();
    emulator = undefined;
  });

  it('caches the signed-in account, then serves it silently from the cache and by refresh token', async () => {
    const e = (emulator = await startEmulator({ port: 0, seed: 'none' }));
    const scopes = [`${e.url}/user_impersonation`];
    const app = msal(e);
    const signedIn = await app.acquireTokenByDeviceCode({
      scopes,
      deviceCodeCallback: (response) => {
        void enterCode(e, response.verificationUri, response.userCode);
      },
    });
    assert.ok(signedIn !== null);
    assert.equal((await whoAmI(e, signedIn.accessToken)).status, 200);

    // The account MSAL cached: from client_info (uid.utid) and the ID token's claims.
    const accounts = await app.getAllAccounts();
    assert.equal(accounts.length, 1);
    const [account] = accounts;
    assert.ok(account !== undefined);
    assert.equal(account.homeAccountId, `${e.userId}.${e.tenantId}`);
    assert.equal(account.localAccountId, e.userId);
    assert.equal(account.tenantId, e.tenantId);
    assert.equal(account.environment, new URL(e.authority).host);
    assert.equal(account.username, 'admin@emulator.local');
    assert.equal(account.idTokenClaims?.aud, e.clientId);
    assert.equal(account.idTokenClaims?.iss, `${e.authority}/v2.0`);
    assert.equal(account.idTokenClaims?.oid, e.userId);

    // Silent, from the cache: the token of the sign-in.
    const cached = await app.acquireTokenSilent({ account, scopes });
    assert.equal(cached.fromCache, true);
    assert.equal(cached.accessToken, signedIn.accessToken);

    // Silent renewal: MSAL redeems its refresh token at the emulator's token endpoint.
    const renewed: AuthenticationResult = await app.acquireTokenSilent({ account, scopes, forceRefresh: true });
    assert.equal(renewed.fromCache, false);
    assert.notEqual(renewed.accessToken, signedIn.accessToken);
    assert.equal(renewed.account?.homeAccountId, account.homeAccountId);
    const me = (await (await whoAmI(e, renewed.accessToken)).json()) as { UserId?: string };
    assert.equal(me.UserId, e.userId);

    // A later process with the persisted cache: the account is there and renews without a sign-in.
    const later = msal(e);
    later.getTokenCache().deserialize(app.getTokenCache().serialize());
    const [restored] = await later.getAllAccounts();
    assert.ok(restored !== undefined);
    const again = await later.acquireTokenSilent({ account: restored, scopes, forceRefresh: true });
    assert.equal((await whoAmI(e, again.accessToken)).status, 200);

    // The ID token names the app as audience: it is no access token for the Web API.
    assert.ok(signedIn.idToken !== '');
    assert.equal((await whoAmI(e, signedIn.idToken)).status, 401);
  });

  it('a refresh token the emulator did not issue (another run, another tenant) needs interaction again', async () => {
    const e = (emulator = await startEmulator({ port: 0, seed: 'none' }));
    await assert.rejects(
      msal(e).acquireTokenByRefreshToken({
        refreshToken: '1.not-a-refresh-token-of-this-run',
        scopes: [`${e.url}/user_impersonation`],
      }),
      (error: unknown) => {
        assert.ok(error instanceof InteractionRequiredAuthError, String(error));
        assert.equal(error.errorCode, 'invalid_grant');
        assert.equal(error.subError, 'bad_token');
        assert.match(error.errorMessage, /AADSTS70000/);
        return true;
      },
    );
  });

  it('the project’s DeviceCodeTokenProvider signs in once and a second provider on the same cache renews silently', async () => {
    const e = (emulator = await startEmulator({ port: 0, seed: 'none' }));
    const cacheStorage = new MemoryTokenCacheStorage();
    const prompts: DeviceCodePrompt[] = [];
    const options = {
      environmentUrl: e.url,
      clientId: e.clientId,
      authority: e.authority,
      trustedCertificate: e.certificate,
      cacheStorage,
      onDeviceCode: (prompt: DeviceCodePrompt) => {
        prompts.push(prompt);
        void enterCode(e, prompt.verificationUri, prompt.userCode);
      },
    };
    const first = new DeviceCodeTokenProvider(options);
    const signedIn = await first.getToken(never);
    assert.equal(first.signIns, 1);
    const second = new DeviceCodeTokenProvider(options);
    const renewed = await second.getToken(never, { forceRefresh: true });
    assert.equal(second.signIns, 0, 'no second sign-in: the cached account renews silently');
    assert.notEqual(renewed.token, signedIn.token);
    assert.equal((await whoAmI(e, renewed.token)).status, 200);
    assert.equal(prompts.length, 1);
  });
});

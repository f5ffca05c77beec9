import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, statSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { ConfidentialClientApplication } from '@azure/msal-node';
import { WorkbenchError } from '../../../src/core/errors';
import {
  ClientSecretTokenProvider,
  emulatorTokenProvider,
  FileTokenCacheStorage,
  HttpsNetworkClient,
  MemoryTokenCacheStorage,
} from '../../../src/dataverse/auth';
import { RequestLimiter } from '../../../src/dataverse/limiter';
import type { ClientEvent } from '../../../src/dataverse/webApiClient';
import { WebApiClient } from '../../../src/dataverse/webApiClient';
import { startEmulator } from '../../../src/emulator/server';
import type { EmulatorOptions, RunningEmulator } from '../../../src/emulator/server';
import { FakeClock, rejection } from './helpers';

const never = new AbortController().signal;

function claimsOf(token: string): Record<string, unknown> {
  const payload = token.split('.')[1] ?? '';
  return JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}

/** Waits until the token's `exp` (whole seconds) has passed on this machine's clock. */
async function outlive(token: string): Promise<void> {
  const exp = claimsOf(token).exp;
  assert.equal(typeof exp, 'number');
  await sleep((exp as number) * 1000 - Date.now() + 50);
}

function whoAmI(emulator: RunningEmulator, token: string): Promise<Response> {
  return fetch(`${emulator.webApi}WhoAmI`, { headers: { Authorization: `Bearer ${token}` } });
}

describe('dataverse/auth: MSAL client credentials against the emulator identity endpoint', function () {
  this.timeout(30_000);
  let emulator: RunningEmulator | undefined;
  const start = async (options: EmulatorOptions = {}): Promise<RunningEmulator> => {
    emulator = await startEmulator({ port: 0, seed: 'none', ...options });
    return emulator;
  };
  afterEach(async () => {
    await emulator?.close();
    emulator = undefined;
  });

  it('plain MSAL (as documented) gets a token the Web API accepts', async () => {
    const e = await start();
    const app = new ConfidentialClientApplication({
      auth: {
        clientId: e.clientId,
        clientSecret: e.clientSecret,
        authority: e.authority,
        knownAuthorities: [new URL(e.authority).origin],
      },
      system: { networkClient: new HttpsNetworkClient({ ca: readFileSync(e.certificatePath, 'utf8') }) },
    });
    const result = await app.acquireTokenByClientCredential({ scopes: [`${e.url}/.default`] });
    assert.ok(result !== null);
    const claims = claimsOf(result.accessToken);
    assert.equal(claims.aud, e.url);
    assert.equal(claims.tid, e.tenantId);
    assert.equal(claims.oid, e.userId);
    assert.equal(claims.azp, e.clientId);
    assert.equal(claims.iss, `${e.authority}/v2.0`);
    assert.equal(claims.ver, '2.0');
    const response = await whoAmI(e, result.accessToken);
    assert.equal(response.status, 200);
    assert.equal(((await response.json()) as { UserId?: unknown }).UserId, e.userId);
    // MSAL's cache answers the second call with the same token.
    const again = await app.acquireTokenByClientCredential({ scopes: [`${e.url}/.default`] });
    assert.equal(again?.accessToken, result.accessToken);
  });

  it('MSAL without the certificate refuses the self-signed endpoint', async () => {
    const e = await start();
    const provider = new ClientSecretTokenProvider({
      authority: e.authority,
      clientId: e.clientId,
      clientSecret: e.clientSecret,
      environmentUrl: e.url,
      knownAuthorities: [new URL(e.authority).origin],
    });
    const error = await rejection(provider.getToken(never));
    assert.equal(error.kind, 'auth');
  });

  it('the Web API rejects the token once it has expired, with a bearer challenge', async () => {
    const e = await start({ tokenLifetimeMs: 2000 });
    const provider = emulatorTokenProvider(e);
    const { token, expiresOn } = await provider.getToken(never);
    assert.ok(expiresOn !== undefined && expiresOn.getTime() <= (claimsOf(token).exp as number) * 1000);
    assert.equal((await whoAmI(e, token)).status, 200);
    await outlive(token);
    const response = await whoAmI(e, token);
    assert.equal(response.status, 401);
    const challenge = response.headers.get('WWW-Authenticate') ?? '';
    assert.equal(challenge, `Bearer authorization_uri="${e.authority}/oauth2/authorize", resource_id="${e.url}/"`);
  });

  it('renews a token before it expires, so no request of a long run fails', async () => {
    const e = await start({ tokenLifetimeMs: 2000 });
    const provider = emulatorTokenProvider(e);
    const events: ClientEvent[] = [];
    const client = new WebApiClient({
      url: e.url,
      tokenProvider: provider,
      limiter: new RequestLimiter(),
      retry: { clock: new FakeClock() },
      onEvent: (event) => events.push(event),
    });
    const tokens = new Set<string>();
    const first = await provider.getToken(never);
    tokens.add(first.token);
    // Keep working until the first token has certainly expired, then a little longer.
    const until = (claimsOf(first.token).exp as number) * 1000 + 1500;
    let requests = 0;
    while (Date.now() < until) {
      const who = await client.whoAmI();
      assert.equal(who.userId, e.userId);
      tokens.add((await provider.getToken(never)).token);
      requests += 1;
      await sleep(200);
    }
    assert.ok(requests > 5);
    assert.ok(tokens.size >= 2, 'a second token was obtained');
    assert.deepEqual(
      events.filter((event) => event.type === 'refreshToken'),
      [],
      'renewed ahead of expiry, not after a 401',
    );
  });

  it('a token that lapses mid-run (clock skew) is refreshed after one 401, invisible to the caller', async () => {
    const e = await start({ tokenLifetimeMs: 1000 });
    // The provider's clock runs 10 s behind: it believes its token valid long after the service does not.
    const lagging = { now: () => Date.now() - 10_000, sleep: (ms: number) => sleep(ms) };
    const provider = emulatorTokenProvider(e, { clock: lagging, refreshMarginMs: 0 });
    const events: ClientEvent[] = [];
    const client = new WebApiClient({
      url: e.url,
      tokenProvider: provider,
      limiter: new RequestLimiter(),
      retry: { clock: new FakeClock() },
      onEvent: (event) => events.push(event),
    });
    const { token } = await provider.getToken(never);
    assert.equal((await client.whoAmI()).userId, e.userId);
    await outlive(token);
    assert.equal((await provider.getToken(never)).token, token, 'the provider still hands out the lapsed token');
    assert.equal((await client.whoAmI()).userId, e.userId);
    assert.equal(events.filter((event) => event.type === 'refreshToken').length, 1);
    assert.notEqual((await provider.getToken(never)).token, token);
  });

  it('a wrong secret is an auth error that never shows the secret', async () => {
    const e = await start();
    const wrongSecret = `${e.clientSecret.slice(0, -4)}WRNG`;
    const provider = new ClientSecretTokenProvider({
      authority: e.authority,
      clientId: e.clientId,
      clientSecret: wrongSecret,
      environmentUrl: e.url,
      trustedCertificate: e.certificate,
    });
    const direct = await rejection(provider.getToken(never));
    assert.ok(direct instanceof WorkbenchError);
    assert.equal(direct.kind, 'auth');
    assert.equal(direct.code, 'invalid_client');
    assert.match(direct.message, /AADSTS7000215/);
    const client = new WebApiClient({
      url: e.url,
      tokenProvider: provider,
      limiter: new RequestLimiter(),
      retry: { clock: new FakeClock() },
    });
    const throughClient = await rejection(client.whoAmI());
    assert.equal(throughClient.kind, 'auth');
    for (const error of [direct, throughClient]) {
      const everything = `${error.message}\n${error.stack ?? ''}\n${inspect(error, { depth: 10 })}\n${JSON.stringify(error)}`;
      assert.ok(!everything.includes(wrongSecret), 'the wrong secret is not shown');
      assert.ok(!everything.includes(e.clientSecret), 'the right secret is not shown');
    }
  });

  it('persists MSAL’s cache through the storage, so a second provider reuses the token', async () => {
    const e = await start();
    const storage = new MemoryTokenCacheStorage();
    const first = await emulatorTokenProvider(e, { cacheStorage: storage }).getToken(never);
    assert.ok(storage.writes >= 1);
    const serialized = (await storage.read()) ?? '';
    assert.ok(!serialized.includes(e.clientSecret), 'the cache holds tokens, not the client secret');
    const second = await emulatorTokenProvider(e, { cacheStorage: storage }).getToken(never);
    assert.equal(second.token, first.token);
  });
});

describe('dataverse/auth: FileTokenCacheStorage', () => {
  it('writes a file only its owner can read, and tightens a loosened one', async function () {
    if (process.platform === 'win32') this.skip();
    const directory = mkdtempSync(join(tmpdir(), 'dvw-cache-'));
    const path = join(directory, 'nested', 'msal-cache.json');
    const storage = new FileTokenCacheStorage(path);
    assert.equal(await storage.read(), undefined);
    await storage.write('{"AccessToken":{}}');
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.equal(statSync(join(directory, 'nested')).mode & 0o077, 0);
    assert.equal(await storage.read(), '{"AccessToken":{}}');
    chmodSync(path, 0o644);
    await storage.read();
    assert.equal(statSync(path).mode & 0o777, 0o600);
    await storage.write('second');
    assert.equal(await storage.read(), 'second');
    assert.equal(statSync(path).mode & 0o777, 0o600);
  });
});

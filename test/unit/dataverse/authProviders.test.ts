import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DeviceCodePrompt } from '../../../src/dataverse/auth';
import {
  AzureCliTokenProvider,
  DeviceCodeTokenProvider,
  InteractiveTokenProvider,
  MemoryTokenCacheStorage,
  parseAzureCliToken,
} from '../../../src/dataverse/auth';
import { RequestLimiter } from '../../../src/dataverse/limiter';
import { WebApiClient } from '../../../src/dataverse/webApiClient';
import type { RunningEmulator } from '../../../src/emulator/server';
import { startEmulator } from '../../../src/emulator/server';
import { rejection } from './helpers';

const never = new AbortController().signal;

/** The user's part of a device-code sign-in: entering the code on the emulator's page. */
function approve(emulator: RunningEmulator, prompt: DeviceCodePrompt): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      prompt.verificationUri,
      {
        method: 'POST',
        ca: emulator.certificate,
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on('error', reject);
    req.end(new URLSearchParams({ user_code: prompt.userCode }).toString());
  });
}

describe('dataverse/auth: device code through MSAL against the emulator', function () {
  this.timeout(60_000);
  let emulator: RunningEmulator | undefined;
  afterEach(async () => {
    await emulator?.close();
    emulator = undefined;
  });

  it('shows the message through the callback, and the token works on the Web API', async () => {
    const e = (emulator = await startEmulator({ port: 0, seed: 'none' }));
    const prompts: DeviceCodePrompt[] = [];
    const provider = new DeviceCodeTokenProvider({
      environmentUrl: e.url,
      clientId: e.clientId,
      authority: e.authority,
      trustedCertificate: e.certificate,
      cacheStorage: new MemoryTokenCacheStorage(),
      onDeviceCode: (prompt) => {
        prompts.push(prompt);
        void approve(e, prompt);
      },
    });
    const client = new WebApiClient({ url: e.url, tokenProvider: provider, limiter: new RequestLimiter() });
    assert.equal((await client.whoAmI()).userId, e.userId);
    assert.equal(prompts.length, 1);
    assert.match(prompts[0]?.message ?? '', /enter the code [A-Z0-9]{8}/);
    assert.equal(prompts[0]?.verificationUri, `${new URL(e.authority).origin}/common/oauth2/deviceauth`);
    // Held until near expiry: a second request signs in no second time.
    await client.whoAmI();
    assert.equal(provider.signIns, 1);
  });

  it('a code nobody enters ends in an auth error after the timeout', async () => {
    const e = (emulator = await startEmulator({ port: 0, seed: 'none' }));
    const provider = new DeviceCodeTokenProvider({
      environmentUrl: e.url,
      clientId: e.clientId,
      authority: e.authority,
      trustedCertificate: e.certificate,
      timeoutSeconds: 2,
      onDeviceCode: () => undefined,
    });
    const error = await rejection(provider.getToken(never));
    assert.equal(error.kind, 'auth');
  });
});

describe('dataverse/auth: interactive browser sign-in (MSAL, PKCE on a loopback redirect)', () => {
  it('opens an authorize URL with an S256 code challenge and a loopback redirect, and reports a refusal', async () => {
    // The emulator has no authorize endpoint: the browser's part is played by answering the redirect directly.
    let opened: URL | undefined;
    const provider = new InteractiveTokenProvider({
      environmentUrl: 'https://contoso.crm.dynamics.com',
      tenantId: 'contoso.onmicrosoft.com',
      openBrowser: async (url) => {
        opened = new URL(url);
        // MSAL asks for form_post: the identity provider's answer arrives as a form posted to the loopback.
        const answer = await fetch(opened.searchParams.get('redirect_uri') ?? '', {
          method: 'POST',
          body: new URLSearchParams({
            error: 'access_denied',
            error_description: 'AADSTS65004: User declined to consent.',
            state: opened.searchParams.get('state') ?? '',
          }),
        });
        await answer.text();
      },
    });
    const error = await rejection(provider.getToken(never));
    assert.ok(opened !== undefined);
    assert.equal(opened.origin, 'https://login.microsoftonline.com');
    assert.equal(opened.pathname, '/contoso.onmicrosoft.com/oauth2/v2.0/authorize');
    assert.equal(opened.searchParams.get('response_type'), 'code');
    assert.equal(opened.searchParams.get('response_mode'), 'form_post');
    assert.equal(opened.searchParams.get('code_challenge_method'), 'S256');
    assert.match(opened.searchParams.get('code_challenge') ?? '', /^[A-Za-z0-9_-]{43}$/);
    assert.match(opened.searchParams.get('redirect_uri') ?? '', /^http:\/\/localhost:\d+\/?$/);
    assert.match(opened.searchParams.get('scope') ?? '', /https:\/\/contoso\.crm\.dynamics\.com\/user_impersonation/);
    assert.equal(error.kind, 'auth');
    assert.match(error.message, /access_denied/);
  });
});

describe('dataverse/auth: Azure CLI tokens (a fake az on PATH)', () => {
  let directory: string;
  beforeEach(() => {
    directory = mkdtempSync(join(tmpdir(), 'dvw-az-'));
  });
  afterEach(() => rmSync(directory, { recursive: true, force: true }));

  /** An `az` that records its arguments and prints `output` (or fails with `stderr`). */
  function fakeAz(output: string, exitCode = 0, stderr = ''): string {
    const script = join(directory, 'az');
    writeFileSync(
      script,
      [
        '#!/bin/sh',
        `echo "$@" >> "${join(directory, 'calls')}"`,
        `printf '%s' '${output.replace(/'/g, "'\\''")}'`,
        `printf '%s\\n' '${stderr}' >&2`,
        `exit ${exitCode}`,
      ].join('\n'),
    );
    chmodSync(script, 0o755);
    return directory;
  }
  const calls = (): string[] => readFileSync(join(directory, 'calls'), 'utf8').trim().split('\n');

  it('asks az for a token of the environment, holds it, and asks again only when forced', async function () {
    if (process.platform === 'win32') this.skip();
    const expires = Math.floor(Date.now() / 1000) + 3600;
    const path = fakeAz(
      JSON.stringify({ accessToken: 'eyJ0eXAiOiJKV1Qi.fake.token', expires_on: expires, tokenType: 'Bearer' }),
    );
    const provider = new AzureCliTokenProvider({
      environmentUrl: 'https://contoso.crm.dynamics.com/main.aspx',
      tenantId: 'contoso.onmicrosoft.com',
      path,
    });
    const token = await provider.getToken(never);
    assert.equal(token.token, 'eyJ0eXAiOiJKV1Qi.fake.token');
    assert.equal(token.expiresOn?.getTime(), expires * 1000);
    await provider.getToken(never);
    assert.deepEqual(calls(), [
      'account get-access-token --resource https://contoso.crm.dynamics.com --output json --tenant contoso.onmicrosoft.com',
    ]);
    await provider.getToken(never, { forceRefresh: true });
    assert.equal(calls().length, 2);
  });

  it("reports az's own error line when it fails, and answers without az on PATH", async function () {
    if (process.platform === 'win32') this.skip();
    const path = fakeAz('', 1, 'ERROR: Please run az login to setup account.');
    const failing = new AzureCliTokenProvider({ environmentUrl: 'https://contoso.crm.dynamics.com', path });
    const error = await rejection(failing.getToken(never));
    assert.equal(error.kind, 'auth');
    assert.match(error.message, /Please run az login/);
    const missing = new AzureCliTokenProvider({
      environmentUrl: 'https://contoso.crm.dynamics.com',
      path: join(directory, 'none'),
    });
    assert.match((await rejection(missing.getToken(never))).message, /not on PATH/);
  });

  it('validates the JSON az prints', () => {
    assert.throws(() => parseAzureCliToken('Traceback'), /not answer with JSON/);
    assert.throws(() => parseAzureCliToken('[]'), /other than a token/);
    assert.throws(() => parseAzureCliToken('{"accessToken":"a b","expires_on":1}'), /no usable access token/);
    assert.throws(() => parseAzureCliToken('{"accessToken":"abcdefghijklmnopqrstuvwxyz"}'), /expires/);
    const old = parseAzureCliToken(
      '{"accessToken":"abcdefghijklmnopqrstuvwxyz","expiresOn":"2030-01-02 03:04:05.000000"}',
    );
    assert.equal(old.expiresOn?.getTime(), new Date(2030, 0, 2, 3, 4, 5).getTime());
  });
});

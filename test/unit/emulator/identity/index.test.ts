import assert from 'node:assert/strict';
import { createPublicKey, verify } from 'node:crypto';
import { startIdentity } from '../../../../src/emulator/identity';
import { startEmulator } from '../../../../src/emulator/server';
import type { RunningEmulator } from '../../../../src/emulator/server';
import type { Answer } from './identityClient';
import { call, json } from './identityClient';

describe('emulator identity endpoint and bearer tokens', function () {
  this.timeout(20_000);
  let e: RunningEmulator;
  before(async () => {
    e = await startEmulator({ port: 0, seed: 'none' });
  });
  after(async () => {
    await e.close();
  });
  const token = (form: Record<string, string>): Promise<Answer> =>
    call(e.certificate, `${e.authority}/oauth2/v2.0/token`, form);
  const webApi = (authorization?: string): Promise<Response> =>
    fetch(`${e.webApi}WhoAmI`, { headers: authorization === undefined ? {} : { Authorization: authorization } });

  it('serves OpenID configuration, instance discovery and a JWKS that verifies issued tokens', async () => {
    const config = json(await call(e.certificate, `${e.authority}/v2.0/.well-known/openid-configuration`));
    assert.equal(config.issuer, `${e.authority}/v2.0`);
    assert.equal(config.token_endpoint, `${e.authority}/oauth2/v2.0/token`);
    const origin = new URL(e.authority).origin;
    const discovery = json(
      await call(e.certificate, `${origin}/common/discovery/instance?api-version=1.1&authorization_endpoint=x`),
    );
    assert.equal(discovery.tenant_discovery_endpoint, `${origin}/common/v2.0/.well-known/openid-configuration`);
    const common = json(await call(e.certificate, `${origin}/common/v2.0/.well-known/openid-configuration`));
    assert.equal(common.issuer, `${origin}/{tenantid}/v2.0`);
    const keys = json(await call(e.certificate, String(config.jwks_uri))).keys as Record<string, unknown>[];
    const [head = '', payload = '', signature = ''] = e.token.split('.');
    const header = JSON.parse(Buffer.from(head, 'base64url').toString()) as { kid?: unknown; alg?: unknown };
    assert.equal(header.alg, 'RS256');
    const jwk = keys.find((k) => k.kid === header.kid);
    assert.ok(jwk !== undefined);
    const key = createPublicKey({ key: { kty: 'RSA', n: String(jwk.n), e: String(jwk.e) }, format: 'jwk' });
    assert.ok(verify('sha256', Buffer.from(`${head}.${payload}`), key, Buffer.from(signature, 'base64url')));
  });

  it('answers token errors as Entra does, without echoing the secret', async () => {
    const scope = `${e.url}/.default`;
    const wrong = await token({
      grant_type: 'client_credentials',
      client_id: e.clientId,
      client_secret: 'nope-secret',
      scope,
    });
    assert.equal(wrong.status, 401);
    const body = json(wrong);
    assert.equal(body.error, 'invalid_client');
    assert.match(String(body.error_description), /^AADSTS7000215: Invalid client secret provided\./);
    assert.deepEqual(body.error_codes, [7000215]);
    assert.ok(!wrong.body.includes('nope-secret'));
    const unknown = json(
      await token({ grant_type: 'client_credentials', client_id: 'x', client_secret: e.clientSecret, scope }),
    );
    assert.deepEqual([unknown.error, unknown.error_codes], ['unauthorized_client', [700016]]);
    const badScope = json(
      await token({
        grant_type: 'client_credentials',
        client_id: e.clientId,
        client_secret: e.clientSecret,
        scope: e.url,
      }),
    );
    assert.deepEqual(badScope.error_codes, [1002012]);
    const otherResource = json(
      await token({
        grant_type: 'client_credentials',
        client_id: e.clientId,
        client_secret: e.clientSecret,
        scope: 'https://contoso.crm.dynamics.com/.default',
      }),
    );
    assert.deepEqual(otherResource.error_codes, [500011]);
    const tenant = json(
      await call(e.certificate, `${new URL(e.authority).origin}/not-a-tenant/v2.0/.well-known/openid-configuration`),
    );
    assert.deepEqual(tenant.error_codes, [90002]);
    const grant = json(await token({ grant_type: 'password', client_id: e.clientId }));
    assert.equal(grant.error, 'unsupported_grant_type');
  });

  it('issues tokens for <url>/.default and <url>//.default that the Web API accepts', async () => {
    for (const scope of [`${e.url}/.default`, `${e.url}//.default`]) {
      const answer = json(
        await token({ grant_type: 'client_credentials', client_id: e.clientId, client_secret: e.clientSecret, scope }),
      );
      assert.equal(answer.token_type, 'Bearer');
      assert.equal(answer.expires_in, 3600);
      assert.equal((await webApi(`Bearer ${String(answer.access_token)}`)).status, 200);
    }
  });

  it('answers 401 with a bearer challenge for missing, malformed, tampered and foreign tokens', async () => {
    const other = await startEmulator({ port: 0, seed: 'none' });
    try {
      const [head, payload, signature] = e.token.split('.') as [string, string, string];
      const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
      const tampered = `${head}.${Buffer.from(JSON.stringify({ ...claims, oid: 'someone-else' })).toString('base64url')}.${signature}`;
      const unsigned = `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${payload}.`;
      for (const authorization of [
        undefined,
        'Bearer',
        'Bearer abc',
        `Bearer ${tampered}`,
        `Bearer ${unsigned}`,
        `Bearer ${other.token}`,
        `Basic ${e.token}`,
      ]) {
        const response = await webApi(authorization);
        assert.equal(response.status, 401, String(authorization).slice(0, 20));
        assert.equal(
          response.headers.get('WWW-Authenticate'),
          `Bearer authorization_uri="${e.authority}/oauth2/authorize", resource_id="${e.url}/"`,
        );
      }
      assert.equal((await webApi(`Bearer ${e.token}`)).status, 200);
    } finally {
      await other.close();
    }
  });

  it('rejects a token for another audience (same signing key)', async () => {
    let audience = 'http://127.0.0.1:1';
    const identity = await startIdentity({ audience: () => audience, userId: 'u', tokenLifetimeMs: 60_000 });
    try {
      const issued = identity.issueToken();
      assert.deepEqual(identity.check(`Bearer ${issued}`), { ok: true, subject: 'u' });
      audience = 'http://127.0.0.1:2';
      assert.deepEqual(identity.check(`Bearer ${issued}`), { ok: false, reason: 'audience' });
    } finally {
      await identity.close();
    }
  });

  it('keeps checking expiry and tampering once a token has been verified (the verified-token cache)', async () => {
    let clock = 1_700_000_000_000;
    const identity = await startIdentity({
      audience: () => 'http://127.0.0.1:1',
      userId: 'u',
      tokenLifetimeMs: 60_000,
      now: () => clock,
    });
    try {
      const issued = identity.issueToken();
      for (let i = 0; i < 3; i++) assert.deepEqual(identity.check(`Bearer ${issued}`), { ok: true, subject: 'u' });
      const [head, payload, signature] = issued.split('.') as [string, string, string];
      const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
      const tampered = `${head}.${Buffer.from(JSON.stringify({ ...claims, oid: 'x' })).toString('base64url')}.${signature}`;
      assert.deepEqual(identity.check(`Bearer ${tampered}`), { ok: false, reason: 'signature' });
      clock += 61_000;
      assert.deepEqual(identity.check(`Bearer ${issued}`), { ok: false, reason: 'expired' });
      assert.deepEqual(identity.check(`Bearer ${issued}`), { ok: false, reason: 'expired' });
      // Many distinct live tokens: the cache is bounded and every one of them still checks out.
      const many = Array.from({ length: 300 }, () => identity.issueToken());
      for (const t of [...many, ...many]) assert.deepEqual(identity.check(`Bearer ${t}`), { ok: true, subject: 'u' });
    } finally {
      await identity.close();
    }
  });

  it('runs the device code flow: pending until the user enters the code, then a token', async () => {
    const scope = `${e.url}/user_impersonation`;
    const started = json(
      await call(e.certificate, `${e.authority}/oauth2/v2.0/devicecode`, { client_id: e.clientId, scope }),
    );
    const poll = {
      grant_type: 'urn:ietf:params:oauth:grant-type:device_code',
      client_id: e.clientId,
      device_code: String(started.device_code),
    };
    assert.equal(json(await token(poll)).error, 'authorization_pending');
    const wrongCode = await call(e.certificate, String(started.verification_uri), { user_code: 'WRONG123' });
    assert.equal(wrongCode.status, 400);
    const approved = await call(e.certificate, String(started.verification_uri), {
      user_code: String(started.user_code),
    });
    assert.equal(approved.status, 200);
    const issued = json(await token(poll));
    assert.equal((await webApi(`Bearer ${String(issued.access_token)}`)).status, 200);
    assert.equal(json(await token(poll)).error, 'invalid_grant', 'a device code is redeemed once');
  });

  it('answers only requests that name this machine in Host (no DNS rebinding to the token endpoint)', async () => {
    const form = {
      grant_type: 'client_credentials',
      client_id: e.clientId,
      client_secret: e.clientSecret,
      scope: `${e.url}/.default`,
    };
    const url = `${e.authority}/oauth2/v2.0/token`;
    for (const host of ['attacker.example', 'attacker.example:443', '127.0.0.1.attacker.example']) {
      const refused = await call(e.certificate, url, form, { Host: host });
      assert.equal(refused.status, 400, host);
      assert.equal(json(refused).error, 'invalid_request');
      assert.equal(json(refused).access_token, undefined);
    }
    const port = new URL(e.authority).port;
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`]) {
      assert.equal((await call(e.certificate, url, form, { Host: host })).status, 200, host);
    }
  });

  it('answers a user sign-in with an ID token, client_info and a refresh token, as Entra does for MSAL', async () => {
    const resource = `${e.url}/user_impersonation`;
    /** A device-code sign-in approved on the page; `scope` and `client_info` as the caller sends them. */
    const signIn = async (scope: string, clientInfo: boolean): Promise<Record<string, unknown>> => {
      const started = json(
        await call(e.certificate, `${e.authority}/oauth2/v2.0/devicecode`, { client_id: e.clientId, scope }),
      );
      await call(e.certificate, String(started.verification_uri), { user_code: String(started.user_code) });
      return json(
        await token({
          grant_type: 'urn:ietf:params:oauth:grant-type:device_code',
          client_id: e.clientId,
          device_code: String(started.device_code),
          scope,
          ...(clientInfo ? { client_info: '1' } : {}),
        }),
      );
    };
    const full = await signIn(`${resource} openid profile offline_access`, true);
    assert.equal(full.scope, resource);

    // The ID token: RS256 with the key of the JWKS, for the client (not the Web API), naming the user.
    const config = json(await call(e.certificate, `${e.authority}/v2.0/.well-known/openid-configuration`));
    const keys = json(await call(e.certificate, String(config.jwks_uri))).keys as Record<string, unknown>[];
    const [head = '', payload = '', signature = ''] = String(full.id_token).split('.');
    const header = JSON.parse(Buffer.from(head, 'base64url').toString()) as Record<string, unknown>;
    const jwk = keys.find((k) => k.kid === header.kid);
    assert.ok(jwk !== undefined && header.alg === 'RS256');
    const key = createPublicKey({ key: { kty: 'RSA', n: String(jwk.n), e: String(jwk.e) }, format: 'jwk' });
    assert.ok(verify('sha256', Buffer.from(`${head}.${payload}`), key, Buffer.from(signature, 'base64url')));
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
    assert.equal(claims.aud, e.clientId);
    assert.equal(claims.iss, `${e.authority}/v2.0`);
    assert.equal(claims.tid, e.tenantId);
    assert.equal(claims.oid, e.userId);
    assert.equal(claims.preferred_username, 'admin@emulator.local');
    assert.equal(claims.ver, '2.0');
    assert.equal(typeof claims.sub, 'string');
    assert.notEqual(claims.sub, e.userId, 'sub is pairwise (per app), oid is the user');
    assert.ok(Number(claims.exp) > Number(claims.iat));
    assert.equal((await webApi(`Bearer ${String(full.id_token)}`)).status, 401, 'an ID token is no access token');

    // client_info: base64url JSON of the user and home tenant.
    assert.deepEqual(JSON.parse(Buffer.from(String(full.client_info), 'base64url').toString()), {
      uid: e.userId,
      utid: e.tenantId,
    });

    // Without openid, offline_access and client_info=1, none of the three (Entra's rule).
    const bare = await signIn(resource, false);
    assert.ok(typeof bare.access_token === 'string');
    assert.deepEqual([bare.id_token, bare.client_info, bare.refresh_token], [undefined, undefined, undefined]);
    const app = json(
      await token({
        grant_type: 'client_credentials',
        client_id: e.clientId,
        client_secret: e.clientSecret,
        scope: `${e.url}/.default openid offline_access`,
        client_info: '1',
      }),
    );
    assert.deepEqual([app.id_token, app.client_info, app.refresh_token], [undefined, undefined, undefined]);

    // The refresh grant: new tokens for the same user; the refresh token rotates.
    const refreshForm = (refreshToken: string): Record<string, string> => ({
      grant_type: 'refresh_token',
      client_id: e.clientId,
      refresh_token: refreshToken,
      scope: `${resource} openid profile offline_access`,
      client_info: '1',
    });
    const renewed = json(await token(refreshForm(String(full.refresh_token))));
    assert.notEqual(renewed.access_token, full.access_token);
    assert.notEqual(renewed.refresh_token, full.refresh_token);
    assert.equal(renewed.client_info, full.client_info);
    assert.equal((await webApi(`Bearer ${String(renewed.access_token)}`)).status, 200);
    assert.equal(json(await token(refreshForm(String(renewed.refresh_token)))).token_type, 'Bearer');

    const bad = await token(refreshForm('1.not-issued-here'));
    assert.equal(bad.status, 400);
    const refused = json(bad);
    assert.deepEqual([refused.error, refused.error_codes, refused.suberror], ['invalid_grant', [70000], 'bad_token']);
    assert.ok(!bad.body.includes('not-issued-here'), 'the presented token is not echoed');
    const wrongClient = json(await token({ ...refreshForm(String(full.refresh_token)), client_id: 'someone' }));
    assert.deepEqual(wrongClient.error_codes, [700016]);
    const wrongScope = json(
      await token({ ...refreshForm(String(full.refresh_token)), scope: 'https://contoso.crm.dynamics.com/.default' }),
    );
    assert.deepEqual(wrongScope.error_codes, [500011]);
  });

  it('with --no-auth accepts requests without a token', async () => {
    const open = await startEmulator({ port: 0, seed: 'none', noAuth: true });
    try {
      assert.equal((await fetch(`${open.webApi}WhoAmI`)).status, 200);
    } finally {
      await open.close();
    }
  });
});

describe('dvw emulator: identity fields and flag validation', function () {
  this.timeout(90_000); // three CLI processes start under tsx; slow on a loaded machine

  it('prints authority, tenant, client credentials and the certificate path in its --json line', async () => {
    const { spawn } = await import('node:child_process');
    const { createInterface } = await import('node:readline');
    const { readFileSync } = await import('node:fs');
    const child = spawn(process.execPath, [
      '--import',
      'tsx',
      'src/cli/main.ts',
      'emulator',
      '--json',
      '--seed',
      'none',
      '--token-lifetime',
      '90s',
    ]);
    try {
      const line = await new Promise<string>((resolve, reject) => {
        child.once('exit', (code) => reject(new Error(`exited with ${String(code)}`)));
        createInterface({ input: child.stdout }).once('line', resolve);
      });
      const parsed = JSON.parse(line) as Record<string, unknown>;
      for (const field of [
        'url',
        'webApi',
        'token',
        'authority',
        'tenantId',
        'clientId',
        'clientSecret',
        'certificatePath',
      ])
        assert.equal(typeof parsed[field], 'string', field);
      assert.match(readFileSync(String(parsed.certificatePath), 'utf8'), /^-----BEGIN CERTIFICATE-----/);
      const claims = JSON.parse(Buffer.from(String(parsed.token).split('.')[1] ?? '', 'base64url').toString()) as {
        exp: number;
        iat: number;
      };
      assert.ok(claims.exp - claims.iat >= 90 && claims.exp - claims.iat <= 91);
    } finally {
      // SIGTERM, so the emulator removes its certificate file on the way out.
      child.kill('SIGTERM');
    }
  });

  it('refuses bad --limits, --faults and --token-lifetime with exit code 2', async () => {
    const { spawnSync } = await import('node:child_process');
    for (const args of [
      ['--limits', 'requests=10'],
      ['--faults', '503=5'],
      ['--token-lifetime', 'soon'],
    ]) {
      const run = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'emulator', ...args], {
        encoding: 'utf8',
      });
      assert.equal(run.status, 2, args.join(' '));
      assert.match(run.stderr, new RegExp(`option '${args[0] ?? ''}`));
    }
  });
});

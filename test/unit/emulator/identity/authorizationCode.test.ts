import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { startIdentity } from '../../../../src/emulator/identity';
import type { IdentityEndpoint } from '../../../../src/emulator/identity';
import type { Answer } from './identityClient';
import { call, json } from './identityClient';

function claimsOf(jwt: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(jwt.split('.')[1] ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
}

/** A PKCE pair as MSAL makes it: 32 random bytes as the verifier, BASE64URL(SHA-256(verifier)) as the challenge. */
function pkce(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

function htmlUnescape(text: string): string {
  return text.replace(/&#(\d+);/g, (_, code: string) => String.fromCharCode(Number(code)));
}

/** The fields of Entra's self-submitting form_post page. */
function formPost(html: string): { action: string; fields: Record<string, string> } {
  const action = /<form method="POST" name="hiddenform" action="([^"]*)">/.exec(html)?.[1];
  assert.ok(action !== undefined, 'a form_post page');
  const fields: Record<string, string> = {};
  for (const match of html.matchAll(/<input type="hidden" name="([^"]*)" value="([^"]*)" \/>/g)) {
    fields[htmlUnescape(match[1] ?? '')] = htmlUnescape(match[2] ?? '');
  }
  return { action: htmlUnescape(action), fields };
}

const AUDIENCE = 'http://127.0.0.1:5555';
const REDIRECT = 'http://127.0.0.1:49152/callback';

describe('emulator identity: authorization code with PKCE (the browser sign-in)', function () {
  this.timeout(20_000);
  let identity: IdentityEndpoint;
  let clock = Date.now();
  before(async () => {
    identity = await startIdentity({
      audience: () => AUDIENCE,
      userId: '00000000-0000-0000-0000-0000000000aa',
      tokenLifetimeMs: 3600_000,
      now: () => clock,
    });
  });
  after(async () => {
    await identity.close();
  });
  beforeEach(() => {
    clock = Date.now();
  });

  const authorize = (params: Record<string, string | undefined>, tenant = identity.tenantId): Promise<Answer> => {
    const query = new URLSearchParams();
    for (const [name, value] of Object.entries(params)) if (value !== undefined) query.append(name, value);
    return call(identity.certificate, `${identity.url}/${tenant}/oauth2/v2.0/authorize?${query.toString()}`);
  };
  /** What MSAL sends, with `overrides` replacing (or, as undefined, dropping) parameters. */
  const msalRequest = (challenge: string, overrides: Record<string, string | undefined> = {}) => ({
    client_id: identity.clientId,
    scope: `${AUDIENCE}/user_impersonation openid profile offline_access`,
    redirect_uri: REDIRECT,
    'client-request-id': 'a5d5c6a2-0000-4000-8000-000000000001',
    response_mode: 'query',
    response_type: 'code',
    client_info: '1',
    nonce: 'n-0S6_WzA2Mj',
    state: 'xyz-state',
    code_challenge: challenge,
    code_challenge_method: 'S256',
    ...overrides,
  });
  const redeem = (form: Record<string, string>): Promise<Answer> =>
    call(identity.certificate, `${identity.authority}/oauth2/v2.0/token`, {
      grant_type: 'authorization_code',
      client_id: identity.clientId,
      scope: `${AUDIENCE}/user_impersonation openid profile offline_access`,
      redirect_uri: REDIRECT,
      client_info: '1',
      ...form,
    });
  /** A code from a successful query-mode authorization. */
  const codeFor = async (challenge: string, overrides: Record<string, string | undefined> = {}): Promise<string> => {
    const answer = await authorize(msalRequest(challenge, overrides));
    assert.equal(answer.status, 302, answer.body);
    const code = new URL(String(answer.headers.location)).searchParams.get('code');
    assert.ok(code !== null);
    return code;
  };
  const assertEntraError = (answer: Answer, status: number, error: string, code: number): void => {
    assert.equal(answer.status, status, answer.body);
    const body = json(answer);
    assert.equal(body.error, error);
    assert.deepEqual(body.error_codes, [code]);
    assert.match(String(body.error_description), new RegExp(`^AADSTS${code}: `));
  };

  it('discovery advertises the authorization endpoint, code only, S256 only and the response modes served', async () => {
    const config = json(
      await call(identity.certificate, `${identity.authority}/v2.0/.well-known/openid-configuration`),
    );
    assert.equal(config.authorization_endpoint, `${identity.authority}/oauth2/v2.0/authorize`);
    assert.deepEqual(config.response_types_supported, ['code']);
    assert.deepEqual(config.code_challenge_methods_supported, ['S256']);
    assert.deepEqual(config.response_modes_supported, ['query', 'fragment', 'form_post']);
  });

  it('signs the user in at once (302 with code and state) and redeems the code for tokens like a device-code sign-in', async () => {
    const { verifier, challenge } = pkce();
    const answer = await authorize(msalRequest(challenge));
    assert.equal(answer.status, 302);
    assert.equal(answer.headers['cache-control'], 'no-store');
    assert.equal(answer.headers['referrer-policy'], 'no-referrer');
    const location = new URL(String(answer.headers.location));
    assert.equal(`${location.origin}${location.pathname}`, REDIRECT);
    assert.equal(location.searchParams.get('state'), 'xyz-state');
    const clientInfo = JSON.parse(
      Buffer.from(location.searchParams.get('client_info') ?? '', 'base64url').toString('utf8'),
    ) as Record<string, unknown>;
    assert.deepEqual(clientInfo, { uid: '00000000-0000-0000-0000-0000000000aa', utid: identity.tenantId });
    const code = location.searchParams.get('code') ?? '';

    const tokens = await redeem({ code, code_verifier: verifier });
    assert.equal(tokens.status, 200, tokens.body);
    assert.equal(tokens.headers['cache-control'], 'no-store');
    const body = json(tokens);
    assert.equal(body.token_type, 'Bearer');
    assert.equal(body.scope, `${AUDIENCE}/user_impersonation`);
    assert.equal(typeof body.refresh_token, 'string');
    assert.equal(body.client_info, location.searchParams.get('client_info'));
    const access = claimsOf(String(body.access_token));
    assert.equal(access.aud, AUDIENCE);
    assert.equal(access.scp, 'user_impersonation');
    assert.equal(access.azp, identity.clientId);
    assert.deepEqual(identity.check(`Bearer ${String(body.access_token)}`), {
      ok: true,
      subject: '00000000-0000-0000-0000-0000000000aa',
    });
    const id = claimsOf(String(body.id_token));
    assert.equal(id.aud, identity.clientId);
    assert.equal(id.nonce, 'n-0S6_WzA2Mj', 'the ID token carries the authorization request’s nonce');
    assert.equal(id.preferred_username, 'admin@emulator.local');

    // The refresh token works like one from any other sign-in.
    const renewed = await call(identity.certificate, `${identity.authority}/oauth2/v2.0/token`, {
      grant_type: 'refresh_token',
      client_id: identity.clientId,
      refresh_token: String(body.refresh_token),
      scope: `${AUDIENCE}/user_impersonation openid offline_access`,
    });
    assert.equal(renewed.status, 200, renewed.body);
  });

  it('answers only what was asked: no ID token without openid, no refresh token without offline_access', async () => {
    const { verifier, challenge } = pkce();
    const code = await codeFor(challenge, { scope: `${AUDIENCE}/user_impersonation`, client_info: undefined });
    const body = json(await redeem({ code, code_verifier: verifier, client_info: '0' }));
    assert.equal(typeof body.access_token, 'string');
    assert.equal(body.id_token, undefined);
    assert.equal(body.refresh_token, undefined);
    assert.equal(body.client_info, undefined);
  });

  it('answers form_post with a self-submitting form, every value escaped, under a nonce-only CSP', async () => {
    const { verifier, challenge } = pkce();
    const state = `"><script>alert(1)</script>&'`;
    const redirect = 'http://localhost:51234';
    const answer = await authorize(
      msalRequest(challenge, { response_mode: 'form_post', state, redirect_uri: redirect }),
    );
    assert.equal(answer.status, 200);
    assert.match(String(answer.headers['content-type']), /^text\/html/);
    const csp = String(answer.headers['content-security-policy']);
    const nonce = /script-src 'nonce-([^']+)'/.exec(csp)?.[1];
    assert.ok(nonce !== undefined, csp);
    assert.match(csp, /form-action http:\/\/localhost:51234;/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.equal(answer.body.match(/<script/g)?.length, 1, 'only the page’s own script');
    assert.ok(answer.body.includes(`<script nonce="${nonce}">document.forms[0].submit();</script>`));
    const { action, fields } = formPost(answer.body);
    assert.equal(action, redirect, 'form_post goes to the redirect URI as given');
    assert.equal(fields.state, state);
    assert.equal(typeof fields.client_info, 'string');
    const tokens = await redeem({ code: fields.code ?? '', code_verifier: verifier, redirect_uri: redirect });
    assert.equal(tokens.status, 200, tokens.body);
  });

  it('adds Entra’s trailing slash to a redirect URI without a path (query), and answers in the fragment when asked', async () => {
    const { challenge } = pkce();
    const bare = await authorize(msalRequest(challenge, { redirect_uri: 'http://localhost:8400' }));
    assert.match(String(bare.headers.location), /^http:\/\/localhost:8400\/\?code=/);
    const withQuery = await authorize(msalRequest(challenge, { redirect_uri: 'http://127.0.0.1/cb?app=1' }));
    assert.match(String(withQuery.headers.location), /^http:\/\/127\.0\.0\.1\/cb\?app=1&code=/);
    const fragment = await authorize(msalRequest(challenge, { response_mode: 'fragment' }));
    const location = new URL(String(fragment.headers.location));
    assert.equal(location.search, '');
    const params = new URLSearchParams(location.hash.slice(1));
    assert.ok((params.get('code') ?? '') !== '');
    assert.equal(params.get('state'), 'xyz-state');
  });

  it('signs in whatever the prompt (the one user always has a session) and ignores login_hint', async () => {
    const { verifier, challenge } = pkce();
    for (const prompt of ['none', 'login', 'select_account', 'consent', 'create']) {
      const code = await codeFor(challenge, { prompt, login_hint: 'someone.else@contoso.com' });
      assert.equal((await redeem({ code, code_verifier: verifier })).status, 200);
    }
  });

  it('refuses a wrong code_verifier (AADSTS501481), and the code is spent by the attempt', async () => {
    const { verifier, challenge } = pkce();
    const code = await codeFor(challenge);
    assertEntraError(await redeem({ code, code_verifier: pkce().verifier }), 400, 'invalid_grant', 501481);
    assertEntraError(await redeem({ code, code_verifier: 'short' }), 400, 'invalid_grant', 54005);
    assertEntraError(await redeem({ code, code_verifier: verifier }), 400, 'invalid_grant', 54005);
    // A verifier of the wrong shape is refused like a wrong one.
    const other = pkce();
    const second = await codeFor(other.challenge);
    assertEntraError(await redeem({ code: second, code_verifier: `${other.verifier}!` }), 400, 'invalid_grant', 501481);
  });

  it('redeems a code once (AADSTS54005 afterwards)', async () => {
    const { verifier, challenge } = pkce();
    const code = await codeFor(challenge);
    assert.equal((await redeem({ code, code_verifier: verifier })).status, 200);
    const again = await redeem({ code, code_verifier: verifier });
    assertEntraError(again, 400, 'invalid_grant', 54005);
    assert.ok(!again.body.includes(code), 'the code is not echoed');
  });

  it('refuses another redirect_uri than the authorization request’s (AADSTS50011), spending the code', async () => {
    const { verifier, challenge } = pkce();
    const code = await codeFor(challenge);
    const other = await redeem({ code, code_verifier: verifier, redirect_uri: 'http://127.0.0.1:49153/callback' });
    assertEntraError(other, 400, 'invalid_grant', 50011);
    assert.match(String(json(other).error_description), /does not match the reply address/);
    assertEntraError(await redeem({ code, code_verifier: verifier }), 400, 'invalid_grant', 54005);
  });

  it('refuses unknown and expired codes, and requests missing a parameter without spending the code', async () => {
    const { verifier, challenge } = pkce();
    assertEntraError(await redeem({ code: '0.not-a-code', code_verifier: verifier }), 400, 'invalid_grant', 70000);
    const code = await codeFor(challenge);
    assertEntraError(await redeem({ code }), 400, 'invalid_request', 900144);
    assertEntraError(await redeem({ code, code_verifier: verifier, redirect_uri: '' }), 400, 'invalid_request', 900144);
    assertEntraError(await redeem({ code, code_verifier: verifier, scope: '' }), 400, 'invalid_scope', 28003);
    assertEntraError(
      await redeem({ code, code_verifier: verifier, scope: 'https://graph.microsoft.com/.default' }),
      400,
      'invalid_resource',
      500011,
    );
    assertEntraError(
      await redeem({ code, code_verifier: verifier, client_id: 'someone-else' }),
      400,
      'unauthorized_client',
      700016,
    );
    assert.equal((await redeem({ code, code_verifier: verifier })).status, 200, 'none of those spent the code');

    const late = await codeFor(challenge);
    clock += 10 * 60_000;
    assertEntraError(await redeem({ code: late, code_verifier: verifier }), 400, 'invalid_grant', 70008);
  });

  it('lets a confidential client redeem with its secret, and refuses a wrong one', async () => {
    const { verifier, challenge } = pkce();
    const code = await codeFor(challenge);
    const wrong = await redeem({ code, code_verifier: verifier, client_secret: 'not-the-secret' });
    assertEntraError(wrong, 401, 'invalid_client', 7000215);
    assert.ok(!wrong.body.includes('not-the-secret'));
    assert.equal((await redeem({ code, code_verifier: verifier, client_secret: identity.clientSecret })).status, 200);
  });

  it('never redirects to a redirect URI that is not loopback http: an error page instead (AADSTS50011)', async () => {
    const { challenge } = pkce();
    const refused = [
      'https://evil.example/callback',
      'http://evil.example/',
      'http://localhost.evil.example/',
      'http://127.0.0.1.nip.io/',
      'http://localhost@evil.example/',
      'http://evil.example\\@localhost/',
      'http://127.1:8080/',
      'http://[::1]:8080/',
      'https://localhost:8080/',
      'HTTP://LOCALHOST:8080/x y',
      'javascript:alert(1)//http://localhost/',
      'http://localhost:8080/#frag',
      "http://localhost:8080/it's",
      `http://localhost:8080/${'a'.repeat(260)}`,
      'http://evil.example/"><script>alert(1)</script>',
    ];
    for (const redirect of refused) {
      const answer = await authorize(msalRequest(challenge, { redirect_uri: redirect }));
      assert.equal(answer.status, 400, redirect);
      assert.equal(answer.headers.location, undefined, redirect);
      assert.match(String(answer.headers['content-type']), /^text\/html/);
      assert.match(String(answer.headers['content-security-policy']), /default-src 'none'/);
      assert.match(answer.body, /AADSTS50011: The redirect URI /, redirect);
      assert.ok(!answer.body.includes('<script'), `nothing from the request runs: ${redirect}`);
    }
  });

  it('shows an error page, never a redirect, for a missing redirect URI, an unknown app or another tenant', async () => {
    const { challenge } = pkce();
    const cases: [Answer, number][] = [
      [await authorize(msalRequest(challenge, { redirect_uri: undefined })), 900971],
      [await authorize(msalRequest(challenge, { client_id: '<b>unknown</b>' })), 700016],
      [await authorize(msalRequest(challenge, { client_id: undefined })), 900144],
      [await authorize(msalRequest(challenge), 'organizations'), 90002],
      [await authorize(msalRequest(challenge), 'another-tenant'), 90002],
    ];
    for (const [answer, code] of cases) {
      assert.equal(answer.status, 400);
      assert.equal(answer.headers.location, undefined);
      assert.match(answer.body, new RegExp(`AADSTS${code}: `));
      assert.ok(!answer.body.includes('<b>'), 'escaped');
    }
  });

  it('sends the other refusals back to the app with error, error_description and state, issuing no code', async () => {
    const { challenge } = pkce();
    const cases: [Record<string, string | undefined>, string, number][] = [
      [{ code_challenge: undefined, code_challenge_method: undefined }, 'invalid_request', 50147],
      [{ code_challenge: undefined }, 'invalid_request', 50147],
      [{ code_challenge_method: 'plain' }, 'invalid_request', 50149],
      [{ code_challenge_method: undefined }, 'invalid_request', 50149],
      [{ code_challenge: 'too-short' }, 'invalid_request', 501491],
      [{ response_type: 'token' }, 'unsupported_response_type', 700051],
      [{ response_type: 'code id_token' }, 'unsupported_response_type', 700054],
      [{ response_type: undefined }, 'invalid_request', 900144],
      [{ prompt: 'consent select_account' }, 'invalid_request', 90023],
      [{ scope: 'openid profile offline_access' }, 'invalid_scope', 70011],
      [{ scope: 'https://contoso.crm.dynamics.com/user_impersonation openid' }, 'invalid_resource', 500011],
      [{ response_mode: 'web_message' }, 'invalid_request', 70007],
    ];
    for (const [overrides, error, code] of cases) {
      const answer = await authorize(msalRequest(challenge, overrides));
      assert.equal(answer.status, 302, JSON.stringify(overrides));
      const location = new URL(String(answer.headers.location));
      assert.equal(`${location.origin}${location.pathname}`, REDIRECT);
      assert.equal(location.searchParams.get('error'), error, JSON.stringify(overrides));
      assert.match(location.searchParams.get('error_description') ?? '', new RegExp(`^AADSTS${code}: `));
      assert.equal(location.searchParams.get('state'), 'xyz-state');
      assert.equal(location.searchParams.get('code'), null);
    }
    // A repeated parameter is refused too; a repeated state is not echoed.
    const query = new URLSearchParams(msalRequest(challenge));
    query.append('state', 'second');
    const repeated = await call(
      identity.certificate,
      `${identity.authority}/oauth2/v2.0/authorize?${query.toString()}`,
    );
    const location = new URL(String(repeated.headers.location));
    assert.equal(location.searchParams.get('error'), 'invalid_request');
    assert.equal(location.searchParams.get('state'), null);
    // Errors use the requested response mode: form_post errors are a form too.
    const posted = await authorize(
      msalRequest(challenge, { response_mode: 'form_post', code_challenge_method: 'plain' }),
    );
    assert.equal(posted.status, 200);
    const { fields } = formPost(posted.body);
    assert.equal(fields.error, 'invalid_request');
    assert.equal(fields.state, 'xyz-state');
    assert.equal(fields.code, undefined);
  });
});

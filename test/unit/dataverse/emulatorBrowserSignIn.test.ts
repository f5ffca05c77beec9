import assert from 'node:assert/strict';
import { request } from 'node:https';
import { WorkbenchError } from '../../../src/core/errors';
import { InteractiveTokenProvider, MemoryTokenCacheStorage } from '../../../src/dataverse/auth';
import type { InteractiveOptions } from '../../../src/dataverse/auth';
import type { RunningEmulator } from '../../../src/emulator/server';
import { startEmulator } from '../../../src/emulator/server';

const never = new AbortController().signal;

interface Visit {
  /** The authorization URL MSAL opened. */
  readonly url: URL;
  /** What MSAL's loopback listener answered to the submitted form (its success or error template). */
  readonly loopbackStatus: number;
  readonly loopbackPage: string;
  readonly posted: Record<string, string>;
}

/** GET over HTTPS trusting only the emulator's certificate; no redirect is followed. */
function fetchPage(url: string, ca: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ca }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end();
  });
}

function htmlUnescape(text: string): string {
  return text.replace(/&#(\d+);/g, (_, code: string) => String.fromCharCode(Number(code)));
}

/**
 * The test's "system browser": loads the authorization URL, and does what the page's script would, submitting
 * its form (MSAL asks for `response_mode=form_post`) to MSAL's loopback listener over plain HTTP.
 */
function browser(emulator: RunningEmulator, visits: Visit[]): InteractiveOptions['openBrowser'] {
  return async (url) => {
    const page = await fetchPage(url, emulator.certificate);
    assert.equal(page.status, 200, page.body);
    const action = /<form method="POST" name="hiddenform" action="([^"]*)">/.exec(page.body)?.[1];
    assert.ok(action !== undefined, 'a self-submitting form_post page');
    const posted: Record<string, string> = {};
    for (const match of page.body.matchAll(/<input type="hidden" name="([^"]*)" value="([^"]*)" \/>/g)) {
      posted[htmlUnescape(match[1] ?? '')] = htmlUnescape(match[2] ?? '');
    }
    const answer = await fetch(htmlUnescape(action), {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(posted).toString(),
    });
    visits.push({ url: new URL(url), loopbackStatus: answer.status, loopbackPage: await answer.text(), posted });
  };
}

async function whoAmI(emulator: RunningEmulator, token: string): Promise<Response> {
  return fetch(`${emulator.webApi}WhoAmI`, { headers: { Authorization: `Bearer ${token}` } });
}

describe('dataverse/auth: browser sign-in (InteractiveTokenProvider) against the emulator', function () {
  this.timeout(60_000);
  let emulator: RunningEmulator | undefined;
  afterEach(async () => {
    await emulator?.close();
    emulator = undefined;
  });

  it('signs in through the authorization endpoint and MSAL’s loopback listener; the token works for WhoAmI', async () => {
    const e = (emulator = await startEmulator({ port: 0, seed: 'none' }));
    const visits: Visit[] = [];
    const cacheStorage = new MemoryTokenCacheStorage();
    const options: InteractiveOptions = {
      environmentUrl: e.url,
      clientId: e.clientId,
      authority: e.authority,
      trustedCertificate: e.certificate,
      cacheStorage,
      openBrowser: browser(e, visits),
    };
    const provider = new InteractiveTokenProvider(options);
    const token = await provider.getToken(never);
    assert.equal(provider.signIns, 1);

    // What MSAL asked for: PKCE with S256, form_post to a loopback listener on a free port.
    assert.equal(visits.length, 1);
    const [visit] = visits;
    assert.ok(visit !== undefined);
    assert.equal(`${visit.url.origin}${visit.url.pathname}`, `${e.authority}/oauth2/v2.0/authorize`);
    const asked = visit.url.searchParams;
    assert.equal(asked.get('response_type'), 'code');
    assert.equal(asked.get('response_mode'), 'form_post');
    assert.equal(asked.get('code_challenge_method'), 'S256');
    assert.match(asked.get('code_challenge') ?? '', /^[A-Za-z0-9_-]{43}$/);
    assert.match(asked.get('redirect_uri') ?? '', /^http:\/\/localhost:\d+$/);
    assert.equal(asked.get('client_id'), e.clientId);
    assert.ok((asked.get('scope') ?? '').split(' ').includes(`${e.url}/user_impersonation`));
    assert.equal(visit.posted.state, asked.get('state'));
    assert.equal(visit.loopbackStatus, 200);
    assert.equal(visit.loopbackPage, 'Signed in to Dataverse Workbench. You can close this page.');

    const answer = await whoAmI(e, token.token);
    assert.equal(answer.status, 200);
    const me = (await answer.json()) as { UserId?: string };
    assert.equal(me.UserId, e.userId);

    // The account is cached: another provider on the same cache renews silently, with no browser.
    const second = new InteractiveTokenProvider(options);
    const renewed = await second.getToken(never, { forceRefresh: true });
    assert.equal(second.signIns, 0);
    assert.notEqual(renewed.token, token.token);
    assert.equal((await whoAmI(e, renewed.token)).status, 200);
    assert.equal(visits.length, 1, 'the browser was opened once');
  });

  it('an authorization the emulator refuses comes back through the loopback as an auth error with its AADSTS code', async () => {
    const e = (emulator = await startEmulator({ port: 0, seed: 'none' }));
    const visits: Visit[] = [];
    const provider = new InteractiveTokenProvider({
      // A resource the emulator's tenant does not have: refused at the authorization endpoint.
      environmentUrl: 'https://contoso.crm.dynamics.com',
      clientId: e.clientId,
      authority: e.authority,
      trustedCertificate: e.certificate,
      openBrowser: browser(e, visits),
    });
    await assert.rejects(provider.getToken(never), (error: unknown) => {
      assert.ok(error instanceof WorkbenchError, String(error));
      assert.equal(error.kind, 'auth');
      assert.match(error.message, /invalid_resource/);
      assert.match(error.message, /AADSTS500011/);
      return true;
    });
    assert.equal(visits.length, 1);
    assert.equal(visits[0]?.posted.error, 'invalid_resource');
    assert.equal(visits[0]?.posted.code, undefined);
    assert.equal(visits[0]?.loopbackPage, 'Sign-in failed. Return to Dataverse Workbench for details.');
  });
});

import assert from 'node:assert/strict';
import { generateKeyPairSync, randomUUID, sign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { inspect } from 'node:util';
import { generate } from 'selfsigned';
import { WorkbenchError } from '../../../../src/core/errors';
import { ClientCertificateTokenProvider, splitCertificatePem } from '../../../../src/dataverse/auth';
import { staticTokenProvider, WebApiClient } from '../../../../src/dataverse/webApiClient';
import type { RunningEmulator } from '../../../../src/emulator/server';
import { startEmulator } from '../../../../src/emulator/server';
import { rejection } from '../helpers';

const never = new AbortController().signal;

interface KeyAndCertificate {
  readonly privateKey: string;
  readonly certificate: string;
}

/** A fresh RSA key pair and a self-signed certificate over it (selfsigned v5 returns a Promise). */
async function keyAndCertificate(name: string): Promise<KeyAndCertificate> {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const key = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const pems = await generate([{ name: 'commonName', value: name }], {
    keyPair: { privateKey: key, publicKey: publicKey.export({ type: 'spki', format: 'pem' }).toString() },
    algorithm: 'sha256',
  });
  return { privateKey: key, certificate: pems.cert };
}

function base64url(value: string | Buffer): string {
  return Buffer.from(value).toString('base64url');
}

describe('dataverse/auth: service principal with a certificate against the emulator', function () {
  this.timeout(30_000);
  let registered: KeyAndCertificate;
  let other: KeyAndCertificate;
  let emulator: RunningEmulator | undefined;

  before(async () => {
    [registered, other] = await Promise.all([keyAndCertificate('dvw test app'), keyAndCertificate('someone else')]);
  });
  afterEach(async () => {
    await emulator?.close();
    emulator = undefined;
  });

  const start = async (): Promise<RunningEmulator> => {
    emulator = await startEmulator({ port: 0, seed: 'none', clientCertificates: [registered.certificate] });
    return emulator;
  };

  const provider = (e: RunningEmulator, credential: KeyAndCertificate): ClientCertificateTokenProvider =>
    new ClientCertificateTokenProvider({
      authority: e.authority,
      clientId: e.clientId,
      privateKey: credential.privateKey,
      certificate: credential.certificate,
      environmentUrl: e.url,
      trustedCertificate: readFileSync(e.certificatePath, 'utf8'),
    });

  it('MSAL signs a client assertion with the certificate, and the Web API accepts the token', async () => {
    const e = await start();
    const tokens = provider(e, registered);
    const client = new WebApiClient({ url: e.url, tokenProvider: tokens });
    const who = await client.whoAmI();
    assert.equal(who.userId, e.userId);
    const token = await tokens.getToken(never);
    const claims = JSON.parse(Buffer.from(token.token.split('.')[1] ?? '', 'base64url').toString('utf8')) as {
      azp?: unknown;
    };
    assert.equal(claims.azp, e.clientId);
  });

  it('a certificate the app does not know is an auth error naming AADSTS700027, with no key material', async () => {
    const e = await start();
    const error = await rejection(provider(e, other).getToken(never));
    assert.ok(error instanceof WorkbenchError);
    assert.equal(error.kind, 'auth');
    assert.equal(error.code, 'invalid_client');
    assert.match(error.message, /AADSTS700027/);
    const body = other.privateKey.replace(/-----[A-Z ]+-----|\s/g, '');
    const everything = `${error.message} ${inspect(error)} ${JSON.stringify(error)}`;
    for (const line of body.match(/.{1,40}/g) ?? []) assert.ok(!everything.includes(line), 'no part of the key');
  });

  it('refuses a key that does not belong to the certificate before any request', () => {
    assert.throws(
      () =>
        new ClientCertificateTokenProvider({
          authority: 'https://login.microsoftonline.com/contoso.onmicrosoft.com',
          clientId: randomUUID(),
          privateKey: other.privateKey,
          certificate: registered.certificate,
          environmentUrl: 'https://contoso.crm.dynamics.com',
        }),
      (error: unknown) => error instanceof WorkbenchError && /does not belong/.test(error.message),
    );
  });

  it('splits a PEM file holding the key and the certificate, and names what is missing', () => {
    const both = splitCertificatePem(`${registered.certificate}\n${registered.privateKey}`, 'app.pem');
    assert.equal(both.privateKey.trim(), registered.privateKey.trim());
    assert.equal(both.certificate.trim(), registered.certificate.trim());
    assert.throws(() => splitCertificatePem(registered.certificate, 'cert.pem'), /cert\.pem holds no PEM private key/);
    assert.throws(() => splitCertificatePem(registered.privateKey, 'key.pem'), /key\.pem holds no PEM certificate/);
  });

  describe('the emulator token endpoint checks client assertions as Entra does', () => {
    let e: RunningEmulator;
    let endpoint: string;
    let thumbprint: string;
    beforeEach(async () => {
      e = await start();
      endpoint = `${e.authority}/oauth2/v2.0/token`;
      thumbprint = new ClientCertificateTokenProvider({
        authority: e.authority,
        clientId: e.clientId,
        privateKey: registered.privateKey,
        certificate: registered.certificate,
        environmentUrl: e.url,
      }).thumbprint;
    });

    function assertion(claims: Record<string, unknown> = {}, key = registered.privateKey): string {
      const nowS = Math.floor(Date.now() / 1000);
      const header = { alg: 'RS256', typ: 'JWT', 'x5t#S256': base64url(Buffer.from(thumbprint, 'hex')) };
      const body = {
        aud: endpoint,
        iss: e.clientId,
        sub: e.clientId,
        jti: randomUUID(),
        nbf: nowS - 10,
        exp: nowS + 600,
        ...claims,
      };
      const data = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(body))}`;
      return `${data}.${base64url(sign('sha256', Buffer.from(data), key))}`;
    }

    async function redeem(clientAssertion: string): Promise<{ status: number; body: Record<string, unknown> }> {
      const form = new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: e.clientId,
        scope: `${e.url}/.default`,
        client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
        client_assertion: clientAssertion,
      });
      // The emulator's TLS certificate is self-signed; only this request trusts it.
      const { request } = await import('node:https');
      return new Promise((resolve, reject) => {
        const req = request(
          endpoint,
          {
            method: 'POST',
            ca: readFileSync(e.certificatePath, 'utf8'),
            headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
          },
          (res) => {
            let text = '';
            res.setEncoding('utf8');
            res.on('data', (chunk: string) => (text += chunk));
            res.on('end', () =>
              resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as Record<string, unknown> }),
            );
          },
        );
        req.on('error', reject);
        req.end(form.toString());
      });
    }

    it('accepts a good assertion once, and refuses its replay', async () => {
      const good = assertion();
      const first = await redeem(good);
      assert.equal(first.status, 200);
      assert.equal(typeof first.body.access_token, 'string');
      const client = new WebApiClient({
        url: e.url,
        tokenProvider: staticTokenProvider(String(first.body.access_token)),
      });
      assert.equal((await client.whoAmI()).userId, e.userId);
      const replay = await redeem(good);
      assert.equal(replay.status, 401);
      assert.equal(replay.body.error, 'invalid_client');
      assert.match(String(replay.body.error_description), /already used/);
    });

    it('refuses a wrong audience, issuer, expiry, and a signature by another key', async () => {
      const cases: [string, string, RegExp][] = [
        ['audience', assertion({ aud: `${e.url}/token` }), /AADSTS70002:.*audience/],
        ['issuer', assertion({ iss: randomUUID() }), /AADSTS700021/],
        ['expired', assertion({ exp: Math.floor(Date.now() / 1000) - 3600 }), /AADSTS700024/],
        ['not yet valid', assertion({ nbf: Math.floor(Date.now() / 1000) + 3600 }), /AADSTS700024/],
        ['signature', assertion({}, other.privateKey), /AADSTS700027: Client assertion failed signature/],
      ];
      for (const [what, value, pattern] of cases) {
        const answer = await redeem(value);
        assert.equal(answer.status, 401, what);
        assert.equal(answer.body.error, 'invalid_client', what);
        assert.match(String(answer.body.error_description), pattern, what);
      }
    });
  });
});

import { randomBytes, randomUUID } from 'node:crypto';
import { createServer } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { namesThisMachine } from '../loopback';
import { readBody } from '../readBody';
import { authorizationEndpoint } from './authorizationCode';
import { assertionVerifier, registerCertificates } from './clientAssertion';
import { DeviceCodes } from './deviceCode';
import { instanceDiscovery, openIdConfiguration } from './discovery';
import { scopeResource, tokenEndpoint } from './grants';
import { keyPair, selfSignedCertificate } from './keys';
import type { Reply } from './replies';
import { aadError, jsonReply } from './replies';
import type { TokenCheck } from './tokens';
import { Tokens } from './tokens';

/**
 * A local stand-in for Microsoft Entra ID: OpenID configuration, instance discovery, JWKS (discovery.ts), the
 * v2.0 authorization endpoint (authorization code with PKCE on a loopback redirect: authorizationCode.ts) and
 * token endpoint (grants.ts: client credentials with a secret or an assertion, authorization code, device code,
 * refresh token), over HTTPS because MSAL refuses plain-HTTP authorities. Tokens: tokens.ts. This file starts
 * the server and routes its requests.
 */

export type { TokenCheck } from './tokens';

export interface IdentityOptions {
  /** The emulator's URL (no trailing slash): the only audience tokens are issued for. */
  readonly audience: () => string;
  /** The built-in admin user: `oid`/`sub` of every token. */
  readonly userId: string;
  readonly tokenLifetimeMs: number;
  readonly tenantId?: string;
  readonly clientId?: string;
  readonly clientSecret?: string;
  /** PEM certificates (public part only) the app accepts client assertions signed for. */
  readonly clientCertificates?: readonly string[];
  readonly now?: () => number;
}

export interface IdentityEndpoint {
  /** `https://127.0.0.1:<port>` */
  readonly url: string;
  /** `<url>/<tenantId>`: what MSAL takes as `authority`. */
  readonly authority: string;
  readonly tenantId: string;
  readonly clientId: string;
  readonly clientSecret: string;
  /** PEM of the self-signed TLS certificate, for clients to trust. */
  readonly certificate: string;
  /** An access token for the admin user, as the token endpoint would issue it. */
  issueToken(lifetimeMs?: number): string;
  /** Checks an `Authorization` header value. */
  check(authorization: string | undefined): TokenCheck;
  /** The `WWW-Authenticate` value of a 401 (wire reference §12.4). */
  challenge(): string;
  /** Device-code sign-ins waiting for a user, by user code (tests approve them through the page). */
  readonly pendingUserCodes: () => readonly string[];
  close(): Promise<void>;
}

const MAX_FORM_BYTES = 64 * 1024;

async function readForm(req: IncomingMessage): Promise<URLSearchParams | 'tooLarge'> {
  const body = await readBody(req, MAX_FORM_BYTES);
  return body === 'tooLarge' ? body : new URLSearchParams(body.toString('utf8'));
}

function tooLarge(): Reply {
  return aadError(413, 'invalid_request', 90020, 'The request is too large.');
}

export async function startIdentity(options: IdentityOptions): Promise<IdentityEndpoint> {
  const now = options.now ?? (() => Date.now());
  const tenantId = options.tenantId ?? randomUUID();
  const clientId = options.clientId ?? randomUUID();
  // Entra secrets are 40 characters of this alphabet; the shape helps tools that sniff for secrets.
  const clientSecret = options.clientSecret ?? `dvw~${randomBytes(27).toString('base64url')}`;
  const [signing, tls] = await Promise.all([keyPair('rsa'), selfSignedCertificate()]);
  let url = '';
  const tokens = new Tokens({
    signing,
    tenantId,
    url: () => url,
    audience: options.audience,
    userId: options.userId,
    tokenLifetimeMs: options.tokenLifetimeMs,
    now,
  });
  const deviceCodes = new DeviceCodes(now, () => url);
  // Parsed at start, so a file that is not a certificate fails the start rather than every sign-in.
  const checkAssertion = assertionVerifier({
    clientId,
    certificates: registerCertificates(options.clientCertificates ?? []),
    tokenEndpoint: () => `${url}/${tenantId}/oauth2/v2.0/token`,
    now,
  });
  const authorization = authorizationEndpoint({
    tenantId,
    clientId,
    now,
    resourceOf: (scope) => scopeResource(scope, 'delegated', options.audience(), tenantId),
    clientInfo: () => tokens.clientInfo(),
  });
  const grants = tokenEndpoint({
    tenantId,
    clientId,
    clientSecret,
    audience: options.audience,
    tokenLifetimeMs: options.tokenLifetimeMs,
    tokens,
    deviceCodes,
    checkAssertion,
    redeemCode: (form, client) => authorization.redeem(form, client),
  });

  const route = async (req: IncomingMessage): Promise<Reply> => {
    const method = req.method ?? 'GET';
    // Tokens and sign-in pages for this machine's callers only: a DNS-rebinding page sends its own host name.
    if (!namesThisMachine(req)) {
      req.resume();
      return aadError(
        400,
        'invalid_request',
        90002,
        'The identity endpoint answers requests for 127.0.0.1 or localhost only.',
      );
    }
    const requestUrl = new URL(req.url ?? '/', 'https://identity.invalid');
    const segments = requestUrl.pathname.split('/').filter((s) => s !== '');
    const [tenant = '', ...rest] = segments;
    const where = rest.join('/');
    const knownTenant = tenant === tenantId || tenant === 'common' || tenant === 'organizations';
    if (method === 'GET' && tenant === 'common' && where === 'discovery/instance') {
      return jsonReply(200, instanceDiscovery(url));
    }
    if (tenant === 'common' && where === 'oauth2/deviceauth') {
      if (method === 'GET') return deviceCodes.page();
      if (method === 'POST') {
        const form = await readForm(req);
        return form === 'tooLarge' ? tooLarge() : deviceCodes.approve(form);
      }
    }
    // Before the tenant check: a browser gets an error page for any tenant, never JSON.
    if (method === 'GET' && where === 'oauth2/v2.0/authorize') {
      return authorization.authorize(tenant, requestUrl.searchParams);
    }
    if (!knownTenant) {
      req.resume();
      return aadError(
        400,
        'invalid_tenant',
        90002,
        `Tenant '${tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.`,
      );
    }
    if (method === 'GET' && where === 'v2.0/.well-known/openid-configuration') {
      return jsonReply(200, openIdConfiguration(url, tenantId, tenant));
    }
    if (method === 'GET' && where === 'discovery/v2.0/keys') {
      return jsonReply(200, { keys: [tokens.publicKey()] });
    }
    if (method === 'POST' && (where === 'oauth2/v2.0/token' || where === 'oauth2/v2.0/devicecode')) {
      const form = await readForm(req);
      if (form === 'tooLarge') return tooLarge();
      if (tenant !== tenantId) {
        return aadError(
          400,
          'invalid_request',
          90002,
          `Tenant '${tenant}' not found. Use a tenant-specific endpoint (${tenantId}) for this flow.`,
        );
      }
      return where === 'oauth2/v2.0/token' ? grants.token(form) : grants.deviceCode(form);
    }
    req.resume();
    return aadError(404, 'invalid_request', 900561, `The endpoint ${method} /${where} is not served by the emulator.`);
  };

  const server = createServer({ key: tls.key, cert: tls.cert }, (req: IncomingMessage, res: ServerResponse) => {
    route(req).then(
      (reply) => {
        res.writeHead(reply.status, { ...reply.headers, 'Content-Length': String(Buffer.byteLength(reply.body)) });
        res.end(reply.body);
      },
      () => {
        if (!res.headersSent) res.writeHead(500);
        res.end();
      },
    );
  });
  server.requestTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const authority = `${url}/${tenantId}`;
  let closed: Promise<void> | undefined;
  return {
    url,
    authority,
    tenantId,
    clientId,
    clientSecret,
    certificate: tls.cert,
    issueToken: (lifetimeMs = options.tokenLifetimeMs) => tokens.accessToken(lifetimeMs, clientId, false),
    check: (authorizationHeader) => tokens.check(authorizationHeader),
    challenge: () => `Bearer authorization_uri="${authority}/oauth2/authorize", resource_id="${options.audience()}/"`,
    pendingUserCodes: () => deviceCodes.pending(),
    close() {
      closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closed;
    },
  };
}

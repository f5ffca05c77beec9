import { createHash, generateKeyPair, randomBytes, randomUUID, sign, timingSafeEqual, verify } from 'node:crypto';
import { readBody } from './readBody';
import type { KeyObject } from 'node:crypto';
import { createServer } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { generate as generateCertificate } from 'selfsigned';
import { authorizationEndpoint, entraDescription, escapeHtml } from './authorizationCode';
import type { Failure, Reply } from './authorizationCode';
import { assertionVerifier, JWT_BEARER, registerCertificates } from './clientAssertion';

/**
 * A local stand-in for Microsoft Entra ID: OpenID configuration, instance discovery, JWKS, the v2.0 authorization
 * endpoint (authorization code with PKCE on a loopback redirect: authorizationCode.ts) and token endpoint (client
 * credentials with a secret or an assertion, authorization code, device code, refresh token), over HTTPS because
 * MSAL refuses plain-HTTP authorities. Access tokens are RS256 JWTs shaped like Entra v2 access tokens, signed by
 * a key made at start; a user's sign-in also gets an ID token (signed the same way), `client_info` and a refresh
 * token, which is what MSAL needs to cache the account and renew silently.
 */

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

export type TokenCheck =
  | { readonly ok: true; readonly subject: string }
  | { readonly ok: false; readonly reason: 'missing' | 'malformed' | 'signature' | 'expired' | 'audience' | 'issuer' };

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
const DEVICE_CODE_LIFETIME_S = 900;
const DEVICE_CODE_INTERVAL_S = 1;
/** Entra's tolerance for clocks running ahead; expiry gets none, so a test can wait a token out. */
const NOT_BEFORE_SKEW_S = 300;
const RESERVED_SCOPES = new Set(['openid', 'profile', 'offline_access', 'email']);
/** Bounds the verified-token cache: callers choose how many tokens they present. */
const MAX_VERIFIED_TOKENS = 256;
/** Entra's refresh tokens last 90 days (of inactivity); here they also end with the process. */
const REFRESH_TOKEN_LIFETIME_MS = 90 * 24 * 3600_000;
/** Bounds the refresh tokens kept: every sign-in and every renewal adds one. */
const MAX_REFRESH_TOKENS = 1024;
const ADMIN_NAME = 'Emulator Admin';
const ADMIN_USERNAME = 'admin@emulator.local';

/** What `check` must re-examine on every use of a token whose signature it already verified. */
interface VerifiedToken {
  readonly exp: number;
  readonly nbf: number | undefined;
  readonly aud: unknown;
  readonly subject: string;
}

function jsonReply(status: number, value: unknown, headers: Record<string, string> = {}): Reply {
  return {
    status,
    headers: { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store', ...headers },
    body: JSON.stringify(value),
  };
}

/** Entra's error body: the AADSTS code leads the description and repeats in `error_codes`. */
function aadError(
  status: number,
  error: string,
  code: number,
  description: string,
  extra: Record<string, string> = {},
): Reply {
  const { text, traceId, correlationId, timestamp } = entraDescription(code, description);
  return jsonReply(status, {
    error,
    error_description: text,
    error_codes: [code],
    timestamp,
    trace_id: traceId,
    correlation_id: correlationId,
    error_uri: `https://login.microsoftonline.com/error?code=${code}`,
    ...extra,
  });
}

function base64url(value: string | Buffer): string {
  return Buffer.from(value).toString('base64url');
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

/** Constant time: digests first, so neither length nor content leaks through timing. */
function secretsMatch(presented: string, expected: string): boolean {
  return timingSafeEqual(digest(presented), digest(expected));
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

async function readForm(req: IncomingMessage): Promise<URLSearchParams | 'tooLarge'> {
  const body = await readBody(req, MAX_FORM_BYTES);
  return body === 'tooLarge' ? body : new URLSearchParams(body.toString('utf8'));
}

function keyPair(type: 'rsa' | 'ec'): Promise<{ publicKey: KeyObject; privateKey: KeyObject }> {
  return new Promise((resolve, reject) => {
    const done = (error: Error | null, publicKey: KeyObject, privateKey: KeyObject): void => {
      if (error !== null) reject(error);
      else resolve({ publicKey, privateKey });
    };
    if (type === 'rsa') generateKeyPair('rsa', { modulusLength: 2048 }, done);
    else generateKeyPair('ec', { namedCurve: 'P-256' }, done);
  });
}

/**
 * The TLS certificate (selfsigned v5 returns a Promise; awaiting also covers older synchronous versions).
 * An EC key of our own is passed in because selfsigned's own RSA generation in JavaScript costs ~250 ms.
 */
async function selfSignedCertificate(): Promise<{ key: string; cert: string }> {
  const { publicKey, privateKey } = await keyPair('ec');
  const key = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const now = Date.now();
  const result = await generateCertificate([{ name: 'commonName', value: 'Dataverse emulator identity (localhost)' }], {
    keyType: 'ec',
    keyPair: { privateKey: key, publicKey: publicKey.export({ type: 'spki', format: 'pem' }).toString() },
    algorithm: 'sha256',
    notBeforeDate: new Date(now - 60_000),
    notAfterDate: new Date(now + 30 * 24 * 3600_000),
    extensions: [
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 7, ip: '127.0.0.1' },
          { type: 2, value: 'localhost' },
        ],
      },
    ],
  });
  return { key, cert: result.cert };
}

interface DeviceFlow {
  readonly deviceCode: string;
  readonly userCode: string;
  readonly clientId: string;
  /** The OpenID scopes asked for at the start (`openid`, `offline_access`, …): they decide the answer's tokens. */
  readonly reserved: ReadonlySet<string>;
  readonly expiresAt: number;
  approved: boolean;
  redeemed: boolean;
}

/** A refresh token, kept by SHA-256 of the token, never the token itself (one app, one user: nothing else to bind). */
interface RefreshGrant {
  readonly expiresAt: number;
}

/** The scopes of a request that are OpenID Connect's own rather than a resource's. */
function reservedScopes(scope: string | null): Set<string> {
  return new Set((scope ?? '').split(' ').filter((s) => RESERVED_SCOPES.has(s)));
}

export async function startIdentity(options: IdentityOptions): Promise<IdentityEndpoint> {
  const now = options.now ?? (() => Date.now());
  const tenantId = options.tenantId ?? randomUUID();
  const clientId = options.clientId ?? randomUUID();
  // Entra secrets are 40 characters of this alphabet; the shape helps tools that sniff for secrets.
  const clientSecret = options.clientSecret ?? `dvw~${randomBytes(27).toString('base64url')}`;
  const [signing, tls] = await Promise.all([keyPair('rsa'), selfSignedCertificate()]);
  const jwk = signing.publicKey.export({ format: 'jwk' });
  const kid = base64url(digest(`${String(jwk.n)}.${String(jwk.e)}`)).slice(0, 27);
  const deviceFlows = new Map<string, DeviceFlow>();
  // Parsed at start, so a file that is not a certificate fails the start rather than every sign-in.
  const checkAssertion = assertionVerifier({
    clientId,
    certificates: registerCertificates(options.clientCertificates ?? []),
    tokenEndpoint: () => `${url}/${tenantId}/oauth2/v2.0/token`,
    now,
  });
  let url = '';
  const issuer = (): string => `${url}/${tenantId}/v2.0`;

  const issueToken = (lifetimeMs: number, client: string, delegated: boolean): string => {
    const nowMs = now();
    const iat = Math.floor(nowMs / 1000);
    // Rounded up so the JWT never expires before the `expires_in` a client was told.
    const exp = Math.ceil((nowMs + lifetimeMs) / 1000);
    const header = { typ: 'JWT', alg: 'RS256', kid };
    const payload: Record<string, unknown> = {
      aud: options.audience(),
      iss: issuer(),
      iat,
      nbf: iat,
      exp,
      azp: client,
      azpacr: delegated ? '0' : '1',
      idp: `${url}/${tenantId}/`,
      oid: options.userId,
      sub: options.userId,
      tid: tenantId,
      uti: base64url(randomBytes(16)),
      ver: '2.0',
      ...(delegated ? { scp: 'user_impersonation', name: ADMIN_NAME, preferred_username: ADMIN_USERNAME } : {}),
    };
    return signed(header, payload);
  };

  const signed = (header: Record<string, unknown>, payload: Record<string, unknown>): string => {
    const input = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(payload))}`;
    return `${input}.${base64url(sign('sha256', Buffer.from(input), signing.privateKey))}`;
  };

  /**
   * An Entra v2 ID token for the admin user, signed like the access tokens (same key, `kid` in the JWKS). Its
   * audience is the client, so the Web API refuses it as a bearer token. `sub` is pairwise, as Entra's: the
   * same user has another `sub` in another app, while `oid` stays the same.
   */
  const issueIdToken = (client: string, nonce?: string): string => {
    const nowMs = now();
    const iat = Math.floor(nowMs / 1000);
    return signed(
      { typ: 'JWT', alg: 'RS256', kid },
      {
        aud: client,
        iss: issuer(),
        iat,
        nbf: iat,
        exp: Math.ceil((nowMs + options.tokenLifetimeMs) / 1000),
        name: ADMIN_NAME,
        ...(nonce === undefined ? {} : { nonce }),
        oid: options.userId,
        preferred_username: ADMIN_USERNAME,
        sub: base64url(digest(`${tenantId}:${client}:${options.userId}`)).slice(0, 43),
        tid: tenantId,
        uti: base64url(randomBytes(16)),
        ver: '2.0',
      },
    );
  };

  /** `client_info`: base64url JSON naming the user (`uid`) and home tenant (`utid`); MSAL keys its account on it. */
  const clientInfo = (): string => base64url(JSON.stringify({ uid: options.userId, utid: tenantId }));

  const refreshGrants = new Map<string, RefreshGrant>();
  /** A new opaque refresh token; only its digest is kept, so a memory dump holds no usable token. */
  const issueRefreshToken = (): string => {
    const nowMs = now();
    if (refreshGrants.size >= MAX_REFRESH_TOKENS) {
      for (const [key, grant] of refreshGrants) if (nowMs >= grant.expiresAt) refreshGrants.delete(key);
      const oldest = refreshGrants.keys().next();
      if (refreshGrants.size >= MAX_REFRESH_TOKENS && oldest.done !== true) refreshGrants.delete(oldest.value);
    }
    const token = `1.${base64url(randomBytes(48))}`;
    refreshGrants.set(digest(token).toString('base64'), { expiresAt: nowMs + REFRESH_TOKEN_LIFETIME_MS });
    return token;
  };

  /**
   * Tokens whose signature and claims checked out, by SHA-256 of the token: RSA verification was the largest
   * fixed cost of a request, and a client sends the same token until it expires. Keyed by digest so that
   * neither the lookup nor the comparison runs on the secret itself; the time-dependent and audience checks
   * still run on every request.
   */
  const verified = new Map<string, VerifiedToken>();
  const check = (authorization: string | undefined): TokenCheck => {
    const token = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '')?.[1];
    if (token === undefined) return { ok: false, reason: 'missing' };
    const key = digest(token).toString('base64');
    const known = verified.get(key);
    if (known !== undefined) {
      const timely = timelyAndAddressed(known);
      if (!timely.ok && timely.reason === 'expired') verified.delete(key);
      return timely;
    }
    const result = verifyToken(token);
    if (!result.ok) return result;
    remember(key, result);
    return { ok: true, subject: result.subject };
  };
  const timelyAndAddressed = (token: VerifiedToken): TokenCheck => {
    const seconds = now() / 1000;
    if (seconds >= token.exp) return { ok: false, reason: 'expired' };
    if (token.nbf !== undefined && seconds + NOT_BEFORE_SKEW_S < token.nbf) return { ok: false, reason: 'expired' };
    const audience = options.audience();
    if (token.aud !== audience && token.aud !== `${audience}/`) return { ok: false, reason: 'audience' };
    return { ok: true, subject: token.subject };
  };
  const remember = (key: string, token: VerifiedToken): void => {
    if (verified.size >= MAX_VERIFIED_TOKENS) {
      const seconds = now() / 1000;
      for (const [k, v] of verified) if (seconds >= v.exp) verified.delete(k);
      // Still full of live tokens: forget the oldest (a re-verification costs time, not correctness).
      const oldest = verified.keys().next();
      if (verified.size >= MAX_VERIFIED_TOKENS && oldest.done !== true) verified.delete(oldest.value);
    }
    verified.set(key, token);
  };
  /** Signature and the claims that cannot change with time; `ok` only for a token this endpoint issued. */
  const verifyToken = (token: string): ({ ok: true } & VerifiedToken) | Extract<TokenCheck, { ok: false }> => {
    const parts = token.split('.');
    if (parts.length !== 3) return { ok: false, reason: 'malformed' };
    const [head = '', body = '', signature = ''] = parts;
    let header: unknown;
    let claims: unknown;
    try {
      header = JSON.parse(Buffer.from(head, 'base64url').toString('utf8'));
      claims = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
    } catch {
      return { ok: false, reason: 'malformed' };
    }
    if (!isRecord(header) || !isRecord(claims)) return { ok: false, reason: 'malformed' };
    // `alg` is pinned: a token must not choose how it is checked ("none", or HS256 keyed with our public key).
    if (header.alg !== 'RS256' || header.kid !== kid) return { ok: false, reason: 'signature' };
    if (!verify('sha256', Buffer.from(`${head}.${body}`), signing.publicKey, Buffer.from(signature, 'base64url'))) {
      return { ok: false, reason: 'signature' };
    }
    if (typeof claims.exp !== 'number') return { ok: false, reason: 'expired' };
    // Reasons in the order the checks used to run, so that a token that fails several reports the same one.
    const timely = timelyAndAddressed({
      exp: claims.exp,
      nbf: typeof claims.nbf === 'number' ? claims.nbf : undefined,
      aud: claims.aud,
      subject: '',
    });
    if (!timely.ok) return timely;
    if (claims.iss !== issuer() || claims.tid !== tenantId) return { ok: false, reason: 'issuer' };
    if (typeof claims.oid !== 'string') return { ok: false, reason: 'malformed' };
    return {
      ok: true,
      exp: claims.exp,
      nbf: typeof claims.nbf === 'number' ? claims.nbf : undefined,
      aud: claims.aud,
      subject: claims.oid,
    };
  };

  const openIdConfiguration = (tenant: string): Record<string, unknown> => {
    // For common/organizations Entra answers with a `{tenantid}` placeholder that MSAL fills in.
    const t = tenant === tenantId ? tenantId : '{tenantid}';
    return {
      token_endpoint: `${url}/${tenant}/oauth2/v2.0/token`,
      token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
      jwks_uri: `${url}/${tenant}/discovery/v2.0/keys`,
      response_modes_supported: ['query', 'fragment', 'form_post'],
      subject_types_supported: ['pairwise'],
      id_token_signing_alg_values_supported: ['RS256'],
      // Only what is served: no implicit or hybrid flow.
      response_types_supported: ['code'],
      code_challenge_methods_supported: ['S256'],
      scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
      issuer: `${url}/${t}/v2.0`,
      request_uri_parameter_supported: false,
      userinfo_endpoint: `${url}/oidc/userinfo`,
      authorization_endpoint: `${url}/${tenant}/oauth2/v2.0/authorize`,
      device_authorization_endpoint: `${url}/${tenant}/oauth2/v2.0/devicecode`,
      http_logout_supported: true,
      frontchannel_logout_supported: true,
      end_session_endpoint: `${url}/${tenant}/oauth2/v2.0/logout`,
      claims_supported: [
        'sub',
        'iss',
        'aud',
        'exp',
        'iat',
        'nbf',
        'tid',
        'oid',
        'azp',
        'ver',
        'name',
        'preferred_username',
      ],
      kerberos_endpoint: `${url}/${tenant}/kerberos`,
      tenant_region_scope: null,
      cloud_instance_name: 'emulator.local',
      cloud_graph_host_name: 'graph.emulator.local',
      msgraph_host: 'graph.emulator.local',
      rbac_url: 'https://pas.emulator.local',
    };
  };

  /** The resource a `scope` names (`<resource>/.default`), or why it is refused. */
  const scopeResource = (
    scope: string | null,
    grant: 'client_credentials' | 'delegated',
  ): string | Omit<Failure, 'ok'> => {
    const scopes = (scope ?? '').split(' ').filter((s) => s !== '' && !RESERVED_SCOPES.has(s));
    const audience = options.audience();
    const resources = new Set([audience, `${audience}/`]);
    if (scopes.length !== 1 || scopes[0] === undefined) {
      return {
        status: 400,
        error: 'invalid_scope',
        code: 70011,
        description: `The provided value for the input parameter 'scope' is not valid.`,
      };
    }
    const only = scopes[0];
    const match = /^(.*?)\/(\.default|user_impersonation)$/.exec(only);
    if (match?.[1] === undefined || (grant === 'client_credentials' && match[2] !== '.default')) {
      return {
        status: 400,
        error: 'invalid_scope',
        code: 1002012,
        description: `The provided value for scope ${only} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).`,
      };
    }
    // `<url>//.default` (older samples) names the resource with its trailing slash.
    if (!resources.has(match[1])) {
      return {
        status: 400,
        error: 'invalid_resource',
        code: 500011,
        description: `The resource principal named ${match[1]} was not found in the tenant named ${tenantId}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.`,
      };
    }
    return match[1];
  };
  const failureReply = (failure: Omit<Failure, 'ok'>): Reply =>
    aadError(failure.status, failure.error, failure.code, failure.description);
  /** The resource a `scope` names, or an error reply. */
  const resourceOf = (scope: string | null, grant: 'client_credentials' | 'delegated'): string | Reply => {
    const resource = scopeResource(scope, grant);
    return typeof resource === 'string' ? resource : failureReply(resource);
  };

  const authorization = authorizationEndpoint({
    tenantId,
    clientId,
    now,
    resourceOf: (scope) => scopeResource(scope, 'delegated'),
    clientInfo,
  });

  /** An app-only token (client credentials): an access token and nothing about a user. */
  const appTokenReply = (client: string): Reply => {
    const expiresIn = Math.ceil(options.tokenLifetimeMs / 1000);
    return jsonReply(200, {
      token_type: 'Bearer',
      expires_in: expiresIn,
      ext_expires_in: expiresIn,
      access_token: issueToken(options.tokenLifetimeMs, client, false),
    });
  };

  /**
   * A user's tokens (authorization code, device code, refresh token). As Entra: an ID token when `openid` was
   * asked for (with the authorization request's `nonce`), a refresh token for `offline_access`, `client_info`
   * when the request says `client_info=1`. MSAL sends all three, and without the ID token and `client_info` it
   * caches no account, so `acquireTokenSilent` has nothing to find.
   */
  const userTokenReply = (
    client: string,
    reserved: ReadonlySet<string>,
    form: URLSearchParams,
    nonce?: string,
  ): Reply => {
    const expiresIn = Math.ceil(options.tokenLifetimeMs / 1000);
    return jsonReply(200, {
      token_type: 'Bearer',
      scope: `${options.audience()}/user_impersonation`,
      expires_in: expiresIn,
      ext_expires_in: expiresIn,
      access_token: issueToken(options.tokenLifetimeMs, client, true),
      ...(reserved.has('offline_access') ? { refresh_token: issueRefreshToken() } : {}),
      ...(reserved.has('openid') ? { id_token: issueIdToken(client, nonce) } : {}),
      ...(form.get('client_info') === '1' ? { client_info: clientInfo() } : {}),
    });
  };

  const unknownClient = (id: string): Reply =>
    aadError(
      400,
      'unauthorized_client',
      700016,
      `Application with identifier '${id}' was not found in the directory '${tenantId}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.`,
    );

  /**
   * The app's credential, when the request carries one (a client assertion, else a secret): undefined when it
   * checks out or there is none. Client credentials require one; an authorization code may be redeemed with
   * one (a confidential client) or, PKCE being required, without (a public client).
   */
  const credentialFailure = (form: URLSearchParams): Reply | undefined => {
    const assertionType = form.get('client_assertion_type');
    if (assertionType !== null) {
      if (assertionType !== JWT_BEARER) {
        return aadError(
          400,
          'invalid_request',
          900144,
          `The client_assertion_type '${assertionType.slice(0, 100)}' is not supported.`,
        );
      }
      const checked = checkAssertion(form.get('client_assertion') ?? '');
      return checked.ok ? undefined : aadError(401, 'invalid_client', checked.code, checked.description);
    }
    const secret = form.get('client_secret');
    if (secret !== null && !secretsMatch(secret, clientSecret)) {
      return aadError(
        401,
        'invalid_client',
        7000215,
        `Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${clientId}'.`,
      );
    }
    return undefined;
  };

  const token = (form: URLSearchParams): Reply => {
    const grant = form.get('grant_type');
    const client = form.get('client_id') ?? '';
    if (grant === 'client_credentials') {
      if (client !== clientId) return unknownClient(client);
      const secret = form.get('client_secret');
      if (form.get('client_assertion_type') === null && (secret === null || secret === '')) {
        return aadError(
          401,
          'invalid_client',
          7000218,
          "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
        );
      }
      const failure = credentialFailure(form);
      if (failure !== undefined) return failure;
      const resource = resourceOf(form.get('scope'), 'client_credentials');
      if (typeof resource !== 'string') return resource;
      return appTokenReply(client);
    }
    if (grant === 'authorization_code') {
      if (client !== clientId) return unknownClient(client);
      const failure = credentialFailure(form);
      if (failure !== undefined) return failure;
      const redeemed = authorization.redeem(form, client);
      if (!redeemed.ok) return failureReply(redeemed);
      return userTokenReply(client, redeemed.reserved, form, redeemed.nonce);
    }
    if (grant === 'urn:ietf:params:oauth:grant-type:device_code' || grant === 'device_code') {
      const flow = deviceFlows.get(form.get('device_code') ?? '');
      if (flow === undefined || flow.clientId !== client || flow.redeemed) {
        return aadError(
          400,
          'invalid_grant',
          70000,
          'The provided value for the input parameter device_code is not valid.',
        );
      }
      if (now() >= flow.expiresAt) {
        deviceFlows.delete(flow.deviceCode);
        return aadError(
          400,
          'expired_token',
          70020,
          'The provided value for the input parameter device_code is expired.',
        );
      }
      if (!flow.approved) {
        return aadError(
          400,
          'authorization_pending',
          70016,
          'OAuth 2.0 device flow error. Authorization is pending. Continue polling.',
        );
      }
      flow.redeemed = true;
      deviceFlows.delete(flow.deviceCode);
      return userTokenReply(client, flow.reserved, form);
    }
    if (grant === 'refresh_token') return refresh(form, client);
    return aadError(
      400,
      'unsupported_grant_type',
      70003,
      `The app requested an unsupported grant type '${grant ?? ''}'.`,
    );
  };

  /**
   * The refresh-token grant: a new access token, ID token and refresh token for the same user. The old refresh
   * token stays valid until it expires, as Entra's do; tokens of an earlier run (another tenant) are unknown here.
   */
  const refresh = (form: URLSearchParams, client: string): Reply => {
    if (client !== clientId) return unknownClient(client);
    const presented = form.get('refresh_token') ?? '';
    const key = digest(presented).toString('base64');
    const grant = refreshGrants.get(key);
    // `bad_token` tells MSAL to drop the refresh token and ask for interaction (a new sign-in).
    if (presented === '' || grant === undefined) {
      return aadError(
        400,
        'invalid_grant',
        70000,
        "The provided value for the input parameter 'refresh_token' or 'assertion' is not valid.",
        { suberror: 'bad_token' },
      );
    }
    if (now() >= grant.expiresAt) {
      refreshGrants.delete(key);
      return aadError(
        400,
        'invalid_grant',
        700082,
        'The refresh token has expired due to inactivity. The token was issued and was inactive for 90.00:00:00.',
        { suberror: 'bad_token' },
      );
    }
    const resource = resourceOf(form.get('scope'), 'delegated');
    if (typeof resource !== 'string') return resource;
    return userTokenReply(client, reservedScopes(form.get('scope')), form);
  };

  const deviceCode = (form: URLSearchParams): Reply => {
    const client = form.get('client_id') ?? '';
    if (client !== clientId) return unknownClient(client);
    const resource = resourceOf(form.get('scope'), 'delegated');
    if (typeof resource !== 'string') return resource;
    const userCode = randomBytes(6)
      .toString('base64')
      .replace(/[^A-Za-z0-9]/g, 'X')
      .toUpperCase()
      .slice(0, 8);
    const flow: DeviceFlow = {
      deviceCode: base64url(randomBytes(32)),
      userCode,
      clientId: client,
      reserved: reservedScopes(form.get('scope')),
      expiresAt: now() + DEVICE_CODE_LIFETIME_S * 1000,
      approved: false,
      redeemed: false,
    };
    deviceFlows.set(flow.deviceCode, flow);
    const verificationUri = `${url}/common/oauth2/deviceauth`;
    return jsonReply(200, {
      user_code: userCode,
      device_code: flow.deviceCode,
      verification_uri: verificationUri,
      expires_in: DEVICE_CODE_LIFETIME_S,
      interval: DEVICE_CODE_INTERVAL_S,
      message: `To sign in, use a web browser to open the page ${verificationUri} and enter the code ${userCode} to authenticate.`,
    });
  };

  const devicePage = (message: string): Reply => ({
    status: 200,
    headers: { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' },
    body: `<!doctype html><html><head><title>Dataverse emulator sign-in</title></head><body><h1>Dataverse emulator</h1><p>${escapeHtml(message)}</p><form method="post"><label>Code <input name="user_code" autofocus></label> <button>Sign in as the emulator's admin user</button></form></body></html>`,
  });

  const approve = (form: URLSearchParams): Reply => {
    const code = (form.get('user_code') ?? '').trim().toUpperCase();
    const flow = [...deviceFlows.values()].find((f) => f.userCode === code && !f.approved);
    if (flow === undefined || now() >= flow.expiresAt) {
      return { ...devicePage('That code is not valid or has expired. Try again.'), status: 400 };
    }
    flow.approved = true;
    return devicePage('You are signed in. You can close this page and return to the application.');
  };

  const route = async (req: IncomingMessage): Promise<Reply> => {
    const method = req.method ?? 'GET';
    const requestUrl = new URL(req.url ?? '/', 'https://identity.invalid');
    const path = requestUrl.pathname;
    const segments = path.split('/').filter((s) => s !== '');
    const [tenant = '', ...rest] = segments;
    const where = rest.join('/');
    const knownTenant = tenant === tenantId || tenant === 'common' || tenant === 'organizations';
    if (method === 'GET' && tenant === 'common' && where === 'discovery/instance') {
      const host = new URL(url).host;
      return jsonReply(200, {
        tenant_discovery_endpoint: `${url}/common/v2.0/.well-known/openid-configuration`,
        'api-version': '1.1',
        metadata: [
          { preferred_network: host, preferred_cache: host, aliases: [host, host.replace('127.0.0.1', 'localhost')] },
        ],
      });
    }
    if (method === 'GET' && tenant === 'common' && where === 'oauth2/deviceauth') {
      return devicePage('Enter the code shown by the application.');
    }
    if (method === 'POST' && tenant === 'common' && where === 'oauth2/deviceauth') {
      const form = await readForm(req);
      if (form === 'tooLarge') return aadError(413, 'invalid_request', 90020, 'The request is too large.');
      return approve(form);
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
      return jsonReply(200, openIdConfiguration(tenant));
    }
    if (method === 'GET' && where === 'discovery/v2.0/keys') {
      return jsonReply(200, { keys: [{ kty: 'RSA', use: 'sig', kid, n: jwk.n, e: jwk.e, issuer: issuer() }] });
    }
    if (method === 'POST' && (where === 'oauth2/v2.0/token' || where === 'oauth2/v2.0/devicecode')) {
      const form = await readForm(req);
      if (form === 'tooLarge') return aadError(413, 'invalid_request', 90020, 'The request is too large.');
      if (tenant !== tenantId) {
        return aadError(
          400,
          'invalid_request',
          90002,
          `Tenant '${tenant}' not found. Use a tenant-specific endpoint (${tenantId}) for this flow.`,
        );
      }
      return where === 'oauth2/v2.0/token' ? token(form) : deviceCode(form);
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
    issueToken: (lifetimeMs = options.tokenLifetimeMs) => issueToken(lifetimeMs, clientId, false),
    check,
    challenge: () => `Bearer authorization_uri="${authority}/oauth2/authorize", resource_id="${options.audience()}/"`,
    pendingUserCodes: () => [...deviceFlows.values()].filter((f) => !f.approved).map((f) => f.userCode),
    close() {
      closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closed;
    },
  };
}

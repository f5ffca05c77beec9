import { randomBytes, sign, verify } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { base64url, digest } from './keys';
import { isJsonObject } from '../../core/json';

/**
 * The tokens the identity endpoint issues and checks: RS256 access tokens shaped like Entra v2's, ID tokens,
 * `client_info`, and opaque refresh tokens (kept by digest only).
 */

export type TokenCheck =
  | { readonly ok: true; readonly subject: string }
  | { readonly ok: false; readonly reason: 'missing' | 'malformed' | 'signature' | 'expired' | 'audience' | 'issuer' };

export interface TokenSettings {
  readonly signing: { readonly publicKey: KeyObject; readonly privateKey: KeyObject };
  readonly tenantId: string;
  /** The identity endpoint's URL, known once it listens. */
  readonly url: () => string;
  /** The emulator's URL (no trailing slash): the only audience tokens are issued for. */
  readonly audience: () => string;
  /** The built-in admin user: `oid`/`sub` of every token. */
  readonly userId: string;
  readonly tokenLifetimeMs: number;
  readonly now: () => number;
}

/** Entra's tolerance for clocks running ahead; expiry gets none, so a test can wait a token out. */
const NOT_BEFORE_SKEW_S = 300;
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

/** Drops expired entries of a bounded map, then its oldest while it is still full. */
function makeRoom<T>(map: Map<string, T>, max: number, expired: (value: T) => boolean): void {
  if (map.size < max) return;
  for (const [key, value] of map) if (expired(value)) map.delete(key);
  const oldest = map.keys().next();
  if (map.size >= max && oldest.done !== true) map.delete(oldest.value);
}

export class Tokens {
  readonly kid: string;
  private readonly jwk: { n?: string; e?: string };
  /** Refresh tokens by SHA-256 of the token, with their expiry; never the token itself. */
  private readonly refreshGrants = new Map<string, number>();
  /**
   * Tokens whose signature and claims checked out, by SHA-256 of the token: RSA verification was the largest
   * fixed cost of a request, and a client sends the same token until it expires. Keyed by digest so that
   * neither the lookup nor the comparison runs on the secret itself; the time-dependent and audience checks
   * still run on every request.
   */
  private readonly verified = new Map<string, VerifiedToken>();

  constructor(private readonly settings: TokenSettings) {
    const jwk = settings.signing.publicKey.export({ format: 'jwk' });
    this.jwk = { n: String(jwk.n), e: String(jwk.e) };
    this.kid = base64url(digest(`${String(jwk.n)}.${String(jwk.e)}`)).slice(0, 27);
  }

  issuer(): string {
    return `${this.settings.url()}/${this.settings.tenantId}/v2.0`;
  }

  /** The JWKS entry of the signing key. */
  publicKey(): Record<string, unknown> {
    return { kty: 'RSA', use: 'sig', kid: this.kid, n: this.jwk.n, e: this.jwk.e, issuer: this.issuer() };
  }

  private signed(payload: Record<string, unknown>): string {
    const header = { typ: 'JWT', alg: 'RS256', kid: this.kid };
    const input = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(payload))}`;
    return `${input}.${base64url(sign('sha256', Buffer.from(input), this.settings.signing.privateKey))}`;
  }

  /** An access token for the emulator: app-only, or delegated (a user's sign-in, with `scp` and names). */
  accessToken(lifetimeMs: number, client: string, delegated: boolean): string {
    const { now, tenantId, userId, url } = this.settings;
    const nowMs = now();
    const iat = Math.floor(nowMs / 1000);
    // Rounded up so the JWT never expires before the `expires_in` a client was told.
    const exp = Math.ceil((nowMs + lifetimeMs) / 1000);
    return this.signed({
      aud: this.settings.audience(),
      iss: this.issuer(),
      iat,
      nbf: iat,
      exp,
      azp: client,
      azpacr: delegated ? '0' : '1',
      idp: `${url()}/${tenantId}/`,
      oid: userId,
      sub: userId,
      tid: tenantId,
      uti: base64url(randomBytes(16)),
      ver: '2.0',
      ...(delegated ? { scp: 'user_impersonation', name: ADMIN_NAME, preferred_username: ADMIN_USERNAME } : {}),
    });
  }

  /**
   * An Entra v2 ID token for the admin user, signed like the access tokens (same key, `kid` in the JWKS). Its
   * audience is the client, so the Web API refuses it as a bearer token. `sub` is pairwise, as Entra's: the
   * same user has another `sub` in another app, while `oid` stays the same.
   */
  idToken(client: string, nonce?: string): string {
    const { now, tenantId, userId } = this.settings;
    const nowMs = now();
    const iat = Math.floor(nowMs / 1000);
    return this.signed({
      aud: client,
      iss: this.issuer(),
      iat,
      nbf: iat,
      exp: Math.ceil((nowMs + this.settings.tokenLifetimeMs) / 1000),
      name: ADMIN_NAME,
      ...(nonce === undefined ? {} : { nonce }),
      oid: userId,
      preferred_username: ADMIN_USERNAME,
      sub: base64url(digest(`${tenantId}:${client}:${userId}`)).slice(0, 43),
      tid: tenantId,
      uti: base64url(randomBytes(16)),
      ver: '2.0',
    });
  }

  /** `client_info`: base64url JSON naming the user (`uid`) and home tenant (`utid`); MSAL keys its account on it. */
  clientInfo(): string {
    return base64url(JSON.stringify({ uid: this.settings.userId, utid: this.settings.tenantId }));
  }

  /** A new opaque refresh token; only its digest is kept, so a memory dump holds no usable token. */
  refreshToken(): string {
    const nowMs = this.settings.now();
    makeRoom(this.refreshGrants, MAX_REFRESH_TOKENS, (expiresAt) => nowMs >= expiresAt);
    const token = `1.${base64url(randomBytes(48))}`;
    this.refreshGrants.set(digest(token).toString('base64'), nowMs + REFRESH_TOKEN_LIFETIME_MS);
    return token;
  }

  /** A presented refresh token: unknown (never issued here, or forgotten), expired (and now forgotten), or valid. */
  redeemRefreshToken(presented: string): 'unknown' | 'expired' | 'valid' {
    const key = digest(presented).toString('base64');
    const expiresAt = this.refreshGrants.get(key);
    if (presented === '' || expiresAt === undefined) return 'unknown';
    if (this.settings.now() >= expiresAt) {
      this.refreshGrants.delete(key);
      return 'expired';
    }
    return 'valid';
  }

  /** Checks an `Authorization` header value. */
  check(authorization: string | undefined): TokenCheck {
    const token = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '')?.[1];
    if (token === undefined) return { ok: false, reason: 'missing' };
    const key = digest(token).toString('base64');
    const known = this.verified.get(key);
    if (known !== undefined) {
      const timely = this.timelyAndAddressed(known);
      if (!timely.ok && timely.reason === 'expired') this.verified.delete(key);
      return timely;
    }
    const result = this.verify(token);
    if (!result.ok) return result;
    const seconds = this.settings.now() / 1000;
    makeRoom(this.verified, MAX_VERIFIED_TOKENS, (v) => seconds >= v.exp);
    this.verified.set(key, result);
    return { ok: true, subject: result.subject };
  }

  private timelyAndAddressed(token: VerifiedToken): TokenCheck {
    const seconds = this.settings.now() / 1000;
    if (seconds >= token.exp) return { ok: false, reason: 'expired' };
    if (token.nbf !== undefined && seconds + NOT_BEFORE_SKEW_S < token.nbf) return { ok: false, reason: 'expired' };
    const audience = this.settings.audience();
    if (token.aud !== audience && token.aud !== `${audience}/`) return { ok: false, reason: 'audience' };
    return { ok: true, subject: token.subject };
  }

  /** Signature and the claims that cannot change with time; `ok` only for a token this endpoint issued. */
  private verify(token: string): ({ ok: true } & VerifiedToken) | Extract<TokenCheck, { ok: false }> {
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
    if (!isJsonObject(header) || !isJsonObject(claims)) return { ok: false, reason: 'malformed' };
    // `alg` is pinned: a token must not choose how it is checked ("none", or HS256 keyed with our public key).
    if (header.alg !== 'RS256' || header.kid !== this.kid) return { ok: false, reason: 'signature' };
    const publicKey = this.settings.signing.publicKey;
    if (!verify('sha256', Buffer.from(`${head}.${body}`), publicKey, Buffer.from(signature, 'base64url'))) {
      return { ok: false, reason: 'signature' };
    }
    if (typeof claims.exp !== 'number') return { ok: false, reason: 'expired' };
    // Reasons in the order the checks used to run, so that a token that fails several reports the same one.
    const nbf = typeof claims.nbf === 'number' ? claims.nbf : undefined;
    const timely = this.timelyAndAddressed({ exp: claims.exp, nbf, aud: claims.aud, subject: '' });
    if (!timely.ok) return timely;
    if (claims.iss !== this.issuer() || claims.tid !== this.settings.tenantId) return { ok: false, reason: 'issuer' };
    if (typeof claims.oid !== 'string') return { ok: false, reason: 'malformed' };
    return { ok: true, exp: claims.exp, nbf, aud: claims.aud, subject: claims.oid };
  }
}

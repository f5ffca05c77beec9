import { constants, createHash, verify, X509Certificate } from 'node:crypto';
import type { KeyObject } from 'node:crypto';

/**
 * Client assertions (`private_key_jwt`, RFC 7523) as Entra checks them for a service principal with a
 * certificate: a JWT signed with the certificate's private key, whose `x5t#S256` (or legacy `x5t`) header
 * names a certificate registered on the app. Only the public certificate is registered, as in Entra.
 */

export const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

/** Entra tolerates client clocks this far off for `nbf`; `exp` gets the same leeway. */
const CLOCK_SKEW_S = 300;
/** Entra refuses assertions valid for longer than this (AADSTS700024 family). */
const MAX_LIFETIME_S = 24 * 3600;

export type AssertionCheck =
  { readonly ok: true } | { readonly ok: false; readonly code: number; readonly description: string };

interface RegisteredCertificate {
  readonly publicKey: KeyObject;
  readonly sha256: string;
  readonly sha1: string;
}

/** Parses PEM certificates; throws with the index of one that is not a certificate (never its content). */
export function registerCertificates(pems: readonly string[]): RegisteredCertificate[] {
  return pems.map((pem, index) => {
    let certificate: X509Certificate;
    try {
      certificate = new X509Certificate(pem);
    } catch {
      throw new Error(`client certificate ${index + 1} is not a PEM certificate`);
    }
    return {
      publicKey: certificate.publicKey,
      sha256: createHash('sha256').update(certificate.raw).digest('base64url'),
      sha1: createHash('sha1').update(certificate.raw).digest('base64url'),
    };
  });
}

function decodeJson(part: string | undefined): Record<string, unknown> | undefined {
  if (part === undefined || !/^[A-Za-z0-9_-]+$/.test(part)) return undefined;
  try {
    const value: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/** Hex, as Entra prints thumbprints in its messages. */
function hex(base64url: string): string {
  return Buffer.from(base64url, 'base64url').toString('hex').toUpperCase();
}

export interface AssertionVerifierOptions {
  readonly clientId: string;
  readonly certificates: readonly RegisteredCertificate[];
  /** The token endpoint: the only audience accepted. */
  readonly tokenEndpoint: () => string;
  readonly now: () => number;
}

/** A verifier that remembers the `jti` of each accepted assertion until it expires, to refuse replays. */
export function assertionVerifier(options: AssertionVerifierOptions): (assertion: string) => AssertionCheck {
  const seen = new Map<string, number>();
  const fail = (code: number, description: string): AssertionCheck => ({ ok: false, code, description });
  return (assertion) => {
    const nowS = Math.floor(options.now() / 1000);
    for (const [jti, exp] of seen) if (exp + CLOCK_SKEW_S < nowS) seen.delete(jti);
    const parts = assertion.split('.');
    const header = decodeJson(parts[0]);
    const claims = decodeJson(parts[1]);
    const signature = parts[2];
    if (parts.length !== 3 || header === undefined || claims === undefined || signature === undefined) {
      return fail(50027, 'Invalid JWT token. The client assertion is not a well-formed JWT.');
    }
    const thumbprint = typeof header['x5t#S256'] === 'string' ? header['x5t#S256'] : header.x5t;
    const bySha256 = typeof header['x5t#S256'] === 'string';
    const certificate =
      typeof thumbprint === 'string'
        ? options.certificates.find((c) => (bySha256 ? c.sha256 : c.sha1) === thumbprint)
        : undefined;
    if (certificate === undefined) {
      return fail(
        700027,
        `The certificate with identifier used to sign the client assertion is not registered on application. [Reason - The key was not found., Thumbprint of key used by client: '${typeof thumbprint === 'string' ? hex(thumbprint) : 'none'}', Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured keys for app Id '${options.clientId}'.]`,
      );
    }
    const data = Buffer.from(`${parts[0]}.${parts[1]}`);
    const bytes = Buffer.from(signature, 'base64url');
    let valid = false;
    if (header.alg === 'RS256') valid = verify('sha256', data, certificate.publicKey, bytes);
    else if (header.alg === 'PS256') {
      valid = verify(
        'sha256',
        data,
        { key: certificate.publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 },
        bytes,
      );
    }
    if (!valid) {
      return fail(700027, 'Client assertion failed signature validation.');
    }
    if (claims.iss !== options.clientId || claims.sub !== options.clientId) {
      return fail(700021, "Client assertion application identifier doesn't match 'client_id' parameter.");
    }
    const audience = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
    if (!audience.includes(options.tokenEndpoint())) {
      return fail(
        70002,
        `Error validating credentials: the client assertion audience claim does not match the token endpoint ${options.tokenEndpoint()}.`,
      );
    }
    const { exp, nbf, jti } = claims;
    if (typeof exp !== 'number' || exp + CLOCK_SKEW_S < nowS) {
      return fail(700024, 'Client assertion is not within its valid time range (it has expired).');
    }
    if (
      (typeof nbf === 'number' && nbf - CLOCK_SKEW_S > nowS) ||
      exp - (typeof nbf === 'number' ? nbf : nowS) > MAX_LIFETIME_S
    ) {
      return fail(700024, 'Client assertion is not within its valid time range.');
    }
    if (typeof jti !== 'string' || jti === '') {
      return fail(700027, "Client assertion must contain a 'jti' claim.");
    }
    if (seen.has(jti)) {
      return fail(700027, 'Client assertion contains a jti that was already used: a client assertion is valid once.');
    }
    seen.set(jti, exp);
    return { ok: true };
  };
}

import { randomBytes } from 'node:crypto';
import { digest, secretsMatch } from './keys';
import type { Failure, Reply } from './replies';
import { entraDescription, escapeHtml, reservedScopes } from './replies';

/**
 * The authorization endpoint (`GET /{tenant}/oauth2/v2.0/authorize`) and its codes, as Entra's v2.0 endpoint
 * serves a public client that signs a user in through the system browser (MSAL's `acquireTokenInteractive`):
 * authorization code with PKCE on a loopback redirect URI. There is one user and nothing to choose, so a valid
 * request is answered at once, without a sign-in page: a `form_post` page that submits itself, or a 302 for
 * `query`/`fragment`. What cannot be trusted to receive an answer (an unknown app, a redirect URI that is not
 * loopback) gets an error page instead of a redirect, as on Entra: the endpoint is no open redirector.
 */

export interface RedeemedCode {
  readonly ok: true;
  /** The OpenID scopes of the authorization request (`openid`, `offline_access`, …): they decide the answer's tokens. */
  readonly reserved: ReadonlySet<string>;
  /** The request's `nonce`, for the ID token. */
  readonly nonce: string | undefined;
}

export interface AuthorizationOptions {
  readonly tenantId: string;
  readonly clientId: string;
  readonly now: () => number;
  /** The resource a user's `scope` names, or why it is refused (the token endpoint's own rules). */
  readonly resourceOf: (scope: string | null) => string | Omit<Failure, 'ok'>;
  /** `client_info` (base64url `{uid, utid}`), added to the answer when the request says `client_info=1`. */
  readonly clientInfo: () => string;
}

export interface AuthorizationEndpoint {
  /** `GET /{tenant}/oauth2/v2.0/authorize` with its query. */
  authorize(tenant: string, query: URLSearchParams): Reply;
  /** `grant_type=authorization_code` for a known client (whose credential, if it sent one, checked out). */
  redeem(form: URLSearchParams, client: string): RedeemedCode | Failure;
}

/** Entra: "Authorization codes are short lived. Typically, they expire after about 10 minutes." */
const CODE_LIFETIME_MS = 10 * 60_000;
/** Bounds the codes kept: every authorization request adds one. */
const MAX_CODES = 256;
/** Entra's limit for a registered redirect URI. */
const MAX_REDIRECT_URI_LENGTH = 256;
/** A loopback redirect URI as written: `http`, `localhost` or the IPv4 literal (Entra has no `[::1]`), any port. */
const LOOPBACK = /^http:\/\/(?:localhost|127\.0\.0\.1)(?::\d{1,5})?(?:[/?]|$)/i;
/** Printable ASCII only: no whitespace, controls or anything the URL parser would re-encode. */
const PRINTABLE_ASCII = /^[!-~]+$/;
/** Characters Entra does not allow in redirect URIs (`! $ ' ( ) , ;`), and `\`, `#` and `@`. */
const UNSAFE_IN_REDIRECT = /[!$'(),;\\#@]/;
/** BASE64URL(SHA-256(verifier)): 32 bytes, 43 characters without padding. */
const S256_CHALLENGE = /^[A-Za-z0-9_-]{43}$/;
/** RFC 7636 §4.1: 43 to 128 unreserved characters. */
const CODE_VERIFIER = /^[A-Za-z0-9._~-]{43,128}$/;
/** Entra accepts one of these, never a list (AADSTS90023 otherwise). */
const PROMPTS = new Set(['login', 'none', 'consent', 'select_account', 'create']);
const RESPONSE_MODES = new Set(['query', 'fragment', 'form_post']);
/** Parameters that must not repeat (RFC 6749 §3.1); a repeated `client_id` or `redirect_uri` gets no redirect. */
const SINGLE_VALUED = [
  'response_type',
  'response_mode',
  'scope',
  'state',
  'nonce',
  'code_challenge',
  'code_challenge_method',
  'prompt',
  'login_hint',
  'domain_hint',
];

type ResponseMode = 'query' | 'fragment' | 'form_post';

interface Grant {
  readonly clientId: string;
  readonly redirectUri: string;
  readonly challenge: string;
  readonly reserved: ReadonlySet<string>;
  readonly nonce: string | undefined;
  readonly expiresAt: number;
  redeemed: boolean;
}

/** Where and how an answer goes, once the redirect URI is known to be safe. */
interface Destination {
  readonly redirectUri: string;
  readonly mode: ResponseMode;
  readonly state: string | undefined;
}

/**
 * The redirect URI when it is one a public client may use on Entra without registering a port: `http` on
 * `localhost` or `127.0.0.1`, any port, any path. Checked on the text as sent (so nothing the URL parser would
 * normalise, like `127.1` or `localhost\@host`, slips through) and again once parsed.
 */
export function loopbackRedirectUri(raw: string): URL | undefined {
  if (raw.length > MAX_REDIRECT_URI_LENGTH || !PRINTABLE_ASCII.test(raw) || UNSAFE_IN_REDIRECT.test(raw)) {
    return undefined;
  }
  if (!LOOPBACK.test(raw)) return undefined;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return undefined;
  }
  const loopback = url.hostname === 'localhost' || url.hostname === '127.0.0.1';
  return url.protocol === 'http:' && loopback && url.username === '' && url.password === '' && url.hash === ''
    ? url
    : undefined;
}

/**
 * The HTML error page Entra shows when it cannot send the answer back ("Sorry, but we're having trouble signing
 * you in."). Every value is escaped; the page runs nothing and may not be framed.
 */
function errorPage(code: number, description: string): Reply {
  const { text, traceId, correlationId, timestamp } = entraDescription(code, description);
  const rows: [string, string][] = [
    ['Request Id', traceId],
    ['Correlation Id', correlationId],
    ['Timestamp', timestamp],
    ['Message', text],
  ];
  return {
    status: 400,
    headers: {
      'Content-Type': 'text/html; charset=utf-8',
      'Cache-Control': 'no-store',
      'Content-Security-Policy': "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
      'X-Content-Type-Options': 'nosniff',
      'Referrer-Policy': 'no-referrer',
    },
    body:
      '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Sign in to your account</title></head><body>' +
      `<h1>Sign in</h1><p>Sorry, but we're having trouble signing you in.</p><p>AADSTS${code}: ${escapeHtml(description)}</p>` +
      `<dl>${rows.map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd>${escapeHtml(v)}</dd>`).join('')}</dl>` +
      '<p>Dataverse emulator: nothing was sent back to the application.</p></body></html>',
  };
}

/**
 * The answer at the redirect URI. `query` and `fragment` are a 302 (a redirect URI without a path gets Entra's
 * trailing slash); `form_post` is Entra's self-submitting form, with a `<noscript>` button, a script allowed by
 * nonce only, and `form-action` limited to the redirect URI's origin.
 */
function deliver(to: Destination, fields: Record<string, string>): Reply {
  const params = { ...fields, ...(to.state === undefined ? {} : { state: to.state }) };
  const common = { 'Cache-Control': 'no-store', 'Referrer-Policy': 'no-referrer', 'X-Content-Type-Options': 'nosniff' };
  const url = new URL(to.redirectUri);
  if (to.mode === 'form_post') {
    const nonce = randomBytes(16).toString('base64');
    const inputs = Object.entries(params)
      .map(([name, value]) => `<input type="hidden" name="${escapeHtml(name)}" value="${escapeHtml(value)}" />`)
      .join('');
    return {
      status: 200,
      headers: {
        ...common,
        'Content-Type': 'text/html; charset=utf-8',
        'Content-Security-Policy': `default-src 'none'; script-src 'nonce-${nonce}'; form-action ${url.origin}; base-uri 'none'; frame-ancestors 'none'`,
      },
      body:
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Working...</title></head><body>' +
        `<form method="POST" name="hiddenform" action="${escapeHtml(to.redirectUri)}">${inputs}` +
        '<noscript><p>Script is disabled. Click Submit to continue.</p><input type="submit" value="Submit" /></noscript>' +
        `</form><script nonce="${nonce}">document.forms[0].submit();</script></body></html>`,
    };
  }
  const encoded = new URLSearchParams(params);
  if (to.mode === 'fragment') url.hash = encoded.toString();
  else for (const [name, value] of encoded) url.searchParams.append(name, value);
  return { status: 302, headers: { ...common, Location: url.href }, body: '' };
}

/** An error sent back to the app, as Entra sends those it can deliver (`error`, `error_description`, `error_uri`). */
function deliverError(to: Destination, error: string, code: number, description: string): Reply {
  return deliver(to, {
    error,
    error_description: entraDescription(code, description).text,
    error_uri: `https://login.microsoftonline.com/error?code=${code}`,
  });
}

export function authorizationEndpoint(options: AuthorizationOptions): AuthorizationEndpoint {
  const { tenantId, clientId, now } = options;
  /** Codes by SHA-256 of the code, never the code itself; a redeemed one stays until it expires, to say so. */
  const grants = new Map<string, Grant>();

  const issue = (grant: Grant): string => {
    if (grants.size >= MAX_CODES) {
      const nowMs = now();
      for (const [key, kept] of grants) if (nowMs >= kept.expiresAt) grants.delete(key);
      const oldest = grants.keys().next();
      if (grants.size >= MAX_CODES && oldest.done !== true) grants.delete(oldest.value);
    }
    const code = `0.${randomBytes(48).toString('base64url')}`;
    grants.set(digest(code).toString('base64'), grant);
    return code;
  };

  const authorize = (tenant: string, query: URLSearchParams): Reply => {
    // Checks that decide whether an answer may be sent at all: failures are shown here, never redirected.
    if (tenant !== tenantId) {
      const shown = tenant.slice(0, 100);
      return errorPage(
        90002,
        tenant === 'common' || tenant === 'organizations'
          ? `Tenant '${shown}' not found. Use a tenant-specific endpoint (${tenantId}) for this flow.`
          : `Tenant '${shown}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.`,
      );
    }
    const clients = query.getAll('client_id');
    const client = clients[0] ?? '';
    if (clients.length !== 1 || client === '') {
      return errorPage(900144, "The request body must contain the following parameter: 'client_id'.");
    }
    if (client !== clientId) {
      return errorPage(
        700016,
        `Application with identifier '${client.slice(0, 100)}' was not found in the directory '${tenantId}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.`,
      );
    }
    const redirects = query.getAll('redirect_uri');
    const redirectUri = redirects[0] ?? '';
    if (redirects.length !== 1 || redirectUri === '') return errorPage(900971, 'No reply address provided.');
    if (loopbackRedirectUri(redirectUri) === undefined) {
      return errorPage(
        50011,
        `The redirect URI '${redirectUri.slice(0, 300)}' specified in the request does not match the redirect URIs configured for the application '${clientId}'. Make sure the redirect URI sent in the request matches one added to your application in the Azure portal. Navigate to https://aka.ms/redirectUriMismatchError to learn more about how to fix this. (The emulator's app accepts http://localhost and http://127.0.0.1 on any port.)`,
      );
    }

    // From here on the answer goes back to the app, errors included.
    const repeated = SINGLE_VALUED.find((name) => query.getAll(name).length > 1);
    const stateValues = query.getAll('state');
    const modeValue = query.get('response_mode') ?? 'query';
    const mode: ResponseMode = RESPONSE_MODES.has(modeValue) ? (modeValue as ResponseMode) : 'query';
    const to: Destination = {
      redirectUri,
      mode,
      state: stateValues.length === 1 ? stateValues[0] : undefined,
    };
    if (repeated !== undefined) {
      return deliverError(to, 'invalid_request', 9002313, `Invalid request. The parameter '${repeated}' is repeated.`);
    }
    if (!RESPONSE_MODES.has(modeValue)) {
      return deliverError(
        to,
        'invalid_request',
        70007,
        `The response_mode '${modeValue.slice(0, 50)}' is not supported. Use 'query', 'fragment' or 'form_post'.`,
      );
    }
    const responseType = query.get('response_type');
    if (responseType === null || responseType === '') {
      return deliverError(
        to,
        'invalid_request',
        900144,
        "The request body must contain the following parameter: 'response_type'.",
      );
    }
    if (responseType !== 'code') {
      const types = responseType.split(' ');
      const [code, description] = types.includes('token')
        ? [700051, "The response_type 'token' is not enabled for the application."]
        : types.includes('id_token')
          ? [700054, "response_type 'id_token' is not enabled for the application."]
          : [70005, `The response_type '${responseType.slice(0, 50)}' is not supported. Use 'code'.`];
      return deliverError(to, 'unsupported_response_type', code, description);
    }
    const scope = query.get('scope');
    if (scope === null || scope.trim() === '') {
      return deliverError(
        to,
        'invalid_request',
        900144,
        "The request body must contain the following parameter: 'scope'.",
      );
    }
    const resource = options.resourceOf(scope);
    if (typeof resource !== 'string') return deliverError(to, resource.error, resource.code, resource.description);
    // PKCE: Entra accepts `plain` and requests without a challenge from native apps; the emulator does not.
    const challenge = query.get('code_challenge');
    const method = query.get('code_challenge_method');
    if (challenge === null || challenge === '') {
      return deliverError(
        to,
        'invalid_request',
        50147,
        'The code_challenge parameter is missing: the emulator signs users in only with PKCE (code_challenge_method=S256).',
      );
    }
    if (method !== 'S256') {
      return deliverError(
        to,
        'invalid_request',
        50149,
        `Invalid Code_Challenge_method parameter: '${(method ?? 'plain').slice(0, 20)}'. The emulator accepts only 'S256'.`,
      );
    }
    if (!S256_CHALLENGE.test(challenge)) {
      return deliverError(to, 'invalid_request', 501491, 'Invalid size of Code_Challenge parameter.');
    }
    const prompt = query.get('prompt');
    if (prompt !== null && !PROMPTS.has(prompt)) {
      return deliverError(to, 'invalid_request', 90023, "Unsupported 'prompt' value.");
    }
    // Every prompt (none included) signs in the one user: the emulator has nobody else and always a session.
    // `login_hint` and `domain_hint` have nothing to choose between and are ignored.
    const nonce = query.get('nonce');
    const code = issue({
      clientId: client,
      redirectUri,
      challenge,
      reserved: reservedScopes(scope),
      nonce: nonce === null || nonce === '' ? undefined : nonce,
      expiresAt: now() + CODE_LIFETIME_MS,
      redeemed: false,
    });
    return deliver(to, {
      code,
      ...(query.get('client_info') === '1' ? { client_info: options.clientInfo() } : {}),
    });
  };

  const failure = (status: number, error: string, code: number, description: string): Failure => ({
    ok: false,
    status,
    error,
    code,
    description,
  });

  /**
   * Redeems a code once. Malformed requests are refused without touching the code; any redemption of a
   * known code spends it, failed or not, so a code presented with the wrong verifier or redirect URI (perhaps
   * intercepted) cannot be tried again.
   */
  const redeem = (form: URLSearchParams, client: string): RedeemedCode | Failure => {
    for (const name of ['code', 'redirect_uri', 'code_verifier']) {
      if ((form.get(name) ?? '') === '') {
        return failure(
          400,
          'invalid_request',
          900144,
          `The request body must contain the following parameter: '${name}'.`,
        );
      }
    }
    const scope = form.get('scope');
    if (scope === null || scope.trim() === '') {
      return failure(
        400,
        'invalid_scope',
        28003,
        'Provided value for the input parameter scope cannot be empty when requesting an access token using the provided authorization code. Please specify a valid scope.',
      );
    }
    const resource = options.resourceOf(scope);
    if (typeof resource !== 'string') return { ok: false, ...resource };
    const key = digest(form.get('code') ?? '').toString('base64');
    const grant = grants.get(key);
    if (grant === undefined) {
      return failure(400, 'invalid_grant', 70000, "The provided value for the input parameter 'code' is not valid.");
    }
    if (grant.redeemed) {
      return failure(
        400,
        'invalid_grant',
        54005,
        'OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.',
      );
    }
    grant.redeemed = true;
    if (now() >= grant.expiresAt) {
      grants.delete(key);
      return failure(
        400,
        'invalid_grant',
        70008,
        'The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource.',
      );
    }
    if (grant.clientId !== client) {
      return failure(400, 'invalid_grant', 70000, "The provided value for the input parameter 'code' is not valid.");
    }
    const redirectUri = form.get('redirect_uri') ?? '';
    if (redirectUri !== grant.redirectUri) {
      return failure(
        400,
        'invalid_grant',
        50011,
        `The reply address '${redirectUri.slice(0, 300)}' does not match the reply address '${grant.redirectUri}' provided when requesting Authorization code.`,
      );
    }
    const verifier = form.get('code_verifier') ?? '';
    // Constant time: equal-length digests of the expected and the presented challenge.
    const matches =
      secretsMatch(digest(verifier).toString('base64url'), grant.challenge) && CODE_VERIFIER.test(verifier);
    if (!matches) {
      return failure(
        400,
        'invalid_grant',
        501481,
        'The Code_Verifier does not match the code_challenge supplied in the authorization request.',
      );
    }
    return { ok: true, reserved: grant.reserved, nonce: grant.nonce };
  };

  return { authorize, redeem };
}

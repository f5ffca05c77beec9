import type { RedeemedCode } from './authorizationCode';
import type { AssertionCheck } from './clientAssertion';
import { JWT_BEARER } from './clientAssertion';
import type { DeviceCodes } from './deviceCode';
import { secretsMatch } from './keys';
import type { Failure, Reply } from './replies';
import { aadError, failureReply, jsonReply, RESERVED_SCOPES, reservedScopes } from './replies';
import type { Tokens } from './tokens';

/**
 * The token endpoint's grants (`POST /{tenant}/oauth2/v2.0/token`): client credentials (a secret or a client
 * assertion), authorization code, device code and refresh token, with Entra's errors.
 */

export interface GrantOptions {
  readonly tenantId: string;
  readonly clientId: string;
  readonly clientSecret: string;
  /** The emulator's URL: the one resource a scope may name. */
  readonly audience: () => string;
  readonly tokenLifetimeMs: number;
  readonly tokens: Tokens;
  readonly deviceCodes: DeviceCodes;
  readonly checkAssertion: (assertion: string) => AssertionCheck;
  readonly redeemCode: (form: URLSearchParams, client: string) => RedeemedCode | Failure;
}

/** The resource a `scope` names (`<resource>/.default`, or `/user_impersonation` for a user), or why it is refused. */
export function scopeResource(
  scope: string | null,
  grant: 'client_credentials' | 'delegated',
  audience: string,
  tenantId: string,
): string | Omit<Failure, 'ok'> {
  const scopes = (scope ?? '').split(' ').filter((s) => s !== '' && !RESERVED_SCOPES.has(s));
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
}

export interface TokenEndpoint {
  /** `POST …/oauth2/v2.0/token`. */
  token(form: URLSearchParams): Reply;
  /** `POST …/oauth2/v2.0/devicecode`. */
  deviceCode(form: URLSearchParams): Reply;
}

export function tokenEndpoint(options: GrantOptions): TokenEndpoint {
  const { tenantId, clientId, clientSecret, tokens, deviceCodes } = options;

  /** The resource a `scope` names, or an error reply. */
  const resourceOf = (scope: string | null, grant: 'client_credentials' | 'delegated'): string | Reply => {
    const resource = scopeResource(scope, grant, options.audience(), tenantId);
    return typeof resource === 'string' ? resource : failureReply(resource);
  };

  /** An app-only token (client credentials): an access token and nothing about a user. */
  const appTokenReply = (client: string): Reply => {
    const expiresIn = Math.ceil(options.tokenLifetimeMs / 1000);
    return jsonReply(200, {
      token_type: 'Bearer',
      expires_in: expiresIn,
      ext_expires_in: expiresIn,
      access_token: tokens.accessToken(options.tokenLifetimeMs, client, false),
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
      access_token: tokens.accessToken(options.tokenLifetimeMs, client, true),
      ...(reserved.has('offline_access') ? { refresh_token: tokens.refreshToken() } : {}),
      ...(reserved.has('openid') ? { id_token: tokens.idToken(client, nonce) } : {}),
      ...(form.get('client_info') === '1' ? { client_info: tokens.clientInfo() } : {}),
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
      const checked = options.checkAssertion(form.get('client_assertion') ?? '');
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

  const clientCredentials = (form: URLSearchParams, client: string): Reply => {
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
  };

  const authorizationCode = (form: URLSearchParams, client: string): Reply => {
    if (client !== clientId) return unknownClient(client);
    const failure = credentialFailure(form);
    if (failure !== undefined) return failure;
    const redeemed = options.redeemCode(form, client);
    if (!redeemed.ok) return failureReply(redeemed);
    return userTokenReply(client, redeemed.reserved, form, redeemed.nonce);
  };

  const deviceCodeGrant = (form: URLSearchParams, client: string): Reply => {
    const redeemed = deviceCodes.redeem(form.get('device_code') ?? '', client);
    if (!('ok' in redeemed)) return redeemed;
    return userTokenReply(client, redeemed.reserved, form);
  };

  /**
   * The refresh-token grant: a new access token, ID token and refresh token for the same user. The old refresh
   * token stays valid until it expires, as Entra's do; tokens of an earlier run (another tenant) are unknown here.
   */
  const refresh = (form: URLSearchParams, client: string): Reply => {
    if (client !== clientId) return unknownClient(client);
    const state = tokens.redeemRefreshToken(form.get('refresh_token') ?? '');
    // `bad_token` tells MSAL to drop the refresh token and ask for interaction (a new sign-in).
    if (state === 'unknown') {
      return aadError(
        400,
        'invalid_grant',
        70000,
        "The provided value for the input parameter 'refresh_token' or 'assertion' is not valid.",
        { suberror: 'bad_token' },
      );
    }
    if (state === 'expired') {
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

  return {
    token(form) {
      const grant = form.get('grant_type');
      const client = form.get('client_id') ?? '';
      if (grant === 'client_credentials') return clientCredentials(form, client);
      if (grant === 'authorization_code') return authorizationCode(form, client);
      if (grant === 'urn:ietf:params:oauth:grant-type:device_code' || grant === 'device_code') {
        return deviceCodeGrant(form, client);
      }
      if (grant === 'refresh_token') return refresh(form, client);
      return aadError(
        400,
        'unsupported_grant_type',
        70003,
        `The app requested an unsupported grant type '${grant ?? ''}'.`,
      );
    },
    deviceCode(form) {
      const client = form.get('client_id') ?? '';
      if (client !== clientId) return unknownClient(client);
      const resource = resourceOf(form.get('scope'), 'delegated');
      if (typeof resource !== 'string') return resource;
      return deviceCodes.start(client, form.get('scope'));
    },
  };
}

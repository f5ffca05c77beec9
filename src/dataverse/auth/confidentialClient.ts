import { ConfidentialClientApplication, LogLevel } from '@azure/msal-node';
import type { AuthenticationResult, Configuration, INetworkModule } from '@azure/msal-node';
import { WorkbenchError } from '../../core/errors';
import { isJsonObject } from '../../core/json';
import type { Clock } from '../retryPolicy';
import type { AccessToken, TokenProvider } from '../webApiClient';
import { HttpsNetworkClient } from './networkClient';
import { RenewingToken } from './renewing';
import type { TokenCacheStorage } from './tokenCache';
import { tokenCachePlugin } from './tokenCache';

/** The origin of an environment URL, which every Dataverse scope starts with. */
export function scopeOrigin(environmentUrl: string): string {
  try {
    return new URL(environmentUrl).origin;
  } catch {
    throw new WorkbenchError('invalidInput', 'The environment URL is not a valid URL.');
  }
}

/** The `.default` scope of an environment, as Entra expects it for app-only tokens (reference §14). */
export function defaultScope(environmentUrl: string): string {
  return `${scopeOrigin(environmentUrl)}/.default`;
}

/**
 * MSAL's errors as the project's, with the identity provider's code (`invalid_client`, AADSTS number) and its
 * first sentence. The raw error is not kept as `cause`: it can carry request details, and no secret may reach
 * a log through an error chain.
 */
export function authError(error: unknown, secrets: readonly string[], where: string): WorkbenchError {
  let code: string | undefined;
  let detail = 'The identity provider refused the request.';
  if (isJsonObject(error)) {
    if (typeof error.errorCode === 'string' && error.errorCode !== '') code = error.errorCode;
    const message = typeof error.errorMessage === 'string' ? error.errorMessage : undefined;
    const first = message
      ?.split(/\r?\n| Trace ID:/)[0]
      ?.trim()
      .slice(0, 400);
    if (first !== undefined && first !== '') detail = first;
    else if (error instanceof Error && error.message !== '') detail = error.message.split('\n')[0] ?? detail;
  }
  let text = `Could not get a token from ${where}: ${code === undefined ? '' : `${code}: `}${detail}`;
  for (const secret of secrets) if (secret !== '') text = text.split(secret).join('***');
  return new WorkbenchError('auth', text, code === undefined ? {} : { code });
}

/** What every service-principal provider shares, whatever its credential. */
export interface ConfidentialClientOptions {
  /** `https://login.microsoftonline.com/<tenant>`, or the emulator's `authority`. */
  readonly authority: string;
  readonly clientId: string;
  /** The environment (organization) URL; the scope asked for is `<origin>/.default`. */
  readonly environmentUrl: string;
  /**
   * Hosts MSAL may trust without Entra's instance discovery: needed for any authority that is not a Microsoft
   * cloud (the emulator). Derived from `authority` when `trustedCertificate` is given.
   */
  readonly knownAuthorities?: readonly string[];
  /** PEM of a private identity endpoint's TLS certificate (the emulator's `certificate`). */
  readonly trustedCertificate?: string;
  /** Replaces the network client (takes precedence over `trustedCertificate`). */
  readonly networkClient?: INetworkModule;
  /** Persists MSAL's token cache (SecretStorage in the extension, a 0600 file in `dvw`). */
  readonly cacheStorage?: TokenCacheStorage;
  /** Refresh this long before expiry at most (default 5 minutes, MSAL's own renewal offset). */
  readonly refreshMarginMs?: number;
  readonly clock?: Clock;
}

/** The credential part of MSAL's `auth` configuration, and the texts no message may ever contain. */
export interface ConfidentialCredential {
  readonly auth: Pick<Configuration['auth'], 'clientSecret' | 'clientCertificate'>;
  readonly secrets: readonly string[];
}

/**
 * App-only tokens through MSAL's client-credentials flow, for Entra or the emulator's identity endpoint.
 * Tokens are held until a share of their lifetime before expiry and then renewed, so requests never start
 * with a token about to lapse; concurrent callers share one renewal.
 */
export class ConfidentialClientTokenProvider implements TokenProvider {
  readonly scope: string;
  private readonly app: ConfidentialClientApplication;
  private readonly secrets: readonly string[];
  private readonly host: string;
  private readonly renewing: RenewingToken;
  /** Tokens obtained from MSAL (network or its cache); tests read it. */
  acquisitions = 0;

  constructor(options: ConfidentialClientOptions, credential: ConfidentialCredential) {
    this.scope = defaultScope(options.environmentUrl);
    this.secrets = credential.secrets;
    this.renewing = new RenewingToken((force) => this.acquire(force), {
      ...(options.refreshMarginMs === undefined ? {} : { refreshMarginMs: options.refreshMarginMs }),
      ...(options.clock === undefined ? {} : { clock: options.clock }),
    });
    let authorityUrl: URL;
    try {
      authorityUrl = new URL(options.authority);
    } catch {
      throw new WorkbenchError('invalidInput', 'The authority is not a valid URL.');
    }
    this.host = authorityUrl.host;
    const knownAuthorities =
      options.knownAuthorities ?? (options.trustedCertificate === undefined ? [] : [authorityUrl.origin]);
    const networkClient =
      options.networkClient ??
      new HttpsNetworkClient(options.trustedCertificate === undefined ? {} : { ca: options.trustedCertificate });
    const configuration: Configuration = {
      auth: {
        clientId: options.clientId,
        authority: options.authority,
        ...credential.auth,
        knownAuthorities: [...knownAuthorities],
      },
      system: {
        networkClient,
        // MSAL's own log can name tenants and scopes; the project's log reports failures through WorkbenchError.
        loggerOptions: { logLevel: LogLevel.Error, piiLoggingEnabled: false, loggerCallback: () => undefined },
      },
      ...(options.cacheStorage === undefined ? {} : { cache: { cachePlugin: tokenCachePlugin(options.cacheStorage) } }),
    };
    this.app = new ConfidentialClientApplication(configuration);
  }

  /** A held token past its refresh point is renewed even if MSAL's cache would still hand it out. */
  getToken(signal: AbortSignal, options: { readonly forceRefresh?: boolean } = {}): Promise<AccessToken> {
    return this.renewing.get(signal, options.forceRefresh === true);
  }

  private async acquire(forceRefresh: boolean): Promise<AccessToken> {
    let result: AuthenticationResult | null;
    try {
      result = await this.app.acquireTokenByClientCredential({ scopes: [this.scope], skipCache: forceRefresh });
    } catch (error) {
      throw authError(error, this.secrets, this.host);
    }
    if (result === null || result.accessToken === '') {
      throw new WorkbenchError('auth', `Could not get a token from ${this.host}: the answer held no access token.`);
    }
    this.acquisitions += 1;
    return { token: result.accessToken, ...(result.expiresOn ? { expiresOn: result.expiresOn } : {}) };
  }
}

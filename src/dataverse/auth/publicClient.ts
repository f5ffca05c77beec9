import { InteractionRequiredAuthError, LogLevel, PublicClientApplication } from '@azure/msal-node';
import type { AccountInfo, AuthenticationResult, Configuration, INetworkModule } from '@azure/msal-node';
import { authorityOf } from '../../core/environments';
import { WorkbenchError } from '../../core/errors';
import { isJsonObject } from '../../core/json';
import type { AccessToken, TokenProvider } from '../webApiClient';
import { authError, scopeOrigin } from './confidentialClient';
import { HttpsNetworkClient } from './networkClient';
import type { RenewingOptions } from './renewing';
import { RenewingToken } from './renewing';
import type { TokenCacheStorage } from './tokenCache';
import { tokenCachePlugin } from './tokenCache';

/**
 * The client id Microsoft publishes for Dataverse samples and tools that sign users in without their own
 * app registration; a tenant that blocks it needs `clientId` of its own.
 */
export const DATAVERSE_SAMPLE_CLIENT_ID = '51f81489-12ee-4a9e-aaae-a2591f45987d';

export interface PublicClientOptions extends RenewingOptions {
  /** The environment (organization) URL; the scope asked for is `<origin>/user_impersonation`. */
  readonly environmentUrl: string;
  readonly clientId?: string;
  /** Default `https://login.microsoftonline.com/<tenantId or organizations>`. */
  readonly authority?: string;
  readonly tenantId?: string;
  /** PEM of a private identity endpoint's certificate (the emulator's); also trusts that authority. */
  readonly trustedCertificate?: string;
  readonly networkClient?: INetworkModule;
  readonly cacheStorage?: TokenCacheStorage;
}

/** What a device-code sign-in asks the user to do: Entra's message names the page and the code. */
export interface DeviceCodePrompt {
  readonly message: string;
  readonly userCode: string;
  readonly verificationUri: string;
}

export function delegatedScope(environmentUrl: string): string {
  return `${scopeOrigin(environmentUrl)}/user_impersonation`;
}

/**
 * Tokens for a signed-in user through MSAL's public-client flows. Silent renewal (MSAL's cache and refresh
 * token) comes first; only when that needs interaction does `signIn` run the flow, so a persisted cache
 * spares the user a sign-in per command.
 */
abstract class PublicClientTokenProvider implements TokenProvider {
  readonly scope: string;
  protected readonly app: PublicClientApplication;
  protected readonly host: string;
  private readonly renewing: RenewingToken;
  private account: AccountInfo | undefined;
  /** Interactive sign-ins run; tests read it. */
  signIns = 0;

  constructor(options: PublicClientOptions) {
    this.scope = delegatedScope(options.environmentUrl);
    const authority = options.authority ?? authorityOf(options);
    let authorityUrl: URL;
    try {
      authorityUrl = new URL(authority);
    } catch {
      throw new WorkbenchError('invalidInput', 'The authority is not a valid URL.');
    }
    this.host = authorityUrl.host;
    const configuration: Configuration = {
      auth: {
        clientId: options.clientId ?? DATAVERSE_SAMPLE_CLIENT_ID,
        authority,
        knownAuthorities: options.trustedCertificate === undefined ? [] : [authorityUrl.origin],
      },
      system: {
        networkClient:
          options.networkClient ??
          new HttpsNetworkClient(options.trustedCertificate === undefined ? {} : { ca: options.trustedCertificate }),
        loggerOptions: { logLevel: LogLevel.Error, piiLoggingEnabled: false, loggerCallback: () => undefined },
      },
      ...(options.cacheStorage === undefined ? {} : { cache: { cachePlugin: tokenCachePlugin(options.cacheStorage) } }),
    };
    this.app = new PublicClientApplication(configuration);
    this.renewing = new RenewingToken((force) => this.acquire(force), options);
  }

  getToken(signal: AbortSignal, options: { readonly forceRefresh?: boolean } = {}): Promise<AccessToken> {
    return this.renewing.get(signal, options.forceRefresh === true);
  }

  protected abstract signIn(): Promise<AuthenticationResult | null>;

  private async acquire(force: boolean): Promise<AccessToken> {
    let result: AuthenticationResult | null | undefined = await this.silent(force);
    if (result === undefined) {
      this.signIns += 1;
      try {
        result = await this.signIn();
      } catch (error) {
        if (error instanceof WorkbenchError) throw error;
        throw authError(error, [], this.host);
      }
    }
    if (result === null || result === undefined || result.accessToken === '') {
      throw new WorkbenchError('auth', `Could not get a token from ${this.host}: the answer held no access token.`);
    }
    if (result.account !== null) this.account = result.account;
    return { token: result.accessToken, ...(result.expiresOn === null ? {} : { expiresOn: result.expiresOn }) };
  }

  /** Undefined when interaction is needed: no account yet, or MSAL has no refresh token that still works. */
  private async silent(force: boolean): Promise<AuthenticationResult | undefined> {
    const account = this.account ?? (await this.app.getAllAccounts())[0];
    if (account === undefined) return undefined;
    try {
      return await this.app.acquireTokenSilent({ account, scopes: [this.scope], forceRefresh: force });
    } catch (error) {
      if (error instanceof InteractionRequiredAuthError || isRecoverable(error)) return undefined;
      throw authError(error, [], this.host);
    }
  }
}

/** MSAL's silent-flow errors that mean "sign in again" without being `InteractionRequiredAuthError`. */
function isRecoverable(error: unknown): boolean {
  const code = isJsonObject(error) ? error.errorCode : undefined;
  return code === 'no_tokens_found' || code === 'refresh_token_expired' || code === 'token_refresh_required';
}

export interface DeviceCodeOptions extends PublicClientOptions {
  /** Shows the sign-in instructions (stderr in `dvw`, a notification in VS Code). */
  readonly onDeviceCode: (prompt: DeviceCodePrompt) => void;
  /** Give up waiting for the user after this many seconds (default: the code's own lifetime). */
  readonly timeoutSeconds?: number;
}

/** Device-code sign-in (`acquireTokenByDeviceCode`): for terminals and machines without a browser. */
export class DeviceCodeTokenProvider extends PublicClientTokenProvider {
  private readonly onDeviceCode: DeviceCodeOptions['onDeviceCode'];
  private readonly timeoutSeconds: number | undefined;

  constructor(options: DeviceCodeOptions) {
    super(options);
    this.onDeviceCode = options.onDeviceCode;
    this.timeoutSeconds = options.timeoutSeconds;
  }

  protected signIn(): Promise<AuthenticationResult | null> {
    return this.app.acquireTokenByDeviceCode({
      scopes: [this.scope],
      deviceCodeCallback: (response) =>
        this.onDeviceCode({
          message: response.message,
          userCode: response.userCode,
          verificationUri: response.verificationUri,
        }),
      ...(this.timeoutSeconds === undefined ? {} : { timeout: this.timeoutSeconds }),
    });
  }
}

export interface InteractiveOptions extends PublicClientOptions {
  /** Opens the sign-in page (the system browser); MSAL listens on a loopback redirect meanwhile. */
  readonly openBrowser: (url: string) => Promise<void>;
  readonly successTemplate?: string;
  readonly errorTemplate?: string;
}

/**
 * Browser sign-in: authorization code with PKCE on a loopback redirect (`http://localhost:<free port>`),
 * all done by MSAL's `acquireTokenInteractive`, which generates the verifier and checks `state`.
 */
export class InteractiveTokenProvider extends PublicClientTokenProvider {
  private readonly options: InteractiveOptions;

  constructor(options: InteractiveOptions) {
    super(options);
    this.options = options;
  }

  protected signIn(): Promise<AuthenticationResult | null> {
    return this.app.acquireTokenInteractive({
      scopes: [this.scope],
      openBrowser: this.options.openBrowser,
      successTemplate: this.options.successTemplate ?? 'Signed in to Dataverse Workbench. You can close this page.',
      errorTemplate: this.options.errorTemplate ?? 'Sign-in failed. Return to Dataverse Workbench for details.',
    });
  }
}

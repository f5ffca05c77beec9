import { readFile } from 'node:fs/promises';
import * as vscode from 'vscode';
import type { EnvironmentAuth, EnvironmentConfig } from '../../core/environments';
import { WorkbenchError } from '../../core/errors';
import type { DeviceCodePrompt } from '../../dataverse/auth/index';
import {
  AzureCliTokenProvider,
  ClientSecretTokenProvider,
  DeviceCodeTokenProvider,
  InteractiveTokenProvider,
} from '../../dataverse/auth/index';
import type { AccessToken, TokenProvider } from '../../dataverse/webApiClient';
import { certificateTokenProvider } from './clientCertificate';
import type { EnvironmentSecrets } from './environmentSecrets';

/** What a sign-in needs to show the user: VS Code's notifications and browser, replaceable in tests. */
export interface SignInUi {
  openExternal(url: string): Promise<void>;
  showDeviceCode(environment: string, prompt: DeviceCodePrompt): void;
}

export const vscodeSignInUi: SignInUi = {
  async openExternal(url) {
    if (!(await openWebPage(url))) throw new WorkbenchError('cancelled', 'The sign-in page was not opened.');
  },
  showDeviceCode(environment, prompt) {
    const action = 'Copy & Open';
    void vscode.window
      .showInformationMessage(
        `Sign in to ${environment}: open ${prompt.verificationUri} and enter the code ${prompt.userCode}.`,
        action,
      )
      .then(async (choice) => {
        if (choice !== action) return;
        await vscode.env.clipboard.writeText(prompt.userCode);
        await openWebPage(prompt.verificationUri);
      });
  },
};

/**
 * Opens an http(s) page given as text. The text is handed to `openExternal` as is: a `vscode.Uri` decodes
 * and re-encodes the query, which corrupts the percent-encoded `redirect_uri` and `scope` of an authorize URL
 * (microsoft/vscode#83610, #85930); the extension host accepts the string and keeps it verbatim.
 */
async function openWebPage(url: string): Promise<boolean> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new WorkbenchError('auth', 'The sign-in page is not a web address.');
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
    throw new WorkbenchError('auth', 'The sign-in page is not a web address.');
  }
  return vscode.env.openExternal(url as unknown as vscode.Uri);
}

const DEFAULT_AUTHORITY_HOST = 'https://login.microsoftonline.com';

/**
 * The token provider for a configured environment's sign-in method. Everything that needs SecretStorage or
 * the disk (the client secret, a certificate or CA file) is read on the first token request, not when the
 * client is built: building must stay synchronous and free of I/O, and a secret replaced later is read afresh
 * by a new client.
 */
export function environmentTokenProvider(
  environment: EnvironmentConfig,
  secrets: EnvironmentSecrets,
  ui: SignInUi,
): TokenProvider {
  const auth: EnvironmentAuth = environment.auth ?? { method: 'microsoftAccount' };
  switch (auth.method) {
    case 'microsoftAccount':
      return vscodeMicrosoftTokenProvider(environment.url, auth);
    case 'azureCli':
      return new AzureCliTokenProvider({
        environmentUrl: environment.url,
        ...(auth.tenantId === undefined ? {} : { tenantId: auth.tenantId }),
      });
    case 'clientSecret':
      return lazyProvider(async () => {
        const secret = await secrets.clientSecret(environment.name);
        if (secret === undefined) {
          throw new WorkbenchError(
            'auth',
            `No client secret is stored for "${environment.name}" on this machine: run "Dataverse: Edit Environment…" and replace the client secret.`,
          );
        }
        const certificate = await readCaFile(environment.name, auth.caFile);
        if (auth.clientId === undefined) {
          throw new WorkbenchError('invalidInput', `"${environment.name}" has no client id in its settings.`);
        }
        return new ClientSecretTokenProvider({
          authority: authorityOf(auth),
          clientId: auth.clientId,
          clientSecret: secret,
          environmentUrl: environment.url,
          cacheStorage: secrets.tokenCache(environment.name),
          ...(certificate === undefined ? {} : { trustedCertificate: certificate }),
        });
      });
    case 'clientCertificate':
      return lazyProvider(async () => {
        if (auth.clientId === undefined || auth.certificateFile === undefined) {
          throw new WorkbenchError(
            'invalidInput',
            `"${environment.name}" needs a client id and a certificate file in its settings.`,
          );
        }
        const certificate = await readCaFile(environment.name, auth.caFile);
        // The key is read from the user's file here, on first use, and kept in memory only.
        return certificateTokenProvider(
          {
            file: auth.certificateFile,
            authority: authorityOf(auth),
            clientId: auth.clientId,
            environmentUrl: environment.url,
            cacheStorage: secrets.tokenCache(environment.name),
            ...(certificate === undefined ? {} : { trustedCertificate: certificate }),
          },
          `Fix the certificate file of "${environment.name}", or choose another with "Dataverse: Edit Environment…" (Sign-in method).`,
        );
      });
    case 'deviceCode':
    case 'browser':
      return lazyProvider(async () => {
        const certificate = await readCaFile(environment.name, auth.caFile);
        const common = {
          environmentUrl: environment.url,
          cacheStorage: secrets.tokenCache(environment.name),
          ...(auth.authority === undefined ? {} : { authority: auth.authority }),
          ...(auth.tenantId === undefined ? {} : { tenantId: auth.tenantId }),
          ...(auth.clientId === undefined ? {} : { clientId: auth.clientId }),
          ...(certificate === undefined ? {} : { trustedCertificate: certificate }),
        };
        return auth.method === 'deviceCode'
          ? new DeviceCodeTokenProvider({
              ...common,
              onDeviceCode: (prompt) => ui.showDeviceCode(environment.name, prompt),
            })
          : new InteractiveTokenProvider({ ...common, openBrowser: (url) => ui.openExternal(url) });
      });
  }
}

/** The authority MSAL is given: the configured one, or Entra's for the tenant. */
export function authorityOf(auth: Pick<EnvironmentAuth, 'authority' | 'tenantId'>): string {
  return auth.authority ?? `${DEFAULT_AUTHORITY_HOST}/${auth.tenantId ?? 'organizations'}`;
}

async function readCaFile(environment: string, path: string | undefined): Promise<string | undefined> {
  if (path === undefined) return undefined;
  try {
    return await readFile(path, 'utf8');
  } catch {
    throw new WorkbenchError(
      'invalidInput',
      `The CA file of "${environment}" (${path}) could not be read: fix auth.caFile in its settings.`,
    );
  }
}

/** Builds the real provider on first use and keeps it, so MSAL's in-memory state lives as long as the client. */
function lazyProvider(create: () => Promise<TokenProvider>): TokenProvider {
  let provider: Promise<TokenProvider> | undefined;
  return {
    async getToken(signal, options): Promise<AccessToken> {
      provider ??= create().catch((error: unknown) => {
        // A missing secret or unreadable file may be fixed before the next try.
        provider = undefined;
        throw error;
      });
      return (await provider).getToken(signal, options);
    },
  };
}

/**
 * Signs in with the Microsoft account VS Code already knows (its built-in `microsoft` authentication
 * provider), asking for the environment's `/.default` scope as Dataverse expects. A tenant that blocks VS
 * Code's own app gets its app registration through the provider's `VSCODE_CLIENT_ID:` and `VSCODE_TENANT:`
 * pseudo-scopes.
 */
export function vscodeMicrosoftTokenProvider(
  url: string,
  auth: Pick<EnvironmentAuth, 'tenantId' | 'clientId'> = {},
): TokenProvider {
  const scopes = [`${new URL(url).origin}/.default`];
  if (auth.clientId !== undefined) scopes.push(`VSCODE_CLIENT_ID:${auth.clientId}`);
  if (auth.tenantId !== undefined) scopes.push(`VSCODE_TENANT:${auth.tenantId}`);
  return {
    async getToken(_signal, options): Promise<AccessToken> {
      const session = await vscode.authentication.getSession('microsoft', scopes, {
        createIfNone: true,
        ...(options?.forceRefresh ? { forceNewSession: { detail: 'Dataverse rejected the previous sign-in.' } } : {}),
      });
      return { token: session.accessToken };
    },
  };
}

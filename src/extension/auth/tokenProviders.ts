import * as vscode from 'vscode';
import type { EnvironmentAuth, EnvironmentConfig } from '../../core/environments';
import { WorkbenchError } from '../../core/errors';
import { tokenProviderFor } from '../../dataverse/auth/index';
import type { AccessToken, TokenProvider } from '../../dataverse/webApiClient';
import type { EnvironmentSecrets } from './environmentSecrets';
import type { SignInUi } from './signInPorts';
import { extensionSignInPorts } from './signInPorts';

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

/**
 * The token provider for a configured environment: the shared factory, with VS Code's ports (SecretStorage
 * for the client secret and MSAL's cache, notifications and the browser for sign-in, VS Code's own
 * Microsoft account).
 */
export function environmentTokenProvider(
  environment: EnvironmentConfig,
  secrets: EnvironmentSecrets,
  ui: SignInUi,
): TokenProvider {
  return tokenProviderFor(
    { name: environment.name, url: environment.url, auth: environment.auth ?? { method: 'microsoftAccount' } },
    extensionSignInPorts(environment.name, secrets, ui, vscodeMicrosoftTokenProvider),
  );
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

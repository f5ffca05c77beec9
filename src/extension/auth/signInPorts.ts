import type { EnvironmentAuth } from '../../core/environments';
import { WorkbenchError } from '../../core/errors';
import type { DeviceCodePrompt, SignInPorts } from '../../dataverse/auth/index';
import type { TokenProvider } from '../../dataverse/webApiClient';
import type { EnvironmentSecrets } from './environmentSecrets';

// No `vscode` import: the extension's side of the shared sign-in is tested in plain Node beside `dvw`'s.

/** What a sign-in needs to show the user: VS Code's notifications and browser, replaceable in tests. */
export interface SignInUi {
  openExternal(url: string): Promise<void>;
  showDeviceCode(environment: string, prompt: DeviceCodePrompt): void;
}

/**
 * The extension's ports for the shared sign-in factory: SecretStorage for the client secret and MSAL's
 * cache, VS Code's notifications and browser, VS Code's own Microsoft account, and fixes that name the
 * extension's commands and settings.
 */
export function extensionSignInPorts(
  name: string,
  secrets: EnvironmentSecrets,
  ui: SignInUi,
  microsoftAccount: (url: string, auth: EnvironmentAuth) => TokenProvider,
): SignInPorts {
  return {
    clientSecret: () => secrets.clientSecret(name),
    missingSecret: () =>
      new WorkbenchError(
        'auth',
        `No client secret is stored for "${name}" on this machine: run "Dataverse: Edit Environment…" and replace the client secret.`,
      ),
    showDeviceCode: (prompt) => ui.showDeviceCode(name, prompt),
    openBrowser: (url) => ui.openExternal(url),
    tokenCache: secrets.tokenCache(name),
    microsoftAccount,
    certificateFix: `Fix the certificate file of "${name}", or choose another with "Dataverse: Edit Environment…" (Sign-in method).`,
    caFileFix: 'Fix auth.caFile in its settings.',
  };
}

import { readFile, stat } from 'node:fs/promises';
import type { EnvironmentAuth } from '../../core/environments';
import { authorityOf } from '../../core/environments';
import { WorkbenchError } from '../../core/errors';
import type { AccessToken, TokenProvider } from '../webApiClient';
import { AzureCliTokenProvider } from './azureCli';
import { ClientCertificateTokenProvider, splitCertificatePem } from './clientCertificate';
import { ClientSecretTokenProvider } from './clientSecret';
import type { DeviceCodePrompt } from './publicClient';
import { DeviceCodeTokenProvider, InteractiveTokenProvider } from './publicClient';
import type { TokenCacheStorage } from './tokenCache';

/** A PEM key with a certificate chain is a few KB; anything this large was picked by mistake. */
const MAX_PEM_BYTES = 1024 * 1024;

/** What a front end does when the certificate file is refused: the default, or a front end's own words. */
export const CHOOSE_ANOTHER_PEM =
  'Choose a PEM file with both the unencrypted private key and the certificate registered on the app registration (e.g. made with: cat key.pem cert.pem > app.pem).';

/** The environment a token is for: its name for messages, its organization URL, and how it signs in. */
export interface SignInTarget {
  readonly name: string;
  readonly url: string;
  readonly auth: EnvironmentAuth;
}

/**
 * What a front end supplies to a sign-in (httpyac's io ports): where the client secret comes from, how the
 * user is shown a device code or the browser page, where MSAL keeps its tokens. The extension answers with
 * SecretStorage and notifications, `dvw` with environment variables, a hidden prompt and stderr.
 */
export interface SignInPorts {
  /** The client secret of a `clientSecret` environment, or undefined when there is none. */
  readonly clientSecret: () => Promise<string | undefined>;
  /** The error when `clientSecret` has none: says where this front end expects it. */
  readonly missingSecret: () => WorkbenchError;
  readonly showDeviceCode: (prompt: DeviceCodePrompt) => void;
  readonly openBrowser: (url: string) => Promise<void>;
  /** MSAL's persistent cache (SecretStorage, or `dvw`'s 0600 file); absent: memory only. */
  readonly tokenCache?: TokenCacheStorage;
  /** Where to look for `az` (default: this process's PATH). */
  readonly azureCliPath?: string;
  /** VS Code's own Microsoft account; a front end without it refuses `microsoftAccount`. */
  readonly microsoftAccount?: (url: string, auth: EnvironmentAuth) => TokenProvider;
  /** Told every secret handed to a provider, so the front end can mask it in its own messages. */
  readonly onSecret?: (secret: string) => void;
  /** Appended to a refused certificate file's problem: how to choose another in this front end. */
  readonly certificateFix?: string;
  /** Appended to an unreadable CA file's problem: where this front end keeps its path. */
  readonly caFileFix?: string;
}

/**
 * The token provider for an environment, whatever front end asks: one factory for every sign-in method.
 * Building is synchronous and free of I/O; the secret and the certificate and CA files are read on the first
 * token request (a secret replaced later is read afresh by a new provider). `createTokenProvider` does the
 * same reading at once, for front ends that want problems before they start work.
 */
export function tokenProviderFor(target: SignInTarget, ports: SignInPorts): TokenProvider {
  if (target.auth.method === 'microsoftAccount') return microsoftAccount(target, ports);
  let provider: Promise<TokenProvider> | undefined;
  return {
    async getToken(signal, options): Promise<AccessToken> {
      provider ??= createTokenProvider(target, ports).catch((error: unknown) => {
        // A missing secret or unreadable file may be fixed before the next try.
        provider = undefined;
        throw error;
      });
      return (await provider).getToken(signal, options);
    },
  };
}

/** Reads what the method needs (secret, certificate, CA file) and builds its provider. */
export async function createTokenProvider(target: SignInTarget, ports: SignInPorts): Promise<TokenProvider> {
  const { auth, url } = target;
  switch (auth.method) {
    case 'microsoftAccount':
      return microsoftAccount(target, ports);
    case 'azureCli':
      return new AzureCliTokenProvider({
        environmentUrl: url,
        ...(auth.tenantId === undefined ? {} : { tenantId: auth.tenantId }),
        ...(ports.azureCliPath === undefined ? {} : { path: ports.azureCliPath }),
      });
    case 'clientSecret': {
      const clientId = requireClientId(target);
      const secret = await ports.clientSecret();
      if (secret === undefined || secret === '') throw ports.missingSecret();
      ports.onSecret?.(secret);
      const trusted = await readCaFile(target, ports);
      return invalidOnRefusal(
        () =>
          new ClientSecretTokenProvider({
            authority: authorityOf(auth),
            clientId,
            clientSecret: secret,
            environmentUrl: url,
            ...cacheAndTrust(ports, trusted),
          }),
      );
    }
    case 'clientCertificate': {
      const clientId = requireClientId(target);
      if (auth.certificateFile === undefined) {
        throw new WorkbenchError('invalidInput', `"${target.name}" has no certificate file.`);
      }
      const trusted = await readCaFile(target, ports);
      return certificateTokenProvider(
        { file: auth.certificateFile, authority: authorityOf(auth), clientId, environmentUrl: url },
        ports.certificateFix ?? CHOOSE_ANOTHER_PEM,
        { ...cacheAndTrust(ports, trusted), ...(ports.onSecret === undefined ? {} : { onKey: ports.onSecret }) },
      );
    }
    case 'deviceCode':
    case 'browser': {
      const trusted = await readCaFile(target, ports);
      const common = {
        environmentUrl: url,
        authority: authorityOf(auth),
        ...(auth.clientId === undefined ? {} : { clientId: auth.clientId }),
        ...cacheAndTrust(ports, trusted),
      };
      return auth.method === 'deviceCode'
        ? new DeviceCodeTokenProvider({ ...common, onDeviceCode: ports.showDeviceCode })
        : new InteractiveTokenProvider({ ...common, openBrowser: ports.openBrowser });
    }
  }
}

function microsoftAccount(target: SignInTarget, ports: SignInPorts): TokenProvider {
  if (ports.microsoftAccount === undefined) {
    throw new WorkbenchError(
      'invalidInput',
      `"${target.name}" signs in with VS Code's Microsoft account, which only VS Code can use: choose deviceCode or browser here.`,
    );
  }
  return ports.microsoftAccount(target.url, target.auth);
}

function requireClientId(target: SignInTarget): string {
  if (target.auth.clientId === undefined) {
    throw new WorkbenchError('invalidInput', `"${target.name}" has no client id (the app registration).`);
  }
  return target.auth.clientId;
}

function cacheAndTrust(
  ports: SignInPorts,
  trusted: string | undefined,
): { cacheStorage?: TokenCacheStorage; trustedCertificate?: string } {
  return {
    ...(ports.tokenCache === undefined ? {} : { cacheStorage: ports.tokenCache }),
    ...(trusted === undefined ? {} : { trustedCertificate: trusted }),
  };
}

/** MSAL's own checks of its options (an authority that is not a URL) are the user's to fix. */
function invalidOnRefusal<T>(build: () => T): T {
  try {
    return build();
  } catch (error) {
    if (error instanceof WorkbenchError) throw new WorkbenchError('invalidInput', error.message);
    throw error;
  }
}

/** The PEM certificate a loopback authority's TLS is trusted with (the emulator's self-signed one). */
async function readCaFile(target: SignInTarget, ports: SignInPorts): Promise<string | undefined> {
  const file = target.auth.caFile;
  if (file === undefined) return undefined;
  const fix = ports.caFileFix === undefined ? '' : ` ${ports.caFileFix}`;
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    throw new WorkbenchError('invalidInput', `The CA file of "${target.name}" (${file}) could not be read.${fix}`);
  }
  if (!text.includes('-----BEGIN CERTIFICATE-----')) {
    throw new WorkbenchError(
      'invalidInput',
      `The CA file of "${target.name}" (${file}) holds no PEM certificate.${fix}`,
    );
  }
  return text;
}

export interface CertificateSignIn {
  /** Absolute path of the PEM file (key and certificate); only this path is kept in settings. */
  readonly file: string;
  readonly authority: string;
  readonly clientId: string;
  readonly environmentUrl: string;
}

/**
 * Reads a PEM file and builds the token provider for it: `splitCertificatePem` (a private key, not encrypted,
 * and a certificate), then the provider's own checks (the key can be read and belongs to the certificate).
 * They run when the file is chosen and again at sign-in, since the file may change in between. The key is
 * kept in memory only; problems name the file and `fix` says what to do, never the content.
 */
export async function certificateTokenProvider(
  options: CertificateSignIn,
  fix: string = CHOOSE_ANOTHER_PEM,
  extra: {
    readonly cacheStorage?: TokenCacheStorage;
    readonly trustedCertificate?: string;
    /** Told the private key's PEM once read, for a front end that masks it in its messages. */
    readonly onKey?: (privateKey: string) => void;
  } = {},
): Promise<ClientCertificateTokenProvider> {
  const { file } = options;
  let text: string;
  try {
    const info = await stat(file);
    if (!info.isFile()) throw refused(`${file} is not a file.`, fix);
    if (info.size > MAX_PEM_BYTES) throw refused(`${file} is too large to be a PEM certificate file.`, fix);
    text = await readFile(file, 'utf8');
  } catch (error) {
    if (error instanceof WorkbenchError) throw error;
    throw refused(`${file} could not be read.`, fix);
  }
  let credential: { privateKey: string; certificate: string };
  try {
    credential = splitCertificatePem(text, file);
  } catch (error) {
    if (error instanceof WorkbenchError) throw refused(error.message, fix);
    throw error;
  }
  extra.onKey?.(credential.privateKey);
  const { onKey: _onKey, ...msal } = extra;
  try {
    return new ClientCertificateTokenProvider({ ...options, ...credential, ...msal });
  } catch (error) {
    // "The private key does not belong to the client certificate." and its kin: name the file they came from.
    if (error instanceof WorkbenchError) throw refused(`${file}: ${error.message}`, fix);
    throw error;
  }
}

function refused(problem: string, fix: string): WorkbenchError {
  return new WorkbenchError('invalidInput', `${problem} ${fix}`);
}

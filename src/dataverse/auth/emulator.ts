import { readFileSync } from 'node:fs';
import { WorkbenchError } from '../../core/errors';
import type { ClientSecretOptions } from './clientSecret';
import { ClientSecretTokenProvider } from './clientSecret';

/** The identity fields of `dvw emulator --json` (and of `startEmulator`'s result). */
export interface EmulatorIdentity {
  readonly url: string;
  readonly authority: string;
  readonly clientId: string;
  readonly clientSecret: string;
  /** PEM text, or read from `certificatePath`. */
  readonly certificate?: string;
  readonly certificatePath?: string;
}

/**
 * A client-credentials provider pointed at the local emulator's identity endpoint: the same MSAL code path as
 * for Entra, with the emulator's authority trusted explicitly and its self-signed certificate trusted by this
 * client only.
 */
export function emulatorTokenProvider(
  identity: EmulatorIdentity,
  options: Pick<ClientSecretOptions, 'cacheStorage' | 'refreshMarginMs' | 'clock'> = {},
): ClientSecretTokenProvider {
  let certificate = identity.certificate;
  if (certificate === undefined && identity.certificatePath !== undefined) {
    try {
      certificate = readFileSync(identity.certificatePath, 'utf8');
    } catch (cause) {
      throw new WorkbenchError('invalidInput', "The emulator's certificate file could not be read.", { cause });
    }
  }
  if (certificate === undefined) {
    throw new WorkbenchError('invalidInput', "The emulator's certificate is needed to trust its identity endpoint.");
  }
  return new ClientSecretTokenProvider({
    authority: identity.authority,
    clientId: identity.clientId,
    clientSecret: identity.clientSecret,
    environmentUrl: identity.url,
    trustedCertificate: certificate,
    ...options,
  });
}

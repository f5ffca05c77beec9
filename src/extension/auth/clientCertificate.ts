import { readFile, stat } from 'node:fs/promises';
import { WorkbenchError } from '../../core/errors';
import type { TokenCacheStorage } from '../../dataverse/auth/index';
import { ClientCertificateTokenProvider, splitCertificatePem } from '../../dataverse/auth/index';

// No `vscode` import: the checks a chosen PEM file goes through are tested in plain Node.

/** A PEM key with a certificate chain is a few KB; anything this large was picked by mistake. */
const MAX_PEM_BYTES = 1024 * 1024;

/** What the user can do about a file that is refused when it is chosen. */
export const CHOOSE_ANOTHER_PEM =
  'Choose a PEM file with both the unencrypted private key and the certificate registered on the app registration (e.g. made with: cat key.pem cert.pem > app.pem).';

export interface CertificateSignIn {
  /** Absolute path of the PEM file (key and certificate); only this path is kept in settings. */
  readonly file: string;
  readonly authority: string;
  readonly clientId: string;
  readonly environmentUrl: string;
  /** PEM of a loopback authority's TLS certificate (the emulator's). */
  readonly trustedCertificate?: string;
  readonly cacheStorage?: TokenCacheStorage;
}

/**
 * Reads the PEM file and builds the token provider for it. The checks are `dvw`'s: `splitCertificatePem`
 * (a private key, not encrypted, and a certificate), then the provider's own (the key can be read and belongs
 * to the certificate). They run when the file is chosen and again at sign-in, since the file may change in
 * between. The key is kept in memory only; problems name the file and `fix` says what to do, never the content.
 */
export async function certificateTokenProvider(
  options: CertificateSignIn,
  fix: string = CHOOSE_ANOTHER_PEM,
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
  try {
    return new ClientCertificateTokenProvider({
      authority: options.authority,
      clientId: options.clientId,
      environmentUrl: options.environmentUrl,
      ...credential,
      ...(options.trustedCertificate === undefined ? {} : { trustedCertificate: options.trustedCertificate }),
      ...(options.cacheStorage === undefined ? {} : { cacheStorage: options.cacheStorage }),
    });
  } catch (error) {
    // "The private key does not belong to the client certificate." and its kin: name the file they came from.
    if (error instanceof WorkbenchError) throw refused(`${file}: ${error.message}`, fix);
    throw error;
  }
}

function refused(problem: string, fix: string): WorkbenchError {
  return new WorkbenchError('invalidInput', `${problem} ${fix}`);
}

import { createHash, createPrivateKey, X509Certificate } from 'node:crypto';
import { WorkbenchError } from '../../core/errors';
import type { ConfidentialClientOptions } from './confidentialClient';
import { ConfidentialClientTokenProvider } from './confidentialClient';

export interface ClientCertificateOptions extends ConfidentialClientOptions {
  /** PEM of the private key (PKCS#8 or PKCS#1); it signs the client assertion and goes nowhere else. */
  readonly privateKey: string;
  /** PEM of the certificate registered on the app (the chain may follow it), for its thumbprint and `x5c`. */
  readonly certificate: string;
  /** Send the chain in the `x5c` header (subject name/issuer authentication); off by default. */
  readonly sendX5c?: boolean;
}

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]+?-----END \1-----/g;

/**
 * The private key and certificate(s) of one PEM file, as `az login --service-principal --certificate`
 * takes it (key and certificate together). Problems name the file, never its content.
 */
export function splitCertificatePem(text: string, file: string): { privateKey: string; certificate: string } {
  let privateKey: string | undefined;
  const certificates: string[] = [];
  for (const match of text.matchAll(PEM_BLOCK)) {
    if (match[1] === 'CERTIFICATE') certificates.push(match[0]);
    else if (match[1]?.endsWith('PRIVATE KEY') === true) {
      if (match[1] === 'ENCRYPTED PRIVATE KEY') {
        throw new WorkbenchError('invalidInput', `${file} holds an encrypted private key: use an unencrypted PEM.`);
      }
      privateKey ??= match[0];
    }
  }
  if (privateKey === undefined) throw new WorkbenchError('invalidInput', `${file} holds no PEM private key.`);
  if (certificates.length === 0) throw new WorkbenchError('invalidInput', `${file} holds no PEM certificate.`);
  return { privateKey, certificate: certificates.join('\n') };
}

/**
 * App-only tokens for a service principal with a certificate: MSAL signs a `client_assertion` JWT with the
 * private key, naming the certificate by its SHA-256 thumbprint (`x5t#S256`). Renewal as for the client
 * secret: before expiry, concurrent callers sharing one request.
 */
export class ClientCertificateTokenProvider extends ConfidentialClientTokenProvider {
  /** Hex SHA-256 thumbprint of the certificate: what the app registration lists. */
  readonly thumbprint: string;

  constructor(options: ClientCertificateOptions) {
    const { thumbprint, privateKey } = readCredential(options);
    // The key in PEM and its base64 body: neither may reach a message, whatever MSAL echoes.
    const keyBody = privateKey.replace(/-----[A-Z ]+-----|\s/g, '');
    super(options, {
      auth: {
        clientCertificate: {
          thumbprintSha256: thumbprint,
          privateKey,
          ...(options.sendX5c === true ? { x5c: options.certificate } : {}),
        },
      },
      secrets: [privateKey, keyBody],
    });
    this.thumbprint = thumbprint;
  }
}

/** The certificate's thumbprint and the key as PKCS#8 PEM, after checking that they belong together. */
function readCredential(options: ClientCertificateOptions): { thumbprint: string; privateKey: string } {
  let privateKey: string;
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(options.certificate);
  } catch {
    throw new WorkbenchError('invalidInput', 'The client certificate is not a PEM certificate.');
  }
  try {
    // MSAL wants PKCS#8; a PKCS#1 ("RSA PRIVATE KEY") file works as well after conversion.
    const key = createPrivateKey(options.privateKey);
    if (!certificate.checkPrivateKey(key)) {
      throw new WorkbenchError('invalidInput', 'The private key does not belong to the client certificate.');
    }
    privateKey = key.export({ type: 'pkcs8', format: 'pem' }).toString();
  } catch (error) {
    if (error instanceof WorkbenchError) throw error;
    throw new WorkbenchError('invalidInput', 'The private key of the client certificate could not be read.');
  }
  return { thumbprint: createHash('sha256').update(certificate.raw).digest('hex').toUpperCase(), privateKey };
}

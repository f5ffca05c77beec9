import { ConfidentialClientApplication, LogLevel } from '@azure/msal-node';
import type { AuthenticationResult, Configuration, INetworkModule } from '@azure/msal-node';
import { createHash, createPrivateKey, X509Certificate } from 'node:crypto';
import { WorkbenchError } from '../../core/errors';
import type { Clock } from '../retryPolicy';
import type { AccessToken, TokenProvider } from '../webApiClient';
import { authError, defaultScope } from './clientSecret';
import { HttpsNetworkClient } from './networkClient';
import { RenewingToken } from './renewing';
import type { TokenCacheStorage } from './tokenCache';
import { tokenCachePlugin } from './tokenCache';

export interface ClientCertificateOptions {
  /** `https://login.microsoftonline.com/<tenant>`, or the emulator's `authority`. */
  readonly authority: string;
  readonly clientId: string;
  /** PEM of the private key (PKCS#8 or PKCS#1); it signs the client assertion and goes nowhere else. */
  readonly privateKey: string;
  /** PEM of the certificate registered on the app (the chain may follow it), for its thumbprint and `x5c`. */
  readonly certificate: string;
  /** Send the chain in the `x5c` header (subject name/issuer authentication); off by default. */
  readonly sendX5c?: boolean;
  /** The environment (organization) URL; the scope asked for is `<origin>/.default`. */
  readonly environmentUrl: string;
  readonly knownAuthorities?: readonly string[];
  /** PEM of a private identity endpoint's TLS certificate (the emulator's `certificate`). */
  readonly trustedCertificate?: string;
  readonly networkClient?: INetworkModule;
  readonly cacheStorage?: TokenCacheStorage;
  readonly refreshMarginMs?: number;
  readonly clock?: Clock;
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
export class ClientCertificateTokenProvider implements TokenProvider {
  readonly scope: string;
  /** Hex SHA-256 thumbprint of the certificate: what the app registration lists. */
  readonly thumbprint: string;
  private readonly app: ConfidentialClientApplication;
  private readonly privateKey: string;
  private readonly host: string;
  private readonly renewing: RenewingToken;
  acquisitions = 0;

  constructor(options: ClientCertificateOptions) {
    this.scope = defaultScope(options.environmentUrl);
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
      this.privateKey = key.export({ type: 'pkcs8', format: 'pem' }).toString();
    } catch (error) {
      if (error instanceof WorkbenchError) throw error;
      throw new WorkbenchError('invalidInput', 'The private key of the client certificate could not be read.');
    }
    this.thumbprint = createHash('sha256').update(certificate.raw).digest('hex').toUpperCase();
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
        clientCertificate: {
          thumbprintSha256: this.thumbprint,
          privateKey: this.privateKey,
          ...(options.sendX5c === true ? { x5c: options.certificate } : {}),
        },
        knownAuthorities: [...knownAuthorities],
      },
      system: {
        networkClient,
        loggerOptions: { logLevel: LogLevel.Error, piiLoggingEnabled: false, loggerCallback: () => undefined },
      },
      ...(options.cacheStorage === undefined ? {} : { cache: { cachePlugin: tokenCachePlugin(options.cacheStorage) } }),
    };
    this.app = new ConfidentialClientApplication(configuration);
  }

  getToken(signal: AbortSignal, options: { readonly forceRefresh?: boolean } = {}): Promise<AccessToken> {
    return this.renewing.get(signal, options.forceRefresh === true);
  }

  private async acquire(forceRefresh: boolean): Promise<AccessToken> {
    let result: AuthenticationResult | null;
    try {
      result = await this.app.acquireTokenByClientCredential({ scopes: [this.scope], skipCache: forceRefresh });
    } catch (error) {
      // The key in PEM and its base64 body: neither may reach a message, whatever MSAL echoes.
      const body = this.privateKey.replace(/-----[A-Z ]+-----|\s/g, '');
      throw authError(error, [this.privateKey, body], this.host);
    }
    if (result === null || result.accessToken === '') {
      throw new WorkbenchError('auth', `Could not get a token from ${this.host}: the answer held no access token.`);
    }
    this.acquisitions += 1;
    return { token: result.accessToken, ...(result.expiresOn ? { expiresOn: result.expiresOn } : {}) };
  }
}

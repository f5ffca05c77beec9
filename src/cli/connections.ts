import { readFile } from 'node:fs/promises';
import { WorkbenchError } from '../core/errors';
import {
  AzureCliTokenProvider,
  ClientCertificateTokenProvider,
  ClientSecretTokenProvider,
  DeviceCodeTokenProvider,
  FileTokenCacheStorage,
  InteractiveTokenProvider,
  splitCertificatePem,
} from '../dataverse/auth';
import type { Connection } from '../dataverse/connectionsFile';
import {
  configDirectory,
  connectionsPath,
  findConnection,
  readConnections,
  tokenCachePath,
} from '../dataverse/connectionsFile';
import type { TokenProvider } from '../dataverse/webApiClient';
import { staticTokenProvider, webApiRoot } from '../dataverse/webApiClient';

/** What a command was given on its command line. */
export interface ConnectionArgs {
  readonly env?: string | undefined;
  readonly url?: string | undefined;
  readonly token?: string | undefined;
}

/** `process.env`, or a test's stand-in. */
export type Environment = Readonly<Record<string, string | undefined>>;

export interface ResolveOptions {
  /** Where sign-in instructions go (device code, the browser URL): stderr, never stdout. */
  readonly notify?: (text: string) => void;
  /** Asks for a secret without echoing it; absent when there is no terminal to ask on. */
  readonly promptSecret?: (question: string) => Promise<string | undefined>;
  /** Opens the interactive sign-in page; default: print the URL through `notify`. */
  readonly openBrowser?: (url: string) => Promise<void>;
}

export interface ResolvedConnection {
  readonly url: string;
  readonly tokenProvider: TokenProvider;
  /** For messages: the environment's name or URL and how it signs in; never a secret. */
  readonly label: string;
  /** Values no output may contain (the token or client secret in use), for `redact`. */
  readonly secrets: readonly string[];
}

function invalid(message: string): WorkbenchError {
  return new WorkbenchError('invalidInput', message);
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

async function readCertificate(file: string, what: string): Promise<string> {
  try {
    const text = await readFile(file, 'utf8');
    if (!text.includes('-----BEGIN CERTIFICATE-----')) throw invalid(`${what} ${file} holds no PEM certificate.`);
    return text;
  } catch (error) {
    if (error instanceof WorkbenchError) throw error;
    throw invalid(`${what} ${file} could not be read.`);
  }
}

/** The private key and certificate of a PEM file; the key is read here and kept in memory only. */
async function readCertificateCredential(
  file: string,
  what: string,
): Promise<{ privateKey: string; certificate: string }> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    throw invalid(`${what} ${file} could not be read.`);
  }
  try {
    return splitCertificatePem(text, `${what} ${file}`);
  } catch (error) {
    if (error instanceof WorkbenchError) throw invalid(error.message);
    throw error;
  }
}

function clientCertificateProvider(
  url: string,
  clientId: string,
  credential: { privateKey: string; certificate: string },
  authority: string,
  trusted: string | undefined,
  cacheFile?: string,
): ClientCertificateTokenProvider {
  try {
    return new ClientCertificateTokenProvider({
      authority,
      clientId,
      ...credential,
      environmentUrl: url,
      ...(trusted === undefined ? {} : { trustedCertificate: trusted }),
      ...(cacheFile === undefined ? {} : { cacheStorage: new FileTokenCacheStorage(cacheFile) }),
    });
  } catch (error) {
    if (error instanceof WorkbenchError) throw invalid(error.message);
    throw error;
  }
}

/** Replaces every occurrence of each secret by `***`: the last guard before text reaches a terminal or log. */
export function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) if (secret.length >= 4) out = out.split(secret).join('***');
  return out;
}

/**
 * The connection a command runs against: `--env NAME` from the connections file, or `--url URL` (or
 * `DATAVERSE_URL`) with a token from `--token`, `DATAVERSE_TOKEN`, or the client-credential variables
 * `DATAVERSE_TENANT_ID`/`DATAVERSE_CLIENT_ID`/`DATAVERSE_CLIENT_SECRET` (`DATAVERSE_AUTHORITY` and
 * `DATAVERSE_CA_FILE` point them at another identity endpoint, such as the emulator's). Problems are
 * `invalidInput` errors, which commands report as usage errors.
 */
export async function resolveConnection(
  args: ConnectionArgs,
  env: Environment,
  options: ResolveOptions = {},
): Promise<ResolvedConnection> {
  const name = nonEmpty(args.env);
  const token = nonEmpty(args.token) ?? nonEmpty(env.DATAVERSE_TOKEN);
  if (name !== undefined && nonEmpty(args.url) !== undefined) throw invalid('use --env or --url, not both');
  if (name !== undefined) {
    const directory = configDirectory(env);
    const file = connectionsPath(directory);
    const connection = findConnection(await readConnections(file), name);
    if (connection === undefined) {
      throw invalid(`no environment is named '${name}' (dvw env list shows them; dvw env add adds one)`);
    }
    // An explicit token wins over the stored sign-in: scripts that already hold one need no second sign-in.
    if (nonEmpty(args.token) !== undefined && token !== undefined) {
      return {
        url: connection.url,
        tokenProvider: staticTokenProvider(token),
        label: connection.name,
        secrets: [token],
      };
    }
    return fromConnection(connection, env, directory, options);
  }
  const url = nonEmpty(args.url) ?? nonEmpty(env.DATAVERSE_URL);
  if (url === undefined) throw invalid('no environment URL: pass --env NAME or --url URL, or set DATAVERSE_URL');
  webApiRoot(url);
  if (token !== undefined) return { url, tokenProvider: staticTokenProvider(token), label: url, secrets: [token] };
  const tenantId = nonEmpty(env.DATAVERSE_TENANT_ID);
  const clientId = nonEmpty(env.DATAVERSE_CLIENT_ID);
  const secret = env.DATAVERSE_CLIENT_SECRET;
  const authority = nonEmpty(env.DATAVERSE_AUTHORITY);
  const certificateFile = nonEmpty(env.DATAVERSE_CLIENT_CERTIFICATE);
  if (certificateFile !== undefined && (secret === undefined || secret === '')) {
    if (clientId === undefined) throw invalid('DATAVERSE_CLIENT_CERTIFICATE is set but DATAVERSE_CLIENT_ID is not');
    if (tenantId === undefined && authority === undefined) {
      throw invalid('set DATAVERSE_TENANT_ID (or DATAVERSE_AUTHORITY) for certificate sign-in');
    }
    const caFile = nonEmpty(env.DATAVERSE_CA_FILE);
    const trusted = caFile === undefined ? undefined : await readCertificate(caFile, 'DATAVERSE_CA_FILE');
    const credential = await readCertificateCredential(certificateFile, 'DATAVERSE_CLIENT_CERTIFICATE');
    return {
      url,
      tokenProvider: clientCertificateProvider(
        url,
        clientId,
        credential,
        authority ?? entraAuthority(tenantId),
        trusted,
      ),
      label: `${url} (client certificate)`,
      secrets: [credential.privateKey],
    };
  }
  if (clientId === undefined && (secret === undefined || secret === '')) {
    throw invalid(
      'no access token: pass --token, or set DATAVERSE_TOKEN, or DATAVERSE_TENANT_ID, DATAVERSE_CLIENT_ID and DATAVERSE_CLIENT_SECRET (or DATAVERSE_CLIENT_CERTIFICATE)',
    );
  }
  if (clientId === undefined) throw invalid('DATAVERSE_CLIENT_SECRET is set but DATAVERSE_CLIENT_ID is not');
  if (secret === undefined || secret === '')
    throw invalid('DATAVERSE_CLIENT_ID is set but DATAVERSE_CLIENT_SECRET is not');
  if (tenantId === undefined && authority === undefined) {
    throw invalid('set DATAVERSE_TENANT_ID (or DATAVERSE_AUTHORITY) for client-credential sign-in');
  }
  const caFile = nonEmpty(env.DATAVERSE_CA_FILE);
  const certificate = caFile === undefined ? undefined : await readCertificate(caFile, 'DATAVERSE_CA_FILE');
  return {
    url,
    tokenProvider: clientSecretProvider(url, clientId, secret, authority ?? entraAuthority(tenantId), certificate),
    label: `${url} (client secret)`,
    secrets: [secret],
  };
}

function entraAuthority(tenantId: string | undefined): string {
  return `https://login.microsoftonline.com/${tenantId ?? 'organizations'}`;
}

function clientSecretProvider(
  url: string,
  clientId: string,
  secret: string,
  authority: string,
  certificate: string | undefined,
  cacheFile?: string,
): ClientSecretTokenProvider {
  try {
    return new ClientSecretTokenProvider({
      authority,
      clientId,
      clientSecret: secret,
      environmentUrl: url,
      ...(certificate === undefined ? {} : { trustedCertificate: certificate }),
      ...(cacheFile === undefined ? {} : { cacheStorage: new FileTokenCacheStorage(cacheFile) }),
    });
  } catch (error) {
    if (error instanceof WorkbenchError) throw invalid(error.message);
    throw error;
  }
}

async function fromConnection(
  connection: Connection,
  env: Environment,
  directory: string,
  options: ResolveOptions,
): Promise<ResolvedConnection> {
  const certificate =
    connection.caFile === undefined ? undefined : await readCertificate(connection.caFile, 'The CA file');
  const cacheStorage = new FileTokenCacheStorage(tokenCachePath(directory));
  const label = `${connection.name} (${connection.auth})`;
  const authority = connection.authority ?? entraAuthority(connection.tenantId);
  const notify = options.notify ?? (() => undefined);
  const common = {
    environmentUrl: connection.url,
    authority,
    cacheStorage,
    ...(connection.clientId === undefined ? {} : { clientId: connection.clientId }),
    ...(certificate === undefined ? {} : { trustedCertificate: certificate }),
  };
  switch (connection.auth) {
    case 'client-secret': {
      let secret = env.DATAVERSE_CLIENT_SECRET;
      if (secret === undefined || secret === '')
        secret = await options.promptSecret?.(`Client secret for ${connection.name}: `);
      if (secret === undefined || secret === '') {
        throw invalid(`environment '${connection.name}' signs in with a client secret: set DATAVERSE_CLIENT_SECRET`);
      }
      if (connection.clientId === undefined) throw invalid(`environment '${connection.name}' has no client id`);
      const provider = clientSecretProvider(
        connection.url,
        connection.clientId,
        secret,
        authority,
        certificate,
        tokenCachePath(directory),
      );
      return { url: connection.url, tokenProvider: provider, label, secrets: [secret] };
    }
    case 'client-certificate': {
      if (connection.clientId === undefined || connection.certificateFile === undefined) {
        throw invalid(`environment '${connection.name}' needs a client id and a certificate file`);
      }
      const credential = await readCertificateCredential(connection.certificateFile, 'The certificate file');
      const provider = clientCertificateProvider(
        connection.url,
        connection.clientId,
        credential,
        authority,
        certificate,
        tokenCachePath(directory),
      );
      return { url: connection.url, tokenProvider: provider, label, secrets: [credential.privateKey] };
    }
    case 'device-code':
      return {
        url: connection.url,
        tokenProvider: new DeviceCodeTokenProvider({
          ...common,
          onDeviceCode: (prompt) => notify(`${prompt.message}\n`),
        }),
        label,
        secrets: [],
      };
    case 'interactive':
      return {
        url: connection.url,
        tokenProvider: new InteractiveTokenProvider({
          ...common,
          openBrowser:
            options.openBrowser ??
            ((url) => {
              notify(`Open this page to sign in: ${url}\n`);
              return Promise.resolve();
            }),
        }),
        label,
        secrets: [],
      };
    case 'azure-cli':
      return {
        url: connection.url,
        tokenProvider: new AzureCliTokenProvider({
          environmentUrl: connection.url,
          ...(connection.tenantId === undefined ? {} : { tenantId: connection.tenantId }),
          ...(env.PATH === undefined ? {} : { path: env.PATH }),
        }),
        label,
        secrets: [],
      };
  }
}

/** Reads a line from the terminal without echoing it; undefined when stdin is not a terminal. */
function promptHidden(question: string, write: (text: string) => void): Promise<string | undefined> {
  const stdin = process.stdin;
  if (!stdin.isTTY) return Promise.resolve(undefined);
  write(question);
  return new Promise((resolve) => {
    let value = '';
    const finish = (result: string | undefined): void => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      write('\n');
      resolve(result);
    };
    const onData = (chunk: Buffer): void => {
      for (const ch of chunk.toString('utf8')) {
        if (ch === '\r' || ch === '\n') return finish(value);
        if (ch === '\u0003' || ch === '\u0004') return finish(undefined);
        if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
        else value += ch;
      }
    };
    stdin.setRawMode(true);
    stdin.resume();
    stdin.on('data', onData);
  });
}

/** How `dvw` commands resolve: sign-in instructions on stderr, secrets asked for on the terminal. */
export function cliResolveOptions(stderr: (text: string) => void): ResolveOptions {
  return { notify: stderr, promptSecret: (question) => promptHidden(question, stderr) };
}

import { parseEnvironmentAuth } from '../core/environments';
import { WorkbenchError } from '../core/errors';
import type { SignInPorts } from '../dataverse/auth';
import { createTokenProvider, FileTokenCacheStorage } from '../dataverse/auth';
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
    return signIn(
      connection,
      env,
      options,
      `${connection.name} (${connection.auth.method})`,
      tokenCachePath(directory),
    );
  }
  const url = nonEmpty(args.url) ?? nonEmpty(env.DATAVERSE_URL);
  if (url === undefined) throw invalid('no environment URL: pass --env NAME or --url URL, or set DATAVERSE_URL');
  webApiRoot(url);
  if (token !== undefined) return { url, tokenProvider: staticTokenProvider(token), label: url, secrets: [token] };
  return fromVariables(url, env);
}

/** What each sign-in field is called when it comes from an environment variable. */
const VARIABLE_OF: Readonly<Record<string, string>> = {
  method: 'the sign-in method',
  tenantId: 'DATAVERSE_TENANT_ID',
  clientId: 'DATAVERSE_CLIENT_ID',
  authority: 'DATAVERSE_AUTHORITY',
  caFile: 'DATAVERSE_CA_FILE',
  certificateFile: 'DATAVERSE_CLIENT_CERTIFICATE',
};

/**
 * A service principal from `DATAVERSE_*` variables: a client secret, else a certificate file. The fields go
 * through the same check as a stored connection, so `DATAVERSE_CA_FILE` is refused for an authority that is
 * not on this machine, as the extension refuses `auth.caFile`.
 */
async function fromVariables(url: string, env: Environment): Promise<ResolvedConnection> {
  const secret = nonEmpty(env.DATAVERSE_CLIENT_SECRET);
  const clientId = nonEmpty(env.DATAVERSE_CLIENT_ID);
  const certificateFile = nonEmpty(env.DATAVERSE_CLIENT_CERTIFICATE);
  const byCertificate = certificateFile !== undefined && secret === undefined;
  if (clientId === undefined && secret === undefined && certificateFile === undefined) {
    throw invalid(
      'no access token: pass --token, or set DATAVERSE_TOKEN, or DATAVERSE_TENANT_ID, DATAVERSE_CLIENT_ID and DATAVERSE_CLIENT_SECRET (or DATAVERSE_CLIENT_CERTIFICATE)',
    );
  }
  const credential = byCertificate ? 'DATAVERSE_CLIENT_CERTIFICATE' : 'DATAVERSE_CLIENT_SECRET';
  if (clientId === undefined) throw invalid(`${credential} is set but DATAVERSE_CLIENT_ID is not`);
  if (secret === undefined && !byCertificate) {
    throw invalid('DATAVERSE_CLIENT_ID is set but DATAVERSE_CLIENT_SECRET is not');
  }
  const raw: Record<string, string> = { method: byCertificate ? 'clientCertificate' : 'clientSecret' };
  for (const [field, variable] of Object.entries(VARIABLE_OF)) {
    const value = nonEmpty(env[variable]);
    if (field !== 'method' && value !== undefined && (byCertificate || field !== 'certificateFile')) {
      raw[field] = value;
    }
  }
  const auth = parseEnvironmentAuth(raw, (field) => VARIABLE_OF[field] ?? field);
  const how = byCertificate ? 'client certificate' : 'client secret';
  return signIn({ name: url, url, auth }, env, {}, `${url} (${how})`);
}

/**
 * Builds the provider through the shared factory with `dvw`'s ports: the secret from
 * `DATAVERSE_CLIENT_SECRET` or a hidden prompt, sign-in instructions on stderr, MSAL's cache in a 0600 file
 * for a stored connection. Files and secrets are read here, so problems surface before a command starts work.
 */
async function signIn(
  target: Connection,
  env: Environment,
  options: ResolveOptions,
  label: string,
  cacheFile?: string,
): Promise<ResolvedConnection> {
  const secrets: string[] = [];
  const notify = options.notify ?? (() => undefined);
  const ports: SignInPorts = {
    clientSecret: async () =>
      nonEmpty(env.DATAVERSE_CLIENT_SECRET) === undefined
        ? options.promptSecret?.(`Client secret for ${target.name}: `)
        : env.DATAVERSE_CLIENT_SECRET,
    missingSecret: () =>
      invalid(`environment '${target.name}' signs in with a client secret: set DATAVERSE_CLIENT_SECRET`),
    showDeviceCode: (prompt) => notify(`${prompt.message}\n`),
    openBrowser:
      options.openBrowser ??
      ((page) => {
        notify(`Open this page to sign in: ${page}\n`);
        return Promise.resolve();
      }),
    onSecret: (secret) => secrets.push(secret),
    ...(cacheFile === undefined ? {} : { tokenCache: new FileTokenCacheStorage(cacheFile) }),
    ...(env.PATH === undefined ? {} : { azureCliPath: env.PATH }),
  };
  const tokenProvider = await createTokenProvider(target, ports);
  return { url: target.url, tokenProvider, label, secrets };
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

import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { writeWholeFile } from './wholeFile';
import type { AuthMethod, EnvironmentAuth } from '../core/environments';
import { AUTH_METHODS, parseEnvironmentAuth } from '../core/environments';
import { WorkbenchError } from '../core/errors';
import { isJsonObject } from '../core/json';
import { webApiRoot } from './webApiClient';

/**
 * One named environment of `dvw`: its name, its organization URL and how it signs in, in the same
 * vocabulary as the extension's `dataverse.environments` (`EnvironmentAuth`). The client secret comes from
 * `DATAVERSE_CLIENT_SECRET` or a prompt, and tokens live in MSAL's cache file, never here.
 */
export interface Connection {
  readonly name: string;
  readonly url: string;
  readonly auth: EnvironmentAuth;
  /** Marked production: agent tools never write there (`dvw env add --production`). */
  readonly production?: boolean;
  /** Nothing writes there: agent tools offer only reads. */
  readonly readOnly?: boolean;
  /** `dvw mcp` may offer write tools for it without `--allow-writes`. */
  readonly agentWrites?: boolean;
}

/** A connection as the file keeps it: the sign-in fields beside the name, `auth` naming the method. */
export interface ConnectionEntry extends Omit<EnvironmentAuth, 'method'> {
  readonly name: string;
  readonly url: string;
  readonly auth: AuthMethod;
  readonly production?: boolean;
  readonly readOnly?: boolean;
  readonly agentWrites?: boolean;
}

export interface ConnectionsFile {
  readonly version: 1;
  readonly environments: readonly Connection[];
}

export function connectionEntry(connection: Connection): ConnectionEntry {
  const { method, ...fields } = connection.auth;
  return {
    name: connection.name,
    url: connection.url,
    auth: method,
    ...fields,
    ...(connection.production === true ? { production: true } : {}),
    ...(connection.readOnly === true ? { readOnly: true } : {}),
    ...(connection.agentWrites === true ? { agentWrites: true } : {}),
  };
}

/** Environment variables that name where `dvw` keeps its files. */
export interface DirectoryEnvironment {
  readonly DVW_CONFIG_DIR?: string | undefined;
  readonly XDG_CONFIG_HOME?: string | undefined;
  readonly APPDATA?: string | undefined;
}

/** `$DVW_CONFIG_DIR`, else `$XDG_CONFIG_HOME/dataverse-workbench`, else the platform's config directory. */
export function configDirectory(env: DirectoryEnvironment, home: string = homedir()): string {
  if (env.DVW_CONFIG_DIR !== undefined && env.DVW_CONFIG_DIR !== '') return env.DVW_CONFIG_DIR;
  if (env.XDG_CONFIG_HOME !== undefined && env.XDG_CONFIG_HOME !== '') {
    return join(env.XDG_CONFIG_HOME, 'dataverse-workbench');
  }
  if (process.platform === 'win32' && env.APPDATA !== undefined && env.APPDATA !== '') {
    return join(env.APPDATA, 'dataverse-workbench');
  }
  return join(home, '.config', 'dataverse-workbench');
}

export function connectionsPath(directory: string): string {
  return join(directory, 'connections.json');
}

/** MSAL's serialized cache for every connection: tokens, so it is written 0600 (FileTokenCacheStorage). */
export function tokenCachePath(directory: string): string {
  return join(directory, 'msal-token-cache.json');
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
/** Key names that would hold a secret: a hand-edited file with one is refused rather than silently used. */
const SECRET_KEYS = /secret|password|token|key$/i;
const AUTH_FIELDS = ['tenantId', 'clientId', 'authority', 'caFile', 'certificateFile'] as const;

/**
 * Checks a connection's fields; throws `invalidInput` naming the field (never its value for unknown keys).
 * The sign-in fields go through the extension's own check (`parseEnvironmentAuth`), so both front ends
 * accept the same things; `auth` may use the old spellings (`client-secret`, `interactive`, …) and defaults
 * to a client secret, the one method a script can use unattended.
 */
export function validateConnection(value: unknown, where = 'connection'): Connection {
  if (!isJsonObject(value)) throw new WorkbenchError('invalidInput', `${where} is not a JSON object.`);
  for (const key of Object.keys(value)) {
    if (SECRET_KEYS.test(key)) {
      throw new WorkbenchError(
        'invalidInput',
        `${where} has a '${key}' field: secrets are never stored in the connections file.`,
      );
    }
  }
  const { name, url } = value;
  const marks = environmentMarks(value, where);
  if (typeof name !== 'string' || !NAME.test(name)) {
    throw new WorkbenchError(
      'invalidInput',
      `${where}: the name must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit.`,
    );
  }
  if (typeof url !== 'string') throw new WorkbenchError('invalidInput', `${where}: 'url' is missing.`);
  webApiRoot(url);
  const rawAuth: Record<string, unknown> = { method: value.auth ?? 'clientSecret' };
  for (const field of AUTH_FIELDS) if (value[field] !== undefined) rawAuth[field] = value[field];
  let auth: EnvironmentAuth;
  try {
    auth = parseEnvironmentAuth(rawAuth, (field) => `'${field === 'method' ? 'auth' : field}'`);
  } catch (error) {
    throw new WorkbenchError('invalidInput', `${where}: ${(error as Error).message}`);
  }
  if (auth.method === 'microsoftAccount') {
    throw new WorkbenchError(
      'invalidInput',
      `${where}: microsoftAccount is VS Code's own sign-in; dvw signs in with ${AUTH_METHODS.filter((m) => m !== 'microsoftAccount').join(', ')}.`,
    );
  }
  return { name, url, auth, ...marks };
}

/** `production`, `readOnly` and `agentWrites`: booleans when present, kept only when true. */
function environmentMarks(
  value: Record<string, unknown>,
  where: string,
): Pick<Connection, 'production' | 'readOnly' | 'agentWrites'> {
  const marks: { production?: boolean; readOnly?: boolean; agentWrites?: boolean } = {};
  for (const key of ['production', 'readOnly', 'agentWrites'] as const) {
    const mark = value[key];
    if (mark === undefined) continue;
    if (typeof mark !== 'boolean')
      throw new WorkbenchError('invalidInput', `${where}: '${key}' must be true or false.`);
    if (mark) marks[key] = true;
  }
  return marks;
}

/** Parses the file's text; a damaged file is an error that names the file, not a silent empty list. */
export function parseConnections(text: string, file: string): ConnectionsFile {
  let json: unknown;
  try {
    json = JSON.parse(text) as unknown;
  } catch {
    throw new WorkbenchError('invalidInput', `${file} is not valid JSON.`);
  }
  if (!isJsonObject(json) || json.version !== 1 || !Array.isArray(json.environments)) {
    throw new WorkbenchError('invalidInput', `${file} is not a dvw connections file (version 1).`);
  }
  const environments = json.environments.map((item: unknown, index) =>
    validateConnection(item, `${file}: environment ${index + 1}`),
  );
  const names = new Set<string>();
  for (const connection of environments) {
    const key = connection.name.toLowerCase();
    if (names.has(key)) throw new WorkbenchError('invalidInput', `${file} names '${connection.name}' twice.`);
    names.add(key);
  }
  return { version: 1, environments };
}

export async function readConnections(file: string): Promise<ConnectionsFile> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const code = error instanceof Error ? (error as Error & { code?: unknown }).code : undefined;
    if (code === 'ENOENT') return { version: 1, environments: [] };
    throw new WorkbenchError('invalidInput', `${file} could not be read.`, { cause: error });
  }
  return parseConnections(text, file);
}

/** Written to a temporary file and renamed, so a crash never leaves half a file. */
export async function writeConnections(file: string, connections: ConnectionsFile): Promise<void> {
  const content = { version: 1, environments: connections.environments.map(connectionEntry) };
  await writeWholeFile(file, `${JSON.stringify(content, null, 2)}\n`, { directoryMode: 0o700 });
}

export function findConnection(connections: ConnectionsFile, name: string): Connection | undefined {
  return connections.environments.find((c) => c.name.toLowerCase() === name.toLowerCase());
}

/** Adds or replaces (`replace`) a connection by name, case-insensitively. */
export function withConnection(
  connections: ConnectionsFile,
  connection: Connection,
  replace: boolean,
): ConnectionsFile {
  const existing = findConnection(connections, connection.name);
  if (existing !== undefined && !replace) {
    throw new WorkbenchError(
      'invalidInput',
      `an environment named '${existing.name}' exists already (remove it first, or pass --force).`,
    );
  }
  const others = connections.environments.filter((c) => c !== existing);
  return { version: 1, environments: [...others, connection] };
}

export function withoutConnection(connections: ConnectionsFile, name: string): ConnectionsFile {
  const existing = findConnection(connections, name);
  if (existing === undefined) throw new WorkbenchError('notFound', `no environment is named '${name}'.`);
  return { version: 1, environments: connections.environments.filter((c) => c !== existing) };
}

/**
 * Where `dvw` keeps caches ($metadata): beside the connections under `DVW_CONFIG_DIR` (tests), else
 * `$XDG_CACHE_HOME/dataverse-workbench`, else `~/.cache/dataverse-workbench`.
 */
export function cacheDirectory(
  env: DirectoryEnvironment & {
    readonly XDG_CACHE_HOME?: string | undefined;
    readonly LOCALAPPDATA?: string | undefined;
  },
  home: string = homedir(),
): string {
  if (env.DVW_CONFIG_DIR !== undefined && env.DVW_CONFIG_DIR !== '') return join(env.DVW_CONFIG_DIR, 'cache');
  if (env.XDG_CACHE_HOME !== undefined && env.XDG_CACHE_HOME !== '')
    return join(env.XDG_CACHE_HOME, 'dataverse-workbench');
  if (process.platform === 'win32' && env.LOCALAPPDATA !== undefined && env.LOCALAPPDATA !== '') {
    return join(env.LOCALAPPDATA, 'dataverse-workbench', 'cache');
  }
  return join(home, '.cache', 'dataverse-workbench');
}

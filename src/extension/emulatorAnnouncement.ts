import { WorkbenchError } from '../core/errors';
import { isJsonObject } from '../core/json';

// No `vscode` here: the announcement parsing and checks run in plain Node unit tests.

/** What `dvw emulator --json` prints once it listens. Kept in memory only, never logged. */
export interface RunningEmulator {
  readonly url: string;
  readonly webApi: string;
  /** A bearer token for the built-in admin user, valid for the token lifetime (an hour by default). */
  readonly token: string;
  /** The emulator's identity endpoint, for the client-credentials flow that renews tokens. */
  readonly authority: string;
  readonly clientId: string;
  readonly clientSecret: string;
  /** The PEM of the identity endpoint's self-signed certificate. */
  readonly certificatePath: string;
}

/**
 * A running emulator as one window publishes it in SecretStorage for the other windows of the profile:
 * the announcement plus the emulator's process id.
 */
export interface SharedEmulator extends RunningEmulator {
  readonly pid: number;
}

const FIELDS = ['url', 'webApi', 'token', 'authority', 'clientId', 'clientSecret', 'certificatePath'] as const;

/** Validates the emulator's JSON line; anything else is a failure to start, with the reason. */
export function parseEmulatorAnnouncement(line: string): RunningEmulator {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    throw new WorkbenchError('internal', 'The emulator printed something other than its JSON line.');
  }
  if (!isJsonObject(value)) throw new WorkbenchError('internal', 'The emulator announced no URL.');
  const fields = value;
  const missing = FIELDS.filter((name) => typeof fields[name] !== 'string');
  if (missing.length > 0) {
    throw new WorkbenchError('internal', `The emulator announced no ${missing.join(', ')}.`);
  }
  return pick(fields);
}

function pick(fields: Record<string, unknown>): RunningEmulator {
  const text = (name: (typeof FIELDS)[number]): string => fields[name] as string;
  return {
    url: text('url'),
    webApi: text('webApi'),
    token: text('token'),
    authority: text('authority'),
    clientId: text('clientId'),
    clientSecret: text('clientSecret'),
    certificatePath: text('certificatePath'),
  };
}

/** The SecretStorage value for `emulator` run by process `pid` (JSON; it holds the client secret). */
export function serializeSharedEmulator(emulator: RunningEmulator, pid: number): string {
  return JSON.stringify({ ...pick(emulator as unknown as Record<string, unknown>), pid });
}

const MAX_SHARED_LENGTH = 64_000;
const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

/**
 * Reads what another window published. It comes from storage, so it is untrusted: anything but a loopback
 * emulator with every field is refused (undefined), so that a bad value can neither send the client secret
 * off this machine nor make this window signal a process that is not a process id.
 */
export function parseSharedEmulator(text: string | undefined): SharedEmulator | undefined {
  if (text === undefined || text.length === 0 || text.length > MAX_SHARED_LENGTH) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!isJsonObject(value)) return undefined;
  const fields = value;
  if (FIELDS.some((name) => typeof fields[name] !== 'string' || fields[name].length === 0)) {
    return undefined;
  }
  const pid = fields.pid;
  if (typeof pid !== 'number' || !Number.isSafeInteger(pid) || pid <= 1) return undefined;
  const emulator = pick(fields);
  const url = loopbackUrl(emulator.url, 'http:');
  const authority = loopbackUrl(emulator.authority, 'https:');
  if (!url || !authority) return undefined;
  // The Web API and the URL are one server: the token must not go to anything else.
  if (url.pathname !== '/' || url.search !== '' || url.hash !== '') return undefined;
  if (!emulator.webApi.startsWith(`${url.origin}/`) || loopbackUrl(emulator.webApi, 'http:') === undefined) {
    return undefined;
  }
  return { ...emulator, pid };
}

function loopbackUrl(text: string, protocol: 'http:' | 'https:'): URL | undefined {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return undefined;
  }
  if (url.protocol !== protocol || !LOOPBACK_HOSTS.has(url.hostname)) return undefined;
  if (url.username !== '' || url.password !== '') return undefined;
  return url;
}

/**
 * The process id in the emulator's "data file … is in use by another emulator (process N)" failure, or
 * undefined when `reason` is another failure.
 */
export function dataFileOwnerOf(reason: string): number | undefined {
  const match = /is in use by another emulator \(process (\d+)\)/.exec(reason);
  if (!match) return undefined;
  const pid = Number(match[1]);
  return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
}

/** The words a user can act on when another window's emulator holds the data file. */
export function inUseMessage(pid: number): string {
  return (
    `The local emulator is already running in another VS Code window (process ${pid}); ` +
    'use that window, or stop it there and start it here again.'
  );
}

/** Whether process `pid` exists (signal 0 checks without signalling; EPERM means it exists as another user). */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

import type { Schema } from '../../../src/emulator/schema/schema';
import { loadSnapshot } from '../../../src/emulator/schema/snapshot';
import { startEmulator } from '../../../src/emulator/server';
import type { EmulatorOptions, RunningEmulator } from '../../../src/emulator/server';

/**
 * `DVW_EMULATOR_SNAPSHOT=DIR` runs the suites on the emulator started from that schema snapshot instead of the
 * built-in tables (`npm run test:snapshot`); loaded once per process.
 */
let snapshotSchema: Schema | undefined;
export function suiteSchema(): Schema | undefined {
  const folder = process.env.DVW_EMULATOR_SNAPSHOT;
  if (folder === undefined || folder === '') return undefined;
  snapshotSchema ??= loadSnapshot(folder);
  return snapshotSchema;
}

export interface Client {
  readonly emulator: RunningEmulator;
  request(
    method: string,
    path: string,
    options?: { body?: unknown; rawBody?: string; headers?: Record<string, string> },
  ): Promise<Response>;
}

/** Starts an emulator on a free loopback port and returns a fetch wrapper that sends the admin token. */
export async function startClient(options: EmulatorOptions = {}): Promise<Client> {
  const schema = options.schema ?? suiteSchema();
  const emulator = await startEmulator({ port: 0, ...options, ...(schema === undefined ? {} : { schema }) });
  return {
    emulator,
    request(method, path, { body, rawBody, headers = {} } = {}) {
      const url = path.startsWith('http') ? path : `${emulator.webApi}${path}`;
      const init: RequestInit = {
        method,
        headers: {
          Authorization: `Bearer ${emulator.token}`,
          Accept: 'application/json',
          'OData-Version': '4.0',
          'OData-MaxVersion': '4.0',
          ...(body !== undefined || rawBody !== undefined ? { 'Content-Type': 'application/json' } : {}),
          ...headers,
        },
      };
      if (rawBody !== undefined) init.body = rawBody;
      else if (body !== undefined) init.body = JSON.stringify(body);
      return fetch(url, init);
    },
  };
}

export async function jsonOf(response: Response): Promise<Record<string, unknown>> {
  const value: unknown = await response.json();
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('expected a JSON object');
  return value as Record<string, unknown>;
}

export function idFromEntityId(response: Response): string {
  const header = response.headers.get('OData-EntityId') ?? '';
  const match = /\(([0-9a-f-]{36})\)$/.exec(header);
  if (match?.[1] === undefined) throw new Error(`no id in OData-EntityId '${header}'`);
  return match[1];
}

export async function errorOf(response: Response): Promise<{ code: string; message: string }> {
  const body = await jsonOf(response);
  const error = body.error as { code?: unknown; message?: unknown } | undefined;
  if (typeof error?.code !== 'string' || typeof error.message !== 'string')
    throw new Error(`not a Dataverse error: ${JSON.stringify(body)}`);
  return { code: error.code, message: error.message };
}

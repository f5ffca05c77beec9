import type { WebApiClient, WebApiClientOptions } from '../../../src/dataverse/webApiClient';
import { startEmulator } from '../../../src/emulator/server';
import type { EmulatorOptions, RunningEmulator } from '../../../src/emulator/server';
import { clientFor } from './helpers';

/** The project's emulator on a free loopback port (sample data), and a client of ours on it. */
export async function startEmulatorClient(
  options: EmulatorOptions = {},
  clientOptions: Partial<WebApiClientOptions> = {},
): Promise<{ emulator: RunningEmulator; client: WebApiClient }> {
  const emulator = await startEmulator({ port: 0, seed: 'sample', ...options });
  return { emulator, client: clientFor(emulator.url, emulator.token, clientOptions) };
}

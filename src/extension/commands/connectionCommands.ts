import type * as vscode from 'vscode';
import { WorkbenchError } from '../../core/errors';
import type { ConnectionManager } from '../connections';
import type { UserInput } from '../userInput';

/** Picks the active environment from the emulator and the configured environments. */
export async function selectEnvironment(connections: ConnectionManager, input: UserInput): Promise<string> {
  const list = connections.list();
  if (list.length === 0) {
    throw new WorkbenchError(
      'invalidInput',
      'No environment yet: start the local emulator or connect to an environment.',
    );
  }
  const activeId = connections.active?.id;
  const pick = await input.showQuickPick(
    list.map((c) => ({
      label: c.name,
      description: c.url,
      detail: c.id === activeId ? 'Active' : undefined,
      id: c.id,
    })),
    { title: 'Dataverse Environment', placeHolder: 'Environment for .odata files, the explorer and commands' },
  );
  if (!pick) throw new WorkbenchError('cancelled', 'Cancelled.');
  await connections.setActive(pick.id);
  return pick.label;
}

/** Keeps the language server's metadata and variables those of the active environment. */
export function syncLanguageServerEnvironment(
  connections: ConnectionManager,
  send: (params: { cachePath?: string; environmentVariables?: string[] }) => Promise<void>,
  log: vscode.LogOutputChannel,
): vscode.Disposable {
  let generation = 0;
  const sync = async (): Promise<void> => {
    const current = ++generation;
    const active = connections.active;
    if (!active) {
      await send({});
      return;
    }
    const variables = connections.variablesOf(active);
    const cache = connections.metadata(active);
    await cache.get();
    if (current !== generation) return;
    await send({ cachePath: cache.cacheFile, environmentVariables: Object.keys(variables) });
    log.info(`.odata IntelliSense uses the metadata of ${active.name}`);
  };
  const run = (): void => {
    sync().catch((error: unknown) => log.warn(`Metadata of the active environment is not available: ${String(error)}`));
  };
  run();
  return connections.onDidChangeActive(run);
}

import * as vscode from 'vscode';
import { authMethodOf } from '../../core/environments';
import { isWorkbenchError, WorkbenchError } from '../../core/errors';
import type { ConnectionPart } from '../../dataverse/connectionTest';
import { checkConnection } from '../../dataverse/connectionTest';
import type { EnvironmentSecrets } from '../auth/environmentSecrets';
import type { Connection, ConnectionManager } from '../connections';
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

export interface ConnectionTestResult {
  readonly connection: string;
  readonly userId: string;
  readonly organizationId: string;
  readonly businessUnitId: string;
}

/**
 * Signs in and calls WhoAmI on a connection (a tree node, a name, or picked), and says who the user is; a
 * failure becomes a message that names what to check. The reply carries ids only.
 */
export async function testConnection(
  connections: ConnectionManager,
  secrets: EnvironmentSecrets,
  input: UserInput,
  log: vscode.LogOutputChannel,
  target?: unknown,
): Promise<ConnectionTestResult> {
  const connection = await pickConnection(connections, input, target);
  const answer = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: `Testing ${connection.name}`, cancellable: true },
    async (_progress, token) => {
      const abort = new AbortController();
      const subscription = token.onCancellationRequested(() => abort.abort());
      try {
        // VS Code owns its Microsoft account session: forcing a fresh one would ask the user to sign in again.
        const environment = connections.environmentOf(connection);
        const result = await checkConnection(
          connections.client(connection),
          connections.tokens(connection),
          abort.signal,
          environment === undefined || authMethodOf(environment) !== 'microsoftAccount',
        );
        if (!result.ok) throw await explainFailure(connection, result.part, result.error, secrets);
        return result.who;
      } finally {
        subscription.dispose();
      }
    },
  );
  const result = { connection: connection.name, ...answer };
  const message = `${connection.name}: signed in as user ${answer.userId} of organization ${answer.organizationId}.`;
  log.info(message);
  void vscode.window.showInformationMessage(message);
  return result;
}

/** The environment a command acts on: the explorer node or name it was given, else the one the user picks. */
export async function pickConnection(
  connections: ConnectionManager,
  input: UserInput,
  target: unknown,
  title = 'Test Dataverse Connection',
): Promise<Connection> {
  if (typeof target === 'string') {
    const found = connections.byName(target);
    if (!found) throw new WorkbenchError('invalidInput', `No environment named "${target}".`);
    return found;
  }
  if (typeof target === 'object' && target !== null) {
    const id = (target as { connection?: { id?: unknown } }).connection?.id;
    const found = typeof id === 'string' ? connections.list().find((c) => c.id === id) : undefined;
    if (!found) throw new WorkbenchError('invalidInput', 'Expected an environment from the explorer or its name.');
    return found;
  }
  if (target !== undefined) throw new WorkbenchError('invalidInput', 'Expected an environment or its name.');
  const list = connections.list();
  if (list.length === 0) {
    throw new WorkbenchError('invalidInput', 'No environment yet: start the local emulator or add an environment.');
  }
  const activeId = connections.active?.id;
  const ordered = [...list.filter((c) => c.id === activeId), ...list.filter((c) => c.id !== activeId)];
  const pick = await input.showQuickPick(
    ordered.map((c) => ({ label: c.name, description: c.url, id: c.id })),
    { title, placeHolder: 'Environment' },
  );
  if (!pick) throw new WorkbenchError('cancelled', 'Cancelled.');
  const found = list.find((c) => c.id === pick.id);
  if (!found) throw new WorkbenchError('cancelled', 'Cancelled.');
  return found;
}

/**
 * The same kind, in words that say which part failed (getting a token, or Dataverse with it) and what to
 * check; the stored secret is masked should anything echo it.
 */
async function explainFailure(
  connection: Connection,
  part: ConnectionPart,
  error: unknown,
  secrets: EnvironmentSecrets,
): Promise<Error> {
  if (!isWorkbenchError(error)) {
    return error instanceof Error ? error : new WorkbenchError('internal', 'The connection test failed.');
  }
  const secret = connection.kind === 'environment' ? await secrets.clientSecret(connection.name) : undefined;
  const detail = secret === undefined ? error.message : error.message.split(secret).join('***');
  const details = {
    ...(error.code === undefined ? {} : { code: error.code }),
    ...(error.status === undefined ? {} : { status: error.status }),
    ...(error.requestId === undefined ? {} : { requestId: error.requestId }),
  };
  const fix =
    connection.kind === 'emulator'
      ? 'Restart the local emulator.'
      : 'Check its sign-in with "Dataverse: Edit Environment…".';
  if (error.kind === 'cancelled') return error;
  if (part === 'signIn') {
    return new WorkbenchError(error.kind, `Sign-in to ${connection.name} failed: ${detail} ${fix}`, details);
  }
  switch (error.kind) {
    case 'auth':
      return new WorkbenchError(
        'auth',
        `${connection.name} refused the token it was given${error.status === undefined ? '' : ` (HTTP ${error.status})`}: ${detail} ${fix}`,
        details,
      );
    case 'forbidden':
      return new WorkbenchError(
        'forbidden',
        `${connection.name} accepted the sign-in but refused access (HTTP 403): the user or app needs a security role in this environment (an app registration must be added as an application user). ${detail}`,
        details,
      );
    case 'network':
      return new WorkbenchError(
        'network',
        `Could not reach ${connection.name} at ${connection.url}: ${detail} Check the URL, your network and any proxy.`,
        details,
      );
    case 'notFound':
      return new WorkbenchError(
        'notFound',
        `${connection.url} answered 404 for WhoAmI: it is not a Dataverse organization URL. Check the URL.`,
        details,
      );
    default:
      return new WorkbenchError(error.kind, detail, details);
  }
}

import * as vscode from 'vscode';
import { WorkbenchError } from '../../core/errors';
import { takeSnapshot } from '../../dataverse/schemaSnapshot';
import type { SnapshotResult } from '../../dataverse/schemaSnapshot';
import { webApiRoot } from '../../dataverse/webApiClient';
import { parseTableList } from '../../metadata/schemaSnapshot';
import type { ConnectionManager } from '../connections';
import type { EmulatorHost, RunningEmulator } from '../emulatorHost';
import type { UserInput } from '../userInput';
import { pickConnection } from './connectionCommands';

export interface SchemaSnapshotServices {
  readonly connections: ConnectionManager;
  readonly emulator: EmulatorHost;
  readonly input: UserInput;
  readonly log: vscode.LogOutputChannel;
}

/** What Take Schema Snapshot returns (tests read it). */
export interface TakeSnapshotCommandResult extends SnapshotResult {
  readonly connection: string;
  readonly folder: string;
  readonly cancelled: boolean;
}

async function pickFolder(input: UserInput, title: string, openLabel: string): Promise<string> {
  const picked = await input.showOpenDialog({
    title,
    openLabel,
    canSelectFiles: false,
    canSelectFolders: true,
    canSelectMany: false,
  });
  const folder = picked?.[0];
  if (folder === undefined) throw new WorkbenchError('cancelled', 'Cancelled.');
  return folder.fsPath;
}

/**
 * The tables to keep, as `dvw env snapshot --tables` takes them: logical names and `prefix_*` patterns; empty
 * keeps every table (undefined).
 */
async function pickTables(input: UserInput, connection: string): Promise<string[] | undefined> {
  const answer = await input.showInputBox({
    title: `Take Schema Snapshot of ${connection}: tables`,
    prompt:
      'Tables to keep, comma-separated: logical names and prefix_* patterns (the tables the emulator needs and ' +
      'base tables are kept with them). Leave empty for every table.',
    placeHolder: 'account, contact, contoso_*',
    validateInput: (text) => {
      const { invalid } = parseTableList(text);
      return invalid.length === 0
        ? undefined
        : `Not a logical name or a prefix_* pattern: ${invalid.map((t) => `'${t}'`).join(', ')}.`;
    },
  });
  if (answer === undefined) throw new WorkbenchError('cancelled', 'Cancelled.');
  const { patterns } = parseTableList(answer);
  return patterns.length === 0 ? undefined : patterns;
}

/**
 * `dataverse.takeSchemaSnapshot` on an environment (or the emulator): the engine of `dvw env snapshot`, with
 * cancellable progress and the same table subset. A cancelled download leaves what it fetched; the same command
 * on the same folder resumes it.
 */
export async function takeSchemaSnapshot(
  services: SchemaSnapshotServices,
  target: unknown,
): Promise<TakeSnapshotCommandResult> {
  const { connections, input, log } = services;
  const connection = await pickConnection(connections, input, target, 'Take Schema Snapshot');
  const folder = await pickFolder(input, `Take Schema Snapshot of ${connection.name}: folder`, 'Save Snapshot Here');
  const tables = await pickTables(input, connection.name);
  let result: SnapshotResult = { tables: 0, reused: 0 };
  let cancelled = false;
  try {
    result = await vscode.window.withProgress(
      {
        location: vscode.ProgressLocation.Notification,
        title: `Schema snapshot of ${connection.name}`,
        cancellable: true,
      },
      async (progress, token) => {
        const abort = new AbortController();
        const subscription = token.onCancellationRequested(() => abort.abort());
        try {
          return await takeSnapshot({
            client: connections.client(connection),
            source: webApiRoot(connection.url),
            folder,
            ...(tables === undefined ? {} : { tables }),
            progress: (line) => {
              log.info(`Schema snapshot of ${connection.name}: ${line}`);
              progress.report({ message: line });
            },
            signal: abort.signal,
          });
        } finally {
          subscription.dispose();
        }
      },
    );
  } catch (error) {
    if (!(error instanceof WorkbenchError && error.kind === 'cancelled')) throw error;
    cancelled = true;
  }
  const message = cancelled
    ? `Schema snapshot of ${connection.name} cancelled. Take it again into ${folder} to resume where it stopped.`
    : `Schema snapshot of ${connection.name} written to ${folder}: ${result.tables} tables.`;
  log.info(message);
  void (cancelled ? vscode.window.showWarningMessage(message) : vscode.window.showInformationMessage(message));
  return { connection: connection.name, folder, cancelled, ...result };
}

/**
 * `dataverse.startEmulatorFromSnapshot`: picks a snapshot folder (or takes one as argument) and starts the local
 * emulator on its tables (the host checks the folder first).
 */
export async function startEmulatorFromSnapshot(
  services: SchemaSnapshotServices,
  target: unknown,
): Promise<RunningEmulator & { readonly schemaSnapshot: string }> {
  const { emulator, input } = services;
  const folder =
    typeof target === 'string'
      ? target
      : await pickFolder(input, 'Start Local Emulator from a Schema Snapshot: folder', 'Start Emulator');
  const running = await vscode.window.withProgress(
    {
      location: vscode.ProgressLocation.Notification,
      title: `Starting the local emulator on the snapshot in ${folder}`,
    },
    () => emulator.start(folder),
  );
  return { ...running, schemaSnapshot: folder };
}

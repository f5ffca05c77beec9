import * as vscode from 'vscode';
import { WorkbenchError } from '../../core/errors';
import { filterProblem, tableQueryText } from '../../odata/tableExplorer';
import type { CommandContext } from '../commandRunner';
import { registerCommand } from '../commandRunner';
import type { ConnectionManager } from '../connections';
import { Commands, LANGUAGE_ID, Views } from '../constants';
import type { EmulatorHost } from '../emulatorHost';
import type { EnvironmentStore } from '../environmentStore';
import { recordText } from '../../core/recordPatch';
import type { MetadataModel } from '../../metadata/model';
import { RecordFileSystem } from '../records/recordFileSystem';
import { recordTemplate } from '../records/recordTemplate';
import { RECORD_SCHEME, SERVER_RECORD_SCHEME } from '../records/recordUri';
import type { UserInput } from '../userInput';
import { ExplorerData } from './explorerData';
import { ExplorerTreeProvider } from './explorerTree';
import type { ExplorerNode, RecordNode, RecordsFolderNode } from './nodes';

export interface ExplorerServices {
  readonly store: EnvironmentStore;
  readonly emulator: EmulatorHost;
  readonly connections: ConnectionManager;
  readonly input: UserInput;
  readonly commandContext: CommandContext;
}

export interface ExplorerRegistration {
  readonly tree: ExplorerTreeProvider;
  readonly records: RecordFileSystem;
  readonly disposables: vscode.Disposable[];
}

function cancelled(): never {
  throw new WorkbenchError('cancelled', 'Cancelled.');
}

/** The explorer view, the `dataverse:` record file system and their commands. */
export function registerExplorer(services: ExplorerServices): ExplorerRegistration {
  const { connections, input, commandContext } = services;
  const data = new ExplorerData(connections);
  const tree = new ExplorerTreeProvider(services.store, services.emulator, connections, data);
  const records = new RecordFileSystem(connections, input, commandContext.log);
  const view = vscode.window.createTreeView(Views.explorer, { treeDataProvider: tree, showCollapseAll: true });

  const expect = <T extends ExplorerNode['type']>(
    value: unknown,
    what: string,
    ...types: T[]
  ): Extract<ExplorerNode, { type: T }> => {
    if (!tree.isNode(value, ...types)) {
      throw new WorkbenchError('invalidInput', `Choose ${what} in the Dataverse explorer first.`);
    }
    return value;
  };
  const expectRecords = (value: unknown): RecordsFolderNode => {
    const node = expect(value, 'the Records of a table', 'folder', 'loadMore');
    const folder = node.type === 'loadMore' ? node.records : node;
    if (folder.folder !== 'records') throw new WorkbenchError('invalidInput', 'Choose the Records of a table first.');
    return folder as RecordsFolderNode;
  };

  const filterTables = async (value: unknown): Promise<string | undefined> => {
    let node;
    if (value === undefined) {
      node = tree.tablesNodeOf(connections.requireActive());
    } else {
      const given = expect(value, 'an environment or its Tables', 'tables', 'emulator', 'environment');
      node = given.type === 'tables' ? given : tree.tablesNodeOf(given.connection);
    }
    const filter = await input.showInputBox({
      title: `Filter Tables of ${node.connection.name}`,
      prompt: 'Part of a display name, logical name or entity set name; empty shows all tables',
      value: tree.tablesFilter(node.connection) ?? '',
    });
    if (filter === undefined) cancelled();
    tree.setTablesFilter(node, filter);
    return filter.trim() === '' ? undefined : filter.trim();
  };

  const filterRecords = async (value: unknown): Promise<string | undefined> => {
    const node = expectRecords(value);
    // Columns are checked only against metadata already at hand or quickly loaded; a failure to load it
    // still leaves the syntax check.
    const schema = await Promise.resolve(
      vscode.window.withProgress({ location: { viewId: Views.explorer }, title: 'Reading the table definition' }, () =>
        data.schema(node.connection, node.table, new AbortController().signal),
      ),
    ).catch(() => undefined);
    const check = (text: string): string | undefined => filterProblem(text, schema?.index, schema?.type);
    const filter = await input.showInputBox({
      title: `Filter ${node.table.displayName ?? node.table.logicalName} Records`,
      prompt: `An OData $filter on ${node.table.entitySet}, e.g. ${node.table.primaryName ?? 'name'} ne null; empty shows all`,
      value: tree.recordsFilter(node) ?? '',
      validateInput: check,
    });
    if (filter === undefined) cancelled();
    const trimmed = filter.trim();
    const problem = check(trimmed);
    if (problem !== undefined) throw new WorkbenchError('invalidInput', `The filter was not sent: ${problem}`);
    tree.setRecordsFilter(node, trimmed === '' ? undefined : trimmed);
    return trimmed === '' ? undefined : trimmed;
  };

  const openRecord = async (value: unknown): Promise<vscode.TextEditor> => {
    const node = expect(value, 'a record', 'record');
    return records.openRecord({ connectionId: node.connection.id, entitySet: node.table.entitySet, id: node.recordId });
  };

  const deleteRecord = async (value: unknown): Promise<string> => {
    const node = expect(value, 'a record', 'record');
    const label = node.table.primaryName === undefined ? undefined : node.record[node.table.primaryName];
    const confirm = 'Delete';
    const answer = await input.showWarningMessage(
      `Delete the ${node.table.displayName ?? node.table.logicalName} "${typeof label === 'string' ? label : node.recordId}" from ${node.connection.name}? This cannot be undone.`,
      { modal: true },
      confirm,
    );
    if (answer !== confirm) cancelled();
    await connections.client(node.connection).delete(node.table.entitySet, node.recordId);
    records.forget({ connectionId: node.connection.id, entitySet: node.table.entitySet, id: node.recordId });
    tree.removeRecord(node);
    return node.recordId;
  };

  const openInWebApp = async (value: unknown): Promise<boolean> => {
    const node: RecordNode = expect(value, 'a record', 'record');
    if (node.connection.kind !== 'environment') {
      throw new WorkbenchError(
        'invalidInput',
        'The local emulator has no web app: open the record in the editor instead.',
      );
    }
    const url = new URL('/main.aspx', node.connection.url);
    url.searchParams.set('etn', node.table.logicalName);
    url.searchParams.set('pagetype', 'entityrecord');
    url.searchParams.set('id', node.recordId);
    return vscode.env.openExternal(vscode.Uri.parse(url.toString()));
  };

  const newTableQuery = async (value: unknown): Promise<vscode.TextEditor> => {
    const node = expect(value, 'a table', 'table');
    const content = tableQueryText({
      entitySet: node.table.entitySet,
      displayName: node.table.displayName,
      primaryId: node.table.primaryId,
      primaryName: node.table.primaryName,
      environment: node.connection.name,
    });
    const document = await vscode.workspace.openTextDocument({ language: LANGUAGE_ID, content });
    return vscode.window.showTextDocument(document);
  };

  const newRecord = async (value: unknown): Promise<vscode.TextEditor> => {
    const node = expect(value, 'a table or its Records', 'table', 'folder');
    if (node.type === 'folder' && node.folder !== 'records') {
      throw new WorkbenchError('invalidInput', 'Choose a table or its Records first.');
    }
    const metadata = connections.metadata(node.connection);
    const model = await vscode.window.withProgress(
      { location: { viewId: Views.explorer }, title: 'Reading the table definition' },
      async (): Promise<MetadataModel> => {
        try {
          return await metadata.withEntityDefinition(node.table.logicalName);
        } catch (error) {
          if (error instanceof WorkbenchError && error.kind === 'cancelled') throw error;
          // Without EntityDefinitions the required levels are unknown: the template has the primary name.
          return (await metadata.get()).model;
        }
      },
    );
    const template = recordTemplate(model, { entitySet: node.table.entitySet, primaryName: node.table.primaryName });
    const uri = records.newDraft(node.connection.id, node.table.entitySet, recordText(template));
    const document = await vscode.workspace.openTextDocument(uri);
    return vscode.window.showTextDocument(document, { preview: false });
  };

  const copy = async (value: unknown, which: 'entitySet' | 'logicalName'): Promise<string> => {
    const node = expect(value, 'a table', 'table', 'folder');
    const text = which === 'entitySet' ? node.table.entitySet : node.table.logicalName;
    await vscode.env.clipboard.writeText(text);
    return text;
  };

  const refresh = (value: unknown): void => {
    if (value === undefined) tree.refresh();
    else tree.refresh(expect(value, 'a node', ...NODE_TYPES));
  };

  return {
    tree,
    records,
    disposables: [
      tree,
      view,
      records,
      records.onDidSaveRecord(({ address, record }) =>
        tree.recordSaved(address.connectionId, address.entitySet, address.id, record),
      ),
      vscode.workspace.registerFileSystemProvider(RECORD_SCHEME, records, { isCaseSensitive: true }),
      vscode.workspace.registerTextDocumentContentProvider(SERVER_RECORD_SCHEME, records),
      registerCommand(commandContext, Commands.refreshExplorer, refresh),
      registerCommand(commandContext, Commands.connectEnvironment, (value) =>
        tree.connect(expect(value, 'an environment', 'emulator', 'environment')),
      ),
      registerCommand(commandContext, Commands.disconnectEnvironment, (value) =>
        tree.disconnect(expect(value, 'an environment', 'emulator', 'environment')),
      ),
      registerCommand(commandContext, Commands.filterTables, filterTables),
      registerCommand(commandContext, Commands.filterRecords, filterRecords),
      registerCommand(commandContext, Commands.clearRecordsFilter, (value) => {
        tree.setRecordsFilter(expectRecords(value), undefined);
      }),
      registerCommand(commandContext, Commands.loadMoreRecords, (value) => {
        const node = expectRecords(value);
        return vscode.window.withProgress({ location: { viewId: Views.explorer } }, () => tree.loadMore(node));
      }),
      registerCommand(commandContext, Commands.retryLoad, (value) =>
        tree.retry(expect(value, 'a node', ...NODE_TYPES)),
      ),
      registerCommand(commandContext, Commands.cancelExplorerLoads, () => tree.cancelLoads()),
      registerCommand(commandContext, Commands.openRecord, openRecord),
      registerCommand(commandContext, Commands.deleteRecord, deleteRecord),
      registerCommand(commandContext, Commands.openRecordInWebApp, openInWebApp),
      registerCommand(commandContext, Commands.newTableQuery, newTableQuery),
      registerCommand(commandContext, Commands.newRecord, newRecord),
      registerCommand(commandContext, Commands.copyEntitySetName, (value) => copy(value, 'entitySet')),
      registerCommand(commandContext, Commands.copyLogicalName, (value) => copy(value, 'logicalName')),
    ],
  };
}

const NODE_TYPES = [
  'emulator',
  'environment',
  'problem',
  'tables',
  'table',
  'folder',
  'column',
  'relationship',
  'key',
  'record',
  'loadMore',
  'error',
  'message',
  'section',
] as const satisfies readonly ExplorerNode['type'][];

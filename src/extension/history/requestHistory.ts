import * as vscode from 'vscode';
import { WorkbenchError } from '../../core/errors';
import type { HistoryEntry } from '../../dataverse/requestHistory';
import {
  historyEntry,
  parseHistory,
  relativeUrl,
  toCurl,
  toOdataText,
  withEntry,
} from '../../dataverse/requestHistory';
import type { CommandContext } from '../commandRunner';
import { registerCommand } from '../commandRunner';
import type { ConnectionManager } from '../connections';
import { Commands, LANGUAGE_ID, Settings, TreeItemContexts, Views } from '../constants';
import type { UserInput } from '../userInput';

/** Enough to find what just happened; workspace state is not a log archive. */
export const HISTORY_LIMIT = 200;
const STATE_KEY = 'dataverse.requestHistory';
const RUN = 'Run';

/**
 * The "Requests" view: every request the extension sent, newest first, kept per workspace. Entries come
 * from the connections' clients (`onDidExchange`), so explorer reads, saves, runs and webhook calls all
 * show without their callers knowing.
 */
export class RequestHistory implements vscode.TreeDataProvider<HistoryEntry>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private list: HistoryEntry[];
  private readonly subscription: vscode.Disposable;
  private count = 0;

  constructor(
    private readonly state: vscode.Memento,
    connections: ConnectionManager,
  ) {
    this.list = parseHistory(state.get<unknown>(STATE_KEY));
    this.subscription = connections.onDidExchange(({ connection, exchange }) => {
      const keepBody =
        vscode.workspace.getConfiguration(Settings.section).get<unknown>(Settings.historyBodies) === true;
      this.count += 1;
      const id = `${exchange.startedAt.toString(36)}-${this.count}`;
      this.list = withEntry(this.list, historyEntry(exchange, connection, { keepBody, id }), HISTORY_LIMIT);
      void this.state.update(STATE_KEY, this.list);
      this.changed.fire(undefined);
    });
  }

  entries(): readonly HistoryEntry[] {
    return this.list;
  }

  async clear(): Promise<void> {
    this.list = [];
    await this.state.update(STATE_KEY, undefined);
    this.changed.fire(undefined);
  }

  /** The latest request with this method whose URL (after `/api/data/v9.x/`) starts with `path`. */
  latest(method: string, path: string): HistoryEntry | undefined {
    return this.list.find((entry) => entry.method === method && relativeUrl(entry.url).startsWith(path));
  }

  getParent(): undefined {
    return undefined;
  }

  getChildren(element?: HistoryEntry): HistoryEntry[] {
    return element === undefined ? this.list : [];
  }

  getTreeItem(entry: HistoryEntry): vscode.TreeItem {
    const item = new vscode.TreeItem(`${entry.method} ${relativeUrl(entry.url)}`, vscode.TreeItemCollapsibleState.None);
    item.id = entry.id;
    const time = new Date(entry.startedAt).toLocaleTimeString();
    const outcome = entry.status === undefined ? 'no answer' : String(entry.status);
    item.description = `${outcome} · ${Math.round(entry.durationMs)} ms · ${time} · ${entry.environment}`;
    item.tooltip = [
      `${entry.method} ${entry.url}`,
      `Environment: ${entry.environment}`,
      `Sent: ${new Date(entry.startedAt).toLocaleString()}`,
      `Status: ${outcome}, ${Math.round(entry.durationMs)} ms`,
      ...(entry.requestId === undefined ? [] : [`Request id: ${entry.requestId}`]),
      ...Object.entries(entry.headers).map(([name, value]) => `${name}: ${value}`),
      ...(entry.error === undefined ? [] : [`Error: ${entry.error}`]),
      ...(entry.body === undefined
        ? []
        : ['', entry.body.length > 2000 ? `${entry.body.slice(0, 2000)}…` : entry.body]),
    ].join('\n');
    const failed = entry.status === undefined || entry.status >= 400;
    item.iconPath = new vscode.ThemeIcon(
      failed ? 'error' : entry.method === 'GET' ? 'arrow-down' : 'arrow-up',
      failed ? new vscode.ThemeColor('list.errorForeground') : undefined,
    );
    item.contextValue = TreeItemContexts.historyEntry;
    return item;
  }

  dispose(): void {
    this.subscription.dispose();
    this.changed.dispose();
  }
}

/** The view and its commands. */
export function registerRequestHistory(
  state: vscode.Memento,
  connections: ConnectionManager,
  input: UserInput,
  commandContext: CommandContext,
): { readonly history: RequestHistory; readonly disposables: vscode.Disposable[] } {
  const history = new RequestHistory(state, connections);
  const entryOf = (value: unknown): HistoryEntry => {
    const entry = history.entries().find((candidate) => candidate === value);
    if (entry === undefined) throw new WorkbenchError('invalidInput', 'Choose a request in the Requests view first.');
    return entry;
  };

  const openAsOdata = async (entry: HistoryEntry): Promise<vscode.TextDocument> => {
    const document = await vscode.workspace.openTextDocument({ language: LANGUAGE_ID, content: toOdataText(entry) });
    await vscode.window.showTextDocument(document, { preview: false });
    return document;
  };

  /** Opens the request as a `.odata` file and runs it; a write is run only once the user confirms. */
  const rerun = async (value: unknown): Promise<unknown> => {
    const entry = entryOf(value);
    const writes = entry.method !== 'GET';
    if (writes && entry.body === undefined && entry.method !== 'DELETE') {
      await openAsOdata(entry);
      throw new WorkbenchError(
        'invalidInput',
        `The body of this ${entry.method} was not kept (setting dataverse.history.bodies), so it was opened to complete instead of run.`,
      );
    }
    if (writes) {
      const answer = await input.showWarningMessage(
        `Run ${entry.method} ${relativeUrl(entry.url)} on ${entry.environment} again? It changes data.`,
        { modal: true },
        RUN,
      );
      if (answer !== RUN) throw new WorkbenchError('cancelled', 'Cancelled.');
    }
    const document = await openAsOdata(entry);
    // Block 0 holds `@environment`; the request is the first `###` block.
    return vscode.commands.executeCommand(Commands.runBlock, { uri: document.uri.toString(), blockIndex: 1 });
  };

  const view = vscode.window.createTreeView(Views.requests, { treeDataProvider: history });

  /** Selects the latest matching request in the Requests view; returns it (tests read it). */
  const showInHistory = async (value: unknown): Promise<HistoryEntry> => {
    const query = value as { method?: unknown; path?: unknown } | undefined;
    if (typeof query?.method !== 'string' || typeof query.path !== 'string') {
      throw new WorkbenchError('invalidInput', 'Show in History needs a method and a path.');
    }
    const entry = history.latest(query.method, query.path);
    if (entry === undefined) {
      throw new WorkbenchError('notFound', `The Requests view no longer lists ${query.method} ${query.path}.`);
    }
    await view.reveal(entry, { select: true, focus: true });
    return entry;
  };

  const copy = async (value: unknown, as: 'odata' | 'curl'): Promise<string> => {
    const entry = entryOf(value);
    const text = as === 'odata' ? toOdataText(entry) : toCurl(entry);
    await vscode.env.clipboard.writeText(text);
    return text;
  };

  return {
    history,
    disposables: [
      history,
      view,
      registerCommand(commandContext, Commands.showInHistory, showInHistory),
      registerCommand(commandContext, Commands.rerunRequest, rerun),
      registerCommand(commandContext, Commands.copyRequestAsOdata, (value) => copy(value, 'odata')),
      registerCommand(commandContext, Commands.copyRequestAsCurl, (value) => copy(value, 'curl')),
      registerCommand(commandContext, Commands.clearRequestHistory, () => history.clear()),
    ],
  };
}

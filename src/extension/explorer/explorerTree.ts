import * as vscode from 'vscode';
import type { EnvironmentConfig } from '../../core/environments';
import { TreeItemContexts } from '../constants';
import type { EmulatorHost, RunningEmulator } from '../emulatorHost';
import type { EnvironmentStore } from '../environmentStore';

export type ExplorerNode =
  | { readonly type: 'emulator'; readonly emulator: RunningEmulator }
  | { readonly type: 'environment'; readonly environment: EnvironmentConfig }
  | { readonly type: 'problem'; readonly message: string };

/**
 * The Dataverse explorer. Nodes wrap model objects; data comes from services. An empty list shows
 * the manifest's `viewsWelcome` content.
 */
export class ExplorerTreeProvider implements vscode.TreeDataProvider<ExplorerNode>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<ExplorerNode | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private readonly subscriptions: vscode.Disposable[];

  constructor(
    private readonly store: EnvironmentStore,
    private readonly emulator: EmulatorHost,
  ) {
    this.subscriptions = [store.onDidChange(() => this.refresh()), emulator.onDidChange(() => this.refresh())];
  }

  refresh(): void {
    this.changed.fire(undefined);
  }

  getChildren(element?: ExplorerNode): ExplorerNode[] {
    if (element) return [];
    const { environments, problems } = this.store.read();
    const running = this.emulator.running;
    return [
      ...(running ? [{ type: 'emulator', emulator: running } as const] : []),
      ...environments.map((environment): ExplorerNode => ({ type: 'environment', environment })),
      ...problems.map((message): ExplorerNode => ({ type: 'problem', message })),
    ];
  }

  getTreeItem(node: ExplorerNode): vscode.TreeItem {
    if (node.type === 'emulator') {
      const item = new vscode.TreeItem('Local emulator', vscode.TreeItemCollapsibleState.None);
      item.id = 'emulator';
      item.description = node.emulator.url;
      item.tooltip = `The local Dataverse emulator\n${node.emulator.webApi}`;
      item.iconPath = new vscode.ThemeIcon('vm-running');
      item.contextValue = TreeItemContexts.emulator;
      return item;
    }
    if (node.type === 'problem') {
      const item = new vscode.TreeItem('Invalid environment setting', vscode.TreeItemCollapsibleState.None);
      item.description = node.message;
      item.tooltip = node.message;
      item.iconPath = new vscode.ThemeIcon('warning');
      item.contextValue = TreeItemContexts.problem;
      return item;
    }
    const item = new vscode.TreeItem(node.environment.name, vscode.TreeItemCollapsibleState.None);
    item.id = `environment:${node.environment.name}`;
    item.description = node.environment.url;
    item.tooltip = `${node.environment.name}\n${node.environment.url}`;
    item.iconPath = new vscode.ThemeIcon('database');
    item.contextValue = TreeItemContexts.environment;
    return item;
  }

  dispose(): void {
    for (const subscription of this.subscriptions) subscription.dispose();
    this.changed.dispose();
  }
}

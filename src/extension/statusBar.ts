import * as vscode from 'vscode';
import type { ConnectionManager } from './connections';
import { Commands } from './constants';

/** Shows the active environment; a click switches it. */
export function createEnvironmentStatusBar(connections: ConnectionManager): vscode.Disposable {
  const item = vscode.window.createStatusBarItem('dataverse.environment', vscode.StatusBarAlignment.Left, 50);
  item.name = 'Dataverse Environment';
  item.command = Commands.selectEnvironment;
  const update = (): void => {
    const active = connections.active;
    item.text = active ? `$(database) ${active.name}` : '$(database) No environment';
    item.tooltip = active
      ? `Dataverse: ${active.url}\nClick to switch environments`
      : 'Connect to a Dataverse environment';
    item.show();
  };
  update();
  return vscode.Disposable.from(item, connections.onDidChangeActive(update));
}

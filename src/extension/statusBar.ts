import * as vscode from 'vscode';
import type { ConnectionManager } from './connections';
import { Commands, Settings } from './constants';

/** Shows the active environment; a click switches it. A production environment shows in the warning colour. */
export function createEnvironmentStatusBar(connections: ConnectionManager): vscode.Disposable {
  const item = vscode.window.createStatusBarItem('dataverse.environment', vscode.StatusBarAlignment.Left, 50);
  item.name = 'Dataverse Environment';
  item.command = Commands.selectEnvironment;
  const update = (): void => {
    const active = connections.active;
    const config = active === undefined ? undefined : connections.environmentOf(active);
    const mark = config?.production === true ? ' (production)' : config?.readOnly === true ? ' (read-only)' : '';
    item.text = active ? `$(database) ${active.name}${mark}` : '$(database) No environment';
    item.tooltip = active
      ? `Dataverse: ${active.url}${mark === '' ? '' : `\nMarked${mark.replace(/[()]/g, '')}: agent tools never write here`}\nClick to switch environments`
      : 'Connect to a Dataverse environment';
    item.backgroundColor =
      config?.production === true ? new vscode.ThemeColor('statusBarItem.warningBackground') : undefined;
    item.show();
  };
  update();
  return vscode.Disposable.from(
    item,
    connections.onDidChangeActive(update),
    // Marking an environment production changes no connection, only how it is shown.
    vscode.workspace.onDidChangeConfiguration((event) => {
      if (event.affectsConfiguration(`${Settings.section}.${Settings.environments}`)) update();
    }),
  );
}

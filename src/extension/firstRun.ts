import * as vscode from 'vscode';

/** `<publisher>.<name>#<walkthrough id>`, as `workbench.action.openWalkthrough` takes it. */
export const WALKTHROUGH_ID = 'dataverse-workbench.dataverse-workbench#gettingStarted';
const SHOWN_KEY = 'dataverse.walkthroughShown';

/**
 * Opens the Getting Started walkthrough the first time the extension activates in this profile, beside
 * whatever the user opened (VS Code does not open an extension's walkthrough by itself).
 */
export async function openWalkthroughOnce(state: vscode.Memento): Promise<boolean> {
  if (state.get<boolean>(SHOWN_KEY) === true) return false;
  await state.update(SHOWN_KEY, true);
  await vscode.commands.executeCommand('workbench.action.openWalkthrough', WALKTHROUGH_ID, false);
  return true;
}

/** Ticks a walkthrough step whose completion event is `onContext:<key>`. */
export function tickStep(key: string): void {
  void vscode.commands.executeCommand('setContext', key, true);
}

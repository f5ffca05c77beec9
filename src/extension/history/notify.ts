import * as vscode from 'vscode';
import { Commands } from '../constants';

const OPEN_FILE = 'Open File';
const SHOW_IN_HISTORY = 'Show in History';

/** The request a notification points at in the Requests view: its method and the start of its path. */
export interface SentRequest {
  readonly method: string;
  readonly path: string;
}

/**
 * The end of a save, an export or an import: a notification that says what happened and offers the
 * file written and the request in the Requests view.
 */
export function notifyDone(message: string, request: SentRequest, file?: vscode.Uri): void {
  const actions = file === undefined ? [SHOW_IN_HISTORY] : [OPEN_FILE, SHOW_IN_HISTORY];
  void vscode.window.showInformationMessage(message, ...actions).then(async (choice) => {
    if (choice === OPEN_FILE && file !== undefined) await vscode.window.showTextDocument(file, { preview: false });
    if (choice === SHOW_IN_HISTORY) await vscode.commands.executeCommand(Commands.showInHistory, request);
  });
}

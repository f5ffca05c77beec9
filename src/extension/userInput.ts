import * as vscode from 'vscode';

/**
 * Every prompt goes through this interface, so that integration tests can script the answers
 * (the extension's API exposes `setUserInput`). `undefined` means the user cancelled.
 */
export interface UserInput {
  showInputBox(options: vscode.InputBoxOptions): Promise<string | undefined>;
  showQuickPick<T extends vscode.QuickPickItem>(
    items: readonly T[],
    options: vscode.QuickPickOptions,
  ): Promise<T | undefined>;
  showWarningMessage(message: string, options: { modal: boolean }, ...actions: string[]): Promise<string | undefined>;
  /** Picks files; `undefined` (or no file) when the user cancelled. */
  showOpenDialog(options: vscode.OpenDialogOptions): Promise<readonly vscode.Uri[] | undefined>;
  /** Picks a file to write; `undefined` when the user cancelled. */
  showSaveDialog(options: vscode.SaveDialogOptions): Promise<vscode.Uri | undefined>;
}

export const vscodeUserInput: UserInput = {
  showInputBox: async (options) => vscode.window.showInputBox(options),
  showQuickPick: async (items, options) => vscode.window.showQuickPick(items, options),
  showWarningMessage: async (message, options, ...actions) =>
    vscode.window.showWarningMessage(message, options, ...actions),
  showOpenDialog: async (options) => vscode.window.showOpenDialog(options),
  showSaveDialog: async (options) => vscode.window.showSaveDialog(options),
};

import * as vscode from 'vscode';
import type { Back, InputStepOptions, QuickPickStepOptions, StepPosition } from './multiStepInput';
import { BACK } from './multiStepInput';

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
  /** One input of a multi-step flow (`runSteps`): the text, `BACK`, or `undefined` when cancelled. */
  showInputStep(options: InputStepOptions): Promise<string | Back | undefined>;
  /** One pick of a multi-step flow: the picked item (or the checked items), `BACK`, or `undefined`. */
  showQuickPickStep<T extends vscode.QuickPickItem>(
    items: readonly T[],
    options: QuickPickStepOptions<T>,
  ): Promise<readonly T[] | Back | undefined>;
}

/** Shows a quick input at its step until `listen` (or Back, or Escape) settles it, then disposes it. */
async function stepInput<T>(
  quickInput: vscode.QuickInput & {
    buttons: readonly vscode.QuickInputButton[];
    readonly onDidTriggerButton: vscode.Event<vscode.QuickInputButton>;
  },
  position: StepPosition,
  listen: (settle: (answer: T | Back | undefined) => void) => vscode.Disposable[],
): Promise<T | Back | undefined> {
  quickInput.title = position.title;
  quickInput.step = position.step;
  quickInput.totalSteps = position.totalSteps;
  quickInput.buttons = position.step > 1 ? [vscode.QuickInputButtons.Back] : [];
  // A click elsewhere must not throw away the answers of the earlier steps; Escape cancels.
  quickInput.ignoreFocusOut = true;
  const disposables: vscode.Disposable[] = [];
  try {
    return await new Promise<T | Back | undefined>((resolve) => {
      disposables.push(
        ...listen(resolve),
        quickInput.onDidTriggerButton((button) => {
          if (button === vscode.QuickInputButtons.Back) resolve(BACK);
        }),
        quickInput.onDidHide(() => resolve(undefined)),
      );
      quickInput.show();
    });
  } finally {
    for (const disposable of disposables) disposable.dispose();
    quickInput.dispose();
  }
}

export const vscodeUserInput: UserInput = {
  showInputBox: async (options) => vscode.window.showInputBox(options),
  showQuickPick: async (items, options) => vscode.window.showQuickPick(items, options),
  showWarningMessage: async (message, options, ...actions) =>
    vscode.window.showWarningMessage(message, options, ...actions),
  showOpenDialog: async (options) => vscode.window.showOpenDialog(options),
  showSaveDialog: async (options) => vscode.window.showSaveDialog(options),
  showInputStep: async (options) => {
    const box = vscode.window.createInputBox();
    box.prompt = options.prompt;
    box.value = options.value ?? '';
    box.password = options.password ?? false;
    box.placeholder = options.placeholder;
    return stepInput<string>(box, options, (settle) => [
      box.onDidChangeValue((value) => {
        box.validationMessage = options.validateInput?.(value);
      }),
      box.onDidAccept(() => {
        const message = options.validateInput?.(box.value);
        box.validationMessage = message;
        if (message === undefined) settle(box.value);
      }),
    ]);
  },
  showQuickPickStep: async <T extends vscode.QuickPickItem>(items: readonly T[], options: QuickPickStepOptions<T>) => {
    const pick = vscode.window.createQuickPick<T>();
    pick.placeholder = options.placeholder;
    pick.matchOnDescription = options.matchOnDescription ?? false;
    pick.canSelectMany = options.canPickMany ?? false;
    pick.items = items;
    if (options.canPickMany === true) pick.selectedItems = options.selected ?? [];
    else if (options.active !== undefined) pick.activeItems = [options.active];
    return stepInput<readonly T[]>(pick, options, (settle) => [
      pick.onDidAccept(() => {
        if (pick.canSelectMany) settle(pick.selectedItems);
        else if (pick.activeItems[0] !== undefined) settle([pick.activeItems[0]]);
      }),
    ]);
  },
};

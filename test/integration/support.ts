import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import type { WorkbenchApi } from '../../src/extension/extension';
import type { UserInput } from '../../src/extension/userInput';

export const EXTENSION_ID = 'dataverse-workbench.dataverse-workbench';

export async function activateWorkbench(): Promise<{ extension: vscode.Extension<WorkbenchApi>; api: WorkbenchApi }> {
  const extension = vscode.extensions.getExtension<WorkbenchApi>(EXTENSION_ID);
  assert.ok(extension, `extension ${EXTENSION_ID} is not installed in this VS Code`);
  const api = await extension.activate();
  return { extension, api };
}

/** Retries `probe` until it returns a value, for results that a separate process produces. */
export async function eventually<T>(
  probe: () => Promise<T | undefined> | T | undefined,
  what: string,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Answers prompts from a script, in order; fails the test on a prompt it did not expect. */
export class ScriptedInput implements UserInput {
  readonly prompts: string[] = [];
  readonly validationMessages: (string | undefined)[] = [];

  constructor(
    private readonly answers: (string | undefined)[],
    /** Values to run through each input box's validateInput before answering. */
    private readonly probeValues: string[] = [],
  ) {}

  async showInputBox(options: vscode.InputBoxOptions): Promise<string | undefined> {
    this.prompts.push(options.prompt ?? options.title ?? '');
    for (const value of this.probeValues) {
      const message = await options.validateInput?.(value);
      this.validationMessages.push(typeof message === 'string' ? message : message?.message);
    }
    return this.next();
  }

  async showQuickPick<T extends vscode.QuickPickItem>(
    items: readonly T[],
    options: vscode.QuickPickOptions,
  ): Promise<T | undefined> {
    this.prompts.push(options.title ?? options.placeHolder ?? '');
    const label = this.next();
    return Promise.resolve(items.find((item) => item.label === label));
  }

  async showWarningMessage(message: string): Promise<string | undefined> {
    this.prompts.push(message);
    return Promise.resolve(this.next());
  }

  /** The scripted answer is a file system path; `undefined` cancels. */
  async showOpenDialog(options: vscode.OpenDialogOptions): Promise<readonly vscode.Uri[] | undefined> {
    this.prompts.push(options.title ?? options.openLabel ?? '');
    const path = this.next();
    return Promise.resolve(path === undefined ? undefined : [vscode.Uri.file(path)]);
  }

  /** The scripted answer is a file system path; `undefined` cancels. */
  async showSaveDialog(options: vscode.SaveDialogOptions): Promise<vscode.Uri | undefined> {
    this.prompts.push(options.title ?? options.saveLabel ?? '');
    const path = this.next();
    return Promise.resolve(path === undefined ? undefined : vscode.Uri.file(path));
  }

  private next(): string | undefined {
    if (this.answers.length === 0) throw new Error(`unexpected prompt: ${this.prompts.at(-1)}`);
    return this.answers.shift();
  }
}

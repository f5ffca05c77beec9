import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import type { WorkbenchApi } from '../../src/extension/extension';
import type { Back, InputStepOptions, QuickPickStepOptions, StepPosition } from '../../src/extension/multiStepInput';
import { BACK } from '../../src/extension/multiStepInput';
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

/** A step of a multi-step flow as it was shown: its position, prompt and, for a pick, the items offered. */
export interface ShownStep extends StepPosition {
  readonly prompt: string;
  readonly back: boolean;
  /** The input's value or the pick's active item (the earlier answer), and the checked items. */
  readonly value?: string;
  readonly items?: readonly string[];
  readonly selected?: readonly string[];
}

/**
 * Answers prompts from a script, in order; fails the test on a prompt it did not expect. In a
 * multi-step flow `BACK` presses Back, and a multi-select pick is answered by comma-separated labels.
 */
export class ScriptedInput implements UserInput {
  readonly prompts: string[] = [];
  readonly validationMessages: (string | undefined)[] = [];
  readonly steps: ShownStep[] = [];

  constructor(
    private readonly answers: (string | Back | undefined)[],
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

  async showInputStep(options: InputStepOptions): Promise<string | Back | undefined> {
    this.shown(options, options.prompt, { value: options.value ?? '' });
    for (const value of this.probeValues) this.validationMessages.push(options.validateInput?.(value));
    const answer = await Promise.resolve(this.nextStep(options));
    const refused = typeof answer === 'string' ? options.validateInput?.(answer) : undefined;
    if (refused !== undefined) throw new Error(`the scripted answer "${String(answer)}" is refused: ${refused}`);
    return answer;
  }

  async showQuickPickStep<T extends vscode.QuickPickItem>(
    items: readonly T[],
    options: QuickPickStepOptions<T>,
  ): Promise<readonly T[] | Back | undefined> {
    this.shown(options, options.placeholder, {
      items: items.map((item) => item.label),
      ...(options.active === undefined ? {} : { value: options.active.label }),
      ...(options.selected === undefined ? {} : { selected: options.selected.map((item) => item.label) }),
    });
    const answer = await Promise.resolve(this.nextStep(options));
    if (answer === undefined || answer === BACK) return answer;
    const labels = options.canPickMany === true ? answer.split(',').filter((label) => label !== '') : [answer];
    return labels.map((label) => {
      const item = items.find((candidate) => candidate.label === label);
      if (item === undefined) throw new Error(`"${options.placeholder}" offers no "${label}"`);
      return item;
    });
  }

  private shown(position: StepPosition, prompt: string, details: Partial<ShownStep>): void {
    this.prompts.push(prompt);
    const { title, step, totalSteps } = position;
    this.steps.push({ title, step, totalSteps, prompt, back: step > 1, ...details });
  }

  private nextStep(position: StepPosition): string | Back | undefined {
    if (this.answers.length === 0) throw new Error(`unexpected prompt: ${this.prompts.at(-1)}`);
    const answer = this.answers.shift();
    if (answer === BACK && position.step === 1) throw new Error('Back is not offered at the first step');
    return answer;
  }

  private next(): string | undefined {
    const answer = this.nextStep({ title: '', step: 0, totalSteps: 0 });
    if (answer === BACK) throw new Error(`Back answered a prompt outside a multi-step flow: ${this.prompts.at(-1)}`);
    return answer;
  }
}

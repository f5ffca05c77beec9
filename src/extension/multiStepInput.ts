import type * as vscode from 'vscode';
import { WorkbenchError } from '../core/errors';
import type { UserInput } from './userInput';

// Multi-step prompts, in the style of VS Code's quickinput sample (multiStepInput.ts): each prompt shows
// "Title (n/m)" and, after the first, a Back button that returns to the previous prompt with its answer
// kept; Escape cancels the whole flow. No runtime `vscode` import, so unit tests drive it in plain Node.

/**
 * A step's answer when the user pressed Back (scripted inputs answer it too). A registered symbol: the
 * integration tests are bundled apart from the extension and must hand it the same value.
 */
export const BACK: unique symbol = Symbol.for('dataverse-workbench.back');
export type Back = typeof BACK;

/** Where a prompt sits in its flow. Back is offered from step 2 on. */
export interface StepPosition {
  /** The flow's title ("Register Webhook"); VS Code shows it as "Register Webhook (3/8)". */
  readonly title: string;
  readonly step: number;
  readonly totalSteps: number;
}

export interface InputStepOptions extends StepPosition {
  readonly prompt: string;
  readonly value?: string;
  readonly password?: boolean;
  readonly placeholder?: string;
  /** A message while the value is refused; Enter is ignored until it is undefined. */
  readonly validateInput?: (value: string) => string | undefined;
}

export interface QuickPickStepOptions<T extends vscode.QuickPickItem> extends StepPosition {
  readonly placeholder: string;
  /** The item under the cursor when the step opens (the earlier answer). */
  readonly active?: T;
  /** Check boxes: the answer is every checked item, `selected` checked at first. */
  readonly canPickMany?: boolean;
  readonly selected?: readonly T[];
  readonly matchOnDescription?: boolean;
}

/** What a step's `ask` gets: prompts already placed at the step's position, cancellation handled. */
export interface StepPrompts {
  input(options: Omit<InputStepOptions, keyof StepPosition>): Promise<string | Back>;
  pick<T extends vscode.QuickPickItem>(
    items: readonly T[],
    options: Omit<QuickPickStepOptions<T>, keyof StepPosition | 'canPickMany' | 'selected'>,
  ): Promise<T | Back>;
  pickMany<T extends vscode.QuickPickItem>(
    items: readonly T[],
    options: Omit<QuickPickStepOptions<T>, keyof StepPosition | 'canPickMany' | 'active'>,
  ): Promise<readonly T[] | Back>;
}

export interface FlowStep<S> {
  /** Names the step, so Back finds it again when later steps come and go. */
  readonly key: string;
  /** Asks and writes the answer into the state; BACK when the user went back. */
  ask(state: S, prompts: StepPrompts): Promise<Back | undefined>;
}

function cancelled(): never {
  throw new WorkbenchError('cancelled', 'Cancelled.');
}

/**
 * Runs the steps `stepsOf(state)` lists for the answers so far, in order, until none is left. The list
 * is asked again after every answer, so a step an earlier answer makes unnecessary is neither asked nor
 * counted in "n/m". A step's presence may depend only on the answers of the steps before it.
 */
export async function runSteps<S>(
  input: UserInput,
  title: string,
  state: S,
  stepsOf: (state: S) => readonly FlowStep<S>[],
): Promise<S> {
  const answered: string[] = [];
  for (;;) {
    const steps = stepsOf(state);
    const step = steps[answered.length];
    if (step === undefined) return state;
    if (steps.slice(0, answered.length).some((earlier, index) => earlier.key !== answered[index])) {
      throw new WorkbenchError('internal', `The steps of "${title}" changed behind step ${answered.length + 1}.`);
    }
    const position: StepPosition = { title, step: answered.length + 1, totalSteps: steps.length };
    const answer = await step.ask(state, promptsAt(input, position));
    if (answer === BACK) answered.pop();
    else answered.push(step.key);
  }
}

function promptsAt(input: UserInput, position: StepPosition): StepPrompts {
  const answered = <T>(answer: T | Back | undefined): T | Back => {
    if (answer === undefined) cancelled();
    if (answer === BACK && position.step === 1) throw new WorkbenchError('internal', 'Back from the first step.');
    return answer;
  };
  return {
    input: async (options) => answered(await input.showInputStep({ ...options, ...position })),
    pick: async (items, options) => {
      const answer = answered(await input.showQuickPickStep(items, { ...options, ...position }));
      return answer === BACK ? BACK : (answer[0] ?? cancelled());
    },
    pickMany: async (items, options) =>
      answered(await input.showQuickPickStep(items, { ...options, ...position, canPickMany: true })),
  };
}

/** A text step: `options` from the answers so far (the earlier answer as `value`), `set` stores the text. */
export function inputStep<S>(
  key: string,
  options: (state: S) => Omit<InputStepOptions, keyof StepPosition>,
  set: (state: S, value: string) => void,
): FlowStep<S> {
  return {
    key,
    async ask(state, prompts) {
      const answer = await prompts.input(options(state));
      if (answer === BACK) return BACK;
      set(state, answer);
      return undefined;
    },
  };
}

/** A pick step: the item `isAnswer` finds (the earlier answer) starts under the cursor. */
export function pickStep<S, T extends vscode.QuickPickItem>(
  key: string,
  placeholder: string,
  items: (state: S) => readonly T[] | Promise<readonly T[]>,
  isAnswer: (state: S, item: T) => boolean,
  set: (state: S, item: T) => void,
): FlowStep<S> {
  return {
    key,
    async ask(state, prompts) {
      const offered = await items(state);
      const active = offered.find((item) => isAnswer(state, item));
      const answer = await prompts.pick(offered, { placeholder, ...(active === undefined ? {} : { active }) });
      if (answer === BACK) return BACK;
      set(state, answer);
      return undefined;
    },
  };
}

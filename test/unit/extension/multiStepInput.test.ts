import * as assert from 'node:assert/strict';
import type { Back, FlowStep, InputStepOptions, QuickPickStepOptions } from '../../../src/extension/multiStepInput';
import { BACK, inputStep, pickStep, runSteps } from '../../../src/extension/multiStepInput';
import type { UserInput } from '../../../src/extension/userInput';

// The multi-step driver against a scripted prompt service (the edge the unit stops at; the real
// QuickPick/InputBox are exercised in VS Code by test/integration/webhooks.test.ts).

type Answer = string | Back | undefined;
interface Shown {
  readonly at: string;
  readonly prompt: string;
  readonly value: string | undefined;
}

function scripted(answers: Answer[]): { input: UserInput; shown: Shown[] } {
  const shown: Shown[] = [];
  const next = (
    options: InputStepOptions | QuickPickStepOptions<{ label: string }>,
    prompt: string,
    value?: string,
  ) => {
    shown.push({ at: `${options.title} (${options.step}/${options.totalSteps})`, prompt, value });
    if (answers.length === 0) throw new Error(`unexpected prompt ${prompt}`);
    return answers.shift();
  };
  const input = {
    showInputStep: async (options: InputStepOptions) => Promise.resolve(next(options, options.prompt, options.value)),
    showQuickPickStep: async (
      items: readonly { label: string }[],
      options: QuickPickStepOptions<{ label: string }>,
    ) => {
      const answer = next(options, options.placeholder, options.active?.label);
      if (answer === undefined || answer === BACK) return Promise.resolve(answer);
      return Promise.resolve(items.filter((item) => item.label === answer));
    },
  } as unknown as UserInput;
  return { input, shown };
}

interface Order {
  size?: string;
  milk?: string;
  note: string;
}

const sizes = [{ label: 'Small' }, { label: 'Large' }];
const milks = [{ label: 'Oat' }, { label: 'None' }];

/** A large order asks for milk; a small one does not. */
const steps = (state: Order): FlowStep<Order>[] => [
  pickStep<Order, { label: string }>(
    'size',
    'Size',
    () => sizes,
    (s, item) => item.label === s.size,
    (s, item) => (s.size = item.label),
  ),
  ...(state.size === 'Large'
    ? [
        pickStep<Order, { label: string }>(
          'milk',
          'Milk',
          () => milks,
          (s, item) => item.label === s.milk,
          (s, item) => (s.milk = item.label),
        ),
      ]
    : []),
  inputStep<Order>(
    'note',
    (s) => ({ prompt: 'Note', value: s.note }),
    (s, note) => (s.note = note),
  ),
];

describe('multi-step input', () => {
  it('counts only the steps the answers so far call for, and numbers them "n/m"', async () => {
    const { input, shown } = scripted(['Large', 'Oat', 'hot']);
    const order = await runSteps(input, 'Order', { note: '' }, steps);
    assert.deepEqual(order, { size: 'Large', milk: 'Oat', note: 'hot' });
    assert.deepEqual(
      shown.map((s) => s.at),
      ['Order (1/2)', 'Order (2/3)', 'Order (3/3)'],
    );
  });

  it('goes back with the earlier answer kept, and drops a step an earlier answer no longer needs', async () => {
    const { input, shown } = scripted(['Large', 'Oat', BACK, BACK, 'Small', 'cold']);
    const order = await runSteps(input, 'Order', { note: '' }, steps);
    assert.equal(order.size, 'Small');
    assert.equal(order.note, 'cold');
    assert.deepEqual(
      shown.map((s) => [s.at, s.prompt, s.value]),
      [
        ['Order (1/2)', 'Size', undefined],
        ['Order (2/3)', 'Milk', undefined],
        ['Order (3/3)', 'Note', ''],
        ['Order (2/3)', 'Milk', 'Oat'],
        ['Order (1/3)', 'Size', 'Large'],
        ['Order (2/2)', 'Note', ''],
      ],
    );
  });

  it('cancels the whole flow on Escape, and refuses Back from the first step', async () => {
    await assert.rejects(runSteps(scripted(['Large', undefined]).input, 'Order', { note: '' }, steps), /Cancelled/);
    await assert.rejects(runSteps(scripted([BACK]).input, 'Order', { note: '' }, steps), /Back from the first step/);
  });
});

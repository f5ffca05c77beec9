import * as assert from 'node:assert/strict';
import { WorkbenchError } from '../../../../src/core/errors';
import { Loads } from '../../../../src/extension/explorer/loads';

describe('explorer loads', () => {
  it('shares one in-flight load between concurrent callers and remembers the value', async () => {
    const loads = new Loads();
    let calls = 0;
    const load = async (): Promise<number> => {
      calls += 1;
      await Promise.resolve();
      return 42;
    };
    const [a, b] = await Promise.all([loads.get('conn/tables', load), loads.get('conn/tables', load)]);
    assert.deepEqual([a, b, calls], [42, 42, 1]);
    assert.equal(await loads.get('conn/tables', load), 42);
    assert.equal(calls, 1);
  });

  it('remembers a failure until the subtree is forgotten, so re-renders send nothing', async () => {
    const loads = new Loads();
    let calls = 0;
    const failing = (): Promise<never> => {
      calls += 1;
      return Promise.reject(new WorkbenchError('odata', 'bad filter'));
    };
    await assert.rejects(loads.get('conn/t/records', failing), /bad filter/);
    await assert.rejects(loads.get('conn/t/records', failing), /bad filter/);
    assert.equal(calls, 1);
    loads.forget('conn/t');
    await assert.rejects(loads.get('conn/t/records', failing), /bad filter/);
    assert.equal(calls, 2);
  });

  it('aborts loads in flight when their subtree is forgotten, and forgets cancelled loads', async () => {
    const loads = new Loads();
    const pending = loads.get(
      'conn/t/columns',
      (signal) =>
        new Promise<never>((_, reject) =>
          signal.addEventListener('abort', () => reject(new WorkbenchError('cancelled', 'Cancelled.'))),
        ),
    );
    loads.forget('conn');
    await assert.rejects(pending, (error: unknown) => error instanceof WorkbenchError && error.kind === 'cancelled');
    assert.equal(await loads.get('conn/t/columns', () => Promise.resolve('again')), 'again');
  });

  it('leaves other subtrees alone, and cancelAll aborts only what is in flight', async () => {
    const loads = new Loads();
    await loads.get('a/tables', () => Promise.resolve(1));
    await loads.get('ab/tables', () => Promise.resolve(2));
    loads.forget('a');
    let reloaded = 0;
    await loads.get('ab/tables', () => Promise.resolve((reloaded += 1)));
    assert.equal(reloaded, 0, "'ab' is not below 'a'");
    const pending = loads.get(
      'ab/more',
      (signal) => new Promise((resolve) => signal.addEventListener('abort', () => resolve('stopped'))),
    );
    assert.equal(loads.cancelAll(), 1);
    assert.equal(await pending, 'stopped');
  });
});

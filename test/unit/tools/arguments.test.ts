import * as assert from 'node:assert/strict';
import { checkArguments } from '../../../src/tools/arguments';
import { toolDefinition } from '../../../src/tools/definitions';
import { ToolRefusal } from '../../../src/tools/refusal';

const runQuery = toolDefinition('run_query')!;
const getRecord = toolDefinition('get_record')!;

function refusal(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    assert.ok(error instanceof ToolRefusal);
    return error.message;
  }
  assert.fail('expected a refusal');
}

describe('checkArguments', () => {
  it('accepts arguments that match the schema and treats missing input as {}', () => {
    assert.deepEqual(checkArguments(runQuery, { query: 'accounts', maxRows: 10 }), { query: 'accounts', maxRows: 10 });
    assert.deepEqual(checkArguments(toolDefinition('list_environments')!, undefined), {});
  });

  it('names every wrong argument, what it must be, and what was given', () => {
    assert.equal(
      refusal(() => checkArguments(runQuery, { maxRows: 'ten', limit: 5 })),
      'Invalid arguments for run_query: query is required; maxRows must be a whole number, not "ten"; limit is not an argument of this tool (it takes query, environment, maxRows).',
    );
    assert.equal(
      refusal(() => checkArguments(runQuery, { query: '  ', maxRows: 501 })),
      'Invalid arguments for run_query: query must not be empty; maxRows must be from 1 to 500, not 501.',
    );
    assert.equal(
      refusal(() => checkArguments(getRecord, { table: 'account', id: 'x'.repeat(36), select: ['name', 3] })),
      'Invalid arguments for get_record: select[1] must be a string, not number 3.',
    );
  });

  it('refuses input that is not an object', () => {
    assert.match(
      refusal(() => checkArguments(runQuery, ['accounts'])),
      /must be a JSON object, not an array/,
    );
  });
});

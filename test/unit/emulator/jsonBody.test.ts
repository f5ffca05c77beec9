import assert from 'node:assert/strict';
import fc from 'fast-check';
import { inexactLiteral, isExactNumber, parseJsonBody } from '../../../src/emulator/jsonBody';
import { DataverseHttpError } from '../../../src/emulator/errors';

/** An inexact literal beside the value makes the reader take its own path instead of `JSON.parse`. */
const INEXACT = '0.1000000000000000000001';

const prototype = (value: unknown): unknown =>
  typeof value === 'object' && value !== null ? Object.getPrototypeOf(value) : undefined;

describe('emulator JSON bodies (jsonBody.ts)', function () {
  it('reads any JSON text to the same value as JSON.parse, on both of its paths', function () {
    const text = fc.oneof(
      fc.json({ maxDepth: 6 }),
      fc.constantFrom(
        '{"a":1,"a":2}',
        '{"__proto__":{"x":1}}',
        '{"1":0,"0":1,"b":2}',
        ' [ -0 , 1E-7 , "\\u0000\\ud800" ] ',
      ),
    );
    fc.assert(
      fc.property(text, (json) => {
        assert.deepEqual(parseJsonBody(json), JSON.parse(json));
        const wrapped = parseJsonBody(`[${json},${INEXACT}]`) as unknown[];
        assert.deepEqual(wrapped[0], JSON.parse(json));
        // `__proto__` is an own property, as JSON.parse makes it, never the prototype.
        assert.equal(prototype(wrapped[0]), prototype(JSON.parse(json)));
      }),
      { numRuns: 300 },
    );
  });

  it('refuses what JSON.parse refuses, as a 400', function () {
    for (const bad of ['{', '{"a":}', '[1,]', '01', '1.', '"\u0001"', '{"a":1}x', `[${INEXACT},]`, "{'a':1}"]) {
      assert.throws(
        () => parseJsonBody(bad),
        (error: unknown) => error instanceof DataverseHttpError && error.status === 400,
        bad,
      );
    }
  });

  it('notes the literal of each number that lost digits, by holder and key', function () {
    const body = parseJsonBody('{"exact":0.1,"money":92233720368547.5807,"list":[1,12345678901234567890]}') as {
      list: unknown[];
    };
    assert.equal(inexactLiteral(body, 'exact'), undefined);
    assert.equal(inexactLiteral(body, 'money'), '92233720368547.5807');
    assert.equal(inexactLiteral(body.list, '0'), undefined);
    assert.equal(inexactLiteral(body.list, '1'), '12345678901234567890');
  });

  it('tells exact literals from inexact ones by decimal value, not by spelling', function () {
    for (const exact of ['0', '-0', '0.10', '1e2', '1.5E-3', '9007199254740991', '123456789012345', '5e-324']) {
      assert.equal(isExactNumber(exact), true, exact);
    }
    for (const inexact of ['9007199254740993', '0.10000000000000000001', '92233720368547.5807', '1e400']) {
      assert.equal(isExactNumber(inexact), false, inexact);
    }
  });

  it('refuses nesting deeper than 100 levels before reading, and accepts 100', function () {
    assert.throws(
      () => parseJsonBody(`${'['.repeat(101)}${']'.repeat(101)}`),
      (error: unknown) => error instanceof DataverseHttpError && /limit of 100 levels/.test(error.message),
    );
    assert.throws(() => parseJsonBody(`${'{"a":'.repeat(200_000)}1${'}'.repeat(200_000)}`), DataverseHttpError);
    assert.equal((parseJsonBody(`${'['.repeat(100)}${']'.repeat(100)}`) as unknown[]).length, 1);
    // Brackets inside strings are text, not nesting.
    assert.equal(parseJsonBody(JSON.stringify({ a: '['.repeat(500) })) !== undefined, true);
  });
});

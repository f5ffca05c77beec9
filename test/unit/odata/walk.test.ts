import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import { findNodeAt, parseExpression, parseODataUrl } from '../../../src/odata/url/index';

function kindsAt(text: string, marker: string, delta = 0): string[] {
  const url = parseODataUrl(text);
  return findNodeAt(url, text.indexOf(marker) + delta).map((n) => n.kind);
}

describe('odata findNodeAt', () => {
  it('finds the innermost node of a filter, with its ancestors', () => {
    const text = "accounts?$filter=name eq 'x' and contains(city,'S')";
    assert.deepEqual(kindsAt(text, 'city'), ['url', 'binary', 'call', 'member', 'identifier']);
    assert.deepEqual(kindsAt(text, "'x'"), ['url', 'binary', 'binary', 'literal']);
  });

  it('counts the end of a word as inside it, for completion', () => {
    const text = 'accounts?$select=nam';
    assert.deepEqual(kindsAt(text, 'nam', 3), ['url', 'select', 'selectItem', 'identifier']);
  });

  it('descends into path keys and expand options', () => {
    const text = "contacts(firstname='Joe')?$expand=Account_Tasks($select=subject)";
    assert.deepEqual(kindsAt(text, 'Joe'), ['url', 'path', 'name', 'namedValues', 'namedValue', 'literal']);
    assert.deepEqual(kindsAt(text, 'subject'), ['url', 'expand', 'expandItem', 'select', 'selectItem', 'identifier']);
  });

  it('returns an empty chain outside the root', () => {
    const { expression } = parseExpression('a eq 1');
    assert.deepEqual(findNodeAt(expression, 99), []);
    assert.deepEqual(
      findNodeAt(expression, 0).map((n) => n.kind),
      ['binary', 'member', 'identifier'],
    );
  });

  it('finds lambda variables inside nested lambdas', () => {
    const text = "accounts?$filter=a/any(x: x/b/any(y: y/c eq 'v'))";
    assert.deepEqual(kindsAt(text, 'y/c'), ['url', 'lambda', 'lambda', 'binary', 'member', 'identifier']);
  });
});

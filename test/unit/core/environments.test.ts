import * as assert from 'node:assert/strict';
import { normalizeEnvironmentUrl, parseEnvironmentList, validateEnvironmentName } from '../../../src/core/environments';
import { WorkbenchError } from '../../../src/core/errors';

function invalidInput(check: () => unknown, pattern: RegExp): void {
  assert.throws(
    check,
    (error: unknown) => error instanceof WorkbenchError && error.kind === 'invalidInput' && pattern.test(error.message),
  );
}

describe('environment settings', () => {
  it('keeps only the origin of an organization URL', () => {
    assert.equal(
      normalizeEnvironmentUrl(' https://contoso.crm.dynamics.com/main.aspx?appid=1 '),
      'https://contoso.crm.dynamics.com',
    );
    assert.equal(normalizeEnvironmentUrl('http://127.0.0.1:5555/api/data/v9.2/'), 'http://127.0.0.1:5555');
    assert.equal(normalizeEnvironmentUrl('http://localhost:8080'), 'http://localhost:8080');
  });

  it('refuses what is not a usable URL, saying what to fix', () => {
    invalidInput(() => normalizeEnvironmentUrl('contoso'), /not a URL/);
    invalidInput(() => normalizeEnvironmentUrl('http://contoso.crm.dynamics.com'), /https/);
    invalidInput(() => normalizeEnvironmentUrl('ftp://127.0.0.1'), /https/);
    invalidInput(() => normalizeEnvironmentUrl('https://user:pw@contoso.crm.dynamics.com'), /credentials/);
  });

  it('checks names for emptiness, length and case-insensitive duplicates', () => {
    assert.equal(validateEnvironmentName('  Dev ', []), 'Dev');
    invalidInput(() => validateEnvironmentName('   ', []), /name/);
    invalidInput(() => validateEnvironmentName('x'.repeat(101), []), /100/);
    invalidInput(() => validateEnvironmentName('dev', ['Dev']), /exists/);
  });

  it('reads every valid entry and describes every invalid one without throwing', () => {
    const result = parseEnvironmentList([
      { name: 'Dev', url: 'https://dev.crm.dynamics.com' },
      'nonsense',
      { name: 'NoUrl' },
      { name: 'dev', url: 'https://other.crm.dynamics.com' },
      { name: 'Bad', url: 'http://bad.example.com' },
      null,
    ]);
    assert.deepEqual(result.environments, [{ name: 'Dev', url: 'https://dev.crm.dynamics.com' }]);
    assert.equal(result.problems.length, 5);
    assert.match(result.problems[0] ?? '', /\[1\] is not an object/);
    assert.match(result.problems[1] ?? '', /\[2\] needs a string "name" and a string "url"/);
    assert.match(result.problems[2] ?? '', /\[3\].*exists/);
  });

  it('keeps per-environment variables and refuses non-string values', () => {
    const result = parseEnvironmentList([
      { name: 'Dev', url: 'https://dev.crm.dynamics.com', variables: { city: 'Seattle' } },
      { name: 'Bad', url: 'https://bad.crm.dynamics.com', variables: { top: 10 } },
    ]);
    assert.deepEqual(result.environments, [
      { name: 'Dev', url: 'https://dev.crm.dynamics.com', variables: { city: 'Seattle' } },
    ]);
    assert.match(result.problems[0] ?? '', /\[1\]\.variables must map names to strings/);
  });

  it('treats a missing setting as empty and a non-list as one problem', () => {
    assert.deepEqual(parseEnvironmentList(undefined), { environments: [], problems: [] });
    assert.equal(parseEnvironmentList({ name: 'x' }).problems.length, 1);
  });
});

import * as assert from 'node:assert/strict';
import path from 'node:path';
import { runCli } from '../../../src/cli/program';

const root = path.resolve(__dirname, '../../..');
/** CI clones the repository beside a copy of `shared/`. */
const metadata = path.resolve(root, '../shared/fixtures/metadata/dataverse-v9.edmx.xml');
const valid = path.join(root, 'test/fixtures/odata/valid.odata');
const broken = path.join(root, 'test/fixtures/odata/broken.odata');

async function capture(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(argv, { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t) });
  return { code, stdout, stderr };
}

interface Finding {
  file: string;
  line: number;
  column: number;
  endLine: number;
  endColumn: number;
  severity: string;
  code: string;
  message: string;
}

describe('dvw check', function () {
  this.timeout(60000);

  it('reports nothing on valid requests across many tables, and exits 0', async () => {
    const { code, stdout, stderr } = await capture(['check', valid, '--metadata', metadata]);
    assert.equal(stderr, '');
    assert.equal(stdout, '');
    assert.equal(code, 0);
  });

  it('reports the exact line of each defect, and exits 1', async () => {
    const { code, stdout } = await capture(['check', broken, '--metadata', metadata, '--format', 'json']);
    assert.equal(code, 1);
    const findings = JSON.parse(stdout) as Finding[];
    assert.deepEqual(
      findings.map((f) => [f.line, f.column, f.code]),
      [
        [5, 5, 'unknownEntitySet'],
        [8, 27, 'unknownColumn'],
        [11, 33, 'typeMismatch'],
        [14, 22, 'unknownNavigation'],
        [17, 27, 'unsupportedOption'],
        [20, 21, 'undefinedVariable'],
        [27, 17, 'invalidJson'],
        [31, 34, 'unterminatedString'],
        [34, 35, 'typeMismatch'],
        [37, 1, 'unknownMethod'],
      ],
    );
    const revenu = findings[1]!;
    assert.deepEqual([revenu.endLine, revenu.endColumn, revenu.severity, revenu.file], [8, 33, 'error', broken]);
    assert.match(revenu.message, /Did you mean 'revenue'/);
  });

  it('prints file:line:col: severity: message [code] as text', async () => {
    const { stdout } = await capture(['check', broken, '--metadata', metadata]);
    const first = stdout.split('\n')[0];
    assert.equal(
      first,
      `${broken}:5:5: error: Unknown entity set 'acounts'. Did you mean 'accounts'? [unknownEntitySet]`,
    );
  });

  it('checks syntax only without --metadata', async () => {
    const { code, stdout } = await capture(['check', broken, '--format', 'json']);
    assert.equal(code, 1);
    const codes = (JSON.parse(stdout) as Finding[]).map((f) => f.code);
    assert.deepEqual(codes, [
      'unsupportedOption',
      'undefinedVariable',
      'invalidJson',
      'unterminatedString',
      'unknownMethod',
    ]);
  });

  it('exits 2 with a clear message on usage errors', async () => {
    const missing = await capture(['check', path.join(root, 'no-such-file.odata')]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /file not found: .*no-such-file\.odata/);
    const none = await capture(['check']);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /name at least one \.odata file/);
    const format = await capture(['check', valid, '--format', 'xml']);
    assert.equal(format.code, 2);
    const noMetadata = await capture(['check', valid, '--metadata', path.join(root, 'nope.xml')]);
    assert.equal(noMetadata.code, 2);
    assert.match(noMetadata.stderr, /metadata file not found/);
  });
});

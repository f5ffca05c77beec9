import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSourceFile } from '../../../src/dataverse/importSource';

/** The files this process holds open (Linux: /proc/self/fd). */
function openFiles(): string[] {
  return readdirSync('/proc/self/fd').flatMap((fd) => {
    try {
      return [readlinkSync(`/proc/self/fd/${fd}`)];
    } catch {
      return [];
    }
  });
}

describe('openSourceFile', function () {
  let directory: string;
  beforeEach(function () {
    if (process.platform !== 'linux') this.skip();
    directory = mkdtempSync(join(tmpdir(), 'dvw-source-'));
  });
  afterEach(function () {
    if (directory !== undefined) rmSync(directory, { recursive: true, force: true });
  });

  // A stream left open by a refusal kept the file open, and reported "ENOENT" to nobody (an uncaught error in the
  // CLI's tests) once the file was gone.
  it('leaves no file open when it refuses the file (unknown encoding, no header line)', async function () {
    const file = join(directory, 'rows.csv');
    writeFileSync(file, 'name\nContoso\n');
    await assert.rejects(openSourceFile(file, 'csv', { encoding: 'klingon' }), /Unknown encoding 'klingon'/);
    const empty = join(directory, 'empty.csv');
    writeFileSync(empty, '');
    await assert.rejects(openSourceFile(empty, 'csv'), /no header line/);
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.deepEqual(
      openFiles().filter((path) => path.startsWith(directory)),
      [],
    );
  });

  it('reads the rows of a file it accepts', async function () {
    const file = join(directory, 'rows.csv');
    writeFileSync(file, 'name\nContoso\nFabrikam\n');
    const source = await openSourceFile(file, 'csv');
    const names: unknown[] = [];
    for await (const row of source.rows) names.push(row.values?.name);
    assert.deepEqual(names, ['Contoso', 'Fabrikam']);
    assert.deepEqual(
      openFiles().filter((path) => path.startsWith(directory)),
      [],
    );
  });
});

import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSourceFile, openSourceText } from '../../../src/dataverse/importSource';

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

describe('openSourceText: CSV line numbers', () => {
  const linesOf = async (text: string): Promise<number[]> => {
    const source = await openSourceText(text, 'csv');
    const lines: number[] = [];
    for await (const row of source.rows) lines.push(row.line);
    return lines;
  };

  it('numbers rows as an editor does with LF, CRLF or CR line ends, blank lines and quoted line breaks', async () => {
    assert.deepEqual(await linesOf('a,b\n1,2\n\n3,"x\ny"\n5,6\n'), [2, 4, 6]);
    assert.deepEqual(await linesOf('a,b\r\n1,2\r\n\r\n3,"x\r\ny"\r\n5,6\r\n'), [2, 4, 6], 'a CRLF is one line');
    assert.deepEqual(await linesOf('a,b\r1,2\r\r3,4\r'), [2, 4]);
  });

  it('names the line where a record with a quote left open starts, past blank lines', async () => {
    await assert.rejects(linesOf('a,b\r\n1,2\r\n\r\n\r\n"open,3\r\n4,5\r\n'), {
      message: 'line 5: a quoted field of the record starting here is not closed',
    });
  });

  it('keeps the line of a row past text decoded in pieces (a 40,000-character field)', async () => {
    const long = 'x'.repeat(40_000);
    assert.deepEqual(await linesOf(`a,b\n1,"${long}\n${long}"\n\n2,3\n`), [2, 5]);
  });
});

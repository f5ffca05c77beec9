import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeWholeFile } from '../../../src/dataverse/wholeFile';

describe('writeWholeFile', function () {
  let folder: string;
  beforeEach(async function () {
    folder = await mkdtemp(join(tmpdir(), 'dvw-whole-'));
  });
  afterEach(async function () {
    await rm(folder, { recursive: true, force: true });
  });

  it('creates missing folders and leaves one whole file when many writers race, with no temporary left', async function () {
    const file = join(folder, 'a', 'b', 'state.json');
    const texts = Array.from({ length: 20 }, (_, i) => `${String(i).repeat(50_000)}\n`);
    await Promise.all(texts.map((text) => writeWholeFile(file, text)));
    assert.ok(texts.includes(await readFile(file, 'utf8')), 'the file is one writer’s text, whole');
    assert.deepEqual(await readdir(join(folder, 'a', 'b')), ['state.json']);
  });

  it('gives a new file the mode asked for', async function () {
    if (process.platform === 'win32') this.skip();
    const file = join(folder, 'tokens.json');
    await writeWholeFile(file, '{}', { mode: 0o600, directoryMode: 0o700 });
    assert.equal((await stat(file)).mode & 0o777, 0o600);
  });

  it('keeps the previous file and removes its temporary when the rename fails', async function () {
    const target = join(folder, 'target');
    await writeFile(join(folder, 'keep'), 'old');
    // A folder in the file's place: the temporary is written, the rename over a non-empty folder fails.
    await writeWholeFile(join(target, 'inner'), 'x');
    await assert.rejects(writeWholeFile(target, 'new'));
    assert.deepEqual((await readdir(folder)).sort(), ['keep', 'target']);
    assert.equal(await readFile(join(target, 'inner'), 'utf8'), 'x');
  });
});

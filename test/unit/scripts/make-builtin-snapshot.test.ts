import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { BUILTIN_SNAPSHOT } from '../../../src/emulator/schema/snapshot';
import { writeBuiltinSnapshot } from '../../../scripts/make-builtin-snapshot';

function filesOf(folder: string): Map<string, string> {
  const files = new Map<string, string>();
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else files.set(relative(folder, path), readFileSync(path, 'utf8'));
    }
  };
  walk(folder);
  return files;
}

describe('scripts/make-builtin-snapshot', function () {
  this.timeout(120_000);

  it('the committed built-in snapshot is what the script writes from the real fixtures and builtin-tables.json', async () => {
    const out = mkdtempSync(join(tmpdir(), 'dvw-builtin-'));
    try {
      await writeBuiltinSnapshot(out);
      const written = filesOf(out);
      const committed = filesOf(BUILTIN_SNAPSHOT);
      assert.deepEqual([...written.keys()].sort(), [...committed.keys()].sort());
      for (const [name, text] of written) {
        assert.ok(
          text === committed.get(name),
          `${name} differs: run node --import tsx scripts/make-builtin-snapshot.ts and commit the result`,
        );
      }
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});

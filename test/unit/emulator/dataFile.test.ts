import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { claimDataFile, processStartTime } from '../../../src/emulator/dataFile';

describe('emulator data file ownership (.owner)', function () {
  this.timeout(20_000);
  let directory: string;
  beforeEach(() => {
    directory = mkdtempSync(join(tmpdir(), 'dvw-owner-'));
  });
  afterEach(() => {
    rmSync(directory, { recursive: true, force: true });
  });

  it('records the pid and the process start time', () => {
    const path = join(directory, 'data.db');
    claimDataFile(path);
    const owner = JSON.parse(readFileSync(`${path}.owner`, 'utf8')) as { pid: number; startedAt?: number };
    assert.equal(owner.pid, process.pid);
    if (process.platform !== 'win32') {
      assert.equal(typeof owner.startedAt, 'number');
      assert.ok(Math.abs((owner.startedAt ?? 0) - (Date.now() - process.uptime() * 1000)) < 3000);
    }
  });

  it('is blocked by a running owner, and not by another process that was given the same pid later', function () {
    if (process.platform === 'win32') this.skip();
    const path = join(directory, 'data.db');
    // A live process other than this one plays the owner.
    const other = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
    try {
      const pid = other.pid ?? 0;
      const startedAt = processStartTime(pid);
      assert.ok(startedAt !== undefined);
      writeFileSync(`${path}.owner`, JSON.stringify({ pid, startedAt }));
      assert.throws(() => claimDataFile(path), /in use by another emulator/);
      // Same pid, another start time: the recorded owner died and the pid went to an unrelated process.
      writeFileSync(`${path}.owner`, JSON.stringify({ pid, startedAt: startedAt - 3_600_000 }));
      assert.doesNotThrow(() => claimDataFile(path));
      // Files of earlier versions (a bare pid) still block while that pid runs.
      writeFileSync(`${path}.owner`, String(pid));
      assert.throws(() => claimDataFile(path), /in use by another emulator/);
    } finally {
      other.kill();
    }
  });
});

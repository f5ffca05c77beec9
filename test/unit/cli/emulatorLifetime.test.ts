import assert from 'node:assert/strict';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

/**
 * A stand-in for the extension host: forks `dvw emulator --json` with an IPC channel, as EmulatorHost does,
 * and prints the emulator's pid and Web API URL once it listens.
 */
const PARENT = `
const { fork } = require('node:child_process');
const child = fork('src/cli/main.ts', process.argv.slice(1), { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'pipe', 'inherit', 'ipc'] });
let buffered = '';
child.stdout.on('data', (chunk) => {
  buffered += chunk;
  const newline = buffered.indexOf('\\n');
  if (newline < 0) return;
  const { webApi } = JSON.parse(buffered.slice(0, newline));
  process.stdout.write(JSON.stringify({ pid: child.pid, webApi }) + '\\n');
  buffered = '';
});
`;

function startParent(
  dataPath: string,
): Promise<{ parent: ChildProcessWithoutNullStreams; pid: number; webApi: string }> {
  const parent = spawn(
    process.execPath,
    ['-e', PARENT, 'emulator', '--json', '--port', '0', '--seed', 'none', '--data', dataPath],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  return new Promise((resolve, reject) => {
    let stderr = '';
    parent.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    parent.once('exit', (code) => reject(new Error(`the parent exited with ${String(code)}: ${stderr}`)));
    createInterface({ input: parent.stdout }).once('line', (line) => {
      const { pid, webApi } = JSON.parse(line) as { pid: number; webApi: string };
      resolve({ parent, pid, webApi });
    });
  });
}

async function answers(webApi: string): Promise<boolean> {
  try {
    await fetch(`${webApi}$metadata`);
    return true;
  } catch {
    return false;
  }
}

describe('dvw emulator forked by another process', function () {
  this.timeout(60_000);
  const started: ChildProcessWithoutNullStreams[] = [];
  after(() => {
    for (const child of started) child.kill('SIGKILL');
  });

  it('stops when its parent is killed, releasing the data file for the next emulator', async () => {
    const dataPath = join(mkdtempSync(join(tmpdir(), 'dvw-orphan-')), 'org.sqlite');
    const first = await startParent(dataPath);
    started.push(first.parent);
    assert.equal(await answers(first.webApi), true);
    first.parent.kill('SIGKILL');
    // Nothing else stops it: it must notice the closed channel by itself (the test's timeout is the bound).
    while (await answers(first.webApi)) await new Promise((resolve) => setTimeout(resolve, 100));

    const second = await startParent(dataPath);
    started.push(second.parent);
    assert.notEqual(second.pid, first.pid);
    assert.equal(await answers(second.webApi), true);
  });
});

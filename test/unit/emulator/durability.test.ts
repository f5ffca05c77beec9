import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

interface Started {
  readonly child: ChildProcessWithoutNullStreams;
  readonly webApi: string;
  readonly token: string;
}

/** Spawns `dvw emulator --json` and resolves with the one JSON line it prints once listening. */
function spawnEmulator(dataPath: string): Promise<Started> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'src/cli/main.ts', 'emulator', '--json', '--port', '0', '--seed', 'none', '--data', dataPath],
    {
      stdio: ['pipe', 'pipe', 'pipe'],
    },
  );
  return new Promise((resolve, reject) => {
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('exit', (code) => reject(new Error(`emulator exited with ${String(code)}: ${stderr}`)));
    createInterface({ input: child.stdout }).once('line', (line) => {
      const parsed = JSON.parse(line) as { webApi?: unknown; token?: unknown };
      if (typeof parsed.webApi !== 'string' || typeof parsed.token !== 'string')
        reject(new Error(`unexpected line ${line}`));
      else resolve({ child, webApi: parsed.webApi, token: parsed.token });
    });
  });
}

function killed(child: ChildProcessWithoutNullStreams): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else {
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    }
  });
}

describe('emulator durability (--data)', function () {
  this.timeout(60_000);
  const children: ChildProcessWithoutNullStreams[] = [];
  after(async function () {
    for (const child of children) await killed(child);
  });

  it('keeps a write answered 2xx after SIGKILL and a restart on the same file', async function () {
    const dataPath = join(mkdtempSync(join(tmpdir(), 'dvw-durable-')), 'org.db');
    const first = await spawnEmulator(dataPath);
    children.push(first.child);
    const created = await fetch(`${first.webApi}accounts`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${first.token}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ name: 'Survives SIGKILL', accountnumber: 'DUR-1' }),
    });
    assert.equal(created.status, 204);
    const entityId = created.headers.get('OData-EntityId') ?? '';
    await killed(first.child);
    assert.equal(first.child.signalCode, 'SIGKILL');

    const second = await spawnEmulator(dataPath);
    children.push(second.child);
    assert.notEqual(second.token, first.token, 'a new token per start');
    const id = /\(([0-9a-f-]{36})\)$/.exec(entityId)?.[1] ?? '';
    const read = await fetch(`${second.webApi}accounts(${id})`, {
      headers: { Authorization: `Bearer ${second.token}` },
    });
    assert.equal(read.status, 200);
    const body = (await read.json()) as { name?: unknown; accountnumber?: unknown };
    assert.equal(body.name, 'Survives SIGKILL');
    assert.equal(body.accountnumber, 'DUR-1');
    await killed(second.child);
  });
});

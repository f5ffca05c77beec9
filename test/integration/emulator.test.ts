import * as assert from 'node:assert/strict';
import { fork, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import * as vscode from 'vscode';
import { Commands } from '../../src/extension/constants';
import { parseEmulatorAnnouncement } from '../../src/extension/emulatorAnnouncement';
import type { RunningEmulator } from '../../src/extension/emulatorAnnouncement';
import type { WorkbenchApi } from '../../src/extension/extension';
import { activateWorkbench, eventually } from './support';

describe('local emulator from VS Code', () => {
  after(async () => {
    await vscode.commands.executeCommand(Commands.stopEmulator);
  });

  it('starts the emulator as a child process and answers WhoAmI with its token', async () => {
    const { api } = await activateWorkbench();
    const running = await vscode.commands.executeCommand<{ url: string; webApi: string } | undefined>(
      Commands.startEmulator,
    );
    assert.ok(running, 'the start command returns the running emulator');
    assert.match(running.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    const emulator = api.emulator();
    assert.ok(emulator);
    const whoAmI = await fetch(`${emulator.webApi}WhoAmI`, {
      headers: { Authorization: `Bearer ${emulator.token}`, Accept: 'application/json' },
    });
    assert.equal(whoAmI.status, 200);
    const body = (await whoAmI.json()) as { UserId?: unknown };
    assert.match(String(body.UserId), /^[0-9a-f-]{36}$/);

    const anonymous = await fetch(`${emulator.webApi}WhoAmI`);
    assert.equal(anonymous.status, 401, 'the emulator the extension starts requires its token');
  });

  it('a second start returns the same emulator, and stop ends it', async () => {
    const { api } = await activateWorkbench();
    const first = await vscode.commands.executeCommand<{ url: string }>(Commands.startEmulator);
    const second = await vscode.commands.executeCommand<{ url: string }>(Commands.startEmulator);
    assert.equal(first.url, second.url);
    await vscode.commands.executeCommand(Commands.stopEmulator);
    assert.equal(api.emulator(), undefined);
    await assert.rejects(fetch(`${first.url}/api/data/v9.2/WhoAmI`), 'nothing listens after stop');
  });
});

/** An emulator that "another VS Code window" runs: the test's own `dvw emulator` on the extension's data file. */
interface OtherWindowEmulator {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly line: string;
  readonly running: RunningEmulator;
}

async function whoAmIStatus(emulator: { webApi: string; token: string }): Promise<number> {
  const response = await fetch(`${emulator.webApi}WhoAmI`, {
    headers: { Authorization: `Bearer ${emulator.token}`, Accept: 'application/json' },
  });
  return response.status;
}

describe('local emulator shared between VS Code windows', () => {
  const others: OtherWindowEmulator[] = [];

  afterEach(async () => {
    const { api } = await activateWorkbench();
    await vscode.commands.executeCommand(Commands.stopEmulator);
    for (const other of others.splice(0)) {
      await api.testOnlyEmulatorSharing.withdraw(other.pid);
      await endProcess(other.child);
    }
  });

  async function startOtherWindowEmulator(): Promise<{ api: WorkbenchApi; other: OtherWindowEmulator }> {
    const { api, extension } = await activateWorkbench();
    // This window's own emulator must not hold the data file: the other window runs it.
    await vscode.commands.executeCommand(Commands.stopEmulator);
    const dataFile = api.testOnlyEmulatorSharing.dataFile;
    mkdirSync(path.dirname(dataFile), { recursive: true });
    const cli = vscode.Uri.joinPath(extension.extensionUri, 'dist', 'cli.js').fsPath;
    const child = fork(cli, ['emulator', '--json', '--port', '0', '--data', dataFile, '--seed', 'sample'], {
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    const line = await new Promise<string>((resolve, reject) => {
      let stdout = '';
      let stderr = '';
      child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      child.stdout?.on('data', (chunk: Buffer) => {
        stdout += chunk.toString();
        const newline = stdout.indexOf('\n');
        if (newline !== -1) resolve(stdout.slice(0, newline));
      });
      child.once('exit', (code) => reject(new Error(`the test's emulator exited with ${code}: ${stderr}`)));
    });
    assert.ok(child.pid);
    const other = { child, pid: child.pid, line, running: parseEmulatorAnnouncement(line) };
    others.push(other);
    return { api, other };
  }

  /** The pid in the data file's `.owner` record (`{"pid","startedAt"}`, see src/emulator/dataFile.ts). */
  function ownerPid(api: WorkbenchApi): number {
    const owner = JSON.parse(readFileSync(`${api.testOnlyEmulatorSharing.dataFile}.owner`, 'utf8')) as {
      pid?: unknown;
    };
    return Number(owner.pid);
  }

  it('attaches to the emulator another window announced, and stop only detaches from it', async () => {
    const { api, other } = await startOtherWindowEmulator();
    await api.testOnlyEmulatorSharing.publish(other.line, other.pid);

    const running = await vscode.commands.executeCommand<RunningEmulator | undefined>(Commands.startEmulator);
    assert.ok(running, 'the start command returns the emulator it attached to');
    assert.equal(running.url, other.running.url);
    const emulator = api.emulator();
    assert.ok(emulator);
    assert.equal(emulator.url, other.running.url);
    assert.equal(await whoAmIStatus(emulator), 200, 'the attached window has a token the emulator accepts');
    assert.equal(ownerPid(api), other.pid, 'no second emulator took the data file');
    const roots = await api.explorer.getChildren();
    assert.ok(
      roots.some((node) => node.type === 'emulator'),
      'the view shows the emulator',
    );

    await vscode.commands.executeCommand(Commands.stopEmulator);
    assert.equal(api.emulator(), undefined);
    assert.ok(
      api
        .logLines()
        .some((line) =>
          line.includes(`Detached from the local emulator of another VS Code window (process ${other.pid})`),
        ),
      'the log says stop only detached',
    );
    assert.equal(await whoAmIStatus(other.running), 200, "the other window's emulator still answers");
    assert.equal(ownerPid(api), other.pid);
    assert.equal(other.child.exitCode, null);
    for (const line of api.logLines()) {
      assert.ok(!line.includes(other.running.clientSecret), 'the client secret is never logged');
      assert.ok(!line.includes(other.running.token), 'no token is logged');
    }
  });

  it('notices when the other window stops its emulator, and then starts its own', async () => {
    const { api, other } = await startOtherWindowEmulator();
    await api.testOnlyEmulatorSharing.publish(other.line, other.pid);
    await vscode.commands.executeCommand(Commands.startEmulator);
    assert.equal(api.emulator()?.url, other.running.url);

    // What the owning window does when it stops: withdraw the announcement, end the process.
    await api.testOnlyEmulatorSharing.withdraw(other.pid);
    await endProcess(other.child);
    await eventually(() => (api.emulator() === undefined ? true : undefined), 'the attached window to detach');
    const roots = await api.explorer.getChildren();
    assert.ok(!roots.some((node) => node.type === 'emulator'), 'the view no longer shows the emulator');

    const own = await vscode.commands.executeCommand<RunningEmulator | undefined>(Commands.startEmulator);
    assert.ok(own, 'the next start runs an emulator of its own');
    assert.notEqual(own.url, other.running.url);
    assert.notEqual(ownerPid(api), other.pid);
    assert.equal(await whoAmIStatus(own), 200);
  });

  it('ignores an announcement whose process ended, and spawns its own', async () => {
    const { api } = await activateWorkbench();
    await vscode.commands.executeCommand(Commands.stopEmulator);
    const ended = spawnSync(process.execPath, ['-e', ''], { env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' } });
    assert.ok(ended.pid);
    const stale = {
      url: 'http://127.0.0.1:9',
      webApi: 'http://127.0.0.1:9/api/data/v9.2/',
      token: 'stale-token',
      authority: 'https://127.0.0.1:9/tenant',
      clientId: 'stale-client',
      clientSecret: 'stale-secret',
      certificatePath: '/nonexistent/stale.pem',
    };
    await api.testOnlyEmulatorSharing.publish(JSON.stringify(stale), ended.pid);

    const running = await vscode.commands.executeCommand<RunningEmulator | undefined>(Commands.startEmulator);
    assert.ok(running, 'a stale announcement does not stop the start');
    assert.notEqual(running.url, stale.url);
    assert.notEqual(ownerPid(api), ended.pid);
    assert.equal(await whoAmIStatus(running), 200);
    assert.ok(api.logLines().some((line) => line.includes(`announced (process ${ended.pid}) no longer answers`)));
  });

  it('waits for the window whose emulator holds the data file to announce it, then attaches', async () => {
    // Windows restored together start at once: the other one's emulator has the data file but announces it
    // only once it listens.
    const { api, other } = await startOtherWindowEmulator();
    const start = vscode.commands.executeCommand<RunningEmulator | undefined>(Commands.startEmulator);
    await eventually(
      () =>
        api.logLines().some((line) => line.includes(`in use by process ${other.pid}; waiting`)) ? true : undefined,
      'this window to wait for the announcement',
    );
    await api.testOnlyEmulatorSharing.publish(other.line, other.pid);

    const running = await start;
    assert.ok(running, 'the start attaches instead of failing');
    assert.equal(running.url, other.running.url);
    assert.equal(await whoAmIStatus(running), 200);
    assert.equal(ownerPid(api), other.pid, 'no second emulator took the data file');
  });

  it('says another window runs the emulator when it holds the data file without an announcement', async () => {
    const { api, other } = await startOtherWindowEmulator();
    const result = await vscode.commands.executeCommand<RunningEmulator | undefined>(Commands.startEmulator);
    assert.equal(result, undefined, 'the start fails');
    assert.equal(api.emulator(), undefined);
    assert.ok(
      api
        .logLines()
        .some((line) =>
          line.includes(`already running in another VS Code window (process ${other.pid}); use that window`),
        ),
      'the error says where the emulator runs and what to do',
    );
    assert.equal(ownerPid(api), other.pid);
  });
});

async function endProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  await exited;
}

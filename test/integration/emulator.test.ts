import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { Commands } from '../../src/extension/constants';
import { activateWorkbench } from './support';

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

import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { Commands, Settings } from '../../src/extension/constants';
import { activateWorkbench, ScriptedInput } from './support';

function storedEnvironments(): unknown {
  return vscode.workspace.getConfiguration(Settings.section).get(Settings.environments);
}

describe('environments', () => {
  let restore: (() => void) | undefined;

  afterEach(async () => {
    restore?.();
    await vscode.workspace
      .getConfiguration(Settings.section)
      .update(Settings.environments, undefined, vscode.ConfigurationTarget.Global);
  });

  it('adds an environment from scripted prompts, validating the URL as typed', async () => {
    const { api } = await activateWorkbench();
    const input = new ScriptedInput(
      ['https://contoso.crm.dynamics.com/main.aspx', 'Contoso Dev', 'Microsoft account', '', ''],
      ['ftp://nope', 'not a url'],
    );
    restore = api.setUserInput(input);
    const name = await vscode.commands.executeCommand<string>(Commands.addEnvironment);
    assert.equal(name, 'Contoso Dev');
    assert.deepEqual(storedEnvironments(), [
      { name: 'Contoso Dev', url: 'https://contoso.crm.dynamics.com', auth: { method: 'microsoftAccount' } },
    ]);
    // Both bad values were refused by the URL box's validation, with a reason.
    assert.match(input.validationMessages[0] ?? '', /https/);
    assert.match(input.validationMessages[1] ?? '', /not a URL/);
  });

  it('keeps the setting unchanged when the user cancels', async () => {
    const { api } = await activateWorkbench();
    restore = api.setUserInput(new ScriptedInput([undefined]));
    const result = await vscode.commands.executeCommand(Commands.addEnvironment);
    assert.equal(result, undefined);
    assert.deepEqual(storedEnvironments(), []);
  });

  it('removes an environment after confirmation, keeping the others', async () => {
    const { api } = await activateWorkbench();
    await vscode.workspace.getConfiguration(Settings.section).update(
      Settings.environments,
      [
        { name: 'A', url: 'https://a.crm.dynamics.com' },
        { name: 'B', url: 'https://b.crm.dynamics.com' },
      ],
      vscode.ConfigurationTarget.Global,
    );
    restore = api.setUserInput(new ScriptedInput(['A', 'Remove']));
    const removed = await vscode.commands.executeCommand<string>(Commands.removeEnvironment);
    assert.equal(removed, 'A');
    assert.deepEqual(storedEnvironments(), [{ name: 'B', url: 'https://b.crm.dynamics.com' }]);
  });
});

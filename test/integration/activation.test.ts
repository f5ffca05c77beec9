import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { Commands } from '../../src/extension/constants';
import { activateWorkbench } from './support';

describe('activation', () => {
  it('activates in the real extension host and reports its VS Code version', async () => {
    const { extension, api } = await activateWorkbench();
    assert.equal(extension.isActive, true);
    assert.equal(api.vscodeVersion, vscode.version);
    assert.match(vscode.version, /^\d+\.\d+\.\d+/);
    console.log(`[integration] running inside ${vscode.env.appName} ${vscode.version}`);
    const expectInstalled = process.env.DVW_EXPECT_INSTALLED_EXTENSION === '1';
    // In the .vsix run the extension must come from the installed package, not the source tree.
    assert.equal(
      extension.extensionPath.includes('dataverse-workbench.dataverse-workbench-'),
      expectInstalled,
      extension.extensionPath,
    );
  });

  it('registers every command that package.json contributes', async () => {
    const { extension } = await activateWorkbench();
    const manifest = extension.packageJSON as { contributes: { commands: { command: string }[] } };
    const contributed = manifest.contributes.commands.map((c) => c.command);
    assert.deepEqual([...contributed].sort(), Object.values(Commands).sort());
    const registered = new Set(await vscode.commands.getCommands(true));
    const missing = contributed.filter((id) => !registered.has(id));
    assert.deepEqual(missing, [], `commands contributed but not registered: ${missing.join(', ')}`);
  });
});

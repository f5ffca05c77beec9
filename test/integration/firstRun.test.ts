import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { openWalkthroughOnce, WALKTHROUGH_ID } from '../../src/extension/firstRun';
import { activateWorkbench, eventually } from './support';

describe('first run', () => {
  after(async () => {
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  });

  it('names a walkthrough the manifest contributes, and opens it once per profile', async () => {
    const { extension } = await activateWorkbench();
    const manifest = extension.packageJSON as { contributes: { walkthroughs: { id: string }[] } };
    const [extensionId, walkthrough] = WALKTHROUGH_ID.split('#');
    assert.equal(extensionId, extension.id);
    assert.ok(manifest.contributes.walkthroughs.some((w) => w.id === walkthrough));

    const values = new Map<string, unknown>();
    const state: vscode.Memento = {
      keys: () => [...values.keys()],
      get: <T>(key: string, fallback?: T) => (values.has(key) ? (values.get(key) as T) : fallback),
      update: (key: string, value: unknown) => {
        values.set(key, value);
        return Promise.resolve();
      },
    };
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    assert.equal(await openWalkthroughOnce(state), true);
    await eventually(
      () => (vscode.window.tabGroups.all.flatMap((group) => group.tabs).length > 0 ? true : undefined),
      'the walkthrough tab',
    );
    assert.equal(await openWalkthroughOnce(state), false, 'not a second time');
  });
});

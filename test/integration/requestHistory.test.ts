import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { Commands, Settings } from '../../src/extension/constants';
import type { WorkbenchApi } from '../../src/extension/extension';
import type { BlockRun } from '../../src/extension/run/odataRunner';
import { activateWorkbench, eventually, ScriptedInput } from './support';

describe('Requests view (request history)', () => {
  let api: WorkbenchApi;
  let restoreInput: (() => void) | undefined;

  before(async () => {
    ({ api } = await activateWorkbench());
    await vscode.commands.executeCommand(Commands.startEmulator);
    restoreInput = api.setUserInput(new ScriptedInput(['Local emulator']));
    await vscode.commands.executeCommand(Commands.selectEnvironment);
    restoreInput();
  });

  after(async () => {
    restoreInput?.();
    await vscode.workspace
      .getConfiguration(Settings.section)
      .update(Settings.historyBodies, undefined, vscode.ConfigurationTarget.Global);
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    await vscode.commands.executeCommand(Commands.stopEmulator);
  });

  async function run(content: string): Promise<BlockRun> {
    const document = await vscode.workspace.openTextDocument({ language: 'odata', content });
    const result = await vscode.commands.executeCommand<BlockRun>(Commands.runBlock, {
      uri: document.uri.toString(),
      blockIndex: 1,
    });
    assert.ok(result, 'the request ran');
    return result;
  }

  it('lists each request with environment, method, URL, status, duration and request id; copies without the token', async () => {
    const listed = new Set(api.requestHistory.entries());
    await vscode.commands.executeCommand(Commands.clearRequestHistory);
    // A request still in flight from an earlier test (metadata, counts) may land right after the clear.
    assert.ok(
      api.requestHistory.entries().every((e) => !listed.has(e)),
      'clearing removes every entry that was listed',
    );
    await run('@environment = Local emulator\n\n### Names\nGET accounts?$select=name&$top=2\n');
    const entry = await eventually(
      () => api.requestHistory.entries().find((e) => e.url.endsWith('accounts?$select=name&$top=2')),
      'the request in the history',
    );
    assert.equal(entry.method, 'GET');
    assert.equal(entry.environment, 'Local emulator');
    assert.equal(entry.status, 200);
    assert.ok(entry.durationMs >= 0);
    const item = api.requestHistory.getTreeItem(entry);
    assert.equal(item.label, 'GET accounts?$select=name&$top=2');
    assert.match(String(item.description), /^200 · \d+ ms · .* · Local emulator$/);
    // The grid asked for formatted values: the header is part of what was sent.
    assert.match(entry.headers.Prefer ?? '', /FormattedValue/);

    const emulator = api.emulator();
    assert.ok(emulator);
    const curl = await vscode.commands.executeCommand<string>(Commands.copyRequestAsCurl, entry);
    assert.match(curl, /^curl -X GET '/);
    assert.ok(curl.includes('$DATAVERSE_TOKEN') && !curl.includes(emulator.token), 'the token is left out');
    assert.equal(await vscode.env.clipboard.readText(), curl);
    const odata = await vscode.commands.executeCommand<string>(Commands.copyRequestAsOdata, entry);
    assert.ok(odata.startsWith('@environment = Local emulator\n'));
    assert.ok(odata.includes('\nGET accounts?$select=name&$top=2\n'));

    // Re-run sends it again through a .odata document.
    const before = api.requestHistory.entries().length;
    const again = await vscode.commands.executeCommand<BlockRun>(Commands.rerunRequest, entry);
    assert.equal(again.result.status, 200);
    assert.ok(api.requestHistory.entries().length > before);
  });

  it('keeps bodies only when dataverse.history.bodies is on, and clears on demand', async () => {
    const body = '{ "name": "History body" }';
    const create = `@environment = Local emulator\n\n### Create\nPOST accounts\n\n${body}\n`;
    await run(create);
    const withoutBody = api.requestHistory.entries().find((e) => e.method === 'POST');
    assert.ok(withoutBody);
    assert.equal(withoutBody.body, undefined);

    await vscode.workspace
      .getConfiguration(Settings.section)
      .update(Settings.historyBodies, true, vscode.ConfigurationTarget.Global);
    await run(create);
    const withBody = api.requestHistory.entries().find((e) => e.method === 'POST');
    assert.ok(withBody?.body?.includes('History body'), JSON.stringify(withBody));

    const before = new Set(api.requestHistory.entries());
    assert.ok(before.size > 0);
    await vscode.commands.executeCommand(Commands.clearRequestHistory);
    assert.ok(
      api.requestHistory.entries().every((e) => !before.has(e)),
      'clearing removes every entry that was listed',
    );
  });
});

import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { Commands } from '../../src/extension/constants';
import type { BlockRun } from '../../src/extension/run/odataRunner';
import { activateWorkbench, eventually, ScriptedInput } from './support';

const SOURCE = `### Accounts
GET accounts?$select=name,revenue&$top=3

### Contacts
GET contacts?$select=fullname,emailadress1&$top=2

### With primary contact
GET accounts?$expand=primarycontactid($select=fullname)&$top=1
`;

async function labelsAt(document: vscode.TextDocument, text: string): Promise<string[]> {
  const offset = document.getText().indexOf(text) + text.length;
  const list = await vscode.commands.executeCommand<vscode.CompletionList>(
    'vscode.executeCompletionItemProvider',
    document.uri,
    document.positionAt(offset),
  );
  return list.items.map((item) => (typeof item.label === 'string' ? item.label : item.label.label));
}

describe('.odata against the local emulator', () => {
  let document: vscode.TextDocument;
  let restore: (() => void) | undefined;

  before(async () => {
    const { api } = await activateWorkbench();
    await vscode.commands.executeCommand(Commands.startEmulator);
    restore = api.setUserInput(new ScriptedInput(['Local emulator']));
    await vscode.commands.executeCommand(Commands.selectEnvironment);
    document = await vscode.workspace.openTextDocument({ language: 'odata', content: SOURCE });
    await vscode.window.showTextDocument(document);
    await api.languageServerReady();
  });

  after(async () => {
    restore?.();
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    await vscode.commands.executeCommand(Commands.stopEmulator);
  });

  it('completes columns of the entity set under the cursor from the emulator metadata', async () => {
    // Wait for a column the document does not contain: until the metadata is loaded, VS Code falls back
    // to words of the document, which would satisfy a check on `revenue` (but never offer `name`, the
    // word at the cursor).
    const labels = await eventually(
      async () => {
        const found = await labelsAt(document, 'accounts?$select=');
        return found.includes('accountnumber') ? found : undefined;
      },
      'metadata-aware completion',
      60_000,
    );
    assert.ok(labels.includes('name'));
    assert.ok(labels.includes('revenue'));
    assert.ok(!labels.includes('fullname'), 'contact columns are not offered for accounts');
    const nested = await labelsAt(document, '$expand=primarycontactid($select=');
    assert.ok(nested.includes('fullname'), nested.join(', '));
  });

  it('sends column details only for the items VS Code resolves', async () => {
    const offset = document.getText().indexOf('accounts?$select=') + 'accounts?$select='.length;
    const list = await vscode.commands.executeCommand<vscode.CompletionList>(
      'vscode.executeCompletionItemProvider',
      document.uri,
      document.positionAt(offset),
      undefined,
      1,
    );
    assert.ok(list.items.length > 1);
    assert.match(list.items[0]?.detail ?? '', /^Edm\./, 'the resolved item');
    assert.equal(list.items[1]?.detail, undefined, 'an item VS Code has not shown');
  });

  it('flags an unknown column and offers the did-you-mean fix', async () => {
    const diagnostic = await eventually(() => {
      const found = vscode.languages.getDiagnostics(document.uri).find((d) => d.message.includes('emailadress1'));
      return found;
    }, 'the unknown-column diagnostic');
    const actions = await vscode.commands.executeCommand<vscode.CodeAction[]>(
      'vscode.executeCodeActionProvider',
      document.uri,
      diagnostic.range,
    );
    const fix = actions.find((a) => a.title.includes('emailaddress1'));
    assert.ok(fix, actions.map((a) => a.title).join(', '));
  });

  it('puts a Run lens on every block', async () => {
    const lenses = await vscode.commands.executeCommand<vscode.CodeLens[]>(
      'vscode.executeCodeLensProvider',
      document.uri,
      10,
    );
    const runs = lenses.filter((lens) => lens.command?.command === Commands.runBlock);
    assert.equal(runs.length, 3);
    assert.ok(lenses.some((lens) => lens.command?.command === Commands.runAll));
  });

  it('runs a block against the emulator and returns its rows', async () => {
    const run = await vscode.commands.executeCommand<BlockRun>(Commands.runBlock, {
      uri: document.uri.toString(),
      blockIndex: 0,
    });
    assert.equal(run.connection.name, 'Local emulator');
    assert.equal(run.result.status, 200);
    const rows = (run.result.body as { value: Record<string, unknown>[] }).value;
    assert.equal(rows.length, 3);
    assert.ok(rows.every((row) => typeof row.name === 'string'));
    // The block has no Prefer header: the grid asked for formatted values itself (money as text).
    assert.match(run.prefer ?? '', /odata\.include-annotations="OData\.Community\.Display\.V1\.FormattedValue"/);
    assert.ok(
      rows.some((row) => typeof row['revenue@OData.Community.Display.V1.FormattedValue'] === 'string'),
      JSON.stringify(rows[0]),
    );
    const panel = await eventually(
      () =>
        vscode.window.tabGroups.all
          .flatMap((group) => group.tabs)
          .find((tab) => tab.input instanceof vscode.TabInputWebview && tab.label === 'Results: Accounts'),
      'the results panel tab',
    );
    assert.ok((panel.input as vscode.TabInputWebview).viewType.includes('dataverse.results'));
  });

  it('keeps a pinned result in its tab and opens the next run in a new one', async () => {
    const resultTabs = (): vscode.Tab[] =>
      vscode.window.tabGroups.all
        .flatMap((group) => group.tabs)
        .filter(
          (tab) => tab.input instanceof vscode.TabInputWebview && tab.input.viewType.includes('dataverse.results'),
        );
    const run = (blockIndex: number): Thenable<BlockRun> =>
      vscode.commands.executeCommand<BlockRun>(Commands.runBlock, { uri: document.uri.toString(), blockIndex });
    await run(0);
    const before = resultTabs().length;
    assert.ok(before >= 1, 'a results tab is open');
    // Without a pin, the next run reuses the tab.
    await run(0);
    assert.equal(resultTabs().length, before);
    const open = await vscode.commands.executeCommand<number>(Commands.pinResult);
    assert.equal(open, before);
    await eventually(
      () => resultTabs().find((tab) => tab.label === 'Kept: Accounts'),
      'the pinned tab, named after its request',
    );
    await run(0);
    await eventually(() => (resultTabs().length === before + 1 ? true : undefined), 'a second results tab');
    assert.ok(resultTabs().some((tab) => tab.label === 'Results: Accounts'));
    assert.ok(
      resultTabs().some((tab) => tab.label === 'Kept: Accounts'),
      'the pinned result stays',
    );
  });

  it('runs a file pinned with @environment on that connection, and refuses an unknown one', async () => {
    const pinned = await vscode.workspace.openTextDocument({
      language: 'odata',
      content: '@environment = Local emulator\n\n### Who\nGET WhoAmI\n',
    });
    const run = await vscode.commands.executeCommand<BlockRun>(Commands.runBlock, {
      uri: pinned.uri.toString(),
      blockIndex: 1,
    });
    assert.equal(run.connection.name, 'Local emulator');
    assert.equal(run.result.status, 200);
    const unknown = await vscode.workspace.openTextDocument({
      language: 'odata',
      content: '@environment = Nowhere\n\n### Who\nGET WhoAmI\n',
    });
    const refused = await vscode.commands.executeCommand<BlockRun | undefined>(Commands.runBlock, {
      uri: unknown.uri.toString(),
      blockIndex: 1,
    });
    assert.equal(refused, undefined, 'the command reports the unknown environment instead of running');
  });
});

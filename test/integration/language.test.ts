import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { Commands } from '../../src/extension/constants';
import { activateWorkbench, eventually } from './support';

function workspaceFile(name: string): vscode.Uri {
  const folder = vscode.workspace.workspaceFolders?.[0];
  assert.ok(folder, 'the integration tests run on test/fixtures/workspace');
  return vscode.Uri.file(path.join(folder.uri.fsPath, name));
}

describe('.odata language', () => {
  after(async () => {
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  });

  it('gives .odata files the odata language', async () => {
    const document = await vscode.workspace.openTextDocument(workspaceFile('accounts.odata'));
    assert.equal(document.languageId, 'odata');
  });

  it('serves one document symbol per request block from the language server process', async () => {
    const { api } = await activateWorkbench();
    const document = await vscode.workspace.openTextDocument(workspaceFile('accounts.odata'));
    await vscode.window.showTextDocument(document);
    await api.languageServerReady();
    const symbols = await eventually(async () => {
      const result = await vscode.commands.executeCommand<vscode.DocumentSymbol[] | undefined>(
        'vscode.executeDocumentSymbolProvider',
        document.uri,
      );
      return result && result.length > 0 ? result : undefined;
    }, 'document symbols');
    const expected = document
      .getText()
      .split('\n')
      .filter((line) => line.startsWith('###'))
      .map((line) => line.slice(3).trim());
    assert.deepEqual(
      symbols.map((s) => s.name),
      expected,
    );
    assert.equal(symbols[0]?.detail, 'GET accounts?$select=name,revenue,address1_city&$top=10');
  });

  it('opens a new untitled .odata scratch file', async () => {
    await vscode.commands.executeCommand(Commands.newOdataFile);
    const editor = vscode.window.activeTextEditor;
    assert.ok(editor);
    assert.equal(editor.document.languageId, 'odata');
    assert.equal(editor.document.isUntitled, true);
    assert.match(editor.document.getText(), /^GET accounts/m);
  });
});

import * as assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as vscode from 'vscode';
import type { HistoryEntry } from '../../src/dataverse/requestHistory';
import type { ExportCommandResult } from '../../src/extension/commands/exportCommand';
import { Commands } from '../../src/extension/constants';
import type { WorkbenchApi } from '../../src/extension/extension';
import type { ExplorerNode } from '../../src/extension/explorer/explorerTree';
import { activateWorkbench, ScriptedInput } from './support';

describe('Export Table from the explorer', () => {
  let api: WorkbenchApi;
  let directory: string;

  before(async () => {
    ({ api } = await activateWorkbench());
    await vscode.commands.executeCommand(Commands.startEmulator);
    directory = mkdtempSync(path.join(tmpdir(), 'dvw-export-it-'));
  });

  after(async () => {
    await vscode.commands.executeCommand(Commands.stopEmulator);
    rmSync(directory, { recursive: true, force: true });
  });

  async function child(parent: ExplorerNode | undefined, type: ExplorerNode['type']): Promise<ExplorerNode> {
    const found = (await api.explorer.getChildren(parent)).find((node) => node.type === type);
    assert.ok(found, `no ${type} under ${parent?.id ?? 'the root'}`);
    return found;
  }

  it('writes every contact of the emulator to a CSV file, as dvw export does', async () => {
    const tables = await child(await child(undefined, 'emulator'), 'tables');
    const contacts = (await api.explorer.getChildren(tables)).find(
      (node) => node.type === 'table' && node.table.logicalName === 'contact',
    );
    assert.ok(contacts, 'the contact table node');
    const emulator = api.emulator();
    assert.ok(emulator);
    const counted = await fetch(`${emulator.webApi}contacts/$count`, {
      headers: { Authorization: `Bearer ${emulator.token}` },
    });
    const expected = Number((await counted.text()).replace(/^\uFEFF/, ''));
    const file = path.join(directory, 'contacts.csv');
    const input = new ScriptedInput([file]);
    const restore = api.setUserInput(input);
    let result: ExportCommandResult | undefined;
    try {
      result = await vscode.commands.executeCommand<ExportCommandResult>(Commands.exportTable, contacts);
    } finally {
      restore();
    }
    assert.ok(result);
    assert.deepEqual([result.entitySet, result.rows, result.cancelled], ['contacts', expected, false]);
    const lines = readFileSync(file, 'utf8').trimEnd().split('\r\n');
    // The service's property order (the built-in tables put the key first; a real org's $metadata does not).
    assert.ok(lines[0]?.startsWith('\uFEFF') && lines[0].slice(1).split(',').includes('contactid'), lines[0]);
    assert.equal(lines.length, expected + 1, 'a header and one line per contact');

    // The notification's "Show in History" selects the export's request in the Requests view.
    const shown = await vscode.commands.executeCommand<HistoryEntry>(Commands.showInHistory, {
      method: 'GET',
      path: 'contacts?',
    });
    assert.ok(shown, 'a request is shown');
    assert.match(shown.url, /\/contacts\?\$select=/);
    assert.equal(shown.status, 200);
    assert.equal(shown.id, api.requestHistory.entries().find((entry) => entry.url.includes('/contacts?'))?.id);
  });
});

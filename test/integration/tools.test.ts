import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { Commands, Settings } from '../../src/extension/constants';
import type { WorkbenchApi } from '../../src/extension/extension';
import { TOOL_DEFINITIONS } from '../../src/tools/definitions';
import { activateWorkbench, ScriptedInput } from './support';

const EMULATOR = 'Local emulator';
const PRODUCTION = 'Contoso production';

function textOf(result: vscode.LanguageModelToolResult): string {
  return result.content.map((part) => (part instanceof vscode.LanguageModelTextPart ? part.value : '')).join('');
}

function invoke(name: string, input: object): Thenable<vscode.LanguageModelToolResult> {
  return vscode.lm.invokeTool(name, { input, toolInvocationToken: undefined });
}

describe('Agent tools in VS Code (vscode.lm) against the emulator', () => {
  let api: WorkbenchApi;
  let restoreInput: (() => void) | undefined;
  let saved: unknown;

  before(async () => {
    ({ api } = await activateWorkbench());
    await vscode.commands.executeCommand(Commands.startEmulator);
    restoreInput = api.setUserInput(new ScriptedInput([EMULATOR]));
    await vscode.commands.executeCommand(Commands.selectEnvironment);
    const emulator = api.emulator();
    assert.ok(emulator);
    const settings = vscode.workspace.getConfiguration(Settings.section);
    saved = settings.inspect(Settings.environments)?.globalValue;
    // Marked production: nothing is ever sent there by a write tool, so no sign-in is needed.
    await settings.update(
      Settings.environments,
      [{ name: PRODUCTION, url: emulator.url, production: true, agentWrites: true }],
      vscode.ConfigurationTarget.Global,
    );
  });

  after(async () => {
    restoreInput?.();
    await vscode.workspace
      .getConfiguration(Settings.section)
      .update(Settings.environments, saved, vscode.ConfigurationTarget.Global);
  });

  it('registers every tool in vscode.lm.tools with its input schema', () => {
    for (const definition of TOOL_DEFINITIONS) {
      const tool = vscode.lm.tools.find((t) => t.name === `dataverse_${definition.name}`);
      assert.ok(tool, `dataverse_${definition.name} is in vscode.lm.tools`);
      assert.deepEqual(tool.inputSchema, definition.inputSchema);
      assert.ok(tool.tags.includes('dataverse'));
    }
  });

  it('describe_table answers from the metadata cache', async () => {
    const text = textOf(await invoke('dataverse_describe_table', { table: 'account', columns: 'ownership' }));
    assert.match(text, /^Table account "Account" — entity set accounts$/m);
    assert.match(text, /^ownershipcode \| Picklist \| None \| "Ownership"; options: 1=Public, 2=Private/m);
  });

  it('check_query reports errors with did-you-mean fixes', async () => {
    const text = textOf(await invoke('dataverse_check_query', { query: 'accounts?$select=nme' }));
    assert.match(
      text,
      /query\.odata:1:18: error: Unknown column 'nme' of account\. Did you mean 'name'\? \[unknownColumn\]/,
    );
  });

  it('run_query answers rows from the emulator', async () => {
    const text = textOf(
      await invoke('dataverse_run_query', { query: 'contacts?$select=fullname&$orderby=fullname', maxRows: 3 }),
    );
    assert.match(text, /^200 OK — \d+ row\(s\) in total, showing 3\.\nfullname \| contactid\n/);
  });

  it('a write asks for confirmation showing the exact method, URL and body', async () => {
    const emulator = api.emulator();
    assert.ok(emulator);
    const id = '8f1c4d2e-0b1a-4c6e-9d3f-5a2b7c8e9f01';
    const prepared = await api.agentTools.prepareInvocation('write_records', {
      operation: 'update',
      table: 'account',
      id,
      record: { name: 'Renamed by an agent' },
    });
    assert.equal(prepared.confirmationMessages?.title, `Create, update or delete Dataverse records in ${EMULATOR}`);
    const message = prepared.confirmationMessages?.message;
    const text = typeof message === 'string' ? message : (message?.value ?? '');
    assert.ok(
      text.includes(`PATCH ${emulator.webApi}accounts(${id})\nIf-Match: *\n\n{\n  "name": "Renamed by an agent"\n}`),
      text,
    );
  });

  it('a write on a production environment is refused, with nothing to confirm', async () => {
    const input = { operation: 'create', table: 'account', record: { name: 'x' }, environment: PRODUCTION };
    const prepared = await api.agentTools.prepareInvocation('write_records', input);
    assert.equal(prepared.confirmationMessages, undefined);
    await assert.rejects(
      Promise.resolve(invoke('dataverse_write_records', input)),
      /Contoso production is marked production: agents never write there/,
    );
  });
});

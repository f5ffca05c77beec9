import * as assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as vscode from 'vscode';
import type { ImportCommandResult } from '../../src/extension/commands/importCommand';
import { Commands } from '../../src/extension/constants';
import type { WorkbenchApi } from '../../src/extension/extension';
import { activateWorkbench, ScriptedInput } from './support';

describe('Import Records into the emulator', () => {
  let api: WorkbenchApi;
  let directory: string;
  // Names unique to this run: the emulator may hold contacts from other suites.
  const lastName = `Imported${randomUUID().slice(0, 8)}`;

  before(async () => {
    ({ api } = await activateWorkbench());
    await vscode.commands.executeCommand(Commands.startEmulator);
    const select = new ScriptedInput(['Local emulator']);
    const restore = api.setUserInput(select);
    try {
      await vscode.commands.executeCommand(Commands.selectEnvironment);
    } finally {
      restore();
    }
    directory = mkdtempSync(path.join(tmpdir(), 'dvw-import-it-'));
  });

  after(async () => {
    await vscode.commands.executeCommand(Commands.stopEmulator);
    rmSync(directory, { recursive: true, force: true });
  });

  async function importWith(answers: string[]): Promise<ImportCommandResult | undefined> {
    const input = new ScriptedInput([...answers]);
    const restore = api.setUserInput(input);
    try {
      const result = await vscode.commands.executeCommand<ImportCommandResult | undefined>(Commands.importRecords);
      assert.equal(input.prompts.length, answers.length, `prompts asked: ${input.prompts.join(' | ')}`);
      return result;
    } finally {
      restore();
    }
  }

  async function importedContacts(): Promise<{ firstname: string; jobtitle: string | null }[]> {
    const emulator = api.emulator();
    assert.ok(emulator);
    const filter = encodeURIComponent(`lastname eq '${lastName}'`);
    const response = await fetch(`${emulator.webApi}contacts?$select=firstname,jobtitle&$filter=${filter}`, {
      headers: { Authorization: `Bearer ${emulator.token}`, Accept: 'application/json' },
    });
    assert.equal(response.status, 200);
    const body = (await response.json()) as { value: { firstname: string; jobtitle: string | null }[] };
    return body.value;
  }

  it('imports a CSV file into contacts, logs a bad row by line without its values, and adds nothing on a re-run', async () => {
    const file = path.join(directory, 'contacts.csv');
    writeFileSync(
      file,
      [
        'firstname,lastname,jobtitle,numberofchildren',
        `Ada,${lastName},Engineer,2`,
        `Grace,${lastName},Admiral,`,
        `Secretive,${lastName},Spy,lots-of-them`,
        `Linus,${lastName},,0`,
      ].join('\n'),
    );

    const first = await importWith([file, 'contacts']);
    assert.ok(first, 'the command returned its summary');
    assert.deepEqual(
      [first.entitySet, first.total, first.imported, first.invalidLines, first.failedLines, first.cancelled],
      ['contacts', 4, 3, [4], [], false],
    );
    const rows = await importedContacts();
    assert.deepEqual(rows.map((row) => row.firstname).sort(), ['Ada', 'Grace', 'Linus']);
    assert.equal(rows.find((row) => row.firstname === 'Ada')?.jobtitle, 'Engineer');

    const logged = api.logLines().filter((line) => line.includes('contacts.csv:'));
    assert.ok(
      logged.some((line) => line.includes('contacts.csv:4:') && line.includes('numberofchildren')),
      `the bad row is logged by line: ${logged.join(' | ')}`,
    );
    assert.ok(!api.logLines().some((line) => line.includes('lots-of-them') || line.includes('Secretive')));

    const again = await importWith([file, 'contacts']);
    assert.equal(again?.imported, 3, 'the same rows are upserted again');
    assert.equal((await importedContacts()).length, 3, 'a re-run adds no record');
  });

  it('refuses a CSV header naming a column contacts lacks, and imports nothing', async () => {
    const file = path.join(directory, 'unknown.csv');
    writeFileSync(file, `firstname,lastname,shoesize\nEve,${lastName}-x,44\n`);
    assert.equal(await importWith([file, 'contacts']), undefined, 'the command failed');
    assert.ok(api.logLines().some((line) => /contacts has no column 'shoesize'/.test(line)));
  });
});

import * as assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as vscode from 'vscode';
import type { TakeSnapshotCommandResult } from '../../src/extension/commands/schemaSnapshotCommands';
import { Commands } from '../../src/extension/constants';
import { parseCsdl } from '../../src/metadata/csdl';
import {
  entityTables,
  MANIFEST_FILE,
  METADATA_FILE,
  SNAPSHOT_FORMAT,
  SNAPSHOT_VERSION,
} from '../../src/metadata/schemaSnapshot';
import type { RunningEmulator } from '../../src/extension/emulatorAnnouncement';
import type { WorkbenchApi } from '../../src/extension/extension';
import { activateWorkbench, ScriptedInput } from './support';

/** A GET of the emulator's Web API with its token. */
async function get(emulator: RunningEmulator, pathAndQuery: string): Promise<Response> {
  return fetch(`${emulator.webApi}${pathAndQuery}`, {
    headers: { Authorization: `Bearer ${emulator.token}`, Accept: 'application/json' },
  });
}

/** The real 8.5 MB `$metadata` of ../shared/fixtures, beside the repository (this bundle is out/test/integration). */
const REAL_METADATA = path.resolve(
  __dirname,
  '..',
  '..',
  '..',
  '..',
  'shared',
  'fixtures',
  'metadata',
  'dataverse-v9.edmx.xml',
);

/** A snapshot folder of every table of the real `$metadata`, each known from the CSDL alone. */
function writeRealSnapshot(folder: string): number {
  mkdirSync(folder, { recursive: true });
  copyFileSync(REAL_METADATA, path.join(folder, METADATA_FILE));
  const tables = entityTables(parseCsdl(readFileSync(REAL_METADATA, 'utf8')).model).map((t) => ({
    logicalName: t.logicalName,
    entitySetName: t.entitySetName,
  }));
  const manifest = {
    format: SNAPSHOT_FORMAT,
    version: SNAPSHOT_VERSION,
    source: 'https://org1bfe9950.api.crm3.dynamics.com/api/data/v9.2/',
    takenAt: '2024-01-01T00:00:00.000Z',
    complete: true,
    tables,
  };
  writeFileSync(path.join(folder, MANIFEST_FILE), JSON.stringify(manifest));
  return tables.length;
}

async function tableNames(emulator: RunningEmulator): Promise<string[]> {
  const answer = (await (await get(emulator, 'EntityDefinitions?$select=LogicalName')).json()) as {
    value: { LogicalName: string }[];
  };
  return answer.value.map((t) => t.LogicalName).sort();
}

describe('schema snapshots from VS Code (issue 12)', () => {
  let api: WorkbenchApi;
  let directory: string;

  before(async () => {
    ({ api } = await activateWorkbench());
    directory = mkdtempSync(path.join(tmpdir(), 'dvw-snapshot-it-'));
  });

  afterEach(async () => {
    await vscode.commands.executeCommand(Commands.stopEmulator);
  });

  after(() => {
    rmSync(directory, { recursive: true, force: true });
  });

  async function scripted<T>(answers: (string | undefined)[], run: () => Thenable<T>): Promise<T> {
    const restore = api.setUserInput(new ScriptedInput(answers));
    try {
      return await run();
    } finally {
      restore();
    }
  }

  it('takes a snapshot of an environment node, then starts the emulator on it: the same tables and $metadata', async () => {
    await vscode.commands.executeCommand(Commands.startEmulator);
    const builtin = api.emulator();
    assert.ok(builtin);
    const expectedTables = await tableNames(builtin);
    const expectedMetadata = await (await get(builtin, '$metadata')).text();
    const node = (await api.explorer.getChildren(undefined)).find((n) => n.type === 'emulator');
    assert.ok(node, 'the emulator node of the explorer');

    const folder = path.join(directory, 'emulator-schema');
    mkdirSync(folder);
    const taken = await scripted([folder, ''], () =>
      vscode.commands.executeCommand<TakeSnapshotCommandResult>(Commands.takeSchemaSnapshot, node),
    );
    assert.ok(taken, 'the command returns what it wrote');
    assert.deepEqual(
      [taken.folder, taken.tables, taken.reused, taken.cancelled],
      [folder, expectedTables.length, 0, false],
    );
    const manifest = JSON.parse(readFileSync(path.join(folder, 'snapshot.json'), 'utf8')) as { complete: boolean };
    assert.equal(manifest.complete, true);
    await vscode.commands.executeCommand(Commands.stopEmulator);

    // Through the folder picker, as from the command palette.
    const started = await scripted([folder], () =>
      vscode.commands.executeCommand<(RunningEmulator & { schemaSnapshot: string }) | undefined>(
        Commands.startEmulatorFromSnapshot,
      ),
    );
    assert.ok(started, 'the command returns the running emulator');
    assert.equal(started.schemaSnapshot, folder);
    const onSnapshot = api.emulator();
    assert.ok(onSnapshot);
    assert.deepEqual(await tableNames(onSnapshot), expectedTables);
    assert.equal(await (await get(onSnapshot, '$metadata')).text(), expectedMetadata, '$metadata byte for byte');
    const created = await fetch(`${onSnapshot.webApi}contacts`, {
      method: 'POST',
      headers: {
        Authorization: `Bearer ${onSnapshot.token}`,
        'Content-Type': 'application/json',
        Prefer: 'return=representation',
      },
      body: JSON.stringify({ firstname: 'Snapshot', lastname: 'Reader' }),
    });
    assert.equal(created.status, 201);
    const contact = (await created.json()) as { contactid: string };
    const read = (await (await get(onSnapshot, `contacts(${contact.contactid})?$select=fullname`)).json()) as {
      fullname: string;
    };
    assert.equal(read.fullname, 'Snapshot Reader');

    // The built-in start does not replace an emulator serving a snapshot: it says so and leaves it running.
    assert.equal(await vscode.commands.executeCommand(Commands.startEmulator), undefined);
    assert.equal(api.emulator()?.url, onSnapshot.url);
  });

  it('takes a snapshot of the tables a list names, as dvw env snapshot --tables does, and starts on it', async () => {
    const source = await vscode.commands.executeCommand<RunningEmulator>(Commands.startEmulator);
    const sourceTables = await tableNames(source);
    const node = (await api.explorer.getChildren(undefined)).find((n) => n.type === 'emulator');
    assert.ok(node, 'the emulator node of the explorer');
    const folder = path.join(directory, 'subset');
    mkdirSync(folder);
    // Typed as a person would: spaces, capitals, a trailing comma; the probes go through the box's validation.
    const input = new ScriptedInput([folder, ' Account, contact ,'], ['account, bad name!', 'contoso_*', '']);
    const restore = api.setUserInput(input);
    let taken: TakeSnapshotCommandResult | undefined;
    try {
      taken = await vscode.commands.executeCommand<TakeSnapshotCommandResult>(Commands.takeSchemaSnapshot, node);
    } finally {
      restore();
    }
    assert.deepEqual(input.validationMessages, [
      "Not a logical name or a prefix_* pattern: 'bad name!'.",
      undefined,
      undefined,
    ]);
    assert.ok(taken && !taken.cancelled);
    const manifest = JSON.parse(readFileSync(path.join(folder, MANIFEST_FILE), 'utf8')) as {
      tables: { logicalName: string }[];
    };
    const kept = manifest.tables.map((t) => t.logicalName).sort();
    assert.equal(taken.tables, kept.length);
    // The named tables and the ones the emulator cannot run without (selectTables' REQUIRED_TABLES), no others.
    assert.deepEqual(
      kept,
      ['account', 'businessunit', 'contact', 'systemuser', 'team', 'transactioncurrency'].filter((t) =>
        sourceTables.includes(t),
      ),
    );
    await vscode.commands.executeCommand(Commands.stopEmulator);

    const started = await vscode.commands.executeCommand<RunningEmulator | undefined>(
      Commands.startEmulatorFromSnapshot,
      folder,
    );
    assert.ok(started, 'the emulator starts on the subset');
    assert.deepEqual(await tableNames(started), kept);
    assert.equal((await get(started, 'contacts?$select=fullname&$top=1')).status, 200);
    assert.equal((await get(started, 'opportunities?$top=1')).status, 404, 'a table left out is not served');
  });

  it("serves a real organization's snapshot (831 tables): the explorer lists them, and untouched tables answer", async function () {
    this.timeout(180_000);
    const folder = path.join(directory, 'real-org');
    const count = writeRealSnapshot(folder);
    const started = await vscode.commands.executeCommand<RunningEmulator | undefined>(
      Commands.startEmulatorFromSnapshot,
      folder,
    );
    assert.ok(started, 'the emulator starts on the real metadata');
    assert.equal((await tableNames(started)).length, count);
    const node = (await api.explorer.getChildren(undefined)).find((n) => n.type === 'emulator');
    assert.ok(node);
    const tables = (await api.explorer.getChildren(node)).find((n) => n.type === 'tables');
    assert.ok(tables, 'the tables folder of the emulator node');
    const listed = await api.explorer.getChildren(tables);
    assert.ok(listed.length >= 800, `the explorer lists the org's tables (${listed.length})`);
    assert.ok(listed.some((n) => n.type === 'table' && n.table.logicalName === 'activitypointer'));
    // Tables nothing has written yet: their storage is created by the first request that needs it.
    for (const query of [
      'tasks?$select=subject&$top=1',
      'activitypointers?$select=subject&$top=1',
      'accounts?$select=name&$expand=contact_customer_accounts($select=fullname)&$top=1',
    ]) {
      const answer = await get(started, query);
      assert.equal(answer.status, 200, `${query}: ${await answer.clone().text()}`);
    }
  });

  it('refuses a folder that holds no finished snapshot, and starts nothing', async () => {
    const empty = path.join(directory, 'empty');
    mkdirSync(empty);
    assert.equal(await vscode.commands.executeCommand(Commands.startEmulatorFromSnapshot, empty), undefined);
    assert.equal(api.emulator(), undefined);
    const cancelled = await scripted([undefined], () =>
      vscode.commands.executeCommand(Commands.startEmulatorFromSnapshot),
    );
    assert.equal(cancelled, undefined, 'cancelling the folder picker does nothing');
    assert.equal(api.emulator(), undefined);
  });
});

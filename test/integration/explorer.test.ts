import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { Commands, Settings } from '../../src/extension/constants';
import type { WorkbenchApi } from '../../src/extension/extension';
import type { ExplorerNode } from '../../src/extension/explorer/explorerTree';
import { activateWorkbench, eventually, ScriptedInput } from './support';

type NodeOf<T extends ExplorerNode['type']> = Extract<ExplorerNode, { type: T }>;

const PAGE_SIZE = 20;

describe('Dataverse explorer and records against the emulator', () => {
  let api: WorkbenchApi;
  let restoreInput: (() => void) | undefined;

  const children = (node?: ExplorerNode): Promise<ExplorerNode[]> => api.explorer.getChildren(node);
  const item = (node: ExplorerNode): vscode.TreeItem => api.explorer.getTreeItem(node);
  const textOf = (value: string | vscode.TreeItemLabel | vscode.MarkdownString | undefined): string =>
    typeof value === 'string' ? value : value === undefined ? '' : 'label' in value ? value.label : value.value;

  async function child<T extends ExplorerNode['type']>(
    parent: ExplorerNode | undefined,
    type: T,
    match: (node: NodeOf<T>) => boolean = () => true,
  ): Promise<NodeOf<T>> {
    const found = (await children(parent)).find(
      (node): node is NodeOf<T> => node.type === type && match(node as NodeOf<T>),
    );
    assert.ok(found, `no ${type} child under ${parent?.id ?? 'the root'}`);
    return found;
  }

  async function table(logicalName: string): Promise<NodeOf<'table'>> {
    const emulator = await child(undefined, 'emulator');
    const tables = await child(emulator, 'tables');
    return child(tables, 'table', (node) => node.table.logicalName === logicalName);
  }

  async function folder(logicalName: string, name: NodeOf<'folder'>['folder']): Promise<NodeOf<'folder'>> {
    return child(await table(logicalName), 'folder', (node) => node.folder === name);
  }

  function script(answers: (string | undefined)[], probes: string[] = []): ScriptedInput {
    restoreInput?.();
    const input = new ScriptedInput(answers, probes);
    restoreInput = api.setUserInput(input);
    return input;
  }

  async function webApi(path: string, init: RequestInit = {}): Promise<Response> {
    const emulator = api.emulator();
    assert.ok(emulator);
    return fetch(`${emulator.webApi}${path}`, {
      ...init,
      headers: {
        Authorization: `Bearer ${emulator.token}`,
        Accept: 'application/json',
        'Content-Type': 'application/json',
        ...(init.headers as Record<string, string> | undefined),
      },
    });
  }

  async function serverContact(id: string): Promise<Record<string, unknown>> {
    const response = await webApi(`contacts(${id})?$select=jobtitle,department`);
    assert.equal(response.status, 200);
    return (await response.json()) as Record<string, unknown>;
  }

  /** Through a workspace edit: the conflict's diff editor may hide the record's own editor. */
  async function replaceText(editor: vscode.TextEditor, text: string): Promise<void> {
    const document = editor.document;
    const edit = new vscode.WorkspaceEdit();
    edit.replace(
      document.uri,
      new vscode.Range(document.positionAt(0), document.positionAt(document.getText().length)),
      text,
    );
    assert.ok(await vscode.workspace.applyEdit(edit));
  }

  async function editRecord(editor: vscode.TextEditor, changes: Record<string, unknown>): Promise<void> {
    const record = JSON.parse(editor.document.getText()) as Record<string, unknown>;
    await replaceText(editor, JSON.stringify({ ...record, ...changes }, null, 2));
  }

  before(async () => {
    ({ api } = await activateWorkbench());
    await vscode.workspace
      .getConfiguration(Settings.section)
      .update(Settings.explorerPageSize, PAGE_SIZE, vscode.ConfigurationTarget.Global);
    await vscode.commands.executeCommand(Commands.startEmulator);
    script(['Local emulator']);
    await vscode.commands.executeCommand(Commands.selectEnvironment);
  });

  afterEach(() => {
    restoreInput?.();
    restoreInput = undefined;
  });

  after(async () => {
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    await vscode.workspace
      .getConfiguration(Settings.section)
      .update(Settings.explorerPageSize, undefined, vscode.ConfigurationTarget.Global);
    await vscode.commands.executeCommand(Commands.stopEmulator);
  });

  it('marks the active emulator and lists its tables with display and logical names, filterable', async () => {
    const emulator = await child(undefined, 'emulator');
    assert.match(String(item(emulator).description), /^active · http:\/\/127\.0\.0\.1:\d+/);
    // First run: the emulator alone is shown open, its Tables one click away.
    const configured = vscode.workspace.getConfiguration(Settings.section).get<unknown[]>(Settings.environments) ?? [];
    assert.equal(
      item(emulator).collapsibleState,
      configured.length === 0 ? vscode.TreeItemCollapsibleState.Expanded : vscode.TreeItemCollapsibleState.Collapsed,
    );
    const account = await table('account');
    assert.equal(account.table.entitySet, 'accounts');
    assert.equal(item(account).label, 'Account');
    assert.equal(item(account).description, 'account');

    const tables = await child(emulator, 'tables');
    const all = (await children(tables)).length;
    script(['CONT']);
    await vscode.commands.executeCommand(Commands.filterTables, tables);
    const filtered = (await children(tables)).filter((node) => node.type === 'table');
    assert.ok(filtered.length > 0 && filtered.length < all, `${filtered.length} of ${all}`);
    assert.ok(filtered.some((node) => node.table.logicalName === 'contact'));
    assert.ok(filtered.every((node) => /cont/i.test(`${node.table.logicalName} ${node.table.displayName ?? ''}`)));
    assert.equal(item(tables).description, 'filter: CONT');
    script(['']);
    await vscode.commands.executeCommand(Commands.filterTables, tables);
    assert.equal((await children(tables)).length, all);
  });

  it('shares one load between concurrent expands and lists columns with type and options', async () => {
    const columns = await folder('account', 'columns');
    const [first, second] = await Promise.all([children(columns), children(columns)]);
    assert.equal(first.length, second.length);
    const name = first.find((node) => node.type === 'column' && node.property.name === 'name');
    assert.ok(name);
    assert.equal(item(name).label, 'Account Name');
    assert.match(String(item(name).description), /^name · String/);
    // One naming scheme: display name first, the logical name as description, Dataverse's type.
    const contact = first.find((node) => node.type === 'column' && node.property.name === '_primarycontactid_value');
    assert.ok(contact);
    assert.equal(item(contact).label, 'Primary Contact');
    assert.match(String(item(contact).description), /^primarycontactid · Lookup/);
    assert.match(textOf(item(contact).tooltip), /\nWeb API name: _primarycontactid_value\nType: Lookup \(Edm\.Guid\)/);
    // A Boolean attribute is a Yes/No column, as Power Apps names it (Learn: "Types of columns").
    const doNotEmail = first.find((node) => node.type === 'column' && node.property.name === 'donotemail');
    assert.ok(doNotEmail);
    assert.match(String(item(doNotEmail).description), /^donotemail · Yes\/No/);
    assert.match(textOf(item(doNotEmail).tooltip), /\nType: Yes\/No \(Edm\.Boolean\)/);
    const labels = first.map((node) => textOf(item(node).label));
    assert.deepEqual(
      labels,
      [...labels].sort((a, b) => a.localeCompare(b, 'en', { sensitivity: 'base' })),
      'sorted by display name',
    );
    assert.match(textOf(item(name).tooltip), /^Account Name \(name\)\nType: String \(Edm\.String\)\nRequired: /);
    const industry = first.find((node) => node.type === 'column' && node.property.name === 'industrycode');
    assert.ok(industry);
    assert.match(textOf(item(industry).tooltip), /Options:\n {2}1 = /);

    const relationships = await children(await folder('account', 'relationships'));
    assert.ok(
      relationships.some((node) => node.type === 'relationship' && node.navigation.name === 'primarycontactid'),
    );
    const keys = await children(await folder('account', 'keys'));
    const primary = keys.find((node) => node.type === 'key' && node.key.primary);
    assert.ok(primary);
    assert.equal(item(primary).description, 'accountid');
    // The alternate keys are the table definition's (the model the language checks keys with), with index status:
    // on the built-in tables account's ak_accountnumber; on the real fixture org, account has none.
    const served = await webApi(
      "EntityDefinitions(LogicalName='account')/Keys?$select=LogicalName,KeyAttributes,EntityKeyIndexStatus",
    );
    assert.equal(served.status, 200);
    const expected = ((await served.json()) as { value: Record<string, unknown>[] }).value.map((key) => [
      key.LogicalName,
      (key.KeyAttributes as string[]).join(', '),
      `${(key.KeyAttributes as string[]).join(', ')}\nIndex: ${String(key.EntityKeyIndexStatus)}`,
    ]);
    const shown = keys.flatMap((node) =>
      node.type === 'key' && !node.key.primary
        ? [[textOf(item(node).label), item(node).description, textOf(item(node).tooltip).replace(/^[^:]*: /, '')]]
        : [],
    );
    assert.deepEqual(shown, expected);
    assert.ok(!keys.some((node) => node.type === 'message'), 'the keys are known: no "unknown" note');
  });

  it('pages records sorted by name with "Load more…" following @odata.nextLink, and counts them', async () => {
    const records = await folder('contact', 'records');
    const page = await children(records);
    assert.equal(page.filter((node) => node.type === 'record').length, PAGE_SIZE);
    const counted = await webApi('contacts?$count=true&$top=1&$select=contactid');
    const total = ((await counted.json()) as { '@odata.count': number })['@odata.count'];
    assert.ok(total > 2 * PAGE_SIZE);
    assert.equal(item(records).description, `${total.toLocaleString('en-US')} records`);
    const more = page.at(-1);
    assert.ok(more?.type === 'loadMore');
    assert.equal(item(more).label, 'Load more…');
    const shown = await vscode.commands.executeCommand<number>(Commands.loadMoreRecords, records);
    assert.equal(shown, 2 * PAGE_SIZE);
    const twoPages = await children(records);
    const ids = twoPages.flatMap((node) => (node.type === 'record' ? [node.recordId] : []));
    assert.equal(new Set(ids).size, 2 * PAGE_SIZE);
    // Sorted by the primary name across pages, as the service compares (ordinal, not by locale).
    const names = twoPages.flatMap((node) => (node.type === 'record' ? [textOf(item(node).label)] : []));
    const sorted = [...names].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    assert.deepEqual(names, sorted);
    assert.equal(twoPages.at(-1)?.type, 'loadMore');
  });

  it('filters records with a $filter checked before it is sent, and shows service errors in the tree', async () => {
    const records = await folder('contact', 'records');
    const first = (await children(records)).find((node) => node.type === 'record');
    assert.ok(first);
    const fullname = textOf(item(first).label);

    const input = script([`fullname eq '${fullname.replace(/'/g, "''")}'`], ["fulname eq 'x'", "fullname eq 'x"]);
    await vscode.commands.executeCommand(Commands.filterRecords, records);
    assert.match(input.validationMessages[0] ?? '', /'fulname' is not a column of contact\. Did you mean 'fullname'/);
    assert.match(input.validationMessages[1] ?? '', /at character/);
    const filtered = await children(records);
    assert.ok(filtered.length > 0 && filtered.length < PAGE_SIZE);
    assert.ok(filtered.every((node) => node.type === 'record' && item(node).label === fullname));
    assert.match(String(item(records).description), /^\$filter=fullname eq .* · \d+ records?$/);
    assert.equal(item(records).contextValue, 'recordsFiltered', 'offers to clear the filter');

    // An answer that fails the check is refused: the previous filter and its rows stay.
    script(["fulname eq 'x'"]);
    assert.equal(await vscode.commands.executeCommand(Commands.filterRecords, records), undefined);
    assert.match(String(item(records).description), /^\$filter=fullname eq '.*' · \d+ records?$/);

    // Well-formed but wrong for the service: the error is a node with a retry, not a dialog.
    script(['fullname eq 1']);
    await vscode.commands.executeCommand(Commands.filterRecords, records);
    const failed = await children(records);
    const [error] = failed;
    assert.equal(failed.length, 1);
    assert.ok(error?.type === 'error');
    assert.match(textOf(item(error).label), /^Could not read the records of Contact: [A-Z].*incompatible types.*\.$/);
    assert.equal(item(error).command?.command, Commands.retryLoad);

    // One click clears the filter.
    await vscode.commands.executeCommand(Commands.clearRecordsFilter, records);
    assert.equal((await children(records)).filter((node) => node.type === 'record').length, PAGE_SIZE);
    assert.match(String(item(records).description), /^\d[\d,]* records$/);
    assert.equal(item(records).contextValue, 'records');
  });

  it('opens a record titled by its name, saves only the changes with If-Match, and keeps invalid JSON unsent', async () => {
    const records = await folder('contact', 'records');
    const record = await child(records, 'record');
    const editor = await vscode.commands.executeCommand<vscode.TextEditor>(Commands.openRecord, record);
    assert.equal(editor.document.uri.scheme, 'dataverse');
    const fullname = textOf(item(record).label);
    assert.equal(editor.document.uri.path, `/emulator/contacts/${record.recordId}/contact: ${fullname}`);
    assert.equal(vscode.window.tabGroups.activeTabGroup.activeTab?.label, `contact: ${fullname}`);
    assert.equal(editor.document.languageId, 'json');
    const opened = JSON.parse(editor.document.getText()) as Record<string, unknown>;
    assert.equal(opened.contactid, record.recordId);
    const etag = opened['@odata.etag'];

    const logged = api.logLines().length;
    await editRecord(editor, { jobtitle: 'Explorer test' });
    assert.ok(await editor.document.save(), 'the save succeeds');
    assert.equal((await serverContact(record.recordId)).jobtitle, 'Explorer test');
    // The document is read again after the save: it shows the server's new version.
    await eventually(
      () =>
        (JSON.parse(editor.document.getText()) as Record<string, unknown>)['@odata.etag'] !== etag ? true : undefined,
      'the saved record to be read again',
    );
    // Exactly the edited column was sent, and no column the server moved on is reported as "not saved".
    const lines = api.logLines().slice(logged);
    assert.ok(
      lines.some((line) => line.endsWith(`Saved contacts(${record.recordId}): jobtitle`)),
      lines.join('\n'),
    );
    assert.ok(!lines.some((line) => line.includes('Not saved')), lines.join('\n'));

    const valid = editor.document.getText();
    const broken = valid.replace('"Explorer test"', '"Broken",,');
    await replaceText(editor, broken);
    assert.equal(await editor.document.save(), false, 'invalid JSON is not saved');
    assert.ok(editor.document.isDirty);
    assert.ok(editor.document.getText().includes('"Broken",,'), 'the text is kept');
    assert.equal((await serverContact(record.recordId)).jobtitle, 'Explorer test');
    // What VS Code shows after "Failed to save": where the text is wrong, in the editor's terms.
    const brokenAt = editor.document.positionAt(broken.indexOf(',,') + 1);
    await assert.rejects(
      Promise.resolve(vscode.workspace.fs.writeFile(editor.document.uri, new TextEncoder().encode(broken))),
      (error: unknown) => {
        assert.ok(error instanceof Error);
        assert.match(
          error.message,
          new RegExp(`line ${brokenAt.line + 1}, column ${brokenAt.character + 1}: .*\\(nothing was sent\\)`),
        );
        // `workspace.fs` wraps every provider error in its own FileSystemError; the message is ours alone.
        assert.doesNotMatch(error.message, /FileSystemError|NoPermissions|position/);
        return true;
      },
    );
    await replaceText(editor, valid);
    assert.ok(await editor.document.save());
  });

  it('renames a record in the tree and its tab on save, keeping the cursor', async () => {
    const records = await folder('account', 'records');
    const record = await child(records, 'record');
    const editor = await vscode.commands.executeCommand<vscode.TextEditor>(Commands.openRecord, record);
    const name = `Renamed ${Date.now()}`;
    await editRecord(editor, { name });
    const line = editor.document.lineAt(3);
    editor.selection = new vscode.Selection(line.range.start.translate(0, 2), line.range.start.translate(0, 2));
    assert.ok(await editor.document.save());
    const renamed = await eventually(
      () => vscode.window.visibleTextEditors.find((e) => e.document.uri.path.endsWith(`/account: ${name}`)),
      'the record to move to a tab with its new name',
    );
    assert.deepEqual(
      [renamed.selection.active.line, renamed.selection.active.character],
      [3, 2],
      'the cursor stays where it was',
    );
    assert.ok(!renamed.document.isDirty);
    await eventually(
      () =>
        vscode.window.tabGroups.all
          .flatMap((group) => group.tabs)
          .some(
            (tab) =>
              tab.input instanceof vscode.TabInputText && tab.input.uri.toString() === editor.document.uri.toString(),
          )
          ? undefined
          : true,
      'the tab with the old name to close',
    );
    const relabelled = (await children(records)).find(
      (node) => node.type === 'record' && node.recordId === record.recordId,
    );
    assert.ok(relabelled);
    assert.equal(item(relabelled).label, name);

    // Opening it again from the tree shows the same editor, not a second copy.
    const again = await vscode.commands.executeCommand<vscode.TextEditor>(Commands.openRecord, relabelled);
    assert.equal(again.document.uri.toString(), renamed.document.uri.toString());
  });

  it('creates a record from a template of the required columns; bad JSON and a 400 lose nothing', async () => {
    const records = await folder('contact', 'records');
    const editor = await vscode.commands.executeCommand<vscode.TextEditor>(Commands.newRecord, records);
    const draft = editor.document.uri;
    assert.match(draft.path, /^\/emulator\/contacts\/new-\d+\.json$/);
    const template = JSON.parse(editor.document.getText()) as Record<string, unknown>;
    // The emulator's contact requires lastname; fullname is computed and the key is not the user's.
    assert.equal(template.lastname, '');
    assert.ok(!('fullname' in template) && !('contactid' in template), editor.document.getText());
    const lastname = `Template ${Date.now()}`;
    const countNamed = async (): Promise<number> => {
      const response = await webApi(`contacts?$select=contactid&$filter=lastname eq '${lastname}'`);
      assert.equal(response.status, 200);
      return ((await response.json()) as { value: unknown[] }).value.length;
    };

    await replaceText(editor, `{ "lastname": "${lastname}",, }`);
    assert.equal(await editor.document.save(), false, 'invalid JSON is not sent');
    assert.ok(editor.document.isDirty && editor.document.getText().includes(',,'), 'the text is kept');

    const rejected = JSON.stringify({ ...template, lastname, nosuchcolumn: 1 }, null, 2);
    await replaceText(editor, rejected);
    assert.equal(await editor.document.save(), false, 'the service refused the column');
    assert.equal(editor.document.getText(), rejected, 'the text is kept');
    assert.equal(await countNamed(), 0);

    await replaceText(editor, JSON.stringify({ ...template, lastname, firstname: 'Ada' }, null, 2));
    assert.ok(await editor.document.save(), 'the first save creates the record');
    const opened = await eventually(
      () =>
        vscode.window.visibleTextEditors.find((e) =>
          /^\/emulator\/contacts\/[0-9a-f-]{36}\/contact: /.test(e.document.uri.path),
        ),
      'the created record to open in its own document',
    );
    const id = /([0-9a-f-]{36})\/contact: /.exec(opened.document.uri.path)?.[1] ?? '';
    const response = await webApi(`contacts(${id})?$select=lastname,firstname`);
    assert.equal(response.status, 200);
    const created = (await response.json()) as Record<string, unknown>;
    assert.deepEqual([created.lastname, created.firstname], [lastname, 'Ada']);
    assert.equal(await countNamed(), 1, 'created once');
    assert.equal((JSON.parse(opened.document.getText()) as Record<string, unknown>).lastname, lastname);
    await eventually(
      () =>
        vscode.window.tabGroups.all
          .flatMap((group) => group.tabs)
          .every((tab) => !(tab.input instanceof vscode.TabInputText) || tab.input.uri.toString() !== draft.toString())
          ? true
          : undefined,
      'the draft editor to close',
    );
  });

  it('on a stale save shows the conflict and lets the user overwrite or reload', async () => {
    const records = await folder('contact', 'records');
    const record = (await children(records)).filter((node) => node.type === 'record')[1];
    assert.ok(record?.type === 'record');
    const editor = await vscode.commands.executeCommand<vscode.TextEditor>(Commands.openRecord, record);
    const text = (): Record<string, unknown> => JSON.parse(editor.document.getText()) as Record<string, unknown>;

    const changed = await webApi(`contacts(${record.recordId})`, {
      method: 'PATCH',
      body: JSON.stringify({ jobtitle: 'Changed on the server' }),
    });
    assert.equal(changed.status, 204);
    await editRecord(editor, { department: 'Mine' });
    const overwrite = script(['Overwrite']);
    assert.ok(await editor.document.save(), `the overwrite save failed:\n${api.logLines().slice(-6).join('\n')}`);
    assert.match(overwrite.prompts[0] ?? '', /changed on Local emulator after you opened it/);
    const afterOverwrite = await serverContact(record.recordId);
    assert.equal(afterOverwrite.department, 'Mine');
    assert.equal(afterOverwrite.jobtitle, 'Changed on the server', 'only the changed column was sent');
    await eventually(
      () => (text().jobtitle === 'Changed on the server' ? true : undefined),
      'the document to show the server record',
    );

    await webApi(`contacts(${record.recordId})`, { method: 'PATCH', body: JSON.stringify({ department: 'Theirs' }) });
    await editRecord(editor, { department: 'Mine again' });
    const reload = script(['Reload']);
    assert.ok(await editor.document.save(), api.logLines().slice(-6).join('\n'));
    assert.equal(reload.prompts.length, 1);
    assert.equal((await serverContact(record.recordId)).department, 'Theirs');
    await eventually(() => (text().department === 'Theirs' ? true : undefined), 'the reloaded record');
    assert.ok(!editor.document.isDirty, 'the reloaded document has no unsaved changes');
  });

  it('deletes a record only after confirmation', async () => {
    const records = await folder('contact', 'records');
    const record = (await children(records)).filter((node) => node.type === 'record')[2];
    assert.ok(record?.type === 'record');

    script([undefined]);
    assert.equal(await vscode.commands.executeCommand(Commands.deleteRecord, record), undefined);
    assert.equal((await webApi(`contacts(${record.recordId})`)).status, 200);

    const confirm = script(['Delete']);
    assert.equal(await vscode.commands.executeCommand(Commands.deleteRecord, record), record.recordId);
    // The table's display name: "Contact" on the built-in tables, its logical name where the org's is unknown.
    assert.match(confirm.prompts[0] ?? '', /^Delete the contact/i);
    assert.equal((await webApi(`contacts(${record.recordId})`)).status, 404);
    const remaining = await children(records);
    assert.ok(!remaining.some((node) => node.type === 'record' && node.recordId === record.recordId));
  });

  it('opens a new .odata query for a table, and refuses arguments that are not its nodes', async () => {
    const account = await table('account');
    const editor = await vscode.commands.executeCommand<vscode.TextEditor>(Commands.newTableQuery, account);
    assert.equal(editor.document.languageId, 'odata');
    assert.ok(editor.document.getText().includes('GET accounts?$select=accountid,name&$top=10'));
    assert.ok(editor.document.getText().startsWith('@environment = Local emulator'));
    await vscode.commands.executeCommand('workbench.action.revertAndCloseActiveEditor');

    // A look-alike object is not a node of the tree: nothing is deleted.
    const fake = { ...account, type: 'record', recordId: '00000000-0000-0000-0000-000000000000' };
    assert.equal(await vscode.commands.executeCommand(Commands.deleteRecord, fake), undefined);
  });
});

import * as assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type {
  CodeAction,
  CodeLens,
  CompletionItem,
  CompletionList,
  Diagnostic,
  Hover,
  InitializeResult,
  MessageConnection,
  PublishDiagnosticsParams,
  TextEdit,
} from 'vscode-languageserver/node';
import { createMessageConnection, StreamMessageReader, StreamMessageWriter } from 'vscode-languageserver/node';
import { writeMetadataCacheFile } from '../../../src/dataverse/metadataCache';
import { enrichModel } from '../../../src/metadata/entityDefinitions';
import { mayMatch } from '../../../src/odata/language/completion';
import { readSharedJson, realDataverseModel } from '../metadata/fixtures';
import { METADATA_PATH } from '../odata/language/metadata';

const root = path.resolve(__dirname, '../../..');

/** A real `dvw lsp` process, driven over stdio as an editor would. */
class Client {
  readonly process: ChildProcess;
  readonly connection: MessageConnection;
  private readonly diagnostics = new Map<string, PublishDiagnosticsParams[]>();
  private readonly waiters: (() => void)[] = [];

  constructor() {
    this.process = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'src/cli/main.ts'), 'lsp', '--stdio'], {
      cwd: root,
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    this.connection = createMessageConnection(
      new StreamMessageReader(this.process.stdout!),
      new StreamMessageWriter(this.process.stdin!),
    );
    this.connection.onNotification('textDocument/publishDiagnostics', (params: PublishDiagnosticsParams) => {
      const list = this.diagnostics.get(params.uri) ?? [];
      list.push(params);
      this.diagnostics.set(params.uri, list);
      this.waiters.splice(0).forEach((wake) => wake());
    });
    this.connection.listen();
  }

  /** Waits for published diagnostics of `uri` that satisfy `accept`. */
  async diagnosticsFor(uri: string, accept: (d: Diagnostic[]) => boolean): Promise<Diagnostic[]> {
    for (;;) {
      const found = (this.diagnostics.get(uri) ?? []).find((p) => accept(p.diagnostics));
      if (found) return found.diagnostics;
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  /** Forgets what was published for `uri`, so later waits see only what comes next. */
  forget(uri: string): void {
    this.diagnostics.delete(uri);
  }

  open(uri: string, text: string): void {
    void this.connection.sendNotification('textDocument/didOpen', {
      textDocument: { uri, languageId: 'odata', version: 1, text },
    });
  }

  async close(): Promise<void> {
    await this.connection.sendRequest('shutdown');
    void this.connection.sendNotification('exit');
    this.connection.dispose();
    this.process.kill();
  }
}

function position(text: string, marker: string): { line: number; character: number } {
  const offset = text.indexOf(marker) + marker.length;
  const before = text.slice(0, offset).split('\n');
  return { line: before.length - 1, character: before.at(-1)!.length };
}

describe('language server over LSP (dvw lsp, real metadata)', function () {
  this.timeout(60000);
  let client: Client;
  let capabilities: InitializeResult['capabilities'];
  const uri = 'file:///work/requests.odata';
  const text = [
    '### Accounts',
    'GET accounts?$select=',
    '### Expand',
    'GET accounts?$expand=primarycontactid($select=',
    '### Broken',
    'GET accounts?$select=name,revenu',
    '### Changes',
    'GET accounts?$select=name',
    'Prefer: odata.track-changes',
    '',
  ].join('\n');

  before(async () => {
    client = new Client();
    const result: InitializeResult = await client.connection.sendRequest('initialize', {
      processId: process.pid,
      rootUri: null,
      capabilities: {},
      initializationOptions: { metadataPath: METADATA_PATH },
    });
    capabilities = result.capabilities;
    void client.connection.sendNotification('initialized', {});
    client.open(uri, text);
    // Diagnostics that know the metadata mean the load is done.
    await client.diagnosticsFor(uri, (d) => d.some((x) => x.code === 'unknownColumn'));
  });

  after(async () => {
    await client?.close();
  });

  it('announces its features with deliberate trigger characters', () => {
    assert.ok(capabilities.completionProvider?.triggerCharacters?.includes('='));
    assert.ok(capabilities.completionProvider?.triggerCharacters?.includes('('));
    assert.equal(capabilities.hoverProvider, true);
    assert.equal(capabilities.documentFormattingProvider, true);
    assert.ok(capabilities.codeLensProvider);
  });

  it('completes columns after accounts?$select=', async () => {
    const items: CompletionItem[] = await client.connection.sendRequest('textDocument/completion', {
      textDocument: { uri },
      position: position(text, 'GET accounts?$select='),
    });
    const labels = items.map((i) => i.label);
    assert.ok(labels.includes('name'));
    assert.ok(labels.includes('revenue'));
    // A client that does not resolve gets the details with the list.
    assert.match(items.find((i) => i.label === 'revenue')?.detail ?? '', /Edm\.Decimal/);
    assert.equal(capabilities.completionProvider?.resolveProvider, false);
  });

  it('completes the target columns after $expand=primarycontactid($select=', async () => {
    const items: CompletionItem[] = await client.connection.sendRequest('textDocument/completion', {
      textDocument: { uri },
      position: position(text, 'primarycontactid($select='),
    });
    assert.ok(items.some((i) => i.label === 'fullname'));
  });

  it('publishes an unknown column with a did-you-mean quick fix', async () => {
    const diagnostics = await client.diagnosticsFor(uri, (d) => d.some((x) => x.code === 'unknownColumn'));
    const unknown = diagnostics.find((d) => d.code === 'unknownColumn')!;
    assert.deepEqual(unknown.range, { start: { line: 5, character: 26 }, end: { line: 5, character: 32 } });
    const actions: CodeAction[] = await client.connection.sendRequest('textDocument/codeAction', {
      textDocument: { uri },
      range: unknown.range,
      context: { diagnostics: [unknown] },
    });
    const fix = actions.find((a) => a.title === "Change to 'revenue'");
    assert.ok(fix, actions.map((a) => a.title).join(', '));
    assert.deepEqual(fix.edit?.changes?.[uri], [{ range: unknown.range, newText: 'revenue' }]);
  });

  it('hovers a column with its type', async () => {
    const hover: Hover = await client.connection.sendRequest('textDocument/hover', {
      textDocument: { uri },
      position: position(text, 'GET accounts?$select=na'),
    });
    assert.match(JSON.stringify(hover.contents), /Edm\.String/);
  });

  it('gives CodeLens with serializable { uri, blockIndex } arguments', async () => {
    const lenses: CodeLens[] = await client.connection.sendRequest('textDocument/codeLens', { textDocument: { uri } });
    const commands = lenses.map((l) => [l.command?.command, JSON.stringify(l.command?.arguments)]);
    assert.deepEqual(commands, [
      ['dataverse.runAll', JSON.stringify([{ uri }])],
      ['dataverse.runBlock', JSON.stringify([{ uri, blockIndex: 0 }])],
      ['dataverse.runBlock', JSON.stringify([{ uri, blockIndex: 1 }])],
      ['dataverse.runBlock', JSON.stringify([{ uri, blockIndex: 2 }])],
      ['dataverse.runBlock', JSON.stringify([{ uri, blockIndex: 3 }])],
      ['dataverse.getChanges', JSON.stringify([{ uri, blockIndex: 3 }])],
    ]);
  });

  it('formats and lists one symbol per block', async () => {
    const formatUri = 'file:///work/format.odata';
    client.open(formatUri, 'get accounts?$top=1&$select=name\n');
    const edits: TextEdit[] = await client.connection.sendRequest('textDocument/formatting', {
      textDocument: { uri: formatUri },
      options: { tabSize: 4, insertSpaces: true },
    });
    assert.deepEqual(
      edits.map((e) => e.newText),
      ['GET accounts?$select=name\n    &$top=1'],
    );
    const symbols: { name: string }[] = await client.connection.sendRequest('textDocument/documentSymbol', {
      textDocument: { uri },
    });
    assert.deepEqual(
      symbols.map((s) => s.name),
      ['Accounts', 'Expand', 'Broken', 'Changes'],
    );
  });

  it('switches metadata on dataverse/setMetadata: without it, only syntax is checked', async () => {
    client.forget(uri);
    void client.connection.sendNotification('dataverse/setMetadata', {});
    const withoutMetadata = (await client.diagnosticsFor(uri, () => true)).map((d) => d.code);
    assert.ok(withoutMetadata.includes('missingOptionValue'), 'syntax is still checked');
    assert.ok(!withoutMetadata.includes('unknownColumn'));
    client.forget(uri);
    void client.connection.sendNotification('dataverse/setMetadata', { metadataPath: METADATA_PATH });
    const reloaded = await client.diagnosticsFor(uri, () => true);
    const codes = reloaded.map((d) => d.code);
    assert.deepEqual(
      codes.filter((c) => c !== 'unknownColumn'),
      withoutMetadata,
    );
    assert.equal(codes.filter((c) => c === 'unknownColumn').length, 1);
  });
});

describe('language server over LSP, for a client that takes completion list defaults', function () {
  this.timeout(60000);
  let client: Client;

  before(async () => {
    client = new Client();
    await client.connection.sendRequest('initialize', {
      processId: process.pid,
      rootUri: null,
      capabilities: { textDocument: { completion: { completionList: { itemDefaults: ['editRange'] } } } },
    });
    void client.connection.sendNotification('initialized', {});
  });

  after(async () => {
    await client?.close();
  });

  it('sends the edit range once, and the inserted text only where it is not the label', async () => {
    const uri = 'file:///work/defaults.odata';
    const text = 'GET accounts?$se';
    client.open(uri, text);
    const list: CompletionList = await client.connection.sendRequest('textDocument/completion', {
      textDocument: { uri },
      position: position(text, '$se'),
    });
    assert.deepEqual(list.itemDefaults?.editRange, {
      start: { line: 0, character: 13 },
      end: { line: 0, character: 16 },
    });
    const select = list.items.find((i) => i.label === '$select');
    assert.equal(select?.textEditText, '$select=');
    assert.equal(select?.textEdit, undefined);
    assert.ok(list.items.every((i) => i.filterText === undefined));
  });
});

describe('language server over LSP, for a client that resolves details as VS Code does', function () {
  this.timeout(60000);
  let client: Client;
  let capabilities: InitializeResult['capabilities'];
  const uri = 'file:///work/resolve.odata';
  const text = [
    '### All columns',
    'GET accounts?$select=',
    '### Typed',
    'GET accounts?$select=reven',
    '### Filter',
    'GET contacts?$filter=statecode eq 0 and fulln',
  ].join('\n');

  const completeAt = (marker: string): Promise<CompletionList> =>
    client.connection.sendRequest('textDocument/completion', {
      textDocument: { uri },
      position: position(text, marker),
    });

  before(async () => {
    client = new Client();
    const result: InitializeResult = await client.connection.sendRequest('initialize', {
      processId: process.pid,
      rootUri: null,
      // What VS Code 1.100 declares.
      capabilities: {
        textDocument: {
          completion: {
            completionItem: { resolveSupport: { properties: ['documentation', 'detail', 'additionalTextEdits'] } },
            completionList: {
              itemDefaults: ['commitCharacters', 'editRange', 'insertTextFormat', 'insertTextMode', 'data'],
            },
          },
        },
      },
      initializationOptions: { metadataPath: METADATA_PATH },
    });
    capabilities = result.capabilities;
    void client.connection.sendNotification('initialized', {});
    client.open(uri, text);
    await client.diagnosticsFor(uri, (d) => d.some((x) => x.code === 'unknownColumn'));
  });

  after(async () => {
    await client?.close();
  });

  it('sends labels only, and the detail of the item the client shows on resolve', async () => {
    assert.equal(capabilities.completionProvider?.resolveProvider, true);
    const list = await completeAt('GET accounts?$select=');
    assert.equal(typeof list.itemDefaults?.data, 'number');
    assert.ok(list.items.length > 100);
    assert.ok(list.items.every((i) => i.detail === undefined && i.documentation === undefined));
    const revenue = list.items.find((i) => i.label === 'revenue');
    assert.ok(revenue);
    // The client applies the list's defaults to the item before it resolves it.
    const data: unknown = list.itemDefaults?.data;
    const resolved: CompletionItem = await client.connection.sendRequest('completionItem/resolve', {
      ...revenue,
      data,
    });
    assert.match(resolved.detail ?? '', /Edm\.Decimal/);
    assert.equal(resolved.label, 'revenue');
  });

  it('leaves an item it cannot place as it came', async () => {
    for (const data of [undefined, 'x', 1e9, { list: 1 }]) {
      const item = data === undefined ? { label: 'revenue', kind: 5 } : { label: 'revenue', kind: 5, data };
      assert.deepEqual(await client.connection.sendRequest('completionItem/resolve', item), item);
    }
  });

  it('sends only the items the typed word can still match, and says the list is complete for further typing', async () => {
    const all = await completeAt('GET accounts?$select=');
    const typed = await completeAt('GET accounts?$select=reven');
    assert.equal(typed.isIncomplete, false);
    assert.ok(typed.items.some((i) => i.label === 'revenue'));
    assert.ok(typed.items.length > 0 && typed.items.length < all.items.length / 4, `${typed.items.length}`);
    assert.ok(typed.items.every((i) => mayMatch('reven', i.label)));
    const expected = all.items.filter((i) => mayMatch('reven', i.label)).map((i) => i.label);
    assert.deepEqual(
      typed.items.map((i) => i.label),
      expected,
    );
    const operands = await completeAt('and fulln');
    assert.ok(operands.items.some((i) => i.label === 'fullname'));
    assert.ok(operands.items.every((i) => mayMatch('fulln', i.label)));
  });
});

/** A small $metadata: one table, enough to tell a list with metadata from one without. */
const SMALL_METADATA = `<?xml version="1.0" encoding="utf-8"?>
<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx"><edmx:DataServices>
<Schema Namespace="Microsoft.Dynamics.CRM" Alias="mscrm" xmlns="http://docs.oasis-open.org/odata/ns/edm">
<EntityType Name="account"><Key><PropertyRef Name="accountid" /></Key>
<Property Name="accountid" Type="Edm.Guid" /><Property Name="name" Type="Edm.String" /></EntityType>
<EntityContainer Name="System"><EntitySet Name="accounts" EntityType="Microsoft.Dynamics.CRM.account" /></EntityContainer>
</Schema></edmx:DataServices></edmx:Edmx>`;

// The metadata file is a named pipe: the server's read of it finishes only when the test writes to it,
// so "still loading" lasts exactly as long as the test wants.
(process.platform === 'win32' ? describe.skip : describe)(
  'language server over LSP, asked for completion while metadata is loading',
  function () {
    this.timeout(60000);
    const uri = 'file:///work/loading.odata';
    const text = 'GET accounts?$select=\n';
    let directory: string;

    before(() => {
      directory = mkdtempSync(path.join(tmpdir(), 'dvw-lsp-loading-'));
    });

    after(() => {
      rmSync(directory, { recursive: true, force: true });
    });

    async function startLoading(name: string): Promise<{ client: Client; pipe: string }> {
      const pipe = path.join(directory, name);
      execFileSync('mkfifo', [pipe]);
      const client = new Client();
      await client.connection.sendRequest('initialize', {
        processId: process.pid,
        rootUri: null,
        capabilities: {},
        initializationOptions: { metadataPath: pipe },
      });
      void client.connection.sendNotification('initialized', {});
      client.open(uri, text);
      return { client, pipe };
    }

    function completeAtOnce(client: Client): Promise<CompletionList | CompletionItem[]> {
      return client.connection.sendRequest('textDocument/completion', {
        textDocument: { uri },
        position: position(text, 'GET accounts?$select='),
      });
    }

    it('waits briefly for the load in flight: a file opened and asked at once gets the columns', async () => {
      const { client, pipe } = await startLoading('arrives.xml');
      try {
        const answer = completeAtOnce(client);
        writeFileSync(pipe, SMALL_METADATA);
        const items = await answer;
        assert.ok(Array.isArray(items), 'a complete list');
        assert.deepEqual(items.map((i) => i.label).sort(), ['accountid', 'name']);
      } finally {
        await client.close();
      }
    });

    it('past the wait, says "loading metadata" and marks the list incomplete, so the editor asks again', async () => {
      const { client, pipe } = await startLoading('late.xml');
      try {
        const first = (await completeAtOnce(client)) as CompletionList;
        assert.equal(first.isIncomplete, true);
        assert.deepEqual(
          first.items.map((i) => i.label),
          ['Loading metadata…'],
        );
        // Documents are checked again once the metadata is there.
        client.forget(uri);
        writeFileSync(pipe, SMALL_METADATA);
        await client.diagnosticsFor(uri, () => true);
        const again = await completeAtOnce(client);
        assert.ok(Array.isArray(again), 'complete once the metadata is there');
        assert.deepEqual(again.map((i) => i.label).sort(), ['accountid', 'name']);
      } finally {
        await client.close();
      }
    });
  },
);

// One naming scheme (issue 17): what the explorer's tree calls a column, hover and completion call it too.
describe('language server over LSP with display names (an enriched metadata cache)', function () {
  this.timeout(60000);
  let client: Client;
  let directory: string;
  const uri = 'file:///work/names.odata';
  const text = [
    '### Names',
    'GET accounts?$select=revenue,_primarycontactid_value,name,donotemail',
    '### Complete',
    'GET accounts?$select=',
    '### Broken',
    'GET accounts?$select=revenu',
  ].join('\n');

  const hoverAt = async (marker: string): Promise<string> => {
    const hover: Hover = await client.connection.sendRequest('textDocument/hover', {
      textDocument: { uri },
      position: position(text, marker),
    });
    const contents = hover.contents as { value: string };
    return contents.value;
  };

  before(async () => {
    directory = mkdtempSync(path.join(tmpdir(), 'dvw-lsp-names-'));
    const cachePath = path.join(directory, 'metadata.cache');
    const { model } = enrichModel(realDataverseModel(), readSharedJson('entitydefinitions/account-metadata.json'));
    await writeMetadataCacheFile(cachePath, { model, fetchedAt: 0, source: 'network' });
    client = new Client();
    await client.connection.sendRequest('initialize', {
      processId: process.pid,
      rootUri: null,
      capabilities: {},
      initializationOptions: { cachePath },
    });
    void client.connection.sendNotification('initialized', {});
    client.open(uri, text);
    await client.diagnosticsFor(uri, (d) => d.some((x) => x.code === 'unknownColumn'));
  });

  after(async () => {
    await client?.close();
    rmSync(directory, { recursive: true, force: true });
  });

  it("hovers a column with its display name, then Dataverse's type with the Edm type second", async () => {
    const revenue = await hoverAt('$select=reven');
    assert.match(revenue, /^\*\*Annual Revenue\*\* `revenue` — column of `account`/);
    assert.match(revenue, /Type: Money \(`Edm\.Decimal`\)/);
    // A Boolean attribute is a Yes/No column, as Power Apps names it.
    assert.match(await hoverAt('name,donotem'), /Type: Yes\/No \(`Edm\.Boolean`\)/);
  });

  it('hovers a lookup by its logical name, with the Web API name', async () => {
    const lookup = await hoverAt('revenue,_primary');
    assert.match(lookup, /^\*\*Primary Contact\*\* `primarycontactid` — column of `account`/);
    assert.match(lookup, /Web API name: `_primarycontactid_value`/);
    assert.match(lookup, /Type: Lookup \(`Edm\.Guid`\)/);
  });

  it('gives completion items the display name and the Dataverse type in their detail', async () => {
    const items: CompletionItem[] = await client.connection.sendRequest('textDocument/completion', {
      textDocument: { uri },
      position: position(text, '### Complete\nGET accounts?$select='),
    });
    const revenue = items.find((i) => i.label === 'revenue');
    assert.equal(revenue?.detail, 'Annual Revenue · Money (Edm.Decimal)');
    assert.match(JSON.stringify(revenue?.documentation), /Annual Revenue \(revenue\)/);
    const lookup = items.find((i) => i.label === '_primarycontactid_value');
    assert.equal(lookup?.detail, 'Primary Contact · Lookup primarycontactid (Edm.Guid)');
    assert.match(JSON.stringify(lookup?.documentation), /Web API name: _primarycontactid_value/);
  });
});

import * as vscode from 'vscode';
import { describeError, isWorkbenchError, WorkbenchError } from '../../core/errors';
import type { RecordJson } from '../../core/recordPatch';
import type { MetadataModel } from '../../metadata/model';
import { diffRecord, parseRecordText, recordText } from '../../core/recordPatch';
import { MetadataIndex } from '../../metadata/lookup';
import type { Connection, ConnectionManager } from '../connections';
import type { UserInput } from '../userInput';
import { createBody } from './recordTemplate';
import { notifyDone } from '../history/notify';
import type { DraftAddress, RecordAddress } from './recordUri';
import {
  draftUri,
  parseDraftUri,
  parseRecordUri,
  RECORD_SCHEME,
  recordAddressOf,
  recordKey,
  recordTitle,
  recordUri,
  SERVER_RECORD_SCHEME,
} from './recordUri';

/** What a record's title and read-only columns come from. */
interface RecordTable {
  readonly logicalName: string;
  readonly primaryId: string | undefined;
  readonly primaryName: string | undefined;
}

/** A record as it was read, and what the editor's text was made from. */
interface OpenRecord {
  /** The server's record as last read: its ETag goes in the next save's `If-Match`. */
  readonly record: RecordJson;
  readonly etag: string | undefined;
  readonly text: Uint8Array;
  readonly mtime: number;
  readonly table: RecordTable;
  /**
   * The record the editor's text derives from: what was last served to the editor, or what the user
   * last saved while the editor has not read the server's version yet. A save sends what differs from
   * it, so the ETag and `modifiedon` the server moved on are never taken for the user's edits.
   */
  readonly base: RecordJson;
}

/** A save that reached the server: which record, what it now holds, and the columns that were sent. */
export interface SavedRecord {
  readonly address: RecordAddress;
  readonly record: RecordJson;
  readonly columns: readonly string[];
}

/**
 * A record being written from a template (`new-<n>.json`): it lives only here until its first save
 * POSTs it. After that the draft's editor is swapped for the created record's own document, whose
 * saves PATCH like any other record: one file system, one save gesture, and the draft text is never
 * lost to a failed create because VS Code keeps the editor dirty when `writeFile` throws.
 */
interface Draft {
  readonly text: Uint8Array;
  readonly mtime: number;
  /** Set once the POST succeeded; a draft is created at most once. */
  readonly created?: RecordAddress;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
export const OVERWRITE = 'Overwrite';
export const RELOAD = 'Reload';

/**
 * Records as JSON documents in the `dataverse:` scheme. Saving sends a PATCH of the changed writable
 * columns only, with `If-Match` of the ETag the record was read with; when the server's record changed
 * since (412), the user sees both versions side by side and chooses to overwrite or reload.
 */
export class RecordFileSystem
  implements vscode.FileSystemProvider, vscode.TextDocumentContentProvider, vscode.Disposable
{
  private readonly changed = new vscode.EventEmitter<vscode.FileChangeEvent[]>();
  readonly onDidChangeFile = this.changed.event;
  private readonly serverChanged = new vscode.EventEmitter<vscode.Uri>();
  /** For the read-only server side of a conflict diff. */
  readonly onDidChange = this.serverChanged.event;
  private readonly open = new Map<string, OpenRecord>();
  private readonly serverVersions = new Map<string, string>();
  /** Records read again by a save, to be shown once VS Code has finished that save. */
  private readonly refreshAfterSave = new Set<string>();
  private readonly drafts = new Map<string, Draft>();
  private draftCount = 0;
  private readonly subscriptions: vscode.Disposable[];
  private readonly recordSaved = new vscode.EventEmitter<SavedRecord>();
  /** Fires once a save reached the server (the explorer relabels the record). */
  readonly onDidSaveRecord = this.recordSaved.event;

  constructor(
    private readonly connections: ConnectionManager,
    private readonly input: UserInput,
    private readonly log: vscode.LogOutputChannel,
  ) {
    this.subscriptions = [
      vscode.workspace.onDidSaveTextDocument((document) => {
        this.showServerVersion(document.uri).catch(
          (error: unknown) =>
            void vscode.window.showErrorMessage(
              `The record was saved, but could not be shown: ${describeError(error)}`,
            ),
        );
        this.replaceCreatedDraft(document.uri).catch(
          (error: unknown) =>
            void vscode.window.showErrorMessage(
              `The record was created, but could not be opened: ${describeError(error)}`,
            ),
        );
      }),
      // A record's URI ends in its title, not `.json`: the language comes from here.
      vscode.workspace.onDidOpenTextDocument((document) => void this.showAsJson(document)),
    ];
  }

  /**
   * Opens the record in an editor: the one already showing it, whatever title its tab has, or a new one
   * read fresh from the server (a copy read earlier may be stale).
   */
  async openRecord(address: RecordAddress): Promise<vscode.TextEditor> {
    const key = recordKey(address);
    // Tabs, not `textDocuments`: a closed editor's document lingers there for a while.
    const shown = vscode.window.tabGroups.all
      .flatMap((group) => group.tabs)
      .flatMap((tab) => (tab.input instanceof vscode.TabInputText ? [tab.input.uri] : []))
      .find((uri) => {
        const other = recordAddressOf(uri);
        return other !== undefined && recordKey(other) === key;
      });
    if (shown !== undefined) {
      return vscode.window.showTextDocument(await vscode.workspace.openTextDocument(shown), { preview: false });
    }
    this.open.delete(key);
    const open = await this.load(address);
    const document = await vscode.workspace.openTextDocument(recordUri(address, titleOf(open, address)));
    return vscode.window.showTextDocument(await this.showAsJson(document), { preview: false });
  }

  /** A new `new-<n>.json` document holding `text`, to be created in `entitySet` on its first save. */
  newDraft(connectionId: string, entitySet: string, text: string): vscode.Uri {
    this.draftCount += 1;
    const uri = draftUri({ connectionId, entitySet, draft: this.draftCount });
    this.drafts.set(uri.toString(), { text: encoder.encode(text), mtime: Date.now() });
    return uri;
  }

  /** Forgets the copy read earlier (a deleted record), so the next open reads the record again. */
  forget(address: RecordAddress): void {
    this.open.delete(recordKey(address));
  }

  watch(): vscode.Disposable {
    // Records change on the server without notice; there is nothing to watch.
    return new vscode.Disposable(() => undefined);
  }

  async stat(uri: vscode.Uri): Promise<vscode.FileStat> {
    const draft = this.draftAt(uri);
    if (draft !== undefined) {
      return { type: vscode.FileType.File, ctime: draft.mtime, mtime: draft.mtime, size: draft.text.byteLength };
    }
    // The segments above a record (connection, table, id) are its folders: a write checks they exist.
    if (parseDraftUri(uri) === undefined && uri.path.split('/').length < 5) {
      return { type: vscode.FileType.Directory, ctime: 0, mtime: 0, size: 0 };
    }
    const open = await this.read(uri);
    return { type: vscode.FileType.File, ctime: open.mtime, mtime: open.mtime, size: open.text.byteLength };
  }

  async readFile(uri: vscode.Uri): Promise<Uint8Array> {
    const draft = this.draftAt(uri);
    if (draft !== undefined) return draft.text;
    const open = await this.read(uri);
    // The editor now shows the server's record: the next save diffs against it.
    this.remember(this.address(uri), { ...open, base: open.record });
    return open.text;
  }

  async writeFile(uri: vscode.Uri, content: Uint8Array): Promise<void> {
    const draft = parseDraftUri(uri);
    if (draft !== undefined) return this.create(uri, draft, content);
    const address = this.address(uri);
    const open = this.open.get(recordKey(address));
    if (open === undefined) {
      throw saveError('Open the record from the Dataverse explorer before saving it.');
    }
    const parsed = parseRecordText(decoder.decode(content));
    // Thrown before any request: the editor keeps the text, so nothing is lost.
    if (!parsed.ok) throw saveError(parsed.message);
    const { changes, ignored } = diffRecord(open.base, parsed.record, {
      ...(open.table.primaryId === undefined ? {} : { primaryId: open.table.primaryId }),
    });
    if (ignored.length > 0) {
      const message = `Not saved, as Dataverse sets them itself: ${ignored.join(', ')}.`;
      this.log.warn(`${address.entitySet}(${address.id}): ${message}`);
      void vscode.window.showWarningMessage(message);
    }
    if (Object.keys(changes).length === 0) {
      this.remember(address, { ...open, base: parsed.record, text: content, mtime: Date.now() });
      return;
    }
    const { connection, client } = this.services(address);
    try {
      await client.update(address.entitySet, address.id, changes, open.etag === undefined ? {} : { etag: open.etag });
    } catch (error) {
      if (!(isWorkbenchError(error) && error.status === 412)) throw asFileSystemError(error);
      await this.resolveConflict(uri, address, connection, changes, parsed.record);
      return;
    }
    await this.reloadAfterSave(uri, address, changes, parsed.record);
  }

  provideTextDocumentContent(uri: vscode.Uri): string {
    return this.serverVersions.get(uri.path) ?? '';
  }

  // Records are single files: there are no folders to list, create, rename or delete.
  readDirectory(): [string, vscode.FileType][] {
    throw vscode.FileSystemError.NoPermissions('Records are opened one at a time from the Dataverse explorer.');
  }

  createDirectory(): void {
    throw vscode.FileSystemError.NoPermissions('Records are opened one at a time from the Dataverse explorer.');
  }

  delete(): void {
    throw vscode.FileSystemError.NoPermissions('Delete records from the Dataverse explorer.');
  }

  rename(): void {
    throw vscode.FileSystemError.NoPermissions('A record cannot be renamed.');
  }

  dispose(): void {
    for (const subscription of this.subscriptions) subscription.dispose();
    this.recordSaved.dispose();
    this.changed.dispose();
    this.serverChanged.dispose();
    this.open.clear();
    this.serverVersions.clear();
    this.drafts.clear();
  }

  /** The first save of a draft: one POST of its columns; every failure leaves the draft as it was. */
  private async create(uri: vscode.Uri, address: DraftAddress, content: Uint8Array): Promise<void> {
    const draft = this.draftAt(uri);
    if (draft === undefined) {
      throw vscode.FileSystemError.NoPermissions('Start a new record from the Dataverse explorer (New Record…).');
    }
    if (draft.created !== undefined) {
      throw vscode.FileSystemError.NoPermissions(
        `This record was created already (${draft.created.id}); edit it in its own document.`,
      );
    }
    const parsed = parseRecordText(decoder.decode(content));
    if (!parsed.ok) throw saveError(parsed.message);
    const body = createBody(parsed.record);
    if (!body.ok) throw saveError(body.message);
    const { client } = this.services(address);
    const created = await client.create(address.entitySet, body.body).catch((error: unknown) => {
      throw asFileSystemError(error);
    });
    if (created.id === undefined) {
      throw vscode.FileSystemError.Unavailable('The service created the record but did not say its id.');
    }
    this.drafts.set(uri.toString(), {
      text: content,
      mtime: Math.max(Date.now(), draft.mtime + 1),
      created: { connectionId: address.connectionId, entitySet: address.entitySet, id: created.id.toLowerCase() },
    });
  }

  /**
   * Once VS Code has finished saving a created draft, the created record opens in its own document
   * (read back, so it shows what the service stored) and the draft's editor closes.
   */
  private async replaceCreatedDraft(uri: vscode.Uri): Promise<void> {
    const created = this.draftAt(uri)?.created;
    if (created === undefined) return;
    await this.openRecord(created);
    const tabs = vscode.window.tabGroups.all
      .flatMap((group) => group.tabs)
      .filter((tab) => tab.input instanceof vscode.TabInputText && tab.input.uri.toString() === uri.toString());
    await vscode.window.tabGroups.close(tabs);
    this.drafts.delete(uri.toString());
  }

  private draftAt(uri: vscode.Uri): Draft | undefined {
    return parseDraftUri(uri) === undefined ? undefined : this.drafts.get(uri.toString());
  }

  private async resolveConflict(
    uri: vscode.Uri,
    address: RecordAddress,
    connection: Connection,
    changes: RecordJson,
    edited: RecordJson,
  ): Promise<void> {
    const { client } = this.services(address);
    const current = await client.retrieve(address.entitySet, address.id).catch((error: unknown) => {
      throw asFileSystemError(error);
    });
    const title = uri.path.slice(uri.path.lastIndexOf('/') + 1);
    const serverUri = recordUri(address, title, SERVER_RECORD_SCHEME);
    this.serverVersions.set(serverUri.path, recordText(current));
    this.serverChanged.fire(serverUri);
    await vscode.commands.executeCommand('vscode.diff', serverUri, uri, `${title}: on ${connection.name} ↔ yours`, {
      preview: true,
      preserveFocus: true,
      viewColumn: vscode.ViewColumn.Beside,
    });
    const choice = await this.input.showWarningMessage(
      `The record changed on ${connection.name} after you opened it (see the comparison). ` +
        `Overwrite it with your changes (${Object.keys(changes).join(', ')}), or reload it and drop them?`,
      { modal: true },
      OVERWRITE,
      RELOAD,
    );
    if (choice === OVERWRITE) {
      await client.update(address.entitySet, address.id, changes, { etag: '*' }).catch((error: unknown) => {
        throw asFileSystemError(error);
      });
      await this.reloadAfterSave(uri, address, changes, edited);
      return;
    }
    if (choice === RELOAD) {
      const open = this.open.get(recordKey(address));
      const mtime = Math.max(Date.now(), (open?.mtime ?? 0) + 1);
      if (open !== undefined) this.remember(address, toOpenRecord(current, mtime, open.table, edited));
      this.refreshAfterSave.add(uri.toString());
      return;
    }
    throw saveError('Not saved: the record changed on the server. Your text is kept; save again to choose.');
  }

  /**
   * Reads the record again so that the next save sends the ETag of what the server now holds, and says
   * what was saved. The document shows the server's version once VS Code has finished the save
   * (`showServerVersion`); until then the user's saved text is what the next save diffs against.
   */
  private async reloadAfterSave(
    uri: vscode.Uri,
    address: RecordAddress,
    changes: RecordJson,
    edited: RecordJson,
  ): Promise<void> {
    const previous = this.open.get(recordKey(address));
    const columns = Object.keys(changes);
    this.log.info(`Saved ${address.entitySet}(${address.id}): ${columns.join(', ')}`);
    const record = await this.services(address)
      .client.retrieve(address.entitySet, address.id)
      .catch((error: unknown) => {
        throw saveError(`Saved ${columns.join(', ')}, but the record could not be read back: ${describeError(error)}`);
      });
    const mtime = Math.max(Date.now(), (previous?.mtime ?? 0) + 1);
    const table = previous?.table ?? (await this.tableOf(address));
    const open = this.remember(address, toOpenRecord(record, mtime, table, edited));
    this.refreshAfterSave.add(uri.toString());
    this.recordSaved.fire({ address, record, columns });
    const name = titleOf(open, address);
    notifyDone(`Saved ${name} (${columns.join(', ')}).`, {
      method: 'PATCH',
      path: `${address.entitySet}(${address.id})`,
    });
  }

  /**
   * A change event during a save is ignored (the document is still dirty), and the stat VS Code takes
   * right after writing already carries the new time, so the reload needs a later, newer time. A record
   * whose name changed moves to a tab with the new title, cursor and scroll position kept.
   */
  private async showServerVersion(uri: vscode.Uri): Promise<void> {
    const address = recordAddressOf(uri);
    if (!this.refreshAfterSave.delete(uri.toString()) || address === undefined) return;
    const open = this.open.get(recordKey(address));
    if (open === undefined) return;
    const title = titleOf(open, address);
    if (uri.path.endsWith(`/${title}`)) {
      this.remember(address, { ...open, mtime: open.mtime + 1 });
      this.changed.fire([{ type: vscode.FileChangeType.Changed, uri }]);
      return;
    }
    const before = vscode.window.visibleTextEditors.find((editor) => editor.document.uri.toString() === uri.toString());
    const document = await this.showAsJson(await vscode.workspace.openTextDocument(recordUri(address, title)));
    const editor = await vscode.window.showTextDocument(document, {
      preview: false,
      ...(before?.viewColumn === undefined ? {} : { viewColumn: before.viewColumn }),
    });
    if (before !== undefined) {
      editor.selections = before.selections.map(
        (selection) =>
          new vscode.Selection(
            document.validatePosition(selection.anchor),
            document.validatePosition(selection.active),
          ),
      );
      const top = before.visibleRanges[0];
      if (top !== undefined) editor.revealRange(document.validateRange(top), vscode.TextEditorRevealType.AtTop);
    }
    const tabs = vscode.window.tabGroups.all
      .flatMap((group) => group.tabs)
      .filter((tab) => tab.input instanceof vscode.TabInputText && tab.input.uri.toString() === uri.toString());
    await vscode.window.tabGroups.close(tabs);
  }

  private async read(uri: vscode.Uri): Promise<OpenRecord> {
    return this.load(this.address(uri));
  }

  private async load(address: RecordAddress): Promise<OpenRecord> {
    const existing = this.open.get(recordKey(address));
    if (existing !== undefined) return existing;
    const { client } = this.services(address);
    try {
      const [record, table] = await Promise.all([
        client.retrieve(address.entitySet, address.id),
        this.tableOf(address),
      ]);
      return this.remember(address, toOpenRecord(record, Date.now(), table, record));
    } catch (error) {
      if (isWorkbenchError(error) && error.kind === 'notFound') {
        throw vscode.FileSystemError.FileNotFound(recordUri(address, address.id));
      }
      throw asFileSystemError(error);
    }
  }

  /** The table's logical name, primary id and primary name; EntityDefinitions add the name column. */
  private async tableOf(address: RecordAddress): Promise<RecordTable> {
    const { connection } = this.services(address);
    const metadata = this.connections.metadata(connection);
    const typeIn = (model: MetadataModel) => new MetadataIndex(model).entityTypeOfSet(address.entitySet);
    const plain = typeIn((await metadata.get()).model);
    if (plain === undefined) return { logicalName: address.entitySet, primaryId: undefined, primaryName: undefined };
    const enriched = await metadata.withEntityDefinition(plain.name).then(typeIn, (error: unknown) => {
      if (isWorkbenchError(error) && error.kind === 'cancelled') throw error;
      // Without EntityDefinitions the title shows the id; the record still opens and saves.
      return undefined;
    });
    const type = enriched ?? plain;
    return {
      logicalName: type.name,
      primaryId: type.key[0] ?? type.info?.primaryIdAttribute,
      primaryName: type.info?.primaryNameAttribute,
    };
  }

  /** Records open as JSON although their URI does not end in `.json`. */
  private async showAsJson(document: vscode.TextDocument): Promise<vscode.TextDocument> {
    if (document.uri.scheme !== RECORD_SCHEME || document.languageId === 'json') return document;
    return vscode.languages.setTextDocumentLanguage(document, 'json');
  }

  private remember(address: RecordAddress, open: OpenRecord): OpenRecord {
    this.open.set(recordKey(address), open);
    return open;
  }

  private address(uri: vscode.Uri): RecordAddress {
    try {
      return parseRecordUri(uri);
    } catch {
      throw vscode.FileSystemError.FileNotFound(uri);
    }
  }

  private services(address: Pick<RecordAddress, 'connectionId'>): {
    connection: Connection;
    client: ReturnType<ConnectionManager['client']>;
  } {
    const connection = this.connections.list().find((c) => c.id === address.connectionId);
    if (connection === undefined) {
      throw vscode.FileSystemError.Unavailable(`The connection "${address.connectionId}" is not available.`);
    }
    return { connection, client: this.connections.client(connection) };
  }
}

function toOpenRecord(record: RecordJson, mtime: number, table: RecordTable, base: RecordJson): OpenRecord {
  const etag = record['@odata.etag'];
  return {
    record,
    etag: typeof etag === 'string' ? etag : undefined,
    text: encoder.encode(recordText(record)),
    mtime,
    table,
    base,
  };
}

function titleOf(open: OpenRecord, address: RecordAddress): string {
  const name = open.table.primaryName === undefined ? undefined : open.record[open.table.primaryName];
  return recordTitle(open.table.logicalName, typeof name === 'string' ? name : undefined, address.id);
}

/**
 * A save refused before any request. VS Code shows the message after "Failed to save"; a
 * `FileSystemError` would add its code and class name ("NoPermissions (FileSystemError)") in front of it,
 * and an empty `name` keeps `Error.prototype.toString` from adding "Error:".
 */
function saveError(message: string): Error {
  const error = new Error(message);
  error.name = '';
  return error;
}

/** VS Code shows a provider's error message in its "Failed to save" notification. */
function asFileSystemError(error: unknown): Error {
  if (error instanceof vscode.FileSystemError) return error;
  if (error instanceof WorkbenchError && error.kind === 'notFound')
    return vscode.FileSystemError.FileNotFound(error.message);
  return saveError(describeError(error));
}

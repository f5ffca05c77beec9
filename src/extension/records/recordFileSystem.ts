import * as vscode from 'vscode';
import { describeError, isWorkbenchError, WorkbenchError } from '../../core/errors';
import type { RecordJson } from '../../core/recordPatch';
import { diffRecord, parseRecordText, recordText } from '../../core/recordPatch';
import type { Connection, ConnectionManager } from '../connections';
import type { UserInput } from '../userInput';
import { createBody } from './recordTemplate';
import type { DraftAddress, RecordAddress } from './recordUri';
import { draftUri, parseDraftUri, parseRecordUri, recordUri, SERVER_RECORD_SCHEME } from './recordUri';

/** A record as it was read: the basis of the next save's diff and `If-Match`. */
interface OpenRecord {
  readonly record: RecordJson;
  readonly etag: string | undefined;
  readonly text: Uint8Array;
  readonly mtime: number;
  readonly primaryId: string | undefined;
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
  private readonly saved: vscode.Disposable;

  constructor(
    private readonly connections: ConnectionManager,
    private readonly input: UserInput,
  ) {
    this.saved = vscode.workspace.onDidSaveTextDocument((document) => {
      this.showServerVersion(document.uri);
      this.replaceCreatedDraft(document.uri).catch(
        (error: unknown) =>
          void vscode.window.showErrorMessage(
            `The record was created, but could not be opened: ${describeError(error)}`,
          ),
      );
    });
  }

  /** A new `new-<n>.json` document holding `text`, to be created in `entitySet` on its first save. */
  newDraft(connectionId: string, entitySet: string, text: string): vscode.Uri {
    this.draftCount += 1;
    const uri = draftUri({ connectionId, entitySet, draft: this.draftCount });
    this.drafts.set(uri.toString(), { text: encoder.encode(text), mtime: Date.now() });
    return uri;
  }

  /** Forgets the copy read earlier, so the next open reads the record again. */
  forget(uri: vscode.Uri): void {
    this.open.delete(uri.toString());
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
    const open = await this.read(uri);
    return { type: vscode.FileType.File, ctime: open.mtime, mtime: open.mtime, size: open.text.byteLength };
  }

  async readFile(uri: vscode.Uri): Promise<Uint8Array> {
    return this.draftAt(uri)?.text ?? (await this.read(uri)).text;
  }

  async writeFile(uri: vscode.Uri, content: Uint8Array): Promise<void> {
    const draft = parseDraftUri(uri);
    if (draft !== undefined) return this.create(uri, draft, content);
    const address = this.address(uri);
    const open = this.open.get(uri.toString());
    if (open === undefined) {
      throw vscode.FileSystemError.NoPermissions('Open the record from the Dataverse explorer before saving it.');
    }
    const parsed = parseRecordText(decoder.decode(content));
    // Thrown before any request: the editor keeps the text, so nothing is lost.
    if (!parsed.ok) throw vscode.FileSystemError.NoPermissions(parsed.message);
    const { changes, ignored } = diffRecord(open.record, parsed.record, {
      ...(open.primaryId === undefined ? {} : { primaryId: open.primaryId }),
    });
    if (ignored.length > 0) {
      void vscode.window.showWarningMessage(`Not saved, as Dataverse sets them itself: ${ignored.join(', ')}.`);
    }
    if (Object.keys(changes).length === 0) {
      this.remember(uri, { ...open, text: content, mtime: Date.now() });
      return;
    }
    const { connection, client } = this.services(address);
    try {
      await client.update(address.entitySet, address.id, changes, open.etag === undefined ? {} : { etag: open.etag });
    } catch (error) {
      if (!(isWorkbenchError(error) && error.status === 412)) throw asFileSystemError(error);
      await this.resolveConflict(uri, address, connection, changes);
      return;
    }
    await this.reloadAfterSave(uri, address);
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
    this.saved.dispose();
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
    if (!parsed.ok) throw vscode.FileSystemError.NoPermissions(parsed.message);
    const body = createBody(parsed.record);
    if (!body.ok) throw vscode.FileSystemError.NoPermissions(body.message);
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
    const document = await vscode.workspace.openTextDocument(recordUri(created));
    await vscode.window.showTextDocument(document, { preview: false });
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
  ): Promise<void> {
    const { client } = this.services(address);
    const current = await client.retrieve(address.entitySet, address.id).catch((error: unknown) => {
      throw asFileSystemError(error);
    });
    const serverUri = recordUri(address, SERVER_RECORD_SCHEME);
    this.serverVersions.set(serverUri.path, recordText(current));
    this.serverChanged.fire(serverUri);
    await vscode.commands.executeCommand(
      'vscode.diff',
      serverUri,
      uri,
      `${address.entitySet}(${address.id}): on ${connection.name} ↔ yours`,
      { preview: true, preserveFocus: true, viewColumn: vscode.ViewColumn.Beside },
    );
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
      await this.reloadAfterSave(uri, address);
      return;
    }
    if (choice === RELOAD) {
      await this.reloadAfterSave(uri, address, current);
      return;
    }
    throw vscode.FileSystemError.NoPermissions(
      'Not saved: the record changed on the server. Your text is kept; save again to choose.',
    );
  }

  /**
   * Reads the record again so that the next save diffs against, and sends the ETag of, what the
   * server now holds. The document shows it once the save is over (`showServerVersion`).
   */
  private async reloadAfterSave(uri: vscode.Uri, address: RecordAddress, known?: RecordJson): Promise<void> {
    const previous = this.open.get(uri.toString());
    const record =
      known ??
      (await this.services(address)
        .client.retrieve(address.entitySet, address.id)
        .catch((error: unknown) => {
          throw asFileSystemError(error);
        }));
    const mtime = Math.max(Date.now(), (previous?.mtime ?? 0) + 1);
    this.remember(uri, toOpenRecord(record, mtime, previous?.primaryId));
    this.refreshAfterSave.add(uri.toString());
  }

  /**
   * A change event during a save is ignored (the document is still dirty), and the stat VS Code takes
   * right after writing already carries the new time, so the reload needs a later, newer time.
   */
  private showServerVersion(uri: vscode.Uri): void {
    const key = uri.toString();
    const open = this.open.get(key);
    if (!this.refreshAfterSave.delete(key) || open === undefined) return;
    this.remember(uri, { ...open, mtime: open.mtime + 1 });
    this.changed.fire([{ type: vscode.FileChangeType.Changed, uri }]);
  }

  private async read(uri: vscode.Uri): Promise<OpenRecord> {
    const existing = this.open.get(uri.toString());
    if (existing !== undefined) return existing;
    const address = this.address(uri);
    const { connection, client } = this.services(address);
    try {
      const [record, primaryId] = await Promise.all([
        client.retrieve(address.entitySet, address.id),
        this.connections.metadata(connection).primaryKeyOf(address.entitySet),
      ]);
      return this.remember(uri, toOpenRecord(record, Date.now(), primaryId));
    } catch (error) {
      if (isWorkbenchError(error) && error.kind === 'notFound') throw vscode.FileSystemError.FileNotFound(uri);
      throw asFileSystemError(error);
    }
  }

  private remember(uri: vscode.Uri, open: OpenRecord): OpenRecord {
    this.open.set(uri.toString(), open);
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

function toOpenRecord(record: RecordJson, mtime: number, primaryId: string | undefined): OpenRecord {
  const etag = record['@odata.etag'];
  return {
    record,
    etag: typeof etag === 'string' ? etag : undefined,
    text: encoder.encode(recordText(record)),
    mtime,
    primaryId,
  };
}

/** VS Code shows a provider's error message in its "Failed to save" notification. */
function asFileSystemError(error: unknown): Error {
  if (error instanceof vscode.FileSystemError) return error;
  if (error instanceof WorkbenchError && error.kind === 'notFound')
    return vscode.FileSystemError.FileNotFound(error.message);
  return vscode.FileSystemError.Unavailable(describeError(error));
}

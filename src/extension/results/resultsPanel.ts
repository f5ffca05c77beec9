import { randomBytes } from 'node:crypto';
import * as vscode from 'vscode';
import { describeError, isWorkbenchError } from '../../core/errors';
import { isJsonObject } from '../../core/json';
import { rowsAt, toCsv, toJson } from '../../webview/results/exportData';
import { renderResultsHtml } from '../../webview/results/html';
import type { HostMessage, PageMessage, ResultRow } from '../../webview/resultsProtocol';
import { parsePageMessage } from '../../webview/resultsProtocol';
import type { ConnectionManager } from '../connections';
import type { ResultPresenter } from '../commands/runCommands';
import type { BlockRun } from '../run/odataRunner';
import {
  columnHintsFor,
  columnNamesOf,
  entitySetOf,
  isAggregateUrl,
  logicalNameOfSet,
  messageForResult,
  rowsOf,
  statusLine,
} from './resultMessages';

export const RESULTS_VIEW_TYPE = 'dataverse.results';

/** What the panel shows now: the run, the rows it sent (export picks from them), where paging goes on. */
interface Shown {
  readonly run: BlockRun;
  readonly rows: ResultRow[];
  nextLink: string | undefined;
}

/** What a result view needs from the extension. */
interface ResultViewServices {
  readonly extensionUri: vscode.Uri;
  readonly connections: ConnectionManager;
  readonly log: vscode.LogOutputChannel;
  readonly openRecord: (run: BlockRun, entitySet: string, id: string) => Promise<void>;
}

/**
 * The results panel's host: the current panel, reused for each run, and the pinned ones, which keep
 * their result while the next run opens a new panel (one editor tab per kept result).
 */
export class ResultsPanel implements ResultPresenter, vscode.Disposable {
  private current: ResultView | undefined;
  private readonly pinned = new Set<ResultView>();
  private readonly services: ResultViewServices;

  constructor(
    extensionUri: vscode.Uri,
    connections: ConnectionManager,
    log: vscode.LogOutputChannel,
    openRecord: (run: BlockRun, entitySet: string, id: string) => Promise<void>,
  ) {
    this.services = { extensionUri, connections, log, openRecord };
  }

  /** Shows the last run (Run all shows its final answer; the others are summarized in the log). */
  async show(runs: readonly BlockRun[]): Promise<void> {
    const run = runs.at(-1);
    if (!run) return;
    for (const earlier of runs.slice(0, -1)) {
      this.services.log.info(`${earlier.title}: ${earlier.result.status} ${earlier.result.statusText}`);
    }
    this.current ??= this.createView(undefined);
    await this.current.show(run);
  }

  /**
   * Keeps the result in its tab (the active results tab, else the one the next run would reuse): the next
   * run opens a new one. Returns false when there is no unpinned result to keep.
   */
  pin(): boolean {
    const view = [...this.pinned].some((pinned) => pinned.active) ? undefined : this.current;
    if (view === undefined) return false;
    this.current = undefined;
    this.pinned.add(view);
    view.pin();
    return true;
  }

  /** Results open now: the current one (if any) and the pinned ones. */
  get openCount(): number {
    return this.pinned.size + (this.current === undefined ? 0 : 1);
  }

  /** A panel restored after a reload has no data: it is fetched again by running the request. */
  revive(panel: vscode.WebviewPanel): void {
    if (this.current === undefined) this.current = this.createView(panel);
    else this.pinned.add(this.createView(panel));
  }

  dispose(): void {
    this.current?.dispose();
    for (const view of this.pinned) view.dispose();
  }

  private createView(panel: vscode.WebviewPanel | undefined): ResultView {
    const view = new ResultView(this.services, panel, () => {
      if (this.current === view) this.current = undefined;
      this.pinned.delete(view);
    });
    return view;
  }
}

/** One results panel: the result it shows, its paging, its exports. */
class ResultView implements vscode.Disposable {
  private panel: vscode.WebviewPanel;
  private ready = false;
  private pending: HostMessage | undefined;
  private shown: Shown | undefined;
  private readonly paging = new Map<string, AbortController>();
  private readonly panelDisposables: vscode.Disposable[] = [];
  private readonly connections: ConnectionManager;
  private readonly log: vscode.LogOutputChannel;

  constructor(
    private readonly services: ResultViewServices,
    panel: vscode.WebviewPanel | undefined,
    private readonly onDispose: () => void,
  ) {
    this.connections = services.connections;
    this.log = services.log;
    this.panel =
      panel ??
      vscode.window.createWebviewPanel(
        RESULTS_VIEW_TYPE,
        'Results',
        { viewColumn: vscode.ViewColumn.Beside, preserveFocus: true },
        webviewOptions(services.extensionUri),
      );
    this.attach(this.panel);
  }

  async show(run: BlockRun): Promise<void> {
    const primaryId = await this.primaryIdOf(run);
    const message = messageForResult(run.result, primaryId, isAggregateUrl(run.url));
    this.shown = {
      run,
      rows: message.type === 'showResult' || message.type === 'showDelta' ? [...message.rows] : [],
      nextLink: run.result.nextLink,
    };
    this.cancelPaging();
    this.panel.title = `Results: ${run.title}`;
    this.panel.reveal(this.panel.viewColumn ?? vscode.ViewColumn.Beside, true);
    this.post(message);
    const entitySet =
      message.type === 'showResult' || message.type === 'showDelta' ? message.metadata.entitySet : undefined;
    if (entitySet !== undefined && this.shown.rows.length > 0) {
      const shown = this.shown;
      this.sendColumnHints(shown, entitySet).catch((error: unknown) =>
        this.log.warn(`Column display names of ${entitySet} are not available: ${describeError(error)}`),
      );
    }
  }

  get active(): boolean {
    return this.panel.active;
  }

  pin(): void {
    this.panel.title = `Kept: ${this.shown?.run.title ?? 'Results'}`;
  }

  /**
   * Rows are on screen already; the table's display names and attribute types come after, as they may
   * need an EntityDefinitions request. Without it (an older service, no permission) the CSDL types
   * still make a useful hint.
   */
  private async sendColumnHints(shown: Shown, entitySet: string): Promise<void> {
    const metadata = this.connections.metadata(shown.run.connection);
    let { model } = await metadata.get();
    const logicalName = logicalNameOfSet(model, entitySet);
    if (logicalName === undefined) return;
    try {
      model = await metadata.withEntityDefinition(logicalName);
    } catch (error) {
      if (isWorkbenchError(error) && error.kind === 'cancelled') return;
      this.log.info(
        `No EntityDefinitions for ${logicalName} (${describeError(error)}); column types come from $metadata.`,
      );
    }
    const columns = columnHintsFor(model, entitySet, columnNamesOf(shown.rows));
    // Another run replaced this one while metadata loaded: its hints would be for other columns.
    if (this.shown !== shown || columns.length === 0) return;
    this.post({ type: 'columnHints', entitySet, columns });
  }

  dispose(): void {
    this.cancelPaging();
    this.panel.dispose();
  }

  private attach(panel: vscode.WebviewPanel): void {
    this.ready = false;
    panel.webview.options = webviewOptions(this.services.extensionUri);
    const media = (...path: string[]): vscode.Uri =>
      panel.webview.asWebviewUri(vscode.Uri.joinPath(this.services.extensionUri, ...path));
    panel.webview.html = renderResultsHtml({
      cspSource: panel.webview.cspSource,
      nonce: randomBytes(18).toString('base64'),
      scriptUri: media('dist', 'webview', 'results.js').toString(),
      styleUri: media('media', 'results.css').toString(),
    });
    this.panelDisposables.push(
      panel.webview.onDidReceiveMessage((raw: unknown) => this.receive(raw)),
      panel.onDidDispose(() => {
        this.cancelPaging();
        this.shown = undefined;
        for (const disposable of this.panelDisposables.splice(0)) disposable.dispose();
        this.onDispose();
      }),
    );
  }

  private post(message: HostMessage): void {
    if (!this.ready) {
      // Only the latest result waits for the page; hints for it are folded into it.
      const pending = this.pending;
      if (message.type === 'columnHints') {
        if (
          (pending?.type === 'showResult' || pending?.type === 'showDelta') &&
          pending.metadata.entitySet === message.entitySet
        ) {
          this.pending = { ...pending, metadata: { ...pending.metadata, columns: message.columns } };
        }
        return;
      }
      this.pending = message;
      return;
    }
    void this.panel.webview.postMessage(message);
  }

  private receive(raw: unknown): void {
    const parsed = parsePageMessage(raw);
    if (!parsed.ok) {
      this.log.warn(`Ignored a malformed message from the results page: ${parsed.error}`);
      return;
    }
    this.handle(parsed.message).catch((error: unknown) => this.log.error(`Results panel: ${describeError(error)}`));
  }

  private async handle(message: PageMessage): Promise<void> {
    switch (message.type) {
      case 'ready':
        this.ready = true;
        if (this.pending) {
          const pending = this.pending;
          this.pending = undefined;
          this.post(pending);
        }
        return;
      case 'loadNextPage':
        return this.loadPages(message.requestId, 1);
      case 'loadAllPages':
        return this.loadPages(message.requestId, Number.POSITIVE_INFINITY);
      case 'cancel':
        this.paging.get(message.requestId)?.abort();
        return;
      case 'copy':
        await vscode.env.clipboard.writeText(message.text);
        return;
      case 'openRecord':
        if (this.shown) await this.services.openRecord(this.shown.run, message.entitySet, message.id);
        return;
      case 'export':
        return this.export(message.format, message.columns, message.rowIndexes, message.formatted);
    }
  }

  private async loadPages(requestId: string, maxPages: number): Promise<void> {
    const shown = this.shown;
    if (!shown?.nextLink) {
      this.post({ type: 'progress', requestId, state: 'done', pagesLoaded: 0, rowsLoaded: 0 });
      return;
    }
    const controller = new AbortController();
    this.paging.set(requestId, controller);
    const client = this.connections.client(shown.run.connection);
    let pages = 0;
    let rows = 0;
    try {
      let started = performance.now();
      // The client's page iterator follows the nextLinks and resends the Prefer header.
      for await (const page of client.pages(shown.nextLink, {
        signal: controller.signal,
        ...(shown.run.prefer ? { headers: { Prefer: shown.run.prefer } } : {}),
      })) {
        const pageRows = rowsOf({ value: page.value });
        shown.rows.push(...pageRows);
        shown.nextLink = page.nextLink;
        pages += 1;
        rows += pageRows.length;
        this.post({
          type: 'appendPage',
          requestId,
          rows: pageRows,
          hasMore: page.nextLink !== undefined,
          status: statusLine(
            { elapsedMs: performance.now() - started, status: 200, body: undefined },
            shown.rows.length,
          ),
        });
        if (maxPages > 1) {
          this.post({ type: 'progress', requestId, state: 'running', pagesLoaded: pages, rowsLoaded: rows });
        }
        if (pages >= maxPages || controller.signal.aborted) break;
        started = performance.now();
      }
      const state = controller.signal.aborted ? 'cancelled' : 'done';
      this.post({ type: 'progress', requestId, state, pagesLoaded: pages, rowsLoaded: rows });
    } catch (error) {
      if (isWorkbenchError(error) && error.kind === 'cancelled') {
        this.post({ type: 'progress', requestId, state: 'cancelled', pagesLoaded: pages, rowsLoaded: rows });
      } else {
        this.post({
          type: 'showError',
          requestId,
          error: {
            message: describeError(error),
            ...(isWorkbenchError(error) && error.code ? { code: error.code } : {}),
            ...(isWorkbenchError(error) && error.status ? { status: error.status } : {}),
          },
        });
      }
    } finally {
      this.paging.delete(requestId);
    }
  }

  private async export(
    format: 'csv' | 'json',
    columns: readonly string[],
    rowIndexes: readonly number[],
    formatted: boolean,
  ): Promise<void> {
    const shown = this.shown;
    if (!shown) return;
    const rows = rowsAt(shown.rows, rowIndexes);
    const text = format === 'csv' ? toCsv(rows, columns, { formatted }) : toJson(rows, columns);
    const base = shown.run.title.replace(/[^\w.-]+/g, '-').replace(/^-|-$/g, '') || 'results';
    const folder = vscode.workspace.workspaceFolders?.[0]?.uri;
    const target = await vscode.window.showSaveDialog({
      saveLabel: 'Export',
      filters: format === 'csv' ? { CSV: ['csv'] } : { JSON: ['json'] },
      ...(folder ? { defaultUri: vscode.Uri.joinPath(folder, `${base}.${format}`) } : {}),
    });
    if (!target) return;
    await vscode.workspace.fs.writeFile(target, new TextEncoder().encode(text));
    this.log.info(`Exported ${rows.length} rows to ${target.fsPath}`);
    const open = 'Open File';
    const name = target.path.slice(target.path.lastIndexOf('/') + 1);
    const rowsText = `${rows.length.toLocaleString('en-US')} ${rows.length === 1 ? 'row' : 'rows'}`;
    void vscode.window.showInformationMessage(`Exported ${rowsText} to ${name}.`, open).then(async (choice) => {
      if (choice === open) await vscode.window.showTextDocument(target, { preview: false });
    });
  }

  private async primaryIdOf(run: BlockRun): Promise<string | undefined> {
    const body = run.result.body;
    const entitySet = entitySetOf(isJsonObject(body) ? body : undefined);
    if (!entitySet) return undefined;
    try {
      return await this.connections.metadata(run.connection).primaryKeyOf(entitySet);
    } catch {
      // Without metadata the grid still shows the rows; only "open record" is unavailable.
      return undefined;
    }
  }

  private cancelPaging(): void {
    for (const controller of this.paging.values()) controller.abort();
    this.paging.clear();
  }
}

function webviewOptions(extensionUri: vscode.Uri): vscode.WebviewOptions & vscode.WebviewPanelOptions {
  return {
    enableScripts: true,
    localResourceRoots: [
      vscode.Uri.joinPath(extensionUri, 'dist', 'webview'),
      vscode.Uri.joinPath(extensionUri, 'media'),
    ],
  };
}

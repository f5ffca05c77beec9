// The results page: holds the loaded rows and the UI state, turns host messages into views.
import type {
  ErrorInfo,
  ExportFormat,
  HostMessage,
  PageMessage,
  ResultMetadata,
  ResultShape,
  ResultsUiState,
  StatusLine,
} from '../resultsProtocol';
import { parseHostMessage, parseUiState } from '../resultsProtocol';
import { button, el } from './dom';
import { VirtualGrid } from './grid';
import { JsonLines } from './jsonView';
import type { Column, GridRow } from './model';
import { applyColumnHints, deriveColumns, mergeColumns, nextSort, rowId, viewOrder } from './model';
import { renderBatch, renderError } from './views';

/** What `acquireVsCodeApi()` returns, as far as this page uses it. */
export interface HostApi {
  postMessage(message: PageMessage): void;
  getState(): unknown;
  setState(state: unknown): void;
}

type Content =
  | { readonly kind: 'empty' }
  | { readonly kind: 'rows'; readonly shape: ResultShape; readonly delta: boolean }
  | { readonly kind: 'batch'; readonly element: HTMLElement }
  | { readonly kind: 'error'; readonly error: ErrorInfo };

interface Operation {
  readonly requestId: string;
  readonly all: boolean;
  pagesLoaded: number;
  rowsLoaded: number;
  cancelling: boolean;
}

const DEFAULT_STATE: ResultsUiState = { view: 'grid', formatted: true, filter: '', scrollTop: 0, scrollLeft: 0 };
const FILTER_DELAY_MS = 120;
const SCROLL_SAVE_DELAY_MS = 200;

let requestCounter = 0;
function newRequestId(): string {
  return `p${Date.now().toString(36)}-${++requestCounter}`;
}

export class ResultsApp {
  private ui: ResultsUiState;
  /** Scroll position to restore once rows arrive (after a reload the data comes after the state). */
  private restoreScroll: boolean;
  private content: Content = { kind: 'empty' };
  private rows: GridRow[] = [];
  private sourceCount = 0;
  private columns: Column[] = [];
  private metadata: ResultMetadata = {};
  private status: StatusLine | undefined;
  private hasMore = false;
  private removedCount = 0;
  private order: number[] = [];
  private operation: Operation | undefined;
  private pagingError: ErrorInfo | undefined;
  private jsonVersion = -1;
  private dataVersion = 0;
  private filterTimer: ReturnType<typeof setTimeout> | undefined;
  private saveTimer: ReturnType<typeof setTimeout> | undefined;

  private readonly grid: VirtualGrid;
  private readonly json: JsonLines;
  private readonly gridButton: HTMLButtonElement;
  private readonly jsonButton: HTMLButtonElement;
  private readonly formattedBox: HTMLInputElement;
  private readonly filterBox: HTMLInputElement;
  private readonly nextButton: HTMLButtonElement;
  private readonly allButton: HTMLButtonElement;
  private readonly copyCellButton: HTMLButtonElement;
  private readonly copyRowButton: HTMLButtonElement;
  private readonly copyJsonButton: HTMLButtonElement;
  private readonly csvButton: HTMLButtonElement;
  private readonly jsonExportButton: HTMLButtonElement;
  private readonly secondaryActions: HTMLElement;
  private readonly moreButton: HTMLButtonElement;
  private readonly progress: HTMLDivElement;
  private readonly progressText: HTMLSpanElement;
  private readonly cancelButton: HTMLButtonElement;
  private readonly banner: HTMLDivElement;
  private readonly main: HTMLDivElement;
  private readonly statusLine: HTMLDivElement;

  constructor(
    root: HTMLElement,
    private readonly host: HostApi,
  ) {
    const saved = parseUiState(host.getState());
    this.ui = saved.ok ? saved.message : DEFAULT_STATE;
    this.restoreScroll = saved.ok;

    this.grid = new VirtualGrid({
      onSort: (column) => this.updateUi({ sort: nextSort(this.ui.sort, column) }),
      onOpen: (viewIndex) => this.open(viewIndex),
      onCopy: (text) => this.copy(text),
      onScroll: (top, left) => this.scrolled(top, left),
    });
    this.json = new JsonLines((top, left) => this.scrolled(top, left));

    this.gridButton = button('Grid', 'Show the rows as a grid', () => this.updateUi({ view: 'grid' }), 'tab');
    this.jsonButton = button('JSON', 'Show the rows as JSON', () => this.updateUi({ view: 'json' }), 'tab');
    this.formattedBox = el('input', { attrs: { type: 'checkbox', id: 'formatted' } });
    this.formattedBox.addEventListener('change', () => this.updateUi({ formatted: this.formattedBox.checked }));
    this.filterBox = el('input', {
      className: 'filter',
      attrs: { type: 'search', placeholder: 'Filter loaded rows', 'aria-label': 'Filter loaded rows' },
    });
    this.filterBox.addEventListener('input', () => {
      clearTimeout(this.filterTimer);
      this.filterTimer = setTimeout(() => this.updateUi({ filter: this.filterBox.value }), FILTER_DELAY_MS);
    });
    this.nextButton = button('Next page', 'Load the next page (@odata.nextLink)', () => this.load(false));
    this.allButton = button('All pages', 'Load every remaining page', () => this.load(true));
    this.copyCellButton = button(
      'Copy cell',
      'Copy the selected cell',
      () => this.copyFocused('cell'),
      'button secondary',
    );
    this.copyRowButton = button('Copy row', 'Copy the selected row', () => this.copyFocused('row'), 'button secondary');
    this.copyJsonButton = button(
      'Copy JSON',
      'Copy the JSON shown',
      () => this.copy(this.json.text),
      'button secondary',
    );
    this.csvButton = button('Export CSV', 'Save the shown rows as CSV', () => this.export('csv'), 'button secondary');
    this.jsonExportButton = button(
      'Export JSON',
      'Save the shown rows as JSON',
      () => this.export('json'),
      'button secondary',
    );

    // In a narrow pane (a CSS container query) these collapse behind "More actions"; wide, they sit inline.
    this.secondaryActions = el('span', { className: 'secondary-actions', attrs: { id: 'more-actions' } }, [
      this.copyCellButton,
      this.copyRowButton,
      this.copyJsonButton,
      this.csvButton,
      this.jsonExportButton,
    ]);
    this.moreButton = button('…', 'More actions', () => this.toggleMore(), 'button secondary more');
    this.moreButton.setAttribute('aria-label', 'More actions');
    this.moreButton.setAttribute('aria-controls', 'more-actions');
    this.moreButton.setAttribute('aria-expanded', 'false');
    this.secondaryActions.addEventListener('click', (event) => {
      if (event.target instanceof HTMLButtonElement) this.toggleMore(false);
    });
    this.secondaryActions.addEventListener('keydown', (event) => {
      if (event.key === 'Escape') {
        this.toggleMore(false);
        this.moreButton.focus();
      }
    });

    this.progressText = el('span', { className: 'progress-text' });
    this.cancelButton = button('Cancel', 'Stop loading pages', () => this.cancel(), 'button secondary');
    this.progress = el('div', { className: 'progress', attrs: { role: 'status' } }, [
      el('div', { className: 'progress-bar' }),
      this.progressText,
      this.cancelButton,
    ]);
    this.banner = el('div', { className: 'banner' });
    this.main = el('div', { className: 'content' });
    this.statusLine = el('div', { className: 'status-line', attrs: { role: 'status', 'aria-live': 'polite' } });

    const toolbar = el('div', { className: 'toolbar', attrs: { role: 'toolbar' } }, [
      el('div', { className: 'tabs', attrs: { role: 'group', 'aria-label': 'View' } }, [
        this.gridButton,
        this.jsonButton,
      ]),
      el('label', { className: 'toggle', attrs: { for: 'formatted' } }, [
        this.formattedBox,
        document.createTextNode('Formatted values'),
      ]),
      this.filterBox,
      el('span', { className: 'spacer' }),
      this.nextButton,
      this.allButton,
      this.moreButton,
      this.secondaryActions,
    ]);
    root.replaceChildren(toolbar, this.progress, this.banner, this.main, this.statusLine);
    root.removeAttribute('aria-busy');

    window.addEventListener('message', (event: MessageEvent<unknown>) => this.receive(event.data));
    this.render();
    this.host.postMessage({ type: 'ready' });
  }

  /** Every host message is validated before it touches the page. */
  /** Opens or closes the overflow menu of a narrow pane. */
  private toggleMore(open = this.moreButton.getAttribute('aria-expanded') !== 'true'): void {
    this.moreButton.setAttribute('aria-expanded', String(open));
    this.secondaryActions.classList.toggle('open', open);
  }

  receive(data: unknown): void {
    const parsed = parseHostMessage(data);
    if (!parsed.ok) {
      console.error(`results: ignored an invalid host message: ${parsed.error}`);
      return;
    }
    this.handle(parsed.message);
  }

  private handle(message: HostMessage): void {
    switch (message.type) {
      case 'showResult':
        this.setRows(
          message.rows.map((data, sourceIndex) => ({ data, sourceIndex })),
          message.metadata,
          { kind: 'rows', shape: message.shape, delta: false },
        );
        this.sourceCount = message.rows.length;
        this.status = message.status;
        this.hasMore = message.hasMore;
        break;
      case 'showDelta': {
        const idColumn = message.metadata.primaryIdAttribute ?? 'id';
        const removed: GridRow[] = message.removed.map((r) => ({
          data: { [idColumn]: r.id },
          removed: r.reason,
          sourceIndex: -1,
        }));
        this.setRows(
          [...message.rows.map((data, sourceIndex) => ({ data, sourceIndex })), ...removed],
          message.metadata,
          { kind: 'rows', shape: 'entities', delta: true },
        );
        this.sourceCount = message.rows.length;
        this.removedCount = removed.length;
        this.status = message.status;
        this.hasMore = false;
        break;
      }
      case 'appendPage': {
        if (this.operation?.requestId !== message.requestId || this.content.kind !== 'rows') return;
        const added = message.rows.map((data, i) => ({ data, sourceIndex: this.sourceCount + i }));
        this.sourceCount += added.length;
        this.rows = [...this.rows, ...added];
        this.columns = mergeColumns(this.columns, deriveColumns(message.rows, this.metadata.columns));
        this.status = message.status;
        this.hasMore = message.hasMore;
        this.operation.pagesLoaded++;
        this.operation.rowsLoaded += added.length;
        this.dataVersion++;
        break;
      }
      case 'progress':
        if (this.operation?.requestId !== message.requestId) return;
        this.operation.pagesLoaded = message.pagesLoaded;
        this.operation.rowsLoaded = message.rowsLoaded;
        if (message.state !== 'running') this.operation = undefined;
        this.renderChrome();
        return;
      case 'showError':
        if (message.requestId !== undefined && this.content.kind === 'rows') {
          // A failed page keeps the rows already loaded.
          if (this.operation?.requestId === message.requestId) this.operation = undefined;
          this.pagingError = message.error;
          this.renderChrome();
          return;
        }
        this.clearData();
        this.content = { kind: 'error', error: message.error };
        break;
      case 'showBatch':
        this.clearData();
        this.status = message.status;
        this.content = { kind: 'batch', element: renderBatch(message.responses) };
        break;
      case 'columnHints':
        // Hints for a result no longer shown (another run, an error) are dropped.
        if (this.content.kind !== 'rows' || this.metadata.entitySet !== message.entitySet) return;
        this.metadata = { ...this.metadata, columns: message.columns };
        this.columns = applyColumnHints(this.columns, message.columns);
        break;
      case 'restoreState':
        this.ui = message.state;
        this.restoreScroll = true;
        this.saveState();
        break;
    }
    this.render();
  }

  private clearData(): void {
    this.rows = [];
    this.columns = [];
    this.metadata = {};
    this.order = [];
    this.sourceCount = 0;
    this.removedCount = 0;
    this.hasMore = false;
    this.operation = undefined;
    this.pagingError = undefined;
    this.status = undefined;
    this.dataVersion++;
  }

  private setRows(rows: GridRow[], metadata: ResultMetadata, content: Content): void {
    this.clearData();
    this.rows = rows;
    this.metadata = metadata;
    this.columns = deriveColumns(
      rows.map((r) => r.data),
      metadata.columns,
    );
    this.content = content;
    if (!this.restoreScroll) this.ui = { ...this.ui, scrollTop: 0, scrollLeft: 0 };
  }

  private updateUi(change: Partial<ResultsUiState>): void {
    const next: ResultsUiState = { ...this.ui, ...change };
    const reorder =
      next.sort !== this.ui.sort || next.filter !== this.ui.filter || next.formatted !== this.ui.formatted;
    this.ui = next;
    if (reorder) {
      this.grid.clearSelection();
      this.dataVersion++;
    }
    this.render();
    if (change.view !== undefined) {
      // Each view keeps its own scroll position; the saved one is the view shown.
      const viewport = next.view === 'json' ? this.json.element : this.grid.element;
      this.ui = { ...this.ui, scrollTop: viewport.scrollTop, scrollLeft: viewport.scrollLeft };
    }
    this.saveState();
  }

  private scrolled(scrollTop: number, scrollLeft: number): void {
    if (this.restoreScroll || this.content.kind !== 'rows') return;
    this.ui = { ...this.ui, scrollTop, scrollLeft };
    // setState is a message to the extension host: once scrolling pauses is enough.
    clearTimeout(this.saveTimer);
    this.saveTimer = setTimeout(() => this.saveState(), SCROLL_SAVE_DELAY_MS);
  }

  private saveState(): void {
    clearTimeout(this.saveTimer);
    this.host.setState(this.ui);
  }

  // ---- Rendering ----------------------------------------------------------------------------------

  private render(): void {
    const content = this.content;
    if (content.kind === 'rows') {
      this.order = viewOrder(this.rows, {
        ...(this.ui.sort === undefined ? {} : { sort: this.ui.sort }),
        filter: this.ui.filter,
        formatted: this.ui.formatted,
        columns: this.columns,
      });
      const viewport = this.ui.view === 'json' ? this.json.element : this.grid.element;
      if (this.main.firstChild !== viewport || this.main.childNodes.length !== 1) this.main.replaceChildren(viewport);
      if (this.ui.view === 'json') this.renderJson();
      else {
        this.grid.setData(
          {
            rows: this.rows,
            order: this.order,
            columns: this.columns,
            formatted: this.ui.formatted,
            ...(this.ui.sort === undefined ? {} : { sort: this.ui.sort }),
            openable: this.openable(),
          },
          true,
        );
      }
      if (this.restoreScroll) {
        viewport.scrollTop = this.ui.scrollTop;
        viewport.scrollLeft = this.ui.scrollLeft;
        this.restoreScroll = false;
      }
    } else if (content.kind === 'batch') {
      this.main.replaceChildren(content.element);
    } else if (content.kind === 'error') {
      this.main.replaceChildren(renderError(content.error));
    } else {
      this.main.replaceChildren(el('div', { className: 'empty', text: 'Run a request to see its results here.' }));
    }
    this.renderChrome();
  }

  private renderJson(): void {
    if (this.jsonVersion === this.dataVersion) return;
    this.jsonVersion = this.dataVersion;
    const values = this.order.map((index) => {
      const row = this.rows[index];
      if (row?.removed === undefined) return row?.data ?? null;
      // OData 4.01's JSON shape for a deleted entity in a delta response.
      return { '@removed': { reason: row.removed }, ...row.data };
    });
    this.json.setText(JSON.stringify(values, null, 2));
  }

  private openable(): boolean {
    return (
      this.content.kind === 'rows' &&
      this.content.shape === 'entities' &&
      this.metadata.entitySet !== undefined &&
      this.metadata.primaryIdAttribute !== undefined
    );
  }

  private renderChrome(): void {
    const rows = this.content.kind === 'rows';
    const view = this.ui.view;
    this.gridButton.setAttribute('aria-pressed', String(view === 'grid'));
    this.jsonButton.setAttribute('aria-pressed', String(view === 'json'));
    this.formattedBox.checked = this.ui.formatted;
    if (this.filterBox.value !== this.ui.filter && document.activeElement !== this.filterBox) {
      this.filterBox.value = this.ui.filter;
    }
    const busy = this.operation !== undefined;
    this.nextButton.disabled = !rows || !this.hasMore || busy;
    this.allButton.disabled = !rows || !this.hasMore || busy;
    for (const b of [this.csvButton, this.jsonExportButton]) b.disabled = !rows || this.sourceCount === 0;
    this.copyCellButton.hidden = view !== 'grid';
    this.copyRowButton.hidden = view !== 'grid';
    this.copyJsonButton.hidden = view !== 'json';
    this.copyCellButton.disabled = !rows;
    this.copyRowButton.disabled = !rows;
    this.copyJsonButton.disabled = !rows;
    this.filterBox.disabled = !rows;
    this.formattedBox.disabled = !rows;

    const op = this.operation;
    this.progress.hidden = op === undefined;
    if (op !== undefined) {
      this.progressText.textContent = op.cancelling
        ? 'Cancelling…'
        : `Loading ${op.all ? 'all pages' : 'the next page'}… ${op.pagesLoaded} ${op.pagesLoaded === 1 ? 'page' : 'pages'}, ${op.rowsLoaded.toLocaleString()} rows`;
      this.cancelButton.disabled = op.cancelling;
    }
    this.banner.replaceChildren(...(this.pagingError ? [renderError(this.pagingError, true)] : []));
    this.renderStatus();
  }

  private renderStatus(): void {
    const parts: string[] = [];
    const status = this.status;
    if (this.content.kind === 'rows') {
      let count = `${this.sourceCount.toLocaleString()} ${this.sourceCount === 1 ? 'row' : 'rows'}`;
      if (status?.totalCount !== undefined) count += ` of ${status.totalCount.toLocaleString()}`;
      parts.push(count);
      if (this.removedCount > 0) parts.push(`${this.removedCount.toLocaleString()} removed`);
      if (this.ui.filter.trim() !== '') parts.push(`${this.order.length.toLocaleString()} shown`);
      // The grid sorts what it holds: with pages left on the server, say that only those rows are in order.
      if (this.ui.sort !== undefined && this.hasMore) {
        parts.push(
          `sorted ${this.sourceCount.toLocaleString()} loaded ${this.sourceCount === 1 ? 'row' : 'rows'} by ${this.ui.sort.column}`,
        );
      }
      if (this.content.shape === 'aggregate') parts.push('aggregate');
      if (this.content.delta) parts.push('changes');
    } else if (this.content.kind === 'batch' && status) {
      parts.push(`${status.rowCount.toLocaleString()} sub-responses`);
    }
    if (status) {
      parts.push(`${Math.round(status.elapsedMs).toLocaleString()} ms`, `HTTP ${status.httpStatus}`);
      if (status.requestId !== undefined) parts.push(`request ${status.requestId}`);
    }
    if (this.hasMore && this.content.kind === 'rows') parts.push('more pages available');
    this.statusLine.textContent = parts.join(' · ');
  }

  // ---- Actions ------------------------------------------------------------------------------------

  private load(all: boolean): void {
    if (this.operation !== undefined || !this.hasMore) return;
    const requestId = newRequestId();
    this.operation = { requestId, all, pagesLoaded: 0, rowsLoaded: 0, cancelling: false };
    this.pagingError = undefined;
    this.host.postMessage({ type: all ? 'loadAllPages' : 'loadNextPage', requestId });
    this.renderChrome();
  }

  private cancel(): void {
    const op = this.operation;
    if (op === undefined || op.cancelling) return;
    op.cancelling = true;
    this.host.postMessage({ type: 'cancel', requestId: op.requestId });
    this.renderChrome();
  }

  private copy(text: string): void {
    this.host.postMessage({ type: 'copy', text });
  }

  private copyFocused(what: 'cell' | 'row'): void {
    const text = this.grid.focusedText(what);
    if (text !== undefined) this.copy(text);
  }

  private export(format: ExportFormat): void {
    const rowIndexes: number[] = [];
    for (const index of this.order) {
      const source = this.rows[index]?.sourceIndex ?? -1;
      if (source >= 0) rowIndexes.push(source);
    }
    this.host.postMessage({
      type: 'export',
      format,
      columns: this.columns.map((c) => c.name),
      rowIndexes,
      formatted: this.ui.formatted,
    });
  }

  private open(viewIndex: number): void {
    const row = this.rows[this.order[viewIndex] ?? -1];
    const entitySet = this.metadata.entitySet;
    if (!row || row.removed !== undefined || entitySet === undefined || !this.openable()) return;
    const id = rowId(row.data, this.metadata.primaryIdAttribute);
    if (id !== undefined) this.host.postMessage({ type: 'openRecord', entitySet, id });
  }
}

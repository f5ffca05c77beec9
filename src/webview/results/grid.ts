// The virtualized grid: a fixed row height, so the rows on screen follow from scrollTop alone and
// only those (plus a few either side) exist in the DOM, whatever the number of rows.
import type { SortDirection } from '../resultsProtocol';
import { el } from './dom';
import type { Column, GridRow } from './model';
import { cellText, cellView, rangeText } from './model';

export const ROW_HEIGHT = 22;
const OVERSCAN = 6;
const GUTTER_WIDTH = 56;
const MIN_WIDTH = 64;
const MAX_WIDTH = 360;
const CELL_PADDING = 18;
const FALLBACK_CHAR_WIDTH = 8;
const WIDTH_SAMPLE = 200;

export interface CellPosition {
  readonly row: number;
  readonly col: number;
}

export interface GridCallbacks {
  onSort(column: string): void;
  /** A row (view index) was double-clicked or Enter was pressed on it. */
  onOpen(viewIndex: number): void;
  onCopy(text: string): void;
  onScroll(top: number, left: number): void;
}

export interface GridData {
  readonly rows: readonly GridRow[];
  /** Indexes into `rows`, in display order (after local sort and filter). */
  readonly order: readonly number[];
  readonly columns: readonly Column[];
  readonly formatted: boolean;
  readonly sort?: { readonly column: string; readonly direction: SortDirection };
  /** Whether double-click and Enter open records. */
  readonly openable: boolean;
}

interface RowSlot {
  readonly element: HTMLDivElement;
  viewIndex: number;
  version: number;
}

const EMPTY: GridData = { rows: [], order: [], columns: [], formatted: true, openable: false };

export class VirtualGrid {
  readonly element: HTMLDivElement;
  private readonly header: HTMLDivElement;
  private readonly body: HTMLDivElement;
  private data: GridData = EMPTY;
  private widths: number[] = [];
  private template = '';
  private version = 0;
  private readonly slots = new Map<number, RowSlot>();
  private readonly free: RowSlot[] = [];
  private frame = 0;
  private anchor: CellPosition | undefined;
  private focus: CellPosition | undefined;

  constructor(private readonly callbacks: GridCallbacks) {
    this.header = el('div', { className: 'grid-header', attrs: { role: 'row' } });
    this.body = el('div', { className: 'grid-body', attrs: { role: 'rowgroup' } });
    this.element = el(
      'div',
      { className: 'grid-viewport', attrs: { tabindex: '0', role: 'grid', 'aria-label': 'Results' } },
      [this.header, this.body],
    );
    this.element.addEventListener('scroll', () => this.schedule());
    this.element.addEventListener('keydown', (event) => this.onKey(event));
    this.element.addEventListener('mousedown', (event) => this.onMouseDown(event));
    this.element.addEventListener('dblclick', (event) => this.onDoubleClick(event));
    this.header.addEventListener('click', (event) => {
      const target = (event.target as Element | null)?.closest<HTMLElement>('[data-column]');
      const column = target?.dataset.column;
      if (column !== undefined) this.callbacks.onSort(column);
    });
    new ResizeObserver(() => this.schedule()).observe(this.element);
  }

  /** Replaces what is shown. `keepWidths` keeps column widths when only the order or the formatting changed. */
  setData(data: GridData, keepWidths = false): void {
    const columnsChanged = data.columns !== this.data.columns;
    this.data = data;
    if (!keepWidths || columnsChanged || this.widths.length !== data.columns.length) this.measureColumns();
    this.version++;
    this.clampSelection();
    this.renderHeader();
    this.body.style.height = `${data.order.length * ROW_HEIGHT}px`;
    this.renderRows();
  }

  get selection(): { readonly anchor?: CellPosition; readonly focus?: CellPosition } {
    return { ...(this.anchor ? { anchor: this.anchor } : {}), ...(this.focus ? { focus: this.focus } : {}) };
  }

  clearSelection(): void {
    this.anchor = undefined;
    this.focus = undefined;
    this.version++;
    this.renderRows();
  }

  /** The number of row elements in the DOM; what the virtualization keeps small. */
  get renderedRowCount(): number {
    return this.slots.size;
  }

  private measureColumns(): void {
    const { rows, order, columns, formatted } = this.data;
    const sample = order.slice(0, WIDTH_SAMPLE);
    const measure = this.textMeasurer();
    this.widths = columns.map((column) => {
      // The longest text by characters stands in for the widest: one measureText per column, not per cell.
      const { label, description } = headerNames(column);
      let longest = `${label}  ${description ?? ''}  ▲`;
      for (const index of sample) {
        const row = rows[index];
        if (row === undefined) continue;
        const view = cellView(row.data, column, formatted);
        const text = view.secondary === undefined ? view.text : `${view.text}  ${view.secondary}`;
        if (text.length > longest.length) longest = text;
      }
      return Math.round(Math.min(MAX_WIDTH, Math.max(MIN_WIDTH, measure(longest) + CELL_PADDING)));
    });
    this.template = [GUTTER_WIDTH, ...this.widths].map((w) => `${w}px`).join(' ');
    const total = GUTTER_WIDTH + this.widths.reduce((a, b) => a + b, 0);
    this.header.style.gridTemplateColumns = this.template;
    this.header.style.width = `${total}px`;
    this.body.style.width = `${total}px`;
  }

  /** Text widths in the grid's font (the editor font the theme sets), through a canvas. */
  private textMeasurer(): (text: string) => number {
    const context = document.createElement('canvas').getContext('2d');
    if (context === null) return (text) => text.length * FALLBACK_CHAR_WIDTH;
    const style = getComputedStyle(this.element);
    context.font = `600 ${style.fontSize} ${style.fontFamily}`;
    return (text) => context.measureText(text).width;
  }

  private renderHeader(): void {
    const { columns, sort } = this.data;
    const cells: HTMLElement[] = [el('div', { className: 'hcell gutter', text: '#', attrs: { role: 'columnheader' } })];
    columns.forEach((column) => {
      const sorted = sort?.column === column.name ? sort.direction : undefined;
      const { label, description } = headerNames(column);
      const details = [
        description === undefined ? label : `${label} (${description})`,
        ...(logicalNameOf(column.name) === column.name ? [] : [`Web API name: ${column.name}`]),
        ...(column.type === undefined ? [] : [column.type]),
      ];
      const cell = el(
        'div',
        {
          className: `hcell${sorted ? ` sorted-${sorted}` : ''}`,
          title: `${details.join('\n')}\nClick to sort`,
          attrs: {
            role: 'columnheader',
            'aria-sort': sorted === 'asc' ? 'ascending' : sorted === 'desc' ? 'descending' : 'none',
          },
        },
        [
          el('span', { className: 'hname', text: label }),
          ...(description === undefined ? [] : [el('span', { className: 'hdesc', text: description })]),
          el('span', { className: 'sort-mark', text: sorted === 'asc' ? '▲' : sorted === 'desc' ? '▼' : '' }),
        ],
      );
      cell.dataset.column = column.name;
      cells.push(cell);
    });
    this.header.replaceChildren(...cells);
  }

  /** Coalesces scroll and resize events into one render per frame. */
  private schedule(): void {
    if (this.frame !== 0) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      // Read before rendering: reading layout after the row writes would force a second layout.
      const { scrollTop, scrollLeft } = this.element;
      this.renderRows();
      this.callbacks.onScroll(scrollTop, scrollLeft);
    });
  }

  private visibleRange(): { first: number; last: number } {
    const count = this.data.order.length;
    // The sticky header covers the top of the viewport, so body row y = scrollTop is the first one seen.
    const top = this.element.scrollTop;
    const height = Math.max(this.element.clientHeight - this.header.offsetHeight, ROW_HEIGHT);
    const first = Math.max(0, Math.floor(top / ROW_HEIGHT) - OVERSCAN);
    const last = Math.min(count - 1, Math.ceil((top + height) / ROW_HEIGHT) + OVERSCAN);
    return { first, last };
  }

  private renderRows(): void {
    const { first, last } = this.visibleRange();
    for (const [index, slot] of this.slots) {
      if (index < first || index > last) {
        this.slots.delete(index);
        slot.element.hidden = true;
        this.free.push(slot);
      }
    }
    for (let index = first; index <= last; index++) {
      let slot = this.slots.get(index);
      if (slot === undefined) {
        slot = this.free.pop() ?? this.createSlot();
        slot.element.hidden = false;
        slot.viewIndex = -1;
        this.slots.set(index, slot);
      }
      if (slot.viewIndex !== index || slot.version !== this.version) this.fillRow(slot, index);
    }
    // Pooled rows beyond what a screen needs would only cost memory and style recalculation.
    while (this.free.length > OVERSCAN * 2) this.free.pop()?.element.remove();
  }

  private createSlot(): RowSlot {
    const element = el('div', { className: 'grid-row', attrs: { role: 'row' } });
    this.body.append(element);
    return { element, viewIndex: -1, version: -1 };
  }

  private fillRow(slot: RowSlot, viewIndex: number): void {
    const { rows, order, columns, formatted } = this.data;
    const row = rows[order[viewIndex] ?? -1];
    const element = slot.element;
    slot.viewIndex = viewIndex;
    slot.version = this.version;
    element.dataset.index = String(viewIndex);
    element.style.transform = `translateY(${viewIndex * ROW_HEIGHT}px)`;
    element.style.gridTemplateColumns = this.template;
    element.className = `grid-row${viewIndex % 2 === 1 ? ' odd' : ''}${row?.removed !== undefined ? ' removed' : ''}`;
    const wanted = columns.length + 1;
    while (element.childElementCount > wanted) element.lastElementChild?.remove();
    while (element.childElementCount < wanted) {
      const cell = el('div', { attrs: { role: 'gridcell' } });
      cell.dataset.col = String(element.childElementCount - 1);
      element.append(cell);
    }
    const range = this.range();
    const gutter = element.firstElementChild as HTMLElement;
    gutter.className = `cell gutter${range && viewIndex >= range.top && viewIndex <= range.bottom ? ' row-selected' : ''}`;
    gutter.textContent = row?.removed !== undefined ? '−' : String(viewIndex + 1);
    gutter.title = row?.removed !== undefined ? `Removed (${row.removed})` : 'Select row';
    let cell = gutter.nextElementSibling as HTMLElement | null;
    for (let c = 0; c < columns.length && cell !== null; c++, cell = cell.nextElementSibling as HTMLElement | null) {
      const column = columns[c];
      if (column === undefined || row === undefined) continue;
      const view = cellView(row.data, column, formatted);
      let className = `cell k-${view.kind}`;
      if (range && viewIndex >= range.top && viewIndex <= range.bottom && c >= range.left && c <= range.right) {
        className += ' selected';
      }
      if (this.focus && this.focus.row === viewIndex && this.focus.col === c) className += ' focused';
      // Writes only what changed: a screenful of rows is a few thousand cells per frame.
      if (cell.className !== className) cell.className = className;
      if (view.secondary === undefined) {
        if (cell.firstElementChild !== null || cell.textContent !== view.text) cell.textContent = view.text;
      } else {
        cell.replaceChildren(
          el('span', { className: 'lookup-name', text: view.text }),
          el('span', { className: 'lookup-id', text: view.secondary }),
        );
      }
      const title = view.title ?? '';
      if (cell.title !== title) cell.title = title;
    }
  }

  // ---- Selection and keyboard ---------------------------------------------------------------------

  private range(): { top: number; bottom: number; left: number; right: number } | undefined {
    if (!this.anchor || !this.focus) return undefined;
    return {
      top: Math.min(this.anchor.row, this.focus.row),
      bottom: Math.max(this.anchor.row, this.focus.row),
      left: Math.min(this.anchor.col, this.focus.col),
      right: Math.max(this.anchor.col, this.focus.col),
    };
  }

  private clampSelection(): void {
    const rows = this.data.order.length;
    const cols = this.data.columns.length;
    if (rows === 0 || cols === 0) {
      this.anchor = undefined;
      this.focus = undefined;
      return;
    }
    const clamp = (p: CellPosition | undefined): CellPosition | undefined =>
      p && { row: Math.min(p.row, rows - 1), col: Math.min(p.col, cols - 1) };
    this.anchor = clamp(this.anchor);
    this.focus = clamp(this.focus);
  }

  select(focus: CellPosition, extend = false): void {
    const rows = this.data.order.length;
    const cols = this.data.columns.length;
    if (rows === 0 || cols === 0) return;
    const clamped = {
      row: Math.max(0, Math.min(rows - 1, focus.row)),
      col: Math.max(0, Math.min(cols - 1, focus.col)),
    };
    if (!extend || !this.anchor) this.anchor = clamped;
    this.focus = clamped;
    this.version++;
    this.reveal(clamped);
    this.renderRows();
  }

  private selectRows(top: number, bottom: number): void {
    const last = this.data.columns.length - 1;
    if (last < 0) return;
    this.anchor = { row: top, col: 0 };
    this.focus = { row: bottom, col: last };
    this.version++;
    this.renderRows();
  }

  /** The selected cells as tab-separated text. */
  selectedText(): string | undefined {
    const range = this.range();
    if (!range) return undefined;
    return rangeText(this.data.rows, this.data.order, this.data.columns, range, this.data.formatted);
  }

  /** The text of the focused cell, or of the focused row. */
  focusedText(what: 'cell' | 'row'): string | undefined {
    const focus = this.focus;
    if (!focus) return undefined;
    const row = this.data.rows[this.data.order[focus.row] ?? -1];
    if (!row) return undefined;
    if (what === 'row') {
      return rangeText(
        this.data.rows,
        this.data.order,
        this.data.columns,
        { top: focus.row, bottom: focus.row, left: 0, right: this.data.columns.length - 1 },
        this.data.formatted,
      );
    }
    const column = this.data.columns[focus.col];
    return column && cellText(row.data, column.name, this.data.formatted);
  }

  private reveal(position: CellPosition): void {
    const viewport = this.element;
    const headerHeight = this.header.offsetHeight;
    const rowTop = position.row * ROW_HEIGHT;
    const visibleHeight = viewport.clientHeight - headerHeight;
    if (rowTop < viewport.scrollTop) viewport.scrollTop = rowTop;
    else if (rowTop + ROW_HEIGHT > viewport.scrollTop + visibleHeight) {
      viewport.scrollTop = rowTop + ROW_HEIGHT - visibleHeight;
    }
    let left = GUTTER_WIDTH;
    for (let c = 0; c < position.col; c++) left += this.widths[c] ?? 0;
    const width = this.widths[position.col] ?? 0;
    if (left - GUTTER_WIDTH < viewport.scrollLeft) viewport.scrollLeft = left - GUTTER_WIDTH;
    else if (left + width > viewport.scrollLeft + viewport.clientWidth) {
      viewport.scrollLeft = left + width - viewport.clientWidth;
    }
  }

  private onKey(event: KeyboardEvent): void {
    const mod = event.ctrlKey || event.metaKey;
    const rows = this.data.order.length;
    const cols = this.data.columns.length;
    if (mod && event.key.toLowerCase() === 'c') {
      const text = this.selectedText();
      if (text !== undefined) this.callbacks.onCopy(text);
      event.preventDefault();
      return;
    }
    if (mod && event.key.toLowerCase() === 'a') {
      if (rows > 0) this.selectRows(0, rows - 1);
      event.preventDefault();
      return;
    }
    const focus = this.focus ?? { row: 0, col: 0 };
    const page = Math.max(1, Math.floor((this.element.clientHeight - this.header.offsetHeight) / ROW_HEIGHT) - 1);
    let next: CellPosition | undefined;
    switch (event.key) {
      case 'ArrowDown':
        next = this.focus ? { row: focus.row + 1, col: focus.col } : focus;
        break;
      case 'ArrowUp':
        next = { row: focus.row - 1, col: focus.col };
        break;
      case 'ArrowRight':
        next = { row: focus.row, col: focus.col + 1 };
        break;
      case 'ArrowLeft':
        next = { row: focus.row, col: focus.col - 1 };
        break;
      case 'PageDown':
        next = { row: focus.row + page, col: focus.col };
        break;
      case 'PageUp':
        next = { row: focus.row - page, col: focus.col };
        break;
      case 'Home':
        next = mod ? { row: 0, col: 0 } : { row: focus.row, col: 0 };
        break;
      case 'End':
        next = mod ? { row: rows - 1, col: cols - 1 } : { row: focus.row, col: cols - 1 };
        break;
      case 'Enter':
        if (this.focus && this.data.openable) this.callbacks.onOpen(this.focus.row);
        event.preventDefault();
        return;
      case ' ':
        if (event.shiftKey && this.focus) {
          const top = Math.min(this.anchor?.row ?? focus.row, focus.row);
          const bottom = Math.max(this.anchor?.row ?? focus.row, focus.row);
          this.selectRows(top, bottom);
          event.preventDefault();
        }
        return;
      case 'Escape':
        this.clearSelection();
        return;
      default:
        return;
    }
    event.preventDefault();
    this.select(next, event.shiftKey);
  }

  private positionOf(target: EventTarget | null): { row: number; col: number | 'gutter' } | undefined {
    const cell = (target as Element | null)?.closest<HTMLElement>('.cell');
    const rowElement = cell?.parentElement;
    if (!cell || !rowElement?.dataset.index) return undefined;
    const row = Number(rowElement.dataset.index);
    if (cell.classList.contains('gutter')) return { row, col: 'gutter' };
    return { row, col: Number(cell.dataset.col) };
  }

  private onMouseDown(event: MouseEvent): void {
    if (event.button !== 0) return;
    const position = this.positionOf(event.target);
    if (!position) return;
    if (position.col === 'gutter') {
      const top = event.shiftKey && this.anchor ? Math.min(this.anchor.row, position.row) : position.row;
      const bottom = event.shiftKey && this.anchor ? Math.max(this.anchor.row, position.row) : position.row;
      this.selectRows(top, bottom);
      return;
    }
    this.select({ row: position.row, col: position.col }, event.shiftKey);
  }

  private onDoubleClick(event: MouseEvent): void {
    const position = this.positionOf(event.target);
    if (position && this.data.openable) this.callbacks.onOpen(position.row);
  }
}

/** `_primarycontactid_value` → `primarycontactid`: lookups go by their logical name. */
function logicalNameOf(name: string): string {
  return /^_(.+)_value$/.exec(name)?.[1] ?? name;
}

/** A header shows the display name, with the logical name beside it, as the explorer's tree does. */
function headerNames(column: Column): { label: string; description: string | undefined } {
  const logicalName = logicalNameOf(column.name);
  if (column.displayName === undefined)
    return { label: logicalName === column.name ? column.name : logicalName, description: undefined };
  return { label: column.displayName, description: logicalName };
}

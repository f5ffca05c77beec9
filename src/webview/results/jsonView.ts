// The JSON view: the same rows pretty-printed, virtualized by line like the grid (5,000 wide rows are
// a quarter of a million lines, too many for one <pre>).
import { el } from './dom';

export const LINE_HEIGHT = 18;
const OVERSCAN = 10;

export class JsonLines {
  readonly element: HTMLDivElement;
  private readonly body: HTMLDivElement;
  private lines: readonly string[] = [];
  private readonly shown = new Map<number, HTMLDivElement>();
  private readonly free: HTMLDivElement[] = [];
  private frame = 0;

  constructor(private readonly onScroll: (top: number, left: number) => void) {
    this.body = el('div', { className: 'json-body' });
    this.element = el(
      'div',
      { className: 'json-viewport', attrs: { tabindex: '0', 'aria-label': 'Results as JSON' } },
      [this.body],
    );
    this.element.addEventListener('scroll', () => {
      if (this.frame !== 0) return;
      this.frame = requestAnimationFrame(() => {
        this.frame = 0;
        const { scrollTop, scrollLeft } = this.element;
        this.render();
        this.onScroll(scrollTop, scrollLeft);
      });
    });
    new ResizeObserver(() => this.render()).observe(this.element);
  }

  setText(text: string): void {
    this.lines = text.split('\n');
    for (const line of this.shown.values()) {
      line.hidden = true;
      this.free.push(line);
    }
    this.shown.clear();
    const longest = this.lines.reduce((max, line) => Math.max(max, line.length), 0);
    this.body.style.height = `${this.lines.length * LINE_HEIGHT}px`;
    this.body.style.width = `${longest + 4}ch`;
    this.render();
  }

  get text(): string {
    return this.lines.join('\n');
  }

  private render(): void {
    const top = this.element.scrollTop;
    const first = Math.max(0, Math.floor(top / LINE_HEIGHT) - OVERSCAN);
    const last = Math.min(this.lines.length - 1, Math.ceil((top + this.element.clientHeight) / LINE_HEIGHT) + OVERSCAN);
    for (const [index, line] of this.shown) {
      if (index < first || index > last) {
        this.shown.delete(index);
        line.hidden = true;
        this.free.push(line);
      }
    }
    for (let index = first; index <= last; index++) {
      if (this.shown.has(index)) continue;
      let line = this.free.pop();
      if (line === undefined) {
        line = el('div', { className: 'json-line' });
        this.body.append(line);
      }
      line.hidden = false;
      line.textContent = this.lines[index] ?? '';
      line.style.transform = `translateY(${index * LINE_HEIGHT}px)`;
      this.shown.set(index, line);
    }
  }
}

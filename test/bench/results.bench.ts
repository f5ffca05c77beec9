import type { Page } from 'playwright-core';
import { ACCOUNT_METADATA, accountRows, launchChromium, startResultsServer } from '../e2e/resultsPage';
import type { Benchmark, Measurement } from './harness';
import { formatRatio } from './harness';

const ROWS = 5000;
const RUNS = 7;

interface PageTimes {
  readonly ours: number[];
  readonly baseline: number[];
  readonly scroll: number[];
  readonly scrollSteps: number;
  readonly maxRowsInDom: number;
}

function median(times: readonly number[]): Measurement {
  const sorted = [...times].sort((a, b) => a - b);
  return { medianMs: sorted[Math.floor(sorted.length / 2)] ?? Number.NaN, runs: sorted.length };
}

/**
 * Runs inside the page. Timing happens there, from handing the message to the page's listener to the
 * end of the next frame, so neither the CDP round trip nor postMessage's copy is counted; the baseline
 * is timed the same way. Plain JavaScript in a string: tsx would wrap named functions of a
 * page.evaluate callback in a helper the page does not have.
 */
const IN_PAGE = `async (runs) => {
  const message = window.__message;
  const frame = () => new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));
  const showResult = async () => {
    const started = performance.now();
    window.dispatchEvent(new MessageEvent('message', { data: message }));
    await frame();
    return performance.now() - started;
  };
  const plainTable = async () => {
    const started = performance.now();
    const rows = message.rows.slice(0, 100);
    const columns = Object.keys(rows[0] ?? {}).filter((k) => !k.includes('@'));
    const table = document.createElement('table');
    const head = table.createTHead().insertRow();
    for (const c of columns) head.insertCell().textContent = c;
    const body = table.createTBody();
    for (const row of rows) {
      const tr = body.insertRow();
      for (const c of columns) tr.insertCell().textContent = String(row[c] ?? '');
    }
    document.body.append(table);
    await frame();
    const elapsed = performance.now() - started;
    table.remove();
    return elapsed;
  };
  const fullScroll = async () => {
    const viewport = document.querySelector('.grid-viewport');
    viewport.scrollTop = 0;
    await frame();
    let steps = 0;
    let maxRows = 0;
    const started = performance.now();
    while (viewport.scrollTop + viewport.clientHeight < viewport.scrollHeight) {
      viewport.scrollTop += viewport.clientHeight;
      // The grid renders in its own animation frame after the scroll event: wait for that one too.
      await frame();
      await frame();
      steps++;
      maxRows = Math.max(maxRows, document.querySelectorAll('.grid-row').length);
    }
    const ms = performance.now() - started;
    if (!document.querySelector('.grid-row[data-index="' + (message.rows.length - 1) + '"]:not([hidden])')) {
      throw new Error('the full scroll did not show the last row');
    }
    return { ms, steps, maxRows };
  };
  await showResult();
  await plainTable();
  const ours = [];
  const baseline = [];
  const scroll = [];
  let scrollSteps = 0;
  let maxRowsInDom = 0;
  for (let i = 0; i < runs; i++) {
    baseline.push(await plainTable());
    ours.push(await showResult());
    const s = await fullScroll();
    scroll.push(s.ms);
    scrollSteps = s.steps;
    maxRowsInDom = Math.max(maxRowsInDom, s.maxRows);
  }
  return { ours, baseline, scroll, scrollSteps, maxRowsInDom };
}`;

async function measureInPage(page: Page, runs: number): Promise<PageTimes> {
  return page.evaluate<PageTimes>(`(${IN_PAGE})(${runs})`);
}

/** The results grid in Chromium: first paint of a 5,000-row result and a full scroll, against a plain table. */
export const resultsBenchmark: Benchmark = {
  name: 'results-grid',
  async run() {
    const server = await startResultsServer();
    // Frames as fast as the page can make them, so a frame's time is its work, not the 60 Hz clock.
    const browser = await launchChromium(['--disable-gpu-vsync', '--disable-frame-rate-limit']);
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
      await page.goto(server.url);
      await page.waitForSelector('.toolbar');
      const message = {
        type: 'showResult',
        shape: 'entities',
        rows: accountRows(ROWS, 43),
        metadata: ACCOUNT_METADATA,
        status: { rowCount: ROWS, elapsedMs: 0, httpStatus: 200 },
        hasMore: false,
      };
      await page.evaluate((json) => {
        (window as unknown as { __message: unknown }).__message = JSON.parse(json);
      }, JSON.stringify(message));
      const times = await measureInPage(page, RUNS);
      const baseline = median(times.baseline);
      const scroll = median(times.scroll);
      return [
        formatRatio(
          `results-first-paint (${ROWS} rows × 50 columns)`,
          median(times.ours),
          baseline,
          'a plain HTML table of the first 100 rows',
        ),
        `${formatRatio(
          `results-full-scroll (${times.scrollSteps} screens)`,
          scroll,
          baseline,
          'a plain HTML table of the first 100 rows',
        )}; ${(scroll.medianMs / times.scrollSteps).toFixed(1)} ms a screen, at most ${times.maxRowsInDom} rows in the DOM`,
      ];
    } finally {
      await browser.close();
      await server.close();
    }
  },
};

// UI tests of the results page in a real Chromium, below the host: the test plays VS Code's part.
//   npx mocha --timeout 120000 test/e2e/results.e2e.test.ts
import * as assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import type { HostMessage, PageMessage, StatusLine } from '../../src/webview/resultsProtocol';
import { parsePageMessage } from '../../src/webview/resultsProtocol';
import type { ResultsServer } from './resultsPage';
import {
  ACCOUNT_METADATA,
  accountRows,
  applyTheme,
  guid,
  launchChromium,
  postedMessages,
  postToPage,
  startResultsServer,
} from './resultsPage';

const XSS = '<img src=x onerror="window.__xss=1;alert(1)">';
const STATUS: StatusLine = {
  rowCount: 3,
  elapsedMs: 42,
  httpStatus: 200,
  requestId: 'b7f1c0de-5a1e-4e2b-9f00-000000000042',
};

function result(rows = accountRows(3), hasMore = false): HostMessage {
  return {
    type: 'showResult',
    shape: 'entities',
    rows,
    metadata: ACCOUNT_METADATA,
    status: { ...STATUS, rowCount: rows.length },
    hasMore,
  };
}

describe('results page in Chromium', function () {
  let browser: Browser;
  let server: ResultsServer;
  let page: Page;
  let dialogs: string[];
  let pageErrors: string[];

  before(async () => {
    server = await startResultsServer();
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await server?.close();
  });

  beforeEach(async () => {
    page = await browser.newPage({ viewport: { width: 1100, height: 560 } });
    dialogs = [];
    pageErrors = [];
    page.on('dialog', (dialog) => {
      dialogs.push(dialog.message());
      void dialog.dismiss();
    });
    page.on('pageerror', (error) => pageErrors.push(error.message));
    await page.goto(server.url);
    await page.waitForSelector('.toolbar');
  });

  afterEach(async () => {
    // Whatever the test did, the host would accept every message the page sent.
    for (const message of await postedMessages(page)) {
      const parsed = parsePageMessage(message);
      assert.ok(parsed.ok, `page sent an invalid message: ${parsed.ok ? '' : parsed.error}`);
    }
    assert.deepEqual(pageErrors, []);
    await page.close();
  });

  /** Texts of the visible body rows' cells, by column name. */
  async function visibleColumn(name: string): Promise<string[]> {
    return page.evaluate((column) => {
      const headers = Array.from(document.querySelectorAll<HTMLElement>('.grid-header .hcell'));
      const at = headers.findIndex((h) => h.dataset.column === column);
      const rows = Array.from(document.querySelectorAll<HTMLElement>('.grid-row:not([hidden])')).sort(
        (a, b) => Number(a.dataset.index) - Number(b.dataset.index),
      );
      return rows.map((r) => r.children[at]?.textContent ?? '');
    }, name);
  }

  async function cell(row: number, column: string): Promise<{ text: string; className: string }> {
    return page.evaluate(
      ({ row, column }) => {
        const headers = Array.from(document.querySelectorAll<HTMLElement>('.grid-header .hcell'));
        const at = headers.findIndex((h) => h.dataset.column === column);
        const element = document.querySelector(`.grid-row[data-index="${row}"]:not([hidden])`)?.children[at];
        return { text: element?.textContent ?? '<missing>', className: element?.className ?? '' };
      },
      { row, column },
    );
  }

  async function lastPosted(): Promise<PageMessage | undefined> {
    return (await postedMessages(page)).at(-1);
  }

  it('says ready, then renders rows, lookups, null and empty apart, and the status line', async () => {
    assert.deepEqual(await postedMessages(page), [{ type: 'ready' }]);
    await postToPage(page, result());
    await page.waitForSelector('.grid-row');
    assert.deepEqual(await visibleColumn('name'), ['Account 0000', 'Account 0001', 'Account 0002']);
    // Formatted values are on by default; the lookup shows its name and its id.
    assert.equal((await cell(0, 'revenue')).text, '$0.00');
    assert.equal((await cell(0, '_primarycontactid_value')).text, `Contact 0${guid(50_000)}`);
    assert.equal(
      await page.locator('.grid-row[data-index="1"] .lookup-id').textContent(),
      guid(50_001),
      'the id is its own element beside the name',
    );
    const nullCell = await cell(0, 'telephone1');
    const emptyCell = await cell(1, 'telephone1');
    assert.match(nullCell.className, /k-null/);
    assert.match(emptyCell.className, /k-empty/);
    assert.notEqual(nullCell.text, emptyCell.text);
    const status = await page.locator('.status-line').textContent();
    assert.match(status ?? '', /^3 rows · 42 ms · HTTP 200 · request b7f1c0de-5a1e-4e2b-9f00-000000000042$/);
    const title = await page.locator('.hcell[data-column="revenue"]').getAttribute('title');
    assert.match(title ?? '', /^Annual Revenue \(revenue\)\nMoney\n/);
    // One naming scheme with the explorer: the display name, the logical name beside it.
    assert.equal(await page.locator('.hcell[data-column="revenue"] .hname').textContent(), 'Annual Revenue');
    assert.equal(await page.locator('.hcell[data-column="revenue"] .hdesc').textContent(), 'revenue');

    await page.locator('label.toggle').click();
    assert.equal((await cell(1, 'revenue')).text, '7919');
    assert.equal((await cell(1, 'statecode')).text, '0');
  });

  it('shows the display name and type on hovering a header once the host sends hints after the rows', async () => {
    await postToPage(page, {
      type: 'showResult',
      shape: 'entities',
      rows: accountRows(3),
      metadata: { entitySet: 'accounts', primaryIdAttribute: 'accountid' },
      status: STATUS,
      hasMore: false,
    });
    await page.waitForSelector('.grid-row');
    const header = page.locator('.hcell[data-column="telephone1"]');
    assert.doesNotMatch((await header.getAttribute('title')) ?? '', /Main Phone/);
    await postToPage(page, {
      type: 'columnHints',
      entitySet: 'accounts',
      columns: [
        { logicalName: 'telephone1', displayName: 'Main Phone', type: 'String' },
        { logicalName: '_primarycontactid_value', displayName: 'Primary Contact', type: 'Lookup' },
      ],
    });
    await page.waitForFunction(() =>
      /Main Phone/.test(document.querySelector('.hcell[data-column="telephone1"]')?.getAttribute('title') ?? ''),
    );
    // Hints for another result (the page moved on) are dropped; messages arrive in order, so once the
    // later accounts hint shows, the contacts one has been handled.
    await postToPage(page, {
      type: 'columnHints',
      entitySet: 'contacts',
      columns: [{ logicalName: 'telephone1', displayName: 'Business Phone', type: 'String' }],
    });
    await postToPage(page, {
      type: 'columnHints',
      entitySet: 'accounts',
      columns: [{ logicalName: 'name', displayName: 'Account Name', type: 'String' }],
    });
    await page.waitForFunction(() =>
      /Account Name/.test(document.querySelector('.hcell[data-column="name"]')?.getAttribute('title') ?? ''),
    );
    await header.hover();
    assert.match((await header.getAttribute('title')) ?? '', /^Main Phone \(telephone1\)\nString\n/);
    assert.match(
      (await page.locator('.hcell[data-column="_primarycontactid_value"]').getAttribute('title')) ?? '',
      /^Primary Contact \(primarycontactid\)\nWeb API name: _primarycontactid_value\nLookup\n/,
    );
    assert.deepEqual(
      await page
        .locator('.grid-header .hcell[data-column]')
        .evaluateAll((cells) => cells.map((cell) => (cell as HTMLElement).dataset.column)),
      ['accountid', 'name', 'revenue', 'statecode', '_primarycontactid_value', 'telephone1', 'donotemail'],
      'the column order stays as shown',
    );
    assert.deepEqual(
      (await page.locator('.grid-header .hname').allTextContents()).slice(1, 6),
      ['Account Name', 'revenue', 'statecode', 'Primary Contact', 'Main Phone'],
      'display names once the hints came',
    );
  });

  it('shows a record named like HTML as those characters, and runs no script', async () => {
    const rows = accountRows(2);
    rows[0] = { ...rows[0], name: XSS, [XSS]: XSS };
    await postToPage(page, result(rows));
    await page.waitForSelector('.grid-row');
    assert.equal((await cell(0, 'name')).text, XSS);
    assert.equal(await page.locator(`.hcell[data-column="${XSS.replace(/"/g, '\\"')}"] .hname`).textContent(), XSS);
    await postToPage(page, { type: 'showError', error: { message: XSS, code: XSS, status: 400 } });
    await page.waitForSelector('.error-view');
    assert.match((await page.locator('.error-view').textContent()) ?? '', /onerror/);
    await postToPage(page, {
      type: 'showBatch',
      status: STATUS,
      responses: [{ status: 200, method: 'GET', url: XSS, body: { value: [{ name: XSS }] } }],
    });
    await page.waitForSelector('.batch-list');
    // Give an injected image time to fail loading and fire its handler, were there one.
    await page.evaluate(() => new Promise((resolve) => setTimeout(resolve, 300)));
    const state = await page.evaluate(() => ({
      images: document.querySelectorAll('img').length,
      xss: (window as unknown as { __xss?: number }).__xss,
      violations: (window as unknown as { __violations: string[] }).__violations,
      cells: Array.from(document.querySelectorAll('.batch-list td, .batch-url')).map((e) => e.textContent),
    }));
    assert.deepEqual(state, { images: 0, xss: undefined, violations: [], cells: [XSS, XSS] });
    assert.deepEqual(dialogs, []);
  });

  it('keeps a window of rows in the DOM for 5,000 rows × 50 columns and reaches the last row', async () => {
    const rows = accountRows(5000, 43);
    assert.equal(Object.keys(rows[0] ?? {}).filter((k) => !k.includes('@')).length, 50);
    await postToPage(page, result(rows));
    await page.waitForSelector('.grid-row');
    const counts = await page.evaluate(() => ({
      rows: document.querySelectorAll('.grid-row').length,
      columns: document.querySelectorAll('.grid-header .hcell').length,
    }));
    assert.equal(counts.columns, 51, '50 columns and the row-number gutter');
    assert.ok(counts.rows > 10 && counts.rows < 100, `${counts.rows} row elements for 5,000 rows`);
    await page.locator('.grid-viewport').evaluate((v) => (v.scrollTop = v.scrollHeight));
    await page.waitForFunction(() => document.querySelector('.grid-row[data-index="4999"]:not([hidden])') !== null);
    assert.equal((await cell(4999, 'name')).text, 'Account 4999');
    const lastRowBox = await page.locator('.grid-row[data-index="4999"]').boundingBox();
    const viewportBox = await page.locator('.grid-viewport').boundingBox();
    assert.ok(lastRowBox && viewportBox && lastRowBox.y + lastRowBox.height <= viewportBox.y + viewportBox.height + 1);
    assert.ok((await page.locator('.grid-row').count()) < 100);
    assert.match((await page.locator('.status-line').textContent()) ?? '', /^5,000 rows/);
  });

  it('sorts by a header click (ascending, descending, off) and filters the loaded rows', async () => {
    await postToPage(page, result(accountRows(6)));
    await page.waitForSelector('.grid-row');
    // revenue = i * 7919 % 100000: 0, 7919, 15838, 23757, 31676, 39595.
    const header = page.locator('.hcell[data-column="revenue"]');
    await header.click();
    assert.equal(await header.getAttribute('aria-sort'), 'ascending');
    await header.click();
    assert.equal(await header.getAttribute('aria-sort'), 'descending');
    assert.deepEqual(
      await visibleColumn('name'),
      [5, 4, 3, 2, 1, 0].map((i) => `Account 000${i}`),
    );
    await header.click();
    assert.equal(await header.getAttribute('aria-sort'), 'none');
    assert.deepEqual(
      await visibleColumn('name'),
      [0, 1, 2, 3, 4, 5].map((i) => `Account 000${i}`),
    );

    // Matches the formatted text as well as the raw value.
    await page.locator('.filter').fill('inactive');
    await page.waitForFunction(() => document.querySelectorAll('.grid-row:not([hidden])').length === 2);
    assert.deepEqual(await visibleColumn('name'), ['Account 0000', 'Account 0005']);
    assert.match((await page.locator('.status-line').textContent()) ?? '', /^6 rows · 2 shown/);
    await page.locator('.filter').fill('');
    await page.waitForFunction(() => document.querySelectorAll('.grid-row:not([hidden])').length === 6);
  });

  it('copies the cell, the row and a selection made with the keyboard', async () => {
    await postToPage(page, result(accountRows(4)));
    await page.waitForSelector('.grid-row');
    await page.locator('.grid-row[data-index="1"] [data-col="1"]').click();
    await page.keyboard.press('ControlOrMeta+C');
    assert.deepEqual(await lastPosted(), { type: 'copy', text: 'Account 0001' });
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('Shift+ArrowDown');
    await page.keyboard.press('Shift+ArrowRight');
    await page.keyboard.press('ControlOrMeta+C');
    assert.deepEqual(await lastPosted(), { type: 'copy', text: 'Account 0002\t$15,838.00\nAccount 0003\t$23,757.00' });
    await page.locator('.button', { hasText: 'Copy cell' }).click();
    assert.deepEqual(await lastPosted(), { type: 'copy', text: '$23,757.00' });
    await page.locator('.button', { hasText: 'Copy row' }).click();
    const row = await lastPosted();
    assert.equal(row?.type, 'copy');
    assert.equal(row?.type === 'copy' ? row.text.split('\t').length : 0, 7);
    assert.match(row?.type === 'copy' ? row.text : '', /^00000000-0000-4000-8000-000000000004\tAccount 0003\t/);
  });

  it('shows the same rows as JSON', async () => {
    await postToPage(page, result(accountRows(3)));
    await page.waitForSelector('.grid-row');
    await page.locator('.tab', { hasText: 'JSON' }).click();
    await page.waitForSelector('.json-line:not([hidden])');
    const text = await page.evaluate(() =>
      Array.from(document.querySelectorAll<HTMLElement>('.json-line:not([hidden])'))
        .sort((a, b) => a.getBoundingClientRect().top - b.getBoundingClientRect().top)
        .map((l) => l.textContent)
        .join('\n'),
    );
    // Only the lines on screen exist; they are the start of the whole text.
    const expected = JSON.stringify(accountRows(3), null, 2).split('\n');
    const shown = text.split('\n');
    assert.ok(shown.length > 10 && shown.length < expected.length, `${shown.length} of ${expected.length} lines`);
    assert.deepEqual(shown, expected.slice(0, shown.length));
    await page.locator('.button', { hasText: 'Copy JSON' }).click();
    const copied = await lastPosted();
    assert.deepEqual(copied?.type === 'copy' ? JSON.parse(copied.text) : undefined, accountRows(3));
  });

  it('explains a 429 with the code, the message and what to do', async () => {
    await postToPage(page, {
      type: 'showError',
      error: {
        status: 429,
        code: '0x80072322',
        message: 'Number of requests exceeded the limit of 6000 over time window of 300 seconds.',
        serviceRequestId: 'req-1',
      },
    });
    await page.waitForSelector('.error-view');
    assert.equal(await page.locator('.error-heading').textContent(), 'HTTP 429 · 0x80072322');
    assert.match((await page.locator('.error-message').textContent()) ?? '', /exceeded the limit of 6000/);
    assert.match((await page.locator('.error-hint').textContent()) ?? '', /Wait for the time in Retry-After/);
    assert.equal(await page.locator('.error-request').textContent(), 'Request id req-1');
  });

  it('asks for the next page and all pages, shows progress, cancels, and keeps rows on a paging error', async () => {
    await postToPage(page, result(accountRows(3), true));
    await page.waitForSelector('.grid-row');
    await page.locator('.button', { hasText: 'Next page' }).click();
    const next = await lastPosted();
    assert.equal(next?.type, 'loadNextPage');
    const nextId = next?.type === 'loadNextPage' ? next.requestId : '';
    assert.ok(await page.locator('.progress').isVisible());
    assert.ok(await page.locator('.button', { hasText: 'Next page' }).isDisabled());
    await postToPage(page, {
      type: 'appendPage',
      requestId: 'someone-else',
      rows: accountRows(9),
      hasMore: true,
      status: STATUS,
    });
    await postToPage(page, {
      type: 'appendPage',
      requestId: nextId,
      rows: accountRows(5).slice(3),
      hasMore: true,
      status: STATUS,
    });
    await postToPage(page, { type: 'progress', requestId: nextId, state: 'done', pagesLoaded: 1, rowsLoaded: 2 });
    await page.waitForFunction(() => document.querySelector<HTMLElement>('.progress')?.hidden === true);
    assert.match((await page.locator('.status-line').textContent()) ?? '', /^5 rows .* more pages available$/);
    // Sorting with pages left on the server says it covers only the loaded rows.
    await page.locator('.hcell[data-column="revenue"]').click();
    assert.match(
      (await page.locator('.status-line').textContent()) ?? '',
      /^5 rows · sorted 5 loaded rows by revenue · .* more pages available$/,
    );
    await page.locator('.hcell[data-column="revenue"]').click();
    await page.locator('.hcell[data-column="revenue"]').click();
    assert.doesNotMatch((await page.locator('.status-line').textContent()) ?? '', /sorted/);

    await page.locator('.button', { hasText: 'All pages' }).click();
    const all = await lastPosted();
    assert.equal(all?.type, 'loadAllPages');
    const allId = all?.type === 'loadAllPages' ? all.requestId : '';
    assert.notEqual(allId, nextId);
    await postToPage(page, { type: 'progress', requestId: allId, state: 'running', pagesLoaded: 4, rowsLoaded: 2000 });
    await page.waitForFunction(() =>
      /4 pages, 2,000 rows/.test(document.querySelector('.progress-text')?.textContent ?? ''),
    );
    await page.locator('.progress .button', { hasText: 'Cancel' }).click();
    assert.deepEqual(await lastPosted(), { type: 'cancel', requestId: allId });
    await postToPage(page, {
      type: 'progress',
      requestId: allId,
      state: 'cancelled',
      pagesLoaded: 4,
      rowsLoaded: 2000,
    });
    await page.waitForFunction(() => document.querySelector<HTMLElement>('.progress')?.hidden === true);

    await page.locator('.button', { hasText: 'Next page' }).click();
    const failing = await lastPosted();
    const failingId = failing?.type === 'loadNextPage' ? failing.requestId : '';
    await postToPage(page, {
      type: 'showError',
      requestId: failingId,
      error: { status: 401, message: 'Token expired' },
    });
    await page.waitForSelector('.error-banner');
    assert.match(
      (await page.locator('.error-banner .error-hint').textContent()) ?? '',
      /Sign in to the environment again/,
    );
    assert.equal(await page.locator('.grid-row:not([hidden])').count(), 5);
  });

  it('opens a record on double-click and Enter, and exports the rows in the order shown', async () => {
    await postToPage(page, result(accountRows(4)));
    await page.waitForSelector('.grid-row');
    await page.locator('.grid-row[data-index="2"] [data-col="1"]').dblclick();
    assert.deepEqual(await lastPosted(), { type: 'openRecord', entitySet: 'accounts', id: guid(3) });
    await page.keyboard.press('ArrowUp');
    await page.keyboard.press('Enter');
    assert.deepEqual(await lastPosted(), { type: 'openRecord', entitySet: 'accounts', id: guid(2) });
    await page.locator('.hcell[data-column="revenue"]').click();
    await page.locator('.hcell[data-column="revenue"]').click();
    await page.locator('.filter').fill('true');
    await page.waitForFunction(() => /2 shown/.test(document.querySelector('.status-line')?.textContent ?? ''));
    await page.locator('.button', { hasText: 'Export CSV' }).click();
    assert.deepEqual(await lastPosted(), {
      type: 'export',
      format: 'csv',
      columns: ['accountid', 'name', 'revenue', 'statecode', '_primarycontactid_value', 'telephone1', 'donotemail'],
      rowIndexes: [2, 0],
      formatted: true,
    });
  });

  it('keeps the toolbar on one line in a narrow pane, the copy and export actions behind More actions', async () => {
    await postToPage(page, result(accountRows(4), true));
    await page.waitForSelector('.grid-row');
    const more = page.getByRole('button', { name: 'More actions' });
    const exportCsv = page.locator('.button', { hasText: 'Export CSV' });
    assert.equal(await more.isVisible(), false, 'wide: no overflow menu');
    assert.equal(await exportCsv.isVisible(), true);

    await page.setViewportSize({ width: 420, height: 600 });
    assert.equal(await exportCsv.isVisible(), false, 'narrow: export is in the menu');
    assert.equal(await more.isVisible(), true);
    const toolbar = await page.locator('.toolbar').boundingBox();
    const buttonBox = await page.locator('.toolbar .tabs').boundingBox();
    // One row of controls: none starts below the bottom of another.
    const boxes = await page.evaluate(() =>
      Array.from(document.querySelectorAll('.toolbar > *'))
        .map((e) => e.getBoundingClientRect())
        .filter((r) => r.width > 0)
        .map((r) => ({ top: r.top, bottom: r.bottom })),
    );
    const firstBottom = Math.min(...boxes.map((b) => b.bottom));
    assert.ok(
      boxes.every((b) => b.top < firstBottom),
      `the toolbar wraps: ${JSON.stringify(boxes)} in ${JSON.stringify(toolbar)} (${String(buttonBox?.height)})`,
    );
    // Each visible button's label on one line: "Next page" and "All pages" wrapped inside their buttons before.
    const heights = await page.evaluate(() =>
      Array.from(document.querySelectorAll('.toolbar .button'))
        .filter((e) => e.getBoundingClientRect().width > 0)
        .map((e) => ({ text: e.textContent ?? '', height: e.getBoundingClientRect().height })),
    );
    assert.ok(
      heights.some((h) => h.text.includes('Next page')),
      `the paging buttons show: ${JSON.stringify(heights)}`,
    );
    const oneLine = Math.min(...heights.map((h) => h.height));
    assert.ok(
      heights.every((h) => h.height < oneLine * 1.5),
      `a button label wraps: ${JSON.stringify(heights)}`,
    );
    await more.click();
    assert.equal(await more.getAttribute('aria-expanded'), 'true');
    await exportCsv.click();
    assert.equal((await lastPosted())?.type, 'export');
    assert.equal(await exportCsv.isVisible(), false, 'an action closes the menu');
    await more.click();
    await page.keyboard.press('Tab');
    await page.keyboard.press('Escape');
    assert.equal(await more.getAttribute('aria-expanded'), 'false');
  });

  it('shows aggregates as a table that opens nothing, batches as sub-responses, changes with removed rows', async () => {
    await postToPage(page, {
      type: 'showResult',
      shape: 'aggregate',
      rows: [
        { statecode: 0, total: 12 },
        { statecode: 1, total: 3 },
      ],
      metadata: { entitySet: 'accounts', primaryIdAttribute: 'accountid' },
      status: { ...STATUS, rowCount: 2 },
      hasMore: false,
    });
    await page.waitForSelector('.grid-row');
    await page.locator('.grid-row[data-index="0"] [data-col="1"]').dblclick();
    assert.deepEqual(await lastPosted(), { type: 'ready' });
    assert.match((await page.locator('.status-line').textContent()) ?? '', /aggregate/);

    await postToPage(page, {
      type: 'showBatch',
      status: { ...STATUS, rowCount: 2 },
      responses: [
        { status: 204, method: 'PATCH', url: 'accounts(1)', changeSet: 1, contentId: '1' },
        {
          status: 412,
          method: 'PATCH',
          url: 'accounts(2)',
          changeSet: 1,
          body: { error: { code: '0x80060882', message: 'The version of the existing record does not match' } },
        },
      ],
    });
    await page.waitForSelector('.batch-item');
    assert.equal(await page.locator('.batch-item').count(), 2);
    assert.deepEqual(await page.locator('.badge').allTextContents(), ['204', '412']);
    assert.match(
      (await page.locator('.batch-item').nth(1).locator('.error-hint').textContent()) ?? '',
      /changed since you read it/,
    );

    await postToPage(page, {
      type: 'showDelta',
      rows: accountRows(2),
      removed: [{ id: guid(99), reason: 'deleted' }],
      metadata: ACCOUNT_METADATA,
      status: STATUS,
    });
    await page.waitForSelector('.grid-row.removed');
    assert.equal(await page.locator('.grid-row.removed').count(), 1);
    assert.equal((await cell(2, 'accountid')).text, guid(99));
    assert.equal(await page.locator('.grid-row.removed .gutter').getAttribute('title'), 'Removed (deleted)');
    assert.match((await page.locator('.status-line').textContent()) ?? '', /^2 rows · 1 removed · changes/);
  });

  it('ignores a host message that does not validate', async () => {
    await postToPage(page, result(accountRows(2)));
    await page.waitForSelector('.grid-row');
    await page.evaluate(() => {
      const host = (window as unknown as { __host: { post(m: unknown): void } }).__host;
      host.post({ type: 'showResult', rows: 'nope' });
      host.post({ type: 'showError' });
      host.post('<script>');
    });
    await postToPage(page, { type: 'progress', requestId: 'x', state: 'done', pagesLoaded: 0, rowsLoaded: 0 });
    assert.equal(await page.locator('.grid-row:not([hidden])').count(), 2);
    assert.equal(await page.locator('.error-view').count(), 0);
  });

  it('restores sort, filter, view and scroll after a reload; the data comes again from the host', async () => {
    await postToPage(page, result(accountRows(400)));
    await page.waitForSelector('.grid-row');
    await page.locator('.hcell[data-column="name"]').click();
    await page.locator('.hcell[data-column="name"]').click();
    await page.locator('.filter').fill('Account 0');
    await page.waitForFunction(() =>
      /400 rows · 400 shown/.test(document.querySelector('.status-line')?.textContent ?? ''),
    );
    await page.locator('.grid-viewport').evaluate((v) => (v.scrollTop = 1000));
    await page.waitForFunction(() => {
      const state = JSON.parse(sessionStorage.getItem('vscode-state') ?? '{}') as { scrollTop?: number };
      return state.scrollTop === 1000;
    });

    await page.reload();
    await page.waitForSelector('.toolbar');
    assert.equal(await page.locator('.filter').inputValue(), 'Account 0');
    await postToPage(page, result(accountRows(400)));
    await page.waitForSelector('.grid-row');
    assert.equal(await page.locator('.hcell[data-column="name"]').getAttribute('aria-sort'), 'descending');
    assert.equal(await page.locator('.grid-viewport').evaluate((v) => v.scrollTop), 1000);
    const first = await page.evaluate(() => {
      const rows = Array.from(document.querySelectorAll<HTMLElement>('.grid-row:not([hidden])')).sort(
        (a, b) => Number(a.dataset.index) - Number(b.dataset.index),
      );
      const top = document.querySelector('.grid-header')?.getBoundingClientRect().bottom ?? 0;
      return rows.find((r) => r.getBoundingClientRect().top >= top)?.children[2]?.textContent;
    });
    // 1000 px down a descending list of 400 names at 22 px a row: row 46 from the top, Account 0353.
    assert.equal(first, 'Account 0353');

    await page.locator('.tab', { hasText: 'JSON' }).click();
    await page.reload();
    await page.waitForSelector('.toolbar');
    await postToPage(page, result(accountRows(3)));
    await page.waitForSelector('.json-line:not([hidden])');
    assert.equal(await page.locator('.tab', { hasText: 'JSON' }).getAttribute('aria-pressed'), 'true');
    assert.equal(
      await page.locator('.json-viewport').evaluate((v) => v.scrollTop),
      0,
      'the grid’s scroll is not the JSON’s',
    );
  });

  it('follows the VS Code theme variables; screenshots for the README', async () => {
    const rows = accountRows(40);
    rows[2] = { ...rows[2], name: '<img src=x onerror=alert(1)>' };
    mkdirSync(path.resolve(__dirname, '../../docs/images'), { recursive: true });
    const backgrounds: string[] = [];
    for (const theme of ['light', 'dark', 'high-contrast'] as const) {
      await applyTheme(page, theme);
      await postToPage(page, result(rows, true));
      await page.waitForSelector('.grid-row');
      await page.locator('.grid-row[data-index="3"] [data-col="1"]').click();
      await page.keyboard.press('Shift+ArrowDown');
      await page.keyboard.press('Shift+ArrowRight');
      backgrounds.push(await page.evaluate(() => getComputedStyle(document.body).backgroundColor));
      await page.screenshot({ path: path.resolve(__dirname, `../../docs/images/results-${theme}.png`) });
    }
    assert.deepEqual(backgrounds, ['rgb(255, 255, 255)', 'rgb(30, 30, 30)', 'rgb(0, 0, 0)']);
  });
});

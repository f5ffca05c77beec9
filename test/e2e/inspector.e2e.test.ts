// UI tests of the webhook delivery inspector page in a real Chromium; the test plays the host's part.
//   npx mocha --timeout 120000 test/e2e/inspector.e2e.test.ts
// SCREENSHOTS=docs/images also writes the screenshot of a bulk delivery the docs show.
import * as assert from 'node:assert/strict';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { parsePageMessage } from '../../src/webview/inspectorProtocol';
import { captureUpdateMultipleDelivery } from '../unit/webhooks/emulatorBulkDelivery';
import type { InspectorServer } from './inspectorPage';
import { bodyDelivery, fixtureDelivery, inspectorPosted, postToInspector, startInspectorServer } from './inspectorPage';
import { applyTheme, launchChromium } from './resultsPage';

const XSS = '<img src=x onerror="window.__xss=1;alert(1)">';

describe('webhook inspector page in Chromium', function () {
  let browser: Browser;
  let server: InspectorServer;
  let page: Page;
  let dialogs: string[];
  let pageErrors: string[];

  before(async () => {
    server = await startInspectorServer();
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await server?.close();
  });

  beforeEach(async () => {
    page = await browser.newPage({ viewport: { width: 1100, height: 700 } });
    dialogs = [];
    pageErrors = [];
    page.on('dialog', (dialog) => {
      dialogs.push(dialog.message());
      void dialog.dismiss();
    });
    page.on('pageerror', (error) => pageErrors.push(error.message));
    await page.goto(server.url);
    await page.waitForSelector('.toolbar');
    await applyTheme(page, 'dark');
  });

  afterEach(async () => {
    for (const message of await inspectorPosted(page)) {
      const parsed = parsePageMessage(message);
      assert.ok(parsed.ok, `page sent an invalid message: ${parsed.ok ? '' : parsed.error}`);
    }
    assert.deepEqual(pageErrors, []);
    assert.deepEqual(await page.evaluate(() => (window as unknown as { __violations: string[] }).__violations), []);
    await page.close();
  });

  const field = async (name: string): Promise<string> =>
    (await page.locator(`.details dd[data-field="${name}"]`).textContent()) ?? '<missing>';

  it('says ready, shows the receiver status, and renders a delivery with every field', async () => {
    assert.deepEqual(await inspectorPosted(page), [{ type: 'ready' }]);
    await postToInspector(page, { type: 'status', state: 'listening', url: 'http://127.0.0.1:5123/', keyed: true });
    assert.equal(await page.locator('.status').textContent(), 'Listening on http://127.0.0.1:5123/ (key required)');

    await postToInspector(page, { type: 'delivery', delivery: fixtureDelivery('update-activity-with-images.json', 1) });
    await page.waitForSelector('.delivery');
    assert.equal(await field('message'), 'Update');
    assert.equal(await field('table'), 'new_customactivity');
    assert.equal(await field('record-id'), '841579d9-7e63-ef11-9e4a-00155d0001ea');
    assert.equal(await field('stage'), '40 (post-operation)');
    assert.equal(await field('mode'), '1 (asynchronous)');
    assert.equal(await field('depth'), '1');
    assert.equal(await field('correlation-id'), '3860c444-0576-4d79-9877-b0ca8e4e9bd4');
    const changed = await page.locator('.changes tbody td.column').allTextContents();
    assert.deepEqual(changed, [
      'activityid',
      'statecode',
      'statuscode',
      'modifiedon',
      'modifiedby',
      'modifiedonbehalfby',
    ]);
    // statecode was in the pre-image: its old value is shown beside the new one.
    const statecode = page.locator('.changes tbody tr', { hasText: 'statecode' });
    assert.equal(await statecode.locator('td.before').textContent(), 'option 0');
    assert.equal(await statecode.locator('td.after').textContent(), 'option 3');
    assert.deepEqual(await page.locator('.pre-images h4').allTextContents(), ['Image']);
    assert.deepEqual(await page.locator('.post-images h4').allTextContents(), ['AsynchronousStepPrimaryName']);
    assert.ok(
      (await page.locator('.pre-images dt').allTextContents()).includes('regardingobjectid'),
      'pre-image columns are listed',
    );
    const raw = JSON.parse((await page.locator('pre.raw').textContent()) ?? '') as Record<string, unknown>;
    assert.equal(raw.MessageName, 'Update');
    assert.equal(raw.PrimaryEntityId, '841579d9-7e63-ef11-9e4a-00155d0001ea');

    // A second delivery goes on top and is selected; the first can be selected again from the list.
    await postToInspector(page, { type: 'delivery', delivery: fixtureDelivery('update-contact-docs-sample.json', 2) });
    assert.deepEqual(await page.locator('.delivery .table').allTextContents(), ['contact', 'new_customactivity']);
    assert.equal(await field('table'), 'contact');
    await page.locator('.delivery[data-sequence="1"]').click();
    assert.equal(await field('table'), 'new_customactivity');
    assert.equal(await page.locator('.delivery[data-sequence="1"]').getAttribute('aria-selected'), 'true');
  });

  it('shows record values written like HTML as those characters and runs no script', async () => {
    const delivery = fixtureDelivery('update-contact-docs-sample.json', 1, (json) => {
      const target = (json.InputParameters as { value: { Attributes: { key: string; value: unknown }[] } }[])[0];
      const firstname = target?.value.Attributes.find((attribute) => attribute.key === 'firstname');
      assert.ok(firstname, 'the fixture sets firstname');
      firstname.value = XSS;
      json.PrimaryEntityName = XSS;
    });
    await postToInspector(page, { type: 'delivery', delivery });
    await page.waitForSelector('.delivery');
    assert.equal(await field('table'), XSS);
    assert.equal(await page.locator('.delivery .table').textContent(), XSS);
    const firstname = page.locator('.changes tbody tr', { hasText: 'firstname' });
    assert.equal(await firstname.locator('td.after').textContent(), JSON.stringify(XSS));
    // The raw JSON escapes the quotes inside the value, and shows the rest verbatim.
    assert.ok(((await page.locator('pre.raw').textContent()) ?? '').includes(JSON.stringify(XSS).slice(1, -1)));
    assert.equal(await page.locator('img').count(), 0, 'no element was made from the value');
    assert.equal(await page.evaluate(() => (window as unknown as { __xss?: number }).__xss), undefined);
    assert.deepEqual(dialogs, []);
  });

  // Microsoft Learn, "Write plug-ins for CreateMultiple and UpdateMultiple": a bulk step gets one set of images per
  // record of Targets (PreEntityImagesCollection / PostEntityImagesCollection), in the order of Targets.
  it("shows an UpdateMultiple's records each with its own images, values written like HTML as text", async () => {
    const body = await captureUpdateMultipleDelivery({
      names: [
        ['Contoso', 'Contoso Ltd'],
        ['Fabrikam', XSS],
      ],
    });
    await postToInspector(page, { type: 'status', state: 'listening', url: 'http://127.0.0.1:5123/', keyed: true });
    await postToInspector(page, { type: 'delivery', delivery: bodyDelivery(body, 1) });
    await page.waitForSelector('.target');
    assert.equal(await field('message'), 'UpdateMultiple');
    assert.equal(await field('record-id'), '00000000-0000-0000-0000-000000000000', 'a bulk context names no record');
    const titles = await page.locator('.target-title').allTextContents();
    assert.equal(titles.length, 2);
    assert.match(titles[0] ?? '', /^Record 1 of 2 · account\([0-9a-f-]{36}\)$/);
    assert.match(titles[1] ?? '', /^Record 2 of 2 · account\([0-9a-f-]{36}\)$/);
    const record = (index: number) => page.locator(`.target[data-index="${index}"]`);
    const nameRow = (index: number) => record(index).locator('.changes tbody tr', { hasText: 'name' }).first();
    assert.equal(await nameRow(0).locator('td.before').textContent(), '"Contoso"');
    assert.equal(await nameRow(0).locator('td.after').textContent(), '"Contoso Ltd"');
    assert.equal(await nameRow(1).locator('td.before').textContent(), '"Fabrikam"', 'its own pre-image, not the first');
    assert.equal(await nameRow(1).locator('td.after').textContent(), JSON.stringify(XSS));
    for (const index of [0, 1]) {
      assert.deepEqual(await record(index).locator('.pre-images h4').allTextContents(), ['Before']);
      assert.deepEqual(await record(index).locator('.post-images h4').allTextContents(), ['After']);
    }
    assert.deepEqual(await record(1).locator('.post-images dd').allTextContents(), [
      await record(1).locator('.post-images dd').first().textContent(),
      JSON.stringify(XSS),
      '"555-0101"',
    ]);
    // The message's own (empty) PreEntityImages and PostEntityImages are not shown as "none" beside the records.
    assert.equal(await page.locator('.details > h3', { hasText: /^(Pre|Post)-images/ }).count(), 0);
    assert.equal(await page.locator('img').count(), 0, 'no element was made from a value');
    assert.equal(await page.evaluate(() => (window as unknown as { __xss?: number }).__xss), undefined);
    assert.deepEqual(dialogs, []);

    if (process.env.SCREENSHOTS !== undefined) {
      await page.setViewportSize({ width: 1100, height: 1150 });
      await page.screenshot({ path: path.join(process.env.SCREENSHOTS, 'inspector-multiple-images.png') });
    }
  });

  it('ignores malformed host messages; Clear, Stop and Copy post their requests', async () => {
    const valid = fixtureDelivery('create-account.json', 1);
    await postToInspector(page, { type: 'delivery', delivery: { ...valid, stage: 'forty' } });
    await postToInspector(page, { type: 'delivery', delivery: { ...valid, injected: '<b>x</b>' } });
    await postToInspector(page, { type: 'unknown' });
    assert.equal(await page.locator('.delivery').count(), 0);
    assert.equal(await page.locator('.empty').textContent(), 'No deliveries yet');

    await postToInspector(page, { type: 'status', state: 'listening', url: 'http://127.0.0.1:5123/', keyed: false });
    await postToInspector(page, { type: 'delivery', delivery: valid });
    await postToInspector(page, { type: 'rejected', status: 401, reason: 'the key is missing or wrong' });
    assert.equal(await page.locator('.rejected').textContent(), '1 rejected · last: 401 the key is missing or wrong');
    await page.getByRole('button', { name: 'Copy JSON' }).click();
    await page.getByRole('button', { name: 'Clear' }).click();
    assert.equal(await page.locator('.delivery').count(), 0);
    await page.getByRole('button', { name: 'Stop' }).click();
    const posted = await inspectorPosted(page);
    assert.deepEqual(
      posted.map((message) => message.type),
      ['ready', 'copy', 'clear', 'stop'],
    );
    const copy = posted[1];
    assert.ok(copy?.type === 'copy' && copy.text === valid.raw);

    await postToInspector(page, { type: 'status', state: 'stopped', keyed: false });
    assert.equal(await page.locator('.status').textContent(), 'Stopped');
    assert.equal(await page.getByRole('button', { name: 'Stop' }).isDisabled(), true);
  });
});

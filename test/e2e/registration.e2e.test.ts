// UI tests of the webhook registration form page in a real Chromium with its real CSP; the test plays
// the host's part (answers `messages` and `columns`, checks what `save` carries).
//   npx mocha --timeout 120000 test/e2e/registration.e2e.test.ts
// SCREENSHOTS=docs/images also writes the light and dark screenshots the README shows.
import * as assert from 'node:assert/strict';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import type { FormRegistration, HostMessage, PageMessage } from '../../src/webview/registrationProtocol';
import { parsePageMessage } from '../../src/webview/registrationProtocol';
import { renderRegistrationHtml } from '../../src/webview/registration/html';
import type { PageServer } from './pageServer';
import { startPageServer } from './pageServer';
import { applyTheme, launchChromium } from './resultsPage';

const XSS = '<img src=x onerror="window.__xss=1;alert(1)">';
const ACCOUNT_COLUMNS = ['accountid', 'accountnumber', 'name', 'primarycontactid', 'revenue', 'telephone1'];

const blank: FormRegistration = {
  endpoint: {
    name: '',
    kind: 'webhook',
    description: '',
    url: '',
    authKind: 'WebhookKey',
    keepAuth: false,
    secret: '',
    pairs: [],
    namespace: '',
    path: '',
    keyName: 'RootManageSharedAccessKey',
    messageFormat: 'json',
  },
  steps: [],
};

function init(
  registration: FormRegistration,
  extra: Partial<Extract<HostMessage, { type: 'init' }>> = {},
): HostMessage {
  return {
    type: 'init',
    mode: 'create',
    environment: 'Local emulator',
    registration,
    secretSet: false,
    inspectorUrl: 'http://127.0.0.1:5123/',
    tables: [
      { name: 'account', label: 'Account' },
      { name: 'contact', label: 'Contact' },
    ],
    ...extra,
  };
}

describe('webhook registration form page in Chromium', function () {
  let browser: Browser;
  let server: PageServer;
  let page: Page;
  let dialogs: string[];
  let pageErrors: string[];

  const posted = (): Promise<PageMessage[]> =>
    page.evaluate(() => (window as unknown as { __posted: PageMessage[] }).__posted.slice());
  const post = (message: HostMessage): Promise<void> =>
    page.evaluate(
      (json) => (window as unknown as { __host: { post(m: unknown): void } }).__host.post(JSON.parse(json)),
      JSON.stringify(message),
    );

  /** Answers every list request the page sent since the last call, as the host would for the emulator. */
  async function answerLists(): Promise<void> {
    for (const message of await posted()) {
      if (message.type === 'messages' && message.table === 'account') {
        await post({
          type: 'messages',
          requestId: message.requestId,
          table: 'account',
          messages: ['Create', 'Update', 'Delete', 'Assign', 'Retrieve', 'UpdateMultiple', 'UpsertMultiple'],
        });
      }
      if (message.type === 'columns' && message.table === 'account') {
        await post({ type: 'columns', requestId: message.requestId, table: 'account', columns: ACCOUNT_COLUMNS });
      }
    }
  }

  before(async () => {
    server = await startPageServer('registration', renderRegistrationHtml);
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await server?.close();
  });

  beforeEach(async () => {
    page = await browser.newPage({ viewport: { width: 900, height: 1000 } });
    dialogs = [];
    pageErrors = [];
    page.on('dialog', (dialog) => {
      dialogs.push(dialog.message());
      void dialog.dismiss();
    });
    page.on('pageerror', (error) => pageErrors.push(error.message));
    await page.goto(server.url);
    await applyTheme(page, 'dark');
  });

  afterEach(async () => {
    for (const message of await posted()) {
      const parsed = parsePageMessage(message);
      assert.ok(parsed.ok, `page sent an invalid message: ${parsed.ok ? '' : parsed.error}`);
    }
    assert.deepEqual(pageErrors, []);
    assert.deepEqual(dialogs, []);
    assert.deepEqual(await page.evaluate(() => (window as unknown as { __violations: string[] }).__violations), []);
    await page.close();
  });

  it('fills a webhook with a step and an image, with invalid combinations disabled and explained, and saves it in one message', async () => {
    assert.deepEqual(await posted(), [{ type: 'ready' }]);
    await post(init(blank));
    await page.getByLabel('Name', { exact: true }).first().fill('Revenue hook');
    // The running inspector's URL is offered.
    await page.getByRole('button', { name: 'Use the inspector' }).click();
    assert.equal(await page.getByLabel('URL').inputValue(), 'http://127.0.0.1:5123/');
    await page.getByLabel('Key', { exact: true }).fill('secret-key-1');

    await page.getByRole('button', { name: 'Add a step' }).click();
    // No message is offered before the table: only the table's messages are.
    assert.equal(await page.locator('.step select').first().isDisabled(), true);
    await page.getByLabel('Table').fill('account');
    await page.getByLabel('Table').press('Tab');
    await answerLists();
    await page.getByLabel('Message').selectOption('Update');
    assert.deepEqual(await page.getByLabel('Message').locator('option').allTextContents(), [
      '— message —',
      'Create',
      'Update',
      'Delete',
      'Assign',
      'Retrieve',
      'UpdateMultiple',
      'UpsertMultiple',
    ]);

    // Asynchronous is disabled outside post-operation, and says why.
    await page.getByLabel('Stage').selectOption('pre-operation');
    const asyncOption = page.getByLabel('Mode').locator('option[value="async"]');
    assert.equal(await asyncOption.isDisabled(), true);
    assert.match((await asyncOption.textContent()) ?? '', /asynchronous steps run only post-operation/);
    await page.getByLabel('Stage').selectOption('post-operation');
    assert.equal(await asyncOption.isDisabled(), false);
    await page.getByLabel('Mode').selectOption('async');

    // Filtering columns: checkboxes with a search.
    await page.getByRole('searchbox', { name: 'Search the columns of account' }).first().fill('rev');
    assert.deepEqual(await page.locator('.columns').first().locator('.check').allTextContents(), ['revenue']);
    await page.locator('.columns').first().getByLabel('revenue').check();

    await page.getByRole('button', { name: 'Add an image' }).click();
    const imageType = page.locator('.image select');
    assert.equal(await imageType.inputValue(), 'pre');
    await page.locator('.image .columns').getByLabel('name', { exact: true }).check();

    if (process.env.SCREENSHOTS !== undefined) {
      for (const theme of ['light', 'dark'] as const) {
        await applyTheme(page, theme);
        await page.screenshot({
          path: path.join(process.env.SCREENSHOTS, `registration-form-${theme}.png`),
          fullPage: true,
        });
      }
    }

    await page.getByRole('button', { name: 'Save' }).click();
    const save = (await posted()).find((message) => message.type === 'save');
    assert.ok(save?.type === 'save');
    const { endpoint, steps } = save.registration;
    assert.equal(endpoint.name, 'Revenue hook');
    assert.equal(endpoint.url, 'http://127.0.0.1:5123/');
    assert.equal(endpoint.secret, 'secret-key-1');
    assert.equal(steps.length, 1);
    assert.deepEqual(
      { message: steps[0]?.message, table: steps[0]?.table, stage: steps[0]?.stage, mode: steps[0]?.mode },
      { message: 'Update', table: 'account', stage: 'post-operation', mode: 'async' },
    );
    assert.deepEqual(steps[0]?.filteringAttributes, ['revenue']);
    assert.deepEqual(steps[0]?.images, [{ alias: 'PreImage', type: 'pre', columns: ['name'] }]);
    assert.equal(await page.getByRole('button', { name: 'Saving…' }).isDisabled(), true);

    // The host's answer: the saved registration, its secret not sent back.
    await post({
      type: 'saved',
      requestId: save.requestId,
      summary: '3 created',
      registration: { ...save.registration, endpoint: { ...endpoint, secret: '', keepAuth: true } },
    });
    assert.equal(await page.locator('.status').textContent(), 'Saved: 3 created.');
    assert.equal(await page.getByLabel(/Keep the registered authentication/).isChecked(), true);
    assert.equal(await page.locator('input[type=password]').count(), 0, 'no secret field while kept');
  });

  it('shows names from Dataverse and errors from the host as text, and a post-image on a Create is refused with its reason', async () => {
    await post(
      init(
        {
          endpoint: { ...blank.endpoint, name: XSS, url: 'https://example.test/hook', keepAuth: true },
          steps: [
            {
              id: '00000000-0000-4000-8000-000000000001',
              name: XSS,
              message: 'Create',
              table: 'account',
              stage: 'pre-operation',
              mode: 'sync',
              rank: 1,
              filteringAttributes: [],
              description: XSS,
              deleteAsyncJobOnSuccess: false,
              enabled: true,
              images: [],
            },
          ],
        },
        { mode: 'edit', secretSet: true },
      ),
    );
    await answerLists();
    assert.equal(await page.locator('h1').textContent(), `Edit ${XSS} on Local emulator`);
    await page.getByRole('button', { name: 'Add an image' }).click();
    const options = page.locator('.image select option');
    assert.equal(await options.nth(0).isDisabled(), true);
    assert.match((await options.nth(0).textContent()) ?? '', /a Create has no pre-image/);
    assert.match((await options.nth(1).textContent()) ?? '', /post-images exist only in the post-operation stage/);
    // The kind of a registered endpoint cannot change.
    assert.equal(await page.getByLabel('Kind').isDisabled(), true);

    await page.getByRole('button', { name: 'Save' }).click();
    const save = (await posted()).find((message) => message.type === 'save');
    assert.ok(save?.type === 'save');
    await post({ type: 'failed', requestId: save.requestId, error: `Nothing was sent: ${XSS}` });
    assert.equal(await page.getByRole('alert').textContent(), `Nothing was sent: ${XSS}`);
    assert.equal(await page.evaluate(() => (window as unknown as { __xss?: number }).__xss), undefined);
    assert.equal(await page.locator('img').count(), 0);
  });

  // Microsoft Learn, "Write plug-ins for CreateMultiple and UpdateMultiple": images per record of Targets.
  it('offers images on an UpdateMultiple step, says they come per record, and none on an UpsertMultiple', async () => {
    await post(
      init({
        endpoint: { ...blank.endpoint, name: 'Bulk', url: 'https://example.test/hook' },
        steps: [
          {
            id: '00000000-0000-4000-8000-000000000002',
            name: 'renamed',
            message: 'UpdateMultiple',
            table: 'account',
            stage: 'post-operation',
            mode: 'async',
            rank: 1,
            filteringAttributes: [],
            description: '',
            deleteAsyncJobOnSuccess: false,
            enabled: true,
            images: [],
          },
        ],
      }),
    );
    await answerLists();
    await page.getByRole('button', { name: 'Add an image' }).click();
    const options = page.locator('.image select option');
    assert.deepEqual(
      await options.evaluateAll((list) => list.map((option) => (option as HTMLOptionElement).disabled)),
      [false, false, false],
    );
    assert.match(
      (await page.locator('.images > .hint').textContent()) ?? '',
      /^On UpdateMultiple, each record of Targets gets its own images, in PreEntityImagesCollection/,
    );
    await page.getByLabel('Message').selectOption('UpsertMultiple');
    assert.equal(await page.getByRole('button', { name: 'Add an image' }).isDisabled(), true);
    assert.match(
      (await page.locator('.images > .hint').textContent()) ?? '',
      /^No images for UpsertMultiple: images are available only on .*register them on the Create and Update/,
    );
  });

  it('ignores malformed host messages and refuses Save without a name, sending nothing', async () => {
    await post({ type: 'init', mode: 'create' } as unknown as HostMessage);
    await post(init(blank));
    await post({ type: 'columns', requestId: 99, table: 'x y', columns: [] } as unknown as HostMessage);
    await page.getByRole('button', { name: 'Save' }).click();
    assert.equal(await page.getByRole('alert').textContent(), 'Enter the endpoint name.');
    assert.deepEqual(
      (await posted()).map((message) => message.type),
      ['ready'],
    );
  });
});

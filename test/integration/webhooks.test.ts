import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import * as vscode from 'vscode';
import { Commands } from '../../src/extension/constants';
import type { WorkbenchApi } from '../../src/extension/extension';
import type { ExplorerNode } from '../../src/extension/explorer/explorerTree';
import type { Back } from '../../src/extension/multiStepInput';
import { BACK } from '../../src/extension/multiStepInput';
import { activateWorkbench, ScriptedInput } from './support';

type NodeOf<T extends ExplorerNode['type']> = Extract<ExplorerNode, { type: T }>;
type Row = Record<string, unknown>;

// out/test/integration/index.js → the repository root → the shared fixtures beside it.
const FIXTURES = path.resolve(__dirname, '../../../../shared/fixtures/webhooks');
const HEADER_SECRET = 'hdr-secret-5f1e0c2b';
const INSPECTOR_KEY = 'inspector-key-93d1';

describe('webhooks, steps and images from VS Code against the emulator', () => {
  let api: WorkbenchApi;
  let restoreInput: (() => void) | undefined;
  const hookName = `Hook ${Date.now()}`;

  const children = (node?: ExplorerNode): Promise<ExplorerNode[]> => api.explorer.getChildren(node);
  const label = (node: ExplorerNode): string => {
    const value = api.explorer.getTreeItem(node).label;
    return typeof value === 'string' ? value : (value?.label ?? '');
  };
  const description = (node: ExplorerNode): string => {
    const value = api.explorer.getTreeItem(node).description;
    return typeof value === 'string' ? value : '';
  };

  function script(answers: (string | Back | undefined)[]): ScriptedInput {
    restoreInput?.();
    const input = new ScriptedInput(answers);
    restoreInput = api.setUserInput(input);
    return input;
  }

  /** "Register Step (3/8)": each step's title with its position, as VS Code shows it. */
  const positions = (input: ScriptedInput): string[] =>
    input.steps.map((shown) => `${shown.title} (${shown.step}/${shown.totalSteps})`);

  async function webApi(pathAndQuery: string, init: RequestInit = {}): Promise<Response> {
    const emulator = api.emulator();
    assert.ok(emulator);
    return fetch(`${emulator.webApi}${pathAndQuery}`, {
      ...init,
      headers: {
        Authorization: `Bearer ${emulator.token}`,
        Accept: 'application/json',
        'Content-Type': 'application/json',
      },
    });
  }

  async function rowsOf(query: string): Promise<Row[]> {
    const response = await webApi(query);
    assert.equal(response.status, 200, query);
    return ((await response.json()) as { value: Row[] }).value;
  }

  async function emulatorNode(): Promise<NodeOf<'emulator'>> {
    const found = (await children()).find((node): node is NodeOf<'emulator'> => node.type === 'emulator');
    assert.ok(found, 'the emulator is in the explorer');
    return found;
  }

  async function section(
    parent: ExplorerNode,
    match: (node: NodeOf<'section'>) => boolean,
    what: string,
  ): Promise<NodeOf<'section'>> {
    const found = (await children(parent)).find(
      (node): node is NodeOf<'section'> => node.type === 'section' && match(node),
    );
    assert.ok(found, `no ${what} under ${parent.id}: ${(await children(parent)).map(label).join(', ')}`);
    return found;
  }

  async function webhooksRoot(): Promise<NodeOf<'section'>> {
    return section(await emulatorNode(), (node) => label(node) === 'Webhooks & Steps', 'Webhooks & Steps');
  }

  async function endpointNode(): Promise<NodeOf<'section'>> {
    return section(await webhooksRoot(), (node) => label(node) === hookName, hookName);
  }

  async function stepNode(): Promise<NodeOf<'section'>> {
    return section(await endpointNode(), (node) => label(node) === 'Update of account', 'the step');
  }

  async function endpointRow(): Promise<Row> {
    const found = await rowsOf(
      `serviceendpoints?$select=serviceendpointid,name,contract,url,authtype&$filter=name eq '${hookName}'`,
    );
    assert.equal(found.length, 1, 'one endpoint with the name');
    return found[0] ?? {};
  }

  async function stepsOf(endpointId: unknown): Promise<Row[]> {
    return rowsOf(
      `sdkmessageprocessingsteps?$select=sdkmessageprocessingstepid,stage,mode,rank,filteringattributes,asyncautodelete,statecode,statuscode,description,_sdkmessageid_value,_sdkmessagefilterid_value&$filter=_eventhandler_value eq ${String(endpointId)}`,
    );
  }

  before(async () => {
    ({ api } = await activateWorkbench());
    await vscode.commands.executeCommand(Commands.startEmulator);
  });

  afterEach(() => {
    restoreInput?.();
    restoreInput = undefined;
  });

  after(async () => {
    await vscode.commands.executeCommand(Commands.stopWebhookInspector);
    await vscode.commands.executeCommand(Commands.stopEmulator);
  });

  it('registers a webhook with an HttpHeader secret, shows it in the tree and never logs the secret', async () => {
    const input = script([hookName, 'https://example.test/api/hook', 'HttpHeader', 'x-api-key', HEADER_SECRET, 'Done']);
    const id = await vscode.commands.executeCommand<string>(Commands.registerWebhook, await emulatorNode());
    assert.equal(input.prompts.length, 6);
    const row = await endpointRow();
    assert.equal(row.serviceendpointid, id);
    assert.equal(row.contract, 8);
    assert.equal(row.authtype, 5);
    assert.equal(row.url, 'https://example.test/api/hook');
    assert.match(description(await endpointNode()), /^Webhook · https:\/\/example\.test\/api\/hook$/);
    assert.ok(!api.logLines().some((line) => line.includes(HEADER_SECRET)), 'the secret is not in the log');
  });

  it('registers a webhook and a step through "n/m" steps; Back keeps the answers and a changed answer changes the count', async () => {
    const name = `Stepped ${Date.now()}`;
    const hook = script([
      name,
      'https://example.test/first',
      'HttpHeader',
      BACK,
      BACK,
      'https://example.test/second',
      'WebhookKey',
      'stepped-key-2c9e',
    ]);
    const endpointId = await vscode.commands.executeCommand<string>(Commands.registerWebhook, await emulatorNode());
    assert.deepEqual(positions(hook), [
      'Register Webhook (1/4)',
      'Register Webhook (2/4)',
      'Register Webhook (3/4)',
      // HttpHeader asks for a header's name, value and "add another?": two steps more than a key.
      'Register Webhook (4/6)',
      'Register Webhook (3/6)',
      'Register Webhook (2/6)',
      'Register Webhook (3/6)',
      // Changed to WebhookKey: one key step, the header steps gone from the count.
      'Register Webhook (4/4)',
    ]);
    assert.deepEqual(
      hook.steps.map((shown) => shown.back),
      [false, true, true, true, true, true, true, true],
      'Back is offered from the second step on',
    );
    assert.equal(hook.steps[4]?.value, 'HttpHeader', 'back at the auth step, the earlier pick is under the cursor');
    assert.equal(hook.steps[5]?.value, 'https://example.test/first', 'back at the URL, the earlier URL is kept');
    const [endpoint] = await rowsOf(
      `serviceendpoints?$select=serviceendpointid,url,authtype&$filter=serviceendpointid eq ${endpointId}`,
    );
    assert.equal(endpoint?.url, 'https://example.test/second');
    assert.equal(endpoint?.authtype, 4, 'WebhookKey, the changed answer');
    assert.ok(!api.logLines().some((line) => line.includes('stepped-key-2c9e')), 'the key is not in the log');

    const endpointNodeOfName = await section(await webhooksRoot(), (node) => label(node) === name, name);
    const steps = script([
      'Update',
      'account',
      'Post-operation',
      'Asynchronous',
      '3',
      ...Array<Back>(5).fill(BACK),
      'Create',
      'contact',
      'Post-operation',
      'Asynchronous',
      '3',
      'created',
      'Yes',
    ]);
    const stepId = await vscode.commands.executeCommand<string>(Commands.registerStep, endpointNodeOfName);
    assert.deepEqual(positions(steps), [
      'Register Step (1/6)',
      'Register Step (2/7)', // Update adds the filtering columns
      'Register Step (3/7)',
      'Register Step (4/7)',
      'Register Step (5/8)', // asynchronous adds "delete the system job?"
      'Register Step (6/8)',
      'Register Step (5/8)',
      'Register Step (4/8)',
      'Register Step (3/8)',
      'Register Step (2/8)',
      'Register Step (1/8)',
      'Register Step (2/7)', // Create: no filtering columns
      'Register Step (3/7)',
      'Register Step (4/7)',
      'Register Step (5/7)',
      'Register Step (6/7)',
      'Register Step (7/7)',
    ]);
    assert.deepEqual(
      steps.steps.slice(6, 11).map((shown) => shown.value),
      ['3', 'Asynchronous', 'Post-operation', 'account', 'Update'],
      'each step gone back to shows its earlier answer',
    );
    const [step, ...others] = await stepsOf(endpointId);
    assert.equal(others.length, 0);
    assert.equal(step?.sdkmessageprocessingstepid, stepId);
    const [create] = await rowsOf(`sdkmessages?$select=sdkmessageid&$filter=name eq 'Create'`);
    assert.equal(step?._sdkmessageid_value, create?.sdkmessageid);
    assert.equal(step?.rank, 3);
    assert.equal(step?.mode, 1);
    assert.equal(step?.asyncautodelete, true);
    assert.equal(step?.description, 'created');
    assert.ok([null, undefined, ''].includes(step?.filteringattributes as string), 'a Create filters nothing');
    const [filter] = await rowsOf(
      `sdkmessagefilters?$select=primaryobjecttypecode&$filter=sdkmessagefilterid eq ${String(step?._sdkmessagefilterid_value)}`,
    );
    assert.equal(filter?.primaryobjecttypecode, 'contact');

    // Escape at any step sends nothing.
    script(['Update', 'account', undefined]);
    assert.equal(await vscode.commands.executeCommand(Commands.registerStep, endpointNodeOfName), undefined);
    assert.equal((await stepsOf(endpointId)).length, 1);

    script(['Unregister']);
    await vscode.commands.executeCommand(Commands.unregister, endpointNodeOfName);
    assert.equal((await stepsOf(endpointId)).length, 0);
  });

  it('registers an Update step with filtering columns and a pre-image on it', async () => {
    const endpoint = await endpointRow();
    script(['Update', 'account', 'Post-operation', 'Asynchronous', '2', 'revenue', 'revenue changes', 'Yes']);
    const stepId = await vscode.commands.executeCommand<string>(Commands.registerStep, await endpointNode());
    const [step, ...others] = await stepsOf(endpoint.serviceendpointid);
    assert.equal(others.length, 0);
    assert.ok(step);
    assert.equal(step.sdkmessageprocessingstepid, stepId);
    assert.equal(step.stage, 40);
    assert.equal(step.mode, 1);
    assert.equal(step.rank, 2);
    assert.equal(step.filteringattributes, 'revenue');
    assert.equal(step.asyncautodelete, true);
    assert.equal(step.description, 'revenue changes');
    const [update] = await rowsOf(`sdkmessages?$select=sdkmessageid&$filter=name eq 'Update'`);
    assert.equal(step._sdkmessageid_value, update?.sdkmessageid);
    const [filter] = await rowsOf(
      `sdkmessagefilters?$select=primaryobjecttypecode&$filter=sdkmessagefilterid eq ${String(step._sdkmessagefilterid_value)}`,
    );
    assert.equal(filter?.primaryobjecttypecode, 'account');
    assert.match(description(await stepNode()), /Post-operation · async · rank 2 · on revenue/);

    const imageInput = script(['Pre-image', 'before', 'revenue,name']);
    const imageId = await vscode.commands.executeCommand<string>(Commands.registerImage, await stepNode());
    const images = await rowsOf(
      `sdkmessageprocessingstepimages?$select=sdkmessageprocessingstepimageid,entityalias,imagetype,attributes,messagepropertyname&$filter=_sdkmessageprocessingstepid_value eq ${String(stepId)}`,
    );
    assert.equal(images.length, 1);
    assert.equal(images[0]?.sdkmessageprocessingstepimageid, imageId);
    assert.equal(images[0]?.entityalias, 'before');
    assert.equal(images[0]?.imagetype, 0);
    assert.equal(images[0]?.messagepropertyname, 'Target');
    assert.deepEqual(String(images[0]?.attributes).split(',').sort(), ['name', 'revenue']);
    assert.deepEqual(positions(imageInput), ['Register Image (1/3)', 'Register Image (2/3)', 'Register Image (3/3)']);
    const imageNodes = await children(await stepNode());
    assert.deepEqual(imageNodes.map(label), ['before']);
  });

  it('refuses an asynchronous pre-operation step with the reason, sending nothing', async () => {
    const endpoint = await endpointRow();
    const input = script(['Create', 'contact', 'Pre-operation', 'Asynchronous']);
    const result = await vscode.commands.executeCommand(Commands.registerStep, await endpointNode());
    assert.equal(result, undefined);
    assert.equal(input.prompts.length, 4, 'refused as soon as the stage and mode are known');
    assert.equal((await stepsOf(endpoint.serviceendpointid)).length, 1, 'no second step');
    assert.ok(
      api.logLines().some((line) => line.includes('asynchronous steps run only post-operation, not pre-operation')),
      'the reason is reported',
    );
  });

  // Microsoft Learn, "Write plug-ins for CreateMultiple and UpdateMultiple" (images per record of Targets) and
  // "Register a plug-in" (no pre-image before a create); Dataverse takes UpdateMultiple images under Targets.
  it('offers images on bulk message steps as Dataverse takes them, and says why an UpsertMultiple takes none', async () => {
    const endpoint = await endpointRow();
    const registered: string[] = [];
    try {
      for (const message of ['UpdateMultiple', 'CreateMultiple', 'UpsertMultiple']) {
        script([message, 'account', 'Post-operation', 'Asynchronous', '1', 'bulk', 'No']);
        registered.push(await vscode.commands.executeCommand<string>(Commands.registerStep, await endpointNode()));
      }
      const bulkStep = async (message: string) =>
        section(await endpointNode(), (node) => label(node) === `${message} of account`, `the ${message} step`);

      const update = script(['Pre and post', 'Image', 'name']);
      await vscode.commands.executeCommand<string>(Commands.registerImage, await bulkStep('UpdateMultiple'));
      assert.deepEqual(update.steps[0]?.items, ['Pre-image', 'Post-image', 'Pre and post']);
      assert.match(update.steps[1]?.prompt ?? '', /PreEntityImagesCollection/);
      const create = script(['Post-image', 'After', '']);
      await vscode.commands.executeCommand<string>(Commands.registerImage, await bulkStep('CreateMultiple'));
      assert.deepEqual(create.steps[0]?.items, ['Post-image'], 'no pre-image before a create');
      const images = await rowsOf(
        `sdkmessageprocessingstepimages?$select=entityalias,imagetype,messagepropertyname&$orderby=entityalias`,
      );
      assert.deepEqual(
        images
          .filter((image) => image.entityalias !== 'before')
          .map((image) => [image.entityalias, image.imagetype, image.messagepropertyname]),
        [
          ['After', 1, 'Ids'],
          ['Image', 2, 'Targets'],
        ],
      );

      const upsert = script([]);
      const refused = await vscode.commands.executeCommand(Commands.registerImage, await bulkStep('UpsertMultiple'));
      assert.equal(refused, undefined);
      assert.deepEqual(upsert.prompts, [], 'refused before asking anything');
      assert.ok(
        api.logLines().some((line) => line.includes('register them on the Create and Update')),
        'the reason is reported',
      );
    } finally {
      for (const id of registered.filter((id) => typeof id === 'string'))
        await webApi(`sdkmessageprocessingsteps(${id})`, { method: 'DELETE' });
    }
    assert.equal((await stepsOf(endpoint.serviceendpointid)).length, 1, 'only the Update step is left');
  });

  it('disables and enables the step', async () => {
    const endpoint = await endpointRow();
    await vscode.commands.executeCommand(Commands.disableStep, await stepNode());
    let [step] = await stepsOf(endpoint.serviceendpointid);
    assert.equal(step?.statecode, 1);
    assert.equal(step?.statuscode, 2);
    assert.match(description(await stepNode()), /disabled$/);
    await vscode.commands.executeCommand(Commands.enableStep, await stepNode());
    [step] = await stepsOf(endpoint.serviceendpointid);
    assert.equal(step?.statecode, 0);
    assert.equal(step?.statuscode, 1);
    assert.doesNotMatch(description(await stepNode()), /disabled/);
  });

  it('edits the step, sending only the columns that changed', async () => {
    const endpoint = await endpointRow();
    const input = script(['Post-operation', 'Synchronous', '5', 'revenue', 'revenue changes']);
    const changed = await vscode.commands.executeCommand<readonly string[]>(
      Commands.editRegistration,
      await stepNode(),
    );
    assert.ok(changed?.includes('rank') && changed.includes('mode') && changed.includes('asyncautodelete'));
    const [step] = await stepsOf(endpoint.serviceendpointid);
    assert.equal(step?.rank, 5);
    assert.equal(step?.mode, 0);
    assert.equal(step?.asyncautodelete, false);
    assert.equal(step?.filteringattributes, 'revenue');
    const filtering = input.steps.find((shown) => shown.prompt.startsWith('Filtering columns'));
    assert.deepEqual(filtering?.selected, ['revenue'], 'the checkboxes start from the current columns');
    assert.deepEqual(input.steps[0]?.value, 'Post-operation', 'each step starts at the current value');
    assert.equal(positions(input).at(-1), 'Edit Step (5/5)', 'a synchronous step is not asked about its system job');
  });

  it('unregisters the endpoint with its steps and images after confirmation', async () => {
    const endpoint = await endpointRow();
    const [step] = await stepsOf(endpoint.serviceendpointid);
    assert.ok(step);
    script([undefined]);
    await vscode.commands.executeCommand(Commands.unregister, await endpointNode());
    assert.equal((await stepsOf(endpoint.serviceendpointid)).length, 1, 'nothing removed without confirmation');

    const input = script(['Unregister']);
    await vscode.commands.executeCommand(Commands.unregister, await endpointNode());
    assert.match(input.prompts[0] ?? '', /with its 1 step\(s\) and their images/);
    assert.equal((await rowsOf(`serviceendpoints?$select=serviceendpointid&$filter=name eq '${hookName}'`)).length, 0);
    assert.equal((await stepsOf(endpoint.serviceendpointid)).length, 0);
    assert.equal(
      (
        await rowsOf(
          `sdkmessageprocessingstepimages?$select=sdkmessageprocessingstepimageid&$filter=_sdkmessageprocessingstepid_value eq ${String(step.sdkmessageprocessingstepid)}`,
        )
      ).length,
      0,
    );
    const remaining = (await children(await webhooksRoot())).map(label);
    assert.ok(!remaining.includes(hookName), `the tree no longer lists it: ${remaining.join(', ')}`);
  });

  it('plans and applies a dataverse.webhooks.json; a second apply changes nothing', async () => {
    const folder = vscode.workspace.workspaceFolders?.[0]?.uri;
    assert.ok(folder);
    const file = vscode.Uri.joinPath(folder, 'dataverse.webhooks.json');
    const name = `Declared ${Date.now()}`;
    const declared = {
      endpoints: [
        {
          name,
          kind: 'webhook',
          url: 'http://127.0.0.1:9/declared',
          auth: { kind: 'WebhookKey', value: { env: 'DVW_TEST_DECLARED_KEY' } },
          steps: [
            {
              name: 'on revenue',
              message: 'Update',
              table: 'account',
              stage: 'post-operation',
              mode: 'async',
              filteringAttributes: ['revenue'],
              images: [{ type: 'pre', alias: 'before', columns: ['revenue'] }],
            },
          ],
        },
      ],
    };
    await vscode.workspace.fs.writeFile(file, new TextEncoder().encode(JSON.stringify(declared, null, 2)));
    const planned = await vscode.commands.executeCommand<string>(Commands.planWebhooks, file);
    assert.match(planned, /\+ create endpoint .* \(webhook\)/);
    assert.match(planned, /3 to create, 0 to update, 0 to delete\./);

    // Not in the extension host's environment: the secret is asked for and used for this apply only.
    const input = script(['Apply', 'declared-key-71b4']);
    const applied = await vscode.commands.executeCommand<{ created: number }>(Commands.applyWebhooks, file);
    assert.equal(applied.created, 3);
    assert.match(input.prompts[1] ?? '', /DVW_TEST_DECLARED_KEY/);
    const [endpoint] = await rowsOf(
      `serviceendpoints?$select=serviceendpointid,contract,authtype&$filter=name eq '${name}'`,
    );
    assert.equal(endpoint?.contract, 8);
    assert.equal((await stepsOf(endpoint?.serviceendpointid)).length, 1);

    const again = await vscode.commands.executeCommand<string>(Commands.planWebhooks, file);
    assert.match(again, /No changes/);
    script([]);
    const second = await vscode.commands.executeCommand<{ created: number; updated: number }>(
      Commands.applyWebhooks,
      file,
    );
    assert.deepEqual([second.created, second.updated], [0, 0]);
    assert.ok(!api.logLines().some((line) => line.includes('declared-key-71b4')), 'the secret is not in the log');
    await vscode.workspace.fs.delete(file);
    // Leaves nothing that later suites' account updates would deliver to.
    for (const step of await stepsOf(endpoint?.serviceendpointid)) {
      const stepId = String(step.sdkmessageprocessingstepid);
      for (const image of await rowsOf(
        `sdkmessageprocessingstepimages?$select=sdkmessageprocessingstepimageid&$filter=_sdkmessageprocessingstepid_value eq ${stepId}`,
      )) {
        await webApi(`sdkmessageprocessingstepimages(${String(image.sdkmessageprocessingstepimageid)})`, {
          method: 'DELETE',
        });
      }
      await webApi(`sdkmessageprocessingsteps(${stepId})`, { method: 'DELETE' });
    }
    assert.equal(
      (await webApi(`serviceendpoints(${String(endpoint?.serviceendpointid)})`, { method: 'DELETE' })).status,
      204,
    );
  });

  it('the delivery inspector lists a delivery that carries the key and refuses one without it', async () => {
    script(['0', INSPECTOR_KEY]);
    const started = await vscode.commands.executeCommand<{ url: string }>(Commands.startWebhookInspector);
    assert.ok(started);
    assert.match(started.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
    const body = readFileSync(path.join(FIXTURES, 'update-activity-with-images.json'), 'utf8');

    const refused = await fetch(`${started.url}?code=wrong`, { method: 'POST', body });
    assert.equal(refused.status, 401);
    const accepted = await fetch(`${started.url}?code=${INSPECTOR_KEY}`, {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(accepted.status, 200);

    const shown = api.webhookInspector()?.deliveries ?? [];
    assert.equal(shown.length, 1, 'only the keyed delivery is listed');
    const delivery = shown[0];
    assert.equal(delivery?.messageName, 'Update');
    assert.equal(delivery?.primaryEntityName, 'new_customactivity');
    assert.equal(delivery?.primaryEntityId, '841579d9-7e63-ef11-9e4a-00155d0001ea');
    assert.equal(delivery?.stage, 40);
    assert.equal(delivery?.mode, 1);
    assert.equal(delivery?.correlationId, '3860c444-0576-4d79-9877-b0ca8e4e9bd4');
    assert.deepEqual(
      delivery?.preImages.map((image) => image.alias),
      ['Image'],
    );
    assert.ok(delivery?.changes.some((change) => change.column === 'statecode' && change.before !== undefined));
    assert.ok(!api.logLines().some((line) => line.includes(INSPECTOR_KEY)), 'the key is not in the log');

    await vscode.commands.executeCommand(Commands.stopWebhookInspector);
    assert.equal(api.webhookInspector(), undefined);
    await assert.rejects(fetch(started.url, { method: 'POST', body }), 'nothing listens after stop');
  });
});

import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { Commands } from '../../src/extension/constants';
import type { WorkbenchApi } from '../../src/extension/extension';
import type { ExplorerNode } from '../../src/extension/explorer/explorerTree';
import type { FormRegistration, HostMessage } from '../../src/webview/registrationProtocol';
import { activateWorkbench } from './support';

type NodeOf<T extends ExplorerNode['type']> = Extract<ExplorerNode, { type: T }>;
type Row = Record<string, unknown>;

const FORM_SECRET = 'form-secret-4d2a9e';

// The registration form in a real VS Code against the emulator: the test sends the page's messages
// through the same entry the webview's messages take, then reads the registration back from the emulator.
describe('webhook registration form against the emulator', () => {
  let api: WorkbenchApi;
  const hookName = `Form hook ${Date.now()}`;

  const children = (node?: ExplorerNode): Promise<ExplorerNode[]> => api.explorer.getChildren(node);
  const label = (node: ExplorerNode): string => {
    const value = api.explorer.getTreeItem(node).label;
    return typeof value === 'string' ? value : (value?.label ?? '');
  };

  async function rowsOf(query: string): Promise<Row[]> {
    const emulator = api.emulator();
    assert.ok(emulator);
    const response = await fetch(`${emulator.webApi}${query}`, {
      headers: { Authorization: `Bearer ${emulator.token}`, Accept: 'application/json' },
    });
    assert.equal(response.status, 200, query);
    return ((await response.json()) as { value: Row[] }).value;
  }

  async function section(parent: ExplorerNode, name: string): Promise<NodeOf<'section'>> {
    const found = (await children(parent)).find(
      (node): node is NodeOf<'section'> => node.type === 'section' && label(node) === name,
    );
    assert.ok(found, `no ${name} under ${parent.id}`);
    return found;
  }

  async function webhooksRoot(): Promise<NodeOf<'section'>> {
    const emulator = (await children()).find((node) => node.type === 'emulator');
    assert.ok(emulator);
    return section(emulator, 'Webhooks & Steps');
  }

  async function send(message: unknown): Promise<HostMessage> {
    const answer = await api.registrationForm.receive(message);
    assert.ok(answer, `no answer to ${JSON.stringify(message)}`);
    if (answer.type === 'failed') assert.fail(answer.error);
    return answer;
  }

  before(async () => {
    ({ api } = await activateWorkbench());
    await vscode.commands.executeCommand(Commands.startEmulator);
  });

  after(async () => {
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    await vscode.commands.executeCommand(Commands.stopEmulator);
  });

  it('registers a webhook with a step and an image in one Save, offering only the table’s messages', async () => {
    await vscode.commands.executeCommand(Commands.openRegistrationForm, await webhooksRoot());
    assert.equal(api.registrationForm.isOpen, true);
    assert.equal(api.registrationForm.keepsDraftWhenHidden, true, 'a hidden form tab keeps its unsaved draft');
    const init = await send({ type: 'ready' });
    assert.ok(init.type === 'init');
    assert.equal(init.mode, 'create');
    assert.ok(init.tables.some((table) => table.name === 'account'));

    const messages = await send({ type: 'messages', requestId: 1, table: 'account' });
    assert.ok(messages.type === 'messages');
    assert.deepEqual(messages.messages.slice(0, 3), ['Create', 'Update', 'Delete']);
    const filters = await rowsOf(
      `sdkmessagefilters?$select=_sdkmessageid_value&$filter=primaryobjecttypecode eq 'account' and iscustomprocessingstepallowed eq true`,
    );
    assert.equal(messages.messages.length, new Set(filters.map((row) => row._sdkmessageid_value)).size);
    const columns = await send({ type: 'columns', requestId: 2, table: 'account' });
    assert.ok(columns.type === 'columns');
    assert.ok(columns.columns.includes('revenue') && columns.columns.includes('primarycontactid'));

    const registration: FormRegistration = {
      endpoint: {
        ...init.registration.endpoint,
        name: hookName,
        url: 'https://example.test/api/form-hook',
        secret: FORM_SECRET,
      },
      steps: [
        {
          name: '',
          message: 'Update',
          table: 'account',
          stage: 'post-operation',
          mode: 'async',
          rank: 3,
          filteringAttributes: ['revenue'],
          description: '',
          deleteAsyncJobOnSuccess: true,
          enabled: true,
          images: [{ alias: 'before', type: 'pre', columns: ['revenue', 'name'] }],
        },
      ],
    };
    const saved = await send({ type: 'save', requestId: 3, registration });
    assert.ok(saved.type === 'saved', JSON.stringify(saved));
    assert.equal(saved.summary, '3 created');
    assert.equal(saved.registration.endpoint.secret, '', 'the secret is not sent back');

    const [endpoint, ...others] = await rowsOf(
      `serviceendpoints?$select=serviceendpointid,contract,url,authtype,isauthvalueset&$filter=name eq '${hookName}'`,
    );
    assert.equal(others.length, 0);
    assert.equal(endpoint?.contract, 8);
    assert.equal(endpoint?.url, 'https://example.test/api/form-hook');
    assert.equal(endpoint?.authtype, 4);
    assert.equal(endpoint?.isauthvalueset, true);
    const [step] = await rowsOf(
      `sdkmessageprocessingsteps?$select=sdkmessageprocessingstepid,name,stage,mode,rank,filteringattributes,asyncautodelete&$filter=_eventhandler_value eq ${String(endpoint?.serviceendpointid)}`,
    );
    assert.equal(step?.name, `${hookName}: Update of account`);
    assert.equal(step?.stage, 40);
    assert.equal(step?.mode, 1);
    assert.equal(step?.rank, 3);
    assert.equal(step?.filteringattributes, 'revenue');
    assert.equal(step?.asyncautodelete, true);
    const [image] = await rowsOf(
      `sdkmessageprocessingstepimages?$select=entityalias,imagetype,attributes&$filter=_sdkmessageprocessingstepid_value eq ${String(step?.sdkmessageprocessingstepid)}`,
    );
    assert.equal(image?.entityalias, 'before');
    assert.equal(image?.imagetype, 0);
    assert.deepEqual(String(image?.attributes).split(',').sort(), ['name', 'revenue']);
    assert.ok(!api.logLines().some((line) => line.includes(FORM_SECRET)), 'the secret is not in the log');
    assert.ok(
      (await children(await webhooksRoot())).some((node) => label(node) === hookName),
      'the tree shows it',
    );
  });

  it('opens a registered endpoint pre-filled, keeps its secret, and saves only what changed', async () => {
    const endpointNode = await section(await webhooksRoot(), hookName);
    await vscode.commands.executeCommand(Commands.openRegistrationForm, endpointNode);
    const init = await send({ type: 'ready' });
    assert.ok(init.type === 'init');
    assert.equal(init.mode, 'edit');
    assert.equal(init.secretSet, true);
    assert.equal(init.registration.endpoint.keepAuth, true);
    assert.equal(init.registration.endpoint.secret, '');
    assert.ok(!JSON.stringify(init).includes(FORM_SECRET));
    const [step] = init.registration.steps;
    assert.ok(step?.id);
    assert.deepEqual(step.filteringAttributes, ['revenue']);
    assert.deepEqual(
      step.images.map((image) => image.alias),
      ['before'],
    );

    // An invalid combination is refused with the validator's reason, and nothing is sent.
    const refused = await api.registrationForm.receive({
      type: 'save',
      requestId: 4,
      registration: { ...init.registration, steps: [{ ...step, stage: 'pre-operation' }] },
    });
    assert.ok(refused?.type === 'failed');
    assert.match(refused.error, /asynchronous steps run only post-operation/);

    const saved = await send({
      type: 'save',
      requestId: 5,
      registration: { ...init.registration, steps: [{ ...step, rank: 7, images: [] }] },
    });
    assert.ok(saved.type === 'saved');
    assert.equal(saved.summary, '1 updated, 1 deleted');
    const [after] = await rowsOf(
      `sdkmessageprocessingsteps?$select=rank,stage&$filter=sdkmessageprocessingstepid eq ${step.id}`,
    );
    assert.equal(after?.rank, 7);
    assert.equal(after?.stage, 40);
    assert.equal(
      (
        await rowsOf(
          `sdkmessageprocessingstepimages?$select=name&$filter=_sdkmessageprocessingstepid_value eq ${step.id}`,
        )
      ).length,
      0,
    );
    const [endpoint] = await rowsOf(`serviceendpoints?$select=isauthvalueset&$filter=name eq '${hookName}'`);
    assert.equal(endpoint?.isauthvalueset, true, 'the kept secret is still set');
  });

  it('ignores a malformed message from the page', async () => {
    assert.equal(
      await api.registrationForm.receive({ type: 'columns', requestId: 1, table: "account' or 1 eq 1" }),
      undefined,
    );
    assert.ok(api.logLines().some((line) => line.includes('Ignored a malformed message from the registration form')));
  });
});

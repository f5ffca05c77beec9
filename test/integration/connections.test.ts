import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import * as vscode from 'vscode';
import { Commands, Settings } from '../../src/extension/constants';
import type { DeviceCodePrompt } from '../../src/dataverse/auth/index';
import type { ConnectionTestResult } from '../../src/extension/commands/connectionCommands';
import type { RunningEmulator } from '../../src/extension/emulatorHost';
import type { WorkbenchApi } from '../../src/extension/extension';
import type { BlockRun } from '../../src/extension/run/odataRunner';
import { activateWorkbench, ScriptedInput } from './support';

const CLIENT_ID = '0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0';
/** Any JWT (the emulator's and Entra's access tokens are JWTs): none may reach a log or settings. */
const JWT = /eyJ[\w-]{5,}\.[\w-]{5,}\.[\w-]{5,}/;

function storedEnvironments(): unknown {
  return vscode.workspace.getConfiguration(Settings.section).get(Settings.environments);
}

async function setEnvironments(value: unknown): Promise<void> {
  await vscode.workspace
    .getConfiguration(Settings.section)
    .update(Settings.environments, value, vscode.ConfigurationTarget.Global);
}

/** Runs a command with scripted answers and checks that every answer was used. */
async function withAnswers<T>(
  api: WorkbenchApi,
  answers: (string | undefined)[],
  command: string,
  ...args: unknown[]
): Promise<T> {
  const input = new ScriptedInput([...answers]);
  const restore = api.setUserInput(input);
  try {
    const result = await vscode.commands.executeCommand<T>(command, ...args);
    assert.equal(input.prompts.length, answers.length, `prompts asked: ${input.prompts.join(' | ')}`);
    return result;
  } finally {
    restore();
  }
}

/** The message the command wrapper logged for the last failure of `command`. */
function lastFailure(api: WorkbenchApi, command: string): string | undefined {
  return api
    .logLines()
    .filter((line) => line.includes(`${command}: `))
    .at(-1);
}

/** Enters a device code on the emulator's sign-in page, as the user would in a browser. */
function approveDeviceCode(prompt: DeviceCodePrompt, certificatePath: string): Promise<number> {
  const body = new URLSearchParams({ user_code: prompt.userCode }).toString();
  return new Promise((resolve, reject) => {
    const req = request(
      prompt.verificationUri,
      {
        method: 'POST',
        ca: readFileSync(certificatePath, 'utf8'),
        headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'Content-Length': Buffer.byteLength(body) },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

describe('connections: sign-in methods in settings and prompts', () => {
  afterEach(async () => {
    await setEnvironments(undefined);
  });

  it('adds an environment with each sign-in method, keeping only non-secret fields in settings', async () => {
    const { api } = await activateWorkbench();
    const url = 'https://contoso.crm.dynamics.com';
    const cases: { answers: (string | undefined)[]; auth: unknown }[] = [
      {
        answers: ['Microsoft account', 'contoso.com', CLIENT_ID],
        auth: { method: 'microsoftAccount', tenantId: 'contoso.com', clientId: CLIENT_ID },
      },
      { answers: ['Microsoft account', '', ''], auth: { method: 'microsoftAccount' } },
      {
        answers: ['Client secret', 'contoso.onmicrosoft.com', CLIENT_ID, 'not-in-settings~1'],
        auth: { method: 'clientSecret', tenantId: 'contoso.onmicrosoft.com', clientId: CLIENT_ID },
      },
      { answers: ['Device code', '', ''], auth: { method: 'deviceCode' } },
      {
        answers: ['Browser', 'https://login.microsoftonline.com/contoso.com', CLIENT_ID],
        auth: { method: 'browser', authority: 'https://login.microsoftonline.com/contoso.com', clientId: CLIENT_ID },
      },
      { answers: ['Azure CLI', 'contoso.com'], auth: { method: 'azureCli', tenantId: 'contoso.com' } },
    ];
    const expected: unknown[] = [];
    for (const [index, { answers, auth }] of cases.entries()) {
      const name = `Method ${index}`;
      const added = await withAnswers<string>(api, [url, name, ...answers], Commands.addEnvironment);
      assert.equal(added, name);
      expected.push({ name, url, auth });
    }
    assert.deepEqual(storedEnvironments(), expected);
    assert.ok(!JSON.stringify(storedEnvironments()).includes('not-in-settings~1'));
    // Removing the client-secret environment also forgets its secret.
    await withAnswers(api, ['Method 2', 'Remove'], Commands.removeEnvironment);
  });

  it('refuses a client id that is not a GUID while it is typed', async () => {
    const { api } = await activateWorkbench();
    const input = new ScriptedInput(
      ['https://contoso.crm.dynamics.com', 'Typed', 'Microsoft account', '', undefined],
      ['not-a-guid'],
    );
    const restore = api.setUserInput(input);
    try {
      assert.equal(await vscode.commands.executeCommand(Commands.addEnvironment), undefined);
    } finally {
      restore();
    }
    // URL, name, tenant (empty is allowed), client id: the last refuses the probe value.
    assert.match(input.validationMessages.at(-1) ?? '', /GUID/);
    assert.deepEqual(storedEnvironments(), []);
  });

  it('edits the URL and the sign-in method of an environment, keeping its variables', async () => {
    const { api } = await activateWorkbench();
    await setEnvironments([{ name: 'Dev', url: 'https://dev.crm.dynamics.com', variables: { top: '5' } }]);
    await withAnswers(api, ['Dev', 'URL', 'https://dev2.crm4.dynamics.com/main.aspx'], Commands.editEnvironment);
    await withAnswers(api, ['Dev', 'Sign-in method', 'Azure CLI', 'contoso.com'], Commands.editEnvironment);
    assert.deepEqual(storedEnvironments(), [
      {
        name: 'Dev',
        url: 'https://dev2.crm4.dynamics.com',
        variables: { top: '5' },
        auth: { method: 'azureCli', tenantId: 'contoso.com' },
      },
    ]);
  });
});

describe('connections against the emulator identity endpoint', () => {
  let api: WorkbenchApi;
  let emulator: RunningEmulator;
  const wrongSecret = `wrong-${Math.random().toString(36).slice(2)}-secret`;

  before(async () => {
    ({ api } = await activateWorkbench());
    await vscode.commands.executeCommand(Commands.startEmulator);
    const running = api.emulator();
    assert.ok(running, 'the emulator is running');
    emulator = running;
  });

  after(async () => {
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    await setEnvironments(undefined);
    await vscode.commands.executeCommand(Commands.stopEmulator);
  });

  /** The add flow for a client-secret environment at the emulator, trusting its certificate. */
  function addAnswers(name: string, secret: string): string[] {
    return [
      emulator.url,
      name,
      'Client secret',
      emulator.authority,
      emulator.certificatePath,
      emulator.clientId,
      secret,
    ];
  }

  it('adds a client-secret environment, tests it with WhoAmI and runs a query through it', async () => {
    assert.equal(await withAnswers(api, addAnswers('Emu', emulator.clientSecret), Commands.addEnvironment), 'Emu');
    assert.deepEqual(storedEnvironments(), [
      {
        name: 'Emu',
        url: emulator.url,
        auth: {
          method: 'clientSecret',
          authority: emulator.authority,
          caFile: emulator.certificatePath,
          clientId: emulator.clientId,
        },
      },
    ]);

    const result = await vscode.commands.executeCommand<ConnectionTestResult | undefined>(
      Commands.testConnection,
      'Emu',
    );
    assert.ok(result, `test connection failed: ${lastFailure(api, Commands.testConnection) ?? ''}`);
    assert.equal(result.connection, 'Emu');
    assert.match(result.userId, /^[0-9a-f-]{36}$/);
    assert.match(result.organizationId, /^[0-9a-f-]{36}$/);

    // Through the active connection: `@environment` lines are not honoured by the runner yet (it reads the
    // variable's name, not its value), so the file does not pin one.
    assert.equal(await withAnswers(api, ['Emu'], Commands.selectEnvironment), 'Emu');
    const document = await vscode.workspace.openTextDocument({
      language: 'odata',
      content: '### Accounts\nGET accounts?$select=name&$top=2\n',
    });
    await vscode.window.showTextDocument(document);
    const runs = await vscode.commands.executeCommand<BlockRun[] | undefined>(Commands.runAll, {
      uri: document.uri.toString(),
    });
    assert.ok(runs, `the query failed: ${lastFailure(api, Commands.runAll) ?? ''}`);
    assert.equal(runs.length, 1);
    assert.equal(runs[0]?.connection.name, 'Emu');
    assert.equal(runs[0]?.result.status, 200);
    assert.equal((runs[0]?.result.body as { value: unknown[] }).value.length, 2);
  });

  it('a wrong secret fails the test with an auth message that does not contain it', async () => {
    await withAnswers(api, ['Emu', 'Replace client secret', wrongSecret], Commands.editEnvironment);
    const result = await vscode.commands.executeCommand(Commands.testConnection, 'Emu');
    assert.equal(result, undefined, 'the test fails');
    const failure = lastFailure(api, Commands.testConnection) ?? '';
    assert.match(failure, /Could not sign in to Emu/);
    assert.match(failure, /invalid_client/);
    assert.match(failure, /Edit Environment/);
    assert.ok(!failure.includes(wrongSecret), failure);
    assert.ok(!failure.includes(emulator.clientSecret), failure);

    await withAnswers(api, ['Emu', 'Replace client secret', emulator.clientSecret], Commands.editEnvironment);
    const fixed = await vscode.commands.executeCommand<ConnectionTestResult | undefined>(
      Commands.testConnection,
      'Emu',
    );
    assert.equal(fixed?.connection, 'Emu');
  });

  it('a rename keeps the secret; remove deletes it', async () => {
    await withAnswers(api, ['Emu', 'Name', 'Emu renamed'], Commands.editEnvironment);
    const renamed = await vscode.commands.executeCommand<ConnectionTestResult | undefined>(
      Commands.testConnection,
      'Emu renamed',
    );
    assert.ok(renamed, `after the rename: ${lastFailure(api, Commands.testConnection) ?? ''}`);

    const entry = (storedEnvironments() as unknown[])[0];
    await withAnswers(api, ['Emu renamed', 'Remove'], Commands.removeEnvironment);
    assert.deepEqual(storedEnvironments(), []);
    // The same entry written back by hand has no secret any more, so the sign-in cannot start.
    await setEnvironments([entry]);
    const orphan = await vscode.commands.executeCommand(Commands.testConnection, 'Emu renamed');
    assert.equal(orphan, undefined);
    assert.match(lastFailure(api, Commands.testConnection) ?? '', /No client secret is stored for "Emu renamed"/);
  });

  it('signs in with a device code at the emulator, showing the code to the user', async () => {
    const shown: { environment: string; prompt: DeviceCodePrompt }[] = [];
    const approvals: Promise<number>[] = [];
    const restoreUi = api.setSignInUi({
      openExternal: () => Promise.reject(new Error('a device-code sign-in opens no page by itself')),
      showDeviceCode: (environment, prompt) => {
        shown.push({ environment, prompt });
        approvals.push(approveDeviceCode(prompt, emulator.certificatePath));
      },
    });
    try {
      const answers = [
        emulator.url,
        'Emu device',
        'Device code',
        emulator.authority,
        emulator.certificatePath,
        emulator.clientId,
      ];
      await withAnswers(api, answers, Commands.addEnvironment);
      const result = await vscode.commands.executeCommand<ConnectionTestResult | undefined>(
        Commands.testConnection,
        'Emu device',
      );
      assert.ok(result, `device-code sign-in: ${lastFailure(api, Commands.testConnection) ?? ''}`);
      assert.equal(shown.length, 1);
      assert.equal(shown[0]?.environment, 'Emu device');
      assert.match(shown[0]?.prompt.verificationUri ?? '', /^https:\/\/127\.0\.0\.1:\d+\//);
      assert.deepEqual(await Promise.all(approvals), [200]);
    } finally {
      restoreUi();
    }
  });

  it('never writes a secret or a token to the log or the settings file', async () => {
    const lines = api.logLines();
    // The earlier tests of this suite signed in, failed and queried: the log has their lines.
    assert.ok(lines.some((line) => line.includes('Added environment "Emu"')));
    assert.ok(lines.some((line) => line.includes('Emu: signed in as user')));
    const secrets = [emulator.clientSecret, wrongSecret, emulator.token];
    for (const line of lines) {
      for (const secret of secrets) assert.ok(!line.includes(secret), `a secret in the log: ${line.slice(0, 80)}`);
      assert.doesNotMatch(line, JWT, 'a token in the log');
    }
    const settings = new TextDecoder().decode(await vscode.workspace.fs.readFile(api.userSettingsUri));
    assert.match(settings, /"Emu renamed"/, 'the settings file holds the environment');
    for (const secret of secrets) assert.ok(!settings.includes(secret), 'a secret in the settings file');
    assert.doesNotMatch(settings, JWT);
  });
});

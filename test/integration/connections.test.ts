import * as assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { fork } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { generate } from 'selfsigned';
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
    assert.match(failure, /Sign-in to Emu failed/);
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

/** What `dvw emulator --json` announces; the fields a certificate sign-in needs. */
interface CertificateEmulator {
  readonly url: string;
  readonly authority: string;
  readonly clientId: string;
  readonly certificatePath: string;
}

/**
 * Runs `dvw emulator` (the extension's own dist/cli.js) with a client certificate registered on its identity
 * endpoint's app, as `--client-certificate` does for anyone: the emulator the extension starts registers none.
 */
function startCertificateEmulator(
  cli: string,
  registered: string,
): Promise<{ child: ChildProcess; emulator: CertificateEmulator }> {
  const child = fork(cli, ['emulator', '--json', '--port', '0', '--seed', 'none', '--client-certificate', registered], {
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const line = stdout.split('\n')[0];
      if (line === undefined || !stdout.includes('\n')) return;
      try {
        resolve({ child, emulator: JSON.parse(line) as CertificateEmulator });
      } catch (error) {
        reject(error instanceof Error ? error : new Error(String(error)));
      }
    });
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`dvw emulator exited (${code ?? 'signal'}): ${stderr}`)));
  });
}

describe('certificate sign-in (clientCertificate) against the emulator identity endpoint', () => {
  let api: WorkbenchApi;
  let directory: string;
  let child: ChildProcess | undefined;
  let emulator: CertificateEmulator;
  let key: string;
  /** Key and certificate in one file, as `az login --service-principal --certificate` and `dvw` take it. */
  let appPem: string;
  /** The certificate alone: what the app registration holds, not enough to sign in with. */
  let publicPem: string;

  before(async () => {
    let extension: vscode.Extension<WorkbenchApi>;
    ({ api, extension } = await activateWorkbench());
    const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
    key = pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const { cert } = await generate([{ name: 'commonName', value: 'workbench integration test' }], {
      keyPair: { privateKey: key, publicKey: pair.publicKey.export({ type: 'spki', format: 'pem' }).toString() },
      algorithm: 'sha256',
    });
    directory = mkdtempSync(path.join(tmpdir(), 'dvw-cert-it-'));
    appPem = path.join(directory, 'app.pem');
    publicPem = path.join(directory, 'public.pem');
    writeFileSync(appPem, `${key}${cert}`, { mode: 0o600 });
    writeFileSync(publicPem, cert);
    ({ child, emulator } = await startCertificateEmulator(
      path.join(extension.extensionPath, 'dist', 'cli.js'),
      publicPem,
    ));
  });

  after(async () => {
    await setEnvironments(undefined);
    const running = child;
    child = undefined;
    if (running && running.exitCode === null && running.signalCode === null) {
      const exited = new Promise((resolve) => running.once('exit', resolve));
      running.kill('SIGTERM');
      await exited;
    }
    rmSync(directory, { recursive: true, force: true });
  });

  /** URL, name, method, authority, its CA file, client id: everything before the PEM file. */
  function beforePem(name: string): string[] {
    return [emulator.url, name, 'Client certificate', emulator.authority, emulator.certificatePath, emulator.clientId];
  }

  it('adds an environment with a PEM file picked in the dialog, keeps only its path and signs in for WhoAmI', async () => {
    const input = new ScriptedInput([...beforePem('Emu cert'), appPem], [CLIENT_ID.replace(/-/g, '')]);
    const restore = api.setUserInput(input);
    try {
      assert.equal(await vscode.commands.executeCommand(Commands.addEnvironment), 'Emu cert');
    } finally {
      restore();
    }
    // URL, name, method, authority, CA file, client id, and the file dialog last.
    assert.equal(input.prompts.length, 7, input.prompts.join(' | '));
    assert.match(input.prompts.at(-1) ?? '', /PEM file with the private key and the certificate/);
    // The client id box refuses a GUID without dashes as it is typed.
    assert.match(input.validationMessages.at(-1) ?? '', /GUID/);
    assert.deepEqual(storedEnvironments(), [
      {
        name: 'Emu cert',
        url: emulator.url,
        auth: {
          method: 'clientCertificate',
          authority: emulator.authority,
          caFile: emulator.certificatePath,
          clientId: emulator.clientId,
          certificateFile: appPem,
        },
      },
    ]);

    const result = await vscode.commands.executeCommand<ConnectionTestResult | undefined>(
      Commands.testConnection,
      'Emu cert',
    );
    assert.ok(result, `test connection failed: ${lastFailure(api, Commands.testConnection) ?? ''}`);
    assert.equal(result.connection, 'Emu cert');
    assert.match(result.userId, /^[0-9a-f-]{36}$/);
    assert.match(result.organizationId, /^[0-9a-f-]{36}$/);
  });

  it('refuses a PEM without a private key with a message that says what to do, keeping the answers given', async () => {
    const input = new ScriptedInput([...beforePem('Emu cert 2'), publicPem, 'Choose Another File', appPem]);
    const restore = api.setUserInput(input);
    try {
      assert.equal(await vscode.commands.executeCommand(Commands.addEnvironment), 'Emu cert 2');
    } finally {
      restore();
    }
    // The refusal is the prompt between the two file dialogs.
    assert.equal(input.prompts.length, 9, input.prompts.join(' | '));
    const refusal = input.prompts[7] ?? '';
    assert.ok(refusal.startsWith(`${publicPem} holds no PEM private key. Choose a PEM file with both`), refusal);
    assert.match(input.prompts[8] ?? '', /PEM file with the private key and the certificate/);
    // Authority, CA file and client id were asked once and kept; the good file replaced the bad one.
    const stored = (storedEnvironments() as { name: string; auth: unknown }[]).find((e) => e.name === 'Emu cert 2');
    assert.deepEqual(stored?.auth, {
      method: 'clientCertificate',
      authority: emulator.authority,
      caFile: emulator.certificatePath,
      clientId: emulator.clientId,
      certificateFile: appPem,
    });

    // Declining to choose another file cancels the command and saves nothing.
    const before = storedEnvironments();
    const cancelled = new ScriptedInput([...beforePem('Emu cert 3'), publicPem, undefined]);
    const restoreCancelled = api.setUserInput(cancelled);
    try {
      assert.equal(await vscode.commands.executeCommand(Commands.addEnvironment), undefined);
    } finally {
      restoreCancelled();
    }
    assert.equal(cancelled.prompts.length, 8, cancelled.prompts.join(' | '));
    assert.deepEqual(storedEnvironments(), before);
  });

  it('a settings entry pointing at a PEM without a key fails the sign-in with the same message', async () => {
    // Written by hand next to the environments added above, as a user might.
    await setEnvironments([
      ...(storedEnvironments() as unknown[]),
      {
        name: 'Emu public',
        url: emulator.url,
        auth: {
          method: 'clientCertificate',
          authority: emulator.authority,
          caFile: emulator.certificatePath,
          clientId: emulator.clientId,
          certificateFile: publicPem,
        },
      },
    ]);
    const result = await vscode.commands.executeCommand(Commands.testConnection, 'Emu public');
    assert.equal(result, undefined, 'the test fails');
    const failure = lastFailure(api, Commands.testConnection) ?? '';
    assert.ok(failure.includes(`${publicPem} holds no PEM private key.`), failure);
    assert.match(failure, /Edit Environment/);
  });

  it('Edit Environment picks another PEM file for the sign-in, after which it works', async () => {
    const answers = [
      'Emu public',
      'Sign-in method',
      'Client certificate',
      emulator.authority,
      emulator.certificatePath,
      emulator.clientId,
      appPem,
    ];
    assert.equal(await withAnswers(api, answers, Commands.editEnvironment), 'Emu public');
    const stored = (storedEnvironments() as { name: string; auth: { certificateFile?: string } }[]).find(
      (e) => e.name === 'Emu public',
    );
    assert.equal(stored?.auth.certificateFile, appPem);
    const result = await vscode.commands.executeCommand<ConnectionTestResult | undefined>(
      Commands.testConnection,
      'Emu public',
    );
    assert.ok(result, `after the edit: ${lastFailure(api, Commands.testConnection) ?? ''}`);
  });

  it('never writes the private key to the log or the settings file', async () => {
    // The key's base64 lines (64 characters each, a short last one left out): no log line or setting holds one.
    const keyLines = key.split('\n').filter((line) => line.length >= 32 && !line.startsWith('-----'));
    assert.ok(keyLines.length > 10);
    const lines = api.logLines();
    assert.ok(lines.some((line) => line.includes('Emu cert: signed in as user')));
    for (const line of lines) {
      assert.ok(!line.includes('PRIVATE KEY'), `a key in the log: ${line.slice(0, 80)}`);
      for (const part of keyLines) assert.ok(!line.includes(part), `a key line in the log: ${line.slice(0, 80)}`);
    }
    const settings = new TextDecoder().decode(await vscode.workspace.fs.readFile(api.userSettingsUri));
    assert.ok(settings.includes(JSON.stringify(appPem).slice(1, -1)), 'the settings file holds the path');
    assert.ok(!settings.includes('PRIVATE KEY'), 'a key in the settings file');
    for (const part of keyLines) assert.ok(!settings.includes(part), 'a key line in the settings file');
  });
});

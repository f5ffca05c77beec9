import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generate } from 'selfsigned';
import { resolveConnection } from '../../../src/cli/connections';
import { runCli } from '../../../src/cli/program';
import { WorkbenchError } from '../../../src/core/errors';
import { ClientCertificateTokenProvider } from '../../../src/dataverse/auth';
import type { RunningEmulator } from '../../../src/emulator/server';
import { startEmulator } from '../../../src/emulator/server';

async function capture(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(argv, { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t) });
  return { code, stdout, stderr };
}

describe('dvw with a service principal certificate', function () {
  this.timeout(60_000);
  let directory: string;
  let emulator: RunningEmulator | undefined;
  let key: string;
  let certificate: string;
  const saved = process.env.DVW_CONFIG_DIR;

  before(async () => {
    const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
    key = pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const pems = await generate([{ name: 'commonName', value: 'dvw cli test' }], {
      keyPair: { privateKey: key, publicKey: pair.publicKey.export({ type: 'spki', format: 'pem' }).toString() },
      algorithm: 'sha256',
    });
    certificate = pems.cert;
  });
  beforeEach(() => {
    directory = mkdtempSync(join(tmpdir(), 'dvw-cert-'));
    process.env.DVW_CONFIG_DIR = join(directory, 'config');
  });
  afterEach(async () => {
    await emulator?.close();
    emulator = undefined;
    if (saved === undefined) delete process.env.DVW_CONFIG_DIR;
    else process.env.DVW_CONFIG_DIR = saved;
    rmSync(directory, { recursive: true, force: true });
  });

  it('env add --auth client-certificate stores the path, never the key, and --env signs in with it', async () => {
    const e = (emulator = await startEmulator({ port: 0, seed: 'none', clientCertificates: [certificate] }));
    const pem = join(directory, 'app.pem');
    writeFileSync(pem, `${key}${certificate}`, { mode: 0o600 });
    const add = await capture([
      'env',
      'add',
      'cert',
      '--url',
      e.url,
      '--auth',
      'client-certificate',
      '--certificate',
      pem,
      '--client-id',
      e.clientId,
      '--authority',
      e.authority,
      '--ca-file',
      e.certificatePath,
    ]);
    assert.equal(add.code, 0, add.stderr);
    const stored = readFileSync(join(directory, 'config', 'connections.json'), 'utf8');
    assert.ok(stored.includes(pem));
    assert.ok(!stored.includes('PRIVATE KEY') && !stored.includes(key.split('\n')[1] ?? 'none'));

    const test = await capture(['env', 'test', 'cert']);
    assert.equal(test.code, 0, test.stderr);
    assert.match(test.stdout, new RegExp(`signed in as user ${e.userId}`));

    const file = join(directory, 'q.odata');
    writeFileSync(file, 'GET accounts?$select=nosuchcolumn\n');
    const check = await capture(['check', file, '--env', 'cert']);
    assert.equal(check.code, 1, check.stderr);
    assert.match(check.stdout, /\[unknownColumn\]/);
  });

  it('env add refuses client-certificate without a certificate file', async () => {
    const add = await capture([
      'env',
      'add',
      'x',
      '--url',
      'https://contoso.crm.dynamics.com',
      '--auth',
      'client-certificate',
      '--client-id',
      '11111111-2222-3333-4444-555555555555',
      '--tenant',
      'contoso.onmicrosoft.com',
    ]);
    assert.equal(add.code, 2);
    assert.match(add.stderr, /'certificateFile' \(a PEM file with the private key and the certificate\) is needed/);
  });

  it('DATAVERSE_CLIENT_CERTIFICATE signs in for --url; a file without a key is an invalidInput error', async () => {
    const e = (emulator = await startEmulator({ port: 0, seed: 'none', clientCertificates: [certificate] }));
    const pem = join(directory, 'app.pem');
    writeFileSync(pem, `${certificate}\n${key}`);
    const env = {
      DATAVERSE_CLIENT_ID: e.clientId,
      DATAVERSE_AUTHORITY: e.authority,
      DATAVERSE_CA_FILE: e.certificatePath,
      DATAVERSE_CLIENT_CERTIFICATE: pem,
    };
    const resolved = await resolveConnection({ url: e.url }, env);
    assert.ok(resolved.tokenProvider instanceof ClientCertificateTokenProvider);
    assert.match(resolved.label, /client certificate/);
    const token = await resolved.tokenProvider.getToken(new AbortController().signal);
    assert.ok(token.token.length > 0);

    const publicOnly = join(directory, 'public.pem');
    writeFileSync(publicOnly, certificate);
    await assert.rejects(
      resolveConnection({ url: e.url }, { ...env, DATAVERSE_CLIENT_CERTIFICATE: publicOnly }),
      (error: unknown) =>
        error instanceof WorkbenchError &&
        error.kind === 'invalidInput' &&
        /holds no PEM private key/.test(error.message),
    );
  });
});

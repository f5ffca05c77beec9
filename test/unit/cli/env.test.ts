import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { redact, resolveConnection } from '../../../src/cli/connections';
import { runCli } from '../../../src/cli/program';
import { WorkbenchError } from '../../../src/core/errors';
import {
  ClientSecretTokenProvider,
  DeviceCodeTokenProvider,
  InteractiveTokenProvider,
} from '../../../src/dataverse/auth';
import { configDirectory, parseConnections } from '../../../src/dataverse/connectionsFile';

async function capture(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(argv, { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t) });
  return { code, stdout, stderr };
}

async function refusal(promise: Promise<unknown>): Promise<WorkbenchError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof WorkbenchError) return error;
    throw error;
  }
  throw new Error('expected a refusal');
}

const never = new AbortController().signal;
const CLIENT_ID = '11111111-2222-3333-4444-555555555555';

describe('dvw env and resolveConnection', () => {
  let directory: string;
  const saved = process.env.DVW_CONFIG_DIR;
  beforeEach(() => {
    directory = mkdtempSync(join(tmpdir(), 'dvw-env-'));
    process.env.DVW_CONFIG_DIR = directory;
  });
  afterEach(() => {
    if (saved === undefined) delete process.env.DVW_CONFIG_DIR;
    else process.env.DVW_CONFIG_DIR = saved;
    rmSync(directory, { recursive: true, force: true });
  });

  it('adds, lists and removes environments in the connections file, without secrets', async () => {
    const add = await capture([
      'env',
      'add',
      'prod',
      '--url',
      'https://contoso.crm.dynamics.com',
      '--tenant',
      'contoso.onmicrosoft.com',
      '--client-id',
      '11111111-2222-3333-4444-555555555555',
    ]);
    assert.equal(add.code, 0, add.stderr);
    assert.equal(
      (await capture(['env', 'add', 'dev', '--url', 'https://dev.crm4.dynamics.com', '--auth', 'device-code'])).code,
      0,
    );
    const again = await capture([
      'env',
      'add',
      'PROD',
      '--url',
      'https://other.crm.dynamics.com',
      '--auth',
      'azure-cli',
    ]);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /exists already/);
    const list = await capture(['env', 'list']);
    assert.match(list.stdout, /^NAME\s+URL\s+AUTH/m);
    assert.match(
      list.stdout,
      /^prod\s+https:\/\/contoso\.crm\.dynamics\.com\s+clientSecret\s+contoso\.onmicrosoft\.com/m,
    );
    const json = JSON.parse((await capture(['env', 'list', '--json'])).stdout) as { name: string }[];
    assert.deepEqual(
      json.map((c) => c.name),
      ['prod', 'dev'],
    );
    const file = readFileSync(join(directory, 'connections.json'), 'utf8');
    assert.deepEqual(parseConnections(file, 'connections.json').environments.length, 2);
    assert.equal((await capture(['env', 'remove', 'dev'])).code, 0);
    const missing = await capture(['env', 'remove', 'dev']);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /no environment is named 'dev'/);
  });

  it('refuses bad input with exit code 2', async () => {
    const http = await capture(['env', 'add', 'x', '--url', 'http://contoso.crm.dynamics.com', '--auth', 'azure-cli']);
    assert.equal(http.code, 2);
    assert.match(http.stderr, /https/);
    const noClient = await capture(['env', 'add', 'x', '--url', 'https://contoso.crm.dynamics.com']);
    assert.equal(noClient.code, 2);
    assert.match(noClient.stderr, /'clientId' \(the app registration\) is needed for clientSecret sign-in/);
    const badName = await capture([
      'env',
      'add',
      'no spaces',
      '--url',
      'https://c.crm.dynamics.com',
      '--auth',
      'azure-cli',
    ]);
    assert.equal(badName.code, 2);
    const badAuth = await capture(['env', 'add', 'x', '--url', 'https://c.crm.dynamics.com', '--auth', 'password']);
    assert.equal(badAuth.code, 2);
  });

  it('refuses a hand-edited connections file that holds a secret, without quoting it', async () => {
    writeFileSync(
      join(directory, 'connections.json'),
      JSON.stringify({
        version: 1,
        environments: [
          { name: 'x', url: 'https://c.crm.dynamics.com', auth: 'azure-cli', clientSecret: 'hunter2-secret' },
        ],
      }),
    );
    const list = await capture(['env', 'list']);
    assert.equal(list.code, 2);
    assert.match(list.stderr, /secrets are never stored/);
    assert.doesNotMatch(list.stderr, /hunter2/);
  });

  it('resolves --url with --token, DATAVERSE_TOKEN, or client-credential variables', async () => {
    const url = 'https://contoso.crm.dynamics.com';
    const byFlag = await resolveConnection({ url, token: 'flag-token' }, { DATAVERSE_TOKEN: 'env-token' });
    assert.equal((await byFlag.tokenProvider.getToken(never)).token, 'flag-token');
    const byEnv = await resolveConnection({}, { DATAVERSE_URL: url, DATAVERSE_TOKEN: 'env-token' });
    assert.equal(byEnv.url, url);
    assert.equal((await byEnv.tokenProvider.getToken(never)).token, 'env-token');
    assert.deepEqual(byEnv.secrets, ['env-token']);
    const byCredentials = await resolveConnection(
      { url },
      {
        DATAVERSE_TENANT_ID: 'contoso.onmicrosoft.com',
        DATAVERSE_CLIENT_ID: CLIENT_ID,
        DATAVERSE_CLIENT_SECRET: 's3cret',
      },
    );
    assert.ok(byCredentials.tokenProvider instanceof ClientSecretTokenProvider);
    assert.deepEqual(byCredentials.secrets, ['s3cret']);
    assert.match((await refusal(resolveConnection({ url }, {}))).message, /no access token/);
    assert.match(
      (await refusal(resolveConnection({ url }, { DATAVERSE_CLIENT_ID: CLIENT_ID, DATAVERSE_TENANT_ID: 't' }))).message,
      /DATAVERSE_CLIENT_SECRET is not/,
    );
    assert.match((await refusal(resolveConnection({}, {}))).message, /no environment URL/);
    assert.match((await refusal(resolveConnection({ env: 'a', url }, {}))).message, /not both/);
  });

  it('resolves --env NAME from the file: the secret from the environment, device code through the notifier', async () => {
    const env = { DVW_CONFIG_DIR: directory };
    await capture([
      'env',
      'add',
      'sp',
      '--url',
      'https://c.crm.dynamics.com',
      '--tenant',
      't.onmicrosoft.com',
      '--client-id',
      CLIENT_ID,
    ]);
    await capture(['env', 'add', 'me', '--url', 'https://c.crm.dynamics.com', '--auth', 'device-code']);
    const noSecret = await refusal(resolveConnection({ env: 'sp' }, env));
    assert.equal(noSecret.kind, 'invalidInput');
    assert.match(noSecret.message, /set DATAVERSE_CLIENT_SECRET/);
    const prompted = await resolveConnection({ env: 'sp' }, env, {
      promptSecret: () => Promise.resolve('typed-secret'),
    });
    assert.deepEqual(prompted.secrets, ['typed-secret']);
    const sp = await resolveConnection({ env: 'SP' }, { ...env, DATAVERSE_CLIENT_SECRET: 'from-env' });
    assert.ok(sp.tokenProvider instanceof ClientSecretTokenProvider);
    assert.equal(sp.url, 'https://c.crm.dynamics.com');
    const me = await resolveConnection({ env: 'me' }, env);
    assert.ok(me.tokenProvider instanceof DeviceCodeTokenProvider);
    assert.match((await refusal(resolveConnection({ env: 'nope' }, env))).message, /no environment is named 'nope'/);
  });

  it('finds its directory: DVW_CONFIG_DIR, then XDG_CONFIG_HOME, then ~/.config', () => {
    assert.equal(configDirectory({ DVW_CONFIG_DIR: '/t/c', XDG_CONFIG_HOME: '/x' }, '/home/u'), '/t/c');
    assert.equal(configDirectory({ XDG_CONFIG_HOME: '/x' }, '/home/u'), join('/x', 'dataverse-workbench'));
    if (process.platform !== 'win32') {
      assert.equal(configDirectory({}, '/home/u'), join('/home/u', '.config', 'dataverse-workbench'));
    }
  });

  it('redact hides every occurrence of a secret', () => {
    assert.equal(redact('a s3cret b s3cret', ['s3cret']), 'a *** b ***');
  });

  it('refuses a CA file for an authority that is not on this machine, as the extension does (Issue 14.6)', async () => {
    const ca = join(directory, 'ca.pem');
    writeFileSync(ca, '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
    const add = await capture([
      'env',
      'add',
      'x',
      '--url',
      'https://c.crm.dynamics.com',
      '--tenant',
      'contoso.onmicrosoft.com',
      '--client-id',
      CLIENT_ID,
      '--ca-file',
      ca,
    ]);
    assert.equal(add.code, 2);
    assert.match(add.stderr, /'caFile' is only for a loopback authority/);
    const variables = {
      DATAVERSE_CLIENT_ID: CLIENT_ID,
      DATAVERSE_CLIENT_SECRET: 's3cret',
      DATAVERSE_AUTHORITY: 'https://login.example.net/contoso',
      DATAVERSE_CA_FILE: ca,
    };
    const refused = await refusal(resolveConnection({ url: 'https://c.crm.dynamics.com' }, variables));
    assert.equal(refused.kind, 'invalidInput');
    assert.match(refused.message, /DATAVERSE_CA_FILE is only for a loopback authority/);
    const loopback = await resolveConnection(
      { url: 'https://c.crm.dynamics.com' },
      { ...variables, DATAVERSE_AUTHORITY: 'https://127.0.0.1:5556/tenant' },
    );
    assert.ok(loopback.tokenProvider instanceof ClientSecretTokenProvider);
  });

  it('reads a connections file written with the old method names', async () => {
    writeFileSync(
      join(directory, 'connections.json'),
      JSON.stringify({
        version: 1,
        environments: [
          {
            name: 'a',
            url: 'https://a.crm.dynamics.com',
            auth: 'client-secret',
            tenantId: 't.com',
            clientId: CLIENT_ID,
          },
          { name: 'b', url: 'https://b.crm.dynamics.com', auth: 'device-code' },
          { name: 'c', url: 'https://c.crm.dynamics.com', auth: 'interactive' },
          { name: 'd', url: 'https://d.crm.dynamics.com', auth: 'azure-cli', tenantId: 't.com' },
          { name: 'e', url: 'https://e.crm.dynamics.com', tenantId: 't.com', clientId: CLIENT_ID },
        ],
      }),
    );
    const list = await capture(['env', 'list', '--json']);
    assert.equal(list.code, 0, list.stderr);
    const entries = JSON.parse(list.stdout) as { name: string; auth: string }[];
    assert.deepEqual(
      entries.map((entry) => `${entry.name}:${entry.auth}`),
      ['a:clientSecret', 'b:deviceCode', 'c:browser', 'd:azureCli', 'e:clientSecret'],
    );
    const browser = await resolveConnection({ env: 'c' }, { DVW_CONFIG_DIR: directory });
    assert.ok(browser.tokenProvider instanceof InteractiveTokenProvider);
  });
});

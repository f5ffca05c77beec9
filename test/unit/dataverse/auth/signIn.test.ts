import * as assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { generate } from 'selfsigned';
import { resolveConnection } from '../../../../src/cli/connections';
import type { AuthMethod, EnvironmentAuth } from '../../../../src/core/environments';
import { AUTH_METHODS } from '../../../../src/core/environments';
import { WorkbenchError } from '../../../../src/core/errors';
import type { RunningEmulator } from '../../../../src/emulator/server';
import { startEmulator } from '../../../../src/emulator/server';
import {
  AzureCliTokenProvider,
  ClientCertificateTokenProvider,
  ClientSecretTokenProvider,
  DeviceCodeTokenProvider,
  InteractiveTokenProvider,
} from '../../../../src/dataverse/auth';
import {
  CHOOSE_ANOTHER_PEM,
  certificateTokenProvider,
  createTokenProvider,
} from '../../../../src/dataverse/auth/signIn';
import { connectionsPath, writeConnections } from '../../../../src/dataverse/connectionsFile';
import type { TokenProvider } from '../../../../src/dataverse/webApiClient';
import { staticTokenProvider } from '../../../../src/dataverse/webApiClient';
import { EnvironmentSecrets } from '../../../../src/extension/auth/environmentSecrets';
import { extensionSignInPorts } from '../../../../src/extension/auth/signInPorts';

// The checks a chosen PEM file goes through (the extension's "Edit Environment" and every sign-in of either
// front end) run in plain Node, on real files and real keys.

const CLIENT_ID = '0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0';

interface Credential {
  readonly key: string;
  readonly certificate: string;
}

async function newCredential(name: string): Promise<Credential & { pkcs1: string; encrypted: string }> {
  const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const key = pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const pems = await generate([{ name: 'commonName', value: name }], {
    keyPair: { privateKey: key, publicKey: pair.publicKey.export({ type: 'spki', format: 'pem' }).toString() },
    algorithm: 'sha256',
  });
  return {
    key,
    certificate: pems.cert,
    pkcs1: pair.privateKey.export({ type: 'pkcs1', format: 'pem' }).toString(),
    encrypted: pair.privateKey
      .export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'not-the-point' })
      .toString(),
  };
}

/** The base64 body of a PEM block: what must never reach a message. */
function bodyOf(pem: string): string {
  return pem.split('\n').slice(1, 3).join('');
}

describe('client certificate files', function () {
  this.timeout(60_000);
  let directory: string;
  let app: Awaited<ReturnType<typeof newCredential>>;
  let other: Credential;

  before(async () => {
    app = await newCredential('workbench extension test');
    other = await newCredential('another app');
  });
  beforeEach(() => {
    directory = mkdtempSync(path.join(tmpdir(), 'dvw-ext-cert-'));
  });
  afterEach(() => {
    rmSync(directory, { recursive: true, force: true });
  });

  function pemFile(name: string, content: string): string {
    const file = path.join(directory, name);
    writeFileSync(file, content, { mode: 0o600 });
    return file;
  }

  function signIn(file: string) {
    return {
      file,
      authority: 'https://login.microsoftonline.com/contoso.onmicrosoft.com',
      clientId: CLIENT_ID,
      environmentUrl: 'https://contoso.crm.dynamics.com',
    };
  }

  /** Expects an invalidInput refusal that matches `pattern`, names no key or certificate content. */
  async function refused(file: string, pattern: RegExp, fix = CHOOSE_ANOTHER_PEM): Promise<void> {
    await assert.rejects(certificateTokenProvider(signIn(file), fix), (error: unknown) => {
      assert.ok(error instanceof WorkbenchError);
      assert.equal(error.kind, 'invalidInput');
      assert.match(error.message, pattern);
      assert.ok(error.message.endsWith(fix), error.message);
      for (const secret of [app.key, app.pkcs1, app.encrypted, app.certificate, other.key]) {
        assert.ok(!error.message.includes(bodyOf(secret)), 'PEM content in the message');
      }
      return true;
    });
  }

  it('accepts key and certificate in either order and with a PKCS#1 key, naming the certificate by thumbprint', async () => {
    const thumbprint = createHash('sha256')
      .update(new X509Certificate(app.certificate).raw)
      .digest('hex')
      .toUpperCase();
    for (const content of [
      `${app.key}${app.certificate}`,
      `${app.certificate}\n${app.key}`,
      app.pkcs1 + app.certificate,
    ]) {
      const provider = await certificateTokenProvider(signIn(pemFile('app.pem', content)));
      assert.equal(provider.thumbprint, thumbprint);
    }
  });

  it('refuses a PEM without a key, without a certificate, with an encrypted or a foreign key, saying what to do', async () => {
    await refused(pemFile('public.pem', app.certificate), /public\.pem holds no PEM private key\./);
    await refused(pemFile('key.pem', app.key), /key\.pem holds no PEM certificate\./);
    await refused(pemFile('locked.pem', app.encrypted + app.certificate), /locked\.pem holds an encrypted private key/);
    await refused(
      pemFile('mixed.pem', other.key + app.certificate),
      /mixed\.pem: The private key does not belong to the client certificate\./,
    );
    await refused(
      pemFile('broken.pem', app.key + app.certificate.replace(/[A-Za-z]{40}/, 'x')),
      /broken\.pem: The client certificate is not a PEM certificate\./,
    );
  });

  it('refuses a missing file, a folder and a huge file before reading them, with the fix the caller gives', async () => {
    const fix = 'Fix it in "Edit Environment".';
    await refused(path.join(directory, 'missing.pem'), /missing\.pem could not be read\./, fix);
    await refused(directory, /is not a file\./, fix);
    await refused(pemFile('huge.pem', 'A'.repeat(1024 * 1024 + 1)), /too large/, fix);
  });

  it('signs in at the emulator identity endpoint with the certificate registered there', async () => {
    let emulator: RunningEmulator | undefined;
    try {
      emulator = await startEmulator({ port: 0, seed: 'none', clientCertificates: [app.certificate] });
      const provider = await certificateTokenProvider(
        {
          file: pemFile('app.pem', app.key + app.certificate),
          authority: emulator.authority,
          clientId: emulator.clientId,
          environmentUrl: emulator.url,
        },
        undefined,
        { trustedCertificate: readFileSync(emulator.certificatePath, 'utf8') },
      );
      const token = await provider.getToken(new AbortController().signal);
      assert.ok(token.token.length > 0);

      const foreign = await certificateTokenProvider(
        {
          file: pemFile('other.pem', other.key + other.certificate),
          authority: emulator.authority,
          clientId: emulator.clientId,
          environmentUrl: emulator.url,
        },
        undefined,
        { trustedCertificate: readFileSync(emulator.certificatePath, 'utf8') },
      );
      await assert.rejects(foreign.getToken(new AbortController().signal), (error: unknown) => {
        assert.ok(error instanceof WorkbenchError);
        assert.equal(error.kind, 'auth');
        assert.ok(!error.message.includes(bodyOf(other.key)));
        return true;
      });
    } finally {
      await emulator?.close();
    }
  });
});

describe('tokenProviderFor: every sign-in method through both front ends (Issue 13.1)', function () {
  this.timeout(120_000);
  let emulator: RunningEmulator;
  let directory: string;
  let app: Credential;
  const signal = new AbortController().signal;
  const vscodeAccount = staticTokenProvider('vscode-session-token');

  before(async () => {
    app = await newCredential('both front ends');
    emulator = await startEmulator({ port: 0, seed: 'none', clientCertificates: [app.certificate] });
    directory = mkdtempSync(path.join(tmpdir(), 'dvw-sign-in-'));
  });
  after(async () => {
    await emulator.close();
    rmSync(directory, { recursive: true, force: true });
  });

  /** The extension's ports over a SecretStorage held in a map (VS Code's own is the OS keychain). */
  async function viaExtension(name: string, auth: EnvironmentAuth): Promise<TokenProvider> {
    const stored = new Map<string, string>();
    const storage = {
      get: (key: string) => Promise.resolve(stored.get(key)),
      store: (key: string, value: string) => Promise.resolve(void stored.set(key, value)),
      delete: (key: string) => Promise.resolve(void stored.delete(key)),
    };
    const secrets = new EnvironmentSecrets(storage as unknown as ConstructorParameters<typeof EnvironmentSecrets>[0]);
    await secrets.setClientSecret(name, emulator.clientSecret);
    const ui = { openExternal: () => Promise.resolve(), showDeviceCode: () => undefined };
    return createTokenProvider(
      { name, url: emulator.url, auth },
      extensionSignInPorts(name, secrets, ui, () => vscodeAccount),
    );
  }

  /** `dvw --env NAME`: the connection as `dvw env add` stores it, the secret from DATAVERSE_CLIENT_SECRET. */
  async function viaCli(name: string, auth: EnvironmentAuth): Promise<TokenProvider> {
    const config = path.join(directory, name);
    const file = connectionsPath(config);
    await writeConnections(file, { version: 1, environments: [{ name, url: emulator.url, auth }] });
    const resolved = await resolveConnection(
      { env: name },
      { DVW_CONFIG_DIR: config, DATAVERSE_CLIENT_SECRET: emulator.clientSecret },
    );
    return resolved.tokenProvider;
  }

  const table: {
    readonly method: AuthMethod;
    readonly auth: () => Omit<EnvironmentAuth, 'method'>;
    /** The provider class both front ends build (absent: VS Code's own account, handed through as is). */
    readonly provider?: new (...args: never[]) => TokenProvider;
    /** Signs in for real at the emulator's identity endpoint. */
    readonly token?: boolean;
    /** What `dvw` says instead, for a method only VS Code has. */
    readonly cliRefusal?: RegExp;
  }[] = [
    { method: 'microsoftAccount', auth: () => ({}), cliRefusal: /VS Code's own sign-in/ },
    {
      method: 'clientSecret',
      auth: () => ({ clientId: emulator.clientId, authority: emulator.authority, caFile: emulator.certificatePath }),
      provider: ClientSecretTokenProvider,
      token: true,
    },
    {
      method: 'clientCertificate',
      auth: () => ({
        clientId: emulator.clientId,
        authority: emulator.authority,
        caFile: emulator.certificatePath,
        certificateFile: writePem(path.join(directory, 'app.pem'), app.key + app.certificate),
      }),
      provider: ClientCertificateTokenProvider,
      token: true,
    },
    {
      method: 'deviceCode',
      auth: () => ({ authority: emulator.authority, caFile: emulator.certificatePath }),
      provider: DeviceCodeTokenProvider,
    },
    {
      method: 'browser',
      auth: () => ({ authority: emulator.authority, caFile: emulator.certificatePath }),
      provider: InteractiveTokenProvider,
    },
    { method: 'azureCli', auth: () => ({ tenantId: 'contoso.onmicrosoft.com' }), provider: AzureCliTokenProvider },
  ];

  it('covers every method the settings and the connections file accept', () => {
    assert.deepEqual(
      table.map((row) => row.method),
      [...AUTH_METHODS],
    );
  });

  for (const row of table) {
    it(`${row.method}: the same provider from the extension's ports and from dvw's`, async () => {
      const auth = { method: row.method, ...row.auth() };
      const extension = await viaExtension(`ext-${row.method}`, auth);
      const expected = row.provider;
      if (expected === undefined) assert.equal(extension, vscodeAccount);
      else assert.ok(extension instanceof expected, `extension: ${extension.constructor.name}`);
      if (row.cliRefusal !== undefined) {
        await assert.rejects(viaCli(`cli-${row.method}`, auth), row.cliRefusal);
        return;
      }
      const cli = await viaCli(`cli-${row.method}`, auth);
      assert.ok(expected !== undefined && cli instanceof expected, `dvw: ${cli.constructor.name}`);
      if (row.token === true) {
        for (const provider of [extension, cli]) assert.ok((await provider.getToken(signal)).token.length > 0);
      }
    });
  }
});

function writePem(file: string, content: string): string {
  writeFileSync(file, content, { mode: 0o600 });
  return file;
}

import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
  AUTH_METHODS,
  authMethodFrom,
  authMethodOf,
  normalizeEnvironmentUrl,
  parseEnvironmentAuth,
  parseEnvironmentList,
  validateAuthority,
  validateClientId,
  validateEnvironmentName,
  validateTenantId,
} from '../../../src/core/environments';
import { WorkbenchError } from '../../../src/core/errors';

const root = path.resolve(__dirname, '../../..');
const CLIENT_ID = '0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0';

function invalidInput(check: () => unknown, pattern: RegExp): void {
  assert.throws(
    check,
    (error: unknown) => error instanceof WorkbenchError && error.kind === 'invalidInput' && pattern.test(error.message),
  );
}

describe('environment settings', () => {
  it('keeps only the origin of an organization URL', () => {
    assert.equal(
      normalizeEnvironmentUrl(' https://contoso.crm.dynamics.com/main.aspx?appid=1 '),
      'https://contoso.crm.dynamics.com',
    );
    assert.equal(normalizeEnvironmentUrl('http://127.0.0.1:5555/api/data/v9.2/'), 'http://127.0.0.1:5555');
    assert.equal(normalizeEnvironmentUrl('http://localhost:8080'), 'http://localhost:8080');
  });

  it('refuses what is not a usable URL, saying what to fix', () => {
    invalidInput(() => normalizeEnvironmentUrl('contoso'), /not a URL/);
    invalidInput(() => normalizeEnvironmentUrl('http://contoso.crm.dynamics.com'), /https/);
    invalidInput(() => normalizeEnvironmentUrl('ftp://127.0.0.1'), /https/);
    invalidInput(() => normalizeEnvironmentUrl('https://user:pw@contoso.crm.dynamics.com'), /credentials/);
  });

  it('checks names for emptiness, length and case-insensitive duplicates', () => {
    assert.equal(validateEnvironmentName('  Dev ', []), 'Dev');
    invalidInput(() => validateEnvironmentName('   ', []), /name/);
    invalidInput(() => validateEnvironmentName('x'.repeat(101), []), /100/);
    invalidInput(() => validateEnvironmentName('dev', ['Dev']), /exists/);
  });

  it('reads every valid entry and describes every invalid one without throwing', () => {
    const result = parseEnvironmentList([
      { name: 'Dev', url: 'https://dev.crm.dynamics.com' },
      'nonsense',
      { name: 'NoUrl' },
      { name: 'dev', url: 'https://other.crm.dynamics.com' },
      { name: 'Bad', url: 'http://bad.example.com' },
      null,
    ]);
    assert.deepEqual(result.environments, [{ name: 'Dev', url: 'https://dev.crm.dynamics.com' }]);
    assert.equal(result.problems.length, 5);
    assert.match(result.problems[0] ?? '', /\[1\] is not an object/);
    assert.match(result.problems[1] ?? '', /\[2\] needs a string "name" and a string "url"/);
    assert.match(result.problems[2] ?? '', /\[3\].*exists/);
  });

  it('keeps per-environment variables and refuses non-string values', () => {
    const result = parseEnvironmentList([
      { name: 'Dev', url: 'https://dev.crm.dynamics.com', variables: { city: 'Seattle' } },
      { name: 'Bad', url: 'https://bad.crm.dynamics.com', variables: { top: 10 } },
    ]);
    assert.deepEqual(result.environments, [
      { name: 'Dev', url: 'https://dev.crm.dynamics.com', variables: { city: 'Seattle' } },
    ]);
    assert.match(result.problems[0] ?? '', /\[1\]\.variables must map names to strings/);
  });

  it('treats a missing setting as empty and a non-list as one problem', () => {
    assert.deepEqual(parseEnvironmentList(undefined), { environments: [], problems: [] });
    assert.equal(parseEnvironmentList({ name: 'x' }).problems.length, 1);
  });

  describe('sign-in (auth)', () => {
    const url = 'https://dev.crm.dynamics.com';
    const clientId = '0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0';

    it('defaults to the Microsoft account when auth is absent', () => {
      const [environment] = parseEnvironmentList([{ name: 'Dev', url }]).environments;
      assert.ok(environment);
      assert.equal(environment.auth, undefined);
      assert.equal(authMethodOf(environment), 'microsoftAccount');
    });

    it('keeps the fields each method uses, trimmed', () => {
      const result = parseEnvironmentList([
        { name: 'A', url, auth: { method: 'microsoftAccount', tenantId: 'contoso.com', clientId } },
        { name: 'B', url, auth: { method: 'clientSecret', tenantId: ' contoso.onmicrosoft.com ', clientId } },
        { name: 'C', url, auth: { method: 'deviceCode' } },
        { name: 'D', url, auth: { method: 'browser', tenantId: 'contoso.com' } },
        { name: 'E', url, auth: { method: 'azureCli', tenantId: 'contoso.com' } },
        {
          name: 'F',
          url: 'http://127.0.0.1:5555',
          auth: {
            method: 'clientSecret',
            clientId,
            authority: 'https://127.0.0.1:5556/tenant/',
            caFile: '/tmp/identity.pem',
          },
        },
      ]);
      assert.deepEqual(result.problems, []);
      assert.deepEqual(
        result.environments.map((e) => e.auth),
        [
          { method: 'microsoftAccount', tenantId: 'contoso.com', clientId },
          { method: 'clientSecret', tenantId: 'contoso.onmicrosoft.com', clientId },
          { method: 'deviceCode' },
          { method: 'browser', tenantId: 'contoso.com' },
          { method: 'azureCli', tenantId: 'contoso.com' },
          { method: 'clientSecret', clientId, authority: 'https://127.0.0.1:5556/tenant', caFile: '/tmp/identity.pem' },
        ],
      );
    });

    it('says what a client-secret sign-in is missing', () => {
      invalidInput(() => parseEnvironmentAuth({ method: 'clientSecret', tenantId: 'contoso.com' }), /auth\.clientId/);
      invalidInput(() => parseEnvironmentAuth({ method: 'clientSecret', clientId }), /auth\.tenantId.*authority/);
    });

    it('refuses unknown methods, unknown fields and fields the method does not use', () => {
      invalidInput(() => parseEnvironmentAuth({ method: 'password' }), /auth\.method must be one of .*azureCli/);
      invalidInput(() => parseEnvironmentAuth('clientSecret'), /auth must be an object/);
      invalidInput(
        () => parseEnvironmentAuth({ method: 'deviceCode', scopes: 'x' }),
        /auth\.scopes is not a known field/,
      );
      invalidInput(
        () => parseEnvironmentAuth({ method: 'azureCli', clientId }),
        /auth\.clientId is not used by azureCli/,
      );
      invalidInput(
        () => parseEnvironmentAuth({ method: 'microsoftAccount', authority: 'https://login.example.com/t' }),
        /auth\.authority is not used by microsoftAccount/,
      );
      invalidInput(
        () => parseEnvironmentAuth({ method: 'browser', tenantId: 7 }),
        /auth\.tenantId must be a non-empty string/,
      );
      invalidInput(() => parseEnvironmentAuth({ method: 'browser', clientId: 'my-app' }), /auth\.clientId: .*GUID/);
    });

    it('trusts a CA file only for an https loopback authority', () => {
      invalidInput(
        () => parseEnvironmentAuth({ method: 'deviceCode', authority: 'http://127.0.0.1:5556/t' }),
        /auth\.authority: .*https/,
      );
      invalidInput(
        () =>
          parseEnvironmentAuth({
            method: 'deviceCode',
            authority: 'https://login.microsoftonline.com/contoso.com',
            caFile: '/tmp/ca.pem',
          }),
        /caFile is only for a loopback authority/,
      );
      invalidInput(() => parseEnvironmentAuth({ method: 'deviceCode', caFile: '/tmp/ca.pem' }), /loopback/);
    });

    it('refuses a secret in settings without repeating it', () => {
      const secret = 'Zq8~very-secret-value';
      const result = parseEnvironmentList([
        { name: 'A', url, auth: { method: 'clientSecret', tenantId: 'contoso.com', clientId, clientSecret: secret } },
        { name: 'B', url, password: secret },
        { name: 'C', url, auth: { method: 'clientSecret', tenantId: 'contoso.com', clientId } },
      ]);
      assert.deepEqual(
        result.environments.map((e) => e.name),
        ['C'],
      );
      assert.equal(result.problems.length, 2);
      assert.match(result.problems[0] ?? '', /^dataverse\.environments\[0\]\.auth\.clientSecret looks like a secret/);
      assert.match(result.problems[1] ?? '', /^dataverse\.environments\[1\]\.password looks like a secret/);
      for (const problem of result.problems) assert.ok(!problem.includes(secret), 'the secret is not repeated');
    });

    it('validates tenant, client id and authority as typed in prompts', () => {
      assert.equal(validateTenantId(' contoso.com '), 'contoso.com');
      assert.equal(validateClientId(clientId.toUpperCase()), clientId.toUpperCase());
      assert.equal(
        validateAuthority('https://login.microsoftonline.com/contoso.com/'),
        'https://login.microsoftonline.com/contoso.com',
      );
      invalidInput(() => validateTenantId('contoso com'), /tenant/);
      invalidInput(() => validateClientId('12345'), /GUID/);
      invalidInput(() => validateAuthority('login.microsoftonline.com'), /not a URL/);
      invalidInput(() => validateAuthority('https://login.microsoftonline.com/t?x=1'), /without credentials or query/);
    });
  });
});

describe('clientCertificate in the dataverse.environments setting', () => {
  const auth = {
    method: 'clientCertificate',
    tenantId: 'contoso.onmicrosoft.com',
    clientId: CLIENT_ID,
    certificateFile: '/home/me/certs/app.pem',
  };

  it('keeps the path of the PEM file with the other non-secret fields', () => {
    assert.deepEqual(parseEnvironmentAuth(auth), auth);
    assert.deepEqual(
      parseEnvironmentAuth({ ...auth, certificateFile: 'C:\\certs\\app.pem' }).certificateFile,
      'C:\\certs\\app.pem',
    );
    const emulator = {
      ...auth,
      tenantId: undefined,
      authority: 'https://127.0.0.1:5556/tenant',
      caFile: '/tmp/ca.pem',
    };
    assert.equal(parseEnvironmentAuth(emulator).authority, 'https://127.0.0.1:5556/tenant');
  });

  it('names what is missing or misplaced, and refuses a key pasted into settings', () => {
    const problems = parseEnvironmentList([
      { name: 'A', url: 'https://a.crm.dynamics.com', auth: { ...auth, certificateFile: undefined } },
      { name: 'B', url: 'https://b.crm.dynamics.com', auth: { ...auth, clientId: undefined } },
      { name: 'C', url: 'https://c.crm.dynamics.com', auth: { ...auth, tenantId: undefined } },
      { name: 'D', url: 'https://d.crm.dynamics.com', auth: { ...auth, certificateFile: 'certs/app.pem' } },
      { name: 'E', url: 'https://e.crm.dynamics.com', auth: { ...auth, method: 'clientSecret' } },
      { name: 'F', url: 'https://f.crm.dynamics.com', auth: { ...auth, privateKey: '-----BEGIN PRIVATE KEY-----' } },
    ]).problems;
    assert.equal(problems.length, 6);
    assert.match(problems[0] ?? '', /auth\.certificateFile .* is needed for clientCertificate sign-in/);
    assert.match(problems[1] ?? '', /auth\.clientId .* is needed for clientCertificate sign-in/);
    assert.match(problems[2] ?? '', /auth\.tenantId \(or auth\.authority\) is needed for clientCertificate/);
    assert.match(problems[3] ?? '', /auth\.certificateFile: .*absolute path/);
    assert.match(problems[4] ?? '', /auth\.certificateFile is not used by clientSecret sign-in/);
    assert.match(problems[5] ?? '', /auth\.privateKey looks like a secret/);
    assert.ok(!problems[5]?.includes('BEGIN PRIVATE KEY'));
  });

  it('package.json offers exactly the methods the settings parser accepts, each described', () => {
    const manifest = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as {
      contributes: { configuration: { properties: Record<string, unknown> } };
    };
    const environments = manifest.contributes.configuration.properties['dataverse.environments'] as {
      items: {
        properties: {
          auth: { properties: Record<string, { enum?: string[]; enumDescriptions?: string[]; pattern?: string }> };
        };
      };
    };
    const fields = environments.items.properties.auth.properties;
    assert.deepEqual(fields.method?.enum, [...AUTH_METHODS]);
    assert.equal(fields.method?.enumDescriptions?.length, AUTH_METHODS.length);
    const pattern = new RegExp(fields.certificateFile?.pattern ?? '^$');
    assert.ok(pattern.test(auth.certificateFile) && pattern.test('C:\\certs\\app.pem'));
    assert.ok(!pattern.test('certs/app.pem'));
  });
});

describe('one sign-in vocabulary for settings and the connections file', () => {
  it("reads the connections file's old spellings as the methods they always meant", () => {
    assert.equal(authMethodFrom('client-secret'), 'clientSecret');
    assert.equal(authMethodFrom('client-certificate'), 'clientCertificate');
    assert.equal(authMethodFrom('device-code'), 'deviceCode');
    assert.equal(authMethodFrom('interactive'), 'browser');
    assert.equal(authMethodFrom('azure-cli'), 'azureCli');
    for (const method of AUTH_METHODS) assert.equal(authMethodFrom(method), method);
    assert.equal(authMethodFrom('password'), undefined);
    assert.equal(parseEnvironmentAuth({ method: 'interactive' }).method, 'browser');
  });
});

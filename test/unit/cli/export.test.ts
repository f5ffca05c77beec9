import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../../../src/cli/program';
import { RequestLimiter } from '../../../src/dataverse/limiter';
import type { JsonObject } from '../../../src/core/json';
import { staticTokenProvider, WebApiClient } from '../../../src/dataverse/webApiClient';
import { parseFaults } from '../../../src/emulator/faults';
import type { EmulatorOptions, RunningEmulator } from '../../../src/emulator/server';
import { startEmulator } from '../../../src/emulator/server';

async function capture(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(argv, { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t) });
  return { code, stdout, stderr };
}

function clientOf(emulator: RunningEmulator): WebApiClient {
  return new WebApiClient({
    url: emulator.url,
    tokenProvider: staticTokenProvider(emulator.token),
    limiter: new RequestLimiter(),
  });
}

const COLUMNS =
  'accountid,name,description,numberofemployees,revenue,creditonhold,industrycode,_transactioncurrencyid_value';

async function accounts(emulator: RunningEmulator): Promise<JsonObject[]> {
  const { rows } = await clientOf(emulator).collectAll(`accounts?$select=${COLUMNS}&$orderby=accountid`, {
    maxPageSize: 5000,
  });
  return rows.map((row) => Object.fromEntries(Object.entries(row).filter(([key]) => !key.startsWith('@'))));
}

describe('dvw export against the emulator', function () {
  this.timeout(180_000);
  let directory: string;
  let emulator: RunningEmulator | undefined;
  const saved = process.env.DVW_CONFIG_DIR;
  const start = async (options: EmulatorOptions = {}): Promise<RunningEmulator> => {
    emulator = await startEmulator({ port: 0, seed: 'none', ...options });
    return emulator;
  };
  beforeEach(() => {
    directory = mkdtempSync(join(tmpdir(), 'dvw-export-'));
    process.env.DVW_CONFIG_DIR = join(directory, 'config');
  });
  afterEach(async () => {
    await emulator?.close();
    emulator = undefined;
    if (saved === undefined) delete process.env.DVW_CONFIG_DIR;
    else process.env.DVW_CONFIG_DIR = saved;
    rmSync(directory, { recursive: true, force: true });
  });

  /** Accounts with text that needs quoting, numbers, money (and so a currency lookup), booleans and choices. */
  async function fill(e: RunningEmulator): Promise<void> {
    const targets = Array.from({ length: 60 }, (_, i) => ({
      '@odata.type': 'Microsoft.Dynamics.CRM.account',
      name: i % 10 === 0 ? `=cmd|' /C calc'!A${i}` : `Account ${i}, "quoted"`,
      description: i % 3 === 0 ? `two\nlines ${i}` : null,
      numberofemployees: i,
      revenue: i * 1000.5,
      creditonhold: i % 2 === 0,
      industrycode: (i % 3) + 1,
    }));
    const response = await clientOf(e).request({
      method: 'POST',
      path: 'accounts/Microsoft.Dynamics.CRM.CreateMultiple',
      body: { Targets: targets },
    });
    assert.equal(response.status, 200);
  }

  for (const format of ['csv', 'jsonl'] as const) {
    it(`round trip (${format}): export, delete everything, import the file: the same rows, ids and lookups`, async () => {
      const e = await start();
      await fill(e);
      const before = await accounts(e);
      const file = join(directory, `accounts.${format}`);
      const exported = await capture([
        'export',
        'accounts',
        file,
        '--no-formula-guard',
        '--page-size',
        '25',
        '--url',
        e.url,
        '--token',
        e.token,
      ]);
      assert.equal(exported.code, 0, exported.stderr);
      assert.match(exported.stdout, /^60 rows of accounts exported to .* in 3 pages/m);
      const client = clientOf(e);
      for (const row of before) await client.delete('accounts', String(row.accountid));
      assert.deepEqual(await accounts(e), []);
      const imported = await capture(['import', 'accounts', file, '--url', e.url, '--token', e.token]);
      assert.equal(imported.code, 0, imported.stderr);
      assert.deepEqual(await accounts(e), before);
    });
  }

  it('guards spreadsheet formulas in CSV by default, as the results grid’s export does', async () => {
    const e = await start();
    await fill(e);
    const file = join(directory, 'accounts.csv');
    const { code } = await capture([
      'export',
      'accounts',
      file,
      '--select',
      'name',
      '--url',
      e.url,
      '--token',
      e.token,
    ]);
    assert.equal(code, 0);
    const text = readFileSync(file, 'utf8');
    assert.ok(
      text.startsWith('\uFEFFaccountid,name\r\n') || text.startsWith('\uFEFFname,accountid\r\n'),
      text.slice(0, 40),
    );
    assert.match(text, /'=cmd\|' \/C calc'!A0/);
    assert.doesNotMatch(text, /(^|,)=cmd/m);
  });

  // Microsoft Learn, "Page results using FetchXml": no nextLink; the paging cookie of each answer goes into the
  // next request's <fetch page paging-cookie>. FetchXML leaves null values out of a record.
  const FETCH = `<fetch count="25">
  <entity name="account">
    <attribute name="name" />
    <attribute name="description" />
    <attribute name="numberofemployees" />
    <attribute name="transactioncurrencyid" />
    <order attribute="numberofemployees" descending="true" />
  </entity>
</fetch>`;

  it('exports a FetchXML query page by page through its paging cookie, with every column it names', async () => {
    const e = await start();
    await fill(e);
    const query = join(directory, 'accounts.xml');
    writeFileSync(query, FETCH);
    const file = join(directory, 'fetched.jsonl');
    const { code, stdout, stderr } = await capture([
      'export',
      'accounts',
      file,
      '--fetchxml',
      query,
      '--url',
      e.url,
      '--token',
      e.token,
    ]);
    assert.equal(code, 0, stderr);
    assert.match(stdout, /^60 rows of accounts exported to .* in 3 pages/m);
    const rows = readFileSync(file, 'utf8')
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    assert.deepEqual(
      rows.map((row) => row.numberofemployees),
      Array.from({ length: 60 }, (_, i) => 59 - i),
    );
    // The first record (59 employees) has no description: the column comes from the FetchXML, not from it.
    assert.ok('description' in (rows[0] ?? {}));
    assert.equal(rows[0]?.description, null);
    assert.equal(rows[56]?.description, 'two\nlines 3');
    assert.match(String(rows[0]?.['transactioncurrencyid@odata.bind']), /^transactioncurrencies\([0-9a-f-]{36}\)$/);
  });

  it('kill -9 in the middle of a FetchXML export, then --resume: on from the next page, every row exactly once', async () => {
    const e = await start({ seedAccounts: 3000, faults: parseFaults('latency=150ms,seed=3') });
    const query = join(directory, 'accounts.xml');
    writeFileSync(query, '<fetch count="200"><entity name="account"><attribute name="name" /></entity></fetch>');
    const file = join(directory, 'fetched.jsonl');
    const checkpoint = `${file}.dvw-checkpoint.json`;
    const args = ['export', 'accounts', file, '--fetchxml', query, '--url', e.url, '--token', e.token];
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { stdio: 'ignore' });
    const killed = new Promise((resolve) => child.once('exit', resolve));
    for (let waited = 0; ; waited += 25) {
      const state = existsSync(checkpoint) ? readFileSync(checkpoint, 'utf8') : '';
      if (/"rows":(\d{3,})/.test(state)) break;
      if (waited > 60_000) assert.fail('no checkpoint within a minute');
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    child.kill('SIGKILL');
    await killed;
    assert.match(readFileSync(checkpoint, 'utf8'), /paging-cookie/);
    e.access.faults.configure({});
    const { code, stdout, stderr } = await capture([...args, '--resume']);
    assert.equal(code, 0, stderr);
    assert.match(stdout, /^3000 rows of accounts exported .*\(resumed\)/m);
    const ids = readFileSync(file, 'utf8')
      .trimEnd()
      .split('\n')
      .map((line) => (JSON.parse(line) as { accountid: string }).accountid);
    assert.equal(ids.length, 3000);
    assert.equal(new Set(ids).size, 3000, 'no row twice');
  });

  it('exports what a .odata block returns, chosen by # @name or number, its variables resolved as dvw run does', async () => {
    const e = await start();
    await fill(e);
    const scratch = join(directory, 'scratch.odata');
    writeFileSync(
      scratch,
      [
        '@least = 50',
        '',
        '### Every account',
        'GET accounts?$select=name',
        '',
        '### The big ones',
        '# @name big',
        'GET accounts?$select=name,numberofemployees&$filter=numberofemployees ge {{least}}&$orderby=numberofemployees desc',
        '',
        '### Not a query',
        'POST accounts',
        'Content-Type: application/json',
        '',
        '{"name": "New"}',
        '',
      ].join('\n'),
    );
    const connection = ['--url', e.url, '--token', e.token];
    const employees = (file: string): unknown[] =>
      readFileSync(file, 'utf8')
        .trimEnd()
        .split('\n')
        .map((line) => (JSON.parse(line) as Record<string, unknown>).numberofemployees);

    const byName = join(directory, 'big.jsonl');
    const named = await capture(['export', 'accounts', byName, '--odata', `${scratch}:big`, ...connection]);
    assert.equal(named.code, 0, named.stderr);
    assert.match(named.stdout, /^10 rows of accounts exported/m);
    assert.deepEqual(employees(byName), [59, 58, 57, 56, 55, 54, 53, 52, 51, 50]);

    // --var wins over the file's value, as with dvw run; block 2 is the same request by number.
    const byNumber = join(directory, 'bigger.jsonl');
    const overridden = await capture([
      'export',
      'accounts',
      byNumber,
      '--odata',
      `${scratch}:2`,
      '--var',
      'least=57',
      ...connection,
    ]);
    assert.equal(overridden.code, 0, overridden.stderr);
    assert.deepEqual(employees(byNumber), [59, 58, 57]);

    const refusals: [string[], RegExp][] = [
      [['--odata', `${scratch}:3`], /only a GET request returns rows to export: block 3 of .* is a POST/],
      [['--odata', scratch], /holds 3 requests: name one as --odata/],
      [['--odata', `${scratch}:nobody`], /no request is named 'nobody'/],
      [['--odata', `${scratch}:9`], /must be a block number from 0 to 3, not '9'/],
      [['--odata', join(directory, 'missing.odata')], /file not found/],
      [['--odata', `${scratch}:big`, '--query', 'accounts'], /give one of --query, --odata, --fetchxml and --select/],
      [['--var', 'least=1'], /--var sets variables of an --odata file/],
    ];
    for (const [args, message] of refusals) {
      const refused = await capture(['export', 'accounts', join(directory, 'refused.jsonl'), ...args, ...connection]);
      assert.equal(refused.code, 2, `${args.join(' ')}: ${refused.stderr}`);
      assert.match(refused.stderr, message);
    }
    assert.equal((await accounts(e)).length, 60, 'the POST block was never sent');

    // A block that names another origin is refused before anything is sent there.
    const elsewhere = join(directory, 'elsewhere.odata');
    writeFileSync(elsewhere, 'GET https://example.invalid/api/data/v9.2/accounts?$select=name\n');
    const outside = await capture([
      'export',
      'accounts',
      join(directory, 'x.jsonl'),
      '--odata',
      elsewhere,
      ...connection,
    ]);
    assert.notEqual(outside.code, 0);
    assert.match(outside.stderr, /Refusing to send the request to https:\/\/example\.invalid/);
  });

  it('refuses two sources at once, and prints the summary through the terminal escape', async () => {
    const e = await start();
    await fill(e);
    const both = await capture([
      'export',
      'accounts',
      join(directory, 'a.csv'),
      '--select',
      'name',
      '--query',
      'accounts',
      '--url',
      e.url,
      '--token',
      e.token,
    ]);
    assert.equal(both.code, 2);
    assert.match(both.stderr, /give one of --query, --odata, --fetchxml and --select/);
    const file = join(directory, 'odd\u001b[2Jname.csv');
    const { code, stdout } = await capture(['export', 'accounts', file, '--url', e.url, '--token', e.token]);
    assert.equal(code, 0);
    assert.ok(!stdout.includes('\u001b'), 'no raw escape on stdout');
    assert.match(stdout, /odd\\x1b\[2Jname\.csv/);
  });

  it('kill -9 in the middle of an export, then --resume: every row exactly once', async () => {
    const e = await start({ seedAccounts: 3000, faults: parseFaults('latency=150ms,seed=2') });
    const file = join(directory, 'accounts.jsonl');
    const checkpoint = `${file}.dvw-checkpoint.json`;
    const args = ['export', 'accounts', file, '--page-size', '200', '--url', e.url, '--token', e.token];
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { stdio: 'ignore' });
    const killed = new Promise((resolve) => child.once('exit', resolve));
    for (let waited = 0; ; waited += 25) {
      const state = existsSync(checkpoint) ? readFileSync(checkpoint, 'utf8') : '';
      if (/"rows":(\d{3,})/.test(state)) break;
      if (waited > 60_000) assert.fail('no checkpoint within a minute');
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    child.kill('SIGKILL');
    await killed;
    e.access.faults.configure({});
    const { code, stdout, stderr } = await capture([...args, '--resume']);
    assert.equal(code, 0, stderr);
    assert.match(stdout, /^3000 rows of accounts exported .*\(resumed\)/m);
    const ids = readFileSync(file, 'utf8')
      .trimEnd()
      .split('\n')
      .map((line) => (JSON.parse(line) as { accountid: string }).accountid);
    assert.equal(ids.length, 3000);
    assert.equal(new Set(ids).size, 3000, 'no row twice');
    assert.equal(existsSync(checkpoint), false);
  });
});

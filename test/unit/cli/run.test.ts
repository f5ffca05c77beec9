import * as assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CSV_BOM } from '../../../src/core/csv';
import type { RunningEmulator } from '../../../src/emulator/server';
import { startEmulator } from '../../../src/emulator/server';
import type { Peer } from '../dataverse/helpers';
import { sendJson, startPeer } from '../dataverse/helpers';
import { suiteSchema } from '../emulator/helpers';

const root = path.resolve(__dirname, '../../..');
const fixture = (name: string): string => path.join('test/fixtures/odata/run', name);

interface Outcome {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** `dvw run` as users start it: its own process, so the emulator in this one keeps answering. */
function dvw(args: readonly string[], env: Record<string, string> = {}): Promise<Outcome> {
  return new Promise((resolve) => {
    const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
    for (const name of ['DATAVERSE_URL', 'DATAVERSE_TOKEN']) if (!(name in env)) delete childEnv[name];
    execFile(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', 'run', ...args],
      { cwd: root, env: childEnv, encoding: 'utf8' },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

describe('dvw run', function () {
  this.timeout(60000);
  let emulator: RunningEmulator;
  let connection: string[];
  const outcomes: Outcome[] = [];

  async function run(args: readonly string[], env: Record<string, string> = {}): Promise<Outcome> {
    const outcome = await dvw(args, env);
    outcomes.push(outcome);
    return outcome;
  }

  let scratch: string;
  /** A .odata file of the test's own, in a temporary directory. */
  function file(name: string, text: string): string {
    const target = path.join(scratch, name);
    writeFileSync(target, text);
    return target;
  }

  before(async () => {
    const schema = suiteSchema();
    emulator = await startEmulator({ port: 0, seed: 'sample', ...(schema === undefined ? {} : { schema }) });
    connection = ['--url', emulator.url, '--token', emulator.token];
    scratch = mkdtempSync(path.join(tmpdir(), 'dvw-run-'));
  });
  after(async () => {
    await emulator.close();
    rmSync(scratch, { recursive: true, force: true });
  });

  it('runs every block in order, one JSON object per request per line, and exits 0', async () => {
    const { code, stdout, stderr } = await run([fixture('crud.odata'), '--output', 'json', ...connection]);
    assert.equal(stderr, '');
    assert.equal(code, 0);
    const lines = stdout
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as { block: number; method: string; status: number; url: string; body: unknown });
    assert.deepEqual(
      lines.map((l) => [l.block, l.method, l.status]),
      [
        [1, 'POST', 204],
        [2, 'PATCH', 204],
        [3, 'GET', 200],
        [4, 'GET', 200],
      ],
    );
    const id = /accounts\(([^)]+)\)/.exec(lines[1]!.url)?.[1];
    assert.deepEqual((lines[2]!.body as { accountid: string; telephone1: string }).accountid, id);
    assert.deepEqual(
      (lines[3]!.body as { value: { accountid: string }[] }).value.map((r) => r.accountid),
      [id],
    );
  });

  it('prints a collection as an aligned table and one record as keys and values', async () => {
    const { code, stdout } = await run([fixture('list.odata'), ...connection]);
    assert.equal(code, 0);
    const lines = stdout.split('\n');
    const head = lines.findIndex((line) => /^name\s+address1_city\s+accountid$/.test(line));
    assert.ok(head > 0, stdout);
    const columns = [...lines[head + 1]!.matchAll(/-+/g)].map((m) => m.index);
    assert.equal(columns.length, 3);
    for (const row of lines.slice(head + 2, head + 5)) {
      assert.match(row.slice(columns[2]), /^[0-9a-f-]{36}$/);
    }
    assert.equal(lines[head + 5], '(3 rows)');
    assert.match(stdout, /^### block 2: GET accounts\([0-9a-f-]{36}\)\?\$select=name,address1_city → 200 OK/m);
    assert.match(stdout, /^name\s{3,}\S/m);
    assert.match(stdout, /^accountid\s+[0-9a-f-]{36}$/m);
  });

  it('prints rows as CSV, with --var winning over the file', async () => {
    const { code, stdout, stderr } = await run([
      fixture('list.odata'),
      '--block',
      '1',
      '--output',
      'csv',
      '--var',
      'top=2',
      ...connection,
    ]);
    assert.equal(code, 0);
    const lines = stdout.trimEnd().split('\r\n');
    assert.equal(lines[0], `${CSV_BOM}name,address1_city,accountid`);
    assert.equal(lines.length, 3);
    assert.match(stderr, /→ 200 OK/);
  });

  it('escapes control characters in the table; CSV has the BOM and formula guard of the grid export (Issue 14.5)', async () => {
    // ESC and the other C0 controls are refused by Dataverse (and the emulator) in strings; the 8-bit CSI (U+009B)
    // and a bidi override are stored, and a terminal still acts on them.
    for (const name of ['zz-term red\u009b2J\u202e', '=HYPERLINK("http://evil","x") zz-term']) {
      const created = await fetch(`${emulator.url}/api/data/v9.2/accounts`, {
        method: 'POST',
        headers: { authorization: `Bearer ${emulator.token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ name, numberofemployees: 7 }),
      });
      assert.equal(created.status, 204);
    }
    const odata = file(
      'terminal.odata',
      "GET accounts?$select=name,numberofemployees&$filter=contains(name,'zz-term')&$orderby=name\n",
    );
    const table = await run([odata, ...connection]);
    assert.equal(table.code, 0, table.stderr);
    // eslint-disable-next-line no-control-regex -- looking for control characters is the point
    assert.ok(!/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202e]/.test(table.stdout), JSON.stringify(table.stdout));
    assert.match(table.stdout, /zz-term red\\x9b2J\\u202e/);

    const csv = await run([odata, '--output', 'csv', ...connection]);
    assert.equal(csv.code, 0, csv.stderr);
    assert.ok(
      csv.stdout.startsWith(`${CSV_BOM}name,numberofemployees,accountid\r\n`),
      JSON.stringify(csv.stdout.slice(0, 40)),
    );
    const rows = csv.stdout
      .slice(CSV_BOM.length)
      .trimEnd()
      .split('\r\n')
      .slice(1)
      .map((row) => row.replace(/,[0-9a-f-]{36}$/, ''));
    // The same cells the grid's export writes: text that starts a formula gets an apostrophe.
    assert.deepEqual(rows, [`"'=HYPERLINK(""http://evil"",""x"") zz-term",7`, 'zz-term red\u009b2J\u202e,7']);
  });

  it('takes the URL and token from DATAVERSE_URL and DATAVERSE_TOKEN, and runs a named request', async () => {
    const { code, stdout } = await run([fixture('list.odata'), '--name', 'firstAccounts', '--output', 'json'], {
      DATAVERSE_URL: emulator.url,
      DATAVERSE_TOKEN: emulator.token,
    });
    assert.equal(code, 0);
    assert.equal(stdout.trimEnd().split('\n').length, 1);
    assert.equal((JSON.parse(stdout) as { label: string }).label, 'firstAccounts');
  });

  it('exits 1 on an HTTP error, printing the Dataverse error', async () => {
    const { code, stdout } = await run([fixture('notfound.odata'), ...connection]);
    assert.equal(code, 1);
    assert.match(stdout, /→ 404 Not Found/);
    assert.match(stdout, /error 0x80040217: /);
  });

  it('exits 1 without sending anything when a block has errors, printing them as dvw check does', async () => {
    const { code, stdout, stderr } = await run([fixture('broken.odata'), ...connection]);
    assert.equal(code, 1);
    assert.equal(stdout, '');
    assert.equal(stderr, `${fixture('broken.odata')}:5:33: error: Undefined variable 'nobody'. [undefinedVariable]\n`);
  });

  it('exits 1 when a block needs the result of a request that did not run', async () => {
    const { code, stderr } = await run([fixture('list.odata'), '--block', '2', ...connection]);
    assert.equal(code, 1);
    assert.match(stderr, /list\.odata:8:16: error: No result for 'firstAccounts' yet.* \[missingResult\]/);
  });

  it('pages with GET {{page.@odata.nextLink}}: the absolute next link of the emulator gives the next page', async () => {
    const paging = file(
      'paging.odata',
      '### First page\n# @name page\nGET accounts?$select=name&$orderby=name\nPrefer: odata.maxpagesize=2\n\n' +
        '### Next page\nGET {{page.@odata.nextLink}}\nPrefer: odata.maxpagesize=2\n',
    );
    const { code, stdout, stderr } = await run([paging, '--output', 'json', ...connection]);
    assert.equal(stderr, '');
    assert.equal(code, 0);
    const [first, second] = stdout
      .trimEnd()
      .split('\n')
      .map(
        (line) =>
          JSON.parse(line) as { url: string; status: number; nextLink?: string; body: { value: { name: string }[] } },
      );
    assert.equal(first!.status, 200);
    assert.equal(first!.body.value.length, 2);
    // The emulator writes next links absolute, on its own origin: the second request sends one as it is.
    assert.ok(first!.nextLink?.startsWith(`${emulator.url}/api/data/v9.2/accounts?`), first!.nextLink);
    assert.equal(second!.url, first!.nextLink);
    assert.equal(second!.status, 200);
    const names = (page: typeof first): string[] => page!.body.value.map((row) => row.name);
    assert.equal(names(second).length, 2);
    assert.ok(names(first)[1]! <= names(second)[0]!, `${names(first).join()} then ${names(second).join()}`);
    assert.ok(!names(second).some((name) => names(first).includes(name)));
  });

  it('refuses a next link of another origin or outside the Web API with exit code 1, sending nothing', async () => {
    const answer = (_request: unknown, res: Parameters<typeof sendJson>[0]): void => sendJson(res, 200, { value: [] });
    const peers: Peer[] = [await startPeer(answer), await startPeer(answer)];
    const [environment, other] = peers as [Peer, Peer];
    try {
      const refused = file(
        'refused.odata',
        `@next = ${other.url}/api/data/v9.2/accounts?$skiptoken=%3Ccookie%3E\n` +
          `@outside = ${environment.url}/XRMServices/2011/Organization.svc\n` +
          `@https = ${environment.url.replace('http:', 'https:')}/api/data/v9.2/accounts\n` +
          '###\nGET {{next}}\n###\nGET {{outside}}\n###\nGET {{https}}\n',
      );
      // The environment is the emulator, then a plain server that records every request it gets.
      const https = environment.url.replace('http:', 'https:');
      const cases: [string[], string][] = [
        [['--block', '1', ...connection], `to ${other.url}: the environment is ${emulator.url},`],
        [
          ['--block', '1', '--url', environment.url, '--token', 'run-test-token'],
          `to ${other.url}: the environment is`,
        ],
        [['--block', '2', '--url', environment.url, '--token', 'run-test-token'], "outside the environment's Web API"],
        [['--block', '3', '--url', environment.url, '--token', 'run-test-token'], `to ${https}: the environment is`],
      ];
      const outcomes = await Promise.all(cases.map(([args]) => run([refused, ...args])));
      for (const [i, { code, stdout, stderr }] of outcomes.entries()) {
        assert.equal(code, 1, stderr);
        assert.equal(stdout, '');
        assert.match(stderr, /^dvw run: block \d: Refusing to send the request to /);
        assert.ok(stderr.includes(cases[i]![1]), stderr);
        assert.match(stderr, /Nothing was sent\./);
        assert.ok(!stderr.includes('run-test-token'));
      }
      assert.deepEqual(environment.requests, [], 'the environment received nothing');
      assert.deepEqual(other.requests, [], 'the other origin received nothing');
    } finally {
      await Promise.all(peers.map((peer) => peer.close()));
    }
  });

  it('sends the headers written on POST $batch (bypass, impersonation) on the $batch request itself', async () => {
    const answer = [
      '--batchresponse_1',
      'Content-Type: multipart/mixed; boundary=changesetresponse_1',
      '',
      '--changesetresponse_1',
      'Content-Type: application/http',
      'Content-Transfer-Encoding: binary',
      'Content-ID: 1',
      '',
      'HTTP/1.1 204 No Content',
      'OData-Version: 4.0',
      '',
      '',
      '--changesetresponse_1--',
      '--batchresponse_1--',
      '',
    ].join('\r\n');
    const peer = await startPeer((_request, res) => {
      res.writeHead(200, { 'Content-Type': 'multipart/mixed; boundary=batchresponse_1' });
      res.end(answer);
    });
    try {
      const body = '\nBEGIN CHANGESET\nPOST accounts\nContent-ID: 1\n\n{ "name": "No plug-ins" }\nEND CHANGESET\n';
      const batch = file(
        'bypass.odata',
        '@caller = e39c5d16-675b-48d1-8e67-667427e9c084\n###\nPOST $batch\nOData-Version: 4.0\n' +
          'MSCRM.BypassCustomPluginExecution: true\nCallerObjectId: {{caller}}\nMSCRM.SuppressDuplicateDetection: false\n' +
          body,
      );
      const connectionToPeer = ['--url', peer.url, '--token', 'run-test-token'];
      const ok = await run([batch, '--output', 'json', ...connectionToPeer]);
      assert.equal(ok.stderr, '');
      assert.equal(ok.code, 0);
      assert.equal((JSON.parse(ok.stdout.trimEnd().split('\n')[0]!) as { status: number }).status, 204);
      assert.equal(peer.requests.length, 1);
      const sent = peer.requests[0]!;
      assert.equal(sent.url, '/api/data/v9.2/$batch');
      assert.equal(sent.headers['mscrm.bypasscustompluginexecution'], 'true');
      assert.equal(sent.headers.callerobjectid, 'e39c5d16-675b-48d1-8e67-667427e9c084');
      assert.equal(sent.headers['mscrm.suppressduplicatedetection'], 'false');
      assert.equal(sent.headers.authorization, 'Bearer run-test-token');
      assert.match(String(sent.headers['content-type']), /^multipart\/mixed; boundary="batch_/);

      // Another token written on the batch request is refused before anything is sent, its value unprinted.
      const forged = file(
        'forged.odata',
        'POST $batch\nMSCRM.BypassCustomPluginExecution: true\nAuthorization: Bearer file-token-value\n' + body,
      );
      const refused = await run([forged, ...connectionToPeer]);
      assert.equal(refused.code, 1);
      assert.equal(refused.stdout, '');
      assert.match(
        refused.stderr,
        /forged\.odata:3:1: error: 'Authorization' cannot be set on a \$batch request: .* \[batchHeader\]/,
      );
      assert.ok(!refused.stderr.includes('file-token-value'));
      assert.equal(peer.requests.length, 1, 'nothing more was sent');
    } finally {
      await peer.close();
    }
  });

  it('exits 2 on usage errors', async function () {
    // Ten `dvw` starts: a loaded two-core machine needs minutes, not the suite's 60 s.
    this.timeout(300_000);
    const cases: [string[], RegExp][] = [
      [[fixture('list.odata'), '--env', 'dvw-test-missing'], /no environment is named 'dvw-test-missing'/],
      [[fixture('list.odata')], /no environment URL/],
      [[fixture('list.odata'), '--url', emulator.url], /no access token/],
      [[fixture('list.odata'), '--name', 'x', '--block', '1', ...connection], /--name or --block/],
      [[fixture('list.odata'), '--name', 'nobody', ...connection], /no request is named 'nobody'/],
      [[fixture('list.odata'), '--block', '9', ...connection], /--block must be a block number from 0 to 2/],
      [[fixture('list.odata'), '--block', '0', ...connection], /block 0 holds no request/],
      [[fixture('missing.odata'), ...connection], /file not found/],
      [[fixture('list.odata'), '--output', 'xml', ...connection], /xml/],
      [[fixture('list.odata'), '--var', 'novalue', ...connection], /--var expects name=value/],
    ];
    const results = await Promise.all(cases.map(([args]) => run(args)));
    results.forEach((result, i) => {
      assert.equal(result.code, 2, `${cases[i]![0].join(' ')}: ${result.stderr}`);
      assert.match(result.stderr, cases[i]![1]);
      assert.equal(result.stdout, '');
    });
  });

  it('never prints the token', () => {
    assert.ok(outcomes.length >= 10);
    for (const { stdout, stderr } of outcomes) {
      assert.ok(!stdout.includes(emulator.token) && !stderr.includes(emulator.token));
    }
  });
});

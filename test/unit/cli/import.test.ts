import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { runCli } from '../../../src/cli/program';
import { RequestLimiter } from '../../../src/dataverse/limiter';
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

async function names(emulator: RunningEmulator): Promise<string[]> {
  const client = new WebApiClient({
    url: emulator.url,
    tokenProvider: staticTokenProvider(emulator.token),
    limiter: new RequestLimiter(),
  });
  const { rows } = await client.collectAll('accounts?$select=name', { maxPageSize: 5000 });
  return rows.map((row) => String(row.name));
}

describe('dvw import against the emulator', function () {
  this.timeout(180_000);
  let directory: string;
  let emulator: RunningEmulator | undefined;
  const saved = process.env.DVW_CONFIG_DIR;
  const start = async (options: EmulatorOptions = {}): Promise<RunningEmulator> => {
    emulator = await startEmulator({ port: 0, seed: 'none', ...options });
    return emulator;
  };
  beforeEach(() => {
    directory = mkdtempSync(join(tmpdir(), 'dvw-import-'));
    // The $metadata cache goes beside the (test's own) connections file.
    process.env.DVW_CONFIG_DIR = join(directory, 'config');
  });
  afterEach(async () => {
    await emulator?.close();
    emulator = undefined;
    if (saved === undefined) delete process.env.DVW_CONFIG_DIR;
    else process.env.DVW_CONFIG_DIR = saved;
    rmSync(directory, { recursive: true, force: true });
  });

  it('reports bad rows by line, imports the rest, and exits 1', async () => {
    const e = await start();
    const file = join(directory, 'accounts.jsonl');
    writeFileSync(
      file,
      [
        JSON.stringify({ name: 'Good 1', numberofemployees: 10 }),
        JSON.stringify({ name: 'Unknown column', shoesize: 44 }),
        '',
        JSON.stringify({ name: 'Wrong type', numberofemployees: 'many' }),
        JSON.stringify({ name: 'x'.repeat(161) }),
        '{not json',
        JSON.stringify({ name: 'Good 2', revenue: 12.5, creditonhold: true }),
      ].join('\n'),
    );
    const { code, stdout, stderr } = await capture(['import', 'accounts', file, '--url', e.url, '--token', e.token]);
    assert.equal(code, 1);
    assert.match(stderr, /accounts\.jsonl:2: unknown column 'shoesize'/);
    assert.match(stderr, /accounts\.jsonl:4: column 'numberofemployees' must be a whole number/);
    assert.match(stderr, /accounts\.jsonl:5: column 'name' is longer than 160 characters \(161\)/);
    assert.match(stderr, /accounts\.jsonl:6: not valid JSON/);
    assert.doesNotMatch(stderr, /many|xxxxxxxx/, 'values of rows are not printed');
    assert.match(stdout, /^2 of 6 rows imported into accounts/m);
    assert.deepEqual((await names(e)).sort(), ['Good 1', 'Good 2']);
  });

  it('refuses a CSV whose header names a column the table lacks, with exit code 2 and nothing sent', async () => {
    const e = await start();
    const file = join(directory, 'accounts.csv');
    writeFileSync(file, 'name,favouritecolour\nA,blue\n');
    const { code, stderr } = await capture(['import', 'accounts', file, '--url', e.url, '--token', e.token]);
    assert.equal(code, 2);
    assert.match(stderr, /accounts has no column 'favouritecolour'/);
    assert.deepEqual(await names(e), []);
  });

  it('usage errors exit 2: no connection, bad --batch-size, unknown entity set', async () => {
    const e = await start();
    const file = join(directory, 'a.csv');
    writeFileSync(file, 'name\nA\n');
    const noConnection = await capture(['import', 'accounts', file]);
    assert.equal(noConnection.code, 2);
    assert.match(noConnection.stderr, /no environment URL/);
    const badSize = await capture(['import', 'accounts', file, '--url', e.url, '--batch-size', '5000']);
    assert.equal(badSize.code, 2);
    const unknownSet = await capture(['import', 'nosuchthings', file, '--url', e.url, '--token', e.token]);
    assert.equal(unknownSet.code, 2);
    assert.match(unknownSet.stderr, /'nosuchthings' is not an entity set/);
  });

  it('10,000 rows through 10% faults and a low request limit: exactly 10,000 records, retries follow Retry-After', async () => {
    const e = await start({
      faults: parseFaults('503=5%,reset=5%,after-commit=50%,seed=5'),
      limits: { requests: { count: 25, windowMs: 2500 } },
    });
    const n = 10_000;
    const file = join(directory, 'accounts.csv');
    const lines = ['name,numberofemployees,telephone1'];
    for (let i = 0; i < n; i++) lines.push(`Imported ${String(i).padStart(5, '0')},${i},"555-${i}"`);
    writeFileSync(file, `${lines.join('\r\n')}\r\n`);
    const { code, stdout, stderr } = await capture([
      'import',
      'accounts',
      file,
      '--url',
      e.url,
      '--token',
      e.token,
      '--batch-size',
      '100',
      '--parallel',
      '6',
      '--verbose',
    ]);
    assert.equal(code, 0, stderr);
    assert.match(stdout, /^10000 of 10000 rows imported into accounts .*UpsertMultiple requests/m);
    const counts = e.access.faults.counts;
    assert.ok(counts.unavailable > 0, 'some 503s');
    assert.ok(counts.resetBeforeCommit > 0, 'some resets before commit');
    assert.ok(counts.resetAfterCommit > 0, 'some resets after commit');
    const retries = stderr.split('\n').filter((line) => line.startsWith('retry: '));
    assert.ok(
      retries.some((line) =>
        /^retry: POST \/api\/data\/v9\.2\/accounts\/Microsoft\.Dynamics\.CRM\.UpsertMultiple → 429, .*\(Retry-After\)$/.test(
          line,
        ),
      ),
      'a 429 retry that waited for Retry-After',
    );
    assert.ok(retries.some((line) => / → 503, /.test(line)));
    assert.ok(
      retries.some((line) => / → network, /.test(line)),
      'a reset was retried',
    );
    assert.match(stderr, /rows\/s, \d+ in flight, ETA /);
    e.access.faults.configure({});
    e.access.protection.configure({});
    const seen = await names(e);
    assert.equal(seen.length, n, 'exactly N records');
    assert.equal(new Set(seen).size, n, 'no duplicates by name');
  });

  it('an unclosed quote on line 6 of a 1,000-row CSV is a file error naming line 6; the 4 rows before it go in', async () => {
    const e = await start();
    const file = join(directory, 'accounts.csv');
    const lines = ['name,numberofemployees'];
    for (let i = 0; i < 1000; i++) lines.push(i === 4 ? `"Unclosed ${i},${i}` : `Row ${i},${i}`);
    writeFileSync(file, `${lines.join('\n')}\n`);
    const { code, stdout, stderr } = await capture(['import', 'accounts', file, '--url', e.url, '--token', e.token]);
    assert.equal(code, 1);
    assert.match(stderr, /accounts\.csv: line 6: a quoted field of the record starting here is not closed/);
    assert.match(stdout, /^4 of 4 rows imported/m);
    assert.equal((await names(e)).length, 4);
  });

  it('decodes strictly as UTF-8: a Latin-1 file is refused by line, and imports exactly with --encoding', async () => {
    const e = await start();
    const file = join(directory, 'latin1.csv');
    writeFileSync(file, Buffer.from('name\nPlain\nM\u00fcller GmbH\n', 'latin1'));
    const refused = await capture(['import', 'accounts', file, '--url', e.url, '--token', e.token]);
    assert.equal(refused.code, 2, 'refused before anything is sent');
    assert.match(refused.stderr, /line 3 is not valid utf-8; save the file as UTF-8 or pass --encoding/);
    assert.ok(!(await names(e)).some((name) => name.includes('\uFFFD')), 'no U+FFFD stored');
    const bomFile = join(directory, 'bom.csv');
    writeFileSync(bomFile, '\uFEFFname\nWith BOM\n');
    assert.equal((await capture(['import', 'accounts', bomFile, '--url', e.url, '--token', e.token])).code, 0);
    const decoded = await capture([
      'import',
      'accounts',
      file,
      '--encoding',
      'latin1',
      '--url',
      e.url,
      '--token',
      e.token,
    ]);
    assert.equal(decoded.code, 0, decoded.stderr);
    assert.deepEqual((await names(e)).sort(), ['M\u00fcller GmbH', 'Plain', 'With BOM']);
    const unknown = await capture([
      'import',
      'accounts',
      file,
      '--encoding',
      'klingon',
      '--url',
      e.url,
      '--token',
      e.token,
    ]);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /Unknown encoding 'klingon'/);
  });

  it('kill -9 in the middle of an import, then --resume: every row once, nothing duplicated, the summary adds up', async () => {
    const e = await start({ faults: parseFaults('latency=40ms,seed=3') });
    const n = 3000;
    const file = join(directory, 'accounts.csv');
    const lines = ['name,numberofemployees'];
    for (let i = 0; i < n; i++) lines.push(`Killed ${i},${i}`);
    writeFileSync(file, `${lines.join('\n')}\n`);
    const checkpoint = `${file}.dvw-checkpoint.json`;
    const args = ['import', 'accounts', file, '--url', e.url, '--token', e.token, '--batch-size', '50'];
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { stdio: 'ignore' });
    const killed = new Promise((resolve) => child.once('exit', resolve));
    for (let waited = 0; ; waited += 50) {
      const saved = existsSync(checkpoint) ? readFileSync(checkpoint, 'utf8') : '';
      if (/"afterLine":(\d{3,})/.test(saved)) break;
      if (waited > 60_000) assert.fail('no checkpoint within a minute');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    child.kill('SIGKILL');
    await killed;
    const before = (await names(e)).length;
    assert.ok(before > 0 && before < n, `killed part way (${before} rows in)`);
    e.access.faults.configure({});
    const { code, stdout } = await capture([...args, '--resume']);
    assert.equal(code, 0);
    assert.match(stdout, new RegExp(`^${n} of ${n} rows imported into accounts .*resumed after line \\d+`, 'm'));
    const seen = await names(e);
    assert.equal(seen.length, n, 'exactly N records');
    assert.equal(new Set(seen).size, n, 'no duplicates');
    assert.equal(existsSync(checkpoint), false, 'a finished import leaves no checkpoint');
    const again = await capture([...args, '--resume']);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /no checkpoint of this import to resume/);
  });
});

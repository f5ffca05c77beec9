import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { runCli } from '../../../src/cli/program';

const root = path.resolve(__dirname, '../../..');
const fixtures = path.resolve(root, '../shared/fixtures/webhooks');
const fixture = (name: string): string => readFileSync(path.join(fixtures, `${name}.json`), 'utf8');

async function capture(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(argv, { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t) });
  return { code, stdout, stderr };
}

interface Listener {
  readonly child: ChildProcessWithoutNullStreams;
  readonly firstLine: string;
  /** Resolves with the next stdout line. */
  next(): Promise<string>;
  stderr(): string;
  exit(): Promise<number | null>;
}

async function listen(args: string[], env: Record<string, string> = {}): Promise<Listener> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'webhooks', 'listen', ...args], {
    cwd: root,
    env: { ...process.env, ...env },
  });
  let errors = '';
  child.stderr.on('data', (chunk: Buffer) => (errors += chunk.toString('utf8')));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const lines: string[] = [];
  const waiting: ((line: string) => void)[] = [];
  createInterface({ input: child.stdout }).on('line', (line) => {
    const waiter = waiting.shift();
    if (waiter) waiter(line);
    else lines.push(line);
  });
  const next = (): Promise<string> =>
    new Promise((resolve, reject) => {
      const line = lines.shift();
      if (line !== undefined) return resolve(line);
      waiting.push(resolve);
      void exited.then((code) => reject(new Error(`dvw exited (${code}) before printing; stderr: ${errors}`)));
    });
  return { child, firstLine: await next(), next, stderr: () => errors, exit: () => exited };
}

describe('dvw webhooks listen', () => {
  let running: Listener | undefined;
  afterEach(() => {
    if (running && running.child.exitCode === null) running.child.kill('SIGKILL');
    running = undefined;
  });

  it('--json prints the URL, then one JSON line per delivery, and stops cleanly on SIGINT', async () => {
    running = await listen(['--json', '--port', '0', '--key', 'sekret']);
    const { url } = JSON.parse(running.firstLine) as { url: string };
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/$/);

    const denied = await fetch(`${url}?code=nope`, { method: 'POST', body: fixture('create-account') });
    assert.equal(denied.status, 401);

    const response = await fetch(`${url}?code=sekret`, {
      method: 'POST',
      body: fixture('update-activity-with-images'),
      headers: { 'x-ms-dynamics-organization': 'contoso.crm.dynamics.com' },
    });
    assert.equal(response.status, 200);
    const line = JSON.parse(await running.next()) as Record<string, unknown>;
    assert.equal(line.messageName, 'Update');
    assert.equal(line.primaryEntityName, 'new_customactivity');
    assert.equal(line.primaryEntityId, '841579d9-7e63-ef11-9e4a-00155d0001ea');
    assert.equal(line.stage, 40);
    assert.equal(line.mode, 1);
    assert.equal(line.depth, 1);
    assert.equal(line.correlationId, '3860c444-0576-4d79-9877-b0ca8e4e9bd4');
    assert.deepEqual(line.changedColumns, [
      'activityid',
      'statecode',
      'statuscode',
      'modifiedon',
      'modifiedby',
      'modifiedonbehalfby',
    ]);
    const pre = (line.preImages as { alias: string; values: Record<string, unknown> }[])[0];
    assert.equal(pre?.alias, 'Image');
    assert.deepEqual(pre?.values.statecode, {
      __type: 'OptionSetValue:http://schemas.microsoft.com/xrm/2011/Contracts',
      Value: 0,
    });
    assert.equal(pre?.values.subject, 'This is a subject');
    const post = (line.postImages as { alias: string; values: Record<string, unknown> }[])[0];
    assert.deepEqual(post, {
      alias: 'AsynchronousStepPrimaryName',
      values: { subject: 'This is a subject', activityid: '841579d9-7e63-ef11-9e4a-00155d0001ea' },
    });
    assert.equal((line.headers as Record<string, unknown>).organization, 'contoso.crm.dynamics.com');
    assert.deepEqual(line.body, JSON.parse(fixture('update-activity-with-images')));

    // Non-ASCII text reaches the line unchanged (UTF-8 in, UTF-8 out).
    await fetch(`${url}?code=sekret`, { method: 'POST', body: fixture('create-account') });
    const created = JSON.parse(await running.next()) as { messageName: string; body: { InputParameters: unknown } };
    assert.equal(created.messageName, 'Create');
    assert.deepEqual(
      created.body.InputParameters,
      (JSON.parse(fixture('create-account')) as { InputParameters: unknown }).InputParameters,
    );

    assert.match(running.stderr(), /rejected \(401\)/);
    assert.doesNotMatch(running.stderr(), /sekret/);
    running.child.kill('SIGINT');
    assert.equal(await running.exit(), 0);
  });

  it('prints a readable summary per delivery without --json', async () => {
    running = await listen(['--port', '0']);
    const url = /(http:\/\/\S+\/)/.exec(running.firstLine)?.[1] ?? assert.fail(running.firstLine);
    assert.equal((await fetch(url, { method: 'POST', body: fixture('update-activity-with-images') })).status, 200);
    const lines: string[] = [];
    for (let line = await running.next(); !line.includes('post image'); line = await running.next()) lines.push(line);
    const text = lines.join('\n');
    assert.match(text, /Update new_customactivity\(841579d9-7e63-ef11-9e4a-00155d0001ea\)/);
    assert.match(text, /stage 40 \(post-operation\), asynchronous, depth 1/);
    assert.match(text, /correlation 3860c444-0576-4d79-9877-b0ca8e4e9bd4/);
    assert.match(
      text,
      /changed columns: activityid, statecode, statuscode, modifiedon, modifiedby, modifiedonbehalfby/,
    );
    assert.match(text, /statecode: option 0 -> option 3/);
    assert.match(text, /pre image Image:/);
    assert.match(text, /from = \[contact\(a76c0a41-4dec-ea11-a2d1-00155d04e323\) "Some Contact"\]/);
    running.child.kill('SIGINT');
    assert.equal(await running.exit(), 0);
  });

  it('escapes control characters of a delivery in text mode, so they show instead of driving the terminal (Issue 14.5)', async () => {
    running = await listen(['--port', '0']);
    const url = /(http:\/\/\S+\/)/.exec(running.firstLine)?.[1] ?? assert.fail(running.firstLine);
    const body = JSON.parse(fixture('create-account')) as {
      InputParameters: { value: { Attributes: { key: string; value: unknown }[] } }[];
    };
    const name = body.InputParameters[0]?.value.Attributes.find((attribute) => attribute.key === 'name');
    assert.ok(name);
    // JSON.stringify (how values are quoted) escapes C0 controls itself; C1's one-byte CSI and bidi overrides not.
    name.value = 'Evil\u001b]0;pwned\u0007\u009b2J\u202eName\rX';
    assert.equal((await fetch(url, { method: 'POST', body: JSON.stringify(body) })).status, 200);
    const lines: string[] = [];
    let line = await running.next();
    for (; !line.includes(' name = '); line = await running.next()) lines.push(line);
    const printed = [...lines, line].join('\n');
    // eslint-disable-next-line no-control-regex -- looking for control characters is the point
    assert.ok(!/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202e]/.test(printed), JSON.stringify(printed));
    assert.ok(line.includes('"Evil\\u001b]0;pwned\\u0007\\x9b2J\\u202eName\\rX"'), line);
    running.child.kill('SIGINT');
    await running.exit();
  });

  it('--key-env reads the WebhookKey from an environment variable, so it stays out of ps (Issue 14.6)', async () => {
    running = await listen(['--json', '--port', '0', '--key-env', 'DVW_TEST_WEBHOOK_KEY'], {
      DVW_TEST_WEBHOOK_KEY: 'from-the-environment',
    });
    const { url } = JSON.parse(running.firstLine) as { url: string };
    assert.equal((await fetch(`${url}?code=nope`, { method: 'POST', body: fixture('create-account') })).status, 401);
    const accepted = await fetch(`${url}?code=from-the-environment`, {
      method: 'POST',
      body: fixture('create-account'),
    });
    assert.equal(accepted.status, 200);
    assert.equal((JSON.parse(await running.next()) as { messageName: string }).messageName, 'Create');
    assert.doesNotMatch(running.stderr(), /from-the-environment/);
    running.child.kill('SIGINT');
    assert.equal(await running.exit(), 0);
  });

  describe('bad arguments end with a message and exit code 2', () => {
    const cases: [string, string[], RegExp][] = [
      ['a port that is not a number', ['--port', 'abc'], /port number/],
      ['a port out of range', ['--port', '70000'], /port number/],
      ['two auth kinds', ['--key', 'a', '--header', 'x-key=b'], /choose one of --key, --header and --query/],
      ['an empty key', ['--key', ''], /--key must not be empty/],
      ['--key with --key-env', ['--key', 'a', '--key-env', 'X'], /--key or --key-env, not both/],
      ['--key-env naming an unset variable', ['--key-env', 'DVW_TEST_UNSET_KEY_VARIABLE'], /is not set/],
      ['a header without a value', ['--header', 'x-key'], /NAME=VALUE/],
      ['an unknown option', ['--frobnicate'], /unknown option/],
    ];
    for (const [what, args, message] of cases) {
      it(what, async () => {
        const { code, stderr } = await capture(['webhooks', 'listen', ...args]);
        assert.equal(code, 2);
        assert.match(stderr, message);
      });
    }
  });
});

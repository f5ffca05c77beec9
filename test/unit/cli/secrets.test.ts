import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseFaults } from '../../../src/emulator/faults';
import type { RunningEmulator } from '../../../src/emulator/server';
import { startEmulator } from '../../../src/emulator/server';

const root = resolve(__dirname, '../../..');
const main = join(root, 'src/cli/main.ts');

interface Run {
  readonly args: readonly string[];
  readonly code: number;
  readonly output: string;
}

/** The real `dvw` in a child process: everything it writes to stdout and stderr, as a user would see it. */
function dvw(args: readonly string[], env: Record<string, string>): Promise<Run> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', main, ...args],
      { env: { PATH: process.env.PATH ?? '', HOME: env.HOME ?? tmpdir(), ...env }, timeout: 120_000 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
        done({ args, code, output: `${stdout}\n${stderr}` });
      },
    );
  });
}

function filesUnder(directory: string): string[] {
  return readdirSync(directory, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? filesUnder(join(directory, entry.name)) : [join(directory, entry.name)],
  );
}

/** The access tokens MSAL cached for the runs above: they must not show up anywhere either. */
function cachedTokens(file: string): string[] {
  const cache = JSON.parse(readFileSync(file, 'utf8')) as { AccessToken?: Record<string, { secret?: unknown }> };
  return Object.values(cache.AccessToken ?? {})
    .map((entry) => entry.secret)
    .filter((secret): secret is string => typeof secret === 'string');
}

describe('dvw never shows secrets or tokens', function () {
  this.timeout(240_000);
  let emulator: RunningEmulator;
  let directory: string;

  before(async () => {
    emulator = await startEmulator({ port: 0, seed: 'sample', faults: parseFaults('503=10%,seed=11') });
    directory = mkdtempSync(join(tmpdir(), 'dvw-secrets-'));
  });
  after(async () => {
    await emulator.close();
    rmSync(directory, { recursive: true, force: true });
  });

  it('in the output of env add/list/test, run and import (client secret and token), in errors, and in its files', async () => {
    const e = emulator;
    const config = join(directory, 'config');
    const home = join(directory, 'home');
    const base = { DVW_CONFIG_DIR: config, HOME: home };
    const withSecret = { ...base, DATAVERSE_CLIENT_SECRET: e.clientSecret };
    const wrongSecret = `${e.clientSecret.slice(0, -6)}WRONG1`;
    const wrongToken = `${e.token.slice(0, -10)}AAAAAAAAAA`;
    const odata = join(directory, 'who.odata');
    writeFileSync(odata, '### who\nGET WhoAmI\n\n### some accounts\nGET accounts?$select=name&$top=3\n');
    const csv = join(directory, 'accounts.csv');
    writeFileSync(
      csv,
      `name,numberofemployees\n${Array.from({ length: 300 }, (_, i) => `Secretless ${i},${i}`).join('\n')}\n`,
    );

    const runs: Run[] = [];
    const step = async (args: string[], env: Record<string, string>): Promise<Run> => {
      const run = await dvw(args, env);
      runs.push(run);
      return run;
    };
    const add = await step(
      [
        'env',
        'add',
        'local',
        '--url',
        e.url,
        '--client-id',
        e.clientId,
        '--authority',
        e.authority,
        '--ca-file',
        e.certificatePath,
      ],
      withSecret,
    );
    assert.equal(add.code, 0, add.output);
    assert.equal((await step(['env', 'list'], withSecret)).code, 0);
    assert.equal((await step(['env', 'list', '--json'], withSecret)).code, 0);
    const test = await step(['env', 'test', 'local'], withSecret);
    assert.equal(test.code, 0, test.output);
    assert.match(test.output, /signed in as user/);
    const runEnv = await step(['run', odata, '--env', 'local'], withSecret);
    assert.equal(runEnv.code, 0, runEnv.output);
    const runToken = await step(['run', odata, '--url', e.url, '--token', e.token, '--output', 'json'], base);
    assert.equal(runToken.code, 0, runToken.output);
    const importEnv = await step(['import', 'accounts', csv, '--env', 'local', '--verbose'], withSecret);
    assert.equal(importEnv.code, 0, importEnv.output);
    const importVars = await step(['import', 'accounts', csv, '--url', e.url, '--verbose', '--batch-size', '10'], {
      ...base,
      DATAVERSE_CLIENT_ID: e.clientId,
      DATAVERSE_CLIENT_SECRET: e.clientSecret,
      DATAVERSE_AUTHORITY: e.authority,
      DATAVERSE_CA_FILE: e.certificatePath,
    });
    assert.equal(importVars.code, 0, importVars.output);
    // UpsertMultiple where the table lists it, else $batch: either way the retries show in the verbose log.
    assert.match(importVars.output, /^retry: POST \/api\/data\/v9\.2\/\S+ → 503/m, 'the verbose log has retries');
    const importToken = await step(['import', 'accounts', csv, '--url', e.url, '--verbose'], {
      ...base,
      DATAVERSE_TOKEN: e.token,
    });
    assert.equal(importToken.code, 0, importToken.output);

    // Failures: a wrong secret and a wrong token end in errors that must not quote them either. The wrong
    // secret is refused although MSAL's cache holds the token the right one got: env test signs in afresh.
    const badSecret = await step(['env', 'test', 'local'], { ...base, DATAVERSE_CLIENT_SECRET: wrongSecret });
    assert.equal(badSecret.code, 1);
    assert.match(badSecret.output, /local \(clientSecret\): sign-in failed: .*AADSTS7000215/);
    const badToken = await step(['import', 'accounts', csv, '--url', e.url, '--token', wrongToken], base);
    assert.notEqual(badToken.code, 0);
    const badRun = await step(['run', odata, '--url', e.url, '--token', wrongToken], base);
    assert.notEqual(badRun.code, 0);

    const cacheFile = join(config, 'msal-token-cache.json');
    assert.equal(statSync(cacheFile).mode & 0o777, 0o600, "MSAL's cache is readable by its owner only");
    const msalTokens = cachedTokens(cacheFile);
    assert.ok(msalTokens.length > 0, 'MSAL tokens were issued and cached');
    const secrets = [e.clientSecret, wrongSecret, e.token, wrongToken, ...msalTokens];
    for (const run of runs) {
      for (const secret of secrets) {
        assert.ok(!run.output.includes(secret), `dvw ${run.args.slice(0, 2).join(' ')} printed a secret or token`);
      }
    }
    // Every file dvw wrote (connections, metadata cache) except the token cache, which exists to hold tokens.
    const written = filesUnder(config).filter((file) => file !== cacheFile);
    assert.ok(written.some((file) => file.endsWith('connections.json')));
    for (const file of written) {
      const content = readFileSync(file, 'utf8');
      for (const secret of secrets) assert.ok(!content.includes(secret), `${file} holds a secret or token`);
    }
    assert.ok(!readFileSync(cacheFile, 'utf8').includes(e.clientSecret), 'the token cache holds no client secret');
  });
});

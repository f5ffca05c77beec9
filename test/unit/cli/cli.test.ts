import * as assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { runCli } from '../../../src/cli/program';

const root = path.resolve(__dirname, '../../..');
const version = (JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string }).version;

async function capture(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(argv, { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t) });
  return { code, stdout, stderr };
}

describe('dvw', () => {
  it('--help lists the commands and exits 0', async () => {
    const { code, stdout } = await capture(['--help']);
    assert.equal(code, 0);
    assert.match(stdout, /Usage: dvw/);
    assert.match(stdout, /^\s+lsp\b/m);
  });

  it('--version prints the package version', async () => {
    const { code, stdout } = await capture(['--version']);
    assert.equal(code, 0);
    assert.equal(stdout.trim(), version);
  });

  it('answers an unknown command with a message and a non-zero code, not a stack trace', async () => {
    const { code, stderr } = await capture(['frobnicate']);
    assert.notEqual(code, 0);
    assert.match(stderr, /unknown command 'frobnicate'/);
    assert.doesNotMatch(stderr, /\n\s+at /);
  });

  it('the built dist/cli.js runs as an executable script', function () {
    const cli = path.join(root, 'dist/cli.js');
    // npm test builds before the unit tests; a bare `mocha` run without a build has nothing to check here.
    if (!existsSync(cli)) this.skip();
    assert.ok(readFileSync(cli, 'utf8').startsWith('#!/usr/bin/env node\n'));
    assert.equal(execFileSync(process.execPath, [cli, '--version'], { encoding: 'utf8' }).trim(), version);
    const help = spawnSync(process.execPath, [cli, '--help'], { encoding: 'utf8' });
    assert.equal(help.status, 0);
    assert.match(help.stdout, /lsp/);
  });

  it('dvw lsp speaks LSP over stdio', () => {
    const child = spawnSync(process.execPath, ['--import', 'tsx', path.join(root, 'src/cli/main.ts'), 'lsp'], {
      input:
        lspMessage({
          jsonrpc: '2.0',
          id: 1,
          method: 'initialize',
          params: { processId: null, rootUri: null, capabilities: {} },
        }) +
        lspMessage({ jsonrpc: '2.0', id: 2, method: 'shutdown' }) +
        lspMessage({ jsonrpc: '2.0', method: 'exit' }),
      encoding: 'utf8',
      timeout: 30_000,
    });
    assert.match(child.stdout, /Content-Length: \d+\r\n\r\n/);
    const initialize = JSON.parse(child.stdout.split('\r\n\r\n')[1]?.split('Content-Length')[0] ?? '{}') as {
      id: number;
      result: { capabilities: { documentSymbolProvider: boolean } };
    };
    assert.equal(initialize.id, 1);
    assert.equal(initialize.result.capabilities.documentSymbolProvider, true);
  });
});

function lspMessage(body: unknown): string {
  const json = JSON.stringify(body);
  return `Content-Length: ${Buffer.byteLength(json)}\r\n\r\n${json}`;
}

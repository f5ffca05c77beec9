// Runs test/integration inside a real VS Code.
//
//   node scripts/run-integration-tests.mjs                 the development build (dist/) as the extension
//   node scripts/run-integration-tests.mjs --vsix FILE     installs FILE and tests the installed build
//   DVW_TEST_HOST=electron|code-server                     force a host (default: electron when desktop
//                                                          VS Code can be downloaded, else code-server)
//
// code-server ships VS Code's workbench and its real Node extension host; headless Chromium opens the
// workbench, VS Code runs the test module in the extension host, and the module writes a JSON report
// that this script polls (see ../shared/design/testing.md).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const VSCODE_VERSION = '1.100.3'; // the VS Code inside code-server 4.100.3; also what test-electron downloads
const TEST_TIMEOUT_MS = 10 * 60_000;

const args = process.argv.slice(2);
const vsixIndex = args.indexOf('--vsix');
const vsix = vsixIndex === -1 ? undefined : path.resolve(args[vsixIndex + 1] ?? '');
if (vsixIndex !== -1 && !existsSync(vsix)) fail(`--vsix: no such file ${vsix}; run npm run package first`);

const testsModule = path.join(root, 'out/test/integration/index.js');
if (!existsSync(testsModule)) fail(`${testsModule} is missing; run npm run build first`);
if (!vsix && !existsSync(path.join(root, 'dist/extension.js')))
  fail('dist/extension.js is missing; run npm run build first');

const work = mkdtempSync(path.join(tmpdir(), 'dvw-integration-'));
// A copy, so that nothing a test writes lands in the repository's fixture folder.
const workspace = path.join(work, 'workspace');
cpSync(path.join(root, 'test/fixtures/workspace'), workspace, { recursive: true });
const reportPath = path.join(work, 'report.json');
const developmentPath = vsix ? path.join(root, 'test/integration/harness') : root;
const env = {
  ...process.env,
  DVW_TEST_REPORT: reportPath,
  DVW_EXPECT_INSTALLED_EXTENSION: vsix ? '1' : '0',
};

let exitCode = 1;
try {
  const host = await chooseHost();
  console.log(`integration tests: ${vsix ? `installed ${path.basename(vsix)}` : 'development build'} in ${host}`);
  const report = host === 'electron' ? await runInElectron() : await runInCodeServer();
  exitCode = printReport(report);
} catch (error) {
  console.error(`integration tests could not run: ${error instanceof Error ? error.message : String(error)}`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
process.exit(exitCode);

function fail(message) {
  console.error(`run-integration-tests: ${message}`);
  process.exit(2);
}

async function chooseHost() {
  const forced = process.env.DVW_TEST_HOST;
  if (forced === 'electron' || forced === 'code-server') return forced;
  if (forced) fail(`DVW_TEST_HOST must be electron or code-server, not ${forced}`);
  if (process.platform !== 'linux' || process.env.DISPLAY) {
    try {
      const { downloadAndUnzipVSCode } = await import('@vscode/test-electron');
      await withTimeout(downloadAndUnzipVSCode(VSCODE_VERSION), 60_000, 'VS Code download');
      return 'electron';
    } catch (error) {
      console.log(
        `desktop VS Code is not available (${error instanceof Error ? error.message : error}); using code-server`,
      );
    }
  }
  return 'code-server';
}

async function runInElectron() {
  const { runTests, downloadAndUnzipVSCode, resolveCliArgsFromVSCodeExecutablePath } =
    await import('@vscode/test-electron');
  const executable = await downloadAndUnzipVSCode(VSCODE_VERSION);
  const userData = path.join(work, 'user-data');
  const extensions = path.join(work, 'extensions');
  if (vsix) {
    const [cli, ...cliArgs] = resolveCliArgsFromVSCodeExecutablePath(executable);
    run(cli, [...cliArgs, '--extensions-dir', extensions, '--install-extension', vsix]);
  }
  try {
    await runTests({
      vscodeExecutablePath: executable,
      extensionDevelopmentPath: developmentPath,
      extensionTestsPath: testsModule,
      extensionTestsEnv: env,
      launchArgs: [workspace, '--user-data-dir', userData, '--extensions-dir', extensions, '--disable-workspace-trust'],
    });
  } catch {
    // The report says what failed.
  }
  return readReport();
}

async function runInCodeServer() {
  const bin = path.join(root, '.vscode-test/code-server/node_modules/.bin/code-server');
  if (!existsSync(bin)) run('bash', [path.join(root, 'scripts/install-code-server.sh')]);
  const userData = path.join(work, 'user-data');
  const extensions = path.join(work, 'extensions');
  const common = [
    '--user-data-dir',
    userData,
    '--extensions-dir',
    extensions,
    '--disable-telemetry',
    '--disable-update-check',
  ];
  if (vsix) run(bin, [...common, '--install-extension', vsix]);

  const server = spawn(
    bin,
    [
      '--auth',
      'none',
      '--bind-addr',
      '127.0.0.1:0',
      ...common,
      '--disable-workspace-trust',
      '--disable-getting-started-override',
      workspace,
    ],
    { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true },
  );
  const serverLog = [];
  let browser;
  try {
    const origin = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`code-server did not start:\n${serverLog.join('')}`)), 60_000);
      const onData = (chunk) => {
        serverLog.push(chunk.toString());
        const match = /HTTP server listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(serverLog.join(''));
        if (match) {
          clearTimeout(timer);
          resolve(match[1]);
        }
      };
      server.stdout.on('data', onData);
      server.stderr.on('data', onData);
      server.on('exit', (code) => reject(new Error(`code-server exited with ${code}:\n${serverLog.join('')}`)));
    });
    const remote = (p) => `vscode-remote://${new URL(origin).host}${p}`;
    const payload = [
      ['extensionDevelopmentPath', remote(developmentPath)],
      ['extensionTestsPath', remote(testsModule)],
    ];
    const url = `${origin}/?folder=${encodeURIComponent(workspace)}&payload=${encodeURIComponent(JSON.stringify(payload))}`;

    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
        '--disable-quic',
      ],
    });
    const page = await browser.newPage();
    const consoleLines = [];
    page.on('console', (message) => consoleLines.push(`[browser ${message.type()}] ${message.text()}`));
    await page.goto(url);
    const deadline = Date.now() + TEST_TIMEOUT_MS;
    while (!existsSync(reportPath)) {
      if (Date.now() > deadline) {
        throw new Error(
          `no report after ${TEST_TIMEOUT_MS / 1000} s\n${consoleLines.slice(-40).join('\n')}\n${serverLog.join('').slice(-4000)}`,
        );
      }
      if (server.exitCode !== null) throw new Error(`code-server stopped:\n${serverLog.join('').slice(-4000)}`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    // The report is written in one call; give the write a moment to finish before reading.
    await new Promise((resolve) => setTimeout(resolve, 200));
    return readReport();
  } finally {
    await browser?.close().catch(() => {});
    try {
      process.kill(-server.pid, 'SIGTERM');
    } catch {
      // already gone
    }
  }
}

function readReport() {
  if (!existsSync(reportPath)) throw new Error('the test module wrote no report');
  return JSON.parse(readFileSync(reportPath, 'utf8'));
}

function printReport(report) {
  console.log(`VS Code ${report.vscodeVersion} (${report.appName})`);
  for (const title of report.passed) console.log(`  ✓ ${title}`);
  for (const title of report.pending) console.log(`  - ${title} (pending)`);
  for (const failure of report.failed) console.log(`  ✗ ${failure.title}\n${indent(failure.error)}`);
  console.log(`integration: ${report.passed.length} passed, ${report.failed.length} failed`);
  return report.failed.length === 0 && report.passed.length > 0 ? 0 : 1;
}

function indent(text) {
  return text
    .split('\n')
    .map((line) => `      ${line}`)
    .join('\n');
}

function run(command, commandArgs) {
  const result = spawnSync(command, commandArgs, { stdio: 'inherit', env });
  if (result.status !== 0) throw new Error(`${command} ${commandArgs.join(' ')} exited with ${result.status}`);
}

function withTimeout(promise, ms, what) {
  return Promise.race([
    promise,
    new Promise((_, reject) => setTimeout(() => reject(new Error(`${what} took over ${ms / 1000} s`)), ms).unref()),
  ]);
}

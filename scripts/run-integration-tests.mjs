// Runs test/integration inside a real VS Code.
//
//   node scripts/run-integration-tests.mjs                 the development build (dist/) as the extension
//   node scripts/run-integration-tests.mjs --vsix FILE     installs FILE and tests the installed build
//   --schema builtin|snapshot                              one run only (default: both, one after the other)
//   DVW_TEST_HOST=electron|code-server                     force a host (default: electron when desktop
//                                                          VS Code can be downloaded, else code-server)
//
// The suite runs twice: on the emulator's built-in tables, then with the local emulator started from a
// snapshot of a real organization (../shared/fixtures: the 8.5 MB `$metadata` and the EntityDefinitions of
// account and opportunity, written as test:snapshot writes it) through the dataverse.emulator.schemaSnapshot
// user setting. test/integration/index.ts skips, with their reason, the tests that cannot hold on that org.
//
// code-server ships VS Code's workbench and its real Node extension host; headless Chromium opens the
// workbench, VS Code runs the test module in the extension host, and the module writes a JSON report
// that this script polls (see ../shared/design/testing.md).
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const VSCODE_VERSION = '1.100.3'; // the VS Code inside code-server 4.100.3; also what test-electron downloads
const TEST_TIMEOUT_MS = 10 * 60_000;

const args = process.argv.slice(2);
const vsixIndex = args.indexOf('--vsix');
const vsix = vsixIndex === -1 ? undefined : path.resolve(args[vsixIndex + 1] ?? '');
if (vsixIndex !== -1 && !existsSync(vsix)) fail(`--vsix: no such file ${vsix}; run npm run package first`);
const schemaIndex = args.indexOf('--schema');
const SCHEMAS = ['builtin', 'snapshot'];
const schemas = schemaIndex === -1 ? SCHEMAS : [args[schemaIndex + 1]];
if (!SCHEMAS.includes(schemas[0])) fail(`--schema must be builtin or snapshot, not ${schemas[0]}`);
const RUN_TITLES = {
  builtin: 'built-in tables',
  snapshot: "real org's snapshot (../shared/fixtures/metadata/dataverse-v9.edmx.xml)",
};

const testsModule = path.join(root, 'out/test/integration/index.js');
if (!existsSync(testsModule)) fail(`${testsModule} is missing; run npm run build first`);
if (!vsix && !existsSync(path.join(root, 'dist/extension.js')))
  fail('dist/extension.js is missing; run npm run build first');

const work = mkdtempSync(path.join(tmpdir(), 'dvw-integration-'));
const developmentPath = vsix ? path.join(root, 'test/integration/harness') : root;
// Shared by the runs: a --vsix build is installed into it once.
const extensions = path.join(work, 'extensions');
let installed = false;

const summary = [];
let exitCode = 0;
try {
  const host = await chooseHost();
  for (const schema of schemas) {
    console.log(
      `integration tests (${RUN_TITLES[schema]}): ${vsix ? `installed ${path.basename(vsix)}` : 'development build'} in ${host}`,
    );
    const run = prepareRun(schema);
    const started = Date.now();
    try {
      const report = host === 'electron' ? await runInElectron(run) : await runInCodeServer(run);
      const counts = printReport(report);
      const seconds = Math.round((Date.now() - started) / 1000);
      summary.push(`integration on the ${RUN_TITLES[schema]}: ${counts.line} (${seconds} s)`);
      if (!counts.ok) exitCode = 1;
    } catch (error) {
      console.error(
        `integration tests (${RUN_TITLES[schema]}) could not run: ${error instanceof Error ? error.message : String(error)}`,
      );
      summary.push(`integration on the ${RUN_TITLES[schema]}: could not run`);
      exitCode = 1;
    }
  }
  for (const line of summary) console.log(line);
} catch (error) {
  console.error(`integration tests could not run: ${error instanceof Error ? error.message : String(error)}`);
  exitCode = 1;
} finally {
  rmSync(work, { recursive: true, force: true });
}
process.exit(exitCode);

/**
 * A fresh profile, workspace and report for one run; on the snapshot run, the snapshot and the user setting
 * that makes the local emulator serve it.
 */
function prepareRun(schema) {
  const folder = path.join(work, schema);
  const userData = path.join(folder, 'user-data');
  // A copy, so that nothing a test writes lands in the repository's fixture folder.
  const workspace = path.join(folder, 'workspace');
  cpSync(path.join(root, 'test/fixtures/workspace'), workspace, { recursive: true });
  const reportPath = path.join(folder, 'report.json');
  if (schema === 'snapshot') {
    const snapshot = path.join(folder, 'schema-snapshot');
    writeFixtureSnapshot(snapshot);
    mkdirSync(path.join(userData, 'User'), { recursive: true });
    writeFileSync(
      path.join(userData, 'User', 'settings.json'),
      JSON.stringify({ 'dataverse.emulator.schemaSnapshot': snapshot }, null, 2),
    );
  }
  const env = {
    ...process.env,
    DVW_TEST_REPORT: reportPath,
    DVW_EXPECT_INSTALLED_EXTENSION: vsix ? '1' : '0',
  };
  return { userData, workspace, reportPath, env };
}

/** The snapshot test:snapshot runs on, by the same code (test/unit/emulator/schema/fixtureSnapshot.ts), every table. */
function writeFixtureSnapshot(folder) {
  const writer = path.join(root, 'test/unit/emulator/schema/fixtureSnapshot.ts');
  run(
    process.execPath,
    ['--import', 'tsx', '-e', `require(${JSON.stringify(writer)}).writeRealSnapshot(process.argv[1])`, folder],
    process.env,
  );
}

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

async function runInElectron({ userData, workspace, reportPath, env }) {
  const { runTests, downloadAndUnzipVSCode, resolveCliArgsFromVSCodeExecutablePath } =
    await import('@vscode/test-electron');
  const executable = await downloadAndUnzipVSCode(VSCODE_VERSION);
  if (vsix && !installed) {
    const [cli, ...cliArgs] = resolveCliArgsFromVSCodeExecutablePath(executable);
    run(cli, [...cliArgs, '--extensions-dir', extensions, '--install-extension', vsix], env);
    installed = true;
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
  return readReport(reportPath);
}

async function runInCodeServer({ userData, workspace, reportPath, env }) {
  const bin = path.join(root, '.vscode-test/code-server/node_modules/.bin/code-server');
  if (!existsSync(bin)) run('bash', [path.join(root, 'scripts/install-code-server.sh')], env);
  const common = [
    '--user-data-dir',
    userData,
    '--extensions-dir',
    extensions,
    '--disable-telemetry',
    '--disable-update-check',
  ];
  if (vsix && !installed) {
    run(bin, [...common, '--install-extension', vsix], env);
    installed = true;
  }

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
    return readReport(reportPath);
  } finally {
    await browser?.close().catch(() => {});
    try {
      process.kill(-server.pid, 'SIGTERM');
    } catch {
      // already gone
    }
  }
}

function readReport(reportPath) {
  if (!existsSync(reportPath)) throw new Error('the test module wrote no report');
  return JSON.parse(readFileSync(reportPath, 'utf8'));
}

/** Prints one run's report; returns its counts line and whether it passed. */
function printReport(report) {
  console.log(`VS Code ${report.vscodeVersion} (${report.appName})`);
  for (const title of report.passed) console.log(`  ✓ ${title}`);
  for (const title of report.pending) console.log(`  - ${title} (pending)`);
  for (const failure of report.failed) console.log(`  ✗ ${failure.title}\n${indent(failure.error)}`);
  const line = `${report.passed.length} passed, ${report.failed.length} failed, ${report.pending.length} skipped`;
  console.log(`integration: ${line}`);
  return { line, ok: report.failed.length === 0 && report.passed.length > 0 };
}

function indent(text) {
  return text
    .split('\n')
    .map((line) => `      ${line}`)
    .join('\n');
}

function run(command, commandArgs, env) {
  const result = spawnSync(command, commandArgs, { stdio: 'inherit', env, cwd: root });
  if (result.status !== 0) throw new Error(`${command} ${commandArgs.join(' ')} exited with ${result.status}`);
}

function withTimeout(promise, ms, what) {
  return Promise.race([
    promise,
    new Promise((_, reject) => setTimeout(() => reject(new Error(`${what} took over ${ms / 1000} s`)), ms).unref()),
  ]);
}

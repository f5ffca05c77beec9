// `npm start`: opens a real VS Code with the extension (development build) on the sample workspace.
// Desktop VS Code when `code` is on PATH; otherwise code-server on 127.0.0.1, with the URL printed.
//   npm start -- --port 8080     choose code-server's port (default: a free one)
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
// The sample files are the integration tests' fixtures: the window opens a copy in the ignored cache folder,
// made once, so what a developer types there stays there (delete the folder to start afresh).
const workspace = path.join(root, '.vscode-test/sample-workspace');
if (!existsSync(workspace)) cpSync(path.join(root, 'test/fixtures/workspace'), workspace, { recursive: true });
const portIndex = process.argv.indexOf('--port');
const port = portIndex === -1 ? '0' : process.argv[portIndex + 1];
if (!/^\d+$/.test(port ?? '') || Number(port) > 65535) {
  console.error(`npm start: --port takes a number from 0 to 65535, not "${port}"`);
  process.exit(2);
}

step('building the extension', process.execPath, [path.join(root, 'esbuild.mjs')]);

const code = spawnSync(process.platform === 'win32' ? 'where' : 'which', ['code'], { encoding: 'utf8' });
if (code.status === 0 && !process.argv.includes('--code-server')) {
  console.log('opening desktop VS Code with the extension in development mode');
  step('code', 'code', [`--extensionDevelopmentPath=${root}`, workspace]);
  process.exit(0);
}

const bin = path.join(root, '.vscode-test/code-server/node_modules/.bin/code-server');
if (!existsSync(bin)) step('installing code-server', 'bash', [path.join(root, 'scripts/install-code-server.sh')]);
// A persistent profile under the ignored cache folder, so settings and sign-ins survive restarts.
const profile = path.join(root, '.vscode-test/start-profile');
// The development window starts the local emulator, so a newcomer sees data without a tenant.
const settingsFile = path.join(profile, 'user-data/User/settings.json');
mkdirSync(path.dirname(settingsFile), { recursive: true });
const settings = existsSync(settingsFile) ? JSON.parse(readFileSync(settingsFile, 'utf8')) : {};
writeFileSync(settingsFile, JSON.stringify({ ...settings, 'dataverse.emulator.autoStart': true }, null, 2));
const server = spawn(
  bin,
  [
    '--auth',
    'none',
    '--bind-addr',
    `127.0.0.1:${port}`,
    '--user-data-dir',
    path.join(profile, 'user-data'),
    '--extensions-dir',
    path.join(profile, 'extensions'),
    '--disable-telemetry',
    '--disable-update-check',
    // The sample workspace is a copy of the project's own files; trusting it skips a prompt on every start.
    '--disable-workspace-trust',
    workspace,
  ],
  { stdio: ['ignore', 'pipe', 'inherit'] },
);
let printed = false;
server.stdout.on('data', (chunk) => {
  const match = /HTTP server listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(chunk.toString());
  if (match && !printed) {
    printed = true;
    const remote = `vscode-remote://${new URL(match[1]).host}${root}`;
    const payload = encodeURIComponent(JSON.stringify([['extensionDevelopmentPath', remote]]));
    console.log(
      `\nDataverse Workbench is running in VS Code (code-server). Open this URL in a browser:\n\n  ${match[1]}/?folder=${encodeURIComponent(workspace)}&payload=${payload}\n\nPress Ctrl+C to stop.`,
    );
  }
});
const stop = () => server.kill('SIGTERM');
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
server.on('exit', (status) => process.exit(status ?? 0));

function step(what, command, args) {
  const result = spawnSync(command, args, { stdio: 'inherit' });
  if (result.status !== 0) {
    console.error(`npm start: ${what} failed (exit ${result.status ?? result.signal})`);
    process.exit(1);
  }
}

// Takes docs/images/agent-tool-picker.png: VS Code's agent-mode tool picker ("Select tools that are
// available to chat") listing this extension's language model tools.
//
//   npm run build && node scripts/screenshot-tool-picker.mjs
//
// code-server has no Copilot Chat, and VS Code shows its chat view only once a default chat participant
// is registered. The script installs such a participant for the run (it answers nothing; its proposed
// APIs are enabled for it alone); the tools in the picker are this extension's, from the development
// build, as VS Code lists them. Needs code-server (scripts/install-code-server.sh) and Chromium, as the
// integration tests do (../shared/design/testing.md).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const output = path.join(root, 'docs/images/agent-tool-picker.png');
const bin = path.join(root, '.vscode-test/code-server/node_modules/.bin/code-server');
if (!existsSync(path.join(root, 'dist/extension.js'))) {
  console.error('dist/extension.js is missing; run npm run build first');
  process.exit(2);
}
if (!existsSync(bin)) spawnSync('bash', [path.join(root, 'scripts/install-code-server.sh')], { stdio: 'inherit' });

const work = mkdtempSync(path.join(tmpdir(), 'dvw-tool-picker-'));
const workspace = path.join(work, 'workspace');
const userData = path.join(work, 'user-data');
const extensions = path.join(work, 'extensions');
mkdirSync(workspace);
mkdirSync(path.join(userData, 'User'), { recursive: true });
writeFileSync(
  path.join(userData, 'User/settings.json'),
  JSON.stringify({ 'chat.agent.enabled': true, 'workbench.colorTheme': 'Default Dark Modern' }),
);
// The stand-in participant, installed into this run's extensions folder.
const harness = path.join(extensions, 'dvwtest.tool-picker-harness-0.0.1');
mkdirSync(harness, { recursive: true });
writeFileSync(
  path.join(harness, 'package.json'),
  JSON.stringify({
    name: 'tool-picker-harness',
    publisher: 'dvwtest',
    version: '0.0.1',
    engines: { vscode: '^1.100.0' },
    main: './extension.js',
    activationEvents: ['onStartupFinished'],
    enabledApiProposals: ['defaultChatParticipant', 'chatParticipantPrivate'],
    contributes: {
      chatParticipants: [
        {
          id: 'dvwtest.standin',
          name: 'standin',
          fullName: 'Stand-in participant',
          description: 'Stand-in chat participant for this screenshot (no model)',
          isDefault: true,
          modes: ['agent', 'ask', 'edit'],
          locations: ['panel'],
        },
      ],
    },
  }),
);
writeFileSync(
  path.join(harness, 'extension.js'),
  `const vscode = require('vscode');
exports.activate = (context) => {
  context.subscriptions.push(
    vscode.chat.createChatParticipant('dvwtest.standin', (_request, _context, stream) => {
      stream.markdown('This participant only lets the chat view open for a screenshot.');
    }),
  );
};
`,
);

const server = spawn(
  bin,
  [
    '--auth',
    'none',
    '--bind-addr',
    '127.0.0.1:0',
    '--user-data-dir',
    userData,
    '--extensions-dir',
    extensions,
    '--disable-telemetry',
    '--disable-update-check',
    '--disable-workspace-trust',
    '--disable-getting-started-override',
    '--enable-proposed-api',
    'dvwtest.tool-picker-harness',
    workspace,
  ],
  { stdio: ['ignore', 'pipe', 'pipe'], detached: true },
);
let browser;
let page;
let exitCode = 1;
try {
  const origin = await new Promise((resolve, reject) => {
    let log = '';
    const timer = setTimeout(() => reject(new Error(`code-server did not start:\n${log}`)), 120_000);
    const onData = (chunk) => {
      log += chunk.toString();
      const match = /HTTP server listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(log);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    };
    server.stdout.on('data', onData);
    server.stderr.on('data', onData);
    server.on('exit', (code) => reject(new Error(`code-server exited with ${code}:\n${log}`)));
  });
  const payload = [['extensionDevelopmentPath', `vscode-remote://${new URL(origin).host}${root}`]];
  const url = `${origin}/?folder=${encodeURIComponent(workspace)}&payload=${encodeURIComponent(JSON.stringify(payload))}`;
  const { chromium } = await import('playwright-core');
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-sync', '--no-first-run'],
  });
  page = await browser.newPage({ viewport: { width: 1200, height: 720 } });
  await page.goto(url);
  await page.waitForSelector('.monaco-workbench', { timeout: 120_000 });
  // The Dataverse activity bar entry shows the extension has loaded.
  await page.waitForSelector('.activitybar [aria-label^="Dataverse"]', { timeout: 120_000 });
  // The chat view opens once the stand-in participant has registered: try until it does.
  const modePicker = page.locator('.interactive-input-part .chat-modelPicker-item').first();
  for (let attempt = 0; !(await modePicker.isVisible()); attempt++) {
    if (attempt === 12) throw new Error('the chat view did not open');
    await page.keyboard.press('Escape');
    await page.keyboard.press('F1');
    await page.waitForSelector('.quick-input-widget input', { timeout: 30_000 });
    await page.keyboard.type('Chat: Open Chat');
    await page.waitForTimeout(1500);
    await page.keyboard.press('Enter');
    await page.waitForTimeout(5000);
  }
  // The mode picker: Ask, Edit, Agent.
  await modePicker.click();
  // The menu's pointer guard swallows clicks: from Ask, Agent is two items down.
  await page.locator('.context-view').getByText('Agent', { exact: true }).waitFor();
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('Enter');
  await page.locator('.interactive-input-part .chat-modelPicker-item', { hasText: 'Agent' }).waitFor();
  await page.locator('.interactive-input-part a.codicon-tools').click();
  await page.getByText('List Dataverse environments', { exact: true }).waitFor({ timeout: 30_000 });
  await page.waitForTimeout(500);
  await page.screenshot({ path: output });
  console.log(`wrote ${path.relative(root, output)}`);
  exitCode = 0;
} catch (error) {
  console.error(`screenshot-tool-picker: ${error instanceof Error ? error.message : String(error)}`);
  if (process.env.DVW_SCREENSHOT_DEBUG) await page?.screenshot({ path: process.env.DVW_SCREENSHOT_DEBUG });
} finally {
  await browser?.close().catch(() => {});
  try {
    process.kill(-server.pid, 'SIGTERM');
  } catch {
    // already gone
  }
  rmSync(work, { recursive: true, force: true });
}
process.exit(exitCode);

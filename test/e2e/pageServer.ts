// The page server and browser of the webview e2e tests.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as esbuild from 'esbuild';
import type { Browser } from 'playwright-core';
import { chromium } from 'playwright-core';
import type { PageHtmlOptions } from '../../src/webview/pageHtml';

const root = path.resolve(__dirname, '../..');

export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

export async function launchChromium(extraArgs: readonly string[] = []): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: [...CHROMIUM_ARGS, ...extraArgs],
  });
}

const BOOTSTRAP = `(() => {
  const posted = [];
  window.__posted = posted;
  window.__violations = [];
  document.addEventListener('securitypolicyviolation', (e) => {
    window.__violations.push(e.violatedDirective + ' ' + e.blockedURI);
  });
  let acquired = false;
  window.acquireVsCodeApi = () => {
    if (acquired) throw new Error('acquireVsCodeApi may be called only once');
    acquired = true;
    return Object.freeze({
      postMessage: (message) => { posted.push(JSON.parse(JSON.stringify(message))); },
      getState: () => {
        const saved = sessionStorage.getItem('vscode-state');
        return saved === null ? undefined : JSON.parse(saved);
      },
      setState: (state) => { sessionStorage.setItem('vscode-state', JSON.stringify(state)); return state; },
    });
  };
  window.__host = { post: (message) => window.postMessage(message, '*') };
})();
`;

export interface PageServer {
  readonly url: string;
  close(): Promise<void>;
}

/**
 * Serves one webview page the way VS Code would: the HTML from its render function (so its CSP applies
 * for real), its bundle built from src/webview/<name>/main.ts with esbuild's API into a temp folder
 * (never dist/, which other builds own), media/<name>.css, and a nonce'd bootstrap that stands in for the
 * host's `acquireVsCodeApi` (records posted messages, keeps state across reloads, posts host messages).
 */
export async function startPageServer(name: string, render: (options: PageHtmlOptions) => string): Promise<PageServer> {
  const outdir = mkdtempSync(path.join(tmpdir(), `dvw-${name}-`));
  await esbuild.build({
    entryPoints: [path.join(root, 'src/webview', name, 'main.ts')],
    bundle: true,
    platform: 'browser',
    format: 'iife',
    target: 'es2022',
    outfile: path.join(outdir, `${name}.js`),
    logLevel: 'warning',
  });
  const script = readFileSync(path.join(outdir, `${name}.js`));
  const css = readFileSync(path.join(root, 'media', `${name}.css`));

  const server = createServer((request, response) => {
    const origin = `http://${request.headers.host ?? '127.0.0.1'}`;
    const send = (type: string, body: string | Buffer, status = 200): void => {
      response.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
      response.end(body);
    };
    const pathname = new URL(request.url ?? '/', origin).pathname;
    if (pathname === `/${name}.js`) return send('text/javascript', script);
    if (pathname === `/${name}.css`) return send('text/css', css);
    switch (pathname) {
      case '/': {
        const nonce = randomBytes(18).toString('base64');
        const html = render({
          cspSource: origin,
          nonce,
          scriptUri: `${origin}/${name}.js`,
          styleUri: `${origin}/${name}.css`,
        });
        // VS Code injects acquireVsCodeApi before the page's scripts; the bootstrap does it here.
        send(
          'text/html; charset=utf-8',
          html.replace('<script nonce=', `<script nonce="${nonce}" src="/bootstrap.js"></script>\n<script nonce=`),
        );
        return;
      }
      case '/bootstrap.js':
        return send('text/javascript', BOOTSTRAP);
      default:
        return send('text/plain', 'not found', 404);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync(outdir, { recursive: true, force: true });
    },
  };
}

// Serves the webhook inspector page the way VS Code would: the HTML from renderInspectorHtml (so its
// CSP applies), the bundle built from src/webview/inspector/main.ts, and a nonce'd bootstrap standing in
// for `acquireVsCodeApi` (records what the page posts; `__host.post` delivers host messages).
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as esbuild from 'esbuild';
import type { Page } from 'playwright-core';
import { parseRemoteExecutionContext } from '../../src/core/remoteExecutionContext';
import { inspectorDelivery } from '../../src/extension/webhooks/inspectorModel';
import type { HostMessage, InspectorDelivery, PageMessage } from '../../src/webview/inspectorProtocol';
import { renderInspectorHtml } from '../../src/webview/inspector/html';

const root = path.resolve(__dirname, '../..');
export const WEBHOOK_FIXTURES = path.resolve(root, '../shared/fixtures/webhooks');

const BOOTSTRAP = `(() => {
  const posted = [];
  window.__posted = posted;
  window.__violations = [];
  document.addEventListener('securitypolicyviolation', (e) => {
    window.__violations.push(e.violatedDirective + ' ' + e.blockedURI);
  });
  window.acquireVsCodeApi = () => Object.freeze({
    postMessage: (message) => { posted.push(JSON.parse(JSON.stringify(message))); },
    getState: () => undefined,
    setState: (state) => state,
  });
  window.__host = { post: (message) => window.postMessage(message, '*') };
})();
`;

export interface InspectorServer {
  readonly url: string;
  close(): Promise<void>;
}

/** Bundles the page into a temp folder (never dist/, which other builds own) and serves it. */
export async function startInspectorServer(): Promise<InspectorServer> {
  const outdir = mkdtempSync(path.join(tmpdir(), 'dvw-inspector-'));
  await esbuild.build({
    entryPoints: [path.join(root, 'src/webview/inspector/main.ts')],
    bundle: true,
    platform: 'browser',
    format: 'iife',
    target: 'es2022',
    outfile: path.join(outdir, 'inspector.js'),
    logLevel: 'warning',
  });
  const script = readFileSync(path.join(outdir, 'inspector.js'));
  const css = readFileSync(path.join(root, 'media/inspector.css'));
  const server = createServer((request, response) => {
    const origin = `http://${request.headers.host ?? '127.0.0.1'}`;
    const send = (type: string, body: string | Buffer, status = 200): void => {
      response.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
      response.end(body);
    };
    switch (new URL(request.url ?? '/', origin).pathname) {
      case '/': {
        const nonce = randomBytes(18).toString('base64');
        const html = renderInspectorHtml({
          cspSource: origin,
          nonce,
          scriptUri: `${origin}/inspector.js`,
          styleUri: `${origin}/inspector.css`,
        });
        send(
          'text/html; charset=utf-8',
          html.replace('<script nonce=', `<script nonce="${nonce}" src="/bootstrap.js"></script>\n<script nonce=`),
        );
        return;
      }
      case '/bootstrap.js':
        return send('text/javascript', BOOTSTRAP);
      case '/inspector.js':
        return send('text/javascript', script);
      case '/inspector.css':
        return send('text/css', css);
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

/** A fixture payload (optionally changed first) turned into what the host sends, as the host does. */
export function fixtureDelivery(
  name: string,
  sequence: number,
  change: (json: Record<string, unknown>) => void = () => undefined,
): InspectorDelivery {
  const json = JSON.parse(readFileSync(path.join(WEBHOOK_FIXTURES, name), 'utf8')) as Record<string, unknown>;
  change(json);
  const body = JSON.stringify(json);
  return inspectorDelivery(sequence, {
    receivedAt: new Date(Date.UTC(2025, 0, 2, 3, 4, 5)),
    context: parseRemoteExecutionContext(body),
    headers: { msgSizeExceeded: false },
    body,
    bodyBytes: Buffer.byteLength(body),
  });
}

export async function postToInspector(page: Page, message: HostMessage | Record<string, unknown>): Promise<void> {
  await page.evaluate(
    (json) => (window as unknown as { __host: { post(m: unknown): void } }).__host.post(JSON.parse(json)),
    JSON.stringify(message),
  );
}

export async function inspectorPosted(page: Page): Promise<PageMessage[]> {
  return page.evaluate(() => (window as unknown as { __posted: PageMessage[] }).__posted.slice());
}

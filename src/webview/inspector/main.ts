// Entry point of dist/webview/inspector.js, loaded by the page renderInspectorHtml builds.
import type { HostApi } from './app';
import { InspectorApp } from './app';

declare function acquireVsCodeApi(): HostApi;

const root = document.getElementById('app');
if (root === null) throw new Error('inspector: the page has no #app element');
new InspectorApp(root, acquireVsCodeApi());
// The list is ready as soon as the app is built; deliveries arrive as messages.
root.removeAttribute('aria-busy');

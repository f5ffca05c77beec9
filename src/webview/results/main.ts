// Entry point of dist/webview/results.js, loaded by the page renderResultsHtml builds.
import type { HostApi } from './app';
import { ResultsApp } from './app';

declare function acquireVsCodeApi(): HostApi;

const root = document.getElementById('app');
if (root === null) throw new Error('results: the page has no #app element');
new ResultsApp(root, acquireVsCodeApi());

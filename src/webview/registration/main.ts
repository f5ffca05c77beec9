// Entry point of dist/webview/registration.js, loaded by the page renderRegistrationHtml builds.
import type { HostApi } from './app';
import { RegistrationApp } from './app';

declare function acquireVsCodeApi(): HostApi;

const root = document.getElementById('app');
if (root === null) throw new Error('registration: the page has no #app element');
new RegistrationApp(root, acquireVsCodeApi());

// Entry point that VS Code (desktop or code-server) loads in its extension host as extensionTestsPath.
// It runs the mocha suites and writes a JSON report that scripts/run-integration-tests.mjs reads,
// because a browser-hosted workbench never exits by itself.
import { writeFileSync } from 'node:fs';
import Mocha from 'mocha';
import * as vscode from 'vscode';
import { snapshotRun, snapshotRunSkip } from './snapshotRun';

export interface IntegrationReport {
  readonly vscodeVersion: string;
  readonly appName: string;
  /** The schema snapshot the local emulator served (the dataverse.emulator.schemaSnapshot setting), if any. */
  readonly schemaSnapshot: string | null;
  readonly passed: string[];
  readonly failed: { title: string; error: string }[];
  readonly pending: string[];
}

export async function run(): Promise<void> {
  const reportPath = process.env.DVW_TEST_REPORT;
  const mocha = new Mocha({ ui: 'bdd', timeout: 60_000, color: false });
  // DVW_TEST_GREP=explorer runs only the matching tests while working on one feature.
  if (process.env.DVW_TEST_GREP) mocha.grep(process.env.DVW_TEST_GREP);
  // Define describe/it on the global object before the suites load.
  mocha.suite.emit('pre-require', globalThis, 'integration', mocha);
  const snapshot = snapshotRun();
  if (snapshot !== undefined) {
    mocha.rootHooks({
      beforeEach(this: Mocha.Context) {
        const test = this.currentTest;
        const reason = test === undefined ? undefined : snapshotRunSkip(test.fullTitle());
        if (test === undefined || reason === undefined) return;
        test.title += ` [skipped on the real snapshot: ${reason}]`;
        this.skip();
      },
    });
  }
  await import('./activation.test');
  await import('./firstRun.test');
  await import('./environments.test');
  await import('./connections.test');
  await import('./language.test');
  await import('./emulator.test');
  await import('./odataFeatures.test');
  await import('./explorer.test');
  await import('./requestHistory.test');
  await import('./webhooks.test');
  await import('./registrationForm.test');
  await import('./import.test');
  await import('./tools.test');
  await import('./export.test');
  await import('./schemaSnapshot.test');

  const passed: string[] = [];
  const failed: { title: string; error: string }[] = [];
  const pending: string[] = [];
  await new Promise<void>((resolve) => {
    const runner = mocha.run(() => resolve());
    runner.on('pass', (test) => passed.push(test.fullTitle()));
    runner.on('pending', (test) => pending.push(test.fullTitle()));
    runner.on('fail', (test, error: unknown) => {
      failed.push({
        title: test.fullTitle(),
        error: error instanceof Error ? (error.stack ?? error.message) : String(error),
      });
    });
  });

  const report: IntegrationReport = {
    vscodeVersion: vscode.version,
    appName: vscode.env.appName,
    schemaSnapshot: snapshot ?? null,
    passed,
    failed,
    pending,
  };
  if (reportPath) writeFileSync(reportPath, JSON.stringify(report, null, 2));
  // test-electron reads success from the promise; code-server's runner reads the report.
  if (failed.length > 0) throw new Error(`${failed.length} integration test(s) failed`);
}

import * as vscode from 'vscode';
import type { EnvironmentConfig, EnvironmentListResult } from '../core/environments';
import { parseEnvironmentList } from '../core/environments';
import { WorkbenchError } from '../core/errors';
import { Settings } from './constants';

/** The non-secret connection list in user settings. Secrets never go here (SecretStorage only). */
export class EnvironmentStore implements vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChange = this.changed.event;
  private readonly subscription: vscode.Disposable;

  constructor() {
    this.subscription = vscode.workspace.onDidChangeConfiguration((event) => {
      if (event.affectsConfiguration(`${Settings.section}.${Settings.environments}`)) this.changed.fire();
    });
  }

  read(): EnvironmentListResult {
    return parseEnvironmentList(
      vscode.workspace.getConfiguration(Settings.section).get<unknown>(Settings.environments),
    );
  }

  async add(environment: EnvironmentConfig): Promise<void> {
    await this.write([...this.rawEntries(), { name: environment.name, url: environment.url }]);
  }

  async remove(name: string): Promise<void> {
    await this.write(
      this.rawEntries().filter((entry) => !(isRecord(entry) && typeof entry.name === 'string' && entry.name === name)),
    );
  }

  dispose(): void {
    this.subscription.dispose();
    this.changed.dispose();
  }

  /** The entries as stored, so that an invalid entry the user is still fixing is kept, not dropped. */
  private rawEntries(): unknown[] {
    const raw = vscode.workspace.getConfiguration(Settings.section).get<unknown>(Settings.environments);
    if (raw === undefined || raw === null) return [];
    if (!Array.isArray(raw)) {
      throw new WorkbenchError(
        'invalidInput',
        'The dataverse.environments setting is not a list; fix it in settings first.',
      );
    }
    return [...(raw as unknown[])];
  }

  private async write(entries: unknown[]): Promise<void> {
    await vscode.workspace
      .getConfiguration(Settings.section)
      .update(Settings.environments, entries, vscode.ConfigurationTarget.Global);
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

import * as vscode from 'vscode';
import type { EnvironmentConfig, EnvironmentListResult } from '../core/environments';
import { parseEnvironmentList } from '../core/environments';
import { WorkbenchError } from '../core/errors';
import { isJsonObject } from '../core/json';
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
    await this.write([...this.rawEntries(), entryOf(environment)]);
  }

  /**
   * Replaces the name, URL and sign-in of one environment. Other fields of the entry (variables, and any the
   * user added by hand) are kept as they are.
   */
  async update(name: string, next: Pick<EnvironmentConfig, 'name' | 'url' | 'auth'>): Promise<void> {
    let found = false;
    const entries = this.rawEntries().map((entry) => {
      if (!(isJsonObject(entry) && entry.name === name)) return entry;
      found = true;
      const { auth: _previous, ...rest } = entry;
      return { ...rest, ...entryOf(next) };
    });
    if (!found) throw new WorkbenchError('invalidInput', `No environment named "${name}" in settings.`);
    await this.write(entries);
  }

  async remove(name: string): Promise<void> {
    await this.write(
      this.rawEntries().filter(
        (entry) => !(isJsonObject(entry) && typeof entry.name === 'string' && entry.name === name),
      ),
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

function entryOf(environment: Pick<EnvironmentConfig, 'name' | 'url' | 'auth'>): Record<string, unknown> {
  return {
    name: environment.name,
    url: environment.url,
    ...(environment.auth === undefined ? {} : { auth: { ...environment.auth } }),
  };
}

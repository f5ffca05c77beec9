import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import * as vscode from 'vscode';
import { describeError, WorkbenchError } from '../core/errors';
import { emulatorTokenProvider } from '../dataverse/auth/index';
import { checkSnapshotFolder } from '../dataverse/schemaSnapshot';
import { Settings } from './constants';
import type { RunningEmulator, SharedEmulator } from './emulatorAnnouncement';
import {
  dataFileOwnerOf,
  inUseMessage,
  isProcessAlive,
  parseEmulatorAnnouncement,
  parseSharedEmulator,
  serializeSharedEmulator,
} from './emulatorAnnouncement';

export type { RunningEmulator } from './emulatorAnnouncement';

/**
 * The `dataverse.emulator.schemaSnapshot` setting: the snapshot folder the local emulator serves when started
 * without one, undefined for the built-in tables. A relative path is taken from the first workspace folder, so
 * a repository can keep its organization's snapshot beside its `.odata` files.
 */
export function configuredSchemaSnapshot(): string | undefined {
  const setting = vscode.workspace
    .getConfiguration(Settings.section)
    .get<string>(Settings.emulatorSchemaSnapshot, '')
    .trim();
  if (setting === '') return undefined;
  if (isAbsolute(setting)) return setting;
  const workspace = vscode.workspace.workspaceFolders?.[0];
  if (workspace === undefined) {
    throw new WorkbenchError(
      'invalidInput',
      `The setting dataverse.emulator.schemaSnapshot is a relative path (${setting}) and no folder is open: ` +
        'open the workspace it belongs to, or give an absolute path.',
    );
  }
  return resolve(workspace.uri.fsPath, setting);
}

const START_TIMEOUT_MS = 60_000;
/** How long the check of another window's emulator may take before it counts as not answering. */
const PROBE_TIMEOUT_MS = 10_000;
/** How often an attached window checks that the other window's emulator process still exists. */
const OWNER_CHECK_MS = 5_000;
/**
 * How long a start waits for the window whose emulator holds the data file to announce it: windows restored
 * together start at once, and the first one announces only once its emulator listens.
 */
const ANNOUNCEMENT_WAIT_MS = 15_000;
const ANNOUNCEMENT_POLL_MS = 250;
/** The SecretStorage key of the emulator a window of this profile runs (it holds the client secret). */
export const SHARED_EMULATOR_KEY = 'dataverse.emulator.running';

/**
 * Runs the local emulator (`dist/cli.js emulator`) as a child process of the extension host, never
 * in-process: its queries must not freeze the editor. Data is kept in the extension's global storage,
 * so records survive restarts; the sample rows are seeded only into a new file.
 *
 * Every window of a profile shares that storage, and one emulator process owns the data file. So the window
 * that runs the emulator publishes it in SecretStorage (shared by the profile's windows; it holds the client
 * secret), and another window's start attaches to it instead of spawning a second one; that window's stop
 * only detaches.
 */
export class EmulatorHost implements vscode.Disposable {
  private child: ChildProcess | undefined;
  private starting: Promise<RunningEmulator> | undefined;
  private current: RunningEmulator | undefined;
  /** The schema snapshot folder the emulator of this window serves; undefined for the built-in tables. */
  private currentSnapshot: string | undefined;
  /** While this window uses the emulator another window runs: that emulator's process id. */
  private attachedTo: number | undefined;
  private ownerCheck: NodeJS.Timeout | undefined;
  /** The process whose emulator held the data file when this window's last spawn failed, if that was why. */
  private lastDataFileOwner: number | undefined;
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChange = this.changed.event;
  private readonly subscriptions: vscode.Disposable[] = [];

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly storageUri: vscode.Uri,
    private readonly log: vscode.LogOutputChannel,
    private readonly secrets: vscode.SecretStorage,
  ) {
    this.subscriptions.push(
      secrets.onDidChange((event) => {
        if (event.key === SHARED_EMULATOR_KEY) void this.checkOwner();
      }),
    );
  }

  /** The SQLite file the emulator keeps its data in (the same for every window of the profile). */
  get dataFile(): string {
    return vscode.Uri.joinPath(this.storageUri, 'emulator.sqlite').fsPath;
  }

  get running(): RunningEmulator | undefined {
    return this.current;
  }

  /** The schema snapshot folder the running emulator serves, undefined when it serves the built-in tables. */
  get schemaSnapshot(): string | undefined {
    return this.current === undefined ? undefined : this.currentSnapshot;
  }

  /**
   * Starts the emulator once, or attaches to the one another window of this profile runs; concurrent calls
   * share the start, later calls return the running one. With `schemaSnapshot` (a folder `dvw env snapshot`
   * wrote; by default the `dataverse.emulator.schemaSnapshot` setting) it serves that organization's tables
   * instead of the built-in ones, with a data file of its own, and neither attaches to nor is shared with other
   * windows (theirs may serve other tables).
   */
  start(schemaSnapshot?: string): Promise<RunningEmulator> {
    let wanted: string | undefined;
    try {
      wanted = schemaSnapshot ?? configuredSchemaSnapshot();
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
    if (this.current || this.starting !== undefined) {
      if (this.currentSnapshot !== wanted) return Promise.reject(new WorkbenchError('conflict', this.busyMessage()));
      if (this.current) return Promise.resolve(this.current);
    }
    if (this.starting === undefined) {
      this.currentSnapshot = wanted;
      const started =
        wanted === undefined ? this.attachOrSpawn() : checkSnapshotFolder(wanted).then(() => this.spawn(wanted));
      this.starting = started.finally(() => {
        this.starting = undefined;
        this.changed.fire();
      });
      // The welcome view says "Starting…" instead of offering to start it again.
      this.changed.fire();
    }
    return this.starting;
  }

  private busyMessage(): string {
    const serving =
      this.currentSnapshot === undefined ? 'the built-in tables' : `the schema snapshot in ${this.currentSnapshot}`;
    return (
      `The local emulator is already ${this.current ? 'running' : 'starting'} on ${serving}. ` +
      'Stop it first (Dataverse: Stop Local Emulator), then start it again.'
    );
  }

  /** True while a start is under way. */
  get isStarting(): boolean {
    return this.starting !== undefined;
  }

  /** Stops the emulator this window runs; an attached window only detaches from the other window's one. */
  async stop(): Promise<void> {
    if (this.attachedTo !== undefined) {
      this.detach(
        `Detached from the local emulator of another VS Code window (process ${this.attachedTo}); ` +
          'it keeps running there: stop it in that window.',
      );
      return;
    }
    const child = this.child;
    this.child = undefined;
    this.current = undefined;
    if (child && child.exitCode === null) {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5_000))]);
      if (child.exitCode === null) child.kill('SIGKILL');
    }
    if (child?.pid !== undefined) await this.withdraw(child.pid);
    this.changed.fire();
  }

  dispose(): void {
    for (const subscription of this.subscriptions) subscription.dispose();
    clearInterval(this.ownerCheck);
    void this.stop();
    this.changed.dispose();
  }

  /** Tells the other windows of the profile that process `pid` runs `emulator` (SecretStorage only). */
  async publish(emulator: RunningEmulator, pid: number): Promise<void> {
    try {
      await this.secrets.store(SHARED_EMULATOR_KEY, serializeSharedEmulator(emulator, pid));
    } catch (error) {
      this.log.warn(`Other VS Code windows cannot use this local emulator: ${describeError(error)}`);
    }
  }

  /** Removes the published emulator if process `pid` runs it. */
  async withdraw(pid: number): Promise<void> {
    try {
      if (parseSharedEmulator(await this.secrets.get(SHARED_EMULATOR_KEY))?.pid === pid) {
        await this.secrets.delete(SHARED_EMULATOR_KEY);
      }
    } catch (error) {
      this.log.warn(`The local emulator's announcement could not be removed: ${describeError(error)}`);
    }
  }

  private async attachOrSpawn(): Promise<RunningEmulator> {
    const attached = await this.attachToShared();
    if (attached) return attached;
    try {
      return await this.spawnAndPublish();
    } catch (error) {
      // Another window's emulator holds the data file: it may still be starting, and announces once it listens.
      const owner = error instanceof WorkbenchError && error.kind === 'conflict' ? this.lastDataFileOwner : undefined;
      if (owner === undefined) throw error;
      const now = await this.waitForAnnouncement(owner);
      if (now) return now;
      // That window's start failed and its emulator ended: this window runs one after all.
      if (!isProcessAlive(owner)) return this.spawnAndPublish();
      throw error;
    }
  }

  private async spawnAndPublish(): Promise<RunningEmulator> {
    const running = await this.spawn();
    const pid = this.child?.pid;
    if (pid !== undefined) await this.publish(running, pid);
    return running;
  }

  /**
   * Attaches to the emulator of process `owner` once its window announces it; undefined when the process ends
   * or says nothing for ANNOUNCEMENT_WAIT_MS (an emulator started outside VS Code on the same data file).
   */
  private async waitForAnnouncement(owner: number): Promise<RunningEmulator | undefined> {
    this.log.info(
      `The local emulator's data file is in use by process ${owner}; waiting for its window to announce it`,
    );
    const deadline = Date.now() + ANNOUNCEMENT_WAIT_MS;
    while (isProcessAlive(owner)) {
      let announced: SharedEmulator | undefined;
      try {
        announced = parseSharedEmulator(await this.secrets.get(SHARED_EMULATOR_KEY));
      } catch {
        announced = undefined;
      }
      if (announced?.pid === owner) return this.attachToShared();
      if (Date.now() >= deadline) return undefined;
      await new Promise((resolve) => setTimeout(resolve, ANNOUNCEMENT_POLL_MS));
    }
    return undefined;
  }

  /** Attaches to the emulator another window published, when its process lives and it answers. */
  private async attachToShared(): Promise<RunningEmulator | undefined> {
    let text: string | undefined;
    try {
      text = await this.secrets.get(SHARED_EMULATOR_KEY);
    } catch (error) {
      this.log.warn(`Could not read which local emulator other windows run: ${describeError(error)}`);
      return undefined;
    }
    if (text === undefined) return undefined;
    const shared = parseSharedEmulator(text);
    if (!shared) {
      this.log.warn('Ignored an invalid local emulator announcement in SecretStorage; starting one here');
      await this.deleteIfUnchanged(text);
      return undefined;
    }
    const token = isProcessAlive(shared.pid) ? await this.probe(shared) : undefined;
    if (token === undefined) {
      this.log.info(
        `The local emulator another window announced (process ${shared.pid}) no longer answers; starting one here`,
      );
      await this.deleteIfUnchanged(text);
      return undefined;
    }
    const { pid, ...emulator } = shared;
    this.current = { ...emulator, token };
    this.attachedTo = pid;
    // SecretStorage tells when the owner stops; this also notices a window that ended without saying so.
    this.ownerCheck = setInterval(() => {
      if (this.attachedTo === pid && !isProcessAlive(pid)) {
        this.detach(`The local emulator of another VS Code window (process ${pid}) stopped`);
      }
    }, OWNER_CHECK_MS);
    this.ownerCheck.unref();
    this.log.info(
      `Using the local emulator of another VS Code window (process ${pid}) at ${shared.url} (data in ${this.dataFile})`,
    );
    this.changed.fire();
    return this.current;
  }

  /** A fresh token from the emulator's identity endpoint that its Web API accepts, else undefined. */
  private async probe(shared: SharedEmulator): Promise<string | undefined> {
    const signal = AbortSignal.timeout(PROBE_TIMEOUT_MS);
    try {
      const { token } = await emulatorTokenProvider(shared).getToken(signal);
      const response = await fetch(`${shared.webApi}WhoAmI`, {
        headers: { Authorization: `Bearer ${token}`, Accept: 'application/json' },
        signal,
      });
      return response.ok ? token : undefined;
    } catch {
      return undefined;
    }
  }

  /** After the published emulator changed: detach when it is no longer the one this window uses. */
  private async checkOwner(): Promise<void> {
    const pid = this.attachedTo;
    if (pid === undefined) return;
    let shared: SharedEmulator | undefined;
    try {
      shared = parseSharedEmulator(await this.secrets.get(SHARED_EMULATOR_KEY));
    } catch {
      shared = undefined;
    }
    if (shared?.pid === pid || this.attachedTo !== pid) return;
    this.detach(`The local emulator of another VS Code window (process ${pid}) stopped`);
  }

  private detach(message: string): void {
    clearInterval(this.ownerCheck);
    this.ownerCheck = undefined;
    this.attachedTo = undefined;
    this.current = undefined;
    this.log.info(message);
    this.changed.fire();
  }

  private async deleteIfUnchanged(text: string): Promise<void> {
    try {
      if ((await this.secrets.get(SHARED_EMULATOR_KEY)) === text) await this.secrets.delete(SHARED_EMULATOR_KEY);
    } catch {
      // Best effort: the next start checks the announcement again.
    }
  }

  /** The data file of an emulator on a schema snapshot: one per snapshot folder, apart from the built-in one's. */
  private snapshotDataFile(folder: string): string {
    const digest = createHash('sha256').update(folder).digest('hex').slice(0, 16);
    return vscode.Uri.joinPath(this.storageUri, `emulator-snapshot-${digest}.sqlite`).fsPath;
  }

  private spawn(schemaSnapshot?: string): Promise<RunningEmulator> {
    const cli = vscode.Uri.joinPath(this.extensionUri, 'dist', 'cli.js').fsPath;
    mkdirSync(this.storageUri.fsPath, { recursive: true });
    const data = schemaSnapshot === undefined ? this.dataFile : this.snapshotDataFile(schemaSnapshot);
    const schema = schemaSnapshot === undefined ? [] : ['--schema-snapshot', schemaSnapshot];
    const args = ['emulator', '--json', '--port', '0', '--data', data, '--seed', 'sample', ...schema];
    const child = fork(cli, args, {
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    this.child = child;
    return new Promise<RunningEmulator>((resolve, reject) => {
      let stdout = '';
      let stderr = '';
      const fail = (reason: string): void => {
        clearTimeout(timer);
        if (this.child === child) this.child = undefined;
        child.kill('SIGKILL');
        const owner = dataFileOwnerOf(reason);
        this.lastDataFileOwner = owner;
        reject(
          owner === undefined
            ? new WorkbenchError('internal', `The local emulator did not start: ${reason}`)
            : new WorkbenchError('conflict', inUseMessage(owner)),
        );
      };
      const timer = setTimeout(() => fail(`no answer after ${START_TIMEOUT_MS / 1000} s`), START_TIMEOUT_MS);
      child.stderr?.on('data', (chunk: Buffer) => {
        stderr = (stderr + chunk.toString()).slice(-4_000);
      });
      child.stdout?.on('data', (chunk: Buffer) => {
        if (this.current) return;
        stdout += chunk.toString();
        const newline = stdout.indexOf('\n');
        if (newline === -1) return;
        clearTimeout(timer);
        try {
          this.current = parseEmulatorAnnouncement(stdout.slice(0, newline));
        } catch (error) {
          fail((error as Error).message);
          return;
        }
        const serving = schemaSnapshot === undefined ? '' : ` on the schema snapshot in ${schemaSnapshot}`;
        this.log.info(`Local emulator listening at ${this.current.url}${serving} (data in ${data})`);
        this.changed.fire();
        resolve(this.current);
      });
      child.on('error', (error) => fail(error.message));
      child.on('exit', (code, signal) => {
        if (this.child === child) {
          this.child = undefined;
          const wasRunning = this.current !== undefined;
          this.current = undefined;
          if (wasRunning) {
            this.log.warn(`Local emulator stopped (${signal ?? `exit ${code}`})`);
            if (child.pid !== undefined) void this.withdraw(child.pid);
            this.changed.fire();
          }
        }
        if (!this.current) fail(stderr.trim() || `it exited with ${signal ?? code}`);
      });
    });
  }
}

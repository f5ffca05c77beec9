import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import * as vscode from 'vscode';
import { WorkbenchError } from '../core/errors';

/** What `dvw emulator --json` prints once it listens. Kept in memory only, never logged. */
export interface RunningEmulator {
  readonly url: string;
  readonly webApi: string;
  /** A bearer token for the built-in admin user, valid for the token lifetime (an hour by default). */
  readonly token: string;
  /** The emulator's identity endpoint, for the client-credentials flow that renews tokens. */
  readonly authority: string;
  readonly clientId: string;
  readonly clientSecret: string;
  /** The PEM of the identity endpoint's self-signed certificate. */
  readonly certificatePath: string;
}

const START_TIMEOUT_MS = 60_000;

/** Validates the emulator's JSON line; anything else is a failure to start, with the reason. */
export function parseEmulatorAnnouncement(line: string): RunningEmulator {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    throw new WorkbenchError('internal', 'The emulator printed something other than its JSON line.');
  }
  if (typeof value !== 'object' || value === null)
    throw new WorkbenchError('internal', 'The emulator announced no URL.');
  const fields = value as Record<string, unknown>;
  const names = ['url', 'webApi', 'token', 'authority', 'clientId', 'clientSecret', 'certificatePath'] as const;
  const missing = names.filter((name) => typeof fields[name] !== 'string');
  if (missing.length > 0) {
    throw new WorkbenchError('internal', `The emulator announced no ${missing.join(', ')}.`);
  }
  const text = (name: (typeof names)[number]): string => fields[name] as string;
  return {
    url: text('url'),
    webApi: text('webApi'),
    token: text('token'),
    authority: text('authority'),
    clientId: text('clientId'),
    clientSecret: text('clientSecret'),
    certificatePath: text('certificatePath'),
  };
}

/**
 * Runs the local emulator (`dist/cli.js emulator`) as a child process of the extension host, never
 * in-process: its queries must not freeze the editor. Data is kept in the extension's global storage,
 * so records survive restarts; the sample rows are seeded only into a new file.
 */
export class EmulatorHost implements vscode.Disposable {
  private child: ChildProcess | undefined;
  private starting: Promise<RunningEmulator> | undefined;
  private current: RunningEmulator | undefined;
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChange = this.changed.event;

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly storageUri: vscode.Uri,
    private readonly log: vscode.LogOutputChannel,
  ) {}

  get running(): RunningEmulator | undefined {
    return this.current;
  }

  /** Starts the emulator once; concurrent calls share the start, later calls return the running one. */
  start(): Promise<RunningEmulator> {
    if (this.current) return Promise.resolve(this.current);
    this.starting ??= this.spawn().finally(() => {
      this.starting = undefined;
    });
    return this.starting;
  }

  async stop(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    this.current = undefined;
    if (child && child.exitCode === null) {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5_000))]);
      if (child.exitCode === null) child.kill('SIGKILL');
    }
    this.changed.fire();
  }

  dispose(): void {
    void this.stop();
    this.changed.dispose();
  }

  private spawn(): Promise<RunningEmulator> {
    const cli = vscode.Uri.joinPath(this.extensionUri, 'dist', 'cli.js').fsPath;
    mkdirSync(this.storageUri.fsPath, { recursive: true });
    const data = vscode.Uri.joinPath(this.storageUri, 'emulator.sqlite').fsPath;
    const child = fork(cli, ['emulator', '--json', '--port', '0', '--data', data, '--seed', 'sample'], {
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
        reject(new WorkbenchError('internal', `The local emulator did not start: ${reason}`));
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
        this.log.info(`Local emulator listening at ${this.current.url} (data in ${data})`);
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
            this.changed.fire();
          }
        }
        if (!this.current) fail(stderr.trim() || `it exited with ${signal ?? code}`);
      });
    });
  }
}

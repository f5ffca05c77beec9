import { rm, readFile, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { writeWholeFile } from './wholeFile';
import { WorkbenchError } from '../core/errors';
import { isJsonObject } from '../core/json';

/**
 * Checkpoint files of `dvw import` and `dvw export`: where a long run stands, so `--resume` continues after a kill.
 * A checkpoint names what it belongs to (the file, its size and time, the table, the environment) and is refused for
 * anything else. Written to a temporary file and renamed, so a kill mid-write leaves the previous one whole.
 */

export type CheckpointIdentity = Readonly<Record<string, string | number>>;

/** Beside the file it belongs to: `accounts.csv.dvw-checkpoint.json`. */
export function checkpointPath(file: string): string {
  return `${file}.dvw-checkpoint.json`;
}

/** What an import's checkpoint belongs to: the source file as it is now, the table and the environment. */
export async function fileIdentity(file: string, table: string, environment: string): Promise<CheckpointIdentity> {
  const { size, mtimeMs } = await stat(file);
  return { file: resolve(file), size, mtimeMs: Math.floor(mtimeMs), table, environment };
}

function sameIdentity(a: unknown, b: CheckpointIdentity): boolean {
  if (!isJsonObject(a)) return false;
  const keys = Object.keys(b);
  return keys.length === Object.keys(a).length && keys.every((key) => a[key] === b[key]);
}

/**
 * The state saved for `identity`, or undefined when there is no checkpoint. A checkpoint of another file, table or
 * environment, or of the file before it changed, is an error: resuming from it would skip the wrong rows.
 */
export async function readCheckpoint<State>(
  path: string,
  identity: CheckpointIdentity,
  isState: (value: unknown) => value is State,
): Promise<State | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
  let saved: unknown;
  try {
    saved = JSON.parse(text) as unknown;
  } catch {
    throw new WorkbenchError('invalidInput', `The checkpoint ${path} is damaged; delete it and start again.`);
  }
  if (!isJsonObject(saved) || !isState(saved.state)) {
    throw new WorkbenchError('invalidInput', `The checkpoint ${path} is damaged; delete it and start again.`);
  }
  if (!sameIdentity(saved.identity, identity)) {
    throw new WorkbenchError(
      'invalidInput',
      `The checkpoint ${path} belongs to another run (another file, table or environment, or the file changed since); delete it and start again.`,
    );
  }
  return saved.state;
}

/** Keeps the checkpoint file up to date without waiting on the disk for every step: the latest state wins. */
export class CheckpointWriter<State> {
  private latest: State | undefined;
  private writing: Promise<void> | undefined;
  private failure: unknown;

  constructor(
    private readonly path: string,
    private readonly identity: CheckpointIdentity,
  ) {}

  save(state: State): void {
    this.latest = state;
    this.writing ??= this.drain();
  }

  /** Resolves when the latest state is on disk; a write error (disk full, no permission) surfaces here. */
  async flush(): Promise<void> {
    while (this.writing !== undefined) await this.writing;
    if (this.failure !== undefined) {
      throw new WorkbenchError('invalidInput', `The checkpoint ${this.path} could not be written.`, {
        cause: this.failure,
      });
    }
  }

  /** The run finished: nothing to resume. */
  async remove(): Promise<void> {
    await this.flush();
    await rm(this.path, { force: true });
  }

  private async drain(): Promise<void> {
    try {
      while (this.latest !== undefined) {
        const state = this.latest;
        this.latest = undefined;
        await writeWholeFile(this.path, `${JSON.stringify({ identity: this.identity, state })}\n`);
      }
    } catch (error) {
      this.failure ??= error;
    } finally {
      this.writing = undefined;
    }
  }
}

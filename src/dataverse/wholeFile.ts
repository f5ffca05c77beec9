import { randomBytes } from 'node:crypto';
import { mkdir, rename, unlink, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

export interface WholeFileOptions {
  /** Permissions of a new file (0o600 for files holding tokens). */
  readonly mode?: number;
  /** Permissions of folders created on the way (0o700 where the folder holds credentials). */
  readonly directoryMode?: number;
}

/**
 * Writes `text` to a temporary file beside `file`, then renames it over `file`: a rename is atomic, so a reader
 * (another window, `dvw`) or a crash mid-write never sees half a file. The temporary name is unique per call, so two
 * processes writing the same file each rename a whole one; the last rename wins.
 */
export async function writeWholeFile(file: string, text: string, options: WholeFileOptions = {}): Promise<void> {
  await mkdir(dirname(file), {
    recursive: true,
    ...(options.directoryMode === undefined ? {} : { mode: options.directoryMode }),
  });
  const temporary = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    await writeFile(temporary, text, {
      encoding: 'utf8',
      flag: 'wx',
      ...(options.mode === undefined ? {} : { mode: options.mode }),
    });
    await rename(temporary, file);
  } catch (error) {
    await unlink(temporary).catch(() => undefined);
    throw error;
  }
}

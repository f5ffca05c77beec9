import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';

/**
 * One emulator owns a data file. node-sqlite3-wasm locks a database with a `<file>.lock` directory, which a
 * killed process leaves behind and which would then refuse every later open ("database is locked"). The owner
 * writes `<file>.owner` (its pid and start time); a lock whose owner is gone is removed before opening. The start
 * time tells a live owner from an unrelated process that was given the same pid after the owner died.
 */

interface Owner {
  readonly pid: number;
  /** When the owner process started (ms since the epoch), as `processStartTime` measured it. */
  readonly startedAt: number | undefined;
}

/** Two measurements of one process's start differ by the clock-tick rounding and `ps`'s whole seconds. */
const START_TOLERANCE_MS = 2000;

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Linux: `/proc/<pid>/stat` field 22 (clock ticks after boot, 100 per second) plus the boot time. */
function linuxStartTime(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[19]);
    const boot = /^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'utf8'))?.[1];
    if (!Number.isFinite(ticks) || boot === undefined) return undefined;
    return Number(boot) * 1000 + ticks * 10;
  } catch {
    return undefined;
  }
}

/** Elsewhere (macOS, BSD): `ps -o etime=`, `[[dd-]hh:]mm:ss` since the start. */
function psStartTime(pid: number): number | undefined {
  if (process.platform === 'win32') return undefined;
  const result = spawnSync('ps', ['-o', 'etime=', '-p', String(pid)], { encoding: 'utf8', timeout: 5000 });
  const match = /^\s*(?:(\d+)-)?(?:(\d+):)?(\d+):(\d+)\s*$/.exec(result.stdout ?? '');
  if (result.status !== 0 || match === null) return undefined;
  const [, days = '0', hours = '0', minutes = '0', seconds = '0'] = match;
  const elapsed = ((Number(days) * 24 + Number(hours)) * 60 + Number(minutes)) * 60 + Number(seconds);
  return Date.now() - elapsed * 1000;
}

/** When process `pid` started, in ms since the epoch; undefined where it cannot be told (Windows). */
export function processStartTime(pid: number): number | undefined {
  return process.platform === 'linux' ? linuxStartTime(pid) : psStartTime(pid);
}

/** The owner a `.owner` file names: `{"pid","startedAt"}`, or a bare pid (files of earlier versions). */
function readOwner(ownerFile: string): Owner | undefined {
  let text: string;
  try {
    text = readFileSync(ownerFile, 'utf8').trim();
  } catch {
    return undefined;
  }
  if (/^\d+$/.test(text)) return { pid: Number(text), startedAt: undefined };
  try {
    const value = JSON.parse(text) as { pid?: unknown; startedAt?: unknown };
    if (typeof value.pid !== 'number' || !Number.isInteger(value.pid) || value.pid <= 0) return undefined;
    return { pid: value.pid, startedAt: typeof value.startedAt === 'number' ? value.startedAt : undefined };
  } catch {
    return undefined;
  }
}

/** Whether the recorded owner still runs: its pid is alive and, when both are known, it started when recorded. */
function ownerRuns(owner: Owner): boolean {
  if (owner.pid === process.pid || !isAlive(owner.pid)) return false;
  if (owner.startedAt === undefined) return true;
  const started = processStartTime(owner.pid);
  return started === undefined || Math.abs(started - owner.startedAt) <= START_TOLERANCE_MS;
}

/** Claims `path` for this process, or throws when another running emulator owns it. Returns the owner file. */
export function claimDataFile(path: string): string {
  const ownerFile = `${path}.owner`;
  const owner = readOwner(ownerFile);
  if (owner !== undefined && ownerRuns(owner)) {
    throw new Error(`the data file ${path} is in use by another emulator (process ${owner.pid})`);
  }
  rmSync(`${path}.lock`, { recursive: true, force: true });
  const startedAt = processStartTime(process.pid);
  writeFileSync(ownerFile, JSON.stringify({ pid: process.pid, ...(startedAt === undefined ? {} : { startedAt }) }));
  return ownerFile;
}

import { Command, InvalidArgumentError, Option } from 'commander';
import { extname } from 'node:path';
import { describeError, WorkbenchError } from '../core/errors';
import type {
  ImportCheckpoint,
  ImportFormat,
  ImportProgress,
  ImportSource,
  ImportSummary,
  WriteMode,
} from '../dataverse/bulkImport';
import {
  DEFAULT_BATCH_SIZE,
  DEFAULT_BULK_SIZE,
  DEFAULT_PARALLEL,
  importRows,
  isImportCheckpoint,
  loadTableRules,
  MAX_PARALLEL,
} from '../dataverse/bulkImport';
import { CheckpointWriter, checkpointPath, fileIdentity, readCheckpoint } from '../dataverse/checkpoint';
import { openSourceFile } from '../dataverse/importSource';
import { cacheDirectory } from '../dataverse/connectionsFile';
import { MetadataCache } from '../dataverse/metadataCache';
import {
  FAILED_EXIT_CODE,
  stopCommand,
  USAGE_EXIT_CODE,
  usageExit,
  withCommandConnection,
  withConnectionOptions,
} from './commandConnection';
import type { CliIo } from './program';
import { humanIo } from './terminalText';

const COMMAND = { name: 'dvw import', code: 'dvw.import' } as const;
/** Progress lines at most this often: enough to see it move, few enough for a log file. */
const PROGRESS_INTERVAL_MS = 1000;

function usage(io: CliIo, message: string): never {
  stopCommand(io, COMMAND, USAGE_EXIT_CODE, message);
}

function failed(io: CliIo, message: string): never {
  stopCommand(io, COMMAND, FAILED_EXIT_CODE, message);
}

export function positiveInteger(max: number) {
  return (value: string): number => {
    if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > max) {
      throw new InvalidArgumentError(`expected a whole number from 1 to ${max}.`);
    }
    return Number(value);
  };
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

function formatOf(io: CliIo, file: string, given: unknown): ImportFormat {
  if (given === 'csv' || given === 'jsonl') return given;
  const extension = extname(file).toLowerCase();
  if (extension === '.csv') return 'csv';
  if (extension === '.jsonl' || extension === '.ndjson') return 'jsonl';
  usage(io, `cannot tell the format of ${file}: pass --format csv or --format jsonl`);
}

function seconds(ms: number): string {
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const minutes = Math.floor(ms / 60_000);
  return `${minutes}m${String(Math.round((ms % 60_000) / 1000)).padStart(2, '0')}s`;
}

function progressLine(p: ImportProgress): string {
  const eta = p.etaMs === undefined ? '' : `, ETA ${seconds(p.etaMs)}`;
  const share = p.fraction === undefined ? '' : ` (${Math.floor(p.fraction * 100)}% of the file)`;
  const problems = p.failed + p.invalid === 0 ? '' : `, ${p.invalid} invalid, ${p.failed} failed`;
  return `${p.done.toLocaleString('en-US')} rows done${share}: ${Math.round(p.rowsPerSecond)} rows/s, ${p.parallel} in flight${eta}${problems}`;
}

interface RawOptions {
  format?: unknown;
  encoding?: unknown;
  batchSize?: unknown;
  parallel?: unknown;
  mode?: unknown;
  resume?: unknown;
  env?: unknown;
  url?: unknown;
  token?: unknown;
  verbose?: unknown;
}

const MODE_WORDS: Record<WriteMode, string> = {
  bulk: 'UpsertMultiple requests',
  batch: '$batch change sets',
};

async function runImport(io: CliIo, entitySet: string, file: string, raw: RawOptions): Promise<void> {
  const format = formatOf(io, file, raw.format);
  let source: ImportSource;
  try {
    source = await openSourceFile(
      file,
      format,
      text(raw.encoding) === undefined ? {} : { encoding: text(raw.encoding) },
    );
  } catch (error) {
    const code = error instanceof Error && 'code' in error ? String(error.code) : '';
    if (code === 'ENOENT') usage(io, `file not found: ${file}`);
    if (error instanceof WorkbenchError) usage(io, `${file}: ${describeError(error)}`);
    usage(io, `cannot read ${file}`);
  }
  const checkpointFile = checkpointPath(file);
  const verbose = raw.verbose === true;
  const out = humanIo(io);
  // Every repeat of an import request is safe, so it may try harder than an interactive request.
  await withCommandConnection(io, { ...COMMAND, retry: { maxAttempts: 12 }, verbose }, raw, async (run) => {
    const { client, connection, signal, say } = run;
    const identity = await fileIdentity(file, entitySet, client.webApiUrl);
    let resume: ImportCheckpoint | undefined;
    if (raw.resume === true) {
      resume = await readCheckpoint(checkpointFile, identity, isImportCheckpoint);
      if (resume === undefined) usage(io, `no checkpoint of this import to resume (${checkpointFile})`);
    }
    const cache = new MetadataCache({ client, directory: cacheDirectory(process.env) });
    const { rules, unknownColumns: unknown } = await loadTableRules({
      cache,
      client,
      entitySet,
      columns: source.columns,
      environmentLabel: connection.label,
      signal,
    });
    if (source.fixedColumns && unknown.length > 0) {
      usage(io, `${file}: ${entitySet} has no column ${unknown.map((c) => `'${c}'`).join(', ')}`);
    }

    if (verbose) say(`importing ${file} into ${entitySet} on ${connection.label}\n`);
    if (resume !== undefined) say(`resuming after line ${resume.afterLine} (${resume.rows} rows done before)\n`);
    let lastProgress = 0;
    const saver = new CheckpointWriter<ImportCheckpoint>(checkpointFile, identity);
    const mode = text(raw.mode);
    const summary: ImportSummary = await importRows({
      client,
      rules,
      source,
      csv: format === 'csv',
      ...(typeof raw.batchSize === 'number' ? { batchSize: raw.batchSize } : {}),
      ...(typeof raw.parallel === 'number' ? { parallel: raw.parallel } : {}),
      ...(mode === 'bulk' || mode === 'batch' ? { mode } : {}),
      ...(resume === undefined ? {} : { resume }),
      onCheckpoint: (checkpoint) => saver.save(checkpoint),
      signal,
      onRowProblem: (problem) => say(`${file}:${problem.line}: ${problem.message}\n`),
      onProgress: (progress) => {
        const now = performance.now();
        if (now - lastProgress < PROGRESS_INTERVAL_MS) return;
        lastProgress = now;
        say(`${progressLine(progress)}\n`);
      },
    });
    await saver.flush();
    const problems = summary.invalid + summary.failed;
    const resumed = summary.resumedAfterLine === undefined ? '' : `, resumed after line ${summary.resumedAfterLine}`;
    out.stdout(
      `${summary.imported} of ${summary.rows} rows imported into ${entitySet} in ${seconds(summary.elapsedMs)}` +
        ` (${summary.requests} ${MODE_WORDS[summary.mode]}${resumed}; ${summary.invalid} invalid, ${summary.failed} failed)\n`,
    );
    if (summary.fileError !== undefined) {
      failed(
        io,
        `${file}: ${summary.fileError}; the rows before it were imported. Fix the file and run the same command again.`,
      );
    }
    if (summary.cancelled) {
      failed(
        io,
        'interrupted: run the same command with --resume to continue (rows already imported are not duplicated)',
      );
    }
    await saver.remove();
    if (problems > 0) {
      failed(io, `${problems} row(s) not imported (see the lines above); fix them and run the same command again`);
    }
  });
}

/**
 * `dvw import ENTITYSET FILE [--format csv|jsonl] [--encoding E] [--batch-size N] [--parallel N] [--mode M] [--resume] (--env NAME | --url URL)`.
 */
export function registerImportCommand(program: Command, io: CliIo): void {
  const command = withConnectionOptions(
    new Command('import')
      .description(
        'import a CSV or JSON Lines file into a table as keyed upserts (UpsertMultiple or $batch; safe to re-run)',
      )
      .argument('<entityset>', 'the entity set, e.g. accounts')
      .argument('<file>', 'the file to import')
      .addOption(
        new Option('--format <format>', 'the file format (default: from the extension)').choices(['csv', 'jsonl']),
      )
      .option('--encoding <name>', 'the file encoding (default utf-8, with or without BOM), e.g. windows-1252')
      .option(
        '--batch-size <n>',
        `rows per request (default ${DEFAULT_BULK_SIZE} per UpsertMultiple, ${DEFAULT_BATCH_SIZE} per change set)`,
        positiveInteger(1000),
      )
      .option(
        '--parallel <n>',
        `at most this many requests in flight (default: as the service's x-ms-dop-hint asks, ${DEFAULT_PARALLEL} until it does)`,
        positiveInteger(MAX_PARALLEL),
      )
      .addOption(
        new Option(
          '--mode <mode>',
          'UpsertMultiple (bulk) or $batch change sets (default: bulk where the table has it)',
        ).choices(['auto', 'bulk', 'batch']),
      )
      .option('--resume', 'continue an interrupted import from its checkpoint file (FILE.dvw-checkpoint.json)'),
  )
    .option('--verbose', 'print every retry (method, path, status, wait)')
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    .exitOverride(usageExit)
    .action(async (entitySet: string, file: string, raw: RawOptions) => {
      await runImport(io, entitySet, file, raw);
    });
  program.addCommand(command);
}

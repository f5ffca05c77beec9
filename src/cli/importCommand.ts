import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { describeError, WorkbenchError } from '../core/errors';
import type { ImportFormat, ImportProgress, ImportSummary, ParsedSource } from '../dataverse/bulkImport';
import { DEFAULT_BATCH_SIZE, DEFAULT_PARALLEL, importRows, loadTableRules, parseSource } from '../dataverse/bulkImport';
import { cacheDirectory } from '../dataverse/connectionsFile';
import { MetadataCache } from '../dataverse/metadataCache';
import type { ClientEvent } from '../dataverse/webApiClient';
import { WebApiClient } from '../dataverse/webApiClient';
import { cliResolveOptions, redact, resolveConnection } from './connections';
import type { CliIo } from './program';

const USAGE_EXIT_CODE = 2;
const FAILED_EXIT_CODE = 1;
/** Progress lines at most this often: enough to see it move, few enough for a log file. */
const PROGRESS_INTERVAL_MS = 1000;

function usage(io: CliIo, message: string): never {
  io.stderr(`dvw import: ${message}\n`);
  throw new CommanderError(USAGE_EXIT_CODE, 'dvw.import.usage', message);
}

function failed(io: CliIo, message: string): never {
  io.stderr(`dvw import: ${message}\n`);
  throw new CommanderError(FAILED_EXIT_CODE, 'dvw.import.failed', message);
}

function positiveInteger(max: number) {
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
  const problems = p.failed + p.invalid === 0 ? '' : `, ${p.invalid} invalid, ${p.failed} failed`;
  return `${p.done.toLocaleString('en-US')}/${p.total.toLocaleString('en-US')} rows (${Math.round(p.rowsPerSecond)} rows/s${eta}${problems})`;
}

/** Method, path and status only: never query strings, bodies or headers. */
export function retryLine(event: ClientEvent): string {
  if (event.type === 'refreshToken') return `refresh token: ${event.method} ${event.path} answered 401\n`;
  const status = event.status === undefined ? event.kind : String(event.status);
  const why = event.source === 'retryAfter' ? 'Retry-After' : event.source;
  return `retry: ${event.method} ${event.path} → ${status}, attempt ${event.attempt}, waiting ${event.delayMs} ms (${why})\n`;
}

interface RawOptions {
  format?: unknown;
  batchSize?: unknown;
  parallel?: unknown;
  env?: unknown;
  url?: unknown;
  token?: unknown;
  verbose?: unknown;
}

async function runImport(io: CliIo, entitySet: string, file: string, raw: RawOptions): Promise<void> {
  const format = formatOf(io, file, raw.format);
  let content: string;
  try {
    content = await readFile(file, 'utf8');
  } catch (error) {
    const code = error instanceof Error && 'code' in error ? String(error.code) : '';
    usage(io, code === 'ENOENT' ? `file not found: ${file}` : `cannot read ${file}`);
  }
  let source: ParsedSource;
  try {
    source = parseSource(content, format);
  } catch (error) {
    usage(io, `${file}: ${describeError(error)}`);
  }

  let secrets: readonly string[] = [];
  const say = (line: string): void => io.stderr(redact(line, secrets));
  const connection = await resolveConnection(
    { env: text(raw.env), url: text(raw.url), token: text(raw.token) },
    process.env,
    cliResolveOptions(io.stderr),
  ).catch((error: unknown) => {
    if (error instanceof WorkbenchError && error.kind === 'invalidInput') usage(io, describeError(error));
    throw error;
  });
  secrets = connection.secrets;
  const verbose = raw.verbose === true;
  const client = new WebApiClient({
    url: connection.url,
    tokenProvider: connection.tokenProvider,
    // Every repeat of an import batch is safe, so it may try harder than an interactive request.
    retry: { maxAttempts: 12 },
    ...(verbose ? { onEvent: (event: ClientEvent) => say(retryLine(event)) } : {}),
  });

  const abort = new AbortController();
  const onInterrupt = (): void => abort.abort();
  process.once('SIGINT', onInterrupt);
  try {
    const cache = new MetadataCache({ client, directory: cacheDirectory(process.env) });
    const { rules, unknownColumns: unknown } = await loadTableRules({
      cache,
      client,
      entitySet,
      source,
      environmentLabel: connection.label,
      signal: abort.signal,
    });
    if (format === 'csv' && unknown.length > 0) {
      usage(io, `${file}: ${entitySet} has no column ${unknown.map((c) => `'${c}'`).join(', ')}`);
    }

    if (verbose) say(`importing ${source.rows.length} rows of ${file} into ${entitySet} on ${connection.label}\n`);
    let lastProgress = 0;
    const summary: ImportSummary = await importRows({
      client,
      rules,
      source,
      csv: format === 'csv',
      batchSize: typeof raw.batchSize === 'number' ? raw.batchSize : DEFAULT_BATCH_SIZE,
      parallel: typeof raw.parallel === 'number' ? raw.parallel : DEFAULT_PARALLEL,
      signal: abort.signal,
      onRowProblem: (problem) => say(`${file}:${problem.line}: ${problem.message}\n`),
      onProgress: (progress) => {
        const now = performance.now();
        if (now - lastProgress < PROGRESS_INTERVAL_MS && progress.done < progress.total) return;
        lastProgress = now;
        say(`${progressLine(progress)}\n`);
      },
    });
    const problems = summary.invalid.length + summary.failed.length;
    io.stdout(
      `${summary.imported} of ${summary.total} rows imported into ${entitySet} in ${seconds(summary.elapsedMs)}` +
        ` (${summary.batches} batches; ${summary.invalid.length} invalid, ${summary.failed.length} failed)\n`,
    );
    if (summary.cancelled) {
      failed(io, 'interrupted: run the same command again to finish (rows already imported are not duplicated)');
    }
    if (problems > 0) {
      failed(io, `${problems} row(s) not imported (see the lines above); fix them and run the same command again`);
    }
  } catch (error) {
    if (error instanceof CommanderError) throw error;
    if (error instanceof WorkbenchError && error.kind === 'invalidInput')
      usage(io, redact(describeError(error), secrets));
    failed(io, redact(describeError(error), secrets));
  } finally {
    process.off('SIGINT', onInterrupt);
  }
}

/**
 * `dvw import ENTITYSET FILE [--format csv|jsonl] [--batch-size N] [--parallel N] (--env NAME | --url URL)`.
 */
export function registerImportCommand(program: Command, io: CliIo): void {
  const command = new Command('import')
    .description('import a CSV or JSON Lines file into a table, as upserts in $batch change sets (safe to re-run)')
    .argument('<entityset>', 'the entity set, e.g. accounts')
    .argument('<file>', 'the file to import')
    .addOption(
      new Option('--format <format>', 'the file format (default: from the extension)').choices(['csv', 'jsonl']),
    )
    .option('--batch-size <n>', `rows per change set (default ${DEFAULT_BATCH_SIZE})`, positiveInteger(1000))
    .option('--parallel <n>', `change sets in flight (default ${DEFAULT_PARALLEL})`, positiveInteger(64))
    .option('--env <name>', 'a named environment (dvw env add)')
    .option('--url <url>', 'the organization URL (default: $DATAVERSE_URL)')
    .option('--token <token>', 'a bearer token (default: $DATAVERSE_TOKEN, or DATAVERSE_CLIENT_ID/SECRET/TENANT_ID)')
    .option('--verbose', 'print every retry (method, path, status, wait)')
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    .exitOverride((error) => {
      if (error.exitCode === 0) throw error;
      throw new CommanderError(USAGE_EXIT_CODE, error.code, error.message);
    })
    .action(async (entitySet: string, file: string, raw: RawOptions) => {
      await runImport(io, entitySet, file, raw);
    });
  program.addCommand(command);
}

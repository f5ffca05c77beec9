import { Command, Option } from 'commander';
import { open, readFile, stat, truncate } from 'node:fs/promises';
import { extname, resolve } from 'node:path';
import { CSV_BOM, csvField, guardFormula } from '../core/csv';
import { WorkbenchError } from '../core/errors';
import type { CheckpointIdentity } from '../dataverse/checkpoint';
import { CheckpointWriter, checkpointPath, readCheckpoint } from '../dataverse/checkpoint';
import { cacheDirectory } from '../dataverse/connectionsFile';
import { MetadataCache } from '../dataverse/metadataCache';
import type { ExportCheckpoint, ExportFormat } from '../dataverse/tableExport';
import { exportRows, isExportCheckpoint, writableColumnsPath } from '../dataverse/tableExport';
import { checkRequestUrl, liveRunContext } from '../dataverse/runRequest';
import type { WebApiClient } from '../dataverse/webApiClient';
import { prepareRequest } from '../odata/run';
import {
  FAILED_EXIT_CODE,
  stopCommand,
  USAGE_EXIT_CODE,
  usageExit,
  withCommandConnection,
  withConnectionOptions,
} from './commandConnection';
import { positiveInteger } from './importCommand';
import {
  blockDiagnostics,
  parseVars,
  printFindings,
  problemDiagnostics,
  readOdataFile,
  selectBlocks,
} from './odataFile';
import type { CliIo } from './program';
import { humanIo } from './terminalText';

const COMMAND = { name: 'dvw export', code: 'dvw.export' } as const;
const PROGRESS_INTERVAL_MS = 1000;

function usage(io: CliIo, message: string): never {
  stopCommand(io, COMMAND, USAGE_EXIT_CODE, message);
}

function failed(io: CliIo, message: string): never {
  stopCommand(io, COMMAND, FAILED_EXIT_CODE, message);
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

function formatOf(io: CliIo, file: string, given: unknown): ExportFormat {
  if (given === 'csv' || given === 'jsonl') return given;
  const extension = extname(file).toLowerCase();
  if (extension === '.csv') return 'csv';
  if (extension === '.jsonl' || extension === '.ndjson') return 'jsonl';
  usage(io, `cannot tell the format of ${file}: pass --format csv or --format jsonl`);
}

interface RawOptions {
  format?: unknown;
  query?: unknown;
  fetchxml?: unknown;
  odata?: unknown;
  var?: unknown;
  select?: unknown;
  formatted?: unknown;
  formulaGuard?: unknown;
  pageSize?: unknown;
  resume?: unknown;
  env?: unknown;
  url?: unknown;
  token?: unknown;
  verbose?: unknown;
}

type SavedExport = ExportCheckpoint & { readonly header: readonly string[] };

/**
 * The first page's URL: the query as given (`accounts?$filter=…`) or the request of a `.odata` block, the FetchXML
 * of a file, the table with `--select`, or the writable columns.
 */
async function firstPath(
  client: WebApiClient,
  entitySet: string,
  logicalName: string,
  raw: RawOptions,
  given: { readonly fetchXml: string | undefined; readonly odataUrl: string | undefined },
  signal: AbortSignal,
): Promise<string> {
  if (given.fetchXml !== undefined) return `${entitySet}?fetchXml=${encodeURIComponent(given.fetchXml)}`;
  const query = text(raw.query) ?? given.odataUrl;
  // An absolute URL (a `{{baseUrl}}/api/data/…` or a next link) stays as it is; the client keeps it on this origin.
  if (query !== undefined) return /^[a-z][a-z0-9+.-]*:/i.test(query) ? query : query.replace(/^\//, '');
  const select = text(raw.select);
  if (select !== undefined) return `${entitySet}?$select=${encodeURIComponent(select)}`;
  return writableColumnsPath(client, entitySet, logicalName, signal);
}

async function readFetchXml(io: CliIo, file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch {
    usage(io, `cannot read the FetchXML file ${file}`);
  }
}

/** `FILE.odata:BLOCK` (a block number or a `# @name` label) or just `FILE.odata`. */
function odataSource(spec: string): { readonly file: string; readonly block?: string } {
  const match = /^(.*\.odata):([^:/\\]+)$/i.exec(spec);
  return match === null ? { file: spec } : { file: match[1] ?? spec, block: match[2] ?? '' };
}

/**
 * The URL of the request a `.odata` block sends, its variables resolved as `dvw run` resolves them (the file's own,
 * then `--var`). Only a GET returns rows to export.
 */
async function odataUrl(io: CliIo, spec: string, rawVars: unknown): Promise<string> {
  const stop = (message: string): never => usage(io, message);
  const overrides = parseVars(rawVars, stop);
  const { file, block } = odataSource(spec);
  const { text: source, document } = await readOdataFile(file, stop);
  const named = block === undefined || /^\d+$/.test(block) ? {} : { name: block };
  const numbered = block !== undefined && /^\d+$/.test(block) ? { block } : {};
  const blocks = selectBlocks(document, { ...named, ...numbered, blockOption: `the block of --odata ${file}:N` }, stop);
  const [chosen] = blocks;
  if (chosen === undefined || blocks.length > 1) {
    usage(
      io,
      `${file} holds ${blocks.length} requests: name one as --odata ${file}:N (a block number) or ${file}:NAME (its # @name)`,
    );
  }
  const diagnostics = blockDiagnostics(document, [chosen], overrides);
  if (diagnostics.length > 0) {
    printFindings(io, file, source, diagnostics);
    failed(io, `block ${chosen.index} of ${file} has ${diagnostics.length} error(s)`);
  }
  const prepared = prepareRequest(document, chosen.index, liveRunContext({}, new Map(), overrides));
  if (!prepared.ok) {
    printFindings(io, file, source, problemDiagnostics(prepared.problems));
    failed(io, `block ${chosen.index} of ${file} could not be prepared`);
  }
  const { method, kind } = prepared.request;
  if (method !== 'GET' || kind === 'batch') {
    usage(io, `only a GET request returns rows to export: block ${chosen.index} of ${file} is a ${method}`);
  }
  return prepared.request.url;
}

async function runExport(io: CliIo, entitySet: string, file: string, raw: RawOptions): Promise<void> {
  const format = formatOf(io, file, raw.format);
  const guard = raw.formulaGuard !== false;
  const checkpointFile = checkpointPath(file);
  const sources = [raw.query, raw.fetchxml, raw.odata, raw.select].filter((given) => given !== undefined);
  if (sources.length > 1) usage(io, 'give one of --query, --odata, --fetchxml and --select');
  if (raw.var !== undefined && raw.odata === undefined) usage(io, '--var sets variables of an --odata file');
  const fetchXml = typeof raw.fetchxml === 'string' ? await readFetchXml(io, raw.fetchxml) : undefined;
  const fromOdata = typeof raw.odata === 'string' ? await odataUrl(io, raw.odata, raw.var) : undefined;
  const verbose = raw.verbose === true;
  await withCommandConnection(io, { ...COMMAND, retry: { maxAttempts: 12 }, verbose }, raw, async (run) => {
    const { client, connection, signal, say } = run;
    let handle: Awaited<ReturnType<typeof open>> | undefined;
    try {
      const cache = new MetadataCache({ client, directory: cacheDirectory(process.env) });
      const { model } = await cache.get({ signal });
      const set = model.entitySets.get(entitySet);
      if (set === undefined) usage(io, `'${entitySet}' is not an entity set of ${connection.label}`);
      const logicalName = set.entityType.slice(set.entityType.lastIndexOf('.') + 1);
      const path = await firstPath(client, entitySet, logicalName, raw, { fetchXml, odataUrl: fromOdata }, signal);
      // Refused before anything is sent: a block's absolute URL must stay on this environment's Web API.
      if (fromOdata !== undefined) checkRequestUrl(path, client.webApiUrl);
      const identity: CheckpointIdentity = {
        file: resolve(file),
        source: path,
        environment: client.webApiUrl,
        format,
        guard: String(guard),
        formatted: String(raw.formatted === true),
      };
      let resume: SavedExport | undefined;
      if (raw.resume === true) {
        resume = await readCheckpoint(checkpointFile, identity, isExportCheckpoint);
        if (resume === undefined) usage(io, `no checkpoint of this export to resume (${checkpointFile})`);
        const { size } = await stat(file);
        if (size < resume.bytes)
          usage(io, `${file} is shorter than its checkpoint says; export again without --resume`);
        // Rows written after the checkpoint (a page cut short by the kill) are written again.
        await truncate(file, resume.bytes);
      }
      handle = await open(file, resume === undefined ? 'w' : 'a');
      const out = handle;
      const write = async (chunk: string): Promise<void> => {
        await out.write(chunk);
      };
      if (resume === undefined && format === 'csv') await write(CSV_BOM);
      const saver = new CheckpointWriter<SavedExport>(checkpointFile, identity);
      let lastProgress = 0;
      const summary = await exportRows({
        client,
        model,
        entitySet,
        path,
        format,
        formatted: raw.formatted === true,
        ...(typeof raw.pageSize === 'number' ? { pageSize: raw.pageSize } : {}),
        write,
        csvLine: (cells) => `${cells.map((cell) => csvField(guard ? guardFormula(cell) : cell)).join(',')}\r\n`,
        ...(resume === undefined ? {} : { resume }),
        // The file is synced before the checkpoint says its rows are there: a kill loses no row it counted.
        onCheckpoint: (checkpoint) => void out.datasync().then(() => saver.save(checkpoint)),
        onProgress: (progress) => {
          const now = performance.now();
          if (now - lastProgress < PROGRESS_INTERVAL_MS) return;
          lastProgress = now;
          say(`${progress.rows.toLocaleString('en-US')} rows written (${progress.pages} pages)\n`);
        },
        signal,
      });
      await handle.close();
      handle = undefined;
      await saver.remove();
      const resumed = summary.resumed ? ' (resumed)' : '';
      humanIo(io).stdout(
        `${summary.rows} rows of ${entitySet} exported to ${file} in ${summary.pages} pages${resumed}\n`,
      );
    } catch (error) {
      if (error instanceof WorkbenchError && error.kind === 'cancelled') {
        failed(io, 'interrupted: run the same command with --resume to continue');
      }
      throw error;
    } finally {
      await handle?.close();
    }
  });
}

/**
 * `dvw export ENTITYSET FILE [--format csv|jsonl] [--query URL | --odata FILE[:BLOCK] [--var n=v…] | --fetchxml FILE |
 * --select COLS] [--formatted] [--resume]`.
 */
export function registerExportCommand(program: Command, io: CliIo): void {
  const command = withConnectionOptions(
    new Command('export')
      .description(
        'export a table or query to a CSV or JSON Lines file, page by page (resumable; dvw import reads it back)',
      )
      .argument('<entityset>', 'the entity set, e.g. accounts')
      .argument('<file>', 'the file to write')
      .addOption(
        new Option('--format <format>', 'the file format (default: from the extension)').choices(['csv', 'jsonl']),
      )
      .option(
        '--query <url>',
        'a query of the entity set instead of the whole table, e.g. "accounts?$filter=statecode eq 0"',
      )
      .option(
        '--odata <file[:block]>',
        'the GET request of a .odata file block (by number or # @name; its variables resolved as dvw run does)',
      )
      .option('--var <name=value...>', "with --odata: set a variable; wins over the file's @name = value")
      .option('--fetchxml <file>', 'a FetchXML query (a file holding <fetch>…) of the entity set, paged by its cookie')
      .option('--select <columns>', 'these columns (comma-separated) instead of those an import can write back')
      .option('--page-size <n>', 'rows per page asked of the service (default 5000)', positiveInteger(5000))
      .option('--formatted', 'add formatted values (option labels, currency) beside the values')
      .option('--no-formula-guard', "CSV: keep cells starting with = + - @ as they are (no leading ')")
      .option('--resume', 'continue an interrupted export from its checkpoint file (FILE.dvw-checkpoint.json)'),
  )
    .option('--verbose', 'print every retry (method, path, status, wait)')
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    .exitOverride(usageExit)
    .action(async (entitySet: string, file: string, raw: RawOptions) => {
      await runExport(io, entitySet, file, raw);
    });
  program.addCommand(command);
}

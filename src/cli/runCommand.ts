import { Command, CommanderError, Option } from 'commander';
import { CSV_BOM, csvCell, csvLines } from '../core/csv';
import { WorkbenchError, describeError } from '../core/errors';
import { memoryDeltaLinkStore } from '../dataverse/changeTracking';
import type { RunResult } from '../dataverse/runRequest';
import { executeRequest, isFailedResult, liveRunContext, namedResultFrom } from '../dataverse/runRequest';
import { isJsonObject } from '../core/json';
import { stringOrUndefined } from '../core/json';
import { WebApiClient } from '../dataverse/webApiClient';
import type { Block } from '../odata/document/syntax';
import type { NamedResult, PreparedRequest } from '../odata/run';
import { prepareRequest } from '../odata/run';
import { cliResolveOptions, resolveConnection } from './connections';
import type { CliIo } from './program';
import { humanIo } from './terminalText';
import { FAILED_EXIT_CODE, USAGE_EXIT_CODE, usageExit } from './commandConnection';
import {
  blockDiagnostics,
  parseVars,
  printFindings,
  problemDiagnostics,
  readOdataFile,
  selectBlocks,
} from './odataFile';

/** Cells wider than this are cut in `table` output; `json` and `csv` keep every character. */
const MAX_CELL = 80;

type OutputFormat = 'table' | 'json' | 'csv';

interface RawOptions {
  name?: unknown;
  block?: unknown;
  url?: unknown;
  token?: unknown;
  env?: unknown;
  output?: unknown;
  var?: unknown;
}

function usage(io: CliIo, message: string): never {
  io.stderr(`dvw run: ${message}\n`);
  throw new CommanderError(USAGE_EXIT_CODE, 'dvw.run.usage', message);
}

function failed(message: string): never {
  throw new CommanderError(FAILED_EXIT_CODE, 'dvw.run.failed', message);
}

// ---- Output -----------------------------------------------------------------------------------------

function cell(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value);
}

function tableCell(value: unknown): string {
  const text = cell(value).replace(/[\r\n\t]+/g, ' ');
  return text.length > MAX_CELL ? `${text.slice(0, MAX_CELL - 1)}…` : text;
}

function isOdataControl(key: string): boolean {
  return key.startsWith('@odata.');
}

function columnsOf(rows: readonly Record<string, unknown>[]): string[] {
  const columns = new Set<string>();
  for (const row of rows) for (const key of Object.keys(row)) if (!isOdataControl(key)) columns.add(key);
  return [...columns];
}

function rowsOf(body: unknown): Record<string, unknown>[] | undefined {
  if (!isJsonObject(body) || !Array.isArray(body.value)) return undefined;
  return body.value.map((row) => (isJsonObject(row) ? row : { value: row }));
}

function alignedTable(rows: readonly Record<string, unknown>[]): string {
  const columns = columnsOf(rows);
  if (columns.length === 0) return `(${rows.length} row${rows.length === 1 ? '' : 's'})\n`;
  const cells = rows.map((row) => columns.map((column) => tableCell(row[column])));
  const widths = columns.map((column, i) => Math.max(column.length, ...cells.map((r) => r[i]!.length)));
  const line = (values: readonly string[]): string =>
    `${values
      .map((v, i) => v.padEnd(widths[i]!))
      .join('  ')
      .trimEnd()}\n`;
  let out = line(columns);
  out += line(widths.map((w) => '-'.repeat(w)));
  for (const row of cells) out += line(row);
  out += `(${rows.length} row${rows.length === 1 ? '' : 's'})\n`;
  return out;
}

function keyValues(record: Record<string, unknown>): string {
  const keys = Object.keys(record).filter((key) => key !== '@odata.context');
  const width = Math.max(0, ...keys.map((key) => key.length));
  return keys.map((key) => `${key.padEnd(width)}  ${tableCell(record[key])}\n`).join('');
}

/** The grid export's rules: formula guard on text, numbers kept, RFC 4180 quoting, CRLF. */
function csvOf(rows: readonly Record<string, unknown>[]): string {
  const columns = columnsOf(rows);
  const cells = rows.map((row) => columns.map((column) => csvCell(cell(row[column]), typeof row[column] === 'number')));
  return csvLines(columns, cells);
}

function errorText(body: unknown): string | undefined {
  if (!isJsonObject(body) || !isJsonObject(body.error)) return undefined;
  const { code, message } = body.error;
  return `error${typeof code === 'string' && code !== '' ? ` ${code}` : ''}: ${typeof message === 'string' ? message : ''}`;
}

/** A body as table text: rows for collections, key/value for one record, the text otherwise. */
function bodyAsTable(body: unknown, headers: Readonly<Record<string, string>>): string {
  const entityId = headers['odata-entityid'];
  const created = entityId === undefined ? '' : `OData-EntityId  ${entityId}\n`;
  if (body === undefined) return created === '' ? '(no content)\n' : created;
  const error = errorText(body);
  if (error !== undefined) return `${error}\n`;
  const rows = rowsOf(body);
  if (rows !== undefined) return alignedTable(rows);
  if (isJsonObject(body)) return created + keyValues(body);
  const text = typeof body === 'string' ? body : JSON.stringify(body, null, 2);
  return text.endsWith('\n') ? text : `${text}\n`;
}

/** A body as CSV: rows for collections, one row for a record; undefined when it has no rows. */
function bodyAsCsv(body: unknown): string | undefined {
  if (errorText(body) !== undefined) return undefined;
  const rows = rowsOf(body);
  if (rows !== undefined) return csvOf(rows);
  if (isJsonObject(body)) return csvOf([body]);
  return undefined;
}

interface Printer {
  result(block: Block, prepared: PreparedRequest, result: RunResult): void;
  error(block: Block, error: unknown): void;
}

function statusLine(block: Block, prepared: PreparedRequest, result: RunResult): string {
  const label = prepared.label === undefined ? '' : ` ${prepared.label}`;
  const ms = Math.round(result.elapsedMs);
  return `### block ${block.index}${label}: ${prepared.method} ${prepared.url} → ${result.status} ${result.statusText} (${ms} ms)\n`;
}

function jsonPrinter(io: CliIo): Printer {
  const line = (value: Record<string, unknown>): void => io.stdout(`${JSON.stringify(value)}\n`);
  return {
    result(block, prepared, result) {
      const common = { block: block.index, ...(prepared.label === undefined ? {} : { label: prepared.label }) };
      if (result.batch !== undefined) {
        result.batch.forEach((part, index) =>
          line({
            ...common,
            part: index,
            method: part.method,
            url: part.url,
            ...(part.contentId === undefined ? {} : { contentId: part.contentId }),
            status: part.status ?? null,
            statusText: part.statusText,
            executed: part.executed,
            headers: part.headers,
            body: part.body ?? null,
          }),
        );
        return;
      }
      line({
        ...common,
        method: prepared.method,
        url: prepared.url,
        status: result.status,
        statusText: result.statusText,
        elapsedMs: Math.round(result.elapsedMs),
        ...(result.requestId === undefined ? {} : { requestId: result.requestId }),
        headers: result.headers,
        body: result.body ?? null,
        ...(result.nextLink === undefined ? {} : { nextLink: result.nextLink }),
        ...(result.deltaLink === undefined ? {} : { deltaLink: result.deltaLink }),
        ...(result.removed === undefined ? {} : { removed: result.removed }),
      });
    },
    error(block, error) {
      const kind = error instanceof WorkbenchError ? error.kind : 'internal';
      line({ block: block.index, error: { kind, message: describeError(error) } });
      io.stderr(`dvw run: block ${block.index}: ${describeError(error)}\n`);
    },
  };
}

function textPrinter(data: CliIo, format: 'table' | 'csv'): Printer {
  // A table is for a person: record values are escaped. CSV rows are data, kept byte for byte, with the
  // grid export's byte order mark once before the first row.
  const io = humanIo(data);
  let bomWritten = false;
  return {
    result(block, prepared, result) {
      // CSV keeps stdout to rows; what a human reads about the request goes to stderr.
      const status = statusLine(block, prepared, result);
      if (format === 'table') io.stdout(status);
      else io.stderr(status);
      const parts = result.batch?.map((part, index) => ({
        title: `--- part ${index}: ${part.method} ${part.url} → ${part.status ?? '-'} ${part.statusText}\n`,
        headers: part.headers,
        body: part.body,
      })) ?? [{ title: '', headers: result.headers, body: result.body }];
      for (const part of parts) {
        if (format === 'table') {
          io.stdout(part.title + bodyAsTable(part.body, part.headers));
          continue;
        }
        if (part.title !== '') io.stderr(part.title);
        const csv = bodyAsCsv(part.body);
        if (csv !== undefined) {
          data.stdout(bomWritten ? csv : `${CSV_BOM}${csv}`);
          bomWritten = true;
        } else io.stderr(bodyAsTable(part.body, part.headers));
      }
      if (result.removed !== undefined && result.removed.length > 0) {
        (format === 'table' ? io.stdout : io.stderr)(`removed: ${result.removed.join(', ')}\n`);
      }
      if (result.nextLink !== undefined) io.stderr(`more rows: ${result.nextLink}\n`);
    },
    error(block, error) {
      io.stderr(`dvw run: block ${block.index}: ${describeError(error)}\n`);
    },
  };
}

// ---- Command ----------------------------------------------------------------------------------------

async function run(io: CliIo, file: string | undefined, raw: RawOptions): Promise<void> {
  if (file === undefined) usage(io, 'name a .odata file: dvw run FILE');
  if (raw.name !== undefined && raw.block !== undefined) usage(io, 'use --name or --block, not both');
  const format: OutputFormat = raw.output === 'json' || raw.output === 'csv' ? raw.output : 'table';
  const stop = (message: string): never => usage(io, message);
  const overrides = parseVars(raw.var, stop);

  let client: WebApiClient;
  try {
    // --env NAME from the connections file, or --url/DATAVERSE_URL with --token, DATAVERSE_TOKEN or client credentials.
    const connection = await resolveConnection(
      { env: stringOrUndefined(raw.env), url: stringOrUndefined(raw.url), token: stringOrUndefined(raw.token) },
      process.env,
      cliResolveOptions(io.stderr),
    );
    client = new WebApiClient({ url: connection.url, tokenProvider: connection.tokenProvider });
  } catch (error) {
    usage(io, describeError(error));
  }
  const { text, document } = await readOdataFile(file, stop);
  const blocks = selectBlocks(
    document,
    {
      ...(typeof raw.name === 'string' ? { name: raw.name } : {}),
      ...(typeof raw.block === 'string' ? { block: raw.block } : {}),
      blockOption: '--block',
    },
    stop,
  );
  // Every chosen block is checked before any is sent: a run-all must not stop halfway on a typo.
  const diagnostics = blockDiagnostics(document, blocks, overrides);
  if (diagnostics.length > 0) {
    printFindings(io, file, text, diagnostics);
    failed(`${diagnostics.length} error(s)`);
  }

  const printer = format === 'json' ? jsonPrinter(io) : textPrinter(io, format);
  const namedResults = new Map<string, NamedResult>();
  const context = liveRunContext({}, namedResults, overrides);
  const deltaLinks = memoryDeltaLinkStore();
  for (const block of blocks) {
    const prepared = prepareRequest(document, block.index, context);
    if (!prepared.ok) {
      printFindings(io, file, text, problemDiagnostics(prepared.problems));
      failed(`block ${block.index} could not be prepared`);
    }
    let result: RunResult;
    try {
      result = await executeRequest(client, prepared.request, { deltaLinks, key: `${file}#${block.index}` });
    } catch (error) {
      printer.error(block, error);
      failed(describeError(error));
    }
    printer.result(block, prepared.request, result);
    if (prepared.request.label !== undefined) namedResults.set(prepared.request.label, namedResultFrom(result));
    if (isFailedResult(result)) {
      const left = blocks.length - blocks.indexOf(block) - 1;
      if (left > 0) io.stderr(`dvw run: block ${block.index} failed; ${left} later block(s) not run\n`);
      failed(`block ${block.index} failed`);
    }
  }
}

/** `dvw run FILE [--name LABEL | --block N] [--url URL --token T] [--output table|json|csv] [--var name=value ...]`. */
export function registerRunCommand(program: Command, io: CliIo): void {
  const command = new Command('run')
    .description('run the requests of a .odata file (all blocks in order, or one) and print the answers')
    .argument('[file]', 'the .odata file')
    .option('--name <label>', 'run the request named with "# @name <label>"')
    .option('--block <n>', 'run block n (numbered from 0, as in the file)')
    .option('--url <url>', 'the organization URL (default: $DATAVERSE_URL)')
    .option('--token <token>', 'a bearer token for it (default: $DATAVERSE_TOKEN)')
    .option('--env <name>', 'a named environment (dvw env add)')
    .addOption(new Option('--output <format>', 'output format').choices(['table', 'json', 'csv']).default('table'))
    .option('--var <name=value...>', "set a variable; wins over the file's @name = value")
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    .exitOverride(usageExit)
    .action(async (file: string | undefined, raw: RawOptions) => {
      await run(io, file, raw);
    });
  program.addCommand(command);
}

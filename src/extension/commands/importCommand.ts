import { basename, extname } from 'node:path';
import * as vscode from 'vscode';
import { WorkbenchError } from '../../core/errors';
import type { ImportFormat, ImportProgress, ImportSource, ImportSummary } from '../../dataverse/bulkImport';
import { importRows, loadTableRules } from '../../dataverse/bulkImport';
import { openSourceFile } from '../../dataverse/importSource';
import type { ConnectionManager } from '../connections';
import type { UserInput } from '../userInput';
import type { ChosenTable } from './tablePicker';
import { notifyDone } from '../history/notify';
import { chooseTable } from './tablePicker';

export interface ImportServices {
  readonly connections: ConnectionManager;
  readonly input: UserInput;
  readonly log: vscode.LogOutputChannel;
}

/** What the command returns (tests read it): counts and lines, never row values. */
export interface ImportCommandResult {
  readonly connection: string;
  readonly entitySet: string;
  readonly file: string;
  readonly total: number;
  readonly imported: number;
  readonly invalidLines: readonly number[];
  readonly failedLines: readonly number[];
  readonly cancelled: boolean;
}

const TITLE = 'Import Records';

function cancelled(): never {
  throw new WorkbenchError('cancelled', 'Cancelled.');
}

function formatOf(file: string): ImportFormat {
  const extension = extname(file).toLowerCase();
  if (extension === '.csv') return 'csv';
  if (extension === '.jsonl' || extension === '.ndjson') return 'jsonl';
  throw new WorkbenchError('invalidInput', `Cannot tell the format of ${basename(file)}: use a .csv or .jsonl file.`);
}

async function pickFile(input: UserInput): Promise<vscode.Uri> {
  const picked = await input.showOpenDialog({
    title: `${TITLE}: file to import`,
    openLabel: 'Import',
    canSelectMany: false,
    canSelectFiles: true,
    canSelectFolders: false,
    filters: { 'CSV or JSON Lines': ['csv', 'jsonl', 'ndjson'] },
  });
  const file = picked?.[0];
  if (file === undefined) cancelled();
  return file;
}

function seconds(ms: number): string {
  return ms < 60_000 ? `${Math.round(ms / 1000)}s` : `${Math.floor(ms / 60_000)}m${Math.round((ms % 60_000) / 1000)}s`;
}

function progressMessage(p: ImportProgress): string {
  const eta = p.etaMs === undefined ? '' : `, ETA ${seconds(p.etaMs)}`;
  return `${p.done.toLocaleString()} rows (${Math.round(p.rowsPerSecond)} rows/s${eta})`;
}

/**
 * `dataverse.importRecords`: a CSV or JSON Lines file into a table of the active connection (or of the
 * table node it runs on), through the same validation and idempotent `$batch` upserts as `dvw import`, so
 * running it again after a cancel or a failure imports only what is missing. Bad rows go to the log by
 * line and reason; values of rows never do.
 */
export async function importRecords(services: ImportServices, target?: unknown): Promise<ImportCommandResult> {
  const { connections, log, input } = services;
  const choose = (): Promise<ChosenTable> => chooseTable(services, target, TITLE, 'Table (entity set) to import into');
  // A table node is checked before any prompt; from the palette the file comes first, then the table.
  const fromNode = target === undefined ? undefined : await choose();
  if (fromNode === undefined) connections.requireActive();
  const uri = await pickFile(input);
  const format = formatOf(uri.path);
  const { connection, entitySet } = fromNode ?? (await choose());
  const name = basename(uri.path);
  let source: ImportSource;
  try {
    // Streamed from disk: memory stays flat whatever the file's size.
    source = await openSourceFile(uri.fsPath, format);
  } catch (error) {
    if (error instanceof WorkbenchError) throw error;
    throw new WorkbenchError('invalidInput', `${name} could not be read.`);
  }
  const client = connections.client(connection);

  const summary: ImportSummary = await vscode.window.withProgress(
    {
      location: vscode.ProgressLocation.Notification,
      title: `Importing ${name} into ${entitySet}`,
      cancellable: true,
    },
    async (progress, token) => {
      const abort = new AbortController();
      const subscription = token.onCancellationRequested(() => abort.abort());
      try {
        const { rules, unknownColumns } = await loadTableRules({
          cache: connections.metadata(connection),
          client,
          entitySet,
          columns: source.columns,
          environmentLabel: connection.name,
          signal: abort.signal,
        });
        // A CSV header names its columns once: an unknown one would make every row invalid.
        if (source.fixedColumns && unknownColumns.length > 0) {
          throw new WorkbenchError(
            'invalidInput',
            `${entitySet} has no column ${unknownColumns.map((c) => `'${c}'`).join(', ')} (the header of ${name}).`,
          );
        }
        let reported = 0;
        return await importRows({
          client,
          rules,
          source,
          csv: format === 'csv',
          signal: abort.signal,
          onRowProblem: (problem) => log.warn(`${name}:${problem.line}: ${problem.message}`),
          onProgress: (p) => {
            const percent = (p.fraction ?? 0) * 100;
            progress.report({ message: progressMessage(p), increment: percent - reported });
            reported = percent;
          },
        });
      } finally {
        subscription.dispose();
      }
    },
  );

  const problems = summary.invalid + summary.failed;
  const stopped = summary.fileError === undefined ? '' : ` Stopped: ${summary.fileError}.`;
  const message =
    `${summary.imported} of ${summary.rows} rows of ${name} imported into ${entitySet} on ${connection.name}` +
    ` (${summary.invalid} invalid, ${summary.failed} failed${summary.cancelled ? ', cancelled' : ''}).${stopped}`;
  log.info(message);
  if (summary.cancelled) {
    void vscode.window.showWarningMessage(
      `${message} Run the import again to finish: imported rows are not duplicated.`,
    );
  } else if (problems > 0 || summary.fileError !== undefined) {
    void vscode.window
      .showWarningMessage(`${message} The log lists the lines not imported.`, 'Show Log')
      .then((choice) => {
        if (choice !== undefined) log.show(true);
      });
  } else {
    notifyDone(message, { method: 'POST', path: '$batch' });
  }
  return {
    connection: connection.name,
    entitySet,
    file: name,
    total: summary.rows,
    imported: summary.imported,
    invalidLines: summary.problems.filter((p) => p.phase === 'validation').map((p) => p.line),
    failedLines: summary.problems.filter((p) => p.phase === 'service').map((p) => p.line),
    cancelled: summary.cancelled,
  };
}

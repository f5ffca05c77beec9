import { open } from 'node:fs/promises';
import { basename, extname } from 'node:path';
import * as vscode from 'vscode';
import { CSV_BOM, csvField, guardFormula } from '../../core/csv';
import { WorkbenchError } from '../../core/errors';
import type { ExportFormat, ExportSummary } from '../../dataverse/tableExport';
import { exportRows, writableColumnsPath } from '../../dataverse/tableExport';
import type { ConnectionManager } from '../connections';
import type { UserInput } from '../userInput';
import { notifyDone } from '../history/notify';
import { chooseTable } from './tablePicker';

export interface ExportServices {
  readonly connections: ConnectionManager;
  readonly input: UserInput;
  readonly log: vscode.LogOutputChannel;
}

/** What the command returns (tests read it): counts, never row values. */
export interface ExportCommandResult {
  readonly entitySet: string;
  readonly file: string;
  readonly rows: number;
  readonly cancelled: boolean;
}

const TITLE = 'Export Table';

function formatOf(file: string): ExportFormat {
  return extname(file).toLowerCase() === '.csv' ? 'csv' : 'jsonl';
}

/**
 * `dataverse.exportTable`: every row of a table node to a CSV or JSON Lines file, page by page (as `dvw export`
 * does: the columns an import can write back, lookups as references and names, the grid's CSV formula guard), with
 * cancellable progress. A cancelled export leaves the rows written so far.
 */
export async function exportTable(services: ExportServices, target: unknown): Promise<ExportCommandResult> {
  const { connections, input, log } = services;
  const { connection, entitySet } = await chooseTable(services, target, TITLE, 'Table (entity set) to export');
  const uri = await input.showSaveDialog({
    title: `${TITLE}: ${entitySet} of ${connection.name}`,
    saveLabel: 'Export',
    filters: { CSV: ['csv'], 'JSON Lines': ['jsonl'] },
  });
  if (uri === undefined) throw new WorkbenchError('cancelled', 'Cancelled.');
  const format = formatOf(uri.fsPath);
  const name = basename(uri.fsPath);
  const client = connections.client(connection);
  const { model } = await connections.metadata(connection).get();
  const set = model.entitySets.get(entitySet);
  if (set === undefined)
    throw new WorkbenchError('invalidInput', `'${entitySet}' is not a table of ${connection.name}.`);
  const logicalName = set.entityType.slice(set.entityType.lastIndexOf('.') + 1);
  const handle = await open(uri.fsPath, 'w');
  let cancelled = false;
  let summary: ExportSummary | undefined;
  try {
    if (format === 'csv') await handle.write(CSV_BOM);
    summary = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `Exporting ${entitySet} to ${name}`, cancellable: true },
      async (progress, token) => {
        const abort = new AbortController();
        const subscription = token.onCancellationRequested(() => abort.abort());
        try {
          return await exportRows({
            client,
            model,
            entitySet,
            path: await writableColumnsPath(client, entitySet, logicalName, abort.signal),
            format,
            formatted: false,
            write: async (text) => {
              await handle.write(text);
            },
            csvLine: (cells) => `${cells.map((cell) => csvField(guardFormula(cell))).join(',')}\r\n`,
            signal: abort.signal,
            onProgress: (p) => progress.report({ message: `${p.rows.toLocaleString()} rows` }),
          });
        } finally {
          subscription.dispose();
        }
      },
    );
  } catch (error) {
    if (!(error instanceof WorkbenchError && error.kind === 'cancelled')) throw error;
    cancelled = true;
  } finally {
    await handle.close();
  }
  const rows = summary?.rows ?? 0;
  const message = cancelled
    ? `Export of ${entitySet} to ${name} cancelled.`
    : `${rows} rows of ${entitySet} exported to ${name}.`;
  log.info(message);
  if (cancelled) void vscode.window.showWarningMessage(message);
  else notifyDone(message, { method: 'GET', path: `${entitySet}?` }, uri);
  return { entitySet, file: name, rows, cancelled };
}

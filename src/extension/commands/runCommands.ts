import * as vscode from 'vscode';
import { WorkbenchError } from '../../core/errors';
import { blockAt, parseDocument } from '../../odata/document/parser';
import { LANGUAGE_ID } from '../constants';
import type { BlockRun, OdataRunner } from '../run/odataRunner';

/** Where results go: the results panel, or a JSON document where no panel is available. */
export interface ResultPresenter {
  show(runs: readonly BlockRun[]): Promise<void>;
}

interface BlockTarget {
  readonly document: vscode.TextDocument;
  readonly blockIndex: number;
}

/** CodeLens passes `{ uri, blockIndex }`; from the palette, the block under the cursor is meant. */
async function resolveTarget(args: unknown, needBlock: boolean): Promise<BlockTarget> {
  if (typeof args === 'object' && args !== null) {
    const { uri, blockIndex } = args as { uri?: unknown; blockIndex?: unknown };
    if (typeof uri === 'string' && (!needBlock || (typeof blockIndex === 'number' && Number.isInteger(blockIndex)))) {
      const document = await vscode.workspace.openTextDocument(vscode.Uri.parse(uri, true));
      return { document, blockIndex: typeof blockIndex === 'number' ? blockIndex : 0 };
    }
    throw new WorkbenchError('invalidInput', 'The run command needs { uri, blockIndex }.');
  }
  const editor = vscode.window.activeTextEditor;
  if (!editor || editor.document.languageId !== LANGUAGE_ID) {
    throw new WorkbenchError('invalidInput', 'Open a .odata file and place the cursor in the request to run.');
  }
  const document = editor.document;
  const parsed = parseDocument(document.getText());
  const block = blockAt(parsed, document.offsetAt(editor.selection.active));
  return { document, blockIndex: block ? parsed.blocks.indexOf(block) : 0 };
}

async function withCancellableProgress<T>(title: string, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  return vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title, cancellable: true },
    async (_progress, token) => {
      const controller = new AbortController();
      const subscription = token.onCancellationRequested(() => controller.abort());
      try {
        return await work(controller.signal);
      } finally {
        subscription.dispose();
      }
    },
  );
}

export async function runBlockCommand(
  runner: OdataRunner,
  presenter: ResultPresenter,
  args: unknown,
  mode: 'run' | 'getChanges',
): Promise<BlockRun> {
  const target = await resolveTarget(args, true);
  const run = await withCancellableProgress(mode === 'run' ? 'Running request…' : 'Getting changes…', (signal) =>
    runner.run(target.document, target.blockIndex, mode, signal),
  );
  await presenter.show([run]);
  return run;
}

/** Runs every request of the file in order, so named results feed later blocks; stops on cancel. */
export async function runAllCommand(
  runner: OdataRunner,
  presenter: ResultPresenter,
  args: unknown,
): Promise<BlockRun[]> {
  const { document } = await resolveTarget(args, false);
  const blocks = runner.requestBlocks(document);
  const runs = await withCancellableProgress(`Running ${blocks.length} requests…`, async (signal) => {
    const done: BlockRun[] = [];
    for (const blockIndex of blocks) {
      if (signal.aborted) break;
      done.push(await runner.run(document, blockIndex, 'run', signal));
    }
    return done;
  });
  await presenter.show(runs);
  return runs;
}

import type * as vscode from 'vscode';
import { WorkbenchError } from '../../core/errors';
import type { DeltaLinkStore } from '../../dataverse/changeTracking';
import type { RunResult } from '../../dataverse/runRequest';
import { executeRequest, liveRunContext, namedResultFrom } from '../../dataverse/runRequest';
import { parseDocument } from '../../odata/document/parser';
import type { NamedResult } from '../../odata/run/index';
import { withFormattedValues } from '../../odata/run/httpHeaders';
import { prepareRequest } from '../../odata/run/index';
import type { Connection, ConnectionManager } from '../connections';

export interface BlockRun {
  readonly uri: vscode.Uri;
  readonly blockIndex: number;
  readonly title: string;
  readonly connection: Connection;
  readonly result: RunResult;
  /** The request's `Prefer` header, repeated on next-page requests (page size, annotations). */
  readonly prefer: string | undefined;
  /** The URL as sent. */
  readonly url: string;
}

/** Delta links live in workspace state, so "Get changes" works after a window reload. */
export function mementoDeltaLinkStore(memento: vscode.Memento): DeltaLinkStore {
  const key = (k: string): string => `dataverse.deltaLink:${k}`;
  return {
    get: (k) => Promise.resolve(memento.get<string>(key(k))),
    set: async (k, link) => {
      await memento.update(key(k), link);
    },
  };
}

/**
 * Runs blocks of `.odata` documents through the same engine as `dvw run`: parse, prepare (variables
 * expanded), execute on the file's environment. Results of named requests are kept per document for
 * later `{{label.…}}` uses.
 */
export class OdataRunner {
  private readonly namedResults = new Map<string, Map<string, NamedResult>>();

  constructor(
    private readonly connections: ConnectionManager,
    private readonly deltaLinks: DeltaLinkStore,
  ) {}

  async run(
    document: vscode.TextDocument,
    blockIndex: number,
    mode: 'run' | 'getChanges',
    signal: AbortSignal,
  ): Promise<BlockRun> {
    const parsed = parseDocument(document.getText());
    const block = parsed.blocks[blockIndex];
    if (!block) throw new WorkbenchError('invalidInput', `The document has no block ${blockIndex + 1}.`);
    const environment = parsed.environment?.value;
    const connection = environment ? this.connections.byName(environment) : this.connections.requireActive();
    if (!connection) {
      throw new WorkbenchError(
        'invalidInput',
        `The file asks for environment "${environment}", which is not configured.`,
      );
    }
    const results = this.resultsOf(document.uri);
    const prepared = prepareRequest(
      parsed,
      blockIndex,
      liveRunContext(this.connections.variablesOf(connection), { get: (label) => results.get(label) }),
    );
    if (!prepared.ok) {
      const first = prepared.problems[0];
      const where = first ? ` (line ${document.positionAt(first.span.start).line + 1})` : '';
      throw new WorkbenchError(
        'invalidInput',
        `${first?.message ?? 'The block cannot be run.'}${where}${prepared.problems.length > 1 ? ` and ${prepared.problems.length - 1} more problem(s)` : ''}`,
      );
    }
    // Reads shown in the grid carry formatted values, so its toggle has something to show.
    const request =
      prepared.request.method === 'GET' && prepared.request.kind !== 'batch'
        ? { ...prepared.request, headers: withFormattedValues(prepared.request.headers) }
        : prepared.request;
    const result = await executeRequest(this.connections.client(connection), request, {
      signal,
      deltaLinks: this.deltaLinks,
      key: `${document.uri.toString()}#${blockIndex}`,
      mode,
    });
    if (prepared.request.label) results.set(prepared.request.label, namedResultFrom(result));
    const title = block.title || `Block ${blockIndex + 1}`;
    const prefer = request.headers.find(([name]) => name.toLowerCase() === 'prefer')?.[1];
    return { uri: document.uri, blockIndex, title, connection, result, prefer, url: prepared.request.url };
  }

  /** The number of blocks with a request, for "Run all". */
  requestBlocks(document: vscode.TextDocument): number[] {
    return parseDocument(document.getText())
      .blocks.map((block, index) => (block.request ? index : -1))
      .filter((index) => index >= 0);
  }

  private resultsOf(uri: vscode.Uri): Map<string, NamedResult> {
    const key = uri.toString();
    let results = this.namedResults.get(key);
    if (!results) {
      results = new Map();
      this.namedResults.set(key, results);
    }
    return results;
  }
}

import * as vscode from 'vscode';
import type { LanguageClientOptions, ServerOptions } from 'vscode-languageclient/node';
import { LanguageClient, TransportKind } from 'vscode-languageclient/node';
import type { SetMetadataParams } from '../odata/language/protocol';
import { SET_METADATA_NOTIFICATION } from '../odata/language/protocol';
import { LANGUAGE_ID } from './constants';

/**
 * The `.odata` language server runs in its own process (dist/server.js) so that parsing large
 * metadata never blocks the extension host. It is started on the first `.odata` document only.
 */
export class OdataLanguageClient implements vscode.Disposable {
  private client: LanguageClient | undefined;
  private starting: Promise<void> | undefined;
  /** The last environment sent, so a server started later gets it too. */
  private environment: SetMetadataParams = {};

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly log: vscode.LogOutputChannel,
  ) {}

  /** Starts the server once; later calls share the same start. */
  ensureStarted(): Promise<void> {
    this.starting ??= this.start();
    return this.starting;
  }

  /** Tells the server which metadata and variables belong to the active environment. */
  async setEnvironment(params: SetMetadataParams): Promise<void> {
    this.environment = params;
    if (this.client?.isRunning()) await this.client.sendNotification(SET_METADATA_NOTIFICATION, params);
  }

  private async start(): Promise<void> {
    const module = vscode.Uri.joinPath(this.extensionUri, 'dist', 'server.js').fsPath;
    const serverOptions: ServerOptions = {
      run: { module, transport: TransportKind.ipc },
      debug: { module, transport: TransportKind.ipc, options: { execArgv: ['--nolazy', '--inspect=6010'] } },
    };
    const clientOptions: LanguageClientOptions = {
      documentSelector: [
        { language: LANGUAGE_ID, scheme: 'file' },
        { language: LANGUAGE_ID, scheme: 'untitled' },
      ],
      outputChannel: this.log,
    };
    this.client = new LanguageClient('dataverse.odata', '.odata Language Server', serverOptions, clientOptions);
    await this.client.start();
    await this.client.sendNotification(SET_METADATA_NOTIFICATION, this.environment);
    this.log.info('.odata language server started');
  }

  dispose(): void {
    void this.client?.dispose();
  }
}

/** Starts the client when an `.odata` document is (or becomes) open. */
export function startOnFirstOdataDocument(
  client: OdataLanguageClient,
  log: vscode.LogOutputChannel,
  onStarted: () => void,
): vscode.Disposable {
  let started = false;
  const startIfOdata = (document: vscode.TextDocument): void => {
    if (document.languageId !== LANGUAGE_ID) return;
    client.ensureStarted().then(
      () => {
        if (started) return;
        started = true;
        onStarted();
      },
      (error: unknown) => log.error(`The .odata language server did not start: ${String(error)}`),
    );
  };
  vscode.workspace.textDocuments.forEach(startIfOdata);
  return vscode.workspace.onDidOpenTextDocument(startIfOdata);
}

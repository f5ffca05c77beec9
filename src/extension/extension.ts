import * as vscode from 'vscode';
import { registerCommand } from './commandRunner';
import { addEnvironment, newOdataFile, removeEnvironment } from './commands/environmentCommands';
import { Commands, Views } from './constants';
import { EnvironmentStore } from './environmentStore';
import { ExplorerTreeProvider } from './explorer/explorerTree';
import { OdataLanguageClient, startOnFirstOdataDocument } from './languageClient';
import { createLog } from './log';
import type { UserInput } from './userInput';
import { vscodeUserInput } from './userInput';

/** What `activate` returns: other extensions and the integration tests use it. */
export interface WorkbenchApi {
  readonly vscodeVersion: string;
  /** Replaces the prompt service; integration tests script answers with it. Returns a restore function. */
  setUserInput(input: UserInput): () => void;
  /** Resolves once the `.odata` language server answers. */
  languageServerReady(): Promise<void>;
}

/** Only wiring lives here: build services, register, hand disposables to the context. */
export function activate(context: vscode.ExtensionContext): WorkbenchApi {
  const log = createLog();
  let input: UserInput = vscodeUserInput;
  const prompts: UserInput = {
    showInputBox: (options) => input.showInputBox(options),
    showQuickPick: (items, options) => input.showQuickPick(items, options),
    showWarningMessage: (message, options, ...actions) => input.showWarningMessage(message, options, ...actions),
  };

  const store = new EnvironmentStore();
  const explorer = new ExplorerTreeProvider(store);
  const languageClient = new OdataLanguageClient(context.extensionUri, log);
  const commandContext = { log };

  context.subscriptions.push(
    log,
    store,
    explorer,
    languageClient,
    vscode.window.registerTreeDataProvider(Views.explorer, explorer),
    startOnFirstOdataDocument(languageClient, log),
    registerCommand(commandContext, Commands.addEnvironment, async () => {
      const name = await addEnvironment(store, prompts);
      log.info(`Added environment "${name}"`);
      return name;
    }),
    registerCommand(commandContext, Commands.removeEnvironment, async (node) => {
      const name = await removeEnvironment(store, prompts, node);
      log.info(`Removed environment "${name}"`);
      return name;
    }),
    registerCommand(commandContext, Commands.refreshExplorer, () => explorer.refresh()),
    registerCommand(commandContext, Commands.newOdataFile, () => newOdataFile()),
    registerCommand(commandContext, Commands.showLog, () => log.show()),
  );

  log.info(
    `Dataverse Workbench ${String((context.extension.packageJSON as { version?: unknown }).version)} activated in VS Code ${vscode.version}`,
  );
  return {
    vscodeVersion: vscode.version,
    setUserInput(next) {
      const previous = input;
      input = next;
      return () => {
        input = previous;
      };
    },
    languageServerReady: () => languageClient.ensureStarted(),
  };
}

export function deactivate(): void {
  // Everything is disposed through context.subscriptions.
}

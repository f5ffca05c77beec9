import * as vscode from 'vscode';
import { registerCommand } from './commandRunner';
import { addEnvironment, newOdataFile, removeEnvironment } from './commands/environmentCommands';
import { Commands, ContextKeys, Settings, Views } from './constants';
import type { RunningEmulator } from './emulatorHost';
import { EmulatorHost } from './emulatorHost';
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
  /** The running local emulator, if any (its token stays in memory). */
  readonly emulator: () => RunningEmulator | undefined;
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
  const emulator = new EmulatorHost(context.extensionUri, context.globalStorageUri, log);
  const explorer = new ExplorerTreeProvider(store, emulator);
  const languageClient = new OdataLanguageClient(context.extensionUri, log);
  const commandContext = { log };

  context.subscriptions.push(
    log,
    store,
    emulator,
    explorer,
    emulator.onDidChange(() => {
      void vscode.commands.executeCommand('setContext', ContextKeys.emulatorRunning, emulator.running !== undefined);
    }),
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
    registerCommand(commandContext, Commands.startEmulator, () =>
      vscode.window.withProgress(
        { location: vscode.ProgressLocation.Window, title: 'Starting the local Dataverse emulator' },
        () => emulator.start(),
      ),
    ),
    registerCommand(commandContext, Commands.stopEmulator, () => emulator.stop()),
  );

  // Opt-in (npm start sets it for the development window): a local process, not network I/O.
  if (vscode.workspace.getConfiguration(Settings.section).get<boolean>(Settings.emulatorAutoStart) === true) {
    emulator.start().catch((error: unknown) => log.error(String(error)));
  }

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
    emulator: () => emulator.running,
  };
}

export function deactivate(): void {
  // Everything is disposed through context.subscriptions.
}

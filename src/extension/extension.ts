import * as vscode from 'vscode';
import { isWorkbenchError, WorkbenchError } from '../core/errors';
import { registerCommand } from './commandRunner';
import { EnvironmentSecrets } from './auth/environmentSecrets';
import type { SignInUi } from './auth/signInPorts';
import { vscodeSignInUi } from './auth/tokenProviders';
import { selectEnvironment, syncLanguageServerEnvironment, testConnection } from './commands/connectionCommands';
import { addEnvironment, editEnvironment, newOdataFile, removeEnvironment } from './commands/environmentCommands';
import { exportTable } from './commands/exportCommand';
import { startEmulatorFromSnapshot, takeSchemaSnapshot } from './commands/schemaSnapshotCommands';
import { importRecords } from './commands/importCommand';
import { runAllCommand, runBlockCommand } from './commands/runCommands';
import { ConnectionManager } from './connections';
import { Commands, ContextKeys, Settings } from './constants';
import { parseEmulatorAnnouncement } from './emulatorAnnouncement';
import type { RunningEmulator } from './emulatorHost';
import { EmulatorHost } from './emulatorHost';
import { EnvironmentStore } from './environmentStore';
import { registerExplorer } from './explorer/explorerCommands';
import type { ExplorerTreeProvider } from './explorer/explorerTree';
import type { RequestHistory } from './history/requestHistory';
import { registerRequestHistory } from './history/requestHistory';
import { OdataLanguageClient, startOnFirstOdataDocument } from './languageClient';
import { openWalkthroughOnce, tickStep } from './firstRun';
import { createLog } from './log';
import { RESULTS_VIEW_TYPE, ResultsPanel } from './results/resultsPanel';
import { mementoDeltaLinkStore, OdataRunner } from './run/odataRunner';
import { createEnvironmentStatusBar } from './statusBar';
import type { LanguageModelTools } from './tools/languageModelTools';
import { registerLanguageModelTools } from './tools/languageModelTools';
import type { UserInput } from './userInput';
import { vscodeUserInput } from './userInput';
import type { InspectorState } from './webhooks/inspectorPanel';
import type { RegistrationPanel } from './webhooks/registrationPanel';
import { registerWebhookFeature } from './webhooks/webhookFeature';

/** What `activate` returns: other extensions and the integration tests use it. */
export interface WorkbenchApi {
  readonly vscodeVersion: string;
  /** Replaces the prompt service; integration tests script answers with it. Returns a restore function. */
  setUserInput(input: UserInput): () => void;
  /** Replaces how sign-ins show device codes and open pages; tests complete them. Returns a restore function. */
  setSignInUi(ui: SignInUi): () => void;
  /** Resolves once the `.odata` language server answers. */
  languageServerReady(): Promise<void>;
  /** The running local emulator, if any (its token stays in memory). */
  readonly emulator: () => RunningEmulator | undefined;
  /** The Dataverse explorer's tree, for walking it in tests. */
  readonly explorer: ExplorerTreeProvider;
  /** The Requests view: what the extension sent lately. */
  readonly requestHistory: RequestHistory;
  /** The running webhook delivery inspector (its URL and what it showed), if any. */
  readonly webhookInspector: () => InspectorState | undefined;
  /** The webhook registration form; tests send it the page's messages and read its answers. */
  readonly registrationForm: Pick<RegistrationPanel, 'receive' | 'isOpen' | 'keepsDraftWhenHidden'>;
  /** The lines the extension logged lately, at every level (tests check that no secret is among them). */
  readonly logLines: () => readonly string[];
  /** The agent tools registered with `vscode.lm`: what VS Code shows before one runs (a write's confirmation). */
  readonly agentTools: Pick<LanguageModelTools, 'prepareInvocation'>;
  /** The user settings file (`<user data>/User/settings.json`), next to this extension's global storage. */
  readonly userSettingsUri: vscode.Uri;
  /**
   * For integration tests only: they play "another VS Code window" that runs the emulator. `dataFile` is the
   * emulator's data file in this profile's global storage; `publish` announces an emulator (its `--json` line
   * and process id) in SecretStorage and `withdraw` removes it, the way the owning window does.
   */
  readonly testOnlyEmulatorSharing: {
    readonly dataFile: string;
    publish(announcementLine: string, pid: number): Promise<void>;
    withdraw(pid: number): Promise<void>;
  };
}

/** Only wiring lives here: build services, register, hand disposables to the context. */
export function activate(context: vscode.ExtensionContext): WorkbenchApi {
  const log = createLog();
  let input: UserInput = vscodeUserInput;
  const prompts: UserInput = {
    showInputBox: (options) => input.showInputBox(options),
    showQuickPick: (items, options) => input.showQuickPick(items, options),
    showWarningMessage: (message, options, ...actions) => input.showWarningMessage(message, options, ...actions),
    showOpenDialog: (options) => input.showOpenDialog(options),
    showSaveDialog: (options) => input.showSaveDialog(options),
    showInputStep: (options) => input.showInputStep(options),
    showQuickPickStep: (items, options) => input.showQuickPickStep(items, options),
  };

  const store = new EnvironmentStore();
  const emulator = new EmulatorHost(context.extensionUri, context.globalStorageUri, log, context.secrets);
  const languageClient = new OdataLanguageClient(context.extensionUri, log);
  const secrets = new EnvironmentSecrets(context.secrets);
  let signInUi: SignInUi = vscodeSignInUi;
  const signIn: SignInUi = {
    openExternal: (url) => signInUi.openExternal(url),
    showDeviceCode: (environment, prompt) => signInUi.showDeviceCode(environment, prompt),
  };
  const connections = new ConnectionManager(
    store,
    emulator,
    context.globalState,
    context.globalStorageUri,
    log,
    secrets,
    signIn,
    async (message) => (await prompts.showWarningMessage(message, { modal: true }, 'Send')) === 'Send',
  );
  const environmentServices = { store, secrets, connections, input: prompts };
  const runner = new OdataRunner(connections, mementoDeltaLinkStore(context.workspaceState));
  // "Open record" in the grid opens the same editable record document as the explorer does.
  const presenter = new ResultsPanel(context.extensionUri, connections, log, async (run, entitySet, id) => {
    await explorer.records.openRecord({ connectionId: run.connection.id, entitySet, id });
  });
  const commandContext = { log };
  const explorer = registerExplorer({ store, emulator, connections, input: prompts, commandContext });
  const requests = registerRequestHistory(context.workspaceState, connections, prompts, commandContext);
  const webhooks = registerWebhookFeature({
    extensionUri: context.extensionUri,
    connections,
    tree: explorer.tree,
    input: prompts,
    log,
    commandContext,
  });
  const agentTools = registerLanguageModelTools(connections, log);
  // Metadata is downloaded only once a .odata file is open: no network I/O at activation.
  let environmentSync: vscode.Disposable | undefined;
  const startEnvironmentSync = (): void => {
    environmentSync ??= syncLanguageServerEnvironment(
      connections,
      (params) => languageClient.setEnvironment(params),
      log,
    );
  };

  context.subscriptions.push(
    log,
    store,
    emulator,
    emulator.onDidChange(() => {
      void vscode.commands.executeCommand('setContext', ContextKeys.emulatorRunning, emulator.running !== undefined);
      void vscode.commands.executeCommand('setContext', ContextKeys.emulatorStarting, emulator.isStarting);
    }),
    languageClient,
    connections,
    ...explorer.disposables,
    ...requests.disposables,
    ...webhooks.disposables,
    ...agentTools.disposables,
    presenter,
    vscode.window.registerWebviewPanelSerializer(RESULTS_VIEW_TYPE, {
      deserializeWebviewPanel: (panel) => Promise.resolve(presenter.revive(panel)),
    }),
    createEnvironmentStatusBar(connections),
    new vscode.Disposable(() => {
      environmentSync?.dispose();
    }),
    startOnFirstOdataDocument(languageClient, log, startEnvironmentSync),
    registerCommand(commandContext, Commands.addEnvironment, async () => {
      const name = await addEnvironment(environmentServices);
      log.info(`Added environment "${name}"`);
      return name;
    }),
    registerCommand(commandContext, Commands.removeEnvironment, async (node) => {
      const name = await removeEnvironment(environmentServices, node);
      log.info(`Removed environment "${name}"`);
      return name;
    }),
    registerCommand(commandContext, Commands.editEnvironment, async (node) => {
      const name = await editEnvironment(environmentServices, node);
      log.info(`Edited environment "${name}"`);
      return name;
    }),
    registerCommand(commandContext, Commands.testConnection, (target) =>
      testConnection(connections, secrets, prompts, log, target),
    ),
    registerCommand(commandContext, Commands.newOdataFile, () => newOdataFile()),
    registerCommand(commandContext, Commands.showLog, () => log.show()),
    registerCommand(commandContext, Commands.startEmulator, () =>
      vscode.window.withProgress(
        { location: vscode.ProgressLocation.Window, title: 'Starting the local Dataverse emulator' },
        () => emulator.start(),
      ),
    ),
    registerCommand(commandContext, Commands.stopEmulator, () => emulator.stop()),
    registerCommand(commandContext, Commands.selectEnvironment, () => selectEnvironment(connections, prompts)),
    registerCommand(commandContext, Commands.runBlock, async (args) => {
      const run = await runBlockCommand(runner, presenter, args, 'run');
      if (run !== undefined) tickStep(ContextKeys.walkthroughQueryRun);
      return run;
    }),
    explorer.records.onDidSaveRecord(() => tickStep(ContextKeys.walkthroughRecordSaved)),
    webhooks.onDidRegister(() => tickStep(ContextKeys.walkthroughWebhookRegistered)),
    webhooks.onDidReceiveDelivery(() => tickStep(ContextKeys.walkthroughDeliveryReceived)),
    registerCommand(commandContext, Commands.getChanges, (args) =>
      runBlockCommand(runner, presenter, args, 'getChanges'),
    ),
    registerCommand(commandContext, Commands.runAll, (args) => runAllCommand(runner, presenter, args)),
    registerCommand(commandContext, Commands.pinResult, () => {
      if (!presenter.pin()) throw new WorkbenchError('invalidInput', 'No result to keep: run a request first.');
      return presenter.openCount;
    }),
    registerCommand(commandContext, Commands.importRecords, (node) =>
      importRecords({ connections, input: prompts, log }, node),
    ),
    registerCommand(commandContext, Commands.exportTable, (node) =>
      exportTable({ connections, input: prompts, log }, node),
    ),
    registerCommand(commandContext, Commands.startEmulatorFromSnapshot, (folder) =>
      startEmulatorFromSnapshot({ connections, emulator, input: prompts, log }, folder),
    ),
    registerCommand(commandContext, Commands.takeSchemaSnapshot, (node) =>
      takeSchemaSnapshot({ connections, emulator, input: prompts, log }, node),
    ),
  );

  // Opt-in (npm start sets it for the development window): a local process, not network I/O.
  if (vscode.workspace.getConfiguration(Settings.section).get<boolean>(Settings.emulatorAutoStart) === true) {
    emulator.start().catch((error: unknown) => {
      log.error(String(error));
      // Another window's emulator holds the data file: say so, instead of a view with no environment.
      if (isWorkbenchError(error) && error.kind === 'conflict') void vscode.window.showWarningMessage(error.message);
    });
  }

  // Tests drive a fresh profile on every run: a walkthrough tab would take the editor they check.
  if (context.extensionMode !== vscode.ExtensionMode.Test) {
    openWalkthroughOnce(context.globalState).catch((error: unknown) => log.warn(String(error)));
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
    setSignInUi(next) {
      const previous = signInUi;
      signInUi = next;
      return () => {
        signInUi = previous;
      };
    },
    languageServerReady: () => languageClient.ensureStarted(),
    emulator: () => emulator.running,
    explorer: explorer.tree,
    requestHistory: requests.history,
    webhookInspector: webhooks.inspector,
    registrationForm: webhooks.registrationForm,
    logLines: () => log.recentLines(),
    agentTools: { prepareInvocation: (name, input) => agentTools.prepareInvocation(name, input) },
    userSettingsUri: vscode.Uri.joinPath(context.globalStorageUri, '..', '..', 'settings.json'),
    testOnlyEmulatorSharing: {
      dataFile: emulator.dataFile,
      publish: (line, pid) => emulator.publish(parseEmulatorAnnouncement(line), pid),
      withdraw: (pid) => emulator.withdraw(pid),
    },
  };
}

export function deactivate(): void {
  // Everything is disposed through context.subscriptions.
}

import * as vscode from 'vscode';
import { WorkbenchError } from '../../core/errors';
import type { ApplyResult, Plan } from '../../webhooks/plan';
import { applyPlan, computePlan, formatPlan, isEmptyPlan } from '../../webhooks/plan';
import type { SecretRef } from '../../webhooks/registrationFile';
import { parseRegistrationFile } from '../../webhooks/registrationFile';
import type { CommandContext } from '../commandRunner';
import { registerCommand } from '../commandRunner';
import type { Connection, ConnectionManager } from '../connections';
import { Commands } from '../constants';
import type { ExplorerTreeProvider } from '../explorer/explorerTree';
import type { UserInput } from '../userInput';
import type { InspectorState } from './inspectorPanel';
import { InspectorPanel } from './inspectorPanel';
import { createWebApiExecutor, loadRegisteredState } from '../../webhooks/webApiExecutor';
import type { NextCommand } from './webhookCommands';
import { WebhookCommands } from './webhookCommands';
import type { RegistrationPanel } from './registrationPanel';
import { RegistrationPanel as RegistrationForm } from './registrationPanel';
import { WebhookSection } from './webhookTree';

export const REGISTRATION_FILE_NAME = 'dataverse.webhooks.json';

export interface WebhookFeatureServices {
  readonly extensionUri: vscode.Uri;
  readonly connections: ConnectionManager;
  readonly tree: ExplorerTreeProvider;
  readonly input: UserInput;
  readonly log: vscode.LogOutputChannel;
  readonly commandContext: CommandContext;
}

export interface WebhookFeature {
  /** The running inspector, for tests; its key is never part of it. */
  readonly inspector: () => InspectorState | undefined;
  /** The registration form; integration tests drive it through its page protocol (`receive`). */
  readonly registrationForm: RegistrationPanel;
  /** Fires when an endpoint is registered (a prompt flow, the form or an apply that created one). */
  readonly onDidRegister: vscode.Event<void>;
  /** Fires when the inspector receives a delivery. */
  readonly onDidReceiveDelivery: vscode.Event<void>;
  readonly disposables: vscode.Disposable[];
}

function cancelled(): never {
  throw new WorkbenchError('cancelled', 'Cancelled.');
}

/** The file a Plan/Apply runs on: the editor-title argument, else the active editor. */
async function registrationFile(value: unknown): Promise<{ uri: vscode.Uri; text: string }> {
  const uri = value instanceof vscode.Uri ? value : vscode.window.activeTextEditor?.document.uri;
  if (uri === undefined) throw new WorkbenchError('invalidInput', `Open a ${REGISTRATION_FILE_NAME} file first.`);
  // An open document may hold edits not yet saved: plan what the user sees.
  const open = vscode.workspace.textDocuments.find((document) => document.uri.toString() === uri.toString());
  const text = open?.getText() ?? new TextDecoder().decode(await vscode.workspace.fs.readFile(uri));
  return { uri, text };
}

/** The "Webhooks & Steps" explorer section, the registration commands, Plan/Apply and the inspector. */
export function registerWebhookFeature(services: WebhookFeatureServices): WebhookFeature {
  const { connections, tree, input, log, commandContext } = services;
  const section = new WebhookSection(connections);
  const announce = (message: string, next?: NextCommand): void => {
    void vscode.window
      .showInformationMessage(message, ...(next === undefined ? [] : [next.label]))
      .then((choice) =>
        next !== undefined && choice === next.label
          ? vscode.commands.executeCommand(next.command, ...next.args)
          : undefined,
      );
  };
  const commands = new WebhookCommands({ connections, tree, section, input, log, announce });
  const registered = new vscode.EventEmitter<void>();
  const delivered = new vscode.EventEmitter<void>();
  const inspector = new InspectorPanel(services.extensionUri, log, () => delivered.fire());
  const form = new RegistrationForm(
    services.extensionUri,
    log,
    () => inspector.state?.url,
    (saved) => {
      tree.refreshId(section.rootId(saved.connection));
      if (saved.created) registered.fire();
      void vscode.window.showInformationMessage(
        `${saved.created ? 'Registered' : 'Saved'} "${saved.name}" on ${saved.connection.name}: ${saved.summary}.`,
      );
    },
  );
  const withRegistered =
    <T>(register: (value: unknown) => Promise<T>) =>
    async (value: unknown): Promise<T> => {
      const id = await register(value);
      registered.fire();
      return id;
    };

  const plan = async (value: unknown): Promise<{ connection: Connection; plan: Plan; file: vscode.Uri }> => {
    const { uri, text } = await registrationFile(value);
    const file = parseRegistrationFile(text);
    const connection = connections.requireActive();
    const state = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Window, title: `Reading the registrations of ${connection.name}` },
      () => loadRegisteredState(connections.client(connection)),
    );
    return { connection, plan: computePlan(file, state), file: uri };
  };

  const showPlan = async (value: unknown): Promise<string> => {
    const planned = await plan(value);
    const text = formatPlan(planned.plan);
    const document = await vscode.workspace.openTextDocument({
      language: 'plaintext',
      content: `Plan for ${vscode.workspace.asRelativePath(planned.file)} on ${planned.connection.name}\n\n${text}`,
    });
    await vscode.window.showTextDocument(document, { preview: true, viewColumn: vscode.ViewColumn.Beside });
    return text;
  };

  const apply = async (value: unknown): Promise<ApplyResult | undefined> => {
    const planned = await plan(value);
    if (isEmptyPlan(planned.plan)) {
      void vscode.window.showInformationMessage(`No changes: ${planned.connection.name} matches the file.`);
      return { created: 0, updated: 0, deleted: 0, ids: {} };
    }
    const summary = formatPlan(planned.plan).trimEnd().split('\n').at(-1) ?? '';
    const confirm = 'Apply';
    const answer = await input.showWarningMessage(
      `Apply ${vscode.workspace.asRelativePath(planned.file)} to ${planned.connection.name}? ${summary}`,
      { modal: true },
      confirm,
    );
    if (answer !== confirm) cancelled();
    // Secrets come from the extension host's environment, or are asked for now and kept for this apply only.
    const prompted = new Map<string, string>();
    const refs = new Set<string>();
    for (const op of planned.plan.operations) {
      const secrets =
        op.action === 'delete' || (op.action === 'create' && op.entitySet !== 'serviceendpoints') ? [] : op.secrets;
      for (const { source } of secrets) {
        for (const ref of source.kind === 'secret' ? [source.ref] : Object.values(source.values)) refs.add(ref.env);
      }
    }
    for (const name of [...refs].sort()) {
      if (process.env[name] !== undefined) continue;
      const value = await input.showInputBox({
        title: `Secret ${name}`,
        prompt: `${name} is not set in VS Code's environment: enter its value (used for this apply only)`,
        password: true,
      });
      if (value === undefined) cancelled();
      prompted.set(name, value);
    }
    const result = await applyPlan(planned.plan, createWebApiExecutor(connections.client(planned.connection)), {
      resolveSecret: (ref: SecretRef) => process.env[ref.env] ?? prompted.get(ref.env),
    });
    log.info(
      `Applied ${vscode.workspace.asRelativePath(planned.file)} to ${planned.connection.name}: ${result.created} created, ${result.updated} updated, ${result.deleted} deleted`,
    );
    tree.refreshId(section.rootId(planned.connection));
    void vscode.window.showInformationMessage(
      `Applied: ${result.created} created, ${result.updated} updated, ${result.deleted} deleted.`,
    );
    return result;
  };

  const startInspector = async (): Promise<InspectorState> => {
    const portText = await input.showInputBox({
      title: 'Webhook inspector: port',
      prompt: 'Port on 127.0.0.1 (0 picks a free one)',
      value: '0',
      validateInput: (text) => {
        const port = Number(text.trim());
        return /^\d{1,5}$/.test(text.trim()) && port <= 65535 ? undefined : 'A port number from 0 to 65535.';
      },
    });
    if (portText === undefined) cancelled();
    const port = Number(portText.trim());
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw new WorkbenchError('invalidInput', 'The port must be a number from 0 to 65535.');
    }
    const key = await input.showInputBox({
      title: 'Webhook inspector: key',
      prompt: 'The WebhookKey deliveries must carry as ?code= (empty accepts every delivery)',
      password: true,
    });
    if (key === undefined) cancelled();
    const state = await inspector.start(port, key === '' ? undefined : key);
    void vscode.window.showInformationMessage(
      `Webhook inspector listening on ${state.url}${key === '' ? '' : ' — register it as a webhook with a WebhookKey'}`,
    );
    return state;
  };

  return {
    inspector: () => inspector.state,
    registrationForm: form,
    onDidRegister: registered.event,
    onDidReceiveDelivery: delivered.event,
    disposables: [
      tree.addSection(section),
      inspector,
      form,
      registered,
      delivered,
      registerCommand(
        commandContext,
        Commands.registerWebhook,
        withRegistered((value) => commands.registerWebhook(value)),
      ),
      registerCommand(
        commandContext,
        Commands.registerServiceBusEndpoint,
        withRegistered((value) => commands.registerServiceBusEndpoint(value)),
      ),
      registerCommand(commandContext, Commands.openRegistrationForm, (value) => {
        form.open(commands.formTarget(value));
      }),
      registerCommand(commandContext, Commands.registerStep, (value) => commands.registerStep(value)),
      registerCommand(commandContext, Commands.registerImage, (value) => commands.registerImage(value)),
      registerCommand(commandContext, Commands.enableStep, (value) => commands.setEnabled(value, true)),
      registerCommand(commandContext, Commands.disableStep, (value) => commands.setEnabled(value, false)),
      registerCommand(commandContext, Commands.editRegistration, (value) => commands.edit(value)),
      registerCommand(commandContext, Commands.unregister, (value) => commands.unregister(value)),
      registerCommand(commandContext, Commands.planWebhooks, showPlan),
      registerCommand(commandContext, Commands.applyWebhooks, apply),
      registerCommand(commandContext, Commands.startWebhookInspector, startInspector),
      registerCommand(commandContext, Commands.stopWebhookInspector, () => inspector.stop()),
    ],
  };
}

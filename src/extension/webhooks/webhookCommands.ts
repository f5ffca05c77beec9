import type * as vscode from 'vscode';
import { WorkbenchError } from '../../core/errors';
import type { Connection, ConnectionManager } from '../connections';
import type { ExplorerTreeProvider } from '../explorer/explorerTree';
import type { SectionNode } from '../explorer/nodes';
import type { UserInput } from '../userInput';
import { kindOfContract } from '../../webhooks/registrationModel';
import type { EndpointRow, JsonSpec, Registrations, StepRow } from '../../webhooks/registrations';
import {
  COMMON_MESSAGES,
  describeProblems,
  problemsOf,
  registerEndpoint,
  registerImage,
  registerStep,
  stepSpecOf,
  updateEndpoint,
  updateStep,
} from '../../webhooks/registrations';
import type { RegistrationFormTarget } from './registrationPanel';
import type { WebhookItem, WebhookSection } from './webhookTree';

// The guided flows behind the webhook commands. Every answer goes through `UserInput` (scripted in
// tests); secrets are asked with password boxes, held in a Map for the one request and never logged.

export interface WebhookCommandServices {
  readonly connections: ConnectionManager;
  readonly tree: ExplorerTreeProvider;
  readonly section: WebhookSection;
  readonly input: UserInput;
  readonly log: vscode.LogOutputChannel;
}

type ItemOf<K extends WebhookItem['kind']> = Extract<WebhookItem, { kind: K }>;

const DONE = 'Done';

function cancelled(): never {
  throw new WorkbenchError('cancelled', 'Cancelled.');
}

function required<T>(value: T | undefined): T {
  return value === undefined ? cancelled() : value;
}

const notEmpty =
  (what: string, max: number) =>
  (value: string): string | undefined =>
    value.trim() === '' ? `Enter ${what}.` : value.length > max ? `At most ${max} characters.` : undefined;

export class WebhookCommands {
  constructor(private readonly services: WebhookCommandServices) {}

  private get input(): UserInput {
    return this.services.input;
  }

  /** The node's connection, or the active one when the command runs from the palette. */
  private connectionOf(value: unknown): Connection {
    if (value === undefined) return this.services.connections.requireActive();
    const node = this.sectionNode(value);
    if (node !== undefined) return node.connection;
    if (this.services.tree.isNode(value, 'emulator', 'environment')) return value.connection;
    throw new WorkbenchError(
      'invalidInput',
      'Choose an environment or its Webhooks & Steps in the Dataverse explorer.',
    );
  }

  private sectionNode(value: unknown): SectionNode | undefined {
    return this.services.tree.isNode(value, 'section') && this.services.section.itemOf(value) !== undefined
      ? value
      : undefined;
  }

  private expect<K extends WebhookItem['kind']>(
    value: unknown,
    what: string,
    ...kinds: K[]
  ): { node: SectionNode; item: ItemOf<K> } {
    const node = this.sectionNode(value);
    const item = node === undefined ? undefined : this.services.section.itemOf(node);
    if (node === undefined || item === undefined || !(kinds as string[]).includes(item.kind)) {
      throw new WorkbenchError('invalidInput', `Choose ${what} under Webhooks & Steps in the Dataverse explorer.`);
    }
    return { node, item: item as ItemOf<K> };
  }

  private registrations(connection: Connection): Registrations {
    return this.services.section.registrationsOf(connection);
  }

  private refreshRoot(connection: Connection): void {
    this.services.tree.refreshId(this.services.section.rootId(connection));
  }

  private refreshParent(node: SectionNode): void {
    this.services.tree.refreshId(node.id.slice(0, node.id.lastIndexOf('/')));
  }

  /** The form's target: a new registration, or the endpoint of the chosen endpoint, step or image. */
  formTarget(value: unknown): RegistrationFormTarget {
    const node = value === undefined ? undefined : this.sectionNode(value);
    const item = node === undefined ? undefined : this.services.section.itemOf(node);
    const connection = node?.connection ?? this.connectionOf(value);
    const registrations = this.registrations(connection);
    if (item === undefined || item.kind === 'root' || item.kind === 'empty') return { connection, registrations };
    const kind = kindOfContract(item.endpoint.contract);
    if (kind === undefined || kind === 'eventGrid') {
      throw new WorkbenchError(
        'invalidInput',
        'Only webhook, Service Bus and Event Hub endpoints open in the form; edit this one with Edit Registration….',
      );
    }
    return { connection, registrations, endpointId: item.endpoint.id };
  }

  // ---- Endpoints ---------------------------------------------------------------------------------

  async registerWebhook(value: unknown): Promise<string> {
    const connection = this.connectionOf(value);
    const name = required(
      await this.input.showInputBox({
        title: 'Register a webhook',
        prompt: 'Name of the webhook',
        validateInput: notEmpty('a name', 256),
      }),
    ).trim();
    const url = await this.webhookUrl(undefined);
    const { auth, secrets } = await this.webhookAuth();
    const id = await registerEndpoint(this.registrations(connection), { name, kind: 'webhook', url, auth }, secrets);
    this.services.log.info(`Registered the webhook "${name}" on ${connection.name}`);
    this.refreshRoot(connection);
    return id;
  }

  private async webhookUrl(current: string | undefined): Promise<string> {
    const urlProblem = (text: string): string | undefined => {
      const issues = problemsOf([
        { name: 'x', kind: 'webhook', url: text.trim(), auth: { kind: 'WebhookKey', value: { env: 'KEY' } } },
      ]).filter((issue) => issue.path.endsWith('.url'));
      return issues.length === 0 ? undefined : `The URL ${issues.map((issue) => issue.message).join('; ')}.`;
    };
    return required(
      await this.input.showInputBox({
        title: 'Webhook URL',
        prompt: 'Where Dataverse POSTs each event (https; http only on loopback)',
        ...(current === undefined ? {} : { value: current }),
        validateInput: urlProblem,
      }),
    ).trim();
  }

  private async webhookAuth(): Promise<{ auth: JsonSpec; secrets: Map<string, string> }> {
    const kind = required(
      await this.input.showQuickPick(
        [
          { label: 'WebhookKey', description: 'sent as ?code=<key> (Azure Functions)' },
          { label: 'HttpHeader', description: 'name/value pairs sent as headers' },
          { label: 'HttpQueryString', description: 'name/value pairs sent in the query string' },
        ],
        { title: 'How Dataverse authenticates to the webhook' },
      ),
    ).label;
    const secrets = new Map<string, string>();
    if (kind === 'WebhookKey') {
      secrets.set('SECRET_1', await this.secret('Key', 'The key Dataverse sends as ?code='));
      return { auth: { kind, value: { env: 'SECRET_1' } }, secrets };
    }
    const values: Record<string, { env: string }> = {};
    const what = kind === 'HttpHeader' ? 'header' : 'query parameter';
    for (;;) {
      const name = required(
        await this.input.showInputBox({
          title: `${what} name`,
          prompt: `Name of the ${what}`,
          validateInput: (text) =>
            /^[A-Za-z0-9_.-]+$/.test(text.trim()) ? undefined : 'Letters, digits, "_", "." and "-" only.',
        }),
      ).trim();
      const ref = `SECRET_${secrets.size + 1}`;
      secrets.set(ref, await this.secret(`Value of ${name}`, `The value of the ${what} ${name} (kept secret)`));
      values[name] = { env: ref };
      const more = required(
        await this.input.showQuickPick([{ label: DONE }, { label: `Add another ${what}` }], {
          title: `${Object.keys(values).length} ${what}(s)`,
        }),
      );
      if (more.label === DONE) break;
    }
    return { auth: { kind, values }, secrets };
  }

  private async secret(title: string, prompt: string): Promise<string> {
    return required(
      await this.input.showInputBox({ title, prompt, password: true, validateInput: notEmpty('a value', 4000) }),
    );
  }

  async registerServiceBusEndpoint(value: unknown): Promise<string> {
    const connection = this.connectionOf(value);
    const kind = required(
      await this.input.showQuickPick(
        [
          { label: 'Queue', endpointKind: 'serviceBusQueue' },
          { label: 'Topic', endpointKind: 'serviceBusTopic' },
          { label: 'Event Hub', endpointKind: 'eventHub' },
        ],
        { title: 'Register a Service Bus endpoint' },
      ),
    ).endpointKind;
    const name = required(
      await this.input.showInputBox({
        title: 'Endpoint name',
        prompt: 'Name of the endpoint',
        validateInput: notEmpty('a name', 256),
      }),
    ).trim();
    const spec = await this.serviceBusDetails(kind, name, undefined);
    const id = await registerEndpoint(this.registrations(connection), spec.endpoint, spec.secrets);
    this.services.log.info(`Registered the ${kind} endpoint "${name}" on ${connection.name}`);
    this.refreshRoot(connection);
    return id;
  }

  private async serviceBusDetails(
    kind: string,
    name: string,
    current: EndpointRow | undefined,
  ): Promise<{ endpoint: JsonSpec; secrets: Map<string, string> }> {
    const namespace = required(
      await this.input.showInputBox({
        title: 'Service Bus namespace',
        prompt: 'The namespace name (contoso for contoso.servicebus.windows.net)',
        ...(current?.namespace === undefined ? {} : { value: current.namespace }),
        validateInput: notEmpty('a namespace', 160),
      }),
    ).trim();
    const path = required(
      await this.input.showInputBox({
        title: kind === 'eventHub' ? 'Event hub name' : kind === 'serviceBusTopic' ? 'Topic path' : 'Queue path',
        prompt: 'The path inside the namespace',
        ...(current?.path === undefined ? {} : { value: current.path }),
        validateInput: notEmpty('a path', 160),
      }),
    ).trim();
    const secrets = new Map<string, string>();
    let auth: JsonSpec;
    const authKind = required(
      await this.input.showQuickPick(
        [
          ...(current === undefined ? [] : [{ label: 'Keep the current key' }]),
          { label: 'SAS key', description: 'a shared access policy name and its key' },
          { label: 'SAS token', description: 'a shared access signature token' },
        ],
        { title: 'Authentication' },
      ),
    ).label;
    if (authKind === 'Keep the current key') {
      // Nothing secret is sent; the placeholder only lets the file validator check the rest.
      auth =
        current?.authtype === 3
          ? { kind: 'SASToken', token: { env: 'UNCHANGED' } }
          : { kind: 'SASKey', keyName: current?.saskeyname ?? 'RootManageSharedAccessKey', key: { env: 'UNCHANGED' } };
    } else if (authKind === 'SAS key') {
      const keyName = required(
        await this.input.showInputBox({
          title: 'SAS key name',
          prompt: 'The shared access policy name',
          value: current?.saskeyname ?? 'RootManageSharedAccessKey',
          validateInput: notEmpty('a key name', 256),
        }),
      ).trim();
      secrets.set('SECRET_1', await this.secret('SAS key', `The key of ${keyName} (kept secret)`));
      auth = { kind: 'SASKey', keyName, key: { env: 'SECRET_1' } };
    } else {
      secrets.set('SECRET_1', await this.secret('SAS token', 'The shared access signature token (kept secret)'));
      auth = { kind: 'SASToken', token: { env: 'SECRET_1' } };
    }
    const formats = [
      { label: 'JSON', format: 'json' },
      { label: 'Binary XML', format: 'binaryXml' },
      { label: 'Text XML', format: 'textXml' },
    ];
    const currentFormat = { 1: 'binaryXml', 2: 'json', 3: 'textXml' }[current?.messageformat ?? 2];
    const messageFormat = required(
      await this.input.showQuickPick(
        [...formats].sort((a, b) => Number(b.format === currentFormat) - Number(a.format === currentFormat)),
        { title: 'Message format' },
      ),
    ).format;
    return { endpoint: { name, kind, namespace, path, messageFormat, auth }, secrets };
  }

  // ---- Steps -------------------------------------------------------------------------------------

  private async pickEndpoint(connection: Connection): Promise<EndpointRow> {
    const endpoints = (await this.registrations(connection).endpoints()).filter(
      (endpoint) => kindOfContract(endpoint.contract) !== undefined,
    );
    if (endpoints.length === 0) {
      throw new WorkbenchError(
        'invalidInput',
        `${connection.name} has no webhook or Service Bus endpoint: register one first.`,
      );
    }
    return required(
      await this.input.showQuickPick(
        endpoints.map((endpoint) => ({
          label: endpoint.name,
          description: endpoint.url ?? endpoint.path ?? '',
          endpoint,
        })),
        { title: 'Endpoint' },
      ),
    ).endpoint;
  }

  async registerStep(value: unknown): Promise<string> {
    let connection: Connection;
    let endpoint: EndpointRow;
    const node = value === undefined ? undefined : this.sectionNode(value);
    const item = node === undefined ? undefined : this.services.section.itemOf(node);
    if (node !== undefined && item?.kind === 'endpoint') {
      connection = node.connection;
      endpoint = item.endpoint;
    } else {
      connection = this.connectionOf(value);
      endpoint = await this.pickEndpoint(connection);
    }
    const registrations = this.registrations(connection);
    const messages = await registrations.sdkMessages();
    const ordered = [
      ...COMMON_MESSAGES.flatMap((name) => messages.filter((m) => m.name === name)),
      ...messages.filter((m) => !COMMON_MESSAGES.includes(m.name)),
    ];
    const message = required(
      await this.input.showQuickPick(
        ordered.map((m) => ({ label: m.name, message: m })),
        { title: `Register a step on ${endpoint.name}: message`, matchOnDescription: true },
      ),
    ).message;
    const filters = await registrations.messageFilters(message.id);
    if (filters.length === 0) throw new WorkbenchError('invalidInput', `No table takes a step for ${message.name}.`);
    const table = required(
      await this.input.showQuickPick(
        filters.map((filter) => ({ label: filter.table })),
        { title: `${message.name}: table` },
      ),
    ).label;
    const step: Record<string, unknown> = {
      name: `${endpoint.name}: ${message.name} of ${table}`.slice(0, 256),
      message: message.name,
      table,
      enabled: true,
    };
    await this.stepOptions(endpoint, step, undefined, registrations);
    const id = await registerStep(registrations, endpoint, step);
    this.services.log.info(`Registered a ${message.name} step of ${table} on "${endpoint.name}"`);
    this.services.tree.refreshId(`${this.services.section.rootId(connection)}/${endpoint.id}`);
    return id;
  }

  /** Stage, mode, rank, filtering columns, description and system-job deletion, checked as soon as known. */
  private async stepOptions(
    endpoint: EndpointRow,
    step: Record<string, unknown>,
    current: StepRow | undefined,
    registrations: Registrations,
  ): Promise<void> {
    const kind = kindOfContract(endpoint.contract) ?? 'webhook';
    const check = (): void => {
      const endpointSpec: JsonSpec =
        kind === 'webhook'
          ? { name: 'e', kind, url: 'https://example.invalid/', auth: { kind: 'WebhookKey', value: { env: 'K' } } }
          : kind === 'eventGrid'
            ? { name: 'e', kind, url: 'https://example.invalid/', accessKey: { env: 'K' } }
            : { name: 'e', kind, namespace: 'n', path: 'p', auth: { kind: 'SASToken', token: { env: 'K' } } };
      const issues = problemsOf([{ ...endpointSpec, steps: [step] }]);
      if (issues.length > 0) throw new WorkbenchError('invalidInput', `Nothing was sent: ${describeProblems(issues)}.`);
    };
    const stages = [
      {
        label: 'Pre-validation',
        stage: 'pre-validation',
        description: 'before the main operation, outside the transaction',
      },
      {
        label: 'Pre-operation',
        stage: 'pre-operation',
        description: 'before the main operation, inside the transaction',
      },
      { label: 'Post-operation', stage: 'post-operation', description: 'after the main operation' },
    ];
    const currentStage = current === undefined ? undefined : stepSpecOf(current).stage;
    step.stage = required(
      await this.input.showQuickPick(
        [...stages].sort((a, b) => Number(b.stage === currentStage) - Number(a.stage === currentStage)),
        { title: 'Stage' },
      ),
    ).stage;
    const modes = [
      { label: 'Synchronous', mode: 'sync', description: 'the operation waits for the endpoint' },
      { label: 'Asynchronous', mode: 'async', description: 'queued after the operation (post-operation only)' },
    ];
    if (current?.mode === 1) modes.reverse();
    step.mode = required(await this.input.showQuickPick(modes, { title: 'Execution mode' })).mode;
    // A synchronous step has no system job; an edit from async must not carry the old choice over.
    if (step.mode === 'sync') step.deleteAsyncJobOnSuccess = false;
    check();
    const rank = required(
      await this.input.showInputBox({
        title: 'Execution order (rank)',
        prompt: 'Steps of the same stage run in ascending rank',
        value: String(current?.rank ?? 1),
        validateInput: (text) => (/^[1-9]\d{0,9}$/.test(text.trim()) ? undefined : 'A whole number from 1.'),
      }),
    );
    step.rank = Number(rank.trim());
    if (step.message === 'Update') {
      const columns = await registrations.columns(String(step.table));
      step.filteringAttributes = await this.pickColumns(
        'Filtering columns: the step runs only when one of these changes',
        columns,
        current?.filteringAttributes ?? [],
        'none picked: every update triggers',
      );
    } else {
      step.filteringAttributes = [];
    }
    const description = required(
      await this.input.showInputBox({
        title: 'Description',
        prompt: 'Optional',
        value: current?.description ?? '',
        validateInput: (text) => (text.length > 256 ? 'At most 256 characters.' : undefined),
      }),
    ).trim();
    if (description === '') delete step.description;
    else step.description = description;
    if (step.mode === 'async') {
      const remove = required(
        await this.input.showQuickPick(
          current?.asyncAutoDelete === true ? [{ label: 'Yes' }, { label: 'No' }] : [{ label: 'No' }, { label: 'Yes' }],
          { title: 'Delete the system job when it succeeds?' },
        ),
      );
      step.deleteAsyncJobOnSuccess = remove.label === 'Yes';
    } else {
      step.deleteAsyncJobOnSuccess = false;
    }
    check();
  }

  /** Picks columns one at a time (a pick toggles it) until Done: UserInput has no multi-select. */
  private async pickColumns(
    title: string,
    columns: readonly string[],
    initial: readonly string[],
    noneMeans: string,
  ): Promise<string[]> {
    const selected = new Set(initial.map((column) => column.toLowerCase()));
    for (;;) {
      const picked = required(
        await this.input.showQuickPick(
          [
            { label: DONE, description: selected.size > 0 ? [...selected].join(', ') : noneMeans },
            ...columns.map((column) => ({ label: column, description: selected.has(column) ? '$(check) picked' : '' })),
          ],
          { title, placeHolder: 'Pick a column to add or remove it, then Done', matchOnDescription: false },
        ),
      );
      if (picked.label === DONE) return [...selected];
      if (selected.has(picked.label)) selected.delete(picked.label);
      else selected.add(picked.label);
    }
  }

  // ---- Images ------------------------------------------------------------------------------------

  async registerImage(value: unknown): Promise<string> {
    const { node, item } = this.expect(value, 'a step', 'step');
    const { endpoint, step } = item;
    const types = [
      { label: 'Pre-image', type: 'pre', alias: 'PreImage', description: 'the record before the operation' },
      { label: 'Post-image', type: 'post', alias: 'PostImage', description: 'the record after the operation' },
      { label: 'Pre and post', type: 'both', alias: 'Image', description: 'both, under one alias' },
    ];
    const type = required(await this.input.showQuickPick(types, { title: `Image on ${step.name}` }));
    const alias = required(
      await this.input.showInputBox({
        title: 'Alias',
        prompt: 'The key of the image in PreEntityImages / PostEntityImages',
        value: type.alias,
        validateInput: notEmpty('an alias', 256),
      }),
    ).trim();
    const registrations = this.registrations(node.connection);
    const columns = step.table === undefined || step.table === 'none' ? [] : await registrations.columns(step.table);
    const picked = await this.pickColumns('Columns in the image', columns, [], 'none picked: every column');
    const image = { name: alias, type: type.type, alias, columns: picked };
    const id = await registerImage(registrations, endpoint, step, image);
    this.services.log.info(`Registered the image "${alias}" on "${step.name}"`);
    this.services.tree.refresh(node);
    return id;
  }

  // ---- Enable, disable, edit, unregister --------------------------------------------------------

  async setEnabled(value: unknown, enabled: boolean): Promise<void> {
    const { node, item } = this.expect(value, 'a step', 'step');
    await this.registrations(node.connection).setEnabled(item.step.id, enabled);
    this.services.log.info(`${enabled ? 'Enabled' : 'Disabled'} the step "${item.step.name}"`);
    this.refreshParent(node);
  }

  async edit(value: unknown): Promise<readonly string[]> {
    const { node, item } = this.expect(value, 'an endpoint or a step', 'endpoint', 'step');
    const registrations = this.registrations(node.connection);
    if (item.kind === 'step') {
      const step = await registrations.step(item.step.id);
      const edited = stepSpecOf(step);
      await this.stepOptions(item.endpoint, edited, step, registrations);
      const changed = await updateStep(registrations, item.endpoint, step, edited);
      this.services.log.info(
        `Edited the step "${step.name}": ${changed.length === 0 ? 'no changes' : changed.join(', ')}`,
      );
      this.refreshParent(node);
      return changed;
    }
    const endpoint = await registrations.endpoint(item.endpoint.id);
    const kind = kindOfContract(endpoint.contract);
    if (kind === undefined || kind === 'eventGrid') {
      throw new WorkbenchError('invalidInput', 'Only webhook and Service Bus endpoints can be edited here.');
    }
    const name = required(
      await this.input.showInputBox({
        title: 'Name',
        prompt: 'Name of the endpoint',
        value: endpoint.name,
        validateInput: notEmpty('a name', 256),
      }),
    ).trim();
    let spec: JsonSpec;
    let secrets: Map<string, string>;
    if (kind === 'webhook') {
      const url = await this.webhookUrl(endpoint.url);
      const keep = required(
        await this.input.showQuickPick([{ label: 'Keep the current authentication' }, { label: 'Change it' }], {
          title: 'Authentication',
        }),
      );
      if (keep.label === 'Change it') {
        const auth = await this.webhookAuth();
        spec = { name, kind, url, auth: auth.auth };
        secrets = auth.secrets;
      } else {
        // Sent without a secret: only the name and URL columns change, Dataverse keeps the stored value.
        const authKind = { 5: 'HttpHeader', 6: 'HttpQueryString' }[endpoint.authtype ?? 4] ?? 'WebhookKey';
        spec = {
          name,
          kind,
          url,
          auth:
            authKind === 'WebhookKey'
              ? { kind: authKind, value: { env: 'UNCHANGED' } }
              : { kind: authKind, values: { unchanged: { env: 'UNCHANGED' } } },
        };
        secrets = new Map();
      }
    } else {
      const details = await this.serviceBusDetails(kind, name, endpoint);
      spec = details.endpoint;
      secrets = details.secrets;
    }
    if (endpoint.description !== undefined) spec = { ...spec, description: endpoint.description };
    await updateEndpoint(registrations, endpoint, spec, secrets);
    this.services.log.info(`Edited the endpoint "${name}"`);
    this.refreshParent(node);
    return Object.keys(spec);
  }

  async unregister(value: unknown): Promise<string> {
    const { node, item } = this.expect(value, 'an endpoint, step or image', 'endpoint', 'step', 'image');
    const registrations = this.registrations(node.connection);
    const confirm = 'Unregister';
    let what: string;
    switch (item.kind) {
      case 'endpoint': {
        const steps = await registrations.steps(item.endpoint.id);
        what = `the endpoint "${item.endpoint.name}"${steps.length > 0 ? ` with its ${steps.length} step(s) and their images` : ''}`;
        break;
      }
      case 'step':
        what = `the step "${item.step.name}" with its images`;
        break;
      case 'image':
        what = `the image "${item.image.alias}" of "${item.step.name}"`;
        break;
    }
    const answer = await this.input.showWarningMessage(
      `Unregister ${what} from ${node.connection.name}? This cannot be undone.`,
      { modal: true },
      confirm,
    );
    if (answer !== confirm) cancelled();
    switch (item.kind) {
      case 'endpoint':
        await registrations.unregisterEndpoint(item.endpoint.id);
        break;
      case 'step':
        await registrations.unregisterStep(item.step.id);
        break;
      case 'image':
        await registrations.unregisterImage(item.image.id);
        break;
    }
    this.services.log.info(`Unregistered ${what}`);
    this.refreshParent(node);
    return item.kind === 'endpoint' ? item.endpoint.id : item.kind === 'step' ? item.step.id : item.image.id;
  }
}

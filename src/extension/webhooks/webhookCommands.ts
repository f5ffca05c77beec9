import type * as vscode from 'vscode';
import { WorkbenchError } from '../../core/errors';
import type { StepImageType } from '../../core/stepImages';
import { imagesPerRecord, imageTypeReasons, noImagesReason } from '../../core/stepImages';
import type { Connection, ConnectionManager } from '../connections';
import { Commands } from '../constants';
import type { ExplorerTreeProvider } from '../explorer/explorerTree';
import type { SectionNode } from '../explorer/nodes';
import type { FlowStep } from '../multiStepInput';
import { BACK, inputStep, pickStep, runSteps } from '../multiStepInput';
import type { UserInput } from '../userInput';
import { kindOfContract, stageNameOf } from '../../webhooks/registrationModel';
import type { EndpointRow, JsonSpec, Registrations, SdkMessage, StepRow } from '../../webhooks/registrations';
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

// The guided flows behind the webhook commands: multi-step prompts ("Register Step (3/8)", Back keeps
// the earlier answers). Every answer goes through `UserInput` (scripted in tests); secrets are asked with
// password boxes, held in a Map for the one request and never logged.

export interface WebhookCommandServices {
  readonly connections: ConnectionManager;
  readonly tree: ExplorerTreeProvider;
  readonly section: WebhookSection;
  readonly input: UserInput;
  readonly log: vscode.LogOutputChannel;
  /** Says a registration is done (a notification), offering the command that usually comes next. */
  readonly announce: (message: string, next?: NextCommand) => void;
}

/** A notification's button: runs `command` with `args`, as the tree's context menu would. */
export interface NextCommand {
  readonly label: string;
  readonly command: string;
  readonly args: readonly unknown[];
}

type ItemOf<K extends WebhookItem['kind']> = Extract<WebhookItem, { kind: K }>;

const DONE = 'Done';
const KEEP_AUTH = 'Keep the current authentication';

function cancelled(): never {
  throw new WorkbenchError('cancelled', 'Cancelled.');
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

  /** After an endpoint: its steps are what a user registers next, on the same connection. */
  private stepNext(value: unknown): NextCommand {
    return { label: 'Register a Step…', command: Commands.registerStep, args: value === undefined ? [] : [value] };
  }

  async registerWebhook(value: unknown): Promise<string> {
    const connection = this.connectionOf(value);
    const answers = await runSteps(this.input, 'Register Webhook', newWebhookAnswers(), (state) => [
      nameStep('Name of the webhook'),
      webhookUrlStep(),
      ...webhookAuthSteps(state),
    ]);
    const { auth, secrets } = webhookAuthOf(answers);
    const { name, url } = answers;
    const id = await registerEndpoint(this.registrations(connection), { name, kind: 'webhook', url, auth }, secrets);
    this.services.log.info(`Registered the webhook "${name}" on ${connection.name}`);
    this.refreshRoot(connection);
    this.services.announce(`Registered the webhook "${name}" on ${connection.name}.`, this.stepNext(value));
    return id;
  }

  async registerServiceBusEndpoint(value: unknown): Promise<string> {
    const connection = this.connectionOf(value);
    const kinds = [
      { label: 'Queue', endpointKind: 'serviceBusQueue' },
      { label: 'Topic', endpointKind: 'serviceBusTopic' },
      { label: 'Event Hub', endpointKind: 'eventHub' },
    ];
    const answers = await runSteps(
      this.input,
      'Register Service Bus Endpoint',
      newServiceBusAnswers(undefined),
      (state) => [
        pickStep<ServiceBusAnswers, (typeof kinds)[number]>(
          'kind',
          'Queue, topic or event hub',
          () => kinds,
          (s, item) => item.endpointKind === s.kind,
          (s, item) => (s.kind = item.endpointKind),
        ),
        nameStep('Name of the endpoint'),
        ...serviceBusSteps(state, undefined),
      ],
    );
    const spec = serviceBusSpecOf(answers, undefined);
    const id = await registerEndpoint(this.registrations(connection), spec.endpoint, spec.secrets);
    this.services.log.info(`Registered the ${answers.kind} endpoint "${answers.name}" on ${connection.name}`);
    this.refreshRoot(connection);
    this.services.announce(`Registered the endpoint "${answers.name}" on ${connection.name}.`, this.stepNext(value));
    return id;
  }

  // ---- Steps -------------------------------------------------------------------------------------

  private async endpointsOf(connection: Connection): Promise<EndpointRow[]> {
    const endpoints = (await this.registrations(connection).endpoints()).filter(
      (endpoint) => kindOfContract(endpoint.contract) !== undefined,
    );
    if (endpoints.length === 0) {
      throw new WorkbenchError(
        'invalidInput',
        `${connection.name} has no webhook or Service Bus endpoint: register one first.`,
      );
    }
    return endpoints;
  }

  async registerStep(value: unknown): Promise<string> {
    let connection: Connection;
    let given: EndpointRow | undefined;
    const node = value === undefined ? undefined : this.sectionNode(value);
    const item = node === undefined ? undefined : this.services.section.itemOf(node);
    if (node !== undefined && item?.kind === 'endpoint') {
      connection = node.connection;
      given = item.endpoint;
    } else {
      connection = this.connectionOf(value);
    }
    const registrations = this.registrations(connection);
    const endpoints = given === undefined ? await this.endpointsOf(connection) : [given];
    const messages = await registrations.sdkMessages();
    const ordered = [
      ...COMMON_MESSAGES.flatMap((name) => messages.filter((m) => m.name === name)),
      ...messages.filter((m) => !COMMON_MESSAGES.includes(m.name)),
    ];
    const trigger: FlowStep<StepAnswers>[] = [
      pickStep<StepAnswers, { label: string; message: SdkMessage }>(
        'message',
        'The message (event) that runs the step',
        () => ordered.map((m) => ({ label: m.name, message: m })),
        (s, choice) => choice.message.id === s.message?.id,
        (s, choice) => (s.message = choice.message),
      ),
      pickStep<StepAnswers, { label: string }>(
        'table',
        'The table',
        async (s) => {
          const message = s.message ?? cancelled();
          const filters = await registrations.messageFilters(message.id);
          if (filters.length === 0) {
            throw new WorkbenchError('invalidInput', `No table takes a step for ${message.name}.`);
          }
          return filters.map((filter) => ({ label: filter.table }));
        },
        (s, choice) => choice.label === s.table,
        (s, choice) => (s.table = choice.label),
      ),
    ];
    const answers = await runSteps(this.input, 'Register Step', newStepAnswers(given, undefined), (state) => [
      ...(given === undefined ? [endpointStep(endpoints)] : []),
      ...trigger,
      ...stepOptionSteps(state, registrations),
    ]);
    const endpoint = answers.endpoint ?? cancelled();
    const message = answers.message?.name ?? cancelled();
    const table = answers.table ?? cancelled();
    const step = stepSpecOfAnswers(answers, {
      name: `${endpoint.name}: ${message} of ${table}`.slice(0, 256),
      message,
      table,
      enabled: true,
    });
    checkStep(endpoint, step);
    const id = await registerStep(registrations, endpoint, step);
    this.services.log.info(`Registered a ${message} step of ${table} on "${endpoint.name}"`);
    this.services.announce(`Registered the ${message} step of ${table} on "${endpoint.name}".`);
    this.services.tree.refreshId(`${this.services.section.rootId(connection)}/${endpoint.id}`);
    return id;
  }

  // ---- Images ------------------------------------------------------------------------------------

  async registerImage(value: unknown): Promise<string> {
    const { node, item } = this.expect(value, 'a step', 'step');
    const { endpoint, step } = item;
    const registrations = this.registrations(node.connection);
    // Only the image types Dataverse takes on this step's message and stage are offered; none: said before asking.
    const message = step.message ?? '';
    const noImages = noImagesReason(message);
    if (noImages !== undefined) throw new WorkbenchError('invalidInput', `Nothing was sent: ${noImages}.`);
    const stage = stageNameOf(step.stage);
    const perRecord = imagesPerRecord(message);
    const record = perRecord ? 'each record' : 'the record';
    const choices: { label: string; type: StepImageType; alias: string; description: string }[] = [
      { label: 'Pre-image', type: 'pre', alias: 'PreImage', description: `${record} before the operation` },
      { label: 'Post-image', type: 'post', alias: 'PostImage', description: `${record} after the operation` },
      { label: 'Pre and post', type: 'both', alias: 'Image', description: 'both, under one alias' },
    ];
    const types = choices.filter((choice) => imageTypeReasons(message, stage, choice.type).length === 0);
    if (types.length === 0) {
      const [reason] = imageTypeReasons(message, stage, 'both');
      throw new WorkbenchError('invalidInput', `Nothing was sent: ${reason ?? 'this step takes no image'}.`);
    }
    const columns = step.table === undefined || step.table === 'none' ? [] : await registrations.columns(step.table);
    const answers = await runSteps<ImageAnswers>(this.input, 'Register Image', { columns: [] }, () => [
      pickStep<ImageAnswers, (typeof types)[number]>(
        'type',
        `The image of ${step.name}`,
        () => types,
        (s, type) => type === s.type,
        (s, type) => (s.type = type),
      ),
      inputStep<ImageAnswers>(
        'alias',
        (s) => ({
          prompt: perRecord
            ? "The key of the image in each record's PreEntityImagesCollection / PostEntityImagesCollection entry"
            : 'The key of the image in PreEntityImages / PostEntityImages',
          value: s.alias ?? s.type?.alias ?? '',
          validateInput: notEmpty('an alias', 256),
        }),
        (s, alias) => (s.alias = alias.trim()),
      ),
      columnsStep<ImageAnswers>(
        'columns',
        'Columns in the image (none checked: every column)',
        () => columns,
        (s) => s.columns,
        (s, picked) => (s.columns = picked),
      ),
    ]);
    const alias = answers.alias ?? cancelled();
    const image = { name: alias, type: answers.type?.type ?? cancelled(), alias, columns: answers.columns };
    const id = await registerImage(registrations, endpoint, step, image);
    this.services.log.info(`Registered the image "${alias}" on "${step.name}"`);
    this.services.announce(`Registered the image "${alias}" on "${step.name}".`);
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
      const answers = await runSteps(this.input, 'Edit Step', newStepAnswers(item.endpoint, step), (state) =>
        stepOptionSteps(state, registrations),
      );
      const edited = stepSpecOfAnswers(answers, stepSpecOf(step));
      checkStep(item.endpoint, edited);
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
    let spec: JsonSpec;
    let secrets: Map<string, string>;
    if (kind === 'webhook') {
      const keepOrChange = [{ label: KEEP_AUTH }, { label: 'Change it' }];
      const initial = { ...newWebhookAnswers(), name: endpoint.name, url: endpoint.url ?? '', keepAuth: true };
      const answers = await runSteps(this.input, 'Edit Webhook', initial, (state) => [
        nameStep('Name of the endpoint'),
        webhookUrlStep(),
        pickStep<WebhookAnswers, { label: string }>(
          'keepAuth',
          'Authentication',
          () => keepOrChange,
          (s, choice) => (choice.label === KEEP_AUTH) === s.keepAuth,
          (s, choice) => (s.keepAuth = choice.label === KEEP_AUTH),
        ),
        ...(state.keepAuth ? [] : webhookAuthSteps(state)),
      ]);
      const { name, url } = answers;
      if (!answers.keepAuth) {
        const auth = webhookAuthOf(answers);
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
      const answers = await runSteps(this.input, 'Edit Endpoint', newServiceBusAnswers(endpoint, kind), (state) => [
        nameStep('Name of the endpoint'),
        ...serviceBusSteps(state, endpoint),
      ]);
      const details = serviceBusSpecOf(answers, endpoint);
      spec = details.endpoint;
      secrets = details.secrets;
    }
    if (endpoint.description !== undefined) spec = { ...spec, description: endpoint.description };
    await updateEndpoint(registrations, endpoint, spec, secrets);
    this.services.log.info(`Edited the endpoint "${String(spec.name)}"`);
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

// ---- The flows' steps ------------------------------------------------------------------------------
// Each flow keeps its answers in one state object, so Back shows the earlier answer and a step that an
// earlier answer makes unnecessary is left out of the list (and of "n/m").

interface Named {
  name: string;
}

function nameStep<S extends Named>(prompt: string): FlowStep<S> {
  return inputStep<S>(
    'name',
    (s) => ({ prompt, value: s.name, validateInput: notEmpty('a name', 256) }),
    (s, name) => (s.name = name.trim()),
  );
}

function secretStep<S>(
  key: string,
  prompt: (s: S) => string,
  get: (s: S) => string,
  set: (s: S, value: string) => void,
): FlowStep<S> {
  return inputStep<S>(
    key,
    (s) => ({ prompt: prompt(s), value: get(s), password: true, validateInput: notEmpty('a value', 4000) }),
    set,
  );
}

/** Checkboxes over a table's columns; none checked is an answer too. */
function columnsStep<S>(
  key: string,
  placeholder: string,
  columns: (s: S) => readonly string[] | Promise<readonly string[]>,
  get: (s: S) => readonly string[],
  set: (s: S, picked: string[]) => void,
): FlowStep<S> {
  return {
    key,
    async ask(state, prompts) {
      const items = (await columns(state)).map((column) => ({ label: column }));
      const checked = new Set(get(state).map((column) => column.toLowerCase()));
      const answer = await prompts.pickMany(items, {
        placeholder,
        selected: items.filter((item) => checked.has(item.label)),
      });
      if (answer === BACK) return BACK;
      set(
        state,
        answer.map((item) => item.label),
      );
      return undefined;
    },
  };
}

type WebhookAuthKind = 'WebhookKey' | 'HttpHeader' | 'HttpQueryString';

interface WebhookAnswers extends Named {
  url: string;
  /** Edit only: send no secret, Dataverse keeps the registered one. */
  keepAuth: boolean;
  authKind: WebhookAuthKind;
  key: string;
  /** Header or query-string pairs; `more` is the answer to "add another?". */
  pairs: { name: string; value: string; more: boolean }[];
}

function newWebhookAnswers(): WebhookAnswers {
  return { name: '', url: '', keepAuth: false, authKind: 'WebhookKey', key: '', pairs: [] };
}

function webhookUrlStep(): FlowStep<WebhookAnswers> {
  const urlProblem = (text: string): string | undefined => {
    const issues = problemsOf([
      { name: 'x', kind: 'webhook', url: text.trim(), auth: { kind: 'WebhookKey', value: { env: 'KEY' } } },
    ]).filter((issue) => issue.path.endsWith('.url'));
    return issues.length === 0 ? undefined : `The URL ${issues.map((issue) => issue.message).join('; ')}.`;
  };
  return inputStep<WebhookAnswers>(
    'url',
    (s) => ({
      prompt: 'Where Dataverse POSTs each event (https; http only on loopback)',
      value: s.url,
      validateInput: urlProblem,
    }),
    (s, url) => (s.url = url.trim()),
  );
}

/** The pairs asked: the first, then one more for each "add another". */
function pairCount(s: WebhookAnswers): number {
  let count = 1;
  while (s.pairs[count - 1]?.more === true) count += 1;
  return count;
}

function pairAt(s: WebhookAnswers, index: number): WebhookAnswers['pairs'][number] {
  s.pairs[index] ??= { name: '', value: '', more: false };
  return s.pairs[index];
}

function webhookAuthSteps(state: WebhookAnswers): FlowStep<WebhookAnswers>[] {
  const kinds: { label: WebhookAuthKind; description: string }[] = [
    { label: 'WebhookKey', description: 'sent as ?code=<key> (Azure Functions)' },
    { label: 'HttpHeader', description: 'name/value pairs sent as headers' },
    { label: 'HttpQueryString', description: 'name/value pairs sent in the query string' },
  ];
  const steps: FlowStep<WebhookAnswers>[] = [
    pickStep<WebhookAnswers, (typeof kinds)[number]>(
      'auth',
      'How Dataverse authenticates to the webhook',
      () => kinds,
      (s, kind) => kind.label === s.authKind,
      (s, kind) => (s.authKind = kind.label),
    ),
  ];
  if (state.authKind === 'WebhookKey') {
    return [
      ...steps,
      secretStep<WebhookAnswers>(
        'key',
        () => 'The key Dataverse sends as ?code= (kept secret)',
        (s) => s.key,
        (s, key) => (s.key = key),
      ),
    ];
  }
  const what = state.authKind === 'HttpHeader' ? 'header' : 'query parameter';
  for (let index = 0; index < pairCount(state); index += 1) {
    steps.push(
      inputStep<WebhookAnswers>(
        `pair${index}.name`,
        (s) => ({
          prompt: `Name of the ${what}`,
          value: s.pairs[index]?.name ?? '',
          validateInput: (text) =>
            /^[A-Za-z0-9_.-]+$/.test(text.trim()) ? undefined : 'Letters, digits, "_", "." and "-" only.',
        }),
        (s, name) => (pairAt(s, index).name = name.trim()),
      ),
      secretStep<WebhookAnswers>(
        `pair${index}.value`,
        (s) => `The value of the ${what} ${s.pairs[index]?.name ?? ''} (kept secret)`,
        (s) => s.pairs[index]?.value ?? '',
        (s, value) => (pairAt(s, index).value = value),
      ),
      pickStep<WebhookAnswers, { label: string }>(
        `pair${index}.more`,
        `${index + 1} ${what}(s)`,
        () => [{ label: DONE }, { label: `Add another ${what}` }],
        (s, choice) => (choice.label !== DONE) === (s.pairs[index]?.more ?? false),
        (s, choice) => (pairAt(s, index).more = choice.label !== DONE),
      ),
    );
  }
  return steps;
}

/** The auth of the file fragment and its secrets, by the reference names the fragment uses. */
function webhookAuthOf(s: WebhookAnswers): { auth: JsonSpec; secrets: Map<string, string> } {
  const secrets = new Map<string, string>();
  if (s.authKind === 'WebhookKey') {
    secrets.set('SECRET_1', s.key);
    return { auth: { kind: s.authKind, value: { env: 'SECRET_1' } }, secrets };
  }
  const values: Record<string, { env: string }> = {};
  for (const pair of s.pairs.slice(0, pairCount(s))) {
    const ref = `SECRET_${secrets.size + 1}`;
    secrets.set(ref, pair.value);
    values[pair.name] = { env: ref };
  }
  return { auth: { kind: s.authKind, values }, secrets };
}

interface ServiceBusAnswers extends Named {
  kind: string;
  namespace: string;
  path: string;
  auth: 'keep' | 'SASKey' | 'SASToken';
  keyName: string;
  secret: string;
  format: string;
}

function newServiceBusAnswers(current: EndpointRow | undefined, kind = 'serviceBusQueue'): ServiceBusAnswers {
  return {
    name: current?.name ?? '',
    kind,
    namespace: current?.namespace ?? '',
    path: current?.path ?? '',
    auth: current === undefined ? 'SASKey' : 'keep',
    keyName: current?.saskeyname ?? 'RootManageSharedAccessKey',
    secret: '',
    format: { 1: 'binaryXml', 2: 'json', 3: 'textXml' }[current?.messageformat ?? 2] ?? 'json',
  };
}

function serviceBusSteps(state: ServiceBusAnswers, current: EndpointRow | undefined): FlowStep<ServiceBusAnswers>[] {
  const auths: { label: string; auth: ServiceBusAnswers['auth']; description?: string }[] = [
    ...(current === undefined ? [] : [{ label: 'Keep the current key', auth: 'keep' as const }]),
    { label: 'SAS key', auth: 'SASKey', description: 'a shared access policy name and its key' },
    { label: 'SAS token', auth: 'SASToken', description: 'a shared access signature token' },
  ];
  const formats = [
    { label: 'JSON', format: 'json' },
    { label: 'Binary XML', format: 'binaryXml' },
    { label: 'Text XML', format: 'textXml' },
  ];
  const pathWhat = state.kind === 'eventHub' ? 'event hub name' : state.kind === 'serviceBusTopic' ? 'topic' : 'queue';
  return [
    inputStep<ServiceBusAnswers>(
      'namespace',
      (s) => ({
        prompt: 'The namespace name (contoso for contoso.servicebus.windows.net)',
        value: s.namespace,
        validateInput: notEmpty('a namespace', 160),
      }),
      (s, namespace) => (s.namespace = namespace.trim()),
    ),
    inputStep<ServiceBusAnswers>(
      'path',
      (s) => ({
        prompt: `The ${pathWhat} path inside the namespace`,
        value: s.path,
        validateInput: notEmpty('a path', 160),
      }),
      (s, path) => (s.path = path.trim()),
    ),
    pickStep<ServiceBusAnswers, (typeof auths)[number]>(
      'auth',
      'Authentication',
      () => auths,
      (s, choice) => choice.auth === s.auth,
      (s, choice) => (s.auth = choice.auth),
    ),
    ...(state.auth === 'SASKey'
      ? [
          inputStep<ServiceBusAnswers>(
            'keyName',
            (s) => ({
              prompt: 'The shared access policy name',
              value: s.keyName,
              validateInput: notEmpty('a key name', 256),
            }),
            (s, keyName) => (s.keyName = keyName.trim()),
          ),
        ]
      : []),
    ...(state.auth === 'keep'
      ? []
      : [
          secretStep<ServiceBusAnswers>(
            'secret',
            (s) =>
              s.auth === 'SASKey'
                ? `The key of ${s.keyName} (kept secret)`
                : 'The shared access signature token (kept secret)',
            (s) => s.secret,
            (s, secret) => (s.secret = secret),
          ),
        ]),
    pickStep<ServiceBusAnswers, (typeof formats)[number]>(
      'format',
      'Message format',
      () => formats,
      (s, choice) => choice.format === s.format,
      (s, choice) => (s.format = choice.format),
    ),
  ];
}

function serviceBusSpecOf(
  s: ServiceBusAnswers,
  current: EndpointRow | undefined,
): { endpoint: JsonSpec; secrets: Map<string, string> } {
  const secrets = new Map<string, string>();
  let auth: JsonSpec;
  if (s.auth === 'keep') {
    // Nothing secret is sent; the placeholder only lets the file validator check the rest.
    auth =
      current?.authtype === 3
        ? { kind: 'SASToken', token: { env: 'UNCHANGED' } }
        : { kind: 'SASKey', keyName: current?.saskeyname ?? 'RootManageSharedAccessKey', key: { env: 'UNCHANGED' } };
  } else {
    secrets.set('SECRET_1', s.secret);
    auth =
      s.auth === 'SASKey'
        ? { kind: 'SASKey', keyName: s.keyName, key: { env: 'SECRET_1' } }
        : { kind: 'SASToken', token: { env: 'SECRET_1' } };
  }
  const { name, kind, namespace, path, format: messageFormat } = s;
  return { endpoint: { name, kind, namespace, path, messageFormat, auth }, secrets };
}

interface StepAnswers {
  endpoint: EndpointRow | undefined;
  message: SdkMessage | undefined;
  table: string | undefined;
  stage: string | undefined;
  mode: string | undefined;
  rank: string;
  filtering: string[];
  description: string;
  deleteJob: boolean;
}

function newStepAnswers(endpoint: EndpointRow | undefined, current: StepRow | undefined): StepAnswers {
  return {
    endpoint,
    // An edit does not ask for the message again: its name decides whether filtering columns apply.
    message: current?.message === undefined ? undefined : { id: '', name: current.message },
    table: current?.table,
    stage: current === undefined ? undefined : stageNameOf(current.stage),
    mode: current === undefined ? undefined : current.mode === 1 ? 'async' : 'sync',
    rank: String(current?.rank ?? 1),
    filtering: current?.filteringAttributes.map((column) => column.toLowerCase()) ?? [],
    description: current?.description ?? '',
    deleteJob: current?.asyncAutoDelete ?? false,
  };
}

function endpointStep(endpoints: readonly EndpointRow[]): FlowStep<StepAnswers> {
  return pickStep<StepAnswers, { label: string; description: string; endpoint: EndpointRow }>(
    'endpoint',
    'The endpoint the step sends to',
    () =>
      endpoints.map((endpoint) => ({
        label: endpoint.name,
        description: endpoint.url ?? endpoint.path ?? '',
        endpoint,
      })),
    (s, choice) => choice.endpoint.id === s.endpoint?.id,
    (s, choice) => (s.endpoint = choice.endpoint),
  );
}

/** The step as the file describes it: `base` (its trigger, or the registered step) with the answers. */
function stepSpecOfAnswers(s: StepAnswers, base: JsonSpec): Record<string, unknown> {
  const spec: Record<string, unknown> = {
    ...base,
    stage: s.stage,
    mode: s.mode,
    rank: Number(s.rank),
    filteringAttributes: s.message?.name === 'Update' ? s.filtering : [],
    // A synchronous step has no system job; an edit from async must not carry the old choice over.
    deleteAsyncJobOnSuccess: s.mode === 'async' && s.deleteJob,
  };
  if (s.description === '') delete spec.description;
  else spec.description = s.description;
  return spec;
}

/** Refuses what the file validator refuses (an asynchronous pre-operation step), with its reason. */
function checkStep(endpoint: EndpointRow | undefined, step: JsonSpec): void {
  const kind = (endpoint === undefined ? undefined : kindOfContract(endpoint.contract)) ?? 'webhook';
  const endpointSpec: JsonSpec =
    kind === 'webhook'
      ? { name: 'e', kind, url: 'https://example.invalid/', auth: { kind: 'WebhookKey', value: { env: 'K' } } }
      : kind === 'eventGrid'
        ? { name: 'e', kind, url: 'https://example.invalid/', accessKey: { env: 'K' } }
        : { name: 'e', kind, namespace: 'n', path: 'p', auth: { kind: 'SASToken', token: { env: 'K' } } };
  const issues = problemsOf([{ ...endpointSpec, steps: [step] }]);
  if (issues.length > 0) throw new WorkbenchError('invalidInput', `Nothing was sent: ${describeProblems(issues)}.`);
}

/** Stage, mode (checked as soon as known), rank, filtering columns, description and system-job deletion. */
function stepOptionSteps(state: StepAnswers, registrations: Registrations): FlowStep<StepAnswers>[] {
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
  const modes = [
    { label: 'Synchronous', mode: 'sync', description: 'the operation waits for the endpoint' },
    { label: 'Asynchronous', mode: 'async', description: 'queued after the operation (post-operation only)' },
  ];
  return [
    pickStep<StepAnswers, (typeof stages)[number]>(
      'stage',
      'Stage',
      () => stages,
      (s, choice) => choice.stage === s.stage,
      (s, choice) => (s.stage = choice.stage),
    ),
    pickStep<StepAnswers, (typeof modes)[number]>(
      'mode',
      'Execution mode',
      () => modes,
      (s, choice) => choice.mode === s.mode,
      (s, choice) => {
        s.mode = choice.mode;
        checkStep(s.endpoint, stepSpecOfAnswers(s, { name: 'step', message: s.message?.name, table: s.table }));
      },
    ),
    inputStep<StepAnswers>(
      'rank',
      (s) => ({
        prompt: 'Execution order (rank): steps of the same stage run in ascending rank',
        value: s.rank,
        validateInput: (text) => (/^[1-9]\d{0,9}$/.test(text.trim()) ? undefined : 'A whole number from 1.'),
      }),
      (s, rank) => (s.rank = rank.trim()),
    ),
    ...(state.message?.name === 'Update'
      ? [
          columnsStep<StepAnswers>(
            'filtering',
            'Filtering columns: the step runs only when one of these changes (none checked: every update)',
            (s) => registrations.columns(s.table ?? cancelled()),
            (s) => s.filtering,
            (s, picked) => (s.filtering = picked),
          ),
        ]
      : []),
    inputStep<StepAnswers>(
      'description',
      (s) => ({
        prompt: 'Description (optional)',
        value: s.description,
        validateInput: (text) => (text.length > 256 ? 'At most 256 characters.' : undefined),
      }),
      (s, description) => (s.description = description.trim()),
    ),
    ...(state.mode === 'async'
      ? [
          pickStep<StepAnswers, { label: string }>(
            'deleteJob',
            'Delete the system job when it succeeds?',
            () => [{ label: 'No' }, { label: 'Yes' }],
            (s, choice) => (choice.label === 'Yes') === s.deleteJob,
            (s, choice) => (s.deleteJob = choice.label === 'Yes'),
          ),
        ]
      : []),
  ];
}

interface ImageAnswers {
  type?: { readonly type: string; readonly alias: string };
  alias?: string;
  columns: string[];
}

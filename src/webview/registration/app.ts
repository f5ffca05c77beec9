import type {
  FormEndpoint,
  FormImage,
  FormRegistration,
  FormStep,
  FormTable,
  HostMessage,
  PageMessage,
} from '../registrationProtocol';
import { blankEndpoint, parseHostMessage } from '../registrationProtocol';
import { imagesPerRecord } from '../../core/stepImages';
import type { Choice } from './rules';
import {
  allowed,
  authChoices,
  ENDPOINT_KIND_CHOICES,
  imageTypeChoices,
  MESSAGE_FORMAT_CHOICES,
  modeChoices,
  noImagesReason,
  searchColumns,
  STAGE_CHOICES,
} from './rules';

export interface HostApi {
  postMessage(message: PageMessage): void;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };
type Pair = Mutable<FormEndpoint['pairs'][number]>;
type Endpoint = Omit<Mutable<FormEndpoint>, 'pairs'> & { pairs: Pair[] };
type Image = Mutable<FormImage> & { columns: string[] };
type Step = Mutable<Omit<FormStep, 'images'>> & { filteringAttributes: string[]; images: Image[] };

/** Column lists longer than this show the first ones and ask for a search. */
const SHOWN_COLUMNS = 200;

function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  className?: string,
  text?: string,
  children: readonly (Node | string)[] = [],
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  if (className !== undefined) element.className = className;
  // Names and descriptions come from Dataverse and the user: text only, never markup.
  if (text !== undefined) element.textContent = text;
  for (const child of children) element.append(child);
  return element;
}

function button(text: string, title: string, onClick: () => void, className = 'button'): HTMLButtonElement {
  const b = el('button', className, text);
  b.type = 'button';
  b.title = title;
  b.addEventListener('click', onClick);
  return b;
}

let fieldIds = 0;

/** A labelled field; the label is tied to the control for screen readers and clicks. */
function field(label: string, control: HTMLElement, hint?: string): HTMLElement {
  fieldIds += 1;
  const target = control.matches('input, select, textarea')
    ? control
    : (control.querySelector<HTMLElement>('input, select, textarea') ?? control);
  target.id ||= `field-${fieldIds}`;
  const caption = el('label', 'caption', label);
  caption.htmlFor = target.id;
  const children: Node[] = [caption, control];
  if (hint !== undefined) children.push(el('span', 'hint', hint));
  return el('div', 'field', undefined, children);
}

function textInput(value: string, onInput: (value: string) => void, type = 'text'): HTMLInputElement {
  const input = el('input', 'input');
  input.type = type;
  input.value = value;
  input.addEventListener('input', () => onInput(input.value));
  return input;
}

function checkbox(label: string, checked: boolean, onChange: (checked: boolean) => void): HTMLLabelElement {
  const input = el('input');
  input.type = 'checkbox';
  input.checked = checked;
  input.addEventListener('change', () => onChange(input.checked));
  return el('label', 'check', undefined, [input, label]);
}

/** A select whose disabled options say why; the reason of the one in force shows below. */
function choiceSelect<T extends string>(
  choices: readonly Choice<T>[],
  current: T,
  onChange: (value: T) => void,
): HTMLSelectElement {
  const select = el('select', 'input');
  for (const choice of choices) {
    const option = el(
      'option',
      undefined,
      choice.disabledReason === undefined ? choice.label : `${choice.label} — ${choice.disabledReason}`,
    );
    option.value = choice.value;
    option.disabled = choice.disabledReason !== undefined;
    option.selected = choice.value === current;
    select.append(option);
  }
  select.addEventListener('change', () => onChange(select.value as T));
  return select;
}

function disabledReasons<T extends string>(choices: readonly Choice<T>[]): string | undefined {
  const reasons = choices.flatMap((c) => (c.disabledReason === undefined ? [] : [`${c.label}: ${c.disabledReason}`]));
  return reasons.length === 0 ? undefined : reasons.join('. ');
}

function draftOf(registration: FormRegistration): { endpoint: Endpoint; steps: Step[] } {
  return {
    endpoint: { ...registration.endpoint, pairs: registration.endpoint.pairs.map((pair) => ({ ...pair })) },
    steps: registration.steps.map((step) => ({
      ...step,
      filteringAttributes: [...step.filteringAttributes],
      images: step.images.map((image) => ({ ...image, columns: [...image.columns] })),
    })),
  };
}

/**
 * The registration form: the endpoint, then its steps with their images, and one Save. Message and column
 * lists are asked from the host per table; every choice Dataverse would refuse is disabled with its reason.
 */
export class RegistrationApp {
  private mode: 'create' | 'edit' = 'create';
  private environment = '';
  private secretSet = false;
  private inspectorUrl: string | undefined;
  private tables: readonly FormTable[] = [];
  private endpoint: Endpoint = draftOf({ endpoint: blankEndpoint(), steps: [] }).endpoint;
  private steps: Step[] = [];
  private readonly messages = new Map<string, readonly string[] | 'loading' | { error: string }>();
  private readonly columns = new Map<string, readonly string[] | 'loading' | { error: string }>();
  private readonly pending = new Map<number, { kind: 'messages' | 'columns' | 'save'; table: string }>();
  private nextRequest = 1;
  private saving = false;
  private readonly form: HTMLFormElement;
  private readonly status: HTMLElement;

  constructor(
    private readonly root: HTMLElement,
    private readonly host: HostApi,
  ) {
    this.form = el('form', 'form');
    this.form.noValidate = true;
    this.form.addEventListener('submit', (event) => {
      event.preventDefault();
      this.save();
    });
    this.status = el('p', 'status');
    this.status.setAttribute('role', 'status');
    root.append(this.form);
    window.addEventListener('message', (event: MessageEvent<unknown>) => this.receive(event.data));
    this.host.postMessage({ type: 'ready' });
  }

  private receive(raw: unknown): void {
    const parsed = parseHostMessage(raw);
    if (parsed.ok) this.handle(parsed.message);
  }

  private handle(message: HostMessage): void {
    switch (message.type) {
      case 'init':
        this.mode = message.mode;
        this.environment = message.environment;
        this.secretSet = message.secretSet;
        this.inspectorUrl = message.inspectorUrl;
        this.tables = message.tables;
        this.load(message.registration);
        this.root.removeAttribute('aria-busy');
        for (const step of this.steps) this.ensureLists(step.table);
        return;
      case 'messages':
      case 'columns': {
        const request = this.pending.get(message.requestId);
        if (request === undefined) return;
        this.pending.delete(message.requestId);
        if (message.type === 'messages') this.messages.set(message.table, message.messages);
        else this.columns.set(message.table, message.columns);
        this.render();
        return;
      }
      case 'saved':
        this.pending.delete(message.requestId);
        this.saving = false;
        this.mode = 'edit';
        this.secretSet = true;
        this.load(message.registration);
        this.showStatus(`Saved: ${message.summary}.`, 'ok');
        return;
      case 'failed': {
        const request = this.pending.get(message.requestId);
        this.pending.delete(message.requestId);
        if (request === undefined) return;
        if (request.kind === 'save') {
          this.saving = false;
          this.render();
          this.showStatus(message.error, 'error');
        } else {
          (request.kind === 'messages' ? this.messages : this.columns).set(request.table, { error: message.error });
          this.render();
        }
        return;
      }
    }
  }

  private load(registration: FormRegistration): void {
    const draft = draftOf(registration);
    this.endpoint = draft.endpoint;
    this.steps = draft.steps;
    this.render();
  }

  private request(kind: 'messages' | 'columns', table: string): void {
    const cache = kind === 'messages' ? this.messages : this.columns;
    if (cache.has(table)) return;
    cache.set(table, 'loading');
    const requestId = this.nextRequest++;
    this.pending.set(requestId, { kind, table });
    this.host.postMessage({ type: kind, requestId, table });
  }

  private ensureLists(table: string): void {
    if (!/^[A-Za-z_][A-Za-z0-9_]{0,127}$/.test(table)) return;
    this.request('messages', table);
    this.request('columns', table);
  }

  private showStatus(text: string, kind: 'ok' | 'error'): void {
    this.status.textContent = text;
    this.status.dataset.kind = kind;
    this.status.setAttribute('role', kind === 'error' ? 'alert' : 'status');
  }

  // ---- Rendering ----------------------------------------------------------------------------------

  /** Re-renders the form, keeping the focused control's place and the scroll position. */
  private render(): void {
    const focused = document.activeElement instanceof HTMLElement ? document.activeElement.dataset.focusKey : undefined;
    const scroll = document.scrollingElement?.scrollTop ?? 0;
    const title =
      this.mode === 'create'
        ? `Register a webhook or Service Bus endpoint on ${this.environment}`
        : `Edit ${this.endpoint.name} on ${this.environment}`;
    const save = el('button', 'button primary', this.saving ? 'Saving…' : 'Save');
    save.type = 'submit';
    save.disabled = this.saving;
    save.dataset.focusKey = 'save';
    this.form.replaceChildren(
      el('h1', 'title', title),
      this.endpointSection(),
      this.stepsSection(),
      el('footer', 'actions', undefined, [
        save,
        button('Cancel', 'Close the form without saving', () => this.host.postMessage({ type: 'cancel' })),
        this.status,
      ]),
    );
    if (focused !== undefined) {
      const again = this.form.querySelector<HTMLElement>(`[data-focus-key="${CSS.escape(focused)}"]`);
      again?.focus();
    }
    if (document.scrollingElement) document.scrollingElement.scrollTop = scroll;
  }

  private endpointSection(): HTMLElement {
    const endpoint = this.endpoint;
    const kind = choiceSelect(ENDPOINT_KIND_CHOICES, endpoint.kind, (value) => {
      endpoint.kind = value;
      endpoint.authKind = authChoices(value)[0]?.value ?? endpoint.authKind;
      endpoint.keepAuth = false;
      for (const step of this.steps) step.mode = allowed(modeChoices(step.stage, value), step.mode);
      this.render();
    });
    kind.disabled = this.mode === 'edit';
    kind.dataset.focusKey = 'endpoint.kind';
    const name = textInput(endpoint.name, (value) => (endpoint.name = value));
    name.required = true;
    name.dataset.focusKey = 'endpoint.name';
    const rows: HTMLElement[] = [
      field('Kind', kind, this.mode === 'edit' ? 'The kind of a registered endpoint cannot change.' : undefined),
      field('Name', name),
    ];
    if (endpoint.kind === 'webhook') {
      const url = textInput(endpoint.url, (value) => (endpoint.url = value), 'url');
      url.placeholder = 'https://…';
      url.dataset.focusKey = 'endpoint.url';
      const inspector = this.inspectorUrl;
      const urlRow = el('div', 'row', undefined, [url]);
      if (inspector !== undefined && endpoint.url !== inspector) {
        urlRow.append(
          button('Use the inspector', `Deliver to the running webhook inspector (${inspector})`, () => {
            endpoint.url = inspector;
            this.render();
          }),
        );
      }
      rows.push(field('URL', urlRow, 'https; http only on loopback (the emulator and the inspector).'));
    } else {
      const namespace = textInput(endpoint.namespace, (value) => (endpoint.namespace = value));
      namespace.placeholder = 'contoso (for contoso.servicebus.windows.net)';
      const path = textInput(endpoint.path, (value) => (endpoint.path = value));
      const format = choiceSelect(MESSAGE_FORMAT_CHOICES, endpoint.messageFormat, (value) => {
        endpoint.messageFormat = value;
      });
      rows.push(field('Namespace', namespace), field('Path', path), field('Message format', format));
    }
    rows.push(this.authFields());
    const description = textInput(endpoint.description, (value) => (endpoint.description = value));
    rows.push(field('Description', description));
    return el('section', 'endpoint', undefined, [el('h2', undefined, 'Endpoint'), ...rows]);
  }

  private authFields(): HTMLElement {
    const endpoint = this.endpoint;
    const children: Node[] = [el('legend', undefined, 'Authentication')];
    if (this.mode === 'edit') {
      children.push(
        checkbox(
          this.secretSet
            ? 'Keep the registered authentication (its secret is never shown)'
            : 'Keep the registered authentication (none is set)',
          endpoint.keepAuth,
          (checked) => {
            endpoint.keepAuth = checked;
            this.render();
          },
        ),
      );
    }
    const kind = choiceSelect(authChoices(endpoint.kind), endpoint.authKind, (value) => {
      endpoint.authKind = value;
      this.render();
    });
    kind.disabled = endpoint.keepAuth;
    kind.dataset.focusKey = 'endpoint.authKind';
    children.push(field('Type', kind));
    if (!endpoint.keepAuth) {
      if (endpoint.authKind === 'HttpHeader' || endpoint.authKind === 'HttpQueryString') {
        const what = endpoint.authKind === 'HttpHeader' ? 'header' : 'parameter';
        endpoint.pairs.forEach((pair, index) => {
          const pairName = textInput(pair.name, (value) => (pair.name = value));
          pairName.placeholder = `${what} name`;
          pairName.setAttribute('aria-label', `${what} ${index + 1} name`);
          const pairValue = textInput(pair.value, (value) => (pair.value = value), 'password');
          pairValue.placeholder = 'value (kept secret)';
          pairValue.autocomplete = 'off';
          pairValue.setAttribute('aria-label', `${what} ${index + 1} value`);
          children.push(
            el('div', 'row pair', undefined, [
              pairName,
              pairValue,
              button('Remove', `Remove this ${what}`, () => {
                endpoint.pairs.splice(index, 1);
                this.render();
              }),
            ]),
          );
        });
        children.push(
          button(`Add a ${what}`, `Add a ${what} Dataverse sends with each delivery`, () => {
            endpoint.pairs.push({ name: '', value: '' });
            this.render();
          }),
        );
      } else {
        if (endpoint.authKind === 'SASKey') {
          children.push(
            field(
              'Key name',
              textInput(endpoint.keyName, (value) => (endpoint.keyName = value)),
            ),
          );
        }
        const secret = textInput(endpoint.secret, (value) => (endpoint.secret = value), 'password');
        secret.autocomplete = 'off';
        secret.dataset.focusKey = 'endpoint.secret';
        const label = { WebhookKey: 'Key', SASKey: 'Key', SASToken: 'Token' }[endpoint.authKind] ?? 'Secret';
        children.push(field(label, secret, 'Sent to Dataverse on Save only; never shown again.'));
      }
    }
    return el('fieldset', 'auth', undefined, children);
  }

  private stepsSection(): HTMLElement {
    const list = el('ol', 'steps');
    this.steps.forEach((step, index) => list.append(this.stepCard(step, index)));
    const add = button('Add a step', 'Add a step: a message on a table that triggers this endpoint', () => {
      this.steps.push(blankStep(this.endpoint.kind));
      this.render();
    });
    add.dataset.focusKey = 'steps.add';
    return el('section', 'steps-section', undefined, [
      el('h2', undefined, 'Steps'),
      this.steps.length === 0
        ? el('p', 'hint', 'No step yet: a step says which message on which table calls the endpoint.')
        : list,
      add,
    ]);
  }

  private stepCard(step: Step, index: number): HTMLElement {
    const key = `step${index}`;
    const datalistId = 'tables';
    const table = textInput(step.table, (value) => (step.table = value.trim()));
    table.setAttribute('list', datalistId);
    table.placeholder = 'table logical name, e.g. account';
    table.dataset.focusKey = `${key}.table`;
    table.addEventListener('change', () => {
      step.table = table.value.trim();
      step.filteringAttributes = [];
      this.ensureLists(step.table);
      this.render();
    });
    const tables = el('datalist');
    tables.id = datalistId;
    for (const t of this.tables) {
      const option = el('option');
      option.value = t.name;
      if (t.label !== '') option.label = t.label;
      tables.append(option);
    }

    const messages = this.messages.get(step.table);
    const message = el('select', 'input');
    message.dataset.focusKey = `${key}.message`;
    let messageHint: string | undefined;
    if (step.table === '') messageHint = 'Pick a table first: only its messages are offered.';
    else if (messages === undefined || messages === 'loading') messageHint = 'Loading the messages of this table…';
    else if (!Array.isArray(messages)) messageHint = (messages as { error: string }).error;
    const names = Array.isArray(messages) ? (messages as readonly string[]) : [];
    const offered = names.includes(step.message) || step.message === '' ? names : [step.message, ...names];
    message.append(el('option', undefined, '— message —'));
    (message.firstChild as HTMLOptionElement).value = '';
    for (const name of offered) {
      const option = el('option', undefined, name);
      option.value = name;
      option.selected = name === step.message;
      message.append(option);
    }
    message.disabled = names.length === 0;
    message.addEventListener('change', () => {
      step.message = message.value;
      if (step.message !== 'Update') step.filteringAttributes = [];
      this.render();
    });

    const stage = choiceSelect(STAGE_CHOICES, step.stage, (value) => {
      step.stage = value;
      step.mode = allowed(modeChoices(value, this.endpoint.kind), step.mode);
      this.render();
    });
    stage.dataset.focusKey = `${key}.stage`;
    const modes = modeChoices(step.stage, this.endpoint.kind);
    const mode = choiceSelect(modes, step.mode, (value) => {
      step.mode = value;
      this.render();
    });
    mode.dataset.focusKey = `${key}.mode`;
    const rank = textInput(String(step.rank), (value) => (step.rank = Number(value)), 'number');
    rank.min = '1';
    rank.step = '1';
    const name = textInput(step.name, (value) => (step.name = value));
    name.placeholder = 'named after the endpoint, message and table when empty';
    const description = textInput(step.description, (value) => (step.description = value));

    const rows: Node[] = [
      tables,
      el('div', 'grid', undefined, [
        field('Table', table),
        field('Message', message, messageHint),
        field('Stage', stage),
        field('Mode', mode, disabledReasons(modes)),
        field('Rank', rank, 'Steps of one stage run in ascending rank.'),
        field('Name', name),
      ]),
    ];
    if (step.message === 'Update') {
      rows.push(
        this.columnPicker(
          'Filtering columns',
          step.table,
          step.filteringAttributes,
          'The step runs only when one of these changes; none picked: every update.',
          `${key}.filter`,
        ),
      );
    }
    const options = el('div', 'row', undefined, [
      checkbox('Enabled', step.enabled, (checked) => (step.enabled = checked)),
    ]);
    if (step.mode === 'async') {
      options.append(
        checkbox('Delete the system job when it succeeds', step.deleteAsyncJobOnSuccess, (checked) => {
          step.deleteAsyncJobOnSuccess = checked;
        }),
      );
    }
    rows.push(options, field('Description', description), this.imagesOf(step, key));
    const heading = step.message !== '' && step.table !== '' ? `${step.message} of ${step.table}` : `Step ${index + 1}`;
    return el('li', 'step', undefined, [
      el('div', 'step-head', undefined, [
        el('h3', undefined, heading),
        button('Remove step', 'Remove this step (unregistered on Save)', () => {
          this.steps.splice(index, 1);
          this.render();
        }),
      ]),
      ...rows,
    ]);
  }

  private imagesOf(step: Step, key: string): HTMLElement {
    const reason = noImagesReason(step.message);
    const children: Node[] = [el('h4', undefined, 'Images')];
    step.images.forEach((image, index) => {
      const types = imageTypeChoices(step.message, step.stage);
      const type = choiceSelect(types, image.type, (value) => {
        image.type = value;
        this.render();
      });
      const alias = textInput(image.alias, (value) => (image.alias = value));
      alias.setAttribute('aria-label', `Image ${index + 1} alias`);
      children.push(
        el('div', 'image', undefined, [
          el('div', 'row', undefined, [
            field('Alias', alias),
            field('Type', type, disabledReasons(types)),
            button('Remove image', 'Remove this image', () => {
              step.images.splice(index, 1);
              this.render();
            }),
          ]),
          this.columnPicker('Columns', step.table, image.columns, 'None picked: every column.', `${key}.image${index}`),
        ]),
      );
    });
    const add = button('Add an image', 'A snapshot of the record sent with each delivery', () => {
      const type = allowed(imageTypeChoices(step.message, step.stage), 'pre');
      step.images.push({ alias: type === 'post' ? 'PostImage' : 'PreImage', type, columns: [] });
      this.render();
    });
    add.disabled = reason !== undefined;
    children.push(add);
    if (reason !== undefined) children.push(el('span', 'hint', `No images for ${step.message}: ${reason}.`));
    else if (imagesPerRecord(step.message) && step.images.length > 0)
      children.push(
        el(
          'span',
          'hint',
          `On ${step.message}, each record of Targets gets its own images, in PreEntityImagesCollection / PostEntityImagesCollection.`,
        ),
      );
    return el('div', 'images', undefined, children);
  }

  /** Checkboxes of a table's columns with a search box; the picked ones stay on top. */
  private columnPicker(title: string, table: string, picked: string[], hint: string, key: string): HTMLElement {
    const box = el('fieldset', 'columns');
    box.append(el('legend', undefined, `${title} (${picked.length} picked)`));
    const known = this.columns.get(table);
    if (!Array.isArray(known)) {
      const text =
        table === ''
          ? 'Pick a table first.'
          : known === undefined || known === 'loading'
            ? 'Loading the columns…'
            : (known as { error: string }).error;
      box.append(el('span', 'hint', text));
      return box;
    }
    const columns = known as readonly string[];
    const search = el('input', 'input search');
    search.type = 'search';
    search.placeholder = `Search ${columns.length} columns`;
    search.setAttribute('aria-label', `Search the columns of ${table}`);
    search.dataset.focusKey = `${key}.search`;
    const list = el('div', 'column-list');
    const fill = (): void => {
      const found = searchColumns(columns, picked, search.value);
      list.replaceChildren(
        ...found.slice(0, SHOWN_COLUMNS).map((column) =>
          checkbox(column, picked.includes(column), (checked) => {
            const at = picked.indexOf(column);
            if (checked && at < 0) picked.push(column);
            if (!checked && at >= 0) picked.splice(at, 1);
            const legend = box.querySelector('legend');
            if (legend) legend.textContent = `${title} (${picked.length} picked)`;
          }),
        ),
      );
      if (found.length > SHOWN_COLUMNS)
        list.append(el('span', 'hint', `${found.length - SHOWN_COLUMNS} more: search to narrow.`));
      if (found.length === 0) list.append(el('span', 'hint', 'No column matches.'));
    };
    search.addEventListener('input', fill);
    fill();
    box.append(search, list, el('span', 'hint', hint));
    return box;
  }

  // ---- Save ---------------------------------------------------------------------------------------

  private save(): void {
    if (this.saving) return;
    const problem = this.problem();
    if (problem !== undefined) {
      this.showStatus(problem, 'error');
      return;
    }
    this.saving = true;
    const requestId = this.nextRequest++;
    this.pending.set(requestId, { kind: 'save', table: '' });
    this.host.postMessage({ type: 'save', requestId, registration: this.registration() });
    this.render();
    this.showStatus('Saving…', 'ok');
  }

  /** What the page can tell before asking the host; the host validates everything again. */
  private problem(): string | undefined {
    if (this.endpoint.name.trim() === '') return 'Enter the endpoint name.';
    if (this.endpoint.kind === 'webhook' && this.endpoint.url.trim() === '') return 'Enter the webhook URL.';
    for (const [index, step] of this.steps.entries()) {
      if (step.table === '' || step.message === '') return `Step ${index + 1}: pick a table and a message.`;
      if (!Number.isInteger(step.rank) || step.rank < 1) return `Step ${index + 1}: the rank is a whole number from 1.`;
    }
    return undefined;
  }

  private registration(): FormRegistration {
    const endpoint = this.endpoint;
    return {
      endpoint: { ...endpoint, pairs: endpoint.pairs.map((pair) => ({ name: pair.name, value: pair.value })) },
      steps: this.steps.map((step) => ({
        ...step,
        filteringAttributes: [...step.filteringAttributes],
        images: step.images.map((image) => ({ ...image, columns: [...image.columns] })),
      })),
    };
  }
}

function blankStep(kind: FormEndpoint['kind']): Step {
  return {
    name: '',
    message: '',
    table: '',
    stage: 'post-operation',
    mode: kind === 'webhook' ? 'sync' : 'async',
    rank: 1,
    filteringAttributes: [],
    description: '',
    deleteAsyncJobOnSuccess: false,
    enabled: true,
    images: [],
  };
}

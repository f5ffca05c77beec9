import type {
  HostMessage,
  InspectorChange,
  InspectorDelivery,
  InspectorImage,
  InspectorTarget,
  PageMessage,
} from '../inspectorProtocol';
import { parseHostMessage } from '../inspectorProtocol';

export interface HostApi {
  postMessage(message: PageMessage): void;
}

/** The page keeps at most this many deliveries; the oldest go first. */
const MAX_SHOWN = 500;

function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  className?: string,
  text?: string,
  children: readonly Node[] = [],
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  if (className !== undefined) element.className = className;
  // Delivery values come from whoever posted to the receiver: text only, never markup.
  if (text !== undefined) element.textContent = text;
  for (const child of children) element.append(child);
  return element;
}

function button(text: string, title: string, onClick: () => void): HTMLButtonElement {
  const b = el('button', 'button', text);
  b.type = 'button';
  b.title = title;
  b.addEventListener('click', onClick);
  return b;
}

/**
 * The delivery list (newest first) and the selected delivery's details: the context's facts, the
 * changed columns with their old values, the pre and post images, and the raw JSON.
 */
export class InspectorApp {
  private readonly deliveries: InspectorDelivery[] = [];
  private selected: number | undefined;
  private readonly status: HTMLElement;
  private readonly rejectedLine: HTMLElement;
  private readonly list: HTMLOListElement;
  private readonly details: HTMLElement;
  private readonly stopButton: HTMLButtonElement;
  private rejected = 0;

  constructor(
    root: HTMLElement,
    private readonly host: HostApi,
  ) {
    this.status = el('span', 'status', 'Starting…');
    this.rejectedLine = el('span', 'rejected');
    this.rejectedLine.hidden = true;
    this.stopButton = button('Stop', 'Stop the receiver', () => this.host.postMessage({ type: 'stop' }));
    const toolbar = el('header', 'toolbar', undefined, [
      this.status,
      this.rejectedLine,
      el('span', 'spacer'),
      button('Clear', 'Forget the deliveries shown', () => {
        this.clear();
        this.host.postMessage({ type: 'clear' });
      }),
      this.stopButton,
    ]);
    this.list = el('ol', 'deliveries');
    this.list.setAttribute('aria-label', 'Deliveries');
    this.details = el('section', 'details');
    root.append(toolbar, el('div', 'panes', undefined, [this.list, this.details]));
    this.renderList();
    this.renderDetails();
    window.addEventListener('message', (event: MessageEvent<unknown>) => this.receive(event.data));
    this.host.postMessage({ type: 'ready' });
  }

  private receive(raw: unknown): void {
    const parsed = parseHostMessage(raw);
    if (!parsed.ok) return;
    this.handle(parsed.message);
  }

  private handle(message: HostMessage): void {
    switch (message.type) {
      case 'status':
        this.status.textContent =
          message.state === 'listening'
            ? `Listening on ${message.url ?? '127.0.0.1'}${message.keyed ? ' (key required)' : ' (no key)'}`
            : 'Stopped';
        this.status.dataset.state = message.state;
        this.stopButton.disabled = message.state === 'stopped';
        return;
      case 'delivery':
        this.add(message.delivery);
        return;
      case 'rejected':
        this.rejected += 1;
        this.rejectedLine.hidden = false;
        this.rejectedLine.textContent = `${this.rejected} rejected · last: ${message.status} ${message.reason}`;
        return;
      case 'clear':
        this.clear();
        return;
    }
  }

  private add(delivery: InspectorDelivery): void {
    this.deliveries.unshift(delivery);
    if (this.deliveries.length > MAX_SHOWN) this.deliveries.length = MAX_SHOWN;
    this.selected = delivery.sequence;
    this.renderList();
    this.renderDetails();
  }

  private clear(): void {
    this.deliveries.length = 0;
    this.selected = undefined;
    this.rejected = 0;
    this.rejectedLine.hidden = true;
    this.renderList();
    this.renderDetails();
  }

  private renderList(): void {
    this.list.replaceChildren(
      ...this.deliveries.map((delivery) => {
        const item = el('li', 'delivery', undefined, [
          el('span', 'message', delivery.messageName),
          el('span', 'table', delivery.primaryEntityName),
          el('span', 'record-id', delivery.primaryEntityId),
          el('span', 'time', delivery.receivedAt.slice(11, 19)),
        ]);
        item.tabIndex = 0;
        item.dataset.sequence = String(delivery.sequence);
        item.setAttribute('aria-selected', String(delivery.sequence === this.selected));
        const select = (): void => {
          this.selected = delivery.sequence;
          this.renderList();
          this.renderDetails();
        };
        item.addEventListener('click', select);
        item.addEventListener('keydown', (event) => {
          if (event.key === 'Enter' || event.key === ' ') select();
        });
        return item;
      }),
    );
    if (this.deliveries.length === 0) this.list.append(el('li', 'empty', 'No deliveries yet'));
  }

  private renderDetails(): void {
    const delivery = this.deliveries.find((d) => d.sequence === this.selected);
    if (delivery === undefined) {
      this.details.replaceChildren(
        el(
          'p',
          'hint',
          'Register a webhook whose URL is this receiver, then change a record: each delivery appears here.',
        ),
      );
      return;
    }
    const facts: [string, string, string][] = [
      ['Message', 'message', delivery.messageName],
      ['Table', 'table', delivery.primaryEntityName],
      ['Record id', 'record-id', delivery.primaryEntityId],
      ['Stage', 'stage', `${delivery.stage} (${delivery.stageLabel})`],
      ['Mode', 'mode', `${delivery.mode} (${delivery.modeLabel})`],
      ['Depth', 'depth', String(delivery.depth)],
      ['Correlation id', 'correlation-id', delivery.correlationId],
      ['Organization', 'organization', delivery.organizationName],
      ['Received', 'received', delivery.receivedAt],
      [
        'Size',
        'size',
        `${delivery.bodyBytes} bytes${delivery.msgSizeExceeded ? ' (over 256 KB: trimmed by Dataverse)' : ''}`,
      ],
    ];
    const factList = el(
      'dl',
      'facts',
      undefined,
      facts.flatMap(([label, key, value]) => {
        const dd = el('dd', undefined, value);
        dd.dataset.field = key;
        return [el('dt', undefined, label), dd];
      }),
    );
    const raw = el('pre', 'raw', delivery.raw);
    const rawSection = el('details', 'raw-json', undefined, [el('summary', undefined, 'Raw JSON'), raw]);
    this.details.replaceChildren(
      el('h2', undefined, `${delivery.messageName} of ${delivery.primaryEntityName}`),
      factList,
      ...(delivery.targets.length === 0
        ? [
            el('h3', undefined, `Changed columns (${delivery.changes.length})`),
            changesTable(delivery.changes),
            ...images('h3', 'Pre-images', 'pre-images', delivery.preImages),
            ...images('h3', 'Post-images', 'post-images', delivery.postImages),
          ]
        : [
            el('h3', undefined, `Records in Targets (${delivery.targets.length})`),
            ...delivery.targets.map((target, index) => targetSection(target, index, delivery.targets.length)),
            // A bulk message's own PreEntityImages and PostEntityImages are empty; shown only if a sender filled them.
            ...(delivery.preImages.length > 0 ? images('h3', 'Pre-images', 'pre-images', delivery.preImages) : []),
            ...(delivery.postImages.length > 0 ? images('h3', 'Post-images', 'post-images', delivery.postImages) : []),
          ]),
      rawSection,
      button('Copy JSON', 'Copy the raw JSON', () => this.host.postMessage({ type: 'copy', text: delivery.raw })),
    );
  }
}

function changesTable(changes: readonly InspectorChange[]): HTMLElement {
  if (changes.length === 0) return el('p', 'hint', 'None');
  return el('table', 'changes', undefined, [
    el('thead', undefined, undefined, [
      el('tr', undefined, undefined, [
        el('th', undefined, 'Column'),
        el('th', undefined, 'Before'),
        el('th', undefined, 'After'),
      ]),
    ]),
    el(
      'tbody',
      undefined,
      undefined,
      changes.map((change) =>
        el('tr', undefined, undefined, [
          el('td', 'column', change.column),
          el('td', change.before === undefined ? 'before unknown' : 'before', change.before ?? '—'),
          el('td', 'after', change.after),
        ]),
      ),
    ),
  ]);
}

function images(
  heading: 'h3' | 'h5',
  title: string,
  className: string,
  list: readonly InspectorImage[],
): HTMLElement[] {
  if (list.length === 0) return [el(heading, undefined, `${title} (none)`)];
  return [
    el(heading, undefined, title),
    ...list.map((image) =>
      el('div', `image ${className}`, undefined, [
        el('h4', undefined, image.alias),
        el(
          'dl',
          'values',
          undefined,
          image.values.flatMap((value) => [el('dt', undefined, value.column), el('dd', undefined, value.value)]),
        ),
      ]),
    ),
  ];
}

/** One record of a bulk message: its columns as written and its own entry of the image collections. */
function targetSection(target: InspectorTarget, index: number, count: number): HTMLElement {
  const section = el('section', 'target', undefined, [
    el('h4', 'target-title', `Record ${index + 1} of ${count} · ${target.logicalName}(${target.id})`),
    el('h5', undefined, `Changed columns (${target.changes.length})`),
    changesTable(target.changes),
    ...images('h5', 'Pre-images', 'pre-images', target.preImages),
    ...images('h5', 'Post-images', 'post-images', target.postImages),
  ]);
  section.dataset.index = String(index);
  return section;
}

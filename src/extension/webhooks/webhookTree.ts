import * as vscode from 'vscode';
import type { Connection, ConnectionManager } from '../connections';
import { TreeItemContexts } from '../constants';
import type { ExplorerSection, SectionLoad, SectionNode } from '../explorer/nodes';
import { CONTRACT_LABELS, imageTypeLabel, kindOfContract, stageLabel } from '../../webhooks/registrationModel';
import type { EndpointRow, ImageRow, StepRow } from '../../webhooks/registrations';
import { Registrations } from '../../webhooks/registrations';

/** What a node of the "Webhooks & Steps" section stands for. */
export type WebhookItem =
  | { readonly kind: 'root' }
  | { readonly kind: 'endpoint'; readonly endpoint: EndpointRow }
  | { readonly kind: 'step'; readonly endpoint: EndpointRow; readonly step: StepRow }
  | { readonly kind: 'image'; readonly endpoint: EndpointRow; readonly step: StepRow; readonly image: ImageRow }
  | { readonly kind: 'empty'; readonly message: string };

const ENDPOINT_ICONS: Readonly<Record<number, string>> = {
  2: 'inbox',
  5: 'broadcast',
  7: 'pulse',
  8: 'globe',
  9: 'zap',
};

/**
 * "Webhooks & Steps" under each connection: service endpoints → steps → images, read when expanded
 * through the explorer's loads (so they are remembered, shared by concurrent expands, and a failure
 * shows as an error node with a retry).
 */
export class WebhookSection implements ExplorerSection {
  /** The data behind each node this section made; also how commands recognise its nodes. */
  private readonly items = new WeakMap<SectionNode, WebhookItem>();
  private readonly registrations = new Map<string, { readonly client: unknown; readonly value: Registrations }>();

  constructor(private readonly connections: ConnectionManager) {}

  /** One per connection and client: a new client (emulator restart) gets fresh caches. */
  registrationsOf(connection: Connection): Registrations {
    const client = this.connections.client(connection);
    const existing = this.registrations.get(connection.id);
    if (existing?.client === client) return existing.value;
    const value = new Registrations(client, this.connections.metadata(connection));
    this.registrations.set(connection.id, { client, value });
    return value;
  }

  rootId(connection: Connection): string {
    return `${connection.id}/webhooks`;
  }

  itemOf(node: SectionNode): WebhookItem | undefined {
    return node.section === this ? this.items.get(node) : undefined;
  }

  roots(connection: Connection): SectionNode[] {
    return [this.node(connection, this.rootId(connection), { kind: 'root' })];
  }

  async children(node: SectionNode, load: SectionLoad): Promise<SectionNode[]> {
    const item = this.items.get(node);
    if (item === undefined) return [];
    const registrations = this.registrationsOf(node.connection);
    switch (item.kind) {
      case 'root': {
        const endpoints = await load(node.id, (signal) => registrations.endpoints(signal));
        if (endpoints.length === 0) return [this.empty(node, 'No service endpoints registered')];
        return endpoints.map((endpoint) =>
          this.node(node.connection, `${node.id}/${endpoint.id}`, { kind: 'endpoint', endpoint }),
        );
      }
      case 'endpoint': {
        const steps = await load(node.id, (signal) => registrations.steps(item.endpoint.id, signal));
        if (steps.length === 0) return [this.empty(node, 'No steps')];
        return steps.map((step) =>
          this.node(node.connection, `${node.id}/${step.id}`, { kind: 'step', endpoint: item.endpoint, step }),
        );
      }
      case 'step': {
        const images = await load(node.id, (signal) => registrations.images(item.step.id, signal));
        if (images.length === 0) return [this.empty(node, 'No images')];
        return images.map((image) =>
          this.node(node.connection, `${node.id}/${image.id}`, {
            kind: 'image',
            endpoint: item.endpoint,
            step: item.step,
            image,
          }),
        );
      }
      default:
        return [];
    }
  }

  treeItem(node: SectionNode): vscode.TreeItem {
    const collapsed = vscode.TreeItemCollapsibleState.Collapsed;
    const none = vscode.TreeItemCollapsibleState.None;
    const item = this.items.get(node) ?? { kind: 'empty', message: '' };
    switch (item.kind) {
      case 'root': {
        const tree = new vscode.TreeItem('Webhooks & Steps', collapsed);
        tree.id = node.id;
        tree.iconPath = new vscode.ThemeIcon('plug');
        tree.tooltip = 'Service endpoints (webhooks, Service Bus, Event Hub, Event Grid), their steps and images';
        tree.contextValue = TreeItemContexts.webhooks;
        return tree;
      }
      case 'endpoint': {
        const { endpoint } = item;
        const kind = CONTRACT_LABELS[endpoint.contract] ?? `contract ${endpoint.contract}`;
        const where =
          endpoint.url ??
          (endpoint.namespace !== undefined ? `${endpoint.namespace}/${endpoint.path ?? ''}` : endpoint.path);
        const tree = new vscode.TreeItem(endpoint.name, collapsed);
        tree.id = node.id;
        tree.description = `${kind}${where === undefined ? '' : ` · ${where}`}`;
        tree.tooltip = [
          endpoint.name,
          kind,
          ...(where === undefined ? [] : [where]),
          ...(endpoint.description === undefined ? [] : [endpoint.description]),
        ].join('\n');
        tree.iconPath = new vscode.ThemeIcon(ENDPOINT_ICONS[endpoint.contract] ?? 'plug');
        tree.contextValue =
          kindOfContract(endpoint.contract) === undefined
            ? TreeItemContexts.serviceEndpointOther
            : TreeItemContexts.serviceEndpoint;
        return tree;
      }
      case 'step': {
        const { step } = item;
        const stage = sentence(stageLabel(step.stage));
        const mode = step.mode === 1 ? 'async' : 'sync';
        const tree = new vscode.TreeItem(`${step.message ?? '?'} of ${step.table ?? 'any table'}`, collapsed);
        tree.id = node.id;
        tree.description = [
          stage,
          mode,
          `rank ${step.rank}`,
          ...(step.filteringAttributes.length > 0 ? [`on ${step.filteringAttributes.join(', ')}`] : []),
          ...(step.enabled ? [] : ['disabled']),
        ].join(' · ');
        tree.tooltip = [
          step.name,
          `Message: ${step.message ?? '?'}`,
          `Table: ${step.table ?? 'any'}`,
          `Stage: ${stage}`,
          `Mode: ${step.mode === 1 ? 'asynchronous' : 'synchronous'}`,
          `Rank: ${step.rank}`,
          `Filtering columns: ${step.filteringAttributes.length > 0 ? step.filteringAttributes.join(', ') : 'all'}`,
          ...(step.mode === 1 ? [`Delete the system job on success: ${step.asyncAutoDelete ? 'yes' : 'no'}`] : []),
          ...(step.description === undefined ? [] : [step.description]),
          step.enabled ? 'Enabled' : 'Disabled',
        ].join('\n');
        tree.iconPath = new vscode.ThemeIcon(step.enabled ? 'debug-step-over' : 'circle-slash');
        tree.contextValue = step.enabled ? TreeItemContexts.stepEnabled : TreeItemContexts.stepDisabled;
        return tree;
      }
      case 'image': {
        const { image } = item;
        const tree = new vscode.TreeItem(image.alias || image.name, none);
        tree.id = node.id;
        tree.description = `${sentence(imageTypeLabel(image.imagetype))} · ${
          image.attributes.length > 0 ? image.attributes.join(', ') : 'all columns'
        }`;
        tree.tooltip = `${image.name}\nAlias: ${image.alias}\n${tree.description}`;
        tree.iconPath = new vscode.ThemeIcon('file-media');
        tree.contextValue = TreeItemContexts.stepImage;
        return tree;
      }
      case 'empty': {
        const tree = new vscode.TreeItem(item.message, none);
        tree.id = node.id;
        tree.iconPath = new vscode.ThemeIcon('info');
        tree.contextValue = TreeItemContexts.message;
        return tree;
      }
    }
  }

  private empty(parent: SectionNode, message: string): SectionNode {
    return this.node(parent.connection, `${parent.id}/$empty`, { kind: 'empty', message });
  }

  private node(connection: Connection, id: string, item: WebhookItem): SectionNode {
    const node: SectionNode = { type: 'section', id, connection, section: this };
    this.items.set(node, item);
    return node;
  }
}

/** A label as a tree shows it: its first letter capitalized ("post-operation" → "Post-operation"). */
function sentence(label: string): string {
  return label.charAt(0).toUpperCase() + label.slice(1);
}

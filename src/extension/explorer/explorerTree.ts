import * as vscode from 'vscode';
import { describeError, isWorkbenchError } from '../../core/errors';
import type { JsonObject } from '../../core/json';
import type { Page } from '../../dataverse/webApiClient';
import { columnLabel } from '../../metadata/columnNames';
import { columnDescription, columnTooltip } from '../../odata/tableExplorer';
import type { Connection, ConnectionManager } from '../connections';
import { EMULATOR_CONNECTION_ID } from '../connections';
import { Commands, Settings, TreeItemContexts } from '../constants';
import type { EmulatorHost } from '../emulatorHost';
import type { EnvironmentStore } from '../environmentStore';
import type { ExplorerData, TableInfo } from './explorerData';
import { asSentence, recordCountText, recordName } from './explorerData';
import { Loads } from './loads';
import type {
  ConnectionNode,
  ExplorerNode,
  ExplorerSection,
  RecordNode,
  RecordsFolderNode,
  TableNode,
  TablesNode,
} from './nodes';
import { TABLE_FOLDERS } from './nodes';

export type { ExplorerNode } from './nodes';

export const DEFAULT_PAGE_SIZE = 50;

/** The records shown under one table's Records folder: pages read so far and where the next one is. */
interface RecordPages {
  readonly filter: string | undefined;
  readonly rows: JsonObject[];
  /** All rows the filter matches, as the first page counted them (`$count`). */
  count: number | undefined;
  nextLink: string | undefined;
  started: boolean;
  pending: Promise<void> | undefined;
  controller: AbortController | undefined;
  error: unknown;
}

const FOLDER_LABELS = { columns: 'Columns', relationships: 'Relationships', keys: 'Keys', records: 'Records' } as const;
const FOLDER_ICONS = {
  columns: 'symbol-field',
  relationships: 'references',
  keys: 'key',
  records: 'list-flat',
} as const;

/**
 * The Dataverse explorer: connections → Tables → table → Columns, Relationships, Keys, Records.
 * Nodes wrap model objects; data comes from `ExplorerData` and is loaded when a node is expanded,
 * once (concurrent expands share the request), abortable, and failures show as a node with a retry.
 * An empty root shows the manifest's `viewsWelcome` content.
 */
export class ExplorerTreeProvider implements vscode.TreeDataProvider<ExplorerNode>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<ExplorerNode | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private readonly subscriptions: vscode.Disposable[];
  private readonly loads = new Loads();
  private readonly pages = new Map<string, RecordPages>();
  private readonly tableFilters = new Map<string, string>();
  /** Environments the user connected in this session; the emulator is always connected. */
  private readonly connected = new Set<string>();
  /** Container nodes by id, so the same object is handed out again and can be refreshed alone. */
  private readonly nodes = new Map<string, ExplorerNode>();
  /** Every node this provider made: command arguments are checked against it. */
  private readonly made = new WeakSet<object>();
  private knownUrls = new Map<string, string>();
  private readonly sections: ExplorerSection[] = [];

  constructor(
    private readonly store: EnvironmentStore,
    private readonly emulator: EmulatorHost,
    private readonly connections: ConnectionManager,
    private readonly data: ExplorerData,
  ) {
    this.subscriptions = [
      store.onDidChange(() => this.connectionsChanged()),
      emulator.onDidChange(() => this.connectionsChanged()),
      connections.onDidChangeActive(() => this.changed.fire(undefined)),
    ];
  }

  /** True for a node of this tree (of one of `types`, when given): commands accept nothing else. */
  isNode<T extends ExplorerNode['type']>(value: unknown, ...types: T[]): value is Extract<ExplorerNode, { type: T }> {
    if (typeof value !== 'object' || value === null || !this.made.has(value)) return false;
    return types.length === 0 || (types as string[]).includes((value as ExplorerNode).type);
  }

  /** Reloads `node`'s subtree, or everything. */
  refresh(node?: ExplorerNode): void {
    if (node === undefined) {
      this.loads.clear();
      this.abortPages('');
      this.nodes.clear();
      this.changed.fire(undefined);
      return;
    }
    const target = node.type === 'error' ? node.retry : node;
    this.forgetBelow(target.id);
    this.changed.fire(target);
  }

  /** Adds a folder under every connected connection, after Tables. */
  addSection(section: ExplorerSection): vscode.Disposable {
    this.sections.push(section);
    this.changed.fire(undefined);
    return new vscode.Disposable(() => {
      const at = this.sections.indexOf(section);
      if (at !== -1) this.sections.splice(at, 1);
    });
  }

  /** Reloads the node with this id if the tree has shown it; nothing was loaded below it otherwise. */
  refreshId(id: string): void {
    const node = this.nodes.get(id);
    if (node !== undefined) this.refresh(node);
  }

  isConnected(connection: Connection): boolean {
    return connection.id === EMULATOR_CONNECTION_ID || this.connected.has(connection.id);
  }

  async connect(node: ConnectionNode): Promise<void> {
    this.connected.add(node.connection.id);
    await this.connections.setActive(node.connection.id);
    this.changed.fire(node);
  }

  /** Forgets what was loaded for the connection and aborts its loads. */
  disconnect(node: ConnectionNode): void {
    this.connected.delete(node.connection.id);
    this.forgetBelow(node.id);
    this.changed.fire(node);
  }

  tablesFilter(connection: Connection): string | undefined {
    return this.tableFilters.get(connection.id);
  }

  setTablesFilter(node: TablesNode, filter: string): void {
    if (filter.trim() === '') this.tableFilters.delete(node.connection.id);
    else this.tableFilters.set(node.connection.id, filter.trim());
    this.changed.fire(node);
  }

  /** The Tables node of a connection (palette commands act on the active connection through it). */
  tablesNodeOf(connection: Connection): TablesNode {
    return this.intern({ type: 'tables', id: `${connection.id}/tables`, connection });
  }

  recordsFilter(node: RecordsFolderNode): string | undefined {
    return this.pages.get(node.id)?.filter;
  }

  /** Replaces the records with the first page of `filter` (undefined: no filter). */
  setRecordsFilter(node: RecordsFolderNode, filter: string | undefined): void {
    this.abortPages(node.id);
    this.pages.set(node.id, newPages(filter));
    this.changed.fire(node);
  }

  /** Reads the next page of records; concurrent calls share the request. Returns how many rows are shown. */
  async loadMore(node: RecordsFolderNode): Promise<number> {
    const pages = this.pagesOf(node);
    if (pages.pending === undefined && pages.started && pages.nextLink !== undefined) {
      const nextLink = pages.nextLink;
      this.startPageLoad(node, pages, (signal) =>
        this.data.nextRecords(node.connection, nextLink, this.pageSize(), signal),
      );
    }
    await pages.pending;
    this.changed.fire(node);
    return pages.rows.length;
  }

  /** Retries what failed under `node`. */
  async retry(node: ExplorerNode): Promise<void> {
    if (node.type === 'folder' && node.folder === 'records') {
      const pages = this.pagesOf(node as RecordsFolderNode);
      pages.error = undefined;
      if (pages.started && pages.nextLink !== undefined) {
        await this.loadMore(node as RecordsFolderNode);
        return;
      }
    }
    this.refresh(node);
  }

  /** Aborts every load in flight. */
  cancelLoads(): number {
    let count = this.loads.cancelAll();
    for (const pages of this.pages.values()) {
      if (pages.controller !== undefined && pages.pending !== undefined) {
        pages.controller.abort();
        count += 1;
      }
    }
    return count;
  }

  /** Removes a deleted record from the list it was shown in. */
  removeRecord(node: RecordNode): void {
    const folderId = node.id.slice(0, node.id.lastIndexOf('/'));
    const pages = this.pages.get(folderId);
    if (pages !== undefined) {
      const position = pages.rows.indexOf(node.record);
      if (position !== -1) pages.rows.splice(position, 1);
    }
    const folder = this.nodes.get(folderId);
    this.changed.fire(folder);
  }

  /** Shows a saved record's new values (its name) wherever the tree lists it. */
  recordSaved(connectionId: string, entitySet: string, id: string, record: JsonObject): void {
    for (const node of this.nodes.values()) {
      if (node.type !== 'folder' || node.folder !== 'records') continue;
      if (node.connection.id !== connectionId || node.table.entitySet !== entitySet) continue;
      const primaryId = node.table.primaryId;
      const rows = this.pages.get(node.id)?.rows ?? [];
      const row = rows.find(
        (candidate) => primaryId !== undefined && String(candidate[primaryId]).toLowerCase() === id.toLowerCase(),
      );
      if (row === undefined) continue;
      // The row keeps its own columns (the list selects few), each with the value the server now holds.
      for (const column of Object.keys(row)) if (column in record) row[column] = record[column];
      this.changed.fire(node);
    }
  }

  getParent(): undefined {
    return undefined;
  }

  async getChildren(element?: ExplorerNode): Promise<ExplorerNode[]> {
    if (element === undefined) return this.roots();
    switch (element.type) {
      case 'emulator':
      case 'environment':
        if (!this.isConnected(element.connection)) {
          return [
            this.leaf({
              type: 'message',
              id: `${element.id}/$message`,
              message: 'Not connected',
              action: { command: Commands.connectEnvironment, title: 'Connect', argument: element },
            }),
          ];
        }
        return [
          this.tablesNodeOf(element.connection),
          ...this.sections.flatMap((section) => section.roots(element.connection)).map((node) => this.intern(node)),
        ];
      case 'tables':
        return this.guarded(element, async () => this.tableNodes(element));
      case 'table':
        return TABLE_FOLDERS.map((folder) =>
          this.intern({
            type: 'folder',
            id: `${element.id}/${folder}`,
            folder,
            connection: element.connection,
            table: element.table,
          }),
        );
      case 'folder':
        if (element.folder === 'records') return this.recordNodes(element as RecordsFolderNode);
        return this.guarded(element, () => this.folderChildren(element));
      case 'section':
        return this.guarded(element, async () =>
          (await element.section.children(element, (key, load) => this.loads.get(key, load))).map((node) =>
            this.intern(node),
          ),
        );
      default:
        return [];
    }
  }

  getTreeItem(node: ExplorerNode): vscode.TreeItem {
    const collapsed = vscode.TreeItemCollapsibleState.Collapsed;
    const none = vscode.TreeItemCollapsibleState.None;
    switch (node.type) {
      case 'emulator':
      case 'environment': {
        const active = this.connections.active?.id === node.connection.id;
        // With nothing else configured, the emulator's tables are what the user came for: show them open.
        const only = node.type === 'emulator' && this.store.read().environments.length === 0;
        const item = new vscode.TreeItem(
          node.connection.name,
          only ? vscode.TreeItemCollapsibleState.Expanded : collapsed,
        );
        item.id = node.id;
        item.description = `${active ? 'active · ' : ''}${node.connection.url}`;
        item.tooltip = `${node.connection.name}${active ? ' (active)' : ''}\n${
          node.type === 'emulator' ? node.emulator.webApi : node.connection.url
        }${this.isConnected(node.connection) ? '' : '\nNot connected'}`;
        if (node.type === 'emulator') {
          item.iconPath = new vscode.ThemeIcon('vm-running');
          item.contextValue = TreeItemContexts.emulator;
        } else {
          item.iconPath = new vscode.ThemeIcon(this.isConnected(node.connection) ? 'database' : 'debug-disconnect');
          item.contextValue = this.isConnected(node.connection)
            ? TreeItemContexts.environmentConnected
            : TreeItemContexts.environment;
        }
        return item;
      }
      case 'problem': {
        const item = new vscode.TreeItem('Invalid environment setting', none);
        item.description = node.message;
        item.tooltip = node.message;
        item.iconPath = new vscode.ThemeIcon('warning');
        item.contextValue = TreeItemContexts.problem;
        return item;
      }
      case 'tables': {
        const item = new vscode.TreeItem('Tables', collapsed);
        item.id = node.id;
        const filter = this.tableFilters.get(node.connection.id);
        item.description = filter === undefined ? undefined : `filter: ${filter}`;
        item.tooltip = 'Tables of this environment. Filter them with "Filter Tables…".';
        item.iconPath = new vscode.ThemeIcon(filter === undefined ? 'table' : 'filter');
        item.contextValue = TreeItemContexts.tables;
        return item;
      }
      case 'table': {
        const { table } = node;
        const item = new vscode.TreeItem(table.displayName ?? table.logicalName, collapsed);
        item.id = node.id;
        item.description = `${table.logicalName}${table.isCustom ? ' · custom' : ''}`;
        item.tooltip = [
          table.displayName ?? table.logicalName,
          `Logical name: ${table.logicalName}`,
          `Entity set: ${table.entitySet}`,
          `${table.isCustom ? 'Custom' : 'System'} table`,
          ...(table.primaryId === undefined ? [] : [`Primary id: ${table.primaryId}`]),
          ...(table.primaryName === undefined ? [] : [`Primary name: ${table.primaryName}`]),
        ].join('\n');
        item.iconPath = new vscode.ThemeIcon(table.isCustom ? 'symbol-class' : 'table');
        item.contextValue = TreeItemContexts.table;
        return item;
      }
      case 'folder': {
        const item = new vscode.TreeItem(FOLDER_LABELS[node.folder], collapsed);
        item.id = node.id;
        item.iconPath = new vscode.ThemeIcon(FOLDER_ICONS[node.folder]);
        if (node.folder === 'records') {
          const pages = this.pages.get(node.id);
          const filter = pages?.filter;
          const count = pages?.count === undefined ? undefined : recordCountText(pages.count);
          item.description = [filter === undefined ? undefined : `$filter=${filter}`, count]
            .filter((part) => part !== undefined)
            .join(' · ');
          item.tooltip = `${count === undefined ? 'Records' : count}${
            filter === undefined ? '' : ` matching $filter=${filter}`
          }, sorted by ${node.table.primaryName ?? node.table.primaryId ?? 'id'}`;
          item.contextValue = filter === undefined ? TreeItemContexts.records : TreeItemContexts.recordsFiltered;
        } else {
          item.contextValue = TreeItemContexts.folder;
        }
        return item;
      }
      case 'column': {
        const item = new vscode.TreeItem(columnLabel(node.property), none);
        item.description = columnDescription(node.property);
        item.tooltip = columnTooltip(node.property);
        item.iconPath = new vscode.ThemeIcon('symbol-field');
        item.contextValue = TreeItemContexts.column;
        return item;
      }
      case 'relationship': {
        const target = node.navigation.type.slice(node.navigation.type.lastIndexOf('.') + 1);
        const item = new vscode.TreeItem(node.navigation.name, none);
        item.description = `${node.navigation.collection ? 'one-to-many' : 'many-to-one'} → ${target}`;
        item.tooltip = `${node.navigation.name}\n${node.navigation.collection ? `Collection of ${target}` : `Single ${target}`}${
          node.navigation.referentialConstraints[0] === undefined
            ? ''
            : `\nThrough ${node.navigation.referentialConstraints[0].property}`
        }`;
        item.iconPath = new vscode.ThemeIcon('references');
        item.contextValue = TreeItemContexts.relationship;
        return item;
      }
      case 'key': {
        const item = new vscode.TreeItem(node.key.name, none);
        const { columns, status } = node.key;
        // Only an Active key's index addresses records ("Define alternate keys to reference rows").
        const usable = status === undefined || status === 'Active';
        item.description = usable ? columns.join(', ') : `${columns.join(', ')} · index ${status}`;
        item.tooltip =
          `${node.key.name}: ${columns.join(', ')}` +
          (status === undefined ? '' : `\nIndex: ${status}${usable ? '' : ' (not usable in URLs until Active)'}`);
        item.iconPath = new vscode.ThemeIcon('key');
        item.contextValue = TreeItemContexts.key;
        return item;
      }
      case 'record': {
        const name = recordName(node.record, node.table);
        const item = new vscode.TreeItem(name ?? '(no name)', none);
        item.id = node.id;
        item.description = node.recordId;
        item.tooltip = `${name ?? '(no name)'}\n${node.table.logicalName} ${node.recordId}`;
        item.iconPath = new vscode.ThemeIcon('symbol-object');
        item.contextValue =
          node.connection.kind === 'environment' ? TreeItemContexts.recordInEnvironment : TreeItemContexts.record;
        item.command = { command: Commands.openRecord, title: 'Open Record', arguments: [node] };
        return item;
      }
      case 'loadMore': {
        const item = new vscode.TreeItem('Load more…', none);
        item.id = node.id;
        item.iconPath = new vscode.ThemeIcon('ellipsis');
        item.contextValue = TreeItemContexts.loadMore;
        item.command = { command: Commands.loadMoreRecords, title: 'Load More', arguments: [node.records] };
        return item;
      }
      case 'error': {
        const firstLine = node.message.split('\n')[0] ?? node.message;
        const item = new vscode.TreeItem(firstLine, none);
        item.id = node.id;
        item.description = 'click to retry';
        item.tooltip = node.message;
        item.iconPath = new vscode.ThemeIcon('error');
        item.contextValue = TreeItemContexts.loadError;
        item.command = { command: Commands.retryLoad, title: 'Retry', arguments: [node.retry] };
        return item;
      }
      case 'section':
        return node.section.treeItem(node);
      case 'message': {
        const item = new vscode.TreeItem(node.message, none);
        item.id = node.id;
        item.iconPath = new vscode.ThemeIcon('info');
        item.contextValue = TreeItemContexts.message;
        if (node.action !== undefined) {
          item.description = node.action.title;
          item.command = { command: node.action.command, title: node.action.title, arguments: [node.action.argument] };
        }
        return item;
      }
    }
  }

  dispose(): void {
    this.cancelLoads();
    for (const subscription of this.subscriptions) subscription.dispose();
    this.changed.dispose();
  }

  // ---- Children ----------------------------------------------------------------------------------

  private roots(): ExplorerNode[] {
    const { environments, problems } = this.store.read();
    const running = this.emulator.running;
    const list = this.connections.list();
    const emulatorConnection = list.find((c) => c.id === EMULATOR_CONNECTION_ID);
    const roots: ExplorerNode[] = [];
    if (running && emulatorConnection) {
      roots.push(
        this.intern({ type: 'emulator', id: emulatorConnection.id, emulator: running, connection: emulatorConnection }),
      );
    }
    for (const environment of environments) {
      const connection = list.find((c) => c.kind === 'environment' && c.name === environment.name);
      if (connection) roots.push(this.intern({ type: 'environment', id: connection.id, environment, connection }));
    }
    problems.forEach((message, position) =>
      roots.push(this.leaf({ type: 'problem', id: `problem:${position}`, message })),
    );
    return roots;
  }

  private async tableNodes(node: TablesNode): Promise<ExplorerNode[]> {
    const tables = await this.loads.get(node.id, (signal) => this.data.tables(node.connection, signal));
    const filter = this.tableFilters.get(node.connection.id)?.toLowerCase();
    const shown = filter === undefined ? tables : tables.filter((table) => matchesTable(table, filter));
    if (shown.length === 0) {
      return [
        this.leaf({
          type: 'message',
          id: `${node.id}/$message`,
          message: filter === undefined ? 'No tables' : `No table matches "${filter}"`,
          action: { command: Commands.filterTables, title: 'Change filter', argument: node },
        }),
      ];
    }
    return shown.map((table): TableNode =>
      this.intern({ type: 'table', id: `${node.id}/${table.logicalName}`, connection: node.connection, table }),
    );
  }

  private async folderChildren(node: Extract<ExplorerNode, { type: 'folder' }>): Promise<ExplorerNode[]> {
    const { connection, table } = node;
    switch (node.folder) {
      case 'columns': {
        const columns = await this.loads.get(node.id, (signal) => this.data.columns(connection, table, signal));
        return columns.map((property) =>
          this.leaf({ type: 'column', id: `${node.id}/${property.name}`, table, property }),
        );
      }
      case 'relationships': {
        const navigation = await this.loads.get(node.id, (signal) =>
          this.data.relationships(connection, table, signal),
        );
        return navigation.map((item) =>
          this.leaf({ type: 'relationship', id: `${node.id}/${item.name}`, table, navigation: item }),
        );
      }
      case 'keys': {
        const { keys, alternateKeysKnown } = await this.loads.get(node.id, (signal) =>
          this.data.keys(connection, table, signal),
        );
        const children: ExplorerNode[] = keys.map((key) =>
          this.leaf({ type: 'key', id: `${node.id}/${key.name}`, table, key }),
        );
        if (!alternateKeysKnown) {
          children.push(
            this.leaf({
              type: 'message',
              id: `${node.id}/$message`,
              message: 'Alternate keys unknown: the service lists none for this table, in its definition or $metadata.',
            }),
          );
        }
        return children;
      }
      default:
        return [];
    }
  }

  private async recordNodes(node: RecordsFolderNode): Promise<ExplorerNode[]> {
    const pages = this.pagesOf(node);
    if (!pages.started && pages.pending === undefined && pages.error === undefined) {
      this.startPageLoad(node, pages, (signal) =>
        this.data.firstRecords(node.connection, node.table, pages.filter, this.pageSize(), signal),
      );
    }
    await pages.pending;
    const primaryId = node.table.primaryId;
    const children: ExplorerNode[] = [];
    for (const record of pages.rows) {
      const id = primaryId === undefined ? undefined : record[primaryId];
      if (typeof id !== 'string') continue;
      children.push(
        this.leaf({
          type: 'record',
          id: `${node.id}/${id}`,
          connection: node.connection,
          table: node.table,
          recordId: id,
          record,
        }),
      );
    }
    if (pages.error !== undefined) {
      children.push(this.errorNode(node, pages.error));
    } else if (pages.nextLink !== undefined) {
      children.push(this.leaf({ type: 'loadMore', id: `${node.id}/$more`, records: node }));
    } else if (children.length === 0 && pages.started) {
      children.push(
        this.leaf({
          type: 'message',
          id: `${node.id}/$message`,
          message: pages.filter === undefined ? 'No records' : 'No records match the filter',
          ...(pages.filter === undefined
            ? {}
            : { action: { command: Commands.filterRecords, title: 'Change filter', argument: node } }),
        }),
      );
    }
    return children;
  }

  /** Runs a load for `node`'s children; a failure becomes an error node instead of a message box. */
  private async guarded(node: ExplorerNode, load: () => Promise<ExplorerNode[]>): Promise<ExplorerNode[]> {
    try {
      return await load();
    } catch (error) {
      return [this.errorNode(node, error)];
    }
  }

  private errorNode(node: ExplorerNode, error: unknown): ExplorerNode {
    const cancelled = isWorkbenchError(error) && error.kind === 'cancelled';
    return this.leaf({
      type: 'error',
      id: `${node.id}/$error`,
      message: cancelled
        ? `Loading ${whatLoads(node)} was cancelled.`
        : `Could not read ${whatLoads(node)}: ${asSentence(describeError(error))}`,
      retry: node,
    });
  }

  // ---- State -------------------------------------------------------------------------------------

  private startPageLoad(
    node: RecordsFolderNode,
    pages: RecordPages,
    load: (signal: AbortSignal) => Promise<Page>,
  ): void {
    const controller = new AbortController();
    pages.controller = controller;
    pages.error = undefined;
    pages.pending = load(controller.signal).then(
      (page) => {
        if (this.pages.get(node.id) !== pages) return;
        pages.rows.push(...page.value);
        pages.count ??= page.count;
        pages.nextLink = page.nextLink;
        pages.started = true;
      },
      (error: unknown) => {
        if (this.pages.get(node.id) === pages) pages.error = error;
      },
    );
    void pages.pending.finally(() => {
      if (pages.controller === controller) {
        pages.pending = undefined;
        pages.controller = undefined;
      }
    });
  }

  private pagesOf(node: RecordsFolderNode): RecordPages {
    let pages = this.pages.get(node.id);
    if (pages === undefined) {
      pages = newPages(undefined);
      this.pages.set(node.id, pages);
    }
    return pages;
  }

  private pageSize(): number {
    const value = vscode.workspace.getConfiguration(Settings.section).get<unknown>(Settings.explorerPageSize);
    return typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= 5000
      ? value
      : DEFAULT_PAGE_SIZE;
  }

  /** Forgets loads, pages and nodes strictly below `id` (records keep their filter). */
  private forgetBelow(id: string): void {
    for (const key of [...this.nodes.keys()]) if (key.startsWith(`${id}/`)) this.nodes.delete(key);
    this.loads.forget(id);
    for (const [key, pages] of [...this.pages]) {
      if (key !== id && !key.startsWith(`${id}/`)) continue;
      pages.controller?.abort();
      this.pages.set(key, newPages(pages.filter));
    }
  }

  private abortPages(prefix: string): void {
    for (const [key, pages] of [...this.pages]) {
      if (prefix !== '' && key !== prefix && !key.startsWith(`${prefix}/`)) continue;
      pages.controller?.abort();
      this.pages.delete(key);
    }
  }

  /** Drops what was loaded for connections that went away or now point somewhere else. */
  private connectionsChanged(): void {
    const urls = new Map(this.connections.list().map((c) => [c.id, c.url]));
    for (const [id, url] of this.knownUrls) {
      if (urls.get(id) === url) continue;
      this.forgetBelow(id);
      this.nodes.delete(id);
      this.tableFilters.delete(id);
      if (!urls.has(id)) this.connected.delete(id);
    }
    this.knownUrls = urls;
    this.changed.fire(undefined);
  }

  private intern<T extends ExplorerNode>(node: T): T {
    const existing = this.nodes.get(node.id);
    if (existing !== undefined && existing.type === node.type) return existing as T;
    this.nodes.set(node.id, node);
    this.made.add(node);
    if (node.type === 'emulator' || node.type === 'environment') this.knownUrls.set(node.id, node.connection.url);
    return node;
  }

  private leaf<T extends ExplorerNode>(node: T): T {
    this.made.add(node);
    return node;
  }
}

/** What a node's children are, for messages about loading them ("the columns of Account"). */
function whatLoads(node: ExplorerNode): string {
  switch (node.type) {
    case 'tables':
      return `the tables of ${node.connection.name}`;
    case 'folder':
      return `the ${FOLDER_LABELS[node.folder].toLowerCase()} of ${node.table.displayName ?? node.table.logicalName}`;
    case 'section':
      return 'this folder';
    default:
      return 'this node';
  }
}

function newPages(filter: string | undefined): RecordPages {
  return {
    filter,
    rows: [],
    count: undefined,
    nextLink: undefined,
    started: false,
    pending: undefined,
    controller: undefined,
    error: undefined,
  };
}

function matchesTable(table: TableInfo, filter: string): boolean {
  return (
    table.logicalName.toLowerCase().includes(filter) ||
    table.entitySet.toLowerCase().includes(filter) ||
    (table.displayName?.toLowerCase().includes(filter) ?? false)
  );
}

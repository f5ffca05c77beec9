import { CODELENS_COMMANDS } from '../odata/language/protocol';

/**
 * Every id the manifest and the code share. test/unit/manifest.test.ts checks that package.json
 * contributes exactly these, so a rename cannot drift.
 */
export const Commands = {
  selectEnvironment: 'dataverse.selectEnvironment',
  runBlock: CODELENS_COMMANDS.runBlock,
  runAll: CODELENS_COMMANDS.runAll,
  getChanges: CODELENS_COMMANDS.getChanges,
  addEnvironment: 'dataverse.addEnvironment',
  removeEnvironment: 'dataverse.removeEnvironment',
  editEnvironment: 'dataverse.editEnvironment',
  testConnection: 'dataverse.testConnection',
  refreshExplorer: 'dataverse.refreshExplorer',
  newOdataFile: 'dataverse.newOdataFile',
  showLog: 'dataverse.showLog',
  startEmulator: 'dataverse.startEmulator',
  stopEmulator: 'dataverse.stopEmulator',
  // Explorer tree and records.
  connectEnvironment: 'dataverse.connectEnvironment',
  disconnectEnvironment: 'dataverse.disconnectEnvironment',
  filterTables: 'dataverse.filterTables',
  filterRecords: 'dataverse.filterRecords',
  clearRecordsFilter: 'dataverse.clearRecordsFilter',
  rerunRequest: 'dataverse.rerunRequest',
  copyRequestAsOdata: 'dataverse.copyRequestAsOdata',
  copyRequestAsCurl: 'dataverse.copyRequestAsCurl',
  clearRequestHistory: 'dataverse.clearRequestHistory',
  /** Keeps the shown result in its tab; the next run opens a new results tab. */
  pinResult: 'dataverse.pinResult',
  /** Reveals the latest request matching `{ method, path }` (a notification's "Show in History"). */
  showInHistory: 'dataverse.showInHistory',
  newTableQuery: 'dataverse.newTableQuery',
  newRecord: 'dataverse.newRecord',
  copyEntitySetName: 'dataverse.copyEntitySetName',
  copyLogicalName: 'dataverse.copyLogicalName',
  openRecord: 'dataverse.openRecord',
  deleteRecord: 'dataverse.deleteRecord',
  openRecordInWebApp: 'dataverse.openRecordInWebApp',
  cancelExplorerLoads: 'dataverse.cancelExplorerLoads',
  // Tree-node actions, hidden from the palette (the manifest test allows no `_` in contributed ids).
  loadMoreRecords: 'dataverse.loadMoreRecords',
  retryLoad: 'dataverse.retryLoad',
  // Webhooks, service endpoints, steps and images.
  registerWebhook: 'dataverse.registerWebhook',
  /** The registration form (webview): a new endpoint, or the chosen one pre-filled. */
  openRegistrationForm: 'dataverse.openRegistrationForm',
  registerServiceBusEndpoint: 'dataverse.registerServiceBusEndpoint',
  registerStep: 'dataverse.registerStep',
  registerImage: 'dataverse.registerImage',
  enableStep: 'dataverse.enableStep',
  disableStep: 'dataverse.disableStep',
  editRegistration: 'dataverse.editRegistration',
  unregister: 'dataverse.unregister',
  planWebhooks: 'dataverse.planWebhooks',
  applyWebhooks: 'dataverse.applyWebhooks',
  startWebhookInspector: 'dataverse.startWebhookInspector',
  stopWebhookInspector: 'dataverse.stopWebhookInspector',
  // Bulk import of a CSV or JSON Lines file.
  importRecords: 'dataverse.importRecords',
  // Export of a table to CSV or JSON Lines (issue 16).
  exportTable: 'dataverse.exportTable',
  // An organization's schema offline (issue 12).
  startEmulatorFromSnapshot: 'dataverse.startEmulatorFromSnapshot',
  takeSchemaSnapshot: 'dataverse.takeSchemaSnapshot',
} as const;
export type CommandId = (typeof Commands)[keyof typeof Commands];

export const ViewContainers = { dataverse: 'dataverse' } as const;

export const Views = { explorer: 'dataverse.explorer', requests: 'dataverse.requests' } as const;

/** Context keys set with `setContext`, used in `when` clauses of the manifest. */
export const ContextKeys = {
  emulatorRunning: 'dataverse.emulatorRunning',
  emulatorStarting: 'dataverse.emulatorStarting',
  /** Walkthrough steps tick on these (`onContext:` completion events), set when the real thing happened. */
  walkthroughQueryRun: 'dataverse.walkthrough.queryRun',
  walkthroughRecordSaved: 'dataverse.walkthrough.recordSaved',
  walkthroughWebhookRegistered: 'dataverse.walkthrough.webhookRegistered',
  walkthroughDeliveryReceived: 'dataverse.walkthrough.deliveryReceived',
  webhookInspectorRunning: 'dataverse.webhookInspectorRunning',
} as const;

export const Settings = {
  section: 'dataverse',
  environments: 'environments',
  traceServer: 'trace.server',
  emulatorAutoStart: 'emulator.autoStart',
  emulatorSchemaSnapshot: 'emulator.schemaSnapshot',
  explorerPageSize: 'explorer.pageSize',
  historyBodies: 'history.bodies',
} as const;

/** `contextValue` of tree items, used by `view/item/context` menus. */
export const TreeItemContexts = {
  emulator: 'emulator',
  environment: 'environment',
  problem: 'problem',
  environmentConnected: 'environmentConnected',
  tables: 'tables',
  table: 'table',
  folder: 'folder',
  records: 'records',
  /** Records shown through a $filter: they offer to clear it. */
  recordsFiltered: 'recordsFiltered',
  column: 'column',
  relationship: 'relationship',
  key: 'key',
  record: 'record',
  /** A record of a real environment: it can also be opened in the Dataverse web app. */
  recordInEnvironment: 'recordInEnvironment',
  loadMore: 'loadMore',
  loadError: 'loadError',
  message: 'message',
  webhooks: 'webhooks',
  serviceEndpoint: 'serviceEndpoint',
  /** Contracts the commands cannot register steps on (plug-in style endpoints), shown read-only. */
  serviceEndpointOther: 'serviceEndpointOther',
  stepEnabled: 'stepEnabled',
  stepDisabled: 'stepDisabled',
  stepImage: 'stepImage',
  historyEntry: 'historyEntry',
} as const;

export const LANGUAGE_ID = 'odata';
export const OUTPUT_CHANNEL_NAME = 'Dataverse Workbench';

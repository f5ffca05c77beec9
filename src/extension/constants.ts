/**
 * Every id the manifest and the code share. test/unit/manifest.test.ts checks that package.json
 * contributes exactly these, so a rename cannot drift.
 */
export const Commands = {
  addEnvironment: 'dataverse.addEnvironment',
  removeEnvironment: 'dataverse.removeEnvironment',
  refreshExplorer: 'dataverse.refreshExplorer',
  newOdataFile: 'dataverse.newOdataFile',
  showLog: 'dataverse.showLog',
  startEmulator: 'dataverse.startEmulator',
  stopEmulator: 'dataverse.stopEmulator',
} as const;
export type CommandId = (typeof Commands)[keyof typeof Commands];

export const ViewContainers = { dataverse: 'dataverse' } as const;

export const Views = { explorer: 'dataverse.explorer' } as const;

/** Context keys set with `setContext`, used in `when` clauses of the manifest. */
export const ContextKeys = { emulatorRunning: 'dataverse.emulatorRunning' } as const;

export const Settings = {
  section: 'dataverse',
  environments: 'environments',
  traceServer: 'trace.server',
  emulatorAutoStart: 'emulator.autoStart',
} as const;

/** `contextValue` of tree items, used by `view/item/context` menus. */
export const TreeItemContexts = {
  emulator: 'emulator',
  environment: 'environment',
  problem: 'problem',
} as const;

export const LANGUAGE_ID = 'odata';
export const OUTPUT_CHANNEL_NAME = 'Dataverse Workbench';

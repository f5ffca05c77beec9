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
} as const;
export type CommandId = (typeof Commands)[keyof typeof Commands];

export const ViewContainers = { dataverse: 'dataverse' } as const;

export const Views = { explorer: 'dataverse.explorer' } as const;

export const Settings = {
  section: 'dataverse',
  environments: 'environments',
  traceServer: 'trace.server',
} as const;

/** `contextValue` of tree items, used by `view/item/context` menus. */
export const TreeItemContexts = {
  environment: 'environment',
  problem: 'problem',
} as const;

export const LANGUAGE_ID = 'odata';
export const OUTPUT_CHANNEL_NAME = 'Dataverse Workbench';

/**
 * What the extension and the `.odata` language server say to each other beyond standard LSP. Both
 * sides import this file; it imports nothing.
 */

/** Sent by the extension when the active environment (its metadata or its variables) changes. */
export const SET_METADATA_NOTIFICATION = 'dataverse/setMetadata';

export interface SetMetadataParams {
  /** A `$metadata` (CSDL XML) file. */
  readonly metadataPath?: string;
  /** A cache file written by `MetadataCache`; preferred, since it loads in a fraction of the time. */
  readonly cachePath?: string;
  /** Names of the active environment's `{{variables}}`, so that uses of them are not flagged. */
  readonly environmentVariables?: readonly string[];
}

/** Command ids the extension registers for the server's CodeLens. */
export const CODELENS_COMMANDS = {
  runBlock: 'dataverse.runBlock',
  runAll: 'dataverse.runAll',
  getChanges: 'dataverse.getChanges',
} as const;

/** CodeLens arguments: serializable, so a lens survives a reload (`runAll` has no `blockIndex`). */
export interface BlockCommandArguments {
  readonly uri: string;
  readonly blockIndex: number;
}

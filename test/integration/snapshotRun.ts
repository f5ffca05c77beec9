/**
 * The second run of the suite (scripts/run-integration-tests.mjs): the `dataverse.emulator.schemaSnapshot` user
 * setting points the local emulator at a snapshot of a real organization (../shared/fixtures). The tests listed
 * here cannot hold there; each is skipped with its reason in the title, as test:snapshot does
 * (test/unit/emulator/snapshotSuite.ts).
 */
import { configuredSchemaSnapshot } from '../../src/extension/emulatorHost';

/** The snapshot the extension's local emulator serves on this run, undefined on the built-in run. */
export function snapshotRun(): string | undefined {
  return configuredSchemaSnapshot();
}

/** By full title, or by a suite's title for each of its tests. */
export const SNAPSHOT_RUN_SKIPS: ReadonlyMap<string, string> = new Map([
  [
    'local emulator shared between VS Code windows',
    "windows share only the built-in tables' emulator; one started on a schema snapshot is its window's own (emulatorHost.ts)",
  ],
  ...[
    'marks the active emulator and lists its tables with display and logical names, filterable',
    'opens a new .odata query for a table, and refuses arguments that are not its nodes',
    'renames a record in the tree and its tab on save, keeping the cursor',
  ].map((title): [string, string] => [
    `Dataverse explorer and records against the emulator ${title}`,
    "account's DisplayName and PrimaryNameAttribute are null in the fixture definition (RetrieveMetadataChanges did not ask for them)",
  ]),
  ...[
    'filters records with a $filter checked before it is sent, and shows service errors in the tree',
    'opens a record titled by its name, saves only the changes with If-Match, and keeps invalid JSON unsent',
  ].map((title): [string, string] => [
    `Dataverse explorer and records against the emulator ${title}`,
    "contact's PrimaryNameAttribute is unknown (no EntityDefinitions in the fixture), so its records have no names",
  ]),
  [
    'Dataverse explorer and records against the emulator creates a record from a template of the required columns; bad JSON and a 400 lose nothing',
    "contact's RequiredLevels are unknown (no EntityDefinitions in the fixture), so the template has no lastname",
  ],
  ...[
    'webhooks, steps and images from VS Code against the emulator plans and applies a dataverse.webhooks.json; a second apply changes nothing',
    'webhook registration form against the emulator registers a webhook with a step and an image in one Save, offering only the table’s messages',
    'webhook registration form against the emulator opens a registered endpoint pre-filled, keeps its secret, and saves only what changed',
  ].map((title): [string, string] => [
    title,
    'serviceendpoint has no EntityDefinitions in the fixture, so authvalue is not known to be write-only (IsValidForRead) and the emulator keeps no isauthvalueset for it: a set secret reads as unset',
  ]),
  [
    'Agent tools in VS Code (vscode.lm) against the emulator describe_table answers from the metadata cache',
    "account's DisplayName is null in the fixture definition (RetrieveMetadataChanges did not ask for it)",
  ],
  [
    'schema snapshots from VS Code (issue 12) takes a snapshot of an environment node, then starts the emulator on it: the same tables and $metadata',
    'a snapshot of the EntityDefinitions of all 831 tables takes minutes; the table-subset test takes this run’s round trip',
  ],
]);

export function snapshotRunSkip(fullTitle: string): string | undefined {
  for (const [title, reason] of SNAPSHOT_RUN_SKIPS) {
    if (fullTitle === title || fullTitle.startsWith(`${title} `)) return reason;
  }
  return undefined;
}

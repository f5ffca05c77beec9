/**
 * `dvw env snapshot`: downloads an organization's schema (never its records) into the snapshot format of
 * src/metadata/schemaSnapshot.ts. Resumable: the manifest is written first with `complete: false`, each table's
 * file is written whole (temporary file, then rename), and a run that finds a table's file already there, for
 * the same source, skips it. Throttling (429 with Retry-After) is the WebApiClient's retry policy.
 */
import { access, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeWholeFile } from './wholeFile';
import { WorkbenchError } from '../core/errors';
import { parseCsdl } from '../metadata/csdl';
import type { SnapshotManifest, SnapshotTable } from '../metadata/schemaSnapshot';
import {
  definitionFile,
  entityTables,
  MANIFEST_FILE,
  METADATA_FILE,
  readManifest,
  selectTables,
  SNAPSHOT_FORMAT,
  SNAPSHOT_VERSION,
  trimCsdl,
} from '../metadata/schemaSnapshot';
import type { JsonObject } from '../core/json';
import { isJsonObject } from '../core/json';
import type { WebApiClient } from './webApiClient';

export interface SnapshotOptions {
  readonly client: WebApiClient;
  /** The Web API root, recorded in the manifest. */
  readonly source: string;
  readonly folder: string;
  /** `--tables`: logical names, `*` wildcards; all tables when absent. */
  readonly tables?: readonly string[];
  /** One line per step, for stderr. */
  readonly progress?: (line: string) => void;
  readonly now?: () => Date;
  readonly signal?: AbortSignal;
}

export interface SnapshotResult {
  readonly tables: number;
  /** Tables whose file an earlier, interrupted run had already written. */
  readonly reused: number;
}

/** The attribute casts whose option sets the emulator needs (choice, choices, state, status, and yes/no labels). */
const OPTION_SET_CASTS: ReadonlyMap<string, string> = new Map([
  ['Picklist', 'PicklistAttributeMetadata'],
  ['State', 'StateAttributeMetadata'],
  ['Status', 'StatusAttributeMetadata'],
  ['MultiSelectPicklist', 'MultiSelectPicklistAttributeMetadata'],
  ['Boolean', 'BooleanAttributeMetadata'],
]);

const EXPAND = 'Attributes,Keys,OneToManyRelationships,ManyToOneRelationships,ManyToManyRelationships';

async function readJsonIfAny(file: string): Promise<unknown> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as unknown;
  } catch {
    return undefined;
  }
}

function attributeKind(attribute: JsonObject): string | undefined {
  const type = attribute['@odata.type'];
  if (typeof type === 'string' && type.endsWith('MultiSelectPicklistAttributeMetadata')) return 'MultiSelectPicklist';
  return typeof attribute.AttributeType === 'string' ? attribute.AttributeType : undefined;
}

/** One table's EntityMetadata with its option sets put on their attributes. */
async function downloadDefinition(
  client: WebApiClient,
  logicalName: string,
  signal?: AbortSignal,
): Promise<JsonObject> {
  const options = signal === undefined ? {} : { signal };
  const key = `EntityDefinitions(LogicalName='${logicalName}')`;
  const entity = await client.get(`${key}?$expand=${EXPAND}`, options);
  delete entity['@odata.context'];
  const attributes = Array.isArray(entity.Attributes) ? entity.Attributes.filter(isJsonObject) : [];
  const kinds = new Set(attributes.map(attributeKind));
  for (const [kind, cast] of OPTION_SET_CASTS) {
    if (!kinds.has(kind)) continue;
    const answer = await client.get(
      `${key}/Attributes/Microsoft.Dynamics.CRM.${cast}?$select=LogicalName&$expand=OptionSet,GlobalOptionSet`,
      options,
    );
    const byName = new Map(
      (Array.isArray(answer.value) ? answer.value.filter(isJsonObject) : []).map((a) => [a.LogicalName, a]),
    );
    for (const attribute of attributes) {
      const found = byName.get(attribute.LogicalName);
      if (found === undefined) continue;
      if (found.OptionSet !== undefined) attribute.OptionSet = found.OptionSet;
      // null (a local option set) says no more than its absence, and keeps a snapshot of a snapshot the same.
      if (found.GlobalOptionSet !== undefined && found.GlobalOptionSet !== null) {
        attribute.GlobalOptionSet = found.GlobalOptionSet;
      }
    }
  }
  return entity;
}

/** Downloads the snapshot into `folder` (created when missing), resuming an earlier run there. */
export async function takeSnapshot(options: SnapshotOptions): Promise<SnapshotResult> {
  const { client, folder } = options;
  const progress = options.progress ?? (() => undefined);
  const signal = options.signal;
  progress('downloading $metadata…');
  const response = await client.request({
    method: 'GET',
    path: '$metadata',
    headers: { Accept: 'application/xml' },
    ...(signal === undefined ? {} : { signal }),
  });
  if (typeof response.body !== 'string') throw new WorkbenchError('odata', 'The $metadata answer is not XML.');
  const { model, errors } = parseCsdl(response.body);
  if (errors.length > 0 || model.entityTypes.size === 0) {
    throw new WorkbenchError(
      'odata',
      `The $metadata answer is not a CSDL document (${errors[0]?.message ?? 'no types'}).`,
    );
  }
  const all = entityTables(model);
  let kept = new Set(all.map((t) => t.logicalName));
  if (options.tables !== undefined) {
    const selection = selectTables(model, options.tables);
    if (selection.unmatched.length > 0) {
      throw new WorkbenchError(
        'invalidInput',
        `Of the tables to keep, no table matches ${selection.unmatched.map((p) => `'${p}'`).join(', ')}.`,
      );
    }
    kept = new Set(selection.kept);
  }
  const tables: SnapshotTable[] = all
    .filter((t) => kept.has(t.logicalName))
    .map((t) => ({
      logicalName: t.logicalName,
      entitySetName: t.entitySetName,
      definition: definitionFile(t.logicalName),
    }));

  const manifestFile = join(folder, MANIFEST_FILE);
  const previous = readManifest(await readJsonIfAny(manifestFile)).manifest;
  const resuming = previous !== undefined && previous.source === options.source;
  const manifest = (complete: boolean): SnapshotManifest => ({
    format: SNAPSHOT_FORMAT,
    version: SNAPSHOT_VERSION,
    source: options.source,
    takenAt: (options.now ?? (() => new Date()))().toISOString(),
    complete,
    tables,
  });
  await writeWholeFile(manifestFile, `${JSON.stringify(manifest(false), null, 2)}\n`);
  await writeWholeFile(join(folder, METADATA_FILE), trimCsdl(response.body, model, kept));

  let reused = 0;
  let index = 0;
  for (const table of tables) {
    index++;
    const file = join(folder, definitionFile(table.logicalName));
    if (resuming) {
      const existing = await readJsonIfAny(file);
      if (isJsonObject(existing) && existing.LogicalName === table.logicalName) {
        reused++;
        continue;
      }
    }
    progress(`[${index}/${tables.length}] ${table.logicalName}`);
    const definition = await downloadDefinition(client, table.logicalName, signal);
    await writeWholeFile(file, `${JSON.stringify(definition, null, 2)}\n`);
  }
  await writeWholeFile(manifestFile, `${JSON.stringify(manifest(true), null, 2)}\n`);
  progress(
    `snapshot of ${tables.length} tables written to ${folder}${reused > 0 ? ` (${reused} kept from an earlier run)` : ''}`,
  );
  return { tables: tables.length, reused };
}

/**
 * Checks that `folder` holds a finished snapshot before an emulator process is started on it; the emulator
 * itself then checks every file and names the element at fault.
 */
export async function checkSnapshotFolder(folder: string): Promise<SnapshotManifest> {
  const manifestFile = join(folder, MANIFEST_FILE);
  let text: string;
  try {
    text = await readFile(manifestFile, 'utf8');
  } catch {
    throw new WorkbenchError(
      'invalidInput',
      `The folder ${folder} holds no schema snapshot: it has no ${MANIFEST_FILE}. ` +
        'Take one with "Take Schema Snapshot…" on an environment, or with dvw env snapshot.',
    );
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new WorkbenchError(
      'invalidInput',
      `The schema snapshot in ${folder} cannot be read: ${MANIFEST_FILE} is not valid JSON. Take the snapshot again.`,
    );
  }
  const { manifest, problems } = readManifest(value);
  if (manifest === undefined) {
    throw new WorkbenchError(
      'invalidInput',
      `The schema snapshot in ${folder} cannot be read: in ${MANIFEST_FILE}, ${problems.slice(0, 3).join('; ')}.`,
    );
  }
  if (!manifest.complete) {
    throw new WorkbenchError(
      'invalidInput',
      `The schema snapshot in ${folder} did not finish downloading. Take it again into the same folder to resume it.`,
    );
  }
  try {
    await access(join(folder, METADATA_FILE));
    return manifest;
  } catch {
    throw new WorkbenchError(
      'invalidInput',
      `The schema snapshot in ${folder} has no ${METADATA_FILE}. Take the snapshot again.`,
    );
  }
}

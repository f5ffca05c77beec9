/**
 * The schema snapshot format (docs/emulator.md, "Your org's schema offline"): a folder holding
 *
 * - `snapshot.json`: the manifest (format name and version, source URL, when it was taken, the tables kept);
 * - `$metadata.xml`: the CSDL document exactly as Dataverse served it, trimmed to the tables kept;
 * - `tables/<logicalname>.json`: each table's `EntityMetadata` as `EntityDefinitions(LogicalName='x')` answers
 *   with `Attributes`, `Keys` and the three relationship collections expanded, option sets inline on their attributes.
 *
 * Written by `dvw env snapshot` (src/dataverse/schemaSnapshot.ts), read by the emulator (src/emulator/schema).
 * Pure: callers read and write the files.
 */
import type { EntityType, MetadataModel } from './model';
import { isJsonObject } from '../core/json';

export const SNAPSHOT_FORMAT = 'dvw-schema-snapshot';
export const SNAPSHOT_VERSION = 1;
export const MANIFEST_FILE = 'snapshot.json';
export const METADATA_FILE = '$metadata.xml';

/** The file of a table's EntityMetadata, relative to the snapshot folder. */
export function definitionFile(logicalName: string): string {
  return `tables/${logicalName}.json`;
}

export interface SnapshotTable {
  readonly logicalName: string;
  readonly entitySetName: string;
  /** Relative path of the table's EntityMetadata JSON; absent when the snapshot holds only `$metadata`. */
  readonly definition?: string;
}

export interface SnapshotManifest {
  readonly format: typeof SNAPSHOT_FORMAT;
  readonly version: typeof SNAPSHOT_VERSION;
  /** The Web API root the snapshot was taken from. */
  readonly source: string;
  /** ISO 8601. */
  readonly takenAt: string;
  /** False while a download is under way: the tables listed are the plan, not all of them are on disk yet. */
  readonly complete: boolean;
  readonly tables: readonly SnapshotTable[];
}

/** Checks a parsed `snapshot.json`; problems name the field. */
export function readManifest(value: unknown): { manifest?: SnapshotManifest; problems: string[] } {
  const problems: string[] = [];
  if (!isJsonObject(value)) return { problems: ['the manifest must be a JSON object'] };
  if (value.format !== SNAPSHOT_FORMAT) {
    return {
      problems: [`"format" is ${JSON.stringify(value.format)}, not "${SNAPSHOT_FORMAT}": not a schema snapshot`],
    };
  }
  if (value.version !== SNAPSHOT_VERSION) {
    return {
      problems: [
        `"version" is ${JSON.stringify(value.version)}; this dvw reads version ${SNAPSHOT_VERSION} (take the snapshot again with this dvw)`,
      ],
    };
  }
  for (const key of ['source', 'takenAt'] as const) {
    if (typeof value[key] !== 'string') problems.push(`"${key}" must be a string`);
  }
  if (typeof value.complete !== 'boolean') problems.push('"complete" must be true or false');
  const tables: SnapshotTable[] = [];
  if (!Array.isArray(value.tables)) problems.push('"tables" must be an array');
  else {
    const seen = new Set<string>();
    value.tables.forEach((item: unknown, index) => {
      const at = `"tables"[${index}]`;
      if (!isJsonObject(item) || typeof item.logicalName !== 'string' || typeof item.entitySetName !== 'string') {
        problems.push(`${at} must be an object with logicalName and entitySetName`);
        return;
      }
      if (!/^[a-z][a-z0-9_]*$/.test(item.logicalName)) {
        problems.push(`${at}.logicalName '${item.logicalName}' is not a logical name`);
        return;
      }
      if (seen.has(item.logicalName)) problems.push(`${at}: table '${item.logicalName}' is listed twice`);
      seen.add(item.logicalName);
      if (item.definition !== undefined && item.definition !== definitionFile(item.logicalName)) {
        problems.push(`${at}.definition must be "${definitionFile(item.logicalName)}"`);
        return;
      }
      tables.push({
        logicalName: item.logicalName,
        entitySetName: item.entitySetName,
        ...(item.definition === undefined ? {} : { definition: item.definition }),
      });
    });
  }
  if (problems.length > 0) return { problems };
  return {
    manifest: {
      format: SNAPSHOT_FORMAT,
      version: SNAPSHOT_VERSION,
      source: value.source as string,
      takenAt: value.takenAt as string,
      complete: value.complete as boolean,
      tables,
    },
    problems,
  };
}

/** `mscrm.account`, `Microsoft.Dynamics.CRM.account` → `account` (for the model's namespace and alias). */
const DOT = 46;

export function localTypeName(model: MetadataModel, qualified: string): string | undefined {
  // Called for every property and navigation of a document: no array or string is built to ask.
  const { namespace, alias } = model;
  if (qualified.charCodeAt(namespace.length) === DOT && qualified.startsWith(namespace)) {
    return qualified.slice(namespace.length + 1);
  }
  if (alias !== undefined && qualified.charCodeAt(alias.length) === DOT && qualified.startsWith(alias)) {
    return qualified.slice(alias.length + 1);
  }
  return undefined;
}

/** The chain of base types above `type`, nearest first (`task` → activitypointer, crmbaseentity). */
export function baseChain(model: MetadataModel, type: EntityType): EntityType[] {
  const chain: EntityType[] = [];
  let current = type;
  while (current.baseType !== undefined && chain.length < 16) {
    const name = localTypeName(model, current.baseType);
    const base = name === undefined ? undefined : model.entityTypes.get(name);
    if (base === undefined) break;
    chain.push(base);
    current = base;
  }
  return chain;
}

/** Types every table derives from. */
export const ROOT_ENTITY_TYPE = 'crmbaseentity';

/** A Dataverse table of the document: an entity set whose type derives from `crmbaseentity`. */
export interface EntityTable {
  readonly logicalName: string;
  readonly entitySetName: string;
  readonly type: EntityType;
}

/** The tables of a `$metadata` document (metadata sets such as `EntityDefinitions` are not tables). */
export function entityTables(model: MetadataModel): EntityTable[] {
  const tables: EntityTable[] = [];
  for (const set of model.entitySets.values()) {
    const name = localTypeName(model, set.entityType);
    const type = name === undefined ? undefined : model.entityTypes.get(name);
    if (name === undefined || type === undefined) continue;
    if (!baseChain(model, type).some((t) => t.name === ROOT_ENTITY_TYPE)) continue;
    tables.push({ logicalName: name, entitySetName: set.name, type });
  }
  return tables;
}

/**
 * Tables the emulator cannot run without (callers of WhoAmI, owners, currencies), kept by every `--tables`
 * subset.
 */
export const REQUIRED_TABLES: readonly string[] = ['systemuser', 'team', 'businessunit', 'transactioncurrency'];

/** A logical name, or a pattern of one with `*` for any run of characters (`contoso_*`). */
const TABLE_PATTERN = /^[a-z0-9_*]+$/;

/**
 * A `--tables` list as a person types it (`account, Contact,contoso_*`): its patterns, lower-cased, and the
 * entries that are neither a logical name nor a pattern of one. Empty entries are dropped.
 */
export function parseTableList(text: string): { readonly patterns: string[]; readonly invalid: string[] } {
  const entries = text
    .split(',')
    .map((entry) => entry.trim().toLowerCase())
    .filter((entry) => entry.length > 0);
  return {
    patterns: entries.filter((entry) => TABLE_PATTERN.test(entry)),
    invalid: entries.filter((entry) => !TABLE_PATTERN.test(entry)),
  };
}

/**
 * The tables a `--tables a,b,prefix_*` list keeps: the ones named (`*` matches any run of characters), the
 * required ones and the base tables of each (`activitypointer` for an activity). Navigations to tables left out
 * are dropped from the CSDL rather than their targets kept: in a real org almost every table reaches almost
 * every other through a few navigations, so the closure would be the whole org.
 */
export function selectTables(
  model: MetadataModel,
  patterns: readonly string[],
): { readonly kept: ReadonlySet<string>; readonly unmatched: readonly string[] } {
  const tables = entityTables(model);
  const byName = new Map(tables.map((t) => [t.logicalName, t]));
  const kept = new Set<string>();
  const unmatched: string[] = [];
  for (const pattern of patterns) {
    const regex = new RegExp(`^${pattern.split('*').map(escapeRegExp).join('.*')}$`);
    const matches = tables.filter((t) => regex.test(t.logicalName));
    if (matches.length === 0) unmatched.push(pattern);
    for (const t of matches) kept.add(t.logicalName);
  }
  for (const name of REQUIRED_TABLES) if (byName.has(name)) kept.add(name);
  for (const name of [...kept]) {
    const table = byName.get(name);
    if (table === undefined) continue;
    for (const base of baseChain(model, table.type)) if (byName.has(base.name)) kept.add(base.name);
  }
  return { kept, unmatched };
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

const ELEMENT = (name: string): RegExp => new RegExp(`<${name}\\b[^>]*?(?:/>|>[\\s\\S]*?</${name}>)`, 'g');
const ENTITY_TYPE = ELEMENT('EntityType');
const COMPLEX_TYPE = ELEMENT('ComplexType');
const NAVIGATION_PROPERTY = ELEMENT('NavigationProperty');
const ENTITY_SET = ELEMENT('EntitySet');
const BINDING = /<NavigationPropertyBinding\b[^>]*?\/>/g;
const OPERATION = /<(Action|Function)\b[^>]*?(?:\/>|>[\s\S]*?<\/\1>)/g;
const IMPORT = /<(ActionImport|FunctionImport)\b[^>]*?(?:\/>|>[\s\S]*?<\/\1>)/g;

function attribute(element: string, name: string): string | undefined {
  const match = new RegExp(`\\s${name}="([^"]*)"`).exec(element.slice(0, element.indexOf('>') + 1));
  return match?.[1];
}

/**
 * The document with the tables not in `kept` taken out: their entity types and sets, and every navigation
 * property, binding, action and function that names them. Everything else is left byte for byte, so trimming
 * a document to all of its tables returns it unchanged.
 */
export function trimCsdl(xml: string, model: MetadataModel, kept: ReadonlySet<string>): string {
  const dropped = new Set(
    entityTables(model)
      .map((t) => t.logicalName)
      .filter((name) => !kept.has(name)),
  );
  if (dropped.size === 0) return xml;
  const droppedSets = new Set(
    entityTables(model)
      .filter((t) => dropped.has(t.logicalName))
      .map((t) => t.entitySetName),
  );
  const prefixes = [model.namespace, model.alias].filter((p): p is string => p !== undefined);
  const namesDropped = (text: string): boolean => {
    for (const match of text.matchAll(/(?:Type|EntityType|BaseType)="(?:Collection\()?([^")]+)\)?"/g)) {
      const qualified = match[1] ?? '';
      for (const prefix of prefixes) {
        if (qualified.startsWith(`${prefix}.`) && dropped.has(qualified.slice(prefix.length + 1))) return true;
      }
    }
    return false;
  };
  const withoutNavigations = (element: string): string =>
    element.replace(NAVIGATION_PROPERTY, (navigation) => (namesDropped(navigation) ? '' : navigation));
  let out = xml.replace(ENTITY_TYPE, (element) => {
    const name = attribute(element, 'Name');
    if (name !== undefined && dropped.has(name)) return '';
    return withoutNavigations(element);
  });
  out = out.replace(COMPLEX_TYPE, withoutNavigations);
  const droppedOperations = new Set<string>();
  const keptOperations = new Set<string>();
  out = out.replace(OPERATION, (element) => {
    const name = attribute(element, 'Name') ?? '';
    if (namesDropped(element)) {
      droppedOperations.add(name);
      return '';
    }
    keptOperations.add(name);
    return element;
  });
  out = out.replace(ENTITY_SET, (element) => {
    if (namesDropped(element.slice(0, element.indexOf('>') + 1))) return '';
    return element.replace(BINDING, (binding) => {
      const target = attribute(binding, 'Target') ?? '';
      const path = attribute(binding, 'Path') ?? '';
      const castDropped = path
        .split('/')
        .some((segment) =>
          prefixes.some((p) => segment.startsWith(`${p}.`) && dropped.has(segment.slice(p.length + 1))),
        );
      return droppedSets.has(target) || castDropped ? '' : binding;
    });
  });
  out = out.replace(IMPORT, (element) => {
    const target = attribute(element, 'Action') ?? attribute(element, 'Function') ?? '';
    const name = target.slice(target.lastIndexOf('.') + 1);
    const set = attribute(element, 'EntitySet');
    if (set !== undefined && droppedSets.has(set)) return '';
    return droppedOperations.has(name) && !keptOperations.has(name) ? '' : element;
  });
  return out;
}

/**
 * Writes the emulator's built-in tables as a schema snapshot (src/emulator/schema/builtin-snapshot/), in the format
 * `dvw env snapshot` writes, so the emulator has one way to read a schema. Run after changing its inputs:
 *
 *   node --import tsx scripts/make-builtin-snapshot.ts
 *
 * Inputs:
 * - `../shared/fixtures/metadata/dataverse-v9.edmx.xml`, a real organization's `$metadata`. `$metadata.xml` is it
 *   trimmed to the built-in tables (and their base types and N:N intersect tables), each keeping the columns and
 *   navigation properties the built-in tables have, with the three functions the emulator answers and the complex
 *   types they return. Every kept element is the real one, byte for byte.
 * - `../shared/fixtures/entitydefinitions/*-metadata.json`, real EntityDefinitions of account and opportunity.
 * - `scripts/builtin-snapshot/builtin-tables.json` (the `--schema` file format): what the real fixtures do not
 *   say for the built-in tables: which columns they keep, and the EntityDefinitions facts the fixtures lack (max
 *   lengths, option sets, required levels, alternate keys, ownership, primary names, change tracking).
 *
 * `tables/<name>.json` is what `dvw env snapshot` downloads from an emulator serving builtin-tables.json, with the
 * real fixture's non-null values laid over it for account and opportunity (labels, option sets, ids).
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isJsonObject } from '../src/core/json';
import { takeSnapshot } from '../src/dataverse/schemaSnapshot';
import { staticTokenProvider, WebApiClient, webApiRoot } from '../src/dataverse/webApiClient';
import { generateCsdl } from '../src/emulator/csdl';
import type { Schema } from '../src/emulator/schema/schema';
import { parseSchema } from '../src/emulator/schema/schema';
import { startEmulator } from '../src/emulator/server';
import { parseCsdl } from '../src/metadata/csdl';
import type { MetadataModel } from '../src/metadata/model';
import type { SnapshotManifest } from '../src/metadata/schemaSnapshot';
import {
  baseChain,
  definitionFile,
  entityTables,
  localTypeName,
  MANIFEST_FILE,
  METADATA_FILE,
  SNAPSHOT_FORMAT,
  SNAPSHOT_VERSION,
} from '../src/metadata/schemaSnapshot';

type Json = Record<string, unknown>;

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const FIXTURES = join(ROOT, '..', 'shared', 'fixtures');
const REAL_METADATA = join(FIXTURES, 'metadata', 'dataverse-v9.edmx.xml');
const REAL_DEFINITIONS = join(FIXTURES, 'entitydefinitions');
const KNOWLEDGE = join(ROOT, 'scripts', 'builtin-snapshot', 'builtin-tables.json');
const OUT = join(ROOT, 'src', 'emulator', 'schema', 'builtin-snapshot');
/** The organization the fixtures were taken from. */
const SOURCE = 'https://org1bfe9950.api.crm3.dynamics.com/api/data/v9.2/';
/** Fixed, so that running the script again on the same inputs changes nothing. */
const TAKEN_AT = '2024-01-01T00:00:00.000Z';
/** The functions routes/operations.ts answers; other operations are left out with the tables they name. */
const FUNCTIONS = new Set(['WhoAmI', 'RetrieveVersion', 'RetrieveTotalRecordCount']);
/** Entity types kept that are not tables: the root type and the open type of `expando` answers. */
const NON_TABLE_TYPES = ['crmbaseentity', 'expando'];

const TOP_LEVEL =
  /<(EntityType|ComplexType|EnumType|Term|Action|Function|EntityContainer)\b[^>]*?(?:\/>|>[\s\S]*?<\/\1>)/g;
const PROPERTY = /<Property\b[^>]*?\/>/g;
const NAVIGATION = /<NavigationProperty\b[^>]*?(?:\/>|>[\s\S]*?<\/NavigationProperty>)/g;
const ALTERNATE_KEYS = /<Annotation Term="Keys\.AlternateKeys">[\s\S]*?<\/Annotation>/g;
const ENTITY_SET = /<EntitySet\b[^>]*?(?:\/>|>[\s\S]*?<\/EntitySet>)/g;
const BINDING = /<NavigationPropertyBinding\b[^>]*?\/>/g;
const IMPORT = /<(ActionImport|FunctionImport)\b[^>]*?(?:\/>|>[\s\S]*?<\/\1>)/g;

function attribute(element: string, name: string): string | undefined {
  const open = element.slice(0, element.indexOf('>') + 1);
  return new RegExp(`\\s${name}="([^"]*)"`).exec(open)?.[1];
}

/** Per entity type, the property and navigation property names the built-in tables declare on it. */
interface Members {
  readonly properties: Set<string>;
  readonly navigations: Set<string>;
  readonly keys: string;
}

function membersOf(knowledgeCsdl: string, model: MetadataModel): Map<string, Members> {
  const members = new Map<string, Members>();
  for (const element of knowledgeCsdl.match(TOP_LEVEL) ?? []) {
    if (!element.startsWith('<EntityType')) continue;
    const name = attribute(element, 'Name') ?? '';
    members.set(name, {
      properties: new Set([...element.matchAll(PROPERTY)].map((m) => attribute(m[0], 'Name') ?? '')),
      navigations: new Set([...element.matchAll(NAVIGATION)].map((m) => attribute(m[0], 'Name') ?? '')),
      keys: element.match(ALTERNATE_KEYS)?.[0] ?? '',
    });
  }
  // A base type keeps what its kept derived types inherit from it (activitypointer: task's subject).
  for (const [name, own] of [...members]) {
    const type = model.entityTypes.get(name);
    if (type === undefined) continue;
    for (const base of baseChain(model, type)) {
      const entry = members.get(base.name) ?? { properties: new Set(), navigations: new Set(), keys: '' };
      members.set(base.name, entry);
      for (const p of base.properties) if (own.properties.has(p.name)) entry.properties.add(p.name);
      for (const n of base.navigationProperties) if (own.navigations.has(n.name)) entry.navigations.add(n.name);
    }
  }
  return members;
}

/** The complex types the kept functions return, and the complex types those name, transitively. */
function complexClosure(functions: readonly string[], complexTypes: ReadonlyMap<string, string>): Set<string> {
  const kept = new Set<string>();
  const pending = [...functions];
  while (pending.length > 0) {
    const element = pending.pop() ?? '';
    for (const match of element.matchAll(/Type="(?:Collection\()?mscrm\.([A-Za-z0-9_]+)\)?"/g)) {
      const name = match[1] ?? '';
      const complex = complexTypes.get(name);
      if (complex === undefined || kept.has(name)) continue;
      kept.add(name);
      pending.push(complex);
    }
  }
  return kept;
}

/** The real `$metadata` trimmed to the kept types, members, functions and entity sets. */
function trimRealCsdl(real: string, model: MetadataModel, knowledge: Schema): string {
  const members = membersOf(generateCsdl(knowledge), model);
  const intersects = knowledge.manyToMany.map((m) => m.intersect);
  const tables = new Set([...knowledge.tables.keys(), ...intersects]);
  for (const name of [...tables]) {
    const type = model.entityTypes.get(name);
    if (type === undefined) throw new Error(`${REAL_METADATA}: no entity type '${name}'`);
    for (const base of baseChain(model, type)) tables.add(base.name);
  }
  const types = new Set([...tables, ...NON_TABLE_TYPES, 'principal']);
  const elements = real.match(TOP_LEVEL) ?? [];
  const complexTypes = new Map<string, string>();
  for (const element of elements) {
    if (element.startsWith('<ComplexType')) complexTypes.set(attribute(element, 'Name') ?? '', element);
  }
  const functions = elements.filter(
    (e) =>
      e.startsWith('<Function') && FUNCTIONS.has(attribute(e, 'Name') ?? '') && attribute(e, 'IsBound') === undefined,
  );
  const complexKept = complexClosure(functions, complexTypes);
  const keptType = (qualified: string): boolean => {
    const name = localTypeName(model, qualified.replace(/^Collection\((.*)\)$/, '$1'));
    return name !== undefined && types.has(name);
  };

  const out: string[] = [];
  for (const element of elements) {
    const name = attribute(element, 'Name') ?? '';
    if (element.startsWith('<EntityType')) {
      if (!types.has(name)) continue;
      // Intersect tables keep every column (the two keys); the others, the built-in tables' columns.
      const own = members.get(name);
      const whole = own === undefined && intersects.includes(name);
      let kept = element
        .replace(PROPERTY, (p) => (whole || own?.properties.has(attribute(p, 'Name') ?? '') === true ? p : ''))
        .replace(NAVIGATION, (n) =>
          own?.navigations.has(attribute(n, 'Name') ?? '') === true && keptType(attribute(n, 'Type') ?? '') ? n : '',
        )
        .replace(ALTERNATE_KEYS, '');
      if (own !== undefined && own.keys !== '') kept = kept.replace(/<\/EntityType>$/, `${own.keys}</EntityType>`);
      out.push(kept);
    } else if (element.startsWith('<ComplexType')) {
      if (complexKept.has(name)) out.push(element);
    } else if (element.startsWith('<Term')) {
      out.push(element);
    } else if (element.startsWith('<Function')) {
      if (functions.includes(element)) out.push(element);
    } else if (element.startsWith('<EntityContainer')) {
      out.push(trimContainer(element, model, types, members));
    }
  }
  const schemaOpen = /<Schema\b[^>]*>/.exec(real);
  if (schemaOpen === null) throw new Error(`${REAL_METADATA}: no <Schema>`);
  return `${real.slice(0, schemaOpen.index + schemaOpen[0].length)}${out.join('')}</Schema></edmx:DataServices></edmx:Edmx>`;
}

function trimContainer(
  container: string,
  model: MetadataModel,
  types: ReadonlySet<string>,
  members: ReadonlyMap<string, Members>,
): string {
  const sets = new Map<string, string>();
  for (const set of model.entitySets.values()) {
    const name = localTypeName(model, set.entityType);
    if (name !== undefined && types.has(name)) sets.set(set.name, name);
  }
  const navigationsOf = (typeName: string): Set<string> => {
    const type = model.entityTypes.get(typeName);
    const names = new Set(members.get(typeName)?.navigations ?? []);
    for (const base of type === undefined ? [] : baseChain(model, type)) {
      for (const n of members.get(base.name)?.navigations ?? []) names.add(n);
    }
    return names;
  };
  return container
    .replace(ENTITY_SET, (set) => {
      const typeName = sets.get(attribute(set, 'Name') ?? '');
      if (typeName === undefined) return '';
      const navigations = navigationsOf(typeName);
      return set.replace(BINDING, (binding) =>
        navigations.has(attribute(binding, 'Path') ?? '') && sets.has(attribute(binding, 'Target') ?? '')
          ? binding
          : '',
      );
    })
    .replace(IMPORT, (element) => {
      const target = attribute(element, 'Function') ?? '';
      return FUNCTIONS.has(target.slice(target.lastIndexOf('.') + 1)) && attribute(element, 'EntitySet') === undefined
        ? element
        : '';
    });
}

/** The real definition's non-null values over the emulator's, attribute by attribute; navigations stay the emulator's. */
function overlayDefinition(emulator: Json, real: Json): Json {
  const out: Json = { ...emulator };
  for (const [key, value] of Object.entries(real)) {
    if (value === null || key.startsWith('@odata.') || Array.isArray(value)) continue;
    out[key] = value;
  }
  const realAttributes = new Map(
    (Array.isArray(real.Attributes) ? real.Attributes : [])
      .filter(isJsonObject)
      .map((a) => [a.LogicalName, a] as const),
  );
  out.Attributes = (Array.isArray(emulator.Attributes) ? emulator.Attributes : []).filter(isJsonObject).map((a) => {
    const fromReal = realAttributes.get(a.LogicalName);
    if (fromReal === undefined) return a;
    const merged: Json = { ...a };
    for (const [key, value] of Object.entries(fromReal)) {
      if (value !== null && !key.startsWith('@odata.')) merged[key] = value;
    }
    return merged;
  });
  return out;
}

function realDefinition(table: string): Json | undefined {
  const file = join(REAL_DEFINITIONS, `${table}-metadata.json`);
  if (!readdirSync(REAL_DEFINITIONS).includes(`${table}-metadata.json`)) return undefined;
  const answer = JSON.parse(readFileSync(file, 'utf8')) as { EntityMetadata?: Json[] };
  return answer.EntityMetadata?.[0];
}

/** Writes the built-in snapshot into `out` (emptied first); returns a line saying what it wrote. */
export async function writeBuiltinSnapshot(out: string): Promise<string> {
  const knowledge = parseSchema(JSON.parse(readFileSync(KNOWLEDGE, 'utf8')), KNOWLEDGE);
  const real = readFileSync(REAL_METADATA, 'utf8');
  const { model } = parseCsdl(real);
  const csdl = trimRealCsdl(real, model, knowledge);
  const trimmed = parseCsdl(csdl);
  if (trimmed.errors.length > 0) throw new Error(`trimmed $metadata: ${trimmed.errors[0]?.message ?? ''}`);

  // The EntityDefinitions of the built-in tables, downloaded as `dvw env snapshot` does from an emulator serving them.
  const scratch = mkdtempSync(join(tmpdir(), 'dvw-builtin-snapshot-'));
  const emulator = await startEmulator({ port: 0, seed: 'none', schema: knowledge });
  try {
    await takeSnapshot({
      client: new WebApiClient({ url: emulator.url, tokenProvider: staticTokenProvider(emulator.token) }),
      source: webApiRoot(emulator.url),
      folder: scratch,
    });
    rmSync(out, { recursive: true, force: true });
    mkdirSync(join(out, 'tables'), { recursive: true });
    const manifest: SnapshotManifest = {
      format: SNAPSHOT_FORMAT,
      version: SNAPSHOT_VERSION,
      source: SOURCE,
      takenAt: TAKEN_AT,
      complete: true,
      tables: entityTables(trimmed.model).map((t) => {
        if (!knowledge.tables.has(t.logicalName)) return { logicalName: t.logicalName, entitySetName: t.entitySetName };
        const downloaded = JSON.parse(readFileSync(join(scratch, definitionFile(t.logicalName)), 'utf8')) as Json;
        const fixture = realDefinition(t.logicalName);
        const definition = fixture === undefined ? downloaded : overlayDefinition(downloaded, fixture);
        writeFileSync(join(out, definitionFile(t.logicalName)), `${JSON.stringify(definition, null, 2)}\n`);
        return {
          logicalName: t.logicalName,
          entitySetName: t.entitySetName,
          definition: definitionFile(t.logicalName),
        };
      }),
    };
    writeFileSync(join(out, METADATA_FILE), csdl);
    writeFileSync(join(out, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
    return `built-in snapshot: ${manifest.tables.length} tables, ${csdl.length} bytes of $metadata, in ${out}`;
  } finally {
    await emulator.close();
    rmSync(scratch, { recursive: true, force: true });
  }
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  writeBuiltinSnapshot(OUT).then(
    (line) => console.log(line),
    (error: unknown) => {
      console.error(error);
      process.exitCode = 1;
    },
  );
}

/**
 * Reading a schema snapshot folder (format: src/metadata/schemaSnapshot.ts, docs/emulator.md) or a bare
 * `$metadata` file into the emulator's Schema. Every problem is a SchemaError naming the file and the element;
 * nothing is returned until everything has been read and checked.
 */
import { isAscii } from 'node:buffer';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseCsdl } from '../../metadata/csdl';
import { MANIFEST_FILE, METADATA_FILE, readManifest } from '../../metadata/schemaSnapshot';
import { schemaFromMetadata } from './fromMetadata';
import type { Schema } from './schema';
import { SchemaError } from './schema';

function readText(path: string): string {
  try {
    const bytes = readFileSync(path);
    // `$metadata` is ASCII: read as such it needs no UTF-8 decoding (a third of the read's time for 8.5 MB).
    return isAscii(bytes) ? bytes.toString('latin1') : bytes.toString('utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new SchemaError(path, [
      code === 'ENOENT' ? 'the file does not exist' : `cannot read the file (${code ?? String(error)})`,
    ]);
  }
}

function readJson(path: string): unknown {
  const text = readText(path);
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new SchemaError(path, [
      `not valid JSON (${error instanceof Error ? error.message : String(error)}); was the download cut short?`,
    ]);
  }
}

/** Parses the CSDL text; a document the parser had to repair (truncated, not XML, not CSDL) is refused. */
function readCsdl(path: string, text: string) {
  const { model, errors } = parseCsdl(text);
  if (errors.length > 0) {
    throw new SchemaError(
      path,
      errors.slice(0, 5).map((e) => `${e.line === undefined ? '' : `line ${e.line}: `}${e.message}`),
    );
  }
  if (model.namespace !== 'Microsoft.Dynamics.CRM') {
    throw new SchemaError(path, [
      `the <Schema> namespace is '${model.namespace}', not 'Microsoft.Dynamics.CRM': not a Dataverse $metadata document`,
    ]);
  }
  return model;
}

/** A bare `$metadata` document (`--metadata FILE.xml`): option sets and alternate keys are unknown. */
export function loadMetadataFile(path: string): Schema {
  const text = readText(path);
  const model = readCsdl(path, text);
  return schemaFromMetadata(model, text, new Map(), { metadata: path, definition: () => path });
}

/** A snapshot folder (`--schema-snapshot DIR`). */
export function loadSnapshot(folder: string): Schema {
  const manifestPath = join(folder, MANIFEST_FILE);
  const { manifest, problems } = readManifest(readJson(manifestPath));
  if (manifest === undefined) throw new SchemaError(manifestPath, problems);
  if (!manifest.complete) {
    throw new SchemaError(manifestPath, [
      'the download did not finish ("complete": false); run dvw env snapshot with the same --out again to resume it',
    ]);
  }
  const metadataPath = join(folder, METADATA_FILE);
  const text = readText(metadataPath);
  const model = readCsdl(metadataPath, text);
  const definitions = new Map<string, Record<string, unknown>>();
  const mismatches: string[] = [];
  for (const table of manifest.tables) {
    const set = model.entitySets.get(table.entitySetName);
    if (set === undefined || !set.entityType.endsWith(`.${table.logicalName}`)) {
      mismatches.push(`table '${table.logicalName}' (entity set '${table.entitySetName}') is not in ${METADATA_FILE}`);
    }
    if (table.definition === undefined) continue;
    const path = join(folder, table.definition);
    const value = readJson(path);
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new SchemaError(path, ['must hold one EntityMetadata JSON object']);
    }
    definitions.set(table.logicalName, value as Record<string, unknown>);
  }
  if (mismatches.length > 0) throw new SchemaError(manifestPath, mismatches);
  return schemaFromMetadata(model, text, definitions, {
    metadata: metadataPath,
    definition: (name) => join(folder, manifest.tables.find((t) => t.logicalName === name)?.definition ?? ''),
  });
}

/**
 * The built-in tables: a snapshot trimmed from a real organization's metadata (scripts/make-builtin-snapshot.ts),
 * read like any other. It sits beside this module in the sources and beside the bundle in dist (esbuild.mjs).
 */
export const BUILTIN_SNAPSHOT = join(__dirname, 'builtin-snapshot');

let builtin: Schema | undefined;

/** The built-in schema, read once per process: a Schema is never changed once built. */
export function builtinSchema(): Schema {
  builtin ??= loadSnapshot(BUILTIN_SNAPSHOT);
  return builtin;
}

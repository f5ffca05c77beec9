/**
 * Snapshots built from the real fixtures in ../shared/fixtures (an 8.5 MB `$metadata` of a modern org, and the
 * EntityDefinitions of account and opportunity as Dataverse returned them), for the suites that run the emulator
 * on a real organization's schema. Written in the format `dvw env snapshot` writes.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseCsdl } from '../../../../src/metadata/csdl';
import type { SnapshotManifest } from '../../../../src/metadata/schemaSnapshot';
import {
  definitionFile,
  entityTables,
  MANIFEST_FILE,
  METADATA_FILE,
  selectTables,
  SNAPSHOT_FORMAT,
  SNAPSHOT_VERSION,
  trimCsdl,
} from '../../../../src/metadata/schemaSnapshot';

const FIXTURES = fileURLToPath(new URL('../../../../../shared/fixtures/', import.meta.url));
export const REAL_METADATA = join(FIXTURES, 'metadata', 'dataverse-v9.edmx.xml');
const DEFINITIONS = join(FIXTURES, 'entitydefinitions');
/** The tables with a real EntityDefinitions fixture. */
export const DEFINED_TABLES = ['account', 'opportunity'] as const;

let realText: string | undefined;
export function realMetadataText(): string {
  realText ??= readFileSync(REAL_METADATA, 'utf8');
  return realText;
}

export function realDefinition(table: (typeof DEFINED_TABLES)[number]): Record<string, unknown> {
  const answer = JSON.parse(readFileSync(join(DEFINITIONS, `${table}-metadata.json`), 'utf8')) as {
    EntityMetadata: Record<string, unknown>[];
  };
  const entity = answer.EntityMetadata[0];
  if (entity === undefined) throw new Error(`no EntityMetadata in the ${table} fixture`);
  return entity;
}

/**
 * Writes a snapshot of the real metadata into `folder`: every table, or those `tables` keeps (same rules as
 * `--tables`). Returns the folder.
 */
export function writeRealSnapshot(folder: string, tables?: readonly string[]): string {
  const text = realMetadataText();
  const { model } = parseCsdl(text);
  const kept = tables === undefined ? undefined : selectTables(model, tables).kept;
  const defined = new Set<string>(DEFINED_TABLES);
  mkdirSync(join(folder, 'tables'), { recursive: true });
  const manifest: SnapshotManifest = {
    format: SNAPSHOT_FORMAT,
    version: SNAPSHOT_VERSION,
    source: 'https://org1bfe9950.api.crm3.dynamics.com/api/data/v9.2/',
    takenAt: '2024-01-01T00:00:00.000Z',
    complete: true,
    tables: entityTables(model)
      .filter((t) => kept === undefined || kept.has(t.logicalName))
      .map((t) => ({
        logicalName: t.logicalName,
        entitySetName: t.entitySetName,
        ...(defined.has(t.logicalName) ? { definition: definitionFile(t.logicalName) } : {}),
      })),
  };
  for (const t of manifest.tables) {
    if (t.definition === undefined) continue;
    const definition = realDefinition(t.logicalName as (typeof DEFINED_TABLES)[number]);
    writeFileSync(join(folder, t.definition), `${JSON.stringify(definition, null, 2)}\n`);
  }
  writeFileSync(join(folder, METADATA_FILE), kept === undefined ? text : trimCsdl(text, model, kept));
  writeFileSync(join(folder, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
  return folder;
}

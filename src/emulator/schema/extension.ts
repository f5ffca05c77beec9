/**
 * A `--schema` JSON file on top of a schema read from `$metadata` (`--schema-snapshot`, `--metadata`): the file's
 * new tables are added, and the organization's tables take the file's new columns, alternate keys and N:N
 * relationships. What the organization already has (a column, an entity set, a relationship name) is a conflict,
 * refused with the file and the name. The served `$metadata` is the snapshot's with the additions spliced in.
 */
import { readFileSync } from 'node:fs';
import type { CsdlAdditions } from '../csdl';
import { extendCsdl } from '../csdl';
import type { Column, Navigation, RawColumn, RawTable, Schema, Table } from './schema';
import { pluralSet, readRaw, resolve, SchemaError } from './schema';

/** The tables the emulator itself needs; the file's tables may point at them. */
const REQUIRED = ['systemuser', 'team', 'businessunit', 'transactioncurrency'];

/** An organization's table as the raw form `resolve` takes: its columns without lookup targets. */
function standIn(table: Table): RawTable {
  return {
    logicalName: table.logicalName,
    entitySetName: table.entitySetName,
    displayName: table.displayName,
    displayCollectionName: table.displayCollectionName,
    primaryIdAttribute: table.primaryIdAttribute,
    primaryNameAttribute: table.primaryNameAttribute,
    ownership: table.ownership,
    changeTracking: table.changeTracking,
    versionNumberInMetadata: table.versionNumberInMetadata,
    baseType: table.baseType === 'principal' ? 'principal' : undefined,
    alternateKeys: [],
    systemNavigation: {},
    columns: [...table.columns.values()]
      .filter((c) => c.name !== 'ownerid' || table.baseType !== 'principal')
      .map((c): RawColumn => ({
        name: c.name,
        // Lookups of the organization's tables are not resolved again: their navigations are there already.
        type: c.type === 'lookup' || c.type === 'customer' || c.type === 'owner' ? 'uniqueidentifier' : c.type,
        displayName: c.displayName,
        required: c.required,
        maxLength: c.maxLength,
        min: c.min,
        max: c.max,
        precision: c.precision,
        options: c.options === undefined ? undefined : [...c.options],
        targets: undefined,
        readOnly: c.readOnly,
        validForRead: c.validForRead,
        setIndicator: c.setIndicator,
        concatOf: c.concatOf === undefined ? undefined : [...c.concatOf],
      })),
  };
}

function conflicts(base: Schema, tables: readonly RawTable[], relationships: readonly string[]): string[] {
  const problems: string[] = [];
  for (const t of tables) {
    const existing = base.tables.get(t.logicalName);
    if (existing === undefined) {
      const set = t.entitySetName ?? pluralSet(t.logicalName);
      const owner = base.byEntitySet.get(set);
      if (owner !== undefined) {
        problems.push(
          `table '${t.logicalName}': entity set '${set}' is already the schema snapshot's entity set of '${owner.logicalName}'`,
        );
      }
      continue;
    }
    if (t.entitySetName !== undefined && t.entitySetName !== existing.entitySetName) {
      problems.push(
        `table '${t.logicalName}': entitySetName '${t.entitySetName}' conflicts with the schema snapshot's '${existing.entitySetName}'`,
      );
    }
    for (const c of t.columns) {
      if (existing.columns.has(c.name)) {
        problems.push(`table '${t.logicalName}': column '${c.name}' is already in the schema snapshot`);
      }
    }
    for (const k of t.alternateKeys) {
      if (existing.alternateKeys.some((e) => e.name === k.name)) {
        problems.push(`table '${t.logicalName}': alternate key '${k.name}' is already in the schema snapshot`);
      }
    }
  }
  for (const name of relationships) {
    if (base.manyToMany.some((m) => m.name === name)) {
      problems.push(`many-to-many '${name}' is already a relationship of the schema snapshot`);
    }
  }
  return problems;
}

/** Adds what `value` (a `--schema` file's JSON, read from `source`) declares to a schema read from `$metadata`. */
export function extendSchema(base: Schema, value: unknown, source: string): Schema {
  const extension = readRaw(value, source);
  const problems = conflicts(
    base,
    extension.tables,
    extension.manyToMany.map((m) => m.name),
  );
  if (problems.length > 0) throw new SchemaError(source, problems);

  const added = new Map(extension.tables.map((t) => [t.logicalName, t] as const));
  const isNew = (name: string): boolean => added.has(name) && !base.tables.has(name);
  // The organization's tables the file touches or points at, standing in for resolution.
  const involved = new Set(REQUIRED);
  for (const t of extension.tables) {
    if (base.tables.has(t.logicalName)) involved.add(t.logicalName);
    for (const c of t.columns) for (const target of c.targets ?? []) involved.add(target.table);
  }
  for (const m of extension.manyToMany) for (const t of m.tables) involved.add(t);
  const raws: RawTable[] = [];
  for (const name of involved) {
    const table = base.tables.get(name);
    if (table === undefined) continue;
    const own = standIn(table);
    const extra = added.get(name);
    raws.push(
      extra === undefined
        ? own
        : { ...own, columns: [...own.columns, ...extra.columns], alternateKeys: extra.alternateKeys },
    );
  }
  for (const t of extension.tables) if (isNew(t.logicalName)) raws.push(t);
  const resolved = resolve({ tables: raws, manyToMany: extension.manyToMany }, source);

  // What the file added: its columns (with the system columns they bring), and the navigations they make.
  const fileColumns = new Set<string>();
  for (const t of extension.tables) for (const c of t.columns) fileColumns.add(`${t.logicalName}.${c.name}`);
  const fromFile = (table: string, column: string): boolean => isNew(table) || fileColumns.has(`${table}.${column}`);
  const relationshipNames = new Set(extension.manyToMany.map((m) => m.name));
  const addedNavigation = (table: Table, navigation: Navigation): boolean => {
    switch (navigation.kind) {
      case 'single':
        return fromFile(table.logicalName, navigation.column.name);
      case 'collection':
        return fromFile(navigation.source, navigation.column);
      case 'manyToMany':
        return relationshipNames.has(navigation.name);
    }
  };

  const members = new Map<string, { columns: Column[]; navigations: Navigation[] }>();
  const tables = new Map<string, Table>();
  const clashes: string[] = [];
  for (const [name, table] of base.tables) {
    const mine = resolved.tables.get(name);
    if (mine === undefined) {
      tables.set(name, table);
      continue;
    }
    const columns = added.has(name) ? [...mine.columns.values()].filter((c) => !table.columns.has(c.name)) : [];
    const navigations = [...mine.navigations.values()].filter((n) => addedNavigation(mine, n));
    for (const n of navigations) {
      if (table.navigations.has(n.name)) {
        clashes.push(`table '${name}': navigation property '${n.name}' is already in the schema snapshot`);
      }
    }
    if (columns.length === 0 && navigations.length === 0 && !added.has(name)) {
      tables.set(name, table);
      continue;
    }
    members.set(name, { columns, navigations });
    tables.set(name, {
      ...table,
      columns: new Map([...table.columns, ...columns.map((c) => [c.name, c] as const)]),
      navigations: new Map([...table.navigations, ...navigations.map((n) => [n.name, n] as const)]),
      alternateKeys: [...table.alternateKeys, ...(added.get(name)?.alternateKeys ?? [])],
    });
  }
  if (clashes.length > 0) throw new SchemaError(source, clashes);
  const newTables: Table[] = [];
  for (const t of extension.tables) {
    const table = resolved.tables.get(t.logicalName);
    if (table === undefined || !isNew(t.logicalName)) continue;
    tables.set(t.logicalName, table);
    newTables.push(table);
  }
  const principalNavigations = resolved.principalNavigations.filter(
    (n) => n.kind === 'collection' && fromFile(n.source, n.column),
  );
  const schema: Schema = {
    tables,
    byEntitySet: new Map([...tables.values()].map((t) => [t.entitySetName, t] as const)),
    manyToMany: [...base.manyToMany, ...extension.manyToMany],
    principalNavigations: [...base.principalNavigations, ...principalNavigations],
  };
  const additions: CsdlAdditions = { tables: newTables, members, principalNavigations };
  return base.csdl === undefined ? schema : { ...schema, csdl: extendCsdl(base.csdl, schema, additions) };
}

/** `--schema FILE` on top of a snapshot or a bare `$metadata`. Throws SchemaError naming the file. */
export function extendSchemaWithFile(base: Schema, path: string): Schema {
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new SchemaError(path, [
      `cannot read the file as JSON (${error instanceof Error ? error.message : String(error)})`,
    ]);
  }
  return extendSchema(base, value, path);
}

import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { Database } from 'node-sqlite3-wasm';
import type { Statement } from 'node-sqlite3-wasm';
import { limitExceeded, MAX_SQL_VALUES } from './limits';
import type { Column, ManyToMany, Schema, Table } from './schema/schema';
import { isLookupType } from './schema/schema';
import { claimDataFile } from './dataFile';
import { SQL_NUMBER_FUNCTION, sqlNumber } from './exactNumber';

export type StoredValue = string | number | null;

/** Follows transactions and savepoints as they open and end (they nest, so it sees a stack). */
export interface TransactionJournal {
  begin(): void;
  commit(): void;
  rollback(): void;
}
/** A stored row: column name (lookups also `<name>__type`) to value. */
export type Row = Record<string, StoredValue>;

/** One write statement run inside an outer transaction, with how many rows it changed. */
interface Write {
  readonly sql: string;
  readonly params: StoredValue[];
  readonly changes: number;
}

/**
 * The writes of an outer transaction that `Store.setAside` rolled back, to be applied again (`reapply`) or given
 * up (`discard`).
 */
export interface SetAsideWrites {
  readonly writes: readonly Write[];
  /** Tables given their indexes by the writes (see `Store.indexWithFirstRows`): applied again, they get them again. */
  readonly indexed: readonly string[];
  /** `PRAGMA data_version` after the rollback: another connection's commit changes it. */
  readonly dataVersion: number;
}

/** Set-aside writes could not be applied again exactly as they ran; nothing of them was kept. */
export class ReapplyError extends Error {}

/** Distinct inserts kept prepared (a table and the columns it sets). */
const MAX_INSERTS = 64;

/** Identifiers are checked by the schema loader (lower-case letters, digits, `_`); quoting is belt and braces. */
function q(identifier: string): string {
  return `"${identifier.replace(/"/g, '""')}"`;
}

export function sqlTable(table: Table): string {
  return q(`t_${table.logicalName}`);
}

/**
 * Where an N:N relationship's pairs are stored, its sides `a` (`tables[0]`) and `b` as quoted column names: the
 * intersect table itself when the schema has it with its two columns (a snapshot's `accountleads`, which
 * `accountleadscollection` then reads), else the emulator's own `nn_<intersect>` table.
 */
export interface IntersectStorage {
  readonly table: string;
  readonly a: string;
  readonly b: string;
  /** The intersect table, when the pairs are its rows. */
  readonly entity: Table | undefined;
}

export function intersectStorage(schema: Schema, relationship: ManyToMany): IntersectStorage {
  const entity = schema.tables.get(relationship.intersect);
  const columns = relationship.intersectColumns;
  if (entity !== undefined && columns !== undefined && columns.every((c) => entity.columns.has(c))) {
    return { table: sqlTable(entity), a: q(columns[0]), b: q(columns[1]), entity };
  }
  return { table: q(`nn_${relationship.intersect}`), a: '"a"', b: '"b"', entity: undefined };
}

/** The unquoted SQL name of where an N:N relationship's pairs are stored. */
function storageName(relationship: ManyToMany, storage: IntersectStorage): string {
  return storage.entity === undefined ? `nn_${relationship.intersect}` : `t_${storage.entity.logicalName}`;
}

function sqlType(column: Column): string {
  switch (column.type) {
    case 'integer':
    case 'bigint':
    case 'boolean':
    case 'choice':
    case 'state':
    case 'status':
      return 'INTEGER';
    case 'decimal':
    case 'currency':
    case 'float':
      return 'REAL';
    case 'string':
    case 'memo':
    case 'choices':
      // Dataverse's SQL collation is case-insensitive; declaring it lets NOCASE comparisons use indexes.
      return 'TEXT COLLATE NOCASE';
    default:
      return 'TEXT';
  }
}

/** Columns worth an index beyond lookups: the ones list views filter and sort on. */
function indexedColumns(table: Table): string[] {
  const names = ['statecode', 'createdon', 'modifiedon'];
  if (table.primaryNameAttribute !== undefined) names.push(table.primaryNameAttribute);
  return names.filter((n) => table.columns.has(n));
}

/** Stored column names of a table, in a fixed order. */
const storedColumnsOf = new WeakMap<Table, readonly string[]>();

/** Stored column names of a table, in a fixed order (found once per table). */
export function storedColumns(table: Table): readonly string[] {
  let names = storedColumnsOf.get(table);
  if (names === undefined) {
    const found: string[] = [];
    for (const column of table.columns.values()) {
      found.push(column.name);
      if (isLookupType(column.type)) found.push(`${column.name}__type`);
    }
    names = found;
    storedColumnsOf.set(table, names);
  }
  return names;
}

/** A row with every stored column, null where it holds nothing: the shape `Store.get` answers. */
export function completeRow(table: Table, row: Row): Row {
  const out: Row = {};
  for (const name of storedColumns(table)) out[name] = row[name] ?? null;
  return out;
}

/** The change log's deleted rows (changeTracking.ts reads them; each tracked table's trigger writes them). */
export const TOMBSTONES = '"_tombstones"';

/** "no such table: t_account" (or "main.t_account"), as SQLite says it when preparing a statement. */
const MISSING_TABLE = /^no such table: (?:main\.)?(\S+)$/;

/** What a SQL table stores: a table of the schema, or the intersect table of an N:N relationship. */
type StorageOwner = { readonly table: Table; readonly intersect?: never } | { readonly intersect: ManyToMany };

/**
 * Statements that create a table's storage (`existing` undefined), or bring one a data file holds up to the
 * schema (`existing`: its column names), without the indexes of `indexStatements`. Idempotent.
 */
function storageStatements(owner: StorageOwner, existing: ReadonlySet<string> | undefined): string[] {
  if (owner.intersect !== undefined) {
    return [
      `CREATE TABLE IF NOT EXISTS ${q(`nn_${owner.intersect.intersect}`)} ("a" TEXT NOT NULL, "b" TEXT NOT NULL, PRIMARY KEY ("a", "b"))`,
    ];
  }
  const { table } = owner;
  const name = sqlTable(table);
  const ddl: string[] = [];
  const definitions = (c: Column): string[] => {
    const primary = c.name === table.primaryIdAttribute ? ' PRIMARY KEY' : '';
    const own = `${q(c.name)} ${sqlType(c)}${primary}`;
    return isLookupType(c.type) ? [own, `${q(`${c.name}__type`)} TEXT`] : [own];
  };
  if (existing === undefined) {
    ddl.push(`CREATE TABLE IF NOT EXISTS ${name} (${[...table.columns.values()].flatMap(definitions).join(', ')})`);
  } else {
    // A user schema may add columns to a table that an older data file already holds.
    for (const c of table.columns.values()) {
      if (!existing.has(c.name)) ddl.push(`ALTER TABLE ${name} ADD COLUMN ${q(c.name)} ${sqlType(c)}`);
      if (isLookupType(c.type) && !existing.has(`${c.name}__type`)) {
        ddl.push(`ALTER TABLE ${name} ADD COLUMN ${q(`${c.name}__type`)} TEXT`);
      }
    }
  }
  if (table.changeTracking) {
    const logical = table.logicalName;
    ddl.push(
      `CREATE INDEX IF NOT EXISTS ${q(`ix_${logical}_versionnumber`)} ON ${name} ("versionnumber")`,
      // The version counter is text in _meta (Store.nextVersion); the trigger advances it the same way, in the
      // deleting transaction, so a rolled-back delete leaves no tombstone.
      `CREATE TRIGGER IF NOT EXISTS ${q(`tr_${logical}_tombstone`)} AFTER DELETE ON ${name} BEGIN
        INSERT OR IGNORE INTO "_meta" ("key", "value") VALUES ('version', '1000');
        UPDATE "_meta" SET "value" = CAST(CAST("value" AS INTEGER) + 1 AS TEXT) WHERE "key" = 'version';
        INSERT INTO ${TOMBSTONES} ("tablename", "id", "version")
          VALUES ('${logical}', OLD.${q(table.primaryIdAttribute)}, (SELECT CAST("value" AS INTEGER) FROM "_meta" WHERE "key" = 'version'));
      END`,
    );
  }
  return ddl;
}

/** The indexes of a table's storage (state, dates, primary name, every lookup). Idempotent. */
function indexStatements(table: Table): string[] {
  const indexed = [
    ...indexedColumns(table),
    ...[...table.columns.values()].filter((c) => isLookupType(c.type)).map((c) => c.name),
  ];
  return indexed.map(
    (column) =>
      `CREATE INDEX IF NOT EXISTS ${q(`ix_${table.logicalName}_${column}`)} ON ${sqlTable(table)} (${q(column)})`,
  );
}

function finalizeQuietly(statement: Statement): void {
  try {
    statement.finalize();
  } catch {
    // Finalizing a failed statement reports the same error again; the statement is freed all the same.
  }
}

function toRow(result: Record<string, unknown> | null): Row | null {
  if (result === null) return null;
  // The driver hands out a fresh object per row: fixing the few odd values in place saves a copy of every row.
  for (const key in result) {
    const value = result[key];
    if (typeof value !== 'string' && typeof value !== 'number') {
      result[key] = typeof value === 'bigint' ? Number(value) : null;
    }
  }
  return result as Row;
}

function toRows(results: readonly unknown[]): Row[] {
  const rows: Row[] = [];
  for (const result of results) {
    const row = toRow(result as Record<string, unknown> | null);
    if (row !== null) rows.push(row);
  }
  return rows;
}

/**
 * SQLite (WebAssembly) storage. Every write runs in its own transaction and is committed before the HTTP
 * answer: node-sqlite3-wasm writes through synchronous `fs` calls, so a committed write is in the OS
 * before the 2xx leaves, and a SIGKILL cannot lose it.
 *
 * There is one connection, and no transaction is ever left open across an `await`: a request whose
 * transaction must wait (for a synchronous webhook) sets its writes aside (`setAside`), so that meanwhile
 * every other request reads the last committed state, and applies them again afterwards (`reapply`). A second
 * connection cannot do this here: node-sqlite3-wasm locks the file with one `<file>.lock` directory for every
 * lock level (a reader gets "database is locked" while a writer holds RESERVED), has no shared memory for WAL,
 * is built without shared cache and URI names, and `:memory:` databases are private to their connection.
 */
export class Store {
  private readonly db: Database;
  private readonly statements = new Map<string, Statement>();
  /**
   * Inserts by table and the columns they set, oldest first; bounded, since clients choose the columns. A bulk
   * request inserts thousands of rows with the same columns: one statement, binding only the values it holds.
   */
  private readonly inserts = new Map<string, string>();
  /** Prepared query statements, least recently used first; bounded because query text comes from clients. */
  private readonly queries = new Map<string, Statement>();
  private readonly ownerFile: string | undefined;

  /** Owner of each table or intersect table's storage, by its SQL name (`t_account`, `nn_teammembership`). */
  private readonly owners = new Map<string, StorageOwner>();
  /**
   * SQL names of the storage this connection has created or found. A creation inside a transaction that is
   * rolled back leaves a stale name here; the next statement that needs it fails with "no such table" and
   * `withStorage` creates it again, so the set is a hint, never trusted for correctness.
   */
  private readonly stored = new Set<string>();
  /** What writes the rows a storage starts with (`seedOnFirstUse`), by SQL name. */
  private readonly initialRows = new Map<string, () => void>();
  private seeding = false;
  /**
   * Tables (SQL names) whose storage this connection created without its indexes: a table gets them in the write
   * of its first rows (`indexWithFirstRows`), so a read of a table nobody writes creates one SQL table, not dozens of
   * indexes besides. Those indexed in the open transaction are noted: a rollback takes the indexes back.
   */
  private readonly unindexed = new Set<string>();
  private indexedInTransaction: string[] = [];

  constructor(
    readonly schema: Schema,
    path?: string,
  ) {
    this.ownerFile = path === undefined ? undefined : claimDataFile(path);
    this.db = new Database(path ?? ':memory:');
    this.db.exec('PRAGMA journal_mode = DELETE; PRAGMA synchronous = FULL; PRAGMA foreign_keys = OFF;');
    this.db.function(SQL_NUMBER_FUNCTION, sqlNumber, { deterministic: true });
    for (const table of schema.tables.values()) this.owners.set(`t_${table.logicalName}`, { table });
    for (const m of schema.manyToMany) {
      // Pairs kept in a table of the schema (a snapshot's intersect table) have that table as owner.
      if (intersectStorage(schema, m).entity === undefined) this.owners.set(`nn_${m.intersect}`, { intersect: m });
    }
    this.openStorage();
  }

  /**
   * Creates what every store has (`_meta`, the change log's tombstones) and brings the tables a data file
   * already holds up to the schema (columns a `--schema` file added, indexes, change-tracking triggers). Other
   * tables get their storage when a statement first needs it (`withStorage`): an organization of 900 tables
   * starts without creating 900 SQL tables.
   */
  private openStorage(): void {
    const ddl: string[] = [
      'CREATE TABLE IF NOT EXISTS "_meta" ("key" TEXT PRIMARY KEY, "value" TEXT)',
      `CREATE TABLE IF NOT EXISTS ${TOMBSTONES} ("tablename" TEXT NOT NULL, "id" TEXT NOT NULL, "version" INTEGER NOT NULL)`,
      `CREATE INDEX IF NOT EXISTS "ix__tombstones" ON ${TOMBSTONES} ("tablename", "version")`,
    ];
    for (const row of this.db.all(`SELECT "name" FROM "sqlite_master" WHERE "type" = 'table'`)) {
      const name = String((row as Record<string, unknown>).name);
      const owner = this.owners.get(name);
      if (owner === undefined) continue;
      const columns = new Set(
        this.db.all(`PRAGMA table_info(${q(name)})`).map((r) => String((r as Record<string, unknown>).name)),
      );
      ddl.push(...storageStatements(owner, columns));
      if (owner.intersect === undefined) ddl.push(...indexStatements(owner.table));
      this.stored.add(name);
    }
    this.transaction(() => {
      for (const statement of ddl) this.db.exec(statement);
    });
  }

  /**
   * Runs `work`; when it fails because a table or intersect table of the schema has no storage yet, creates that
   * storage and runs it again. SQLite reports a missing table when it prepares (or re-prepares) a statement,
   * before it runs anything, so nothing ran twice. `failed` is told of every failure (to drop a statement that
   * cannot be reused).
   */
  private withStorage<T>(work: () => T, failed: () => void): T {
    const created = new Set<string>();
    for (;;) {
      try {
        return work();
      } catch (error) {
        failed();
        const name = MISSING_TABLE.exec(error instanceof Error ? error.message : '')?.[1];
        const owner = name === undefined ? undefined : this.owners.get(name);
        if (name === undefined || owner === undefined || created.has(name)) throw error;
        this.createStorage(name, owner);
        created.add(name);
      }
    }
  }

  private createStorage(name: string, owner: StorageOwner): void {
    const ddl = storageStatements(owner, undefined);
    if (owner.intersect === undefined) this.unindexed.add(name);
    if (this.db.inTransaction) {
      // Part of the request's transaction: a rollback removes the table again, and the next use recreates it.
      for (const statement of ddl) this.db.exec(statement);
      this.writeInitialRows(name);
    } else {
      // While writes are set aside the connection is read-only; an empty table (or one holding only the rows it
      // starts with, which it holds whenever it exists) changes nothing a reader or the set-aside writes can see,
      // so a read that needs one may create it.
      if (this.aside) this.db.exec('PRAGMA query_only = OFF');
      try {
        this.db.exec('BEGIN IMMEDIATE');
        for (const statement of ddl) this.db.exec(statement);
        this.writeInitialRows(name);
        this.db.exec('COMMIT');
      } catch (error) {
        if (this.db.inTransaction) this.db.exec('ROLLBACK');
        throw error;
      } finally {
        if (this.aside) this.db.exec('PRAGMA query_only = ON');
      }
    }
    this.stored.add(name);
  }

  /**
   * Has `seed` write the rows `tables` start with: now when the data file already holds storage for one of them,
   * else in the transaction that first creates their storage, so that an organization of 900 tables starts
   * without writing thousands of rows that may never be read. `seed` must do nothing when its rows are there
   * (seed.ts keeps a marker in `_meta`, which a rollback takes back with the rows).
   */
  seedOnFirstUse(tables: readonly Table[], seed: () => void): void {
    const names = tables.map((t) => `t_${t.logicalName}`);
    const existing = this.db.all(
      `SELECT 1 FROM "sqlite_master" WHERE "type" = 'table' AND "name" IN (${names.map(() => '?').join(', ')})`,
      names,
    );
    if (existing.length > 0) {
      seed();
      return;
    }
    for (const name of names) this.initialRows.set(name, seed);
  }

  /**
   * The seed of a storage just created, inside the creating transaction. Its writes are not noted: set-aside writes
   * applied again create the storage again, and with it the same rows.
   */
  private writeInitialRows(name: string): void {
    const seed = this.initialRows.get(name);
    // Seeding one table creates the storage of the others it writes: the running seed covers them.
    if (seed === undefined || this.seeding) return;
    const noted = this.writes;
    this.writes = undefined;
    this.seeding = true;
    try {
      seed();
    } finally {
      this.seeding = false;
      this.writes = noted;
    }
  }

  /** Creates the indexes of a table whose storage has none yet; called after every write that adds rows. */
  private indexWithFirstRows(table: Table): void {
    const name = `t_${table.logicalName}`;
    if (!this.unindexed.has(name)) return;
    for (const statement of indexStatements(table)) this.db.exec(statement);
    this.unindexed.delete(name);
    if (this.db.inTransaction) this.indexedInTransaction.push(name);
  }

  /** After a rollback: the tables indexed inside it have their indexes no more (or no storage at all). */
  private forgetIndexesOfTransaction(): string[] {
    const undone = this.indexedInTransaction;
    for (const name of undone) this.unindexed.add(name);
    this.indexedInTransaction = [];
    return undone;
  }

  /** Runs a cached statement, creating the storage it needs; a failed statement is dropped (see `run`). */
  private cached<T>(sql: string, use: (statement: Statement) => T): T {
    let statement: Statement | undefined;
    return this.withStorage(
      () => use((statement = this.statement(sql))),
      () => {
        if (statement === undefined) return;
        this.statements.delete(sql);
        finalizeQuietly(statement);
        statement = undefined;
      },
    );
  }

  private statement(sql: string): Statement {
    let statement = this.statements.get(sql);
    if (statement === undefined) {
      statement = this.db.prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement;
  }

  /** Told when a transaction (or a nested savepoint) ends, so work recorded inside it can follow its fate. */
  journal: TransactionJournal | undefined;
  private savepoints = 0;
  /** The write statements of the outer transaction opened by `begin(true)`, in order. */
  private writes: Write[] | undefined;
  /** True between `setAside` and `reapply`/`discard`. */
  private aside = false;

  /**
   * Runs `work` atomically. A nested call is a savepoint: its failure undoes only its own writes and
   * rethrows, so a request run inside an outer transaction (webhook delivery) still fails as a unit.
   */
  transaction<T>(work: () => T): T {
    if (!this.db.inTransaction) {
      this.open(false);
      try {
        const result = work();
        this.commit();
        return result;
      } catch (error) {
        this.rollback();
        throw error;
      }
    }
    const name = `sp${++this.savepoints}`;
    this.db.exec(`SAVEPOINT ${name}`);
    // What the savepoint undoes leaves the noted writes too, so that applying them again gives the same state.
    const mark = this.writes?.length ?? 0;
    this.journal?.begin();
    try {
      const result = work();
      this.db.exec(`RELEASE ${name}`);
      this.journal?.commit();
      return result;
    } catch (error) {
      if (this.db.inTransaction) {
        this.db.exec(`ROLLBACK TO ${name}`);
        this.db.exec(`RELEASE ${name}`);
      }
      // Indexes made inside the savepoint are gone; those made before it are noted again too, which costs one
      // `CREATE INDEX IF NOT EXISTS` each on the table's next new row.
      for (const table of this.indexedInTransaction) this.unindexed.add(table);
      if (this.writes !== undefined) this.writes.length = mark;
      this.journal?.rollback();
      throw error;
    } finally {
      this.savepoints--;
    }
  }

  /**
   * Opens an outer transaction for one request; pair with `commit`, `rollback` or (when `noteWrites`, which
   * costs a little per statement) `setAside`. It runs synchronously: nothing else sees the database meanwhile.
   */
  begin(noteWrites: boolean): void {
    this.open(noteWrites);
  }

  private open(noteWrites: boolean): void {
    if (this.aside) throw new Error('writes are set aside: reapply or discard them first');
    this.db.exec('BEGIN IMMEDIATE');
    this.writes = noteWrites ? [] : undefined;
    this.journal?.begin();
  }

  commit(): void {
    this.db.exec('COMMIT');
    this.indexedInTransaction = [];
    this.writes = undefined;
    this.journal?.commit();
  }

  rollback(): void {
    if (this.db.inTransaction) this.db.exec('ROLLBACK');
    this.forgetIndexesOfTransaction();
    this.writes = undefined;
    this.journal?.rollback();
  }

  /**
   * Rolls the outer transaction opened by `begin(true)` back and hands its writes over, to be applied again later
   * with `reapply` (or given up with `discard`). Until then the database holds the last committed state and
   * refuses every write (`PRAGMA query_only`), so the requests served meanwhile read exactly that state and
   * cannot change what the writes will be applied to.
   */
  setAside(): SetAsideWrites {
    const writes = this.writes;
    if (writes === undefined || !this.db.inTransaction) throw new Error('no outer transaction noting its writes');
    this.db.exec('ROLLBACK');
    const indexed = this.forgetIndexesOfTransaction();
    this.writes = undefined;
    this.journal?.rollback();
    this.db.exec('PRAGMA query_only = ON');
    this.aside = true;
    return { writes, indexed, dataVersion: this.dataVersion() };
  }

  /**
   * Applies set-aside writes again, in one transaction, and commits. The database is the one they were made
   * on (only reads ran since, and no other program committed to the file, which `data_version` tells), and
   * every statement must change as many rows as it did; otherwise nothing is kept and `ReapplyError` says why.
   */
  reapply(aside: SetAsideWrites): void {
    this.endAside();
    if (this.dataVersion() !== aside.dataVersion) {
      throw new ReapplyError('another program wrote to the data file meanwhile');
    }
    this.db.exec('BEGIN IMMEDIATE');
    try {
      for (const write of aside.writes) {
        if (this.run(write.sql, write.params) !== write.changes) {
          throw new ReapplyError('the data it was made on changed meanwhile');
        }
      }
      for (const name of aside.indexed) {
        const owner = this.owners.get(name);
        if (owner !== undefined && owner.intersect === undefined) this.indexWithFirstRows(owner.table);
      }
      this.db.exec('COMMIT');
      this.indexedInTransaction = [];
    } catch (error) {
      if (this.db.inTransaction) this.db.exec('ROLLBACK');
      this.forgetIndexesOfTransaction();
      throw error;
    }
  }

  /** Gives set-aside writes up: the database accepts writes again, and holds none of them. */
  discard(): void {
    this.endAside();
  }

  private endAside(): void {
    if (!this.aside) return;
    this.aside = false;
    if (this.db.isOpen) this.db.exec('PRAGMA query_only = OFF');
  }

  private dataVersion(): number {
    const row = this.db.get('PRAGMA data_version') as Record<string, unknown> | null;
    return Number(row?.data_version ?? 0);
  }

  /** Runs one write statement, noting it while a request's outer transaction is open (`params` is kept as is). */
  private write(sql: string, params: StoredValue[]): number {
    const changes = this.run(sql, params);
    this.writes?.push({ sql, params, changes });
    return changes;
  }

  /**
   * Runs a cached write statement; answers the rows it changed. node-sqlite3-wasm cannot reuse a statement whose
   * last run failed (its reset reports the old error: "Could not reset statement"), so `cached` drops a failed one.
   */
  private run(sql: string, params: StoredValue[]): number {
    return this.cached(sql, (statement) => statement.run(params).changes);
  }

  get inTransaction(): boolean {
    return this.db.inTransaction;
  }

  getMeta(key: string): string | undefined {
    const row = this.cached('SELECT "value" FROM "_meta" WHERE "key" = ?', (s) => s.get([key]));
    const value = row === null ? undefined : (row as Record<string, unknown>).value;
    return typeof value === 'string' ? value : undefined;
  }

  setMeta(key: string, value: string): void {
    this.write(
      'INSERT INTO "_meta" ("key", "value") VALUES (?, ?) ON CONFLICT("key") DO UPDATE SET "value" = excluded."value"',
      [key, value],
    );
  }

  /**
   * Dataverse's row version is one counter for the whole organization. One statement advances it and reads it
   * (it runs once per written row); the counter stays text in `_meta`, as the change log's trigger expects.
   */
  nextVersion(): number {
    const advance =
      `INSERT INTO "_meta" ("key", "value") VALUES ('version', '1001') ON CONFLICT("key") DO UPDATE` +
      ` SET "value" = CAST(CAST("value" AS INTEGER) + 1 AS TEXT)`;
    // `all`, not `get`: the statement must run to its end, or the transaction cannot commit.
    const row = this.cached(`${advance} RETURNING "value"`, (s) => s.all([]))[0];
    // Noted without RETURNING: `reapply` runs it for its effect and counts the rows it changed.
    this.writes?.push({ sql: advance, params: [], changes: 1 });
    return Number(row?.value);
  }

  /** Takes `count` consecutive row versions at once; answers the first. */
  reserveVersions(count: number): number {
    const first = Number(this.getMeta('version') ?? '1000') + 1;
    this.setMeta('version', String(first + count - 1));
    return first;
  }

  get(table: Table, id: string): Row | null {
    const sql = `SELECT * FROM ${sqlTable(table)} WHERE ${q(table.primaryIdAttribute)} = ?`;
    return toRow(this.cached(sql, (s) => s.get([id])));
  }

  /** Whether the row exists, without reading its columns (a wide row costs to read). */
  exists(table: Table, id: string): boolean {
    const sql = `SELECT 1 AS "found" FROM ${sqlTable(table)} WHERE ${q(table.primaryIdAttribute)} = ?`;
    return this.cached(sql, (s) => s.get([id])) !== null;
  }

  /** Which of `ids` have a row, asked with one statement (the ids travel as one JSON array). */
  existingIds(table: Table, ids: readonly string[]): Set<string> {
    if (ids.length === 0) return new Set();
    const key = q(table.primaryIdAttribute);
    const sql = `SELECT ${key} AS "id" FROM ${sqlTable(table)} WHERE ${key} IN (SELECT "value" FROM json_each(?))`;
    const rows = this.cached(sql, (s) => s.all([JSON.stringify(ids)])) as Record<string, unknown>[];
    return new Set(rows.map((row) => String(row.id)));
  }

  /** One column of a row (undefined when there is no such row), without reading the others. */
  valueOf(table: Table, id: string, column: string): StoredValue | undefined {
    const sql = `SELECT ${q(column)} AS "value" FROM ${sqlTable(table)} WHERE ${q(table.primaryIdAttribute)} = ?`;
    const row = toRow(this.cached(sql, (s) => s.get([id])));
    return row === null ? undefined : (row.value ?? null);
  }

  findBy(table: Table, values: Readonly<Record<string, StoredValue>>): Row[] {
    const names = Object.keys(values);
    const where = names.map((n) => (values[n] === null ? `${q(n)} IS NULL` : `${q(n)} = ?`)).join(' AND ');
    const params = names.map((n) => values[n]).filter((v): v is string | number => v !== null && v !== undefined);
    return toRows(this.cached(`SELECT * FROM ${sqlTable(table)} WHERE ${where} LIMIT 2`, (s) => s.all(params)));
  }

  insert(table: Table, row: Row): void {
    // systemuser and team inherit the key `ownerid` from principal: Dataverse answers it beside their own id.
    if (table.baseType === 'principal' && table.columns.has('ownerid')) {
      row = { ...row, ownerid: row[table.primaryIdAttribute] ?? null };
    }
    // Columns left out are NULL: binding a few hundred nulls through WebAssembly costs more than the insert.
    const names: string[] = [];
    const values: StoredValue[] = [];
    for (const name of storedColumns(table)) {
      const value = row[name];
      if (value === null || value === undefined) continue;
      names.push(name);
      values.push(value);
    }
    const key = `${table.logicalName}(${names.join(',')})`;
    let sql = this.inserts.get(key);
    if (sql === undefined) {
      sql = `INSERT INTO ${sqlTable(table)} (${names.map(q).join(', ')}) VALUES (${names.map(() => '?').join(', ')})`;
      if (this.inserts.size >= MAX_INSERTS) this.forgetOldestInsert();
    } else this.inserts.delete(key);
    this.inserts.set(key, sql);
    this.write(sql, values);
    this.indexWithFirstRows(table);
    this.writePointer(table, String(row[table.primaryIdAttribute]));
  }

  private forgetOldestInsert(): void {
    const [key, sql] = this.inserts.entries().next().value ?? [];
    if (key === undefined || sql === undefined) return;
    this.inserts.delete(key);
    const statement = this.statements.get(sql);
    // Prepared again when needed.
    if (statement !== undefined) {
      this.statements.delete(sql);
      finalizeQuietly(statement);
    }
  }

  /**
   * Inserts many rows with one statement (seeding thousands of rows at start): the values all rows share are
   * bound once, and each row's own values travel in one JSON array of value lists that SQLite unpacks, instead
   * of one statement and one binding per value.
   */
  insertMany(table: Table, shared: Row, rows: readonly Row[]): void {
    if (rows.length === 0) return;
    const held = new Set<string>();
    for (const row of rows) for (const n in row) if (row[n] !== undefined && row[n] !== null) held.add(n);
    const own = storedColumns(table).filter((n) => held.has(n));
    const common = storedColumns(table).filter((n) => !own.includes(n) && shared[n] !== undefined);
    const names = [...common, ...own].map(q).join(', ');
    const values = [...common.map(() => '?'), ...own.map((_, i) => `"value" ->> ${i}`)].join(', ');
    this.write(`INSERT INTO ${sqlTable(table)} (${names}) SELECT ${values} FROM json_each(?)`, [
      ...common.map((n) => shared[n] ?? null),
      JSON.stringify(rows.map((row) => own.map((n) => row[n] ?? null))),
    ]);
    this.indexWithFirstRows(table);
  }

  update(table: Table, id: string, changes: Row): void {
    const names = Object.keys(changes);
    if (names.length === 0) return;
    const sql = `UPDATE ${sqlTable(table)} SET ${names.map((n) => `${q(n)} = ?`).join(', ')} WHERE ${q(table.primaryIdAttribute)} = ?`;
    this.write(sql, [...names.map((n) => changes[n] ?? null), id]);
    this.writePointer(table, id);
  }

  /**
   * An activity (a table deriving from `activitypointer`) has its row in `activitypointer` too, as Dataverse keeps
   * one ActivityPointerBase row per activity: `activitypointers` then answers every query on its own storage. The
   * pointer row is a copy of the activity's common columns, version included, written after every write of it.
   */
  private writePointer(table: Table, id: string): void {
    const copy = this.pointerCopy(table);
    if (copy === undefined) return;
    this.write(copy, [id]);
    const pointer = this.schema.tables.get('activitypointer');
    if (pointer !== undefined) this.indexWithFirstRows(pointer);
  }

  private readonly pointerCopies = new Map<string, string | undefined>();

  private pointerCopy(table: Table): string | undefined {
    if (this.pointerCopies.has(table.logicalName)) return this.pointerCopies.get(table.logicalName);
    const pointer = table.baseType === 'activitypointer' ? this.schema.tables.get('activitypointer') : undefined;
    let sql: string | undefined;
    if (pointer !== undefined) {
      const own = new Set(storedColumns(table));
      const names = storedColumns(pointer).filter((n) => own.has(n) && n !== pointer.primaryIdAttribute);
      const key = q(pointer.primaryIdAttribute);
      sql =
        `INSERT INTO ${sqlTable(pointer)} (${[key, ...names.map(q)].join(', ')}) ` +
        `SELECT ${[q(table.primaryIdAttribute), ...names.map(q)].join(', ')} FROM ${sqlTable(table)} WHERE ${q(table.primaryIdAttribute)} = ? ` +
        `ON CONFLICT(${key}) DO UPDATE SET ${names.map((n) => `${q(n)} = excluded.${q(n)}`).join(', ')}`;
    }
    this.pointerCopies.set(table.logicalName, sql);
    return sql;
  }

  /** The other half of an activity: its `activitypointer` row, or the activity row of a pointer. */
  private activityHalf(table: Table, id: string): Table | undefined {
    if (table.baseType === 'activitypointer') return this.schema.tables.get('activitypointer');
    if (table.logicalName !== 'activitypointer') return undefined;
    const type = this.get(table, id)?.activitytypecode;
    const activity = typeof type === 'string' ? this.schema.tables.get(type) : undefined;
    return activity?.baseType === 'activitypointer' ? activity : undefined;
  }

  /**
   * Deletes a row; lookups that pointed at it are cleared (Dataverse's "remove link" cascade). An activity's
   * pointer row goes with it.
   */
  delete(table: Table, id: string): boolean {
    const half = this.activityHalf(table, id);
    if (!this.deleteRow(table, id)) return false;
    if (half !== undefined) this.deleteRow(half, id);
    return true;
  }

  private deleteRow(table: Table, id: string): boolean {
    if (this.write(`DELETE FROM ${sqlTable(table)} WHERE ${q(table.primaryIdAttribute)} = ?`, [id]) === 0) return false;
    // Clearing a lookup is a write to that row: it gets a new version, so change tracking reports it. One version
    // for the whole delete, so that an activity and its pointer row keep equal versions (and ETags).
    let version: number | undefined;
    for (const other of this.schema.tables.values()) {
      // A table without storage has no rows to clear.
      if (!this.stored.has(`t_${other.logicalName}`)) continue;
      for (const column of other.columns.values()) {
        if (!isLookupType(column.type) || !(column.targets ?? []).some((t) => t.table === table.logicalName)) continue;
        version ??= this.nextVersion();
        this.write(
          `UPDATE ${sqlTable(other)} SET ${q(column.name)} = NULL, ${q(`${column.name}__type`)} = NULL, "versionnumber" = ? WHERE ${q(column.name)} = ? AND ${q(`${column.name}__type`)} = ?`,
          [version, id, table.logicalName],
        );
      }
    }
    for (const m of this.schema.manyToMany) {
      const storage = intersectStorage(this.schema, m);
      if (!this.stored.has(storageName(m, storage))) continue;
      const { table: pairs, a, b } = storage;
      if (m.tables[0] === table.logicalName) this.write(`DELETE FROM ${pairs} WHERE ${a} = ?`, [id]);
      if (m.tables[1] === table.logicalName) this.write(`DELETE FROM ${pairs} WHERE ${b} = ?`, [id]);
    }
    return true;
  }

  /** A page of rows in primary-key order, after `afterId` when given. */
  page(table: Table, limit: number, afterId?: string, where?: { column: string; value: string; type?: string }): Row[] {
    const clauses: string[] = [];
    const params: (string | number)[] = [];
    if (where !== undefined) {
      clauses.push(`${q(where.column)} = ?`);
      params.push(where.value);
      if (where.type !== undefined) {
        clauses.push(`${q(`${where.column}__type`)} = ?`);
        params.push(where.type);
      }
    }
    if (afterId !== undefined) {
      clauses.push(`${q(table.primaryIdAttribute)} > ?`);
      params.push(afterId);
    }
    const sql = `SELECT * FROM ${sqlTable(table)}${clauses.length > 0 ? ` WHERE ${clauses.join(' AND ')}` : ''} ORDER BY ${q(table.primaryIdAttribute)} LIMIT ?`;
    return toRows(this.cached(sql, (s) => s.all([...params, limit])));
  }

  /** Runs a read-only query (built with parameters, never with values in the text). */
  all(sql: string, params: readonly (string | number | null)[]): Row[] {
    // The query compilers bound what a request asks for (limits.ts); this holds for every query they build.
    if (params.length > MAX_SQL_VALUES) throw limitExceeded('values in the query', params.length, MAX_SQL_VALUES);
    let statement: Statement | undefined;
    const rows = this.withStorage(
      () => {
        statement = this.queries.get(sql);
        if (statement === undefined) {
          statement = this.db.prepare(sql);
          if (this.queries.size >= 256) {
            const [oldest, old] = this.queries.entries().next().value ?? [];
            if (oldest !== undefined && old !== undefined) {
              this.queries.delete(oldest);
              old.finalize();
            }
          }
        } else this.queries.delete(sql);
        this.queries.set(sql, statement);
        return statement.all([...params]);
      },
      () => {
        if (statement === undefined) return;
        this.queries.delete(sql);
        finalizeQuietly(statement);
        statement = undefined;
      },
    );
    return toRows(rows);
  }

  count(table: Table): number {
    const row = this.cached(`SELECT COUNT(*) AS "n" FROM ${sqlTable(table)}`, (s) => s.get()) as Record<
      string,
      unknown
    > | null;
    return Number(row?.n ?? 0);
  }

  /** Adds the pair (`a` of `tables[0]`, `b` of `tables[1]`); an intersect table's row gets a new key and version. */
  associate(relationship: ManyToMany, a: string, b: string): void {
    const storage = intersectStorage(this.schema, relationship);
    const entity = storage.entity;
    if (entity === undefined) {
      this.write(`INSERT OR IGNORE INTO ${storage.table} ("a", "b") VALUES (?, ?)`, [a, b]);
      return;
    }
    const [first = '', second = ''] = relationship.intersectColumns ?? [];
    if (this.findBy(entity, { [first]: a, [second]: b }).length > 0) return;
    this.insert(entity, {
      [entity.primaryIdAttribute]: randomUUID(),
      [first]: a,
      [second]: b,
      versionnumber: this.nextVersion(),
    });
  }

  disassociate(relationship: ManyToMany, a: string, b: string): boolean {
    const storage = intersectStorage(this.schema, relationship);
    return this.write(`DELETE FROM ${storage.table} WHERE ${storage.a} = ? AND ${storage.b} = ?`, [a, b]) > 0;
  }

  /** For bulk seeding: a prepared insert reused for many rows inside one transaction. */
  bulkInsert(table: Table, rows: Iterable<Row>): number {
    let n = 0;
    this.transaction(() => {
      for (const row of rows) {
        this.insert(table, row);
        n += 1;
      }
    });
    return n;
  }

  close(): void {
    for (const statement of [...this.statements.values(), ...this.queries.values()]) {
      if (!statement.isFinalized) statement.finalize();
    }
    this.statements.clear();
    this.queries.clear();
    if (this.db.isOpen) this.db.close();
    if (this.ownerFile !== undefined) rmSync(this.ownerFile, { force: true });
  }
}

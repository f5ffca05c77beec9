import { rmSync } from 'node:fs';
import { Database } from 'node-sqlite3-wasm';
import type { Statement } from 'node-sqlite3-wasm';
import { limitExceeded, MAX_SQL_VALUES } from './limits';
import type { Column, ManyToMany, Schema, Table } from './schema/schema';
import { isLookupType } from './schema/schema';
import { claimDataFile } from './dataFile';

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

export function intersectTable(relationship: ManyToMany): string {
  return q(`nn_${relationship.intersect}`);
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

  constructor(
    readonly schema: Schema,
    path?: string,
  ) {
    this.ownerFile = path === undefined ? undefined : claimDataFile(path);
    this.db = new Database(path ?? ':memory:');
    this.db.exec('PRAGMA journal_mode = DELETE; PRAGMA synchronous = FULL; PRAGMA foreign_keys = OFF;');
    this.createTables();
  }

  private createTables(): void {
    const ddl: string[] = ['CREATE TABLE IF NOT EXISTS "_meta" ("key" TEXT PRIMARY KEY, "value" TEXT)'];
    for (const table of this.schema.tables.values()) {
      const columns = [...table.columns.values()].flatMap((c) => {
        const primary = c.name === table.primaryIdAttribute ? ' PRIMARY KEY' : '';
        const defs = [`${q(c.name)} ${sqlType(c)}${primary}`];
        if (isLookupType(c.type)) defs.push(`${q(`${c.name}__type`)} TEXT`);
        return defs;
      });
      ddl.push(`CREATE TABLE IF NOT EXISTS ${sqlTable(table)} (${columns.join(', ')})`);
      // A user schema may add columns to a table that an older data file already holds.
      const existing = new Set(
        this.db.all(`PRAGMA table_info(${sqlTable(table)})`).map((r) => String((r as Record<string, unknown>).name)),
      );
      if (existing.size > 0) {
        for (const c of table.columns.values()) {
          if (!existing.has(c.name)) ddl.push(`ALTER TABLE ${sqlTable(table)} ADD COLUMN ${q(c.name)} ${sqlType(c)}`);
          if (isLookupType(c.type) && !existing.has(`${c.name}__type`)) {
            ddl.push(`ALTER TABLE ${sqlTable(table)} ADD COLUMN ${q(`${c.name}__type`)} TEXT`);
          }
        }
      }
      for (const name of indexedColumns(table)) {
        ddl.push(
          `CREATE INDEX IF NOT EXISTS ${q(`ix_${table.logicalName}_${name}`)} ON ${sqlTable(table)} (${q(name)})`,
        );
      }
      for (const c of table.columns.values()) {
        if (isLookupType(c.type)) {
          ddl.push(
            `CREATE INDEX IF NOT EXISTS ${q(`ix_${table.logicalName}_${c.name}`)} ON ${sqlTable(table)} (${q(c.name)})`,
          );
        }
      }
    }
    for (const m of this.schema.manyToMany) {
      ddl.push(
        `CREATE TABLE IF NOT EXISTS ${intersectTable(m)} ("a" TEXT NOT NULL, "b" TEXT NOT NULL, PRIMARY KEY ("a", "b"))`,
      );
    }
    this.transaction(() => {
      for (const statement of ddl) this.db.exec(statement);
    });
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
    this.writes = undefined;
    this.journal?.commit();
  }

  rollback(): void {
    if (this.db.inTransaction) this.db.exec('ROLLBACK');
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
    this.writes = undefined;
    this.journal?.rollback();
    this.db.exec('PRAGMA query_only = ON');
    this.aside = true;
    return { writes, dataVersion: this.dataVersion() };
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
      this.db.exec('COMMIT');
    } catch (error) {
      if (this.db.inTransaction) this.db.exec('ROLLBACK');
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
   * last run failed (its reset reports the old error: "Could not reset statement"), so a failed one is dropped.
   */
  private run(sql: string, params: StoredValue[]): number {
    const statement = this.statement(sql);
    try {
      return statement.run(params).changes;
    } catch (error) {
      this.drop(sql, statement);
      throw error;
    }
  }

  private drop(sql: string, statement: Statement): void {
    this.statements.delete(sql);
    try {
      statement.finalize();
    } catch {
      // Finalizing reports the same error again; the statement is freed all the same.
    }
  }

  get inTransaction(): boolean {
    return this.db.inTransaction;
  }

  /** Schema statements of other modules (the change log's tables and triggers), run once at start. */
  execSchema(statements: readonly string[]): void {
    this.transaction(() => {
      for (const statement of statements) this.db.exec(statement);
    });
  }

  getMeta(key: string): string | undefined {
    const row = this.statement('SELECT "value" FROM "_meta" WHERE "key" = ?').get([key]);
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
    const sql = `${advance} RETURNING "value"`;
    const statement = this.statement(sql);
    let row: Record<string, unknown> | undefined;
    try {
      // `all`, not `get`: the statement must run to its end, or the transaction cannot commit.
      row = statement.all([])[0];
    } catch (error) {
      this.drop(sql, statement);
      throw error;
    }
    // Noted without RETURNING: `reapply` runs it for its effect and counts the rows it changed.
    this.writes?.push({ sql: advance, params: [], changes: 1 });
    return Number(row?.value);
  }

  get(table: Table, id: string): Row | null {
    return toRow(this.statement(`SELECT * FROM ${sqlTable(table)} WHERE ${q(table.primaryIdAttribute)} = ?`).get([id]));
  }

  /** Whether the row exists, without reading its columns (a wide row costs to read). */
  exists(table: Table, id: string): boolean {
    const sql = `SELECT 1 AS "found" FROM ${sqlTable(table)} WHERE ${q(table.primaryIdAttribute)} = ?`;
    return this.statement(sql).get([id]) !== null;
  }

  /** One column of a row (undefined when there is no such row), without reading the others. */
  valueOf(table: Table, id: string, column: string): StoredValue | undefined {
    const sql = `SELECT ${q(column)} AS "value" FROM ${sqlTable(table)} WHERE ${q(table.primaryIdAttribute)} = ?`;
    const row = toRow(this.statement(sql).get([id]));
    return row === null ? undefined : (row.value ?? null);
  }

  findBy(table: Table, values: Readonly<Record<string, StoredValue>>): Row[] {
    const names = Object.keys(values);
    const where = names.map((n) => (values[n] === null ? `${q(n)} IS NULL` : `${q(n)} = ?`)).join(' AND ');
    const params = names.map((n) => values[n]).filter((v): v is string | number => v !== null && v !== undefined);
    return toRows(this.statement(`SELECT * FROM ${sqlTable(table)} WHERE ${where} LIMIT 2`).all(params));
  }

  insert(table: Table, row: Row): void {
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
  }

  private forgetOldestInsert(): void {
    const [key, sql] = this.inserts.entries().next().value ?? [];
    if (key === undefined || sql === undefined) return;
    this.inserts.delete(key);
    const statement = this.statements.get(sql);
    // Another key may share the text (no two do today); the statement is prepared again when needed.
    if (statement !== undefined) this.drop(sql, statement);
  }

  update(table: Table, id: string, changes: Row): void {
    const names = Object.keys(changes);
    if (names.length === 0) return;
    const sql = `UPDATE ${sqlTable(table)} SET ${names.map((n) => `${q(n)} = ?`).join(', ')} WHERE ${q(table.primaryIdAttribute)} = ?`;
    this.write(sql, [...names.map((n) => changes[n] ?? null), id]);
  }

  /** Deletes a row; lookups that pointed at it are cleared (Dataverse's "remove link" cascade). */
  delete(table: Table, id: string): boolean {
    if (this.write(`DELETE FROM ${sqlTable(table)} WHERE ${q(table.primaryIdAttribute)} = ?`, [id]) === 0) return false;
    for (const other of this.schema.tables.values()) {
      for (const column of other.columns.values()) {
        if (!isLookupType(column.type) || !(column.targets ?? []).some((t) => t.table === table.logicalName)) continue;
        // Clearing the lookup is a write to that row: it gets a new version, so change tracking reports it.
        this.write(
          `UPDATE ${sqlTable(other)} SET ${q(column.name)} = NULL, ${q(`${column.name}__type`)} = NULL, "versionnumber" = ? WHERE ${q(column.name)} = ? AND ${q(`${column.name}__type`)} = ?`,
          [this.nextVersion(), id, table.logicalName],
        );
      }
    }
    for (const m of this.schema.manyToMany) {
      if (m.tables[0] === table.logicalName) this.write(`DELETE FROM ${intersectTable(m)} WHERE "a" = ?`, [id]);
      if (m.tables[1] === table.logicalName) this.write(`DELETE FROM ${intersectTable(m)} WHERE "b" = ?`, [id]);
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
    return toRows(this.statement(sql).all([...params, limit]));
  }

  /** Runs a read-only query (built with parameters, never with values in the text). */
  all(sql: string, params: readonly (string | number | null)[]): Row[] {
    // The query compilers bound what a request asks for (limits.ts); this holds for every query they build.
    if (params.length > MAX_SQL_VALUES) throw limitExceeded('values in the query', params.length, MAX_SQL_VALUES);
    let statement = this.queries.get(sql);
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
    return toRows(statement.all([...params]));
  }

  count(table: Table): number {
    const row = this.statement(`SELECT COUNT(*) AS "n" FROM ${sqlTable(table)}`).get() as Record<
      string,
      unknown
    > | null;
    return Number(row?.n ?? 0);
  }

  associate(relationship: ManyToMany, a: string, b: string): void {
    this.write(`INSERT OR IGNORE INTO ${intersectTable(relationship)} ("a", "b") VALUES (?, ?)`, [a, b]);
  }

  disassociate(relationship: ManyToMany, a: string, b: string): boolean {
    return this.write(`DELETE FROM ${intersectTable(relationship)} WHERE "a" = ? AND "b" = ?`, [a, b]) > 0;
  }

  /** Rows of `target` associated with `id` through an N:N relationship, in primary-key order. */
  related(
    relationship: ManyToMany,
    target: Table,
    id: string,
    idIsFirst: boolean,
    limit: number,
    afterId?: string,
  ): Row[] {
    const [mine, theirs] = idIsFirst ? ['"a"', '"b"'] : ['"b"', '"a"'];
    const after = afterId === undefined ? '' : ` AND t.${q(target.primaryIdAttribute)} > ?`;
    const sql = `SELECT t.* FROM ${sqlTable(target)} t JOIN ${intersectTable(relationship)} i ON i.${theirs} = t.${q(target.primaryIdAttribute)} WHERE i.${mine} = ?${after} ORDER BY t.${q(target.primaryIdAttribute)} LIMIT ?`;
    const params: (string | number)[] = afterId === undefined ? [id, limit] : [id, afterId, limit];
    return toRows(this.statement(sql).all(params));
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

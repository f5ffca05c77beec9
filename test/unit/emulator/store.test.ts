import * as assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Database } from 'node-sqlite3-wasm';
import type { Schema, Table } from '../../../src/emulator/schema/schema';
import { extendSchemaWithFile } from '../../../src/emulator/schema/extension';
import { builtinSchema } from '../../../src/emulator/schema/snapshot';
import { Store } from '../../../src/emulator/store';

// Storage is created on first use (issue 12: a 900-table organization starts fast): a table's SQL table, its
// indexes and its change-tracking trigger appear when a statement first needs them, whatever the statement.

const ACCOUNT = '00000000-0000-0000-0000-00000000000a';
const CONTACT = '00000000-0000-0000-0000-00000000000c';

function table(schema: Schema, name: string): Table {
  const found = schema.tables.get(name);
  if (found === undefined) throw new Error(`no ${name} table`);
  return found;
}

/** The indexes of one SQL table, asked through the store (a second connection would find the file locked). */
function indexNames(store: Store, sqlName: string): string[] {
  return store
    .all(`SELECT "name" FROM "sqlite_master" WHERE "type" = 'index' AND "tbl_name" = ? AND "sql" IS NOT NULL`, [
      sqlName,
    ])
    .map((row) => String(row.name));
}

/** SQL tables and triggers in the data file, read by a second connection once the store is closed. */
function storedNames(file: string): string[] {
  const db = new Database(file);
  try {
    return db
      .all(`SELECT "name" FROM "sqlite_master" WHERE "type" IN ('table', 'trigger') ORDER BY "name"`)
      .map((row) => String((row as Record<string, unknown>).name));
  } finally {
    db.close();
  }
}

describe('Store: table storage created on first use', () => {
  let dir: string;
  let file: string;
  let schema: Schema;
  let store: Store | undefined;

  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'dvw-store-'));
    file = path.join(dir, 'org.db');
    schema = builtinSchema();
  });

  afterEach(() => {
    store?.close();
    store = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  const reopen = (opened: Schema = schema): Store => {
    store?.close();
    store = new Store(opened, file);
    return store;
  };

  it('starts with the shared tables only, and creates a table, its indexes and its trigger on the first write', () => {
    const s = reopen();
    const accounts = table(schema, 'account');
    assert.equal(accounts.changeTracking, true, 'account is a tracked table of the built-in schema');
    s.transaction(() => s.insert(accounts, { accountid: ACCOUNT, name: 'First', versionnumber: s.nextVersion() }));
    s.close();
    store = undefined;
    assert.deepEqual(storedNames(file), ['_meta', '_tombstones', 't_account', 'tr_account_tombstone']);
  });

  it('answers reads of an untouched table empty, through every kind of statement', () => {
    const s = reopen();
    const contacts = table(schema, 'contact');
    assert.equal(s.get(contacts, CONTACT), null);
    assert.deepEqual(s.page(table(schema, 'task'), 10), []);
    assert.equal(s.count(table(schema, 'role')), 0);
    assert.deepEqual(s.findBy(table(schema, 'opportunity'), { name: 'x' }), []);
    // A query naming several untouched tables (as $expand and FetchXML link-entity build them).
    const rows = s.all(
      'SELECT a."name" FROM "t_account" a LEFT JOIN "t_contact" c ON c."parentcustomerid" = a."accountid" JOIN "t_teammembership" m ON m."systemuserid" = a."accountid"',
      [],
    );
    assert.deepEqual(rows, []);
  });

  it('creates a table again when the transaction that created it was rolled back', () => {
    const s = reopen();
    const contacts = table(schema, 'contact');
    assert.throws(() =>
      s.transaction(() => {
        s.insert(contacts, { contactid: CONTACT, lastname: 'Undone' });
        throw new Error('the request failed');
      }),
    );
    assert.equal(s.get(contacts, CONTACT), null);
    s.transaction(() => s.insert(contacts, { contactid: CONTACT, lastname: 'Kept' }));
    assert.equal(s.get(contacts, CONTACT)?.lastname, 'Kept');
  });

  it('records deletes of a tracked table created on first use as tombstones', () => {
    const s = reopen();
    const accounts = table(schema, 'account');
    s.transaction(() => s.insert(accounts, { accountid: ACCOUNT, name: 'Gone', versionnumber: s.nextVersion() }));
    s.transaction(() => s.delete(accounts, ACCOUNT));
    assert.deepEqual(
      s.all('SELECT "tablename", "id" FROM "_tombstones"', []).map((r) => [r.tablename, r.id]),
      [['account', ACCOUNT]],
    );
  });

  it('keeps a reopened data file: its rows, and columns a schema file adds to a table it holds', () => {
    let s = reopen();
    const accounts = table(schema, 'account');
    s.transaction(() => s.insert(accounts, { accountid: ACCOUNT, name: 'Kept' }));
    const extended = extendSchemaWithFile(
      builtinSchema(),
      schemaFile(dir, { tables: [{ logicalName: 'account', columns: [{ name: 'new_rating', type: 'integer' }] }] }),
    );
    s = reopen(extended);
    const extendedAccounts = table(extended, 'account');
    assert.equal(s.get(extendedAccounts, ACCOUNT)?.name, 'Kept');
    s.transaction(() => s.update(extendedAccounts, ACCOUNT, { new_rating: 5 }));
    assert.equal(s.get(extendedAccounts, ACCOUNT)?.new_rating, 5);
  });

  it('lets a read create an untouched table while writes are set aside, and applies them afterwards', () => {
    const s = reopen();
    const accounts = table(schema, 'account');
    s.transaction(() => s.insert(accounts, { accountid: ACCOUNT, name: 'Committed' }));
    s.begin(true);
    s.insert(table(schema, 'contact'), { contactid: CONTACT, lastname: 'Pending' });
    const aside = s.setAside();
    assert.equal(s.get(table(schema, 'contact'), CONTACT), null, 'the committed state has no such contact');
    assert.deepEqual(s.page(table(schema, 'role'), 5), []);
    s.reapply(aside);
    assert.equal(s.get(table(schema, 'contact'), CONTACT)?.lastname, 'Pending');
  });
});

describe("Store: indexes made with a table's first rows", () => {
  let dir: string;
  let file: string;
  const schema = builtinSchema();
  const contacts = table(schema, 'contact');
  // Every lookup is indexed, so $expand and lookup filters do not scan: contact's parent customer is one of them.
  const PARENT_INDEX = 'ix_contact_parentcustomerid';

  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'dvw-store-index-'));
    file = path.join(dir, 'org.db');
  });

  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('creates no index for a table that is only read, and all of them with its first row', () => {
    const s = new Store(schema, file);
    try {
      assert.equal(s.count(contacts), 0);
      // The change log's version index comes with the table (its trigger needs no more); the others wait for rows.
      assert.deepEqual(indexNames(s, 't_contact'), ['ix_contact_versionnumber'], 'a read creates the bare table');
      s.transaction(() => s.insert(contacts, { contactid: CONTACT, lastname: 'First' }));
      assert.ok(indexNames(s, 't_contact').includes(PARENT_INDEX));
    } finally {
      s.close();
    }
  });

  it('makes the indexes again after a rollback took them back with the row', () => {
    const s = new Store(schema, file);
    try {
      s.count(contacts);
      assert.throws(() =>
        s.transaction(() => {
          s.insert(contacts, { contactid: CONTACT, lastname: 'Undone' });
          throw new Error('the request failed');
        }),
      );
      assert.deepEqual(indexNames(s, 't_contact'), ['ix_contact_versionnumber']);
      s.transaction(() => s.insert(contacts, { contactid: CONTACT, lastname: 'Kept' }));
      assert.ok(indexNames(s, 't_contact').includes(PARENT_INDEX));
    } finally {
      s.close();
    }
  });

  it('makes the indexes of a table whose first rows were set aside when the writes are applied again', () => {
    const s = new Store(schema, file);
    try {
      s.begin(true);
      s.insert(contacts, { contactid: CONTACT, lastname: 'Pending' });
      const aside = s.setAside();
      assert.equal(s.count(contacts), 0, 'a read meanwhile creates the bare table');
      s.reapply(aside);
      assert.equal(s.get(contacts, CONTACT)?.lastname, 'Pending');
      assert.ok(indexNames(s, 't_contact').includes(PARENT_INDEX));
    } finally {
      s.close();
    }
  });
});

function schemaFile(dir: string, content: unknown): string {
  const target = path.join(dir, 'schema.json');
  writeFileSync(target, JSON.stringify(content));
  return target;
}

import * as assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Database } from 'node-sqlite3-wasm';
import type { Table } from '../../../src/emulator/schema/schema';
import { builtinSchema } from '../../../src/emulator/schema/snapshot';
import { ReapplyError, Store } from '../../../src/emulator/store';

// A request whose synchronous webhook is pending sets its transaction aside (Store.setAside), so other requests
// read the committed state meanwhile, and applies it again afterwards (Store.reapply). These tests pin what that
// must guarantee: the same result as committing directly, nothing half-applied, no write while set aside.

const ACCOUNT_A = '00000000-0000-0000-0000-00000000000a';
const ACCOUNT_B = '00000000-0000-0000-0000-00000000000b';

describe('Store: writes set aside while a synchronous webhook is pending', () => {
  let dir: string;
  let store: Store;
  let accounts: Table;

  const name = (id: string): unknown => store.get(accounts, id)?.name;

  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'dvw-set-aside-'));
    const schema = builtinSchema();
    store = new Store(schema, path.join(dir, 'org.db'));
    const table = schema.tables.get('account');
    if (table === undefined) throw new Error('no account table');
    accounts = table;
    store.transaction(() => store.insert(accounts, { accountid: ACCOUNT_A, name: 'Committed' }));
  });

  afterEach(() => {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('shows the committed state while set aside, refuses writes, then applies the same changes', () => {
    store.begin(true);
    store.update(accounts, ACCOUNT_A, { name: 'Changed', versionnumber: store.nextVersion() });
    store.insert(accounts, { accountid: ACCOUNT_B, name: 'Created' });
    store.delete(accounts, ACCOUNT_A);
    store.insert(accounts, { accountid: ACCOUNT_A, name: 'Again' });
    const expected = { a: name(ACCOUNT_A), b: name(ACCOUNT_B), version: store.getMeta('version') };
    const aside = store.setAside();

    assert.equal(store.inTransaction, false, 'no transaction is left open');
    assert.equal(name(ACCOUNT_A), 'Committed');
    assert.equal(name(ACCOUNT_B), undefined);
    assert.throws(() => store.setMeta('probe', '1'), /readonly/, 'SQLite refuses writes meanwhile');
    assert.throws(() => store.transaction(() => undefined), /set aside/);

    store.reapply(aside);
    assert.deepEqual({ a: name(ACCOUNT_A), b: name(ACCOUNT_B), version: store.getMeta('version') }, expected);
    store.setMeta('probe', '1');
    assert.equal(store.getMeta('probe'), '1', 'writes are taken again');
  });

  it('leaves out what a savepoint rolled back', () => {
    store.begin(true);
    store.update(accounts, ACCOUNT_A, { name: 'Kept' });
    assert.throws(() =>
      store.transaction(() => {
        store.insert(accounts, { accountid: ACCOUNT_B, name: 'Undone' });
        throw new Error('the part failed');
      }),
    );
    store.reapply(store.setAside());
    assert.equal(name(ACCOUNT_A), 'Kept');
    assert.equal(name(ACCOUNT_B), undefined);
  });

  it('keeps nothing when the writes are given up', () => {
    store.begin(true);
    store.update(accounts, ACCOUNT_A, { name: 'Given up' });
    store.setAside();
    store.discard();
    assert.equal(name(ACCOUNT_A), 'Committed');
    store.transaction(() => store.update(accounts, ACCOUNT_A, { name: 'Later' }));
    assert.equal(name(ACCOUNT_A), 'Later');
  });

  it('applies nothing when another program wrote to the data file meanwhile', () => {
    store.begin(true);
    store.update(accounts, ACCOUNT_A, { name: 'Mine' });
    store.insert(accounts, { accountid: ACCOUNT_B, name: 'Mine too' });
    const aside = store.setAside();
    const other = new Database(path.join(dir, 'org.db'));
    try {
      other.run(`UPDATE "t_account" SET "name" = 'Theirs' WHERE "accountid" = ?`, [ACCOUNT_A]);
    } finally {
      other.close();
    }
    assert.throws(() => store.reapply(aside), ReapplyError);
    assert.equal(name(ACCOUNT_A), 'Theirs');
    assert.equal(name(ACCOUNT_B), undefined, 'not half applied');
    assert.equal(store.inTransaction, false);
  });

  it('sets aside only a transaction that noted its writes', () => {
    store.begin(false);
    store.update(accounts, ACCOUNT_A, { name: 'Unnoted' });
    assert.throws(() => store.setAside(), /noting its writes/);
    store.rollback();
    assert.equal(name(ACCOUNT_A), 'Committed');
  });

  it('rests on node-sqlite3-wasm facts: a second connection cannot read during a transaction, and no WAL', () => {
    const file = path.join(dir, 'facts.db');
    const writer = new Database(file);
    const reader = new Database(file);
    try {
      writer.exec(`CREATE TABLE t (v TEXT); INSERT INTO t VALUES ('committed')`);
      assert.deepEqual(writer.get('PRAGMA journal_mode = WAL'), { journal_mode: 'delete' });
      writer.exec('BEGIN IMMEDIATE');
      writer.run(`UPDATE t SET v = 'uncommitted'`);
      // Its VFS takes one `<file>.lock` directory for every lock level, so the reader cannot even get SHARED.
      assert.throws(() => reader.get('SELECT v FROM t'), /database is locked/);
      writer.exec('ROLLBACK');
      assert.deepEqual(reader.get('SELECT v FROM t'), { v: 'committed' });
    } finally {
      writer.close();
      reader.close();
    }
  });
});

import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../../../../src/cli/program';
import { SchemaError } from '../../../../src/emulator/schema/schema';
import type { Schema } from '../../../../src/emulator/schema/schema';
import { builtinSchema, loadMetadataFile, loadSnapshot } from '../../../../src/emulator/schema/snapshot';
import { REAL_METADATA, writeRealSnapshot } from './fixtureSnapshot';

function refusal(load: () => unknown): SchemaError {
  try {
    load();
  } catch (error) {
    if (error instanceof SchemaError) return error;
    throw error;
  }
  throw new Error('expected a SchemaError');
}

describe('emulator schema from a snapshot or a bare $metadata (emulator/schema/snapshot)', () => {
  let root: string;
  let real: string;
  let schema: Schema;
  before(() => {
    root = mkdtempSync(join(tmpdir(), 'dvw-snapshot-'));
    real = writeRealSnapshot(join(root, 'real'));
    schema = loadSnapshot(real);
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  /** A copy of the real snapshot trimmed to a few tables, for damaging. */
  function small(name: string): string {
    return writeRealSnapshot(join(root, name), ['account', 'contact', 'task']);
  }

  it('serves every table of the real org, with its entity set and the $metadata document as it came', () => {
    assert.ok(schema.tables.size > 800, `${schema.tables.size} tables`);
    assert.equal(schema.byEntitySet.get('accounts')?.logicalName, 'account');
    assert.equal(schema.byEntitySet.get('activitypointers')?.logicalName, 'activitypointer');
    assert.equal(schema.csdl, readFileSync(join(real, '$metadata.xml'), 'utf8'));
  });

  it('activities inherit from activitypointer: base type, IsActivity, inherited columns, polymorphic regarding', () => {
    const task = schema.tables.get('task');
    assert.ok(task);
    assert.equal(task.baseType, 'activitypointer');
    assert.equal(task.isActivity, true);
    assert.equal(task.primaryIdAttribute, 'activityid');
    assert.equal(task.columns.get('subject')?.type, 'string', 'subject comes from activitypointer');
    const regarding = task.columns.get('regardingobjectid');
    assert.equal(regarding?.type, 'lookup');
    const targets = new Set(regarding?.targets?.map((t) => t.table));
    for (const t of ['account', 'contact', 'opportunity']) assert.ok(targets.has(t), `regarding ${t}`);
    const toAccount = regarding?.targets?.find((t) => t.table === 'account');
    assert.deepEqual(toAccount && { navigation: toAccount.navigation, partner: toAccount.partner }, {
      navigation: 'regardingobjectid_account_task',
      partner: 'Account_Tasks',
    });
    const accountTasks = schema.tables.get('account')?.navigations.get('Account_Tasks');
    assert.deepEqual(accountTasks, {
      kind: 'collection',
      name: 'Account_Tasks',
      source: 'task',
      column: 'regardingobjectid',
      partner: 'regardingobjectid_account_task',
    });
    assert.equal(schema.tables.get('account')?.isActivity, false);
  });

  it('systemuser and team derive from principal; ownerid is an owner lookup to both; customer lookups have two targets', () => {
    for (const name of ['systemuser', 'team']) {
      const t = schema.tables.get(name);
      assert.equal(t?.baseType, 'principal');
      assert.equal(t?.primaryIdAttribute, `${name}id`);
      assert.equal(t?.columns.get('ownerid')?.readOnly, true, "principal's key, the row's own id again");
    }
    const owner = schema.tables.get('account')?.columns.get('ownerid');
    assert.equal(owner?.type, 'owner');
    assert.deepEqual(
      owner?.targets?.map((t) => t.table),
      ['systemuser', 'team'],
    );
    assert.ok(schema.principalNavigations.some((n) => n.name === 'owner_accounts'));
    const customer = schema.tables.get('contact')?.columns.get('parentcustomerid');
    assert.deepEqual(
      customer?.targets?.map((t) => [t.table, t.navigation]),
      [
        ['account', 'parentcustomerid_account'],
        ['contact', 'parentcustomerid_contact'],
      ],
    );
  });

  it('N:N relationships go through their intersect table on both sides', () => {
    const nn = schema.manyToMany.find((m) => m.name === 'accountleads_association');
    assert.ok(nn);
    assert.deepEqual([...nn.tables].sort(), ['account', 'lead']);
    assert.equal(schema.tables.get('account')?.navigations.get('accountleads_association')?.kind, 'manyToMany');
    assert.equal(schema.tables.get('lead')?.navigations.get('accountleads_association')?.kind, 'manyToMany');
  });

  it("takes what only EntityDefinitions know from the table's file: option sets, required levels, money, the raw JSON", () => {
    const account = schema.tables.get('account');
    assert.ok(account?.entityDefinition);
    assert.equal(account.entityDefinition.LogicalName, 'account');
    const state = account.columns.get('statecode');
    assert.equal(state?.type, 'state');
    assert.deepEqual(
      state?.options?.map((o) => o.value),
      [0, 1],
    );
    assert.equal(account.columns.get('industrycode')?.type, 'choice');
    assert.equal(account.columns.get('revenue')?.type, 'currency');
    assert.equal(account.columns.get('ownerid')?.required, 'SystemRequired');
    // contact has no definition in the fixtures: its choices are whole numbers, its option sets unknown.
    assert.equal(schema.tables.get('contact')?.columns.get('statecode')?.type, 'integer');
    assert.equal(schema.tables.get('contact')?.entityDefinition, undefined);
  });

  it('a bare $metadata (--metadata) gives the same tables, with option sets and keys unknown', () => {
    const bare = loadMetadataFile(REAL_METADATA);
    assert.deepEqual([...bare.tables.keys()], [...schema.tables.keys()]);
    assert.equal(bare.tables.get('account')?.columns.get('statecode')?.type, 'integer');
    assert.deepEqual(bare.tables.get('account')?.alternateKeys, []);
  });

  describe('bad input: a clear error naming the file and the element, nothing loaded', () => {
    it('a truncated $metadata', () => {
      const folder = small('truncated');
      const file = join(folder, '$metadata.xml');
      const text = readFileSync(file, 'utf8');
      writeFileSync(file, text.slice(0, Math.floor(text.length / 2)));
      const error = refusal(() => loadSnapshot(folder));
      assert.ok(error.message.startsWith(`${file}:`), error.message);
    });

    it('a file that is not CSDL', () => {
      const folder = small('notcsdl');
      const file = join(folder, '$metadata.xml');
      writeFileSync(file, '<html><body>Sign in</body></html>');
      assert.match(
        refusal(() => loadSnapshot(folder)).message,
        /\$metadata\.xml: [\s\S]*<html> is not a CSDL document element/,
      );
      writeFileSync(file, '{"error": "not xml"}');
      assert.ok(refusal(() => loadSnapshot(folder)).message.includes(file));
    });

    it('a snapshot of another format version, or one whose download did not finish', () => {
      const folder = small('version');
      const manifest = join(folder, 'snapshot.json');
      const value = JSON.parse(readFileSync(manifest, 'utf8')) as Record<string, unknown>;
      writeFileSync(manifest, JSON.stringify({ ...value, version: 2 }));
      const error = refusal(() => loadSnapshot(folder));
      assert.match(error.message, /snapshot\.json: [\s\S]*"version" is 2; this dvw reads version 1/s);
      writeFileSync(manifest, JSON.stringify({ ...value, complete: false }));
      assert.match(refusal(() => loadSnapshot(folder)).message, /did not finish.*resume/);
      writeFileSync(manifest, '{"format": "dvw-schema-snap');
      assert.match(refusal(() => loadSnapshot(folder)).message, /snapshot\.json: [\s\S]*not valid JSON/);
    });

    it('duplicate names: an entity type declared twice, a property declared twice', () => {
      const folder = small('duplicate');
      const file = join(folder, '$metadata.xml');
      const text = readFileSync(file, 'utf8');
      const task = /<EntityType Name="task"[\s\S]*?<\/EntityType>/.exec(text)?.[0] ?? '';
      writeFileSync(file, text.replace(task, `${task}${task}`));
      assert.match(
        refusal(() => loadSnapshot(folder)).message,
        /\$metadata\.xml: [\s\S]*EntityType 'task' is declared twice/,
      );
      const property = '<Property Name="subcategory" Type="Edm.String" Unicode="false" />';
      assert.ok(task.includes(property));
      writeFileSync(file, text.replace(property, `${property}${property}`));
      assert.match(
        refusal(() => loadSnapshot(folder)).message,
        /<EntityType Name="task">: property 'subcategory' is declared twice/,
      );
    });

    it('a table without a primary key', () => {
      const folder = small('nokey');
      const file = join(folder, '$metadata.xml');
      const text = readFileSync(file, 'utf8');
      writeFileSync(file, text.replace('<Key><PropertyRef Name="contactid" /></Key>', ''));
      assert.match(refusal(() => loadSnapshot(folder)).message, /<EntityType Name="contact"> has no <Key>/);
    });

    it("a table file that is missing, cut short, or another table's", () => {
      const folder = small('tablefile');
      const file = join(folder, 'tables', 'account.json');
      const text = readFileSync(file, 'utf8');
      writeFileSync(file, text.slice(0, 1000));
      assert.match(refusal(() => loadSnapshot(folder)).message, /account\.json: [\s\S]*not valid JSON/);
      writeFileSync(file, text.replace('"LogicalName": "account"', '"LogicalName": "contact"'));
      assert.match(
        refusal(() => loadSnapshot(folder)).message,
        /account\.json: [\s\S]*LogicalName is "contact", expected 'account'/,
      );
      rmSync(file);
      assert.match(refusal(() => loadSnapshot(folder)).message, /account\.json: [\s\S]*the file does not exist/);
    });

    it('dvw emulator exits 2 with the message and starts nothing', async () => {
      const folder = small('cli');
      writeFileSync(join(folder, '$metadata.xml'), '<edmx:Edmx');
      let stderr = '';
      const code = await runCli(['emulator', '--schema-snapshot', folder, '--no-auth'], {
        stdout: () => undefined,
        stderr: (t) => (stderr += t),
      });
      assert.equal(code, 2);
      assert.match(stderr, /dvw emulator: .*\$metadata\.xml: /);
      cpSync(REAL_METADATA, join(root, 'x.xml'));
      const both = await runCli(['emulator', '--schema-snapshot', folder, '--metadata', join(root, 'x.xml')], {
        stdout: () => undefined,
        stderr: () => undefined,
      });
      assert.equal(both, 2);
    });
  });
});

describe('the built-in tables, a snapshot read by the same loader (emulator/schema/snapshot builtinSchema)', () => {
  it('follow the real $metadata: task derives from activitypointer, N:N pairs live in the intersect tables', () => {
    const schema = builtinSchema();
    assert.ok(schema.csdl?.startsWith('<?xml'), 'served as the snapshot holds it');
    const task = schema.tables.get('task');
    assert.equal(task?.baseType, 'activitypointer');
    assert.equal(task?.isActivity, true);
    assert.equal(schema.byEntitySet.get('activitypointers')?.logicalName, 'activitypointer');
    const membership = schema.manyToMany.find((m) => m.name === 'teammembership_association');
    assert.deepEqual(membership?.intersectColumns, ['systemuserid', 'teamid']);
    assert.equal(schema.tables.get('teammembership')?.isIntersect, true);
  });

  it("keeps what the built-in tables knew: write-only columns' set indicators, keys, change tracking, a currency's own rate", () => {
    const schema = builtinSchema();
    // Webhook secrets: "Use Webhooks to create external handlers for server events",
    // https://learn.microsoft.com/power-apps/developer/data-platform/use-webhooks
    const endpoint = schema.tables.get('serviceendpoint');
    assert.equal(endpoint?.columns.get('authvalue')?.validForRead, false);
    assert.equal(endpoint?.columns.get('authvalue')?.setIndicator, 'isauthvalueset');
    assert.equal(endpoint?.columns.get('isauthvalueset')?.readOnly, true);
    const account = schema.tables.get('account');
    assert.deepEqual(account?.alternateKeys, [{ name: 'ak_accountnumber', columns: ['accountnumber'] }]);
    assert.equal(account?.changeTracking, true);
    assert.equal(account?.columns.get('name')?.maxLength, 160);
    assert.equal(account?.columns.get('exchangerate')?.readOnly, true, "a record's rate is the server's copy");
    assert.equal(schema.tables.get('transactioncurrency')?.columns.get('exchangerate')?.readOnly, false);
  });
});

import assert from 'node:assert/strict';
import { parseCsdl } from '../../../src/metadata/csdl';
import {
  entityTables,
  localTypeName,
  parseTableList,
  readManifest,
  selectTables,
  SNAPSHOT_FORMAT,
  SNAPSHOT_VERSION,
  trimCsdl,
} from '../../../src/metadata/schemaSnapshot';
import { realMetadataText } from '../emulator/schema/fixtureSnapshot';

const good = {
  format: SNAPSHOT_FORMAT,
  version: SNAPSHOT_VERSION,
  source: 'https://contoso.crm.dynamics.com/api/data/v9.2/',
  takenAt: '2024-01-01T00:00:00.000Z',
  complete: true,
  tables: [{ logicalName: 'account', entitySetName: 'accounts', definition: 'tables/account.json' }],
};

describe('schema snapshot format (metadata/schemaSnapshot)', () => {
  const text = realMetadataText();
  const { model } = parseCsdl(text);

  it('reads a manifest and refuses another format, another version and a table listed twice', () => {
    assert.deepEqual(readManifest(good).manifest, good);
    assert.match(readManifest({ ...good, format: 'other' }).problems[0] ?? '', /not a schema snapshot/);
    assert.match(readManifest({ ...good, version: 2 }).problems[0] ?? '', /"version" is 2; this dvw reads version 1/);
    const twice = readManifest({ ...good, tables: [...good.tables, ...good.tables] });
    assert.equal(twice.manifest, undefined);
    assert.match(twice.problems.join('\n'), /"tables"\[1\]: table 'account' is listed twice/);
    assert.match(readManifest({ ...good, tables: [{ logicalName: 'account' }] }).problems[0] ?? '', /entitySetName/);
  });

  it('finds the tables of a real $metadata: entity sets of types deriving from crmbaseentity, not EntityDefinitions', () => {
    const tables = entityTables(model);
    const names = new Set(tables.map((t) => t.logicalName));
    for (const name of ['account', 'task', 'activitypointer', 'systemuser', 'team', 'accountleads'])
      assert.ok(names.has(name), name);
    assert.ok(!names.has('EntityMetadata') && !tables.some((t) => t.entitySetName === 'EntityDefinitions'));
    assert.ok(tables.length > 800, `${tables.length} tables`);
  });

  it('--tables keeps the named tables, prefix_* matches, the required tables and base types come along', () => {
    const { kept, unmatched } = selectTables(model, ['account', 'task', 'msdyn_ocliveworkitem*', 'nosuchtable']);
    assert.deepEqual(unmatched, ['nosuchtable']);
    for (const name of [
      'account',
      'task',
      'activitypointer',
      'systemuser',
      'team',
      'businessunit',
      'transactioncurrency',
    ])
      assert.ok(kept.has(name), name);
    assert.ok([...kept].some((n) => n.startsWith('msdyn_ocliveworkitem')));
    assert.ok(!kept.has('contact'));
  });

  it('trimming keeps a valid CSDL: no type, set, binding or operation names a table left out', () => {
    const { kept } = selectTables(model, ['account', 'contact', 'task']);
    const trimmed = trimCsdl(text, model, kept);
    const result = parseCsdl(trimmed);
    assert.deepEqual(result.errors, []);
    const m = result.model;
    assert.deepEqual(new Set(entityTables(m).map((t) => t.logicalName)), kept);
    const known = (qualified: string): boolean => {
      const name = localTypeName(m, qualified.replace(/^Collection\((.*)\)$/, '$1'));
      return name === undefined || m.entityTypes.has(name) || m.complexTypes.has(name) || m.enumTypes.has(name);
    };
    for (const type of m.entityTypes.values()) {
      for (const n of type.navigationProperties) assert.ok(known(n.type), `${type.name}.${n.name} → ${n.type}`);
      if (type.baseType !== undefined) assert.ok(known(type.baseType), `${type.name} base ${type.baseType}`);
    }
    for (const complex of m.complexTypes.values()) {
      for (const n of complex.navigationProperties ?? [])
        assert.ok(known(n.type), `${complex.name}.${n.name} → ${n.type}`);
    }
    for (const overloads of m.operations.values()) {
      for (const o of overloads) {
        for (const p of o.parameters) assert.ok(known(p.type), `${o.name}(${p.name}: ${p.type})`);
        if (o.returnType !== undefined) assert.ok(known(o.returnType), `${o.name} returns ${o.returnType}`);
      }
    }
    assert.ok(/Target="contacts"/.test(trimmed), 'contacts is kept, so bindings to it stay');
    assert.ok(!/Target="leads"/.test(trimmed), 'no binding to a dropped set');
    assert.ok(m.operations.has('WhoAmI'), 'operations on kept or no tables stay');
  });

  it('trimming a document to all of its tables returns it byte for byte (a snapshot of a snapshot is the same)', () => {
    const all = new Set(entityTables(model).map((t) => t.logicalName));
    assert.equal(trimCsdl(text, model, all), text);
    const { kept } = selectTables(model, ['account']);
    const once = trimCsdl(text, model, kept);
    assert.equal(trimCsdl(once, parseCsdl(once).model, kept), once);
  });

  it('reads a --tables list as typed: trimmed, lower-cased, empty entries dropped, the rest refused by name', () => {
    assert.deepEqual(parseTableList(' Account, contact ,,contoso_* '), {
      patterns: ['account', 'contact', 'contoso_*'],
      invalid: [],
    });
    assert.deepEqual(parseTableList('account, bad name!, new-table'), {
      patterns: ['account'],
      invalid: ['bad name!', 'new-table'],
    });
    assert.deepEqual(parseTableList('  '), { patterns: [], invalid: [] });
  });
});

import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { extendSchema, extendSchemaWithFile } from '../../../src/emulator/schema/extension';
import { parseSchema, SchemaError } from '../../../src/emulator/schema/schema';
import { builtinSchema } from '../../../src/emulator/schema/snapshot';

function problemsOf(run: () => unknown): readonly string[] {
  try {
    run();
  } catch (error) {
    if (error instanceof SchemaError) return error.problems;
    throw error;
  }
  assert.fail('expected a SchemaError');
}

describe('emulator schema', function () {
  it('loads the built-in tables with system, currency-base and ownership columns', function () {
    const schema = builtinSchema();
    for (const name of [
      'account',
      'contact',
      'opportunity',
      'task',
      'systemuser',
      'team',
      'businessunit',
      'transactioncurrency',
    ]) {
      assert.ok(schema.tables.has(name), name);
    }
    const account = schema.tables.get('account');
    assert.ok(account !== undefined);
    for (const column of [
      'createdon',
      'modifiedon',
      'createdby',
      'modifiedby',
      'ownerid',
      'statecode',
      'statuscode',
      'versionnumber',
      'revenue_base',
    ]) {
      assert.ok(account.columns.has(column), column);
    }
    assert.equal(account.columns.get('revenue_base')?.baseOf, 'revenue');
    assert.equal(account.columns.get('ownerid')?.type, 'owner');
    assert.equal(account.navigations.get('Account_Tasks')?.kind, 'collection');
    assert.equal(schema.tables.get('systemuser')?.navigations.get('teammembership_association')?.kind, 'manyToMany');
    assert.deepEqual(account.alternateKeys, [{ name: 'ak_accountnumber', columns: ['accountnumber'] }]);
    assert.equal(account.changeTracking, true);
  });

  it('reports every problem of a bad schema with its path', function () {
    const problems = problemsOf(() =>
      parseSchema({
        tables: [
          { logicalName: 'Bad Name', columns: [] },
          {
            logicalName: 'widget',
            columns: [
              { name: 'size', type: 'huge' },
              { name: 'title', type: 'string' },
              { name: 'kind', type: 'choice' },
            ],
          },
        ],
      }),
    );
    assert.ok(
      problems.some((p) => p.includes("$.tables[0].logicalName 'Bad Name'")),
      problems.join('\n'),
    );
    assert.ok(
      problems.some((p) => p.includes('$.tables[1].columns[0].type')),
      problems.join('\n'),
    );
    assert.ok(
      problems.some((p) => p.includes('$.tables[1].columns[1].maxLength is required')),
      problems.join('\n'),
    );
    assert.ok(
      problems.some((p) => p.includes('$.tables[1].columns[2].options is required')),
      problems.join('\n'),
    );
  });

  it('rejects references to unknown tables and a missing primary key', function () {
    const problems = problemsOf(() =>
      extendSchema(
        builtinSchema(),
        {
          tables: [
            {
              logicalName: 'new_gadget',
              columns: [
                {
                  name: 'new_ownerthing',
                  type: 'lookup',
                  targets: [{ table: 'nosuch', navigation: 'x', partner: 'y' }],
                },
              ],
            },
          ],
        },
        'user.json',
      ),
    );
    assert.ok(
      problems.some((p) => p.includes("targets unknown table 'nosuch'")),
      problems.join('\n'),
    );
    assert.ok(
      problems.some((p) => p.includes("primary id column 'new_gadgetid'")),
      problems.join('\n'),
    );
  });

  it('extends the built-in schema from a user file: new tables and new columns on existing ones', function () {
    const dir = mkdtempSync(join(tmpdir(), 'dvw-schema-'));
    const file = join(dir, 'schema.json');
    writeFileSync(
      file,
      JSON.stringify({
        tables: [
          { logicalName: 'account', columns: [{ name: 'new_rating', type: 'integer' }] },
          {
            logicalName: 'new_project',
            entitySetName: 'new_projects',
            primaryNameAttribute: 'new_name',
            columns: [
              { name: 'new_projectid', type: 'uniqueidentifier' },
              { name: 'new_name', type: 'string', maxLength: 100 },
              {
                name: 'new_accountid',
                type: 'lookup',
                targets: [{ table: 'account', navigation: 'new_accountid', partner: 'new_account_projects' }],
              },
            ],
          },
        ],
      }),
    );
    const schema = extendSchemaWithFile(builtinSchema(), file);
    assert.equal(schema.tables.get('account')?.columns.get('new_rating')?.type, 'integer');
    assert.equal(schema.byEntitySet.get('new_projects')?.logicalName, 'new_project');
    assert.equal(schema.tables.get('account')?.navigations.get('new_account_projects')?.kind, 'collection');
    assert.ok(schema.tables.get('new_project')?.columns.has('ownerid'));
  });

  it('says clearly when the user file is not JSON', function () {
    const dir = mkdtempSync(join(tmpdir(), 'dvw-schema-'));
    const file = join(dir, 'broken.json');
    writeFileSync(file, '{ tables: ');
    const problems = problemsOf(() => extendSchemaWithFile(builtinSchema(), file));
    assert.match(problems[0] ?? '', /cannot read the file as JSON/);
  });
});

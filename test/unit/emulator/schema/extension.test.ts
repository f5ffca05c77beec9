/**
 * `dvw emulator --schema-snapshot DIR --schema ext.json`: a JSON schema file on top of a real organization's
 * snapshot (../shared/fixtures) adds tables, columns and N:N relationships; what the organization already has is a
 * conflict, refused with the file and the name.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../../../../src/cli/program';
import { extendSchema } from '../../../../src/emulator/schema/extension';
import type { Schema } from '../../../../src/emulator/schema/schema';
import { SchemaError } from '../../../../src/emulator/schema/schema';
import { loadSnapshot } from '../../../../src/emulator/schema/snapshot';
import { parseCsdl } from '../../../../src/metadata/csdl';
import type { Client } from '../helpers';
import { idFromEntityId, jsonOf, startClient } from '../helpers';
import { writeRealSnapshot } from './fixtureSnapshot';

/** A custom publisher's table with a lookup to account, a column on account, and an N:N with contact. */
const EXTENSION = {
  tables: [
    {
      logicalName: 'new_project',
      entitySetName: 'new_projects',
      primaryNameAttribute: 'new_name',
      columns: [
        { name: 'new_projectid', type: 'uniqueidentifier' },
        { name: 'new_name', type: 'string', maxLength: 100, required: 'ApplicationRequired' },
        {
          name: 'new_accountid',
          type: 'lookup',
          targets: [{ table: 'account', navigation: 'new_accountid', partner: 'new_account_new_project' }],
        },
      ],
    },
    { logicalName: 'account', columns: [{ name: 'new_tier', type: 'integer', min: 1, max: 3 }] },
  ],
  manyToMany: [{ name: 'new_project_contact', intersect: 'new_project_contact', tables: ['new_project', 'contact'] }],
};

function refusal(load: () => unknown): SchemaError {
  try {
    load();
  } catch (error) {
    if (error instanceof SchemaError) return error;
    throw error;
  }
  throw new Error('expected a SchemaError');
}

describe('emulator --schema on top of a schema snapshot (emulator/schema/extension)', function () {
  this.timeout(120_000);
  let root: string;
  let snapshot: string;
  let base: Schema;
  before(function () {
    root = mkdtempSync(join(tmpdir(), 'dvw-extension-'));
    snapshot = writeRealSnapshot(join(root, 'snapshot'), ['account', 'contact']);
    base = loadSnapshot(snapshot);
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  it('adds the tables, columns and N:N of the file to the snapshot’s, and to its $metadata', function () {
    const schema = extendSchema(base, EXTENSION, 'ext.json');
    const project = schema.tables.get('new_project');
    assert.equal(project?.entitySetName, 'new_projects');
    assert.equal(schema.byEntitySet.get('new_projects'), project);
    const account = schema.tables.get('account');
    assert.equal(account?.columns.get('new_tier')?.max, 3);
    assert.equal(
      account?.columns.get('name'),
      base.tables.get('account')?.columns.get('name'),
      'the org’s columns stay',
    );
    assert.equal(account?.entityDefinition, base.tables.get('account')?.entityDefinition);
    assert.equal(account?.navigations.get('new_account_new_project')?.kind, 'collection');
    assert.equal(schema.tables.get('contact')?.navigations.get('new_project_contact')?.kind, 'manyToMany');
    assert.equal(schema.tables.size, base.tables.size + 1);
    const { model, errors } = parseCsdl(schema.csdl ?? '');
    assert.deepEqual(errors, []);
    assert.ok(model.entitySets.has('new_projects'));
    const accountType = model.entityTypes.get('account');
    assert.ok(accountType?.properties.some((p) => p.name === 'new_tier'));
    assert.ok(accountType?.properties.some((p) => p.name === 'name'));
    assert.ok(accountType?.navigationProperties.some((n) => n.name === 'new_account_new_project'));
    assert.ok(model.entityTypes.get('new_project')?.properties.some((p) => p.name === '_new_accountid_value'));
    assert.ok(model.entityTypes.get('contact')?.navigationProperties.some((n) => n.name === 'new_project_contact'));
  });

  it('refuses what the snapshot already has, naming the file and each conflict', function () {
    const error = refusal(() =>
      extendSchema(
        base,
        {
          tables: [
            { logicalName: 'account', columns: [{ name: 'name', type: 'string', maxLength: 10 }] },
            {
              logicalName: 'new_other',
              entitySetName: 'contacts',
              columns: [{ name: 'new_otherid', type: 'uniqueidentifier' }],
            },
          ],
          manyToMany: [{ name: 'teammembership_association', intersect: 'x', tables: ['account', 'contact'] }],
        },
        'ext.json',
      ),
    );
    assert.ok(error.message.startsWith('ext.json: '), error.message);
    assert.match(error.message, /table 'account': column 'name' is already in the schema snapshot/);
    assert.match(error.message, /entity set 'contacts' is already the schema snapshot's entity set of 'contact'/);
    assert.match(error.message, /many-to-many 'teammembership_association' is already a relationship/);
    const unknown = refusal(() =>
      extendSchema(
        base,
        {
          tables: [
            {
              logicalName: 'account',
              columns: [{ name: 'new_x', type: 'lookup', targets: [{ table: 'nope', navigation: 'a', partner: 'b' }] }],
            },
          ],
        },
        'ext.json',
      ),
    );
    assert.match(unknown.message, /targets unknown table 'nope'/);
  });

  describe('over HTTP', function () {
    let client: Client;
    before(async function () {
      client = await startClient({ schema: extendSchema(base, EXTENSION, 'ext.json'), seed: 'none' });
    });
    after(async () => client.emulator.close());

    it('serves the new table, its lookup to the org’s account both ways, the new column and the N:N', async function () {
      let response = await client.request('POST', 'accounts', { body: { name: 'Extended', new_tier: 2 } });
      assert.equal(response.status, 204);
      const account = idFromEntityId(response);
      response = await client.request('POST', 'new_projects', {
        body: { new_name: 'Rollout', 'new_accountid@odata.bind': `/accounts(${account})` },
      });
      assert.equal(response.status, 204, await response.clone().text());
      const project = idFromEntityId(response);
      response = await client.request('POST', 'contacts', { body: { lastname: 'Member' } });
      const contact = idFromEntityId(response);
      response = await client.request('POST', `new_projects(${project})/new_project_contact/$ref`, {
        body: { '@odata.id': `contacts(${contact})` },
      });
      assert.equal(response.status, 204);
      response = await client.request(
        'GET',
        `accounts(${account})?$select=new_tier&$expand=new_account_new_project($select=new_name)`,
      );
      assert.equal(response.status, 200, await response.clone().text());
      const read = await jsonOf(response);
      assert.equal(read.new_tier, 2);
      const projects = read.new_account_new_project as Record<string, unknown>[];
      assert.deepEqual(
        projects.map((p) => p.new_name),
        ['Rollout'],
      );
      const members = await jsonOf(
        await client.request('GET', `new_projects(${project})/new_project_contact?$select=lastname`),
      );
      assert.deepEqual(
        (members.value as Record<string, unknown>[]).map((c) => c.contactid),
        [contact],
      );
      const tooHigh = await client.request('PATCH', `accounts(${account})`, { body: { new_tier: 4 } });
      assert.equal(tooHigh.status, 400, 'the file’s range applies');
      const metadata = await (await client.request('GET', '$metadata')).text();
      assert.ok(metadata.includes('<EntitySet Name="new_projects"'));
    });
  });

  it('dvw emulator --schema-snapshot DIR --schema FILE: a conflict is exit 2 with the file and the name', async function () {
    const file = join(root, 'conflict.json');
    writeFileSync(
      file,
      JSON.stringify({
        tables: [{ logicalName: 'contact', columns: [{ name: 'lastname', type: 'string', maxLength: 5 }] }],
      }),
    );
    let stderr = '';
    const code = await runCli(['emulator', '--schema-snapshot', snapshot, '--schema', file, '--no-auth'], {
      stdout: () => undefined,
      stderr: (t) => (stderr += t),
    });
    assert.equal(code, 2);
    assert.ok(stderr.includes(`${file}: `), stderr);
    assert.match(stderr, /column 'lastname' is already in the schema snapshot/);
  });

  it('dvw emulator --schema FILE extends the built-in tables, which are a snapshot too: a conflict is exit 2', async function () {
    const file = join(root, 'builtin-conflict.json');
    writeFileSync(
      file,
      JSON.stringify({
        tables: [{ logicalName: 'account', columns: [{ name: 'name', type: 'string', maxLength: 5 }] }],
      }),
    );
    let stderr = '';
    const code = await runCli(['emulator', '--schema', file, '--no-auth'], {
      stdout: () => undefined,
      stderr: (t) => (stderr += t),
    });
    assert.equal(code, 2);
    assert.ok(stderr.includes(`${file}: `), stderr);
    assert.match(stderr, /table 'account': column 'name' is already in the schema snapshot/);
  });
});

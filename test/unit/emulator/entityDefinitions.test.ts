import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Schema, Table } from '../../../src/emulator/schema/schema';
import { builtinSchema } from '../../../src/emulator/schema/snapshot';
import { loadSnapshot } from '../../../src/emulator/schema/snapshot';
import type { Client } from './helpers';
import { jsonOf, startClient } from './helpers';
import { realDefinition, writeRealSnapshot } from './schema/fixtureSnapshot';

type Json = Record<string, unknown>;

async function get(client: Client, path: string): Promise<Json> {
  const response = await client.request('GET', path);
  assert.equal(response.status, 200, `${path}: ${await response.clone().text()}`);
  return jsonOf(response);
}

/** The built-in schema with `account` carrying raw EntityDefinitions JSON, as a snapshot's table does. */
function withRawAccount(raw: Json): Schema {
  return withRaw('account', raw);
}

function withRaw(logicalName: string, raw: Json): Schema {
  const schema = builtinSchema();
  const account = schema.tables.get(logicalName) as Table;
  const overlaid: Table = { ...account, entityDefinition: raw };
  const tables = new Map(schema.tables);
  tables.set(logicalName, overlaid);
  const byEntitySet = new Map(schema.byEntitySet);
  byEntitySet.set(account.entitySetName, overlaid);
  return { ...schema, tables, byEntitySet };
}

describe('emulator metadata endpoints (EntityDefinitions, RelationshipDefinitions)', function () {
  this.timeout(30_000);
  let client: Client;
  before(async () => {
    client = await startClient({ seed: 'none' });
  });
  after(async () => {
    await client.emulator.close();
  });

  // https://learn.microsoft.com/power-apps/developer/data-platform/webapi/reference/entitymetadata
  it('answers null for a documented EntityMetadata or AttributeMetadata property it does not know, 400 for an undocumented one', async () => {
    const entity = await get(
      client,
      "EntityDefinitions(LogicalName='account')?$select=LogicalName,IconVectorName,IsBPFEntity",
    );
    assert.equal(entity.LogicalName, 'account');
    assert.equal(entity.IconVectorName, null);
    assert.ok('IsBPFEntity' in entity);
    const list = await get(client, 'EntityDefinitions?$select=LogicalName,IconVectorName');
    assert.ok((list.value as Json[]).every((e) => e.IconVectorName === null));
    const attributes = await get(
      client,
      "EntityDefinitions(LogicalName='account')/Attributes?$select=LogicalName,AutoNumberFormat,IsSecured",
    );
    assert.ok((attributes.value as Json[]).every((a) => a.AutoNumberFormat === null && 'IsSecured' in a));
    const wrong = await client.request('GET', "EntityDefinitions(LogicalName='account')?$select=NoSuchProperty");
    assert.equal(wrong.status, 400);
  });

  // https://learn.microsoft.com/power-apps/developer/data-platform/webapi/query-metadata-web-api#retrieve-relationships
  it('serves /Keys, /OneToManyRelationships, /ManyToOneRelationships and /ManyToManyRelationships with $select and $filter', async () => {
    const keys = await get(client, "EntityDefinitions(LogicalName='account')/Keys?$select=LogicalName,KeyAttributes");
    assert.deepEqual(
      (keys.value as Json[]).map((k) => [k.LogicalName, k.KeyAttributes]),
      [['ak_accountnumber', ['accountnumber']]],
    );
    const oneToMany = await get(
      client,
      "EntityDefinitions(LogicalName='account')/OneToManyRelationships?$select=SchemaName,ReferencingEntity,ReferencingAttribute&$filter=ReferencingEntity eq 'contact'",
    );
    const fromContact = oneToMany.value as Json[];
    assert.ok(fromContact.length > 0);
    assert.ok(fromContact.every((r) => r.ReferencingEntity === 'contact'));
    assert.ok(fromContact.some((r) => r.ReferencingAttribute === 'parentcustomerid'));
    const manyToOne = await get(
      client,
      "EntityDefinitions(LogicalName='account')/ManyToOneRelationships?$select=ReferencingAttribute,ReferencedEntity,ReferencingEntityNavigationPropertyName",
    );
    const primary = (manyToOne.value as Json[]).find((r) => r.ReferencingAttribute === 'primarycontactid');
    assert.equal(primary?.ReferencedEntity, 'contact');
    assert.equal(primary?.ReferencingEntityNavigationPropertyName, 'primarycontactid');
    const manyToMany = await get(
      client,
      "EntityDefinitions(LogicalName='systemuser')/ManyToManyRelationships?$select=SchemaName,IntersectEntityName",
    );
    assert.deepEqual((manyToMany.value as Json[]).map((r) => r.SchemaName).sort(), [
      'systemuserroles_association',
      'teammembership_association',
    ]);
  });

  it('expands Keys and the relationship collections of one table', async () => {
    const entity = await get(
      client,
      "EntityDefinitions(LogicalName='account')?$select=LogicalName&$expand=Keys($select=LogicalName),ManyToOneRelationships($select=SchemaName;$filter=ReferencedEntity eq 'contact'),OneToManyRelationships($select=SchemaName),ManyToManyRelationships",
    );
    // MetadataId comes with every selection, as Dataverse sends it.
    assert.deepEqual(
      (entity.Keys as Json[]).map((k) => [k.LogicalName, Object.keys(k).sort()]),
      [['ak_accountnumber', ['LogicalName', 'MetadataId']]],
    );
    assert.ok((entity.ManyToOneRelationships as Json[]).length > 0);
    assert.ok(Array.isArray(entity.OneToManyRelationships));
    assert.deepEqual(entity.ManyToManyRelationships, []);
  });

  // https://learn.microsoft.com/power-apps/developer/data-platform/webapi/query-metadata-web-api#retrieve-relationships
  it('serves RelationshipDefinitions, its casts, and one relationship by SchemaName', async () => {
    const all = await get(client, 'RelationshipDefinitions?$select=SchemaName');
    const names = (all.value as Json[]).map((r) => r.SchemaName);
    assert.ok(names.includes('teammembership_association'));
    const oneToMany = await get(
      client,
      "RelationshipDefinitions/Microsoft.Dynamics.CRM.OneToManyRelationshipMetadata?$select=SchemaName,ReferencedEntity&$filter=ReferencedEntity eq 'account'",
    );
    const fromAccount = oneToMany.value as Json[];
    assert.ok(fromAccount.length > 0 && fromAccount.every((r) => r.ReferencedEntity === 'account'));
    const nToN = await get(client, 'RelationshipDefinitions/Microsoft.Dynamics.CRM.ManyToManyRelationshipMetadata');
    assert.equal((nToN.value as Json[]).length, 3);
    const one = await get(client, "RelationshipDefinitions(SchemaName='teammembership_association')");
    assert.equal(one.IntersectEntityName, 'teammembership');
    assert.equal((await client.request('GET', "RelationshipDefinitions(SchemaName='nosuch')")).status, 404);
  });

  it("overlays what a snapshot's raw EntityDefinitions JSON says on what it synthesizes from the schema", async () => {
    const overlaid = await startClient({
      seed: 'none',
      schema: withRawAccount({
        LogicalName: 'account',
        IconVectorName: 'svg_account',
        ObjectTypeCode: 1,
        IsBPFEntity: false,
        PrimaryNameAttribute: null,
        Attributes: [{ LogicalName: 'name', AutoNumberFormat: '', MaxLength: 160 }],
      }),
    });
    try {
      const entity = await get(
        overlaid,
        "EntityDefinitions(LogicalName='account')?$select=IconVectorName,IsBPFEntity,PrimaryNameAttribute",
      );
      assert.equal(entity.IconVectorName, 'svg_account');
      assert.equal(entity.IsBPFEntity, false);
      assert.equal(entity.PrimaryNameAttribute, 'name', "a null in the raw JSON leaves the schema's value");
      const name = await get(overlaid, "EntityDefinitions(LogicalName='account')/Attributes(LogicalName='name')");
      assert.equal(name.AutoNumberFormat, '');
      assert.equal(name.MaxLength, 160);
      assert.equal(name['@odata.type'], '#Microsoft.Dynamics.CRM.StringAttributeMetadata');
    } finally {
      await overlaid.emulator.close();
    }
  });

  /** `value=label` of each option of the attributes a cast answers, by logical name. */
  async function castOptions(on: Client, cast: string, expand: string): Promise<Map<string, string[]>> {
    const answer = await get(
      on,
      `EntityDefinitions(LogicalName='account')/Attributes/Microsoft.Dynamics.CRM.${cast}?$select=LogicalName&$expand=${expand}`,
    );
    const labelText = (option: Json): string =>
      `${String(option.Value)}=${String(((option.Label as Json).UserLocalizedLabel as Json).Label)}`;
    const byName = new Map<string, string[]>();
    for (const attribute of answer.value as Json[]) {
      assert.equal(attribute['@odata.type'], `#Microsoft.Dynamics.CRM.${cast}`);
      const set = attribute.OptionSet as Json;
      const options = Array.isArray(set.Options)
        ? (set.Options as Json[])
        : [set.FalseOption as Json, set.TrueOption as Json];
      byName.set(String(attribute.LogicalName), options.map(labelText));
    }
    return byName;
  }

  // "Query table definitions using the Web API", retrieve attributes: State, Status, MultiSelectPicklist and
  // Boolean option sets through their casts; a Boolean's set is a BooleanOptionSetMetadata (TrueOption, FalseOption).
  // https://learn.microsoft.com/power-apps/developer/data-platform/webapi/query-metadata-web-api
  it('answers the State, Status and Boolean casts with their option sets, a Boolean one as TrueOption and FalseOption', async () => {
    const states = await castOptions(client, 'StateAttributeMetadata', 'OptionSet');
    assert.deepEqual(states.get('statecode'), ['0=Active', '1=Inactive']);
    const statuses = await castOptions(client, 'StatusAttributeMetadata', 'OptionSet');
    assert.deepEqual(statuses.get('statuscode'), ['1=Active', '2=Inactive']);
    const booleans = await castOptions(client, 'BooleanAttributeMetadata', 'OptionSet,GlobalOptionSet');
    assert.deepEqual(booleans.get('donotemail'), ['0=Allow', '1=Do Not Allow']);
    const donotemail = await get(
      client,
      "EntityDefinitions(LogicalName='account')/Attributes/Microsoft.Dynamics.CRM.BooleanAttributeMetadata?$select=LogicalName&$filter=LogicalName eq 'donotemail'&$expand=OptionSet",
    );
    const set = ((donotemail.value as Json[])[0] as Json).OptionSet as Json;
    assert.equal(set.OptionSetType, 'Boolean');
    assert.equal(set.Options, undefined, 'a BooleanOptionSetMetadata has no Options');
  });

  it('answers the same casts on a snapshot of a real organization, with its labels', async function () {
    this.timeout(120_000);
    const folder = writeRealSnapshot(mkdtempSync(join(tmpdir(), 'dvw-option-casts-')), ['account']);
    const real = await startClient({ schema: loadSnapshot(folder), seed: 'none' });
    try {
      assert.deepEqual((await castOptions(real, 'StateAttributeMetadata', 'OptionSet')).get('statecode'), [
        '0=Active',
        '1=Inactive',
      ]);
      assert.deepEqual((await castOptions(real, 'StatusAttributeMetadata', 'OptionSet')).get('statuscode'), [
        '1=Active',
        '2=Inactive',
      ]);
      assert.deepEqual(
        (await castOptions(real, 'MultiSelectPicklistAttributeMetadata', 'OptionSet,GlobalOptionSet'))
          .get('cdsify_multiselect')
          ?.slice(0, 2),
        ['5=Cortana', '6=Direct Line'],
      );
      assert.deepEqual(
        (await castOptions(real, 'BooleanAttributeMetadata', 'OptionSet,GlobalOptionSet')).get('donotemail'),
        ['0=Allow', '1=Do Not Allow'],
      );
    } finally {
      await real.emulator.close();
      rmSync(folder, { recursive: true, force: true });
    }
  });
});

// "Query table definitions using the Web API" (GlobalOptionSetDefinitions, casts to OptionSetMetadata):
// https://learn.microsoft.com/power-apps/developer/data-platform/webapi/query-metadata-web-api
describe('emulator GlobalOptionSetDefinitions, from the option sets of a snapshot', function () {
  this.timeout(30_000);
  let client: Client;
  let builtin: Client;
  before(async () => {
    // opportunity's real EntityDefinitions (../shared/fixtures): budgetstatus is a global choice.
    client = await startClient({ seed: 'none', schema: withRaw('opportunity', realDefinition('opportunity')) });
    builtin = await startClient({ seed: 'none', schema: builtinSchema() });
  });
  after(async () => {
    await client.emulator.close();
    await builtin.emulator.close();
  });

  it('lists every global option set once, with $select, $filter and the OptionSetMetadata cast', async () => {
    const all = await get(client, 'GlobalOptionSetDefinitions?$select=Name,IsGlobal');
    const names = (all.value as Json[]).map((o) => o.Name);
    assert.ok(names.includes('budgetstatus'), JSON.stringify(names));
    assert.equal(new Set(names).size, names.length, 'once per name');
    assert.ok((all.value as Json[]).every((o) => o.IsGlobal === true && typeof o.MetadataId === 'string'));
    const picklists = await get(
      client,
      "GlobalOptionSetDefinitions/Microsoft.Dynamics.CRM.OptionSetMetadata?$select=Name&$filter=Name eq 'budgetstatus'",
    );
    assert.equal(
      picklists['@odata.context'],
      `${client.emulator.webApi}$metadata#GlobalOptionSetDefinitions/Microsoft.Dynamics.CRM.OptionSetMetadata`,
    );
    assert.deepEqual(
      (picklists.value as Json[]).map((o) => [o['@odata.type'], o.Name]),
      [['#Microsoft.Dynamics.CRM.OptionSetMetadata', 'budgetstatus']],
    );
    const booleans = await get(client, 'GlobalOptionSetDefinitions/Microsoft.Dynamics.CRM.BooleanOptionSetMetadata');
    assert.ok((booleans.value as Json[]).every((o) => o.OptionSetType === 'Boolean'));
    // The built-in tables carry the global choices of account's and opportunity's real definitions.
    const builtinSets = await get(builtin, 'GlobalOptionSetDefinitions?$select=Name');
    assert.deepEqual(
      (builtinSets.value as Json[]).map((o) => o.Name),
      ['budgetstatus', 'opportunity_salesstage', 'purchasetimeframe', 'socialprofile_community'],
    );
  });

  it("reads one by (Name='x') and by its MetadataId; a Picklist attribute's $expand=GlobalOptionSet is the same", async () => {
    const byName = await get(client, "GlobalOptionSetDefinitions(Name='budgetstatus')");
    assert.equal(byName['@odata.context'], `${client.emulator.webApi}$metadata#GlobalOptionSetDefinitions/$entity`);
    assert.equal(byName.Name, 'budgetstatus');
    assert.ok(Array.isArray(byName.Options) && byName.Options.length > 0);
    const byId = await get(client, `GlobalOptionSetDefinitions(${String(byName.MetadataId)})?$select=Name,Options`);
    assert.deepEqual([byId.Name, byId.Options], [byName.Name, byName.Options]);
    const cast = await get(
      client,
      "GlobalOptionSetDefinitions(Name='budgetstatus')/Microsoft.Dynamics.CRM.OptionSetMetadata?$select=Name",
    );
    assert.equal(cast.Name, 'budgetstatus');
    const attribute = await get(
      client,
      "EntityDefinitions(LogicalName='opportunity')/Attributes(LogicalName='budgetstatus')/Microsoft.Dynamics.CRM.PicklistAttributeMetadata?$select=LogicalName&$expand=OptionSet,GlobalOptionSet",
    );
    const { '@odata.type': type, ...global } = byName;
    delete global['@odata.context'];
    assert.equal(type, '#Microsoft.Dynamics.CRM.OptionSetMetadata');
    const expanded = attribute.GlobalOptionSet as Json;
    delete expanded['@odata.type'];
    assert.deepEqual(expanded, global);
    assert.equal((attribute.OptionSet as Json).Name, 'budgetstatus');
    const local = await get(
      client,
      "EntityDefinitions(LogicalName='opportunity')/Attributes(LogicalName='statecode')/Microsoft.Dynamics.CRM.StateAttributeMetadata?$select=LogicalName&$expand=OptionSet($select=Name),GlobalOptionSet",
    );
    assert.equal(local.GlobalOptionSet, null, 'a local option set has no global one');
  });

  it('answers 404 for an unknown name and 400 for an undocumented property', async () => {
    const missing = await client.request('GET', "GlobalOptionSetDefinitions(Name='no_such_choice')");
    assert.equal(missing.status, 404);
    const bad = await client.request('GET', 'GlobalOptionSetDefinitions?$select=NoSuchProperty');
    assert.equal(bad.status, 400);
    const documented = await get(client, "GlobalOptionSetDefinitions(Name='budgetstatus')?$select=DisplayName,Name");
    assert.ok('DisplayName' in documented);
  });
});

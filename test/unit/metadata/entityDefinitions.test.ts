import assert from 'node:assert/strict';
import { enrichModel } from '../../../src/metadata/entityDefinitions';
import type { MetadataModel, Property } from '../../../src/metadata/model';
import { readSharedJson, realDataverseModel } from './fixtures';

function property(model: MetadataModel, entity: string, name: string): Property {
  const found = model.entityTypes.get(entity)?.properties.find((p) => p.name === name);
  assert.ok(found, `${entity}.${name}`);
  return found;
}

const label = (text: string) => ({
  LocalizedLabels: [{ Label: text, LanguageCode: 1033, IsManaged: true, MetadataId: 'x', HasChanged: null }],
  UserLocalizedLabel: { Label: text, LanguageCode: 1033, IsManaged: true, MetadataId: 'x', HasChanged: null },
});

describe('enrichModel with real RetrieveMetadataChanges responses', () => {
  const base = realDataverseModel();
  const account = enrichModel(base, readSharedJson('entitydefinitions/account-metadata.json'));

  it('matches account attributes to its CSDL properties without errors', () => {
    assert.deepEqual(account.errors, []);
    assert.deepEqual(account.enriched, [{ entity: 'account', attributes: 164 }]);
    assert.deepEqual(account.model.entityTypes.get('account')?.info, {
      logicalName: 'account',
      // This response carries no table-level labels (all null).
      displayName: undefined,
      description: undefined,
      primaryIdAttribute: undefined,
      primaryNameAttribute: undefined,
      isCustomEntity: false,
    });
    // The real account has no alternate keys: `Keys: []`, as its `$metadata` says.
    assert.deepEqual(account.model.entityTypes.get('account')?.alternateKeys, []);
  });

  it('reads the option values of account.industrycode', () => {
    const info = property(account.model, 'account', 'industrycode').info;
    assert.equal(info?.attributeType, 'Picklist');
    assert.equal(info?.displayName, 'Industry');
    assert.equal(info?.requiredLevel, 'None');
    assert.equal(info?.options?.length, 33);
    assert.deepEqual(info?.options?.slice(0, 2), [
      { value: 1, label: 'Accounting' },
      { value: 2, label: 'Agriculture and Non-petrol Natural Resource Extraction' },
    ]);
    assert.deepEqual(info?.options?.at(-1), { value: 33, label: 'Wholesale' });
  });

  it('reads state, status, boolean and multi-select choices', () => {
    assert.deepEqual(property(account.model, 'account', 'statecode').info?.options, [
      { value: 0, label: 'Active' },
      { value: 1, label: 'Inactive' },
    ]);
    assert.equal(property(account.model, 'account', 'statuscode').info?.options?.[0]?.label, 'Active');
    assert.deepEqual(property(account.model, 'account', 'creditonhold').info?.options, [
      { value: 0, label: 'No' },
      { value: 1, label: 'Yes' },
    ]);
    const multi = property(account.model, 'account', 'cdsify_multiselect').info;
    assert.equal(multi?.attributeType, 'Virtual');
    assert.deepEqual(multi?.options?.slice(0, 1), [{ value: 5, label: 'Cortana' }]);
    // An empty label is no description.
    assert.equal(multi?.description, undefined);
  });

  it('puts lookup columns on their _x_value properties with targets', () => {
    const parent = property(account.model, 'account', '_parentaccountid_value').info;
    assert.equal(parent?.logicalName, 'parentaccountid');
    assert.equal(parent?.attributeType, 'Lookup');
    assert.equal(parent?.displayName, 'Parent Account');
    assert.deepEqual(parent?.targets, ['account']);
    assert.deepEqual(property(account.model, 'account', '_ownerid_value').info?.targets, ['systemuser', 'team']);
    assert.equal(property(account.model, 'account', 'name').info?.requiredLevel, 'ApplicationRequired');
    assert.equal(property(account.model, 'account', 'accountid').info?.requiredLevel, 'SystemRequired');
  });

  it('leaves the input model and other types untouched', () => {
    assert.equal(property(base, 'account', 'industrycode').info, undefined);
    assert.equal(base.entityTypes.get('account')?.info, undefined);
    assert.equal(account.model.entityTypes.get('contact'), base.entityTypes.get('contact'));
  });

  it('reads a multi-table customer lookup of opportunity', () => {
    const opportunity = enrichModel(account.model, readSharedJson('entitydefinitions/opportunity-metadata.json'));
    assert.deepEqual(opportunity.errors, []);
    const customer = property(opportunity.model, 'opportunity', '_customerid_value').info;
    assert.equal(customer?.attributeType, 'Customer');
    assert.deepEqual(customer?.targets, ['account', 'contact']);
    // Enriching another table keeps what the first call filled.
    assert.equal(property(opportunity.model, 'account', 'industrycode').info?.options?.length, 33);
  });
});

describe('enrichModel with EntityDefinitions shapes', () => {
  const base = realDataverseModel();

  // EntityKeyMetadata: https://learn.microsoft.com/power-apps/developer/data-platform/webapi/reference/entitykeymetadata
  it('reads alternate keys from Keys with their columns and index status, and keeps them when a later answer has none', () => {
    const keyed = enrichModel(base, {
      LogicalName: 'account',
      Keys: [
        {
          LogicalName: 'ak_accountnumber',
          KeyAttributes: ['accountnumber'],
          EntityKeyIndexStatus: 'Active',
          MetadataId: '1c1b1f3e-0000-0000-0000-000000000001',
        },
        { LogicalName: 'ak_pending', KeyAttributes: ['name', 'address1_city'], EntityKeyIndexStatus: 'Pending' },
        { LogicalName: 'no columns', KeyAttributes: [] },
      ],
    });
    assert.deepEqual(keyed.errors, []);
    const expected = [
      { name: 'ak_accountnumber', columns: ['accountnumber'], status: 'Active' },
      { name: 'ak_pending', columns: ['name', 'address1_city'], status: 'Pending' },
    ];
    assert.deepEqual(keyed.model.entityTypes.get('account')?.alternateKeys, expected);
    const later = enrichModel(keyed.model, { LogicalName: 'account', DisplayName: label('Account') });
    assert.deepEqual(later.model.entityTypes.get('account')?.alternateKeys, expected);
  });

  it("replaces $metadata's alternate keys with EntityDefinitions' Keys, naming a lookup column as $metadata does (_x_value)", () => {
    // The real customapirequestparameter: $metadata lists one key of four columns, one a lookup.
    const csdlKey = ['uniquename', 'overwritetime', '_customapiid_value', 'componentstate'];
    assert.deepEqual(base.entityTypes.get('customapirequestparameter')?.alternateKeys, [{ columns: csdlKey }]);
    // EntityKeyMetadata.KeyAttributes names the lookup by its attribute logical name.
    const enriched = enrichModel(base, {
      LogicalName: 'customapirequestparameter',
      Keys: [
        {
          LogicalName: 'customapirequestparameter_uniquename',
          KeyAttributes: ['uniquename', 'overwritetime', 'customapiid', 'componentstate'],
          EntityKeyIndexStatus: 'Active',
        },
      ],
    });
    assert.deepEqual(enriched.model.entityTypes.get('customapirequestparameter')?.alternateKeys, [
      { name: 'customapirequestparameter_uniquename', columns: csdlKey, status: 'Active' },
    ]);
    // A key removed since $metadata was cached is gone once EntityDefinitions says so.
    const none = enrichModel(base, { LogicalName: 'customapirequestparameter', Keys: [] });
    assert.deepEqual(none.model.entityTypes.get('customapirequestparameter')?.alternateKeys, []);
  });

  // StatusOptionMetadata.State: https://learn.microsoft.com/power-apps/developer/data-platform/webapi/reference/statusoptionmetadata
  it('reads the state each status reason belongs to (the real opportunity statuscode)', () => {
    const opportunity = enrichModel(base, readSharedJson('entitydefinitions/opportunity-metadata.json'));
    assert.deepEqual(opportunity.errors, []);
    const status = property(opportunity.model, 'opportunity', 'statuscode').info?.options;
    assert.deepEqual(
      status?.slice(0, 4).map((o) => [o.value, o.label, o.state]),
      [
        [1, 'In Progress', 0],
        [2, 'On Hold', 0],
        [3, 'Won', 1],
        [4, 'Canceled', 2],
      ],
    );
    // State options (StateOptionMetadata) have no state of their own.
    const state = property(opportunity.model, 'opportunity', 'statecode').info?.options;
    assert.deepEqual(
      state?.map((o) => [o.value, o.label, o.state]),
      [
        [0, 'Open', undefined],
        [1, 'Won', undefined],
        [2, 'Lost', undefined],
      ],
    );
  });

  it('reads a collection with table labels, then a single table with attributes, merging both', () => {
    const tables = enrichModel(base, {
      '@odata.context': 'https://org.api.crm.dynamics.com/api/data/v9.2/$metadata#EntityDefinitions(...)',
      value: [
        {
          LogicalName: 'account',
          EntitySetName: 'accounts',
          PrimaryIdAttribute: 'accountid',
          PrimaryNameAttribute: 'name',
          IsCustomEntity: false,
          DisplayName: label('Account'),
          MetadataId: '70816501-edb9-4740-a16c-6a5efbc05d84',
        },
      ],
    });
    assert.deepEqual(tables.errors, []);
    const columns = enrichModel(tables.model, {
      '@odata.context':
        '.../$metadata#EntityDefinitions(LogicalName,Attributes(LogicalName,AttributeType,DisplayName))/$entity',
      LogicalName: 'account',
      Attributes: [
        {
          '@odata.type': '#Microsoft.Dynamics.CRM.PicklistAttributeMetadata',
          LogicalName: 'industrycode',
          AttributeType: 'Picklist',
          DisplayName: { LocalizedLabels: [{ Label: 'Industrie', LanguageCode: 1036 }], UserLocalizedLabel: null },
          GlobalOptionSet: { Options: [{ Value: 7, Label: label('Consulting') }, { Value: 'bad' }] },
          OptionSet: null,
        },
        { LogicalName: 'accountnumber', AttributeTypeName: { Value: 'StringType' } },
      ],
    });
    assert.deepEqual(columns.errors, []);
    assert.deepEqual(columns.model.entityTypes.get('account')?.info, {
      logicalName: 'account',
      displayName: 'Account',
      description: undefined,
      primaryIdAttribute: 'accountid',
      primaryNameAttribute: 'name',
      isCustomEntity: false,
    });
    const industry = property(columns.model, 'account', 'industrycode').info;
    assert.equal(industry?.displayName, 'Industrie');
    assert.deepEqual(industry?.options, [{ value: 7, label: 'Consulting' }]);
    assert.equal(property(columns.model, 'account', 'accountnumber').info?.attributeType, 'String');
  });

  it('rejects what is not EntityDefinitions data, with a reason', () => {
    for (const input of [null, 'account', 42, {}]) {
      const result = enrichModel(base, input);
      assert.equal(result.model, base);
      assert.equal(result.errors.length, 1);
    }
    const error = enrichModel(base, { error: { code: '0x80040217', message: 'Entity not found' } });
    assert.deepEqual(error.errors, ['The response is an error, not metadata: Entity not found']);
  });

  it('skips bad entries and reports each, applying the rest', () => {
    const result = enrichModel(base, {
      value: [
        'account',
        { EntitySetName: 'accounts' },
        { LogicalName: 'name', AttributeType: 'String' },
        { LogicalName: 'nosuchtable' },
        { LogicalName: 'contact', Attributes: 'none' },
        {
          LogicalName: 'account',
          Attributes: [
            { AttributeType: 'String' },
            { LogicalName: 'name' },
            3,
            { LogicalName: 'name', AttributeType: 'String', RequiredLevel: { Value: 'Sometimes' } },
          ],
        },
      ],
    });
    assert.deepEqual(result.errors, [
      'entity 0 is not an object.',
      'entity 1 has no LogicalName.',
      "entity 2 is an attribute: request EntityDefinitions(LogicalName='…')?$expand=Attributes so the table is known.",
      "Table 'nosuchtable' is not an entity type of the model.",
      "Attributes of 'contact' is not an array.",
      "'account' attribute 0: no LogicalName",
      "'account' attribute 1: 'name' has no AttributeType",
      "'account' attribute 2: not an object",
    ]);
    assert.deepEqual(result.enriched, [
      { entity: 'contact', attributes: 0 },
      { entity: 'account', attributes: 1 },
    ]);
    assert.equal(property(result.model, 'account', 'name').info?.requiredLevel, undefined);
  });
});

import * as assert from 'node:assert/strict';
import { columnLabel, compareColumns } from '../../../src/metadata/columnNames';
import type { Property } from '../../../src/metadata/model';
import { columnDescription, columnTooltip, filterProblem, tableQueryText } from '../../../src/odata/tableExplorer';
import { realMetadata } from './language/metadata';

describe('records $filter check', () => {
  const index = realMetadata();
  const account = index.entityType('account');

  it('accepts filters on real columns, through navigation, and with lambdas', () => {
    assert.ok(account);
    for (const filter of [
      "name eq 'Contoso'",
      "contains(name,'a') and revenue gt 1000",
      "primarycontactid/fullname eq 'Jo'",
      "contact_customer_accounts/any(c: c/firstname eq 'x')",
      '',
    ]) {
      assert.equal(filterProblem(filter, index, account), undefined, filter);
    }
  });

  it('names syntax errors with their position', () => {
    const problem = filterProblem("name eq 'open", index, account);
    assert.ok(problem);
    assert.match(problem, /at character \d+/);
    assert.ok(filterProblem('name eq', index, account));
  });

  it('names unknown columns with suggestions, and wrong case', () => {
    assert.match(
      filterProblem("namee eq 'x'", index, account) ?? '',
      /'namee' is not a column of account\. Did you mean 'name'/,
    );
    assert.match(filterProblem("Name eq 'x'", index, account) ?? '', /case-sensitive: write 'name'/);
    assert.match(
      filterProblem("primarycontactid/nope eq 'x'", index, account) ?? '',
      /'nope' is not a column of contact/,
    );
  });

  it('checks syntax only when the table has no metadata', () => {
    assert.equal(filterProblem("nmae eq 'x'", undefined, undefined), undefined);
    assert.ok(filterProblem('nmae eq', undefined, undefined));
  });
});

describe('table query prefill', () => {
  it('selects the primary columns, ten rows, pinned to the environment', () => {
    const text = tableQueryText({
      entitySet: 'accounts',
      displayName: 'Account',
      primaryId: 'accountid',
      primaryName: 'name',
      environment: 'Local emulator',
    });
    assert.equal(text, '@environment = Local emulator\n\n### Account\nGET accounts?$select=accountid,name&$top=10\n');
  });

  it('leaves out what the table lacks', () => {
    const text = tableQueryText({
      entitySet: 'things',
      displayName: undefined,
      primaryId: 'thingid',
      primaryName: undefined,
      environment: undefined,
    });
    assert.equal(text, '### things\nGET things?$select=thingid&$top=10\n');
  });
});

describe('column tooltip', () => {
  const choice: Property = {
    name: 'industrycode',
    type: 'Edm.Int32',
    nullable: true,
    info: {
      logicalName: 'industrycode',
      attributeType: 'Picklist',
      displayName: 'Industry',
      description: undefined,
      requiredLevel: 'ApplicationRequired',
      options: [
        { value: 1, label: 'Accounting' },
        { value: 2, label: 'Agriculture' },
      ],
      targets: undefined,
    },
  };

  it('lists type (Dataverse first, Edm second), requirement and option values', () => {
    assert.equal(
      columnTooltip(choice),
      'Industry (industrycode)\nType: Choice (Edm.Int32)\nRequired: business required\nOptions:\n  1 = Accounting\n  2 = Agriculture',
    );
    assert.equal(columnDescription(choice), 'industrycode · Choice · required');
    assert.equal(columnLabel(choice), 'Industry');
  });

  it('names a lookup by its logical name, with the Web API name on hover', () => {
    const lookup: Property = {
      name: '_primarycontactid_value',
      type: 'Edm.Guid',
      nullable: true,
      info: {
        logicalName: 'primarycontactid',
        attributeType: 'Lookup',
        displayName: 'Primary Contact',
        description: undefined,
        requiredLevel: 'None',
        options: undefined,
        targets: ['contact'],
      },
    };
    assert.equal(columnLabel(lookup), 'Primary Contact');
    assert.equal(columnDescription(lookup), 'primarycontactid · Lookup');
    assert.match(
      columnTooltip(lookup),
      /^Primary Contact \(primarycontactid\)\nWeb API name: _primarycontactid_value\nType: Lookup \(Edm\.Guid\)/,
    );
    // Sorted by display name, so lookups no longer come first for their leading underscore.
    assert.deepEqual(
      [lookup, choice].sort(compareColumns).map((property) => property.name),
      ['industrycode', '_primarycontactid_value'],
    );
  });

  it('falls back on $metadata facts when EntityDefinitions are missing', () => {
    const name: Property = { name: 'name', type: 'Edm.String', nullable: false, maxLength: 160 };
    assert.equal(
      columnTooltip(name),
      'name\nType: Edm.String\nRequired: not nullable (from $metadata)\nMax length: 160',
    );
    assert.equal(columnDescription(name), 'name · String · max 160');
    assert.equal(columnLabel(name), 'name');
  });
});

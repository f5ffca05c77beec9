import assert from 'node:assert/strict';
import {
  columnLabel,
  columnLogicalName,
  columnType,
  columnTypeText,
  lookupLogicalName,
} from '../../../src/metadata/columnNames';
import { enrichModel } from '../../../src/metadata/entityDefinitions';
import { MetadataIndex } from '../../../src/metadata/lookup';
import { readSharedJson, realDataverseModel } from './fixtures';

describe('column names (one scheme for the tree, the grid, hover and completion)', () => {
  const bare = new MetadataIndex(realDataverseModel());
  const enriched = new MetadataIndex(
    enrichModel(realDataverseModel(), readSharedJson('entitydefinitions/account-metadata.json')).model,
  );
  const column = (index: MetadataIndex, name: string) => {
    const property = index.property('account', name);
    assert.ok(property, name);
    return property;
  };

  it("names a column by display name and Dataverse's type where EntityDefinitions are loaded", () => {
    assert.equal(columnLabel(column(enriched, 'revenue')), 'Annual Revenue');
    assert.equal(columnTypeText(column(enriched, 'revenue')), 'Money (Edm.Decimal)');
    assert.equal(columnTypeText(column(enriched, 'industrycode')), 'Choice (Edm.Int32)');
    assert.equal(columnType(column(enriched, '_ownerid_value')), 'Owner');
    // A Boolean attribute is a Yes/No column in Power Apps ("Types of columns" on Learn).
    assert.equal(columnTypeText(column(enriched, 'donotemail')), 'Yes/No (Edm.Boolean)');
    assert.equal(columnTypeText(column(bare, 'donotemail')), 'Edm.Boolean');
    assert.equal(columnLabel(column(enriched, '_primarycontactid_value')), 'Primary Contact');
  });

  it('falls back to the logical name and the Edm type on bare CSDL', () => {
    assert.equal(columnLabel(column(bare, 'revenue')), 'revenue');
    assert.equal(columnTypeText(column(bare, 'revenue')), 'Edm.Decimal');
    assert.equal(columnLabel(column(bare, '_primarycontactid_value')), 'primarycontactid');
  });

  it('names a lookup by its logical name, not the Web API _x_value property', () => {
    assert.equal(lookupLogicalName('_primarycontactid_value'), 'primarycontactid');
    assert.equal(lookupLogicalName('primarycontactid'), undefined);
    assert.equal(columnLogicalName(column(bare, '_primarycontactid_value')), 'primarycontactid');
    assert.equal(columnLogicalName(column(bare, 'name')), 'name');
  });

  it('reads only `_<name>_value` as a lookup: a name between the underscores, the suffix at the end', () => {
    assert.equal(lookupLogicalName('_a_value'), 'a');
    assert.equal(lookupLogicalName('__value'), undefined);
    assert.equal(lookupLogicalName('_value'), undefined);
    assert.equal(lookupLogicalName('_x_value_'), undefined);
    assert.equal(lookupLogicalName('x_ownerid_value'), undefined);
    assert.equal(lookupLogicalName('_parent_value_value'), 'parent_value');
  });
});

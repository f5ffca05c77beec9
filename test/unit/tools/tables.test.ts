import * as assert from 'node:assert/strict';
import { enrichModel } from '../../../src/metadata/entityDefinitions';
import { MetadataIndex } from '../../../src/metadata/lookup';
import { describeTable, resolveTable } from '../../../src/tools/tables';
import { readSharedJson, realDataverseModel } from '../metadata/fixtures';

/** describe_table's text for the real account with the given EntityDefinitions `Keys`. */
function describedWithKeys(keys: unknown[] | undefined): string {
  const { model } = enrichModel(realDataverseModel(), {
    LogicalName: 'account',
    ...(keys === undefined ? {} : { Keys: keys }),
  });
  const index = new MetadataIndex(model);
  return describeTable(index, resolveTable(index, 'account'), 'zzz-no-column', 12_000, undefined);
}

describe('tools/tables on the real metadata', () => {
  it('resolves a table by logical name, entity set name or any case, and suggests for an unknown one', () => {
    const index = new MetadataIndex(realDataverseModel());
    for (const name of ['account', 'accounts', 'Account', 'ACCOUNTS']) {
      const { type, set } = resolveTable(index, name);
      assert.equal(type.name, 'account', name);
      assert.equal(set.name, 'accounts', name);
    }
    assert.throws(() => resolveTable(index, 'acount'), /There is no table 'acount'\. Did you mean account/);
  });

  // "Use an alternate key to reference a record":
  // https://learn.microsoft.com/power-apps/developer/data-platform/webapi/use-alternate-key-reference-record
  it('lists alternate keys, names a lookup column of a key as _x_value, and says which index is not usable yet', () => {
    const text = describedWithKeys([
      { LogicalName: 'ak_parent_name', KeyAttributes: ['parentaccountid', 'name'], EntityKeyIndexStatus: 'Active' },
      { LogicalName: 'ak_number', KeyAttributes: ['accountnumber'], EntityKeyIndexStatus: 'Pending' },
    ]);
    assert.match(
      text,
      /^Alternate keys: ak_parent_name \(_parentaccountid_value, name\); ak_number \(accountnumber; index Pending, not usable yet\)\. Read or upsert one by key: accounts\(_parentaccountid_value=…,name='…'\)\.$/m,
    );
  });

  it("says when a table has no alternate keys; without EntityDefinitions it lists $metadata's, unnamed", () => {
    assert.match(describedWithKeys([]), /^Alternate keys: none\.$/m);
    // The real $metadata says account has none (the Keys vocabulary is used, the annotation absent).
    assert.match(describedWithKeys(undefined), /^Alternate keys: none\.$/m);
    const pendingOnly = describedWithKeys([
      { LogicalName: 'ak_number', KeyAttributes: ['accountnumber'], EntityKeyIndexStatus: 'Failed' },
    ]);
    assert.match(pendingOnly, /^Alternate keys: ak_number \(accountnumber; index Failed, not usable yet\)\.$/m);
    const index = new MetadataIndex(realDataverseModel());
    const systemuser = describeTable(index, resolveTable(index, 'systemuser'), 'zzz', 12_000, undefined);
    assert.match(
      systemuser,
      /^Alternate keys: \(azureactivedirectoryobjectid\)\. Read or upsert one by key: systemusers\(azureactivedirectoryobjectid=…\)\.$/m,
    );
  });
});

describe('tools/tables describe_table on the real opportunity EntityDefinitions', () => {
  // A status reason belongs to one state (StatusOptionMetadata.State):
  // https://learn.microsoft.com/power-apps/developer/data-platform/webapi/reference/statusoptionmetadata
  it('lists each status reason with the state it belongs to, by value and label', () => {
    const { model } = enrichModel(realDataverseModel(), readSharedJson('entitydefinitions/opportunity-metadata.json'));
    const index = new MetadataIndex(model);
    const text = describeTable(index, resolveTable(index, 'opportunity'), 'statuscode', 12_000, undefined);
    assert.match(
      text,
      /^statuscode \| Status \| \S+ \| "Status Reason"; options: 1=In Progress \(state 0 Open\), 2=On Hold \(state 0 Open\), 3=Won \(state 1 Won\), 4=Canceled \(state 2 Lost\),/m,
    );
    // The states themselves are listed as they are.
    const states = describeTable(index, resolveTable(index, 'opportunity'), 'statecode', 12_000, undefined);
    assert.match(states, /^statecode \| State \| \S+ \| "Status"; options: 0=Open, 1=Won, 2=Lost$/m);
  });
});

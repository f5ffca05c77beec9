import * as assert from 'node:assert/strict';
import { enrichModel } from '../../../src/metadata/entityDefinitions';
import { MetadataIndex } from '../../../src/metadata/lookup';
import { describeTable, resolveTable } from '../../../src/tools/tables';
import { realDataverseModel } from '../metadata/fixtures';

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
      /^Alternate keys: ak_parent_name \(parentaccountid, name\); ak_number \(accountnumber; index Pending, not usable yet\)\. Read or upsert one by key: accounts\(_parentaccountid_value=…,name='…'\)\.$/m,
    );
  });

  it('says when a table has no alternate keys, and says nothing when EntityDefinitions did not tell', () => {
    assert.match(describedWithKeys([]), /^Alternate keys: none\.$/m);
    assert.doesNotMatch(describedWithKeys(undefined), /Alternate keys/);
    const pendingOnly = describedWithKeys([
      { LogicalName: 'ak_number', KeyAttributes: ['accountnumber'], EntityKeyIndexStatus: 'Failed' },
    ]);
    assert.match(pendingOnly, /^Alternate keys: ak_number \(accountnumber; index Failed, not usable yet\)\.$/m);
  });
});

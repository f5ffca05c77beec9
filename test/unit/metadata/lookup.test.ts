import assert from 'node:assert/strict';
import { parseCsdl } from '../../../src/metadata/csdl';
import { MetadataIndex, didYouMean, editDistance } from '../../../src/metadata/lookup';
import type { MetadataModel } from '../../../src/metadata/model';
import { SAMPLE_CSDL, realDataverseModel } from './fixtures';

describe('editDistance and didYouMean', () => {
  it('counts insertions, deletions and substitutions', () => {
    assert.equal(editDistance('account', 'account'), 0);
    assert.equal(editDistance('acount', 'account'), 1);
    assert.equal(editDistance('kitten', 'sitting'), 3);
    assert.equal(editDistance('', 'abc'), 3);
  });

  it('stops at the limit, answering limit + 1', () => {
    assert.equal(editDistance('abcdefgh', 'zyxwvuts', 2), 3);
    assert.equal(editDistance('a', 'abcdef', 2), 3);
  });

  it('suggests close names best first, ignoring case, and nothing wild for short names', () => {
    assert.deepEqual(didYouMean('Acount', ['contact', 'account', 'accounts']), ['account', 'accounts']);
    assert.deepEqual(didYouMean('xy', ['account', 'ab']), []);
    assert.deepEqual(didYouMean('parentacc', ['parentaccountid', 'name']), ['parentaccountid']);
  });
});

describe('MetadataIndex on the real Dataverse model', () => {
  let index: MetadataIndex;
  before(() => {
    index = new MetadataIndex(realDataverseModel());
  });

  it('resolves names qualified by namespace or alias, and only those', () => {
    assert.equal(index.entityType('mscrm.crmbaseentity')?.name, 'crmbaseentity');
    assert.equal(index.entityType('Microsoft.Dynamics.CRM.account')?.name, 'account');
    assert.equal(index.entityType('account')?.name, 'account');
    assert.equal(index.entityType('Other.Namespace.account'), undefined);
    assert.equal(index.entityType('Edm.String'), undefined);
    assert.equal(index.entityType('Collection(mscrm.account)'), undefined);
    assert.equal(index.qualifiedName('mscrm.account'), 'Microsoft.Dynamics.CRM.account');
    assert.equal(index.qualifiedName('Edm.Guid'), 'Edm.Guid');
    assert.equal(index.complexType('mscrm.WhoAmIResponse')?.properties.length, 3);
    assert.equal(index.enumType('Microsoft.Dynamics.CRM.AccessRights')?.isFlags, true);
  });

  it('lists alternate keys: none (known) for account, one for systemuser, unknown without the Keys vocabulary', () => {
    assert.deepEqual(index.alternateKeys('account'), []);
    assert.deepEqual(index.alternateKeys('Microsoft.Dynamics.CRM.systemuser'), [
      { columns: ['azureactivedirectoryobjectid'] },
    ]);
    const bare = new MetadataIndex(
      parseCsdl('<Schema Namespace="N" xmlns="http://docs.oasis-open.org/odata/ns/edm"><EntityType Name="a"/></Schema>')
        .model,
    );
    assert.equal(bare.alternateKeys('a'), undefined);
  });

  it('walks base types and inherits keys and properties', () => {
    assert.deepEqual(
      index.typeChain('task').map((t) => t.name),
      ['task', 'activitypointer', 'crmbaseentity'],
    );
    assert.deepEqual(index.key('account'), ['accountid']);
    assert.deepEqual(index.key('mscrm.systemuser'), ['ownerid']);
    assert.ok(index.isDerivedFrom('systemuser', 'mscrm.principal'));
    assert.ok(!index.isDerivedFrom('account', 'mscrm.principal'));
    // ownerid is declared on the abstract principal only.
    const systemuser = index.entityType('systemuser');
    assert.ok(systemuser && !systemuser.properties.some((p) => p.name === 'ownerid'));
    assert.deepEqual(index.property('systemuser', 'ownerid'), { name: 'ownerid', type: 'Edm.Guid', nullable: true });
    assert.equal(index.properties('systemuser').length, (systemuser?.properties.length ?? 0) + 1);
  });

  it('maps entity sets to types and back', () => {
    assert.equal(index.entitySetOf('account')?.name, 'accounts');
    assert.equal(index.entitySetOf('mscrm.opportunity')?.name, 'opportunities');
    assert.equal(index.entitySetOf('principal'), undefined);
    assert.equal(index.entityTypeOfSet('accounts')?.name, 'account');
    assert.equal(index.entityTypeOfSet('nosuchset'), undefined);
  });

  it('finds the entity set a navigation property leads to', () => {
    const target = index.navigationTarget('account', 'primarycontactid');
    assert.equal(target?.entityType?.name, 'contact');
    assert.equal(target?.entitySet?.name, 'contacts');
    assert.equal(target?.navigation.collection, false);
    assert.equal(index.navigationTarget('account', 'contact_customer_accounts')?.entitySet?.name, 'contacts');
    assert.equal(index.navigationTarget('account', 'nosuchnavigation'), undefined);
  });

  it('pairs lookup properties with their navigation properties through referential constraints', () => {
    const [parent, ...rest] = index.navigationForLookup('account', '_parentaccountid_value');
    assert.equal(rest.length, 0);
    assert.equal(parent?.name, 'parentaccountid');
    assert.equal(parent?.partner, 'account_parent_account');
    assert.equal(index.lookupPropertyFor('account', 'parentaccountid'), '_parentaccountid_value');
    assert.equal(index.lookupPropertyFor('account', 'account_parent_account'), undefined);
    assert.deepEqual(
      index.navigationForLookup('opportunity', '_customerid_value').map((n) => n.name),
      ['customerid_account', 'customerid_contact'],
    );
  });

  it('finds names ignoring case and suggests close ones', () => {
    const exact = index.findEntityType('mscrm.account');
    assert.equal(exact.match?.name, 'account');
    assert.equal(exact.caseMismatch, false);
    const folded = index.findEntitySet('Accounts');
    assert.equal(folded.match?.name, 'accounts');
    assert.equal(folded.caseMismatch, true);
    assert.deepEqual(index.findEntityType('acount').suggestions, ['account']);
    assert.deepEqual(index.findEntitySet('acounts').suggestions, ['accounts']);
    assert.deepEqual(index.findProperty('account', 'nme').suggestions, ['name']);
    assert.equal(index.findProperty('account', 'NAME').match?.name, 'name');
    assert.equal(index.findNavigationProperty('account', 'ParentAccountId').match?.name, 'parentaccountid');
    assert.equal(index.findMemberOf('account', 'primarycontactid').match?.name, 'primarycontactid');
    assert.equal(index.findMemberOf('account', 'revenue').match?.name, 'revenue');
    assert.equal(index.findProperty('account', 'zzzzzzzz').match, undefined);
  });
});

describe('MetadataIndex on a hand-written model', () => {
  const index = new MetadataIndex(parseCsdl(SAMPLE_CSDL).model);

  it('inherits the key through two abstract levels', () => {
    assert.deepEqual(index.key('customer'), ['partyid']);
    assert.deepEqual(
      index.properties('cs.customer').map((p) => p.name),
      ['partyid', 'name', 'notes', 'creditlimit', 'revenue', '_parentid_value'],
    );
  });

  it('stops at a base type cycle instead of looping', () => {
    const a = {
      name: 'a',
      baseType: 'N.b',
      abstract: false,
      openType: false,
      key: [],
      properties: [],
      navigationProperties: [],
    };
    const b = { ...a, name: 'b', baseType: 'N.a', key: ['id'] };
    const model: MetadataModel = {
      namespace: 'N',
      alias: undefined,
      entityTypes: new Map([
        ['a', a],
        ['b', b],
      ]),
      entitySets: new Map(),
      complexTypes: new Map(),
      enumTypes: new Map(),
      operations: new Map(),
    };
    const cyclic = new MetadataIndex(model);
    assert.deepEqual(
      cyclic.typeChain('a').map((t) => t.name),
      ['a', 'b'],
    );
    assert.deepEqual(cyclic.key('a'), ['id']);
  });
});

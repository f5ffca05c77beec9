import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseCsdl, parseCsdlWithSaxes } from '../../../src/metadata/csdl';
import type { MetadataModel, Operation } from '../../../src/metadata/model';
import { scanXml } from '../../../src/metadata/xmlScan';
import { SAMPLE_CSDL, readSharedFixture, realDataverseModel } from './fixtures';

function operations(model: MetadataModel): Operation[] {
  return [...model.operations.values()].flat();
}

function entityType(model: MetadataModel, name: string) {
  const type = model.entityTypes.get(name);
  assert.ok(type, `entity type ${name}`);
  return type;
}

describe('parseCsdl on the real Dataverse $metadata', () => {
  it('reads every element the fixture is documented to have, without errors', () => {
    const { model, errors } = parseCsdl(readSharedFixture('metadata/dataverse-v9.edmx.xml'));
    assert.deepEqual(errors, []);
    assert.equal(model.namespace, 'Microsoft.Dynamics.CRM');
    assert.equal(model.alias, 'mscrm');
    assert.equal(model.entityTypes.size, 866);
    assert.equal(model.entitySets.size, 835);
    assert.equal(operations(model).filter((o) => o.kind === 'action').length, 620);
    assert.equal(operations(model).filter((o) => o.kind === 'function').length, 242);
    const onEntities = [...model.entityTypes.values()].reduce((n, t) => n + t.navigationProperties.length, 0);
    const onComplex = [...model.complexTypes.values()].reduce((n, t) => n + (t.navigationProperties?.length ?? 0), 0);
    // SOURCES.md counts every <NavigationProperty>, including the 34 on action response types.
    assert.equal(onEntities + onComplex, 21_914);
    assert.equal(onComplex, 34);
    assert.equal(model.complexTypes.size, 658);
    assert.equal(model.enumTypes.size, 56);
  });

  it('reads account: base type, key, typed properties and its parent-account lookup', () => {
    const model = realDataverseModel();
    const account = entityType(model, 'account');
    assert.equal(account.baseType, 'mscrm.crmbaseentity');
    assert.deepEqual(account.key, ['accountid']);
    assert.equal(account.abstract, false);
    assert.deepEqual(
      account.properties.find((p) => p.name === 'accountid'),
      { name: 'accountid', type: 'Edm.Guid', nullable: true },
    );
    // Scale="Variable" is not a number: the property has no scale rather than a wrong one.
    assert.deepEqual(
      account.properties.find((p) => p.name === 'openrevenue'),
      { name: 'openrevenue', type: 'Edm.Decimal', nullable: true },
    );
    assert.deepEqual(
      account.navigationProperties.find((n) => n.name === 'parentaccountid'),
      {
        name: 'parentaccountid',
        type: 'mscrm.account',
        collection: false,
        nullable: false,
        partner: 'account_parent_account',
        referentialConstraints: [{ property: '_parentaccountid_value', referencedProperty: 'accountid' }],
      },
    );
    assert.deepEqual(
      account.navigationProperties.find((n) => n.name === 'account_parent_account'),
      {
        name: 'account_parent_account',
        type: 'mscrm.account',
        collection: true,
        nullable: true,
        partner: 'parentaccountid',
        referentialConstraints: [],
      },
    );
    assert.deepEqual(model.entitySets.get('accounts'), {
      name: 'accounts',
      entityType: 'Microsoft.Dynamics.CRM.account',
    });
  });

  it('reads alternate keys from the Keys.AlternateKeys annotation (Define alternate keys, https://learn.microsoft.com/power-apps/developer/data-platform/define-alternate-keys-entity)', () => {
    const model = realDataverseModel();
    assert.deepEqual(entityType(model, 'systemuser').alternateKeys, [{ columns: ['azureactivedirectoryobjectid'] }]);
    assert.deepEqual(entityType(model, 'appnotification').alternateKeys, [
      { columns: ['partitionid', 'appnotificationid'] },
    ]);
    // The document uses the Keys vocabulary, so a table without the annotation has none (not "unknown").
    assert.deepEqual(entityType(model, 'account').alternateKeys, []);
    const types = [...model.entityTypes.values()];
    assert.equal(
      types.filter((t) => (t.alternateKeys?.length ?? 0) > 0).length,
      163,
      'one per Term="Keys.AlternateKeys"',
    );
    assert.equal(
      types.reduce((n, t) => n + (t.alternateKeys?.length ?? 0), 0),
      202,
      'one per <Record Type="Keys.AlternateKey"> of the document',
    );
  });

  it('says nothing of alternate keys when the document does not use the Keys vocabulary', () => {
    const xml =
      '<Schema Namespace="N" xmlns="http://docs.oasis-open.org/odata/ns/edm"><EntityType Name="a"><Key><PropertyRef Name="id"/></Key>' +
      '<Property Name="id" Type="Edm.Guid"/><Property Name="code" Type="Edm.String"/></EntityType>' +
      '<EntityType Name="b"><Property Name="code" Type="Edm.String"/><Annotation Term="OData.Community.Keys.V1.AlternateKeys"><Collection>' +
      '<Record Type="OData.Community.Keys.V1.AlternateKey"><PropertyValue Property="Key"><Collection><Record Type="OData.Community.Keys.V1.PropertyRef">' +
      '<PropertyValue Property="Alias" String="code"/><PropertyValue Property="Name" PropertyPath="code"/></Record></Collection></PropertyValue></Record>' +
      '</Collection></Annotation></EntityType></Schema>';
    const { model, errors } = parseCsdl(xml);
    assert.deepEqual(errors, []);
    assert.equal(entityType(model, 'a').alternateKeys, undefined);
    assert.deepEqual(entityType(model, 'b').alternateKeys, [{ columns: ['code'] }]);
  });

  it('reads the abstract and open root types', () => {
    const model = realDataverseModel();
    assert.equal(entityType(model, 'crmbaseentity').abstract, true);
    assert.equal(entityType(model, 'crmbaseentity').baseType, undefined);
    assert.equal(entityType(model, 'expando').openType, true);
    assert.equal(entityType(model, 'activitypointer').abstract, true);
    assert.equal(entityType(model, 'task').baseType, 'mscrm.activitypointer');
  });

  it('reads actions and functions with their parameters, binding and return type', () => {
    const model = realDataverseModel();
    assert.deepEqual(model.operations.get('WinOpportunity'), [
      {
        name: 'WinOpportunity',
        kind: 'action',
        bound: false,
        composable: false,
        parameters: [
          { name: 'OpportunityClose', type: 'mscrm.opportunityclose', nullable: false },
          { name: 'Caller', type: 'Edm.String', nullable: true },
          { name: 'Status', type: 'Edm.Int32', nullable: false },
        ],
        returnType: undefined,
      },
    ]);
    assert.deepEqual(model.operations.get('WhoAmI'), [
      {
        name: 'WhoAmI',
        kind: 'function',
        bound: false,
        composable: false,
        parameters: [],
        returnType: 'mscrm.WhoAmIResponse',
      },
    ]);
    const overloads = model.operations.get('AddItemCampaign') ?? [];
    assert.equal(overloads.length, 4);
    assert.ok(overloads.every((o) => o.bound && o.parameters[0]?.name === 'entity'));
    assert.deepEqual(
      overloads.map((o) => o.parameters[0]?.type),
      ['mscrm.campaign', 'mscrm.list', 'mscrm.product', 'mscrm.salesliterature'],
    );
    const composable = model.operations.get('RetrieveAadUserRoles')?.[0];
    assert.equal(composable?.composable, true);
    assert.equal(composable?.returnType, 'Collection(mscrm.role)');
  });

  it('reads enum and complex types', () => {
    const model = realDataverseModel();
    const rights = model.enumTypes.get('AccessRights');
    assert.equal(rights?.isFlags, true);
    assert.deepEqual(rights?.members.slice(0, 3), [
      { name: 'None', value: 0 },
      { name: 'ReadAccess', value: 1 },
      { name: 'WriteAccess', value: 2 },
    ]);
    assert.deepEqual(model.complexTypes.get('WhoAmIResponse'), {
      name: 'WhoAmIResponse',
      baseType: undefined,
      properties: [
        { name: 'BusinessUnitId', type: 'Edm.Guid', nullable: true },
        { name: 'UserId', type: 'Edm.Guid', nullable: true },
        { name: 'OrganizationId', type: 'Edm.Guid', nullable: true },
      ],
    });
  });
});

describe('parseCsdl on a hand-written document', () => {
  const { model, errors } = parseCsdl(SAMPLE_CSDL);

  it('has no errors and takes namespace and alias from the schema', () => {
    assert.deepEqual(errors, []);
    assert.equal(model.namespace, 'Contoso.Sales');
    assert.equal(model.alias, 'cs');
  });

  it('reads facets, keeping MaxLength="max" and Scale="Variable" out', () => {
    const customer = entityType(model, 'customer');
    assert.deepEqual(
      customer.properties.map((p) => p.name),
      ['name', 'notes', 'creditlimit', 'revenue', '_parentid_value'],
    );
    assert.deepEqual(customer.properties[0], { name: 'name', type: 'Edm.String', nullable: true, maxLength: 100 });
    assert.deepEqual(customer.properties[1], { name: 'notes', type: 'Edm.String', nullable: true });
    assert.deepEqual(customer.properties[2], {
      name: 'creditlimit',
      type: 'Edm.Decimal',
      nullable: true,
      precision: 19,
      scale: 4,
    });
    assert.deepEqual(customer.properties[3], { name: 'revenue', type: 'Edm.Decimal', nullable: true });
    assert.equal(customer.openType, true);
    assert.deepEqual(customer.key, []);
    assert.deepEqual(entityType(model, 'party').key, ['partyid']);
    assert.equal(entityType(model, 'party').properties[0]?.nullable, false);
  });

  it('reads collection navigation types given with the full namespace', () => {
    const orders = entityType(model, 'customer').navigationProperties.find((n) => n.name === 'orders');
    assert.deepEqual(orders, {
      name: 'orders',
      type: 'Contoso.Sales.order',
      collection: true,
      nullable: false,
      partner: undefined,
      referentialConstraints: [],
    });
  });

  it('numbers enum members left without a Value from the previous one', () => {
    assert.deepEqual(model.enumTypes.get('OrderStatus'), {
      name: 'OrderStatus',
      isFlags: false,
      members: [
        { name: 'Draft', value: 0 },
        { name: 'Placed', value: 1 },
        { name: 'Shipped', value: 10 },
        { name: 'Closed', value: 11 },
      ],
    });
  });

  it('reads derived complex types with their navigation properties', () => {
    const shipping = model.complexTypes.get('ShippingAddress');
    assert.equal(shipping?.baseType, 'cs.Address');
    assert.deepEqual(
      shipping?.navigationProperties?.map((n) => n.name),
      ['carrier'],
    );
    assert.equal(model.complexTypes.get('Address')?.navigationProperties, undefined);
  });

  it('keeps overloads and reads return types', () => {
    const ship = model.operations.get('Ship') ?? [];
    assert.equal(ship.length, 2);
    assert.equal(ship[0]?.returnType, 'cs.order');
    assert.equal(ship[1]?.returnType, undefined);
    assert.equal(ship[1]?.parameters[0]?.type, 'Collection(cs.order)');
    assert.deepEqual(model.operations.get('TopCustomers')?.[0]?.composable, true);
  });

  it('reads entity sets and ignores imports, bindings, terms and annotations', () => {
    assert.deepEqual([...model.entitySets.keys()], ['customers', 'orders', 'suppliers']);
    assert.deepEqual([...model.entityTypes.keys()], ['base', 'party', 'customer', 'order', 'supplier']);
    assert.equal(model.complexTypes.has('hint'), false);
  });
});

describe('parseCsdl on malformed input', () => {
  it('reports an empty document', () => {
    const { model, errors } = parseCsdl('');
    assert.ok(errors.length > 0);
    assert.equal(model.entityTypes.size, 0);
    assert.equal(model.namespace, '');
  });

  it('reports text that is not XML', () => {
    const { errors } = parseCsdl('{"value": []}');
    assert.ok(
      errors.some((e) => /text data outside of root node|No Schema|no <Schema>/i.test(e.message)),
      JSON.stringify(errors),
    );
  });

  it('reports an XML document of another kind', () => {
    const { errors } = parseCsdl('<html><body>Sign in</body></html>');
    assert.ok(errors.some((e) => e.message.includes('<html> is not a CSDL document element')));
    assert.ok(errors.some((e) => e.message.includes('no <Schema>')));
  });

  it('returns what it read before the truncation of the real document', () => {
    const xml = readSharedFixture('metadata/dataverse-v9.edmx.xml');
    const { model, errors } = parseCsdl(xml.slice(0, 1_000_000));
    assert.ok(
      errors.some((e) => /unclosed tag/i.test(e.message)),
      JSON.stringify(errors.slice(0, 3)),
    );
    assert.ok(model.entityTypes.size > 50 && model.entityTypes.size < 866);
    assert.equal(model.namespace, 'Microsoft.Dynamics.CRM');
    assert.deepEqual(model.entityTypes.get('account')?.key, ['accountid']);
  });

  it('gives the line of the problem and skips elements missing required attributes', () => {
    const xml = [
      '<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx"><edmx:DataServices>',
      '<Schema Namespace="N">',
      '<EntityType Name="ok"><Property Name="a" Type="Edm.Int32" Nullable="maybe"/></EntityType>',
      '<EntityType><Property Name="lost" Type="Edm.String"/></EntityType>',
      '<EntityType Name="ok"/>',
      '<EntityType Name="facets"><Property Name="b" Type="Edm.String" MaxLength="ten"/><Property Type="Edm.String"/></EntityType>',
      '</Schema></edmx:DataServices></edmx:Edmx>',
    ].join('\n');
    const { model, errors } = parseCsdl(xml);
    assert.deepEqual(
      errors.map((e) => [e.line, e.message.replace(/ \(column \d+\)$/, '')]),
      [
        [3, 'Nullable="maybe" on <Property> is not true or false'],
        [4, '<EntityType> has no Name attribute; it was skipped'],
        [5, "EntityType 'ok' is declared twice; the second declaration was skipped"],
        [6, 'MaxLength="ten" on <Property> is not an integer'],
        [6, '<Property> has no Name attribute; it was skipped'],
      ],
    );
    assert.deepEqual([...model.entityTypes.keys()], ['ok', 'facets']);
    assert.deepEqual(model.entityTypes.get('ok')?.properties, [{ name: 'a', type: 'Edm.Int32', nullable: true }]);
    assert.deepEqual(model.entityTypes.get('facets')?.properties, [{ name: 'b', type: 'Edm.String', nullable: true }]);
  });

  it('reports mismatched tags with their line and keeps reading', () => {
    const xml =
      '<edmx:Edmx Version="4.0">\n<edmx:DataServices><Schema Namespace="N">\n<EntityType Name="a"></Key></EntityType>\n<EntityType Name="b"/></Schema></edmx:DataServices></edmx:Edmx>';
    const { model, errors } = parseCsdl(xml);
    assert.deepEqual(
      errors.map((e) => [e.line, e.message]),
      [[3, 'unmatched closing tag: Key. (column 27)']],
    );
    assert.deepEqual([...model.entityTypes.keys()], ['a', 'b']);
  });

  it('reports a document that is not OData 4', () => {
    const { errors } = parseCsdl(
      '<edmx:Edmx Version="1.0"><edmx:DataServices><Schema Namespace="N"/></edmx:DataServices></edmx:Edmx>',
    );
    assert.deepEqual(
      errors.map((e) => e.message.replace(/ \(column \d+\)$/, '')),
      ['Edmx Version="1.0" is not OData 4'],
    );
  });

  it('caps the number of errors', () => {
    const xml = `<Schema Namespace="N">${'<EntityType/>'.repeat(500)}</Schema>`;
    const { errors } = parseCsdl(xml);
    assert.equal(errors.length, 101);
    assert.match(errors[100]?.message ?? '', /Too many errors/);
  });

  it('never throws, whatever is cut from or changed in a valid document', () => {
    fc.assert(
      fc.property(
        fc.nat(SAMPLE_CSDL.length),
        fc.nat(SAMPLE_CSDL.length),
        fc.string({ maxLength: 5 }),
        (start, length, replacement) => {
          const broken = SAMPLE_CSDL.slice(0, start) + replacement + SAMPLE_CSDL.slice(start + (length % 40));
          const { model, errors } = parseCsdl(broken);
          assert.ok(Array.isArray(errors));
          assert.ok(model.entityTypes.size <= 5);
        },
      ),
      { numRuns: 300 },
    );
  });
});

/** Whether the fast scanner takes the document, rather than leaving it to saxes. */
function scanned(xml: string): boolean {
  return scanXml(xml, { open: () => undefined, close: () => undefined });
}

describe('parseCsdl agrees with the saxes reader it falls back to', () => {
  it('on the real document', () => {
    const xml = readSharedFixture('metadata/dataverse-v9.edmx.xml');
    assert.ok(scanned(xml));
    assert.deepStrictEqual(parseCsdl(xml), parseCsdlWithSaxes(xml));
  });

  it('on entities, line breaks and tabs in attribute values, and errors on later lines', () => {
    const xml = [
      '\uFEFF<?xml version="1.0"?>\r\n<Schema Namespace="N" Alias=\'a&amp;b&quot;\'>',
      '<EntityType Name="x\ty\r\nz"><Property Name="p" Type="Edm.String" Nullable="no"/></EntityType>\r',
      '<EntityType Name="\u{1F600}"  ><Property Type="T"/></EntityType></Schema>\n',
    ].join('\n');
    assert.ok(scanned(xml));
    const fast = parseCsdl(xml);
    assert.deepStrictEqual(fast, parseCsdlWithSaxes(xml));
    assert.equal(fast.model.alias, 'a&b"');
    assert.deepEqual([...fast.model.entityTypes.keys()], ['x y z', '\u{1F600}']);
    assert.equal(fast.errors.length, 2);
  });

  it('whatever is cut from, inserted into or changed in a valid document', () => {
    let fastPath = 0;
    const pieces = [
      '<',
      '>',
      '/>',
      '</',
      '"',
      "'",
      '&amp;',
      '&',
      '&#38;',
      '\r\n',
      '\r',
      '\t',
      ' ',
      '=',
      '<!--x-->',
      ']]>',
      '\u0001',
      'a:b',
    ];
    fc.assert(
      fc.property(
        fc.nat(SAMPLE_CSDL.length),
        fc.nat(60),
        fc.array(fc.oneof(fc.constantFrom(...pieces), fc.string({ maxLength: 3 })), { maxLength: 4 }),
        (start, length, inserted) => {
          const broken = SAMPLE_CSDL.slice(0, start) + inserted.join('') + SAMPLE_CSDL.slice(start + length);
          if (scanned(broken)) fastPath++;
          assert.deepStrictEqual(parseCsdl(broken), parseCsdlWithSaxes(broken));
        },
      ),
      { numRuns: 2000 },
    );
    // Most changes break the XML; the comparison means something only for those that do not.
    assert.ok(fastPath > 100, `${fastPath} documents took the fast path`);
  });
});

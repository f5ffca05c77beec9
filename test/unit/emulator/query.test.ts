import assert from 'node:assert/strict';
import type { Client } from './helpers';
import { errorOf, idFromEntityId, jsonOf, startClient } from './helpers';

/** The emulator's clock in these tests: mid-March 2025, noon UTC. */
const NOW = new Date('2025-03-15T12:00:00Z');

interface Fixture {
  readonly contacts: Record<string, string>;
  readonly accounts: Record<string, string>;
}

async function create(client: Client, set: string, body: Record<string, unknown>): Promise<string> {
  const response = await client.request('POST', set, { body });
  assert.equal(response.status, 204, await response.clone().text());
  return idFromEntityId(response);
}

async function values(
  client: Client,
  path: string,
  headers: Record<string, string> = {},
): Promise<Record<string, unknown>[]> {
  const response = await client.request('GET', path, { headers });
  assert.equal(response.status, 200, `${path}: ${await response.clone().text()}`);
  return (await jsonOf(response)).value as Record<string, unknown>[];
}

async function names(client: Client, path: string): Promise<string[]> {
  return (await values(client, path)).map((r) => String(r.name));
}

describe('emulator queries', function () {
  let client: Client;
  let data: Fixture;

  before(async function () {
    client = await startClient({ now: () => NOW });
    const contacts: Record<string, string> = {};
    contacts.ana = await create(client, 'contacts', { firstname: 'Ana', lastname: 'Lopez', jobtitle: 'CEO' });
    contacts.bo = await create(client, 'contacts', { firstname: 'Bo', lastname: 'Berg', jobtitle: 'Developer' });
    const accounts: Record<string, string> = {};
    const rows: [string, Record<string, unknown>][] = [
      [
        'alpha',
        {
          name: 'Alpha Traders',
          revenue: 100,
          numberofemployees: 10,
          address1_city: 'Seattle',
          industrycode: 1,
          creditonhold: false,
          'primarycontactid@odata.bind': `/contacts(${contacts.ana})`,
          cdsify_multiselect: '1,2',
          lastusedincampaign: '2025-03-15T08:00:00Z',
        },
      ],
      [
        'beta',
        {
          name: 'beta Imports',
          revenue: 250.5,
          numberofemployees: 20,
          address1_city: 'Redmond',
          industrycode: 2,
          creditonhold: true,
          'primarycontactid@odata.bind': `/contacts(${contacts.bo})`,
          cdsify_multiselect: '2',
          lastusedincampaign: '2025-03-14T23:00:00Z',
        },
      ],
      [
        'gamma',
        {
          name: 'Gamma 50% Off',
          revenue: 250.5,
          numberofemployees: 30,
          address1_city: 'Seattle',
          industrycode: 3,
          lastusedincampaign: '2025-02-10T10:00:00Z',
        },
      ],
      ['delta', { name: "Delta O'Neil", numberofemployees: 40, lastusedincampaign: '2024-12-31T10:00:00Z' }],
    ];
    for (const [key, body] of rows) accounts[key] = await create(client, 'accounts', body);
    await create(client, 'tasks', {
      subject: 'Call',
      'regardingobjectid_account_task@odata.bind': `/accounts(${accounts.alpha})`,
    });
    await create(client, 'tasks', {
      subject: 'Email',
      'regardingobjectid_account_task@odata.bind': `/accounts(${accounts.alpha})`,
    });
    await create(client, 'tasks', {
      subject: 'Visit',
      'regardingobjectid_account_task@odata.bind': `/accounts(${accounts.beta})`,
    });
    data = { contacts, accounts };
  });
  after(async function () {
    await client.emulator.close();
  });

  describe('$select', function () {
    it('returns the selected columns in request order, then the key, and lists them in the context', async function () {
      const response = await client.request('GET', `accounts(${data.accounts.alpha})?$select=numberofemployees,name`);
      const body = await jsonOf(response);
      assert.deepEqual(Object.keys(body), ['@odata.context', '@odata.etag', 'numberofemployees', 'name', 'accountid']);
      assert.equal(
        body['@odata.context'],
        `${client.emulator.webApi}$metadata#accounts(numberofemployees,name)/$entity`,
      );
      const withMoney = await jsonOf(await client.request('GET', `accounts(${data.accounts.alpha})?$select=revenue`));
      assert.equal(typeof withMoney._transactioncurrencyid_value, 'string', 'money brings its currency along');
    });

    it('answers 400 for an unknown column, also behind a trailing comma', async function () {
      const response = await client.request('GET', 'accounts?$select=name,nosuchcolumn');
      assert.equal(response.status, 400);
      assert.match(
        (await errorOf(response)).message,
        /Could not find a property named 'nosuchcolumn' on type 'Microsoft\.Dynamics\.CRM\.account'/,
      );
      assert.equal((await client.request('GET', 'accounts?$select=name,')).status, 200);
    });
  });

  describe('$filter', function () {
    const cases: [string, string[]][] = [
      ['numberofemployees eq 20', ['beta Imports']],
      ['numberofemployees ne 20', ['Alpha Traders', 'Gamma 50% Off', "Delta O'Neil"]],
      ['numberofemployees gt 20', ['Gamma 50% Off', "Delta O'Neil"]],
      ['numberofemployees ge 20 and numberofemployees le 30', ['beta Imports', 'Gamma 50% Off']],
      [
        "numberofemployees lt 20 or (revenue gt 200 and not (address1_city eq 'Seattle'))",
        ['Alpha Traders', 'beta Imports'],
      ],
      ['revenue eq null', ["Delta O'Neil"]],
      ['revenue ne null and revenue eq 250.5', ['beta Imports', 'Gamma 50% Off']],
      ["name eq 'ALPHA TRADERS'", ['Alpha Traders']],
      ["contains(name,'IMPORT')", ['beta Imports']],
      ["startswith(name,'gam')", ['Gamma 50% Off']],
      ["endswith(name,'traders')", ['Alpha Traders']],
      ["not contains(name,'a')", []],
      ["name eq 'Delta O''Neil'", ["Delta O'Neil"]],
      ['creditonhold eq true', ['beta Imports']],
      ['creditonhold', ['beta Imports']],
      ["primarycontactid/fullname eq 'Ana Lopez'", ['Alpha Traders']],
      ["primarycontactid/jobtitle ne 'CEO'", ['beta Imports']],
      ['Account_Tasks/any()', ['Alpha Traders', 'beta Imports']],
      ["Account_Tasks/any(t:t/subject eq 'Visit')", ['beta Imports']],
      ["Account_Tasks/all(t:t/subject ne 'Visit') and Account_Tasks/any()", ['Alpha Traders']],
      ['lastusedincampaign ge 2025-03-14T23:00:00Z', ['Alpha Traders', 'beta Imports']],
      ['lastusedincampaign lt 2025-01-01', ["Delta O'Neil"]],
      ['lastusedincampaign gt 2025-03-14T23:00:00.5Z', ['Alpha Traders']],
    ];
    for (const [filter, expected] of cases) {
      it(`filters ${filter}`, async function () {
        const got = await names(client, `accounts?$select=name&$filter=${encodeURIComponent(filter)}`);
        assert.deepEqual(got.sort(), [...expected].sort());
      });
    }

    it('filters lookups by _x_value, bare or quoted, and through parameter aliases', async function () {
      assert.deepEqual(await names(client, `accounts?$filter=_primarycontactid_value eq ${data.contacts.bo}`), [
        'beta Imports',
      ]);
      assert.deepEqual(await names(client, `accounts?$filter=_primarycontactid_value eq '${data.contacts.bo}'`), [
        'beta Imports',
      ]);
      assert.deepEqual(
        await names(
          client,
          `accounts?$filter=numberofemployees eq @n and @col eq @v&@n=10&@col=address1_city&@v='Seattle'`,
        ),
        ['Alpha Traders'],
      );
      // An alias without a value is null.
      assert.deepEqual(await names(client, 'accounts?$filter=revenue eq @missing'), ["Delta O'Neil"]);
    });

    it('answers Dataverse errors for wrong types, unknown columns, unsupported functions and syntax', async function () {
      const cases: [string, RegExp][] = [
        ["numberofemployees eq 'ten'", /incompatible types.*'Edm\.Int32' and 'Edm\.String'/],
        ['name eq 1', /incompatible types.*'Edm\.String' and 'Edm\.Int32'/],
        ["nosuch eq 'x'", /Could not find a property named 'nosuch'/],
        ["tolower(name) eq 'x'", /tolower/],
        ["Microsoft.Dynamics.CRM.InFiscalYear(PropertyName='createdon',PropertyValue=2025)", /not supported/],
        ['name eq', /Syntax error/],
        [
          "primarycontactid/nosuch eq 'x'",
          /Could not find a property named 'nosuch' on type 'Microsoft\.Dynamics\.CRM\.contact'/,
        ],
      ];
      for (const [filter, message] of cases) {
        const response = await client.request('GET', `accounts?$filter=${encodeURIComponent(filter)}`);
        assert.equal(response.status, 400, filter);
        assert.match((await errorOf(response)).message, message, filter);
      }
    });

    it('refuses $skip, $search, $format and repeated options with 400', async function () {
      for (const query of ['$skip=1', '$search=x', '$format=json', '$top=1&$top=2']) {
        const response = await client.request('GET', `accounts?${query}`);
        assert.equal(response.status, 400, query);
        assert.equal((await errorOf(response)).code, '0x80060888', query);
      }
    });
  });

  describe('query functions', function () {
    const cases: [string, string[]][] = [
      ["In(PropertyName='address1_city',PropertyValues=['seattle','Oslo'])", ['Alpha Traders', 'Gamma 50% Off']],
      ["NotIn(PropertyName='numberofemployees',PropertyValues=['10','20'])", ['Gamma 50% Off', "Delta O'Neil"]],
      ["Between(PropertyName='numberofemployees',PropertyValues=['15','30'])", ['beta Imports', 'Gamma 50% Off']],
      ["NotBetween(PropertyName='numberofemployees',PropertyValues=['15','30'])", ['Alpha Traders', "Delta O'Neil"]],
      ["Today(PropertyName='lastusedincampaign')", ['Alpha Traders']],
      ["Yesterday(PropertyName='lastusedincampaign')", ['beta Imports']],
      ["Tomorrow(PropertyName='lastusedincampaign')", []],
      ["LastXHours(PropertyName='lastusedincampaign',PropertyValue=5)", ['Alpha Traders']],
      ["LastXDays(PropertyName='lastusedincampaign',PropertyValue=1)", ['Alpha Traders', 'beta Imports']],
      ["NextXDays(PropertyName='lastusedincampaign',PropertyValue=3)", []],
      ["OlderThanXDays(PropertyName='lastusedincampaign',PropertyValue=30)", ['Gamma 50% Off', "Delta O'Neil"]],
      ["On(PropertyName='lastusedincampaign',PropertyValue='2025-02-10')", ['Gamma 50% Off']],
      ["OnOrAfter(PropertyName='lastusedincampaign',PropertyValue='2025-03-14')", ['Alpha Traders', 'beta Imports']],
      ["OnOrBefore(PropertyName='lastusedincampaign',PropertyValue='2025-02-10')", ['Gamma 50% Off', "Delta O'Neil"]],
      ["ThisMonth(PropertyName='lastusedincampaign')", ['Alpha Traders', 'beta Imports']],
      ["LastMonth(PropertyName='lastusedincampaign')", ['Gamma 50% Off']],
      ["ThisYear(PropertyName='lastusedincampaign')", ['Alpha Traders', 'beta Imports', 'Gamma 50% Off']],
      ["ContainValues(PropertyName='cdsify_multiselect',PropertyValues=['1'])", ['Alpha Traders']],
      [
        "DoesNotContainValues(PropertyName='cdsify_multiselect',PropertyValues=['1'])",
        ['beta Imports', 'Gamma 50% Off', "Delta O'Neil"],
      ],
    ];
    for (const [call, expected] of cases) {
      it(`evaluates ${call.slice(0, call.indexOf('('))} against a pinned clock`, async function () {
        const got = await names(
          client,
          `accounts?$select=name&$filter=${encodeURIComponent(`Microsoft.Dynamics.CRM.${call}`)}`,
        );
        assert.deepEqual(got.sort(), [...expected].sort());
      });
    }

    it('evaluates EqualUserId/NotEqualUserId against the caller, and In through aliases', async function () {
      assert.equal(
        (await names(client, "accounts?$filter=Microsoft.Dynamics.CRM.EqualUserId(PropertyName='ownerid')")).length,
        4,
      );
      assert.equal(
        (await names(client, "accounts?$filter=Microsoft.Dynamics.CRM.NotEqualUserId(PropertyName='ownerid')")).length,
        0,
      );
      const got = await names(
        client,
        `accounts?$filter=Microsoft.Dynamics.CRM.In(PropertyName=@p1,PropertyValues=@p2)&@p1='name'&@p2=${encodeURIComponent('["Alpha Traders","Nope"]')}`,
      );
      assert.deepEqual(got, ['Alpha Traders']);
    });
  });

  describe('$orderby, $top, $count and paging', function () {
    it('orders on several keys with a stable tiebreak, and limits with $top', async function () {
      assert.deepEqual(await names(client, 'accounts?$orderby=revenue desc,name'), [
        'beta Imports',
        'Gamma 50% Off',
        'Alpha Traders',
        "Delta O'Neil",
      ]);
      assert.deepEqual(await names(client, 'accounts?$orderby=name&$top=2'), ['Alpha Traders', 'beta Imports']);
    });

    it('counts with $count=true (@odata.count after the context) and /$count with a filter', async function () {
      const body = await jsonOf(await client.request('GET', 'accounts?$count=true&$top=1&$filter=revenue gt 200'));
      assert.deepEqual(Object.keys(body).slice(0, 2), ['@odata.context', '@odata.count']);
      assert.equal(body['@odata.count'], 2);
      assert.equal((body.value as unknown[]).length, 1);
      const count = await client.request(
        'GET',
        `accounts/$count?$filter=${encodeURIComponent("address1_city eq 'Seattle'")}`,
      );
      assert.equal(await count.text(), '2');
      const nav = await client.request('GET', `accounts(${data.accounts.alpha})/Account_Tasks/$count`);
      assert.equal((await nav.text()).replace('\uFEFF', ''), '2');
    });

    it('pages an ordered, filtered query with nextLinks that carry the query forward', async function () {
      const paging = await startClient({ seedAccounts: 40 });
      try {
        const seen: string[] = [];
        let url: string | undefined =
          `accounts?$select=name,numberofemployees&$filter=numberofemployees ge 1000&$orderby=numberofemployees desc&$count=true`;
        let counted: unknown;
        while (url !== undefined) {
          const response = await paging.request('GET', url, { headers: { Prefer: 'odata.maxpagesize=7' } });
          assert.equal(response.status, 200);
          const body = await jsonOf(response);
          counted ??= body['@odata.count'];
          for (const row of body.value as { name: string; numberofemployees: number }[]) {
            assert.ok(row.numberofemployees >= 1000);
            seen.push(`${row.numberofemployees}|${row.name}`);
          }
          const next = body['@odata.nextLink'];
          if (typeof next === 'string') {
            assert.match(
              decodeURIComponent(next),
              /\$filter=numberofemployees ge 1000&\$orderby=numberofemployees desc/,
            );
          }
          url = typeof next === 'string' ? next : undefined;
        }
        const all = await values(paging, 'accounts?$select=name,numberofemployees&$filter=numberofemployees ge 1000');
        assert.equal(seen.length, all.length);
        assert.equal(counted, all.length);
        assert.equal(new Set(seen).size, seen.length, 'no row twice');
        const employees = seen.map((s) => Number(s.split('|')[0]));
        assert.deepEqual(
          employees,
          [...employees].sort((a, b) => b - a),
        );
      } finally {
        await paging.emulator.close();
      }
    });
  });

  describe('$expand', function () {
    it('expands single- and collection-valued navigations with nested options', async function () {
      const body = await jsonOf(
        await client.request(
          'GET',
          `accounts(${data.accounts.alpha})?$select=name&$expand=primarycontactid($select=fullname),Account_Tasks($select=subject;$filter=subject ne 'Nope';$orderby=subject desc;$top=1)`,
        ),
      );
      assert.equal(
        body['@odata.context'],
        `${client.emulator.webApi}$metadata#accounts(name,primarycontactid(fullname),Account_Tasks(subject))/$entity`,
      );
      const contact = body.primarycontactid as Record<string, unknown>;
      assert.deepEqual(Object.keys(contact), ['@odata.etag', 'fullname', 'contactid']);
      assert.equal(contact.fullname, 'Ana Lopez');
      assert.deepEqual(
        (body.Account_Tasks as { subject: string }[]).map((t) => t.subject),
        ['Email'],
      );
      const list = await values(
        client,
        `accounts?$select=name&$expand=primarycontactid($select=fullname)&$filter=revenue eq null`,
      );
      assert.equal(list[0]?.primarycontactid, null);
    });

    it('applies Dataverse limits to $expand', async function () {
      const cases = [
        'accounts?$expand=Account_Tasks/$ref',
        'accounts?$expand=primarycontactid($top=1)',
        'accounts?$expand=Account_Tasks($top=1;$expand=createdby)',
        'accounts?$expand=nosuch',
        `accounts?$expand=${Array.from({ length: 16 }, () => 'createdby').join(',')}`,
      ];
      for (const url of cases) {
        const response = await client.request('GET', url);
        assert.equal(response.status, 400, url);
        await errorOf(response);
      }
    });
  });

  describe('annotations', function () {
    it('adds formatted values and lookup annotations when asked, and echoes the preference', async function () {
      const response = await client.request(
        'GET',
        `accounts(${data.accounts.beta})?$select=name,revenue,industrycode,creditonhold,lastusedincampaign,_primarycontactid_value`,
        { headers: { Prefer: 'odata.include-annotations="*"' } },
      );
      assert.equal(response.headers.get('Preference-Applied'), 'odata.include-annotations="*"');
      const body = await jsonOf(response);
      const f = '@OData.Community.Display.V1.FormattedValue';
      assert.equal(body[`revenue${f}`], '$250.50');
      assert.equal(body[`industrycode${f}`], 'Agriculture and Non-petrol Natural Resource Extraction');
      assert.equal(body[`creditonhold${f}`], 'Yes');
      assert.equal(body[`lastusedincampaign${f}`], '3/14/2025 11:00 PM');
      assert.equal(body[`_primarycontactid_value${f}`], 'Bo Berg');
      assert.equal(body['_primarycontactid_value@Microsoft.Dynamics.CRM.lookuplogicalname'], 'contact');
      assert.equal(
        body['_primarycontactid_value@Microsoft.Dynamics.CRM.associatednavigationproperty'],
        'primarycontactid',
      );
      assert.equal(body[`name${f}`], undefined, 'no formatted value for text');
      const keys = Object.keys(body);
      assert.ok(keys.indexOf(`revenue${f}`) < keys.indexOf('revenue'), 'annotations precede their property');
    });

    it('adds only the named annotations, and none without the preference', async function () {
      const only = await jsonOf(
        await client.request('GET', `accounts(${data.accounts.beta})?$select=_primarycontactid_value,industrycode`, {
          headers: { Prefer: 'odata.include-annotations="Microsoft.Dynamics.CRM.lookuplogicalname"' },
        }),
      );
      assert.equal(only['_primarycontactid_value@Microsoft.Dynamics.CRM.lookuplogicalname'], 'contact');
      assert.equal(Object.keys(only).filter((k) => k.includes('FormattedValue')).length, 0);
      const none = await jsonOf(await client.request('GET', `accounts(${data.accounts.beta})?$select=industrycode`));
      assert.equal(
        Object.keys(none).filter((k) => k.includes('@') && k !== '@odata.context' && k !== '@odata.etag').length,
        0,
      );
    });
  });

  describe('$apply', function () {
    it('aggregates, groups and filters', async function () {
      const total = await values(
        client,
        `accounts?$apply=${encodeURIComponent('aggregate(revenue with sum as total,revenue with average as mean,numberofemployees with min as least,numberofemployees with max as most,address1_city with countdistinct as cities,$count as n)')}`,
      );
      assert.deepEqual(total, [{ total: 601, mean: 601 / 3, least: 10, most: 40, cities: 2, n: 4 }]);
      const grouped = await values(
        client,
        `accounts?$apply=${encodeURIComponent('filter(numberofemployees gt 10)/groupby((address1_city),aggregate($count as n))')}`,
      );
      assert.deepEqual(grouped, [{ n: 1 }, { address1_city: 'Redmond', n: 1 }, { address1_city: 'Seattle', n: 1 }]);
      const formatted = await client.request(
        'GET',
        `accounts?$apply=${encodeURIComponent('aggregate(revenue with sum as total)')}`,
        {
          headers: { Prefer: 'odata.include-annotations="*"' },
        },
      );
      assert.equal(
        ((await jsonOf(formatted)).value as Record<string, unknown>[])[0]?.[
          'total@OData.Community.Display.V1.FormattedValue'
        ],
        '$601.00',
      );
    });
  });

  describe('fetchXml', function () {
    const fetch = (xml: string): string => `accounts?fetchXml=${encodeURIComponent(xml)}`;

    it('runs entity, attributes, nested filters, order and link-entity, omitting nulls', async function () {
      const xml = `<fetch><entity name="account"><attribute name="name"/><attribute name="revenue"/>
        <order attribute="name" descending="true"/>
        <filter type="or"><condition attribute="address1_city" operator="eq" value="seattle"/>
          <filter type="and"><condition attribute="numberofemployees" operator="ge" value="40"/><condition attribute="revenue" operator="null"/></filter>
        </filter>
        <link-entity name="contact" from="contactid" to="primarycontactid" link-type="outer" alias="pc"><attribute name="fullname"/></link-entity>
      </entity></fetch>`;
      const rows = await values(client, fetch(xml));
      assert.deepEqual(
        rows.map((r) => r.name),
        ['Gamma 50% Off', "Delta O'Neil", 'Alpha Traders'],
      );
      assert.equal(rows[2]?.['pc.fullname'], 'Ana Lopez');
      assert.equal('revenue' in (rows[1] ?? {}), false, 'null values are left out');
      const inner = await values(
        client,
        fetch(
          '<fetch><entity name="account"><attribute name="name"/><link-entity name="contact" from="contactid" to="primarycontactid"><filter><condition attribute="jobtitle" operator="eq" value="Developer"/></filter></link-entity></entity></fetch>',
        ),
      );
      assert.deepEqual(
        inner.map((r) => r.name),
        ['beta Imports'],
      );
    });

    it('pages with page/count and returns the paging cookie annotations', async function () {
      const xml = (page: number): string =>
        `<fetch count="3" page="${page}"><entity name="account"><attribute name="name"/><order attribute="name"/></entity></fetch>`;
      const headers = { Prefer: 'odata.include-annotations="*"' };
      const first = await jsonOf(await client.request('GET', fetch(xml(1)), { headers }));
      assert.equal((first.value as unknown[]).length, 3);
      assert.equal(first['@Microsoft.Dynamics.CRM.morerecords'], true);
      assert.match(
        String(first['@Microsoft.Dynamics.CRM.fetchxmlpagingcookie']),
        /^<cookie pagenumber="2" pagingcookie="%253ccookie/,
      );
      const second = await jsonOf(await client.request('GET', fetch(xml(2)), { headers }));
      assert.deepEqual(
        (second.value as { name: string }[]).map((r) => r.name),
        ['Gamma 50% Off'],
      );
      assert.equal(second['@Microsoft.Dynamics.CRM.morerecords'], undefined);
    });

    it('answers 400 for malformed or mismatched FetchXML', async function () {
      for (const xml of [
        '<fetch><entity name="account">',
        '<fetch><entity name="contact"/></fetch>',
        '<fetch><entity name="account"><attribute name="nosuch"/></entity></fetch>',
        '<query/>',
      ]) {
        const response = await client.request('GET', fetch(xml));
        assert.equal(response.status, 400, xml);
        assert.match((await errorOf(response)).message, /FetchXML/);
      }
    });
  });

  describe('EntityDefinitions', function () {
    it('lists tables with $select and $filter, and reads one by LogicalName', async function () {
      const tables = await values(
        client,
        "EntityDefinitions?$select=LogicalName,EntitySetName&$filter=LogicalName eq 'account' or LogicalName eq 'contact'",
      );
      assert.deepEqual(tables.map((t) => t.EntitySetName).sort(), ['accounts', 'contacts']);
      assert.deepEqual(Object.keys(tables[0] ?? {}).sort(), ['EntitySetName', 'LogicalName', 'MetadataId']);
      const account = await jsonOf(
        await client.request('GET', "EntityDefinitions(LogicalName='account')?$select=PrimaryIdAttribute,DisplayName"),
      );
      assert.equal(account.PrimaryIdAttribute, 'accountid');
      assert.equal(
        (account.DisplayName as { UserLocalizedLabel: { Label: string } }).UserLocalizedLabel.Label,
        'Account',
      );
      const byId = await client.request('GET', `EntityDefinitions(${String(account.MetadataId)})?$select=LogicalName`);
      assert.equal((await jsonOf(byId)).LogicalName, 'account');
      assert.equal((await client.request('GET', "EntityDefinitions(LogicalName='nosuch')")).status, 404);
    });

    it('serves Attributes, the Picklist cast with OptionSet, and filters by AttributeType', async function () {
      const attributes = await values(
        client,
        "EntityDefinitions(LogicalName='account')/Attributes?$select=LogicalName,AttributeType",
      );
      assert.ok(attributes.some((a) => a.LogicalName === 'name' && a.AttributeType === 'String'));
      const picklists = await values(
        client,
        "EntityDefinitions(LogicalName='account')/Attributes/Microsoft.Dynamics.CRM.PicklistAttributeMetadata?$select=LogicalName&$expand=OptionSet",
      );
      const industry = picklists.find((p) => p.LogicalName === 'industrycode') as {
        OptionSet: { Options: { Value: number }[] };
      };
      assert.equal(industry.OptionSet.Options[0]?.Value, 1);
      assert.ok(picklists.every((p) => p['@odata.type'] === '#Microsoft.Dynamics.CRM.PicklistAttributeMetadata'));
      const expanded = await jsonOf(
        await client.request(
          'GET',
          `EntityDefinitions(LogicalName='account')?$select=LogicalName&$expand=Attributes($select=LogicalName;$filter=${encodeURIComponent("AttributeType eq Microsoft.Dynamics.CRM.AttributeTypeCode'Picklist'")})`,
        ),
      );
      const expandedNames = (expanded.Attributes as { LogicalName: string }[]).map((a) => a.LogicalName);
      assert.ok(expandedNames.includes('industrycode') && !expandedNames.includes('name'));
    });
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import type { NameSegment, ODataUrl } from '../../../src/odata/url/index';
import {
  encodeQueryValue,
  parseODataUrl,
  printApply,
  printExpand,
  printExpression,
  printODataUrl,
  printOrderBy,
  printSelect,
  splitQueryOptions,
} from '../../../src/odata/url/index';
import { located, sexpr, withoutSpans } from './helpers';

const ID = '00000000-0000-0000-0000-000000000001';
const ID2 = '4b757ff7-9c85-ee11-8179-000d3a9933c9';

/** Every example URL of dataverse-webapi.md §1, 3, 4, 5, 6, 7, 9 (placeholders filled in) and the brief. */
const DOC_EXAMPLES = [
  'https://org.api.crm.dynamics.com/api/data/v9.2/accounts',
  'https://org.crm.dynamics.com/api/data/v9.2/',
  '/api/data/v9.2/',
  `EntityDefinitions?$select=LogicalName,EntitySetName,PrimaryIdAttribute,PrimaryNameAttribute,DisplayName&$filter=IsPrivate eq false`,
  `EntityDefinitions(LogicalName='account')?$select=LogicalName`,
  `EntityDefinitions(${ID})`,
  `EntityDefinitions(LogicalName='account')/Attributes?$select=LogicalName,AttributeType,DisplayName`,
  `EntityDefinitions(LogicalName='account')?$select=LogicalName&$expand=Attributes($select=LogicalName;$filter=AttributeType eq Microsoft.Dynamics.CRM.AttributeTypeCode'Picklist')`,
  `EntityDefinitions(LogicalName='account')/Attributes/Microsoft.Dynamics.CRM.PicklistAttributeMetadata?$select=LogicalName&$expand=OptionSet,GlobalOptionSet`,
  `EntityDefinitions(LogicalName='account')/Attributes(${ID})/Microsoft.Dynamics.CRM.PicklistAttributeMetadata/OptionSet?$select=Options`,
  `EntityDefinitions(LogicalName='account')/Attributes(LogicalName='name')`,
  `EntityDefinitions?$filter=OwnershipType eq Microsoft.Dynamics.CRM.OwnershipTypes'UserOwned'`,
  `EntityDefinitions?$filter=CanCreateAttributes/Value eq true and IsAuditEnabled/Value eq true`,
  `EntityDefinitions(LogicalName='account')/Attributes?$filter=RequiredLevel/Value eq Microsoft.Dynamics.CRM.AttributeRequiredLevel'ApplicationRequired'`,
  `EntityDefinitions?$filter=ChangeTrackingEnabled eq true and IsCustomEntity eq false and IsPrivate eq false`,
  `EntityDefinitions?$select=LogicalName,SchemaName,EntitySetName,PrimaryIdAttribute,PrimaryNameAttribute,DisplayName,IsCustomEntity,ObjectTypeCode&$filter=IsPrivate eq false`,
  `EntityDefinitions(LogicalName='account')/Attributes?$select=LogicalName,SchemaName,AttributeType,AttributeTypeName,DisplayName,IsValidForRead,IsValidForCreate,IsValidForUpdate,AttributeOf,IsPrimaryId,IsPrimaryName`,
  `EntityDefinitions(LogicalName='account')/Attributes/Microsoft.Dynamics.CRM.LookupAttributeMetadata?$select=Targets`,
  `EntityDefinitions(LogicalName='account')?$select=IsOptimisticConcurrencyEnabled,ChangeTrackingEnabled`,
  `EntityDefinitions(LogicalName='account')/ManyToOneRelationships`,
  `RelationshipDefinitions`,
  `accounts?$select=name,statecode&$orderby=name&$top=1`,
  `/api/data/v9.2/accounts?$select=name,statecode&$orderby=name&$top=1`,
  `accounts?$orderby=@p1 asc&$filter=@p1 ne @p3&@p1=revenue`,
  `contacts?$filter=firstname eq lastname`,
  `accounts?$filter=contains(name,'sample')`,
  `accounts?$filter=not contains(name,'sample')`,
  `accounts?$filter=startswith(name,'a') or endswith(name,'z')`,
  `contacts?$filter=lastname eq 'O''Bryan'`,
  `accounts?$filter=_owninguser_value eq ${ID}`,
  `accounts?$filter=_owninguser_value eq '${ID}'`,
  `accounts?$filter=primarycontactid/fullname eq 'Susanna Stubberod (sample)'`,
  `accounts?$filter=primarycontactid/createdby/fullname eq 'X'`,
  `accounts?$filter=Account_Tasks/all(t:t/statecode eq 1)`,
  `accounts?$filter=Account_Emails/any(e:contains(e/subject,'x') and e/statecode eq 0)`,
  `accounts?$filter=Account_Tasks/any()`,
  `accounts?$filter=contact_customer_accounts/any(c:c/opportunity_customer_contacts/any(o:o/name eq 'x'))`,
  `accounts?$select=name&$expand=primarycontactid($select=fullname),Account_Tasks($select=subject)`,
  `accounts?$expand=primarycontactid/$ref`,
  `accounts?$expand=Account_Tasks($select=subject;$filter=statecode eq 0;$orderby=createdon desc;$top=5;$expand=regardingobjectid_account($select=name))`,
  `accounts(${ID})/Account_Tasks?$select=subject`,
  `accounts?$apply=groupby((statuscode),aggregate(revenue with sum as total))`,
  `accounts?$apply=aggregate(revenue with sum as total,revenue with average as avg,revenue with min as low,revenue with max as high,$count as count)`,
  `accounts?$apply=filter(address1_stateorprovince eq 'WA')/groupby((primarycontactid/fullname))`,
  `accounts?$apply=groupby((statecode,statuscode,accountcategorycode))`,
  `accounts?$apply=groupby((primarycontactid/fullname),aggregate($count as count))`,
  `accounts?$apply=aggregate(revenue with countdistinct as n)`,
  `contacts?$filter=Microsoft.Dynamics.CRM.In(PropertyName='lastname',PropertyValues=["Smith","O'Brian"])`,
  `contacts?$filter=Microsoft.Dynamics.CRM.In(PropertyName=@p1,PropertyValues=@p2)&@p1='lastname'&@p2=["a","b"]`,
  `accounts?$filter=Microsoft.Dynamics.CRM.LastXDays(PropertyName='createdon',PropertyValue=7)`,
  `accounts?$filter=Microsoft.Dynamics.CRM.Today(PropertyName='createdon')`,
  `accounts?$filter=Microsoft.Dynamics.CRM.On(PropertyName='createdon',PropertyValue='2024-01-31')`,
  `accounts?$filter=Microsoft.Dynamics.CRM.InFiscalPeriodAndYear(PropertyName='createdon',PropertyValue1=3,PropertyValue2=2024)`,
  `accounts?$filter=Microsoft.Dynamics.CRM.Under(PropertyName='accountid',PropertyValue='${ID}')`,
  `contacts?$filter=Microsoft.Dynamics.CRM.ContainValues(PropertyName='new_hobbies',PropertyValues=['2'])`,
  `accounts?$filter=Microsoft.Dynamics.CRM.Between(PropertyName='numberofemployees',PropertyValues=["5","2000"])`,
  `accounts?$filter=Microsoft.Dynamics.CRM.EqualUserId(PropertyName='ownerid')`,
  `accounts?fetchXml=%3Cfetch%20top%3D%222%22%3E%3Centity%20name%3D%22account%22%3E%3Cattribute%20name%3D%22name%22%2F%3E%3C%2Fentity%3E%3C%2Ffetch%3E`,
  `accounts?fetchXml=<fetch page="1" count="3"><entity name="account"><attribute name="name"/></entity></fetch>&$count=true`,
  `savedqueries?$filter=name eq 'Active Accounts'`,
  `accounts?savedQuery=${ID}`,
  `accounts?userQuery=${ID}`,
  `accounts(${ID})/opportunity_parent_account/?savedQuery=${ID2}`,
  `contacts?$select=fullname`,
  `contacts?$select=fullname&$skiptoken=%3Ccookie%20pagenumber=%222%22%20pagingcookie=%22%253ccookie%2520page%253d%25221%2522%253e%253ccontactid%2520last%253d%2522%257bD5026A4D-D01C-ED11-B83E-000D3A572421%257d%2522%2520first%253d%2522%257b49B0BE2E-D01C-ED11-B83E-000D3A572421%257d%2522%2520%252f%253e%253c%252fcookie%253e%22%20istracking=%22False%22%20/%3E`,
  `accounts?$count=true`,
  `accounts/$count`,
  `accounts(${ID})/Account_Tasks/$count`,
  `RetrieveTotalRecordCount(EntityNames=@p1)?@p1=["account"]`,
  `WhoAmI()`,
  `WhoAmI`,
  `$metadata`,
  `$batch`,
  `accounts(${ID})/opportunity_customer_accounts/$ref`,
  `opportunities(${ID})/customerid_account/$ref`,
  `accounts(${ID})/opportunity_customer_accounts/$ref?$id=https://org.crm.dynamics.com/api/data/v9.2/opportunities(${ID2})`,
  `accounts(${ID})/opportunity_customer_accounts(${ID2})/$ref`,
  `emails(${ID})/email_activity_parties`,
  `contacts(firstname='Joe',emailaddress1='a@b.c')`,
  `accounts(accountnumber='A1')`,
  `accounts(${ID})/contact_customer_accounts`,
  `accounts(${ID})/name`,
  `accounts(${ID})/name/$value`,
  `accounts(${ID})/Microsoft.Dynamics.CRM.Foo(Param='x')`,
  `accounts?$select=name,revenue,address1_city&$filter=address1_city eq '{{city}}' and revenue gt 1000000&$orderby=revenue desc&$top={{top}}`,
  `accounts({{newAccount.accountid}})`,
  `accounts?$select=name,revenue
    &$filter=revenue gt 1000000
    &$orderby=revenue desc`,
  `accounts?$filter=createdon ge 2024-01-31T10:00:00Z and createdon lt 2024-02-01`,
  `accounts?$filter=revenue gt 1.5e10 or revenue lt 1.5m`,
  `accounts?$filter=name in ('a','b','c')`,
  `accounts?$filter=(revenue add 1) mul 2 gt -5`,
  `accounts?$select=*`,
];

function clean(text: string): ODataUrl {
  const url = parseODataUrl(text);
  assert.deepEqual(located(text, url.diagnostics), [], text);
  return url;
}

describe('odata url: documented examples parse without diagnostics', () => {
  for (const text of DOC_EXAMPLES) {
    it(text.replace(/\s+/g, ' ').slice(0, 140), () => {
      const url = clean(text);
      // The canonical print of a clean URL parses to the same tree.
      const printed = printODataUrl(url);
      const again = clean(printed);
      assert.deepEqual(withoutSpans(again.query), withoutSpans(url.query));
      assert.deepEqual(withoutSpans(again.path), withoutSpans(url.path));
      // And so does its encoded form.
      const wire = parseODataUrl(printODataUrl(url, { encode: true }));
      assert.deepEqual(withoutSpans(wire.query), withoutSpans(url.query));
    });
  }
});

function segment(url: ODataUrl, index: number): NameSegment {
  const s = url.path.segments[index];
  assert.ok(s && s.kind === 'name', `segment ${index} is a name`);
  return s;
}

describe('odata url: resource path', () => {
  it('finds the service root of absolute and rooted URLs', () => {
    const url = clean('https://org.api.crm4.dynamics.com/api/data/v9.2/accounts');
    assert.equal(url.serviceRoot?.text, 'https://org.api.crm4.dynamics.com/api/data/v9.2/');
    assert.equal(url.serviceRoot?.version, 'v9.2');
    assert.equal(segment(url, 0).name, 'accounts');
    assert.deepEqual(segment(url, 0).span, { start: 48, end: 56 });
    assert.equal(clean('/api/data/v9.0/accounts').serviceRoot?.version, 'v9.0');
    assert.equal(clean('accounts').serviceRoot, undefined);
    assert.equal(clean('http://127.0.0.1:5555/api/data/v9.2/WhoAmI').path.segments.length, 1);
  });

  it('warns about absolute URLs that are not Web API URLs', () => {
    const text = 'https://example.com/other/accounts';
    assert.deepEqual(located(text, parseODataUrl(text).diagnostics), ['invalidUrl@https://example.com']);
  });

  it('parses a GUID key', () => {
    const key = segment(clean(`accounts(${ID})`), 0).args;
    assert.equal(key?.kind, 'keyValue');
    if (key?.kind === 'keyValue') assert.equal(sexpr(key.value), `guid:${ID}`);
  });

  it('parses alternate keys as named values', () => {
    const args = segment(clean("contacts(firstname='Joe',emailaddress1='a@b.c')"), 0).args;
    assert.equal(args?.kind, 'namedValues');
    if (args?.kind !== 'namedValues') return;
    assert.deepEqual(
      args.values.map((v) => [v.name, sexpr(v.value)]),
      [
        ['firstname', "string:'Joe'"],
        ['emailaddress1', "string:'a@b.c'"],
      ],
    );
  });

  it('tells system segments, casts and operations apart', () => {
    const url = clean(
      `EntityDefinitions(LogicalName='account')/Attributes/Microsoft.Dynamics.CRM.PicklistAttributeMetadata/$count`,
    );
    assert.deepEqual(
      url.path.segments.map((s) => (s.kind === 'system' ? `system:${s.name}` : `${s.qualified ? 'q' : 'n'}:${s.name}`)),
      ['n:EntityDefinitions', 'n:Attributes', 'q:Microsoft.Dynamics.CRM.PicklistAttributeMetadata', 'system:$count'],
    );
    const fn = segment(clean('WhoAmI()'), 0);
    assert.deepEqual(fn.args?.kind === 'namedValues' ? fn.args.values : undefined, []);
    assert.equal(segment(clean('WhoAmI'), 0).args, undefined);
  });

  it('parses unbound functions with aliases', () => {
    const url = clean('RetrieveTotalRecordCount(EntityNames=@p1)?@p1=["account","contact"]');
    const args = segment(url, 0).args;
    assert.equal(args?.kind === 'namedValues' ? sexpr(args.values[0]!.value) : '', '@p1');
    assert.deepEqual(
      url.query.aliases.map((a) => [a.name, sexpr(a.value)]),
      [['p1', 'json[string:"account", string:"contact"]']],
    );
  });

  it('reports a broken path and keeps the rest', () => {
    const text = `accounts(${ID}/name`;
    const url = parseODataUrl(text);
    assert.deepEqual(located(text, url.diagnostics), ['missingCloseParen@(', 'unexpectedToken@/name']);
    const bad = 'accounts//name';
    assert.deepEqual(located(bad, parseODataUrl(bad).diagnostics), ['expectedIdentifier@/']);
  });
});

describe('odata url: query options', () => {
  it('keeps the raw text and span of every option', () => {
    const text = "accounts?$select=name&$filter=name%20eq%20'a'&@p1=1";
    const url = clean(text);
    assert.deepEqual(
      url.options.map((o) => [o.kind, o.name, o.value, o.rawValue, text.slice(o.span.start, o.span.end)]),
      [
        ['system', '$select', 'name', 'name', '$select=name'],
        ['system', '$filter', "name eq 'a'", "name%20eq%20'a'", "$filter=name%20eq%20'a'"],
        ['alias', '@p1', '1', '1', '@p1=1'],
      ],
    );
  });

  it('maps spans of decoded values back to the encoded text', () => {
    const text = '/api/data/v9.2/accounts?%24filter=name%20eq%20%27O%27%27Brian%27%20and%20revenue%20gt%205';
    const url = clean(text);
    const filter = url.query.filter;
    assert.ok(filter?.kind === 'binary');
    if (filter.kind !== 'binary' || filter.left.kind !== 'binary') return;
    assert.equal(text.slice(filter.operatorSpan.start, filter.operatorSpan.end), 'and');
    assert.equal(text.slice(filter.left.right.span.start, filter.left.right.span.end), '%27O%27%27Brian%27');
    assert.equal(sexpr(filter.left.right), "string:'O''Brian'");
    assert.equal(text.slice(filter.span.start, filter.span.end), text.slice(text.indexOf('name')));
  });

  it('decodes UTF-8 escapes', () => {
    const text = "accounts?$filter=name eq '%C3%A9t%C3%A9 %F0%9F%98%80'";
    const filter = clean(text).query.filter;
    assert.ok(filter?.kind === 'binary' && filter.right.kind === 'literal');
    if (filter.kind === 'binary' && filter.right.kind === 'literal') assert.equal(filter.right.value, 'été 😀');
  });

  it('keeps a literal % that is not an escape (SQL wildcards as typed)', () => {
    const filter = clean("accounts?$filter=contains(name,'50%')").query.filter;
    assert.equal(filter && printExpression(filter), "contains(name,'50%')");
  });

  it('reads + as a space only when asked', () => {
    const text = "accounts?$filter=name+eq+'a+b'";
    assert.ok(parseODataUrl(text).diagnostics.length > 0);
    const filter = parseODataUrl(text, { plusAsSpace: true }).query.filter;
    assert.equal(filter && printExpression(filter), "name eq 'a b'");
  });

  it('parses $select, $orderby, $top, $count', () => {
    const url = clean(
      'accounts?$select=name,primarycontactid/fullname,*&$orderby=revenue desc,name,createdon asc&$top=50&$count=true',
    );
    assert.equal(url.query.select && printSelect(url.query.select), 'name,primarycontactid/fullname,*');
    assert.equal(url.query.orderBy && printOrderBy(url.query.orderBy), 'revenue desc,name,createdon asc');
    assert.deepEqual(
      url.query.orderBy?.items.map((i) => i.direction),
      ['desc', undefined, 'asc'],
    );
    assert.equal(url.query.top?.value, 50);
    assert.equal(url.query.count?.value, true);
  });

  it('parses nested $expand options', () => {
    const text =
      'accounts?$expand=Account_Tasks($select=subject,createdon;$filter=statecode eq 0;$orderby=createdon desc;$top=5;$expand=regardingobjectid_account($select=name)),primarycontactid($select=fullname)';
    const expand = clean(text).query.expand;
    assert.ok(expand);
    const [tasks, contact] = expand.items;
    assert.equal(tasks?.segments[0]?.name, 'Account_Tasks');
    assert.equal(tasks?.options.select && printSelect(tasks.options.select), 'subject,createdon');
    assert.equal(tasks?.options.filter && printExpression(tasks.options.filter), 'statecode eq 0');
    assert.equal(tasks?.options.top?.value, 5);
    assert.deepEqual(
      tasks?.optionList.map((o) => o.name),
      ['$select', '$filter', '$orderby', '$top', '$expand'],
    );
    assert.equal(tasks?.options.expand?.items[0]?.segments[0]?.name, 'regardingobjectid_account');
    assert.equal(contact?.options.select && printSelect(contact.options.select), 'fullname');
    assert.equal(printExpand(expand), text.slice('accounts?$expand='.length));
    if (tasks?.optionsSpan) assert.equal(text[tasks.optionsSpan.start], '(');
  });

  it('parses $apply transformations', () => {
    const apply = clean(
      'accounts?$apply=filter(statecode eq 0)/groupby((statuscode,primarycontactid/fullname),aggregate(revenue with sum as total,$count as n))',
    ).query.apply;
    assert.ok(apply);
    assert.deepEqual(
      apply.transformations.map((t) => t.kind),
      ['filter', 'groupby'],
    );
    const groupby = apply.transformations[1];
    assert.ok(groupby?.kind === 'groupby');
    if (groupby.kind !== 'groupby') return;
    assert.deepEqual(groupby.properties.map(sexpr), ['statuscode', 'primarycontactid/fullname']);
    const aggregate = groupby.transformations[0];
    assert.ok(aggregate?.kind === 'aggregate');
    if (aggregate.kind !== 'aggregate') return;
    assert.deepEqual(
      aggregate.items.map((i) => [i.expression && sexpr(i.expression), i.method, i.alias?.name]),
      [
        ['revenue', 'sum', 'total'],
        [undefined, '$count', 'n'],
      ],
    );
    assert.equal(
      printApply(apply),
      'filter(statecode eq 0)/groupby((statuscode,primarycontactid/fullname),aggregate(revenue with sum as total,$count as n))',
    );
  });

  it('keeps text options decoded', () => {
    const url = clean('accounts?$skiptoken=%3Ccookie%20pagenumber=%222%22%20/%3E&$deltatoken=919042%2108%2f22%2f2017');
    assert.equal(url.query.skipToken?.value, '<cookie pagenumber="2" />');
    assert.equal(url.query.deltaToken?.value, '919042!08/22/2017');
  });

  it('collects aliases in order', () => {
    const url = clean('accounts?$filter=@p1 ne @p3&@p1=revenue&@p3=5');
    assert.deepEqual(
      url.query.aliases.map((a) => [a.name, sexpr(a.value)]),
      [
        ['p1', 'revenue'],
        ['p3', 'int:5'],
      ],
    );
  });

  it('splits a query string by itself', () => {
    const options = splitQueryOptions('?a=1&&b&c=x%20y', 1);
    assert.deepEqual(
      options.map((o) => [o.name, o.value, o.hasValue, o.span]),
      [
        ['a', '1', true, { start: 1, end: 4 }],
        ['b', '', false, { start: 6, end: 7 }],
        ['c', 'x y', true, { start: 8, end: 15 }],
      ],
    );
  });

  it('encodes values for the wire', () => {
    assert.equal(encodeQueryValue("name eq 'a&b' and x eq '50%'"), "name%20eq%20'a%26b'%20and%20x%20eq%20'50%25'");
    const url = parseODataUrl("accounts?$filter=name eq 'a+b#c'&$top=1", {});
    const wire = printODataUrl(url, { encode: true });
    assert.equal(wire, "accounts?$filter=name%20eq%20'a%2Bb%23c'&$top=1");
  });
});

describe('odata url: option diagnostics', () => {
  const cases: [string, string[]][] = [
    ['accounts?$Select=name', ['unknownOption@$Select']],
    ['accounts?$top=1&$top=2', ['duplicateOption@$top']],
    ['accounts?foo=bar', ['unknownOption@foo']],
    ['accounts?$skip=10', ['unsupportedOption@$skip']],
    ['accounts?$search=abc', ['unsupportedOption@$search']],
    ['accounts?$format=json', ['unsupportedOption@$format']],
    ['accounts?$top=-1', ['invalidOptionValue@-1']],
    ['accounts?$top=abc', ['invalidOptionValue@abc']],
    ['accounts?$top=1.5', ['invalidOptionValue@1.5']],
    ['accounts?$top=5 6', ['unexpectedToken@6']],
    ['accounts?$count=yes', ['invalidOptionValue@yes']],
    ['accounts?$filter=', ['missingOptionValue@$filter']],
    ['accounts?$filter', ['missingOptionValue@$filter']],
    ['accounts?$select=name,', ['expectedIdentifier@']],
    ['accounts?$select=name,,city', ['expectedIdentifier@,']],
    ['accounts?$orderby=name up', ['unexpectedToken@up']],
    ['accounts?savedQuery=abc', ['invalidOptionValue@abc']],
    ['accounts?fetchXml=select', ['invalidOptionValue@select']],
    ['accounts?$expand=Account_Tasks($select=subject;$filtr=statecode eq 0)', ['unknownOption@$filtr']],
    ['accounts?$expand=Account_Tasks($select=subject;$skip=1)', ['unsupportedOption@$skip']],
    ['accounts?$expand=Account_Tasks($select=a;$select=b)', ['duplicateOption@$select']],
    ['accounts?$expand=Account_Tasks($select=subject', ['missingCloseParen@(']],
    ['accounts?$expand=Account_Tasks($top=)', ['missingOptionValue@$top']],
    ['accounts?$apply=aggregate(revenue with summ as total)', ['unknownAggregateMethod@summ']],
    ['accounts?$apply=aggregate(revenue as total)', ['expectedToken@revenue']],
    ['accounts?$apply=aggregate(revenue with sum)', ['expectedToken@)']],
    ['accounts?$apply=groupy((a))', ['unknownTransformation@groupy']],
    ['accounts?$apply=groupby(a)', ['expectedToken@a', 'unexpectedToken@a']],
    ["accounts?$filter=name eq 'a' and", ['expectedExpression@and']],
    ["accounts?$filter=name eq 'abc&$top=1", ["unterminatedString@'abc"]],
  ];
  for (const [text, expected] of cases) {
    it(text, () => assert.deepEqual(located(text, parseODataUrl(text).diagnostics), expected));
  }

  it('gives severities: unsupported and unknown custom options are warnings', () => {
    const url = parseODataUrl('accounts?$skip=1&foo=1&$Top=1');
    assert.deepEqual(
      url.diagnostics.map((d) => [d.code, d.severity]),
      [
        ['unsupportedOption', 'warning'],
        ['unknownOption', 'warning'],
        ['unknownOption', 'error'],
      ],
    );
  });

  it('still parses the first of duplicate options', () => {
    assert.equal(parseODataUrl('accounts?$top=1&$top=2').query.top?.value, 1);
  });
});

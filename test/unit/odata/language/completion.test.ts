import * as assert from 'node:assert/strict';
import type { MetadataModel } from '../../../../src/metadata/model';
import { MetadataIndex } from '../../../../src/metadata/lookup';
import { parseDocument } from '../../../../src/odata/document/parser';
import { getCompletions } from '../../../../src/odata/language/completion';
import type { CompletionResult } from '../../../../src/odata/language/types';
import { realMetadata } from './metadata';

/** Completion at the `|` of `source`. */
function complete(source: string, metadata: MetadataIndex | 'none' = realMetadata()): CompletionResult | undefined {
  const offset = source.indexOf('|');
  const text = source.slice(0, offset) + source.slice(offset + 1);
  return getCompletions(parseDocument(text), text, offset, { metadata: metadata === 'none' ? undefined : metadata });
}

function labels(source: string, metadata?: MetadataIndex | 'none'): string[] {
  return complete(source, metadata)?.items.map((i) => i.label) ?? [];
}

function replaced(source: string): string {
  const offset = source.indexOf('|');
  const text = source.slice(0, offset) + source.slice(offset + 1);
  const result = getCompletions(parseDocument(text), text, offset, { metadata: realMetadata() });
  return result ? text.slice(result.span.start, result.span.end) : '<none>';
}

describe('completion', function () {
  this.timeout(30000);
  before(() => realMetadata());

  it('offers methods at the start of a request line, and entity sets and functions after the method', () => {
    assert.deepEqual(labels('### a\n|').slice(0, 6), ['GET', 'POST', 'PATCH', 'PUT', 'DELETE', 'FETCH']);
    const afterGet = labels('GET acc|');
    assert.ok(afterGet.includes('accounts'));
    assert.ok(afterGet.includes('WhoAmI'), 'unbound functions after GET');
    assert.equal(replaced('GET acc|'), 'acc');
    assert.ok(!labels('POST acc|').includes('WhoAmI'), 'functions are not offered after POST');
    assert.deepEqual(labels('PATCH contacts(00000000-00|'), [], 'no table names inside a key');
    assert.deepEqual(labels("GET accounts(accountnumber='A|"), []);
    assert.ok(labels('GET accounts(00000000-0000-0000-0000-000000000001)/|').includes('primarycontactid'));
  });

  it('offers query options after ? and &, also on continuation lines', () => {
    assert.ok(labels('GET accounts?|').includes('$select'));
    assert.ok(labels('GET accounts?$top=1\n    &|').includes('$filter'));
    assert.equal(
      complete('GET accounts?$top=1&$fi|')?.items.find((i) => i.label === '$filter')?.insertText,
      '$filter=',
    );
  });

  it('offers the columns of the entity set in $select, and lookups as _x_value', () => {
    const items = labels('GET accounts?$select=|');
    assert.ok(items.includes('name') && items.includes('revenue'));
    assert.ok(items.includes('_primarycontactid_value'));
    assert.ok(!items.includes('fullname'), 'no columns of other tables');
    assert.equal(replaced('GET accounts?$select=name,rev|'), 'rev');
    assert.ok(labels('GET contacts?$select=|').includes('fullname'));
  });

  it('scopes nested $expand options to the navigation target', () => {
    assert.ok(labels('GET accounts?$expand=|').includes('primarycontactid'));
    const nested = labels('GET accounts?$expand=primarycontactid($select=|');
    assert.ok(nested.includes('fullname'));
    assert.ok(!nested.includes('revenue'));
    assert.deepEqual(labels('GET accounts?$expand=primarycontactid($select=fullname;|'), [
      '$select',
      '$filter',
      '$orderby',
      '$top',
      '$expand',
    ]);
    assert.ok(labels('GET accounts?$expand=Account_Tasks($filter=sub|').includes('subject'));
    assert.ok(labels('GET accounts?$expand=primarycontactid($expand=|').includes('parentcustomerid_account'));
  });

  it('offers columns, functions and query functions in $filter, operators after an operand', () => {
    const operands = labels('GET accounts?$filter=|');
    assert.ok(operands.includes('revenue'));
    assert.ok(operands.includes('contains'));
    assert.ok(operands.includes('Microsoft.Dynamics.CRM.LastXDays'));
    assert.deepEqual(labels('GET accounts?$filter=revenue |').slice(0, 6), ['eq', 'ne', 'gt', 'ge', 'lt', 'le']);
    assert.ok(labels("GET accounts?$filter=name eq 'x' and |").includes('revenue'));
    assert.ok(labels('GET accounts?$filter=primarycontactid/full|').includes('fullname'));
    assert.ok(labels('GET accounts?$filter=Account_Tasks/any(t:t/sub|').includes('subject'));
    assert.ok(labels("GET accounts?$filter=Microsoft.Dynamics.CRM.LastXDays(PropertyName='cre|").includes('createdon'));
    assert.deepEqual(labels('GET accounts?$orderby=name |'), ['asc', 'desc']);
  });

  it('offers option-set values after eq on a choice column when the metadata is enriched', () => {
    const model: MetadataModel = {
      namespace: 'Microsoft.Dynamics.CRM',
      alias: 'mscrm',
      entityTypes: new Map([
        [
          'account',
          {
            name: 'account',
            baseType: undefined,
            abstract: false,
            openType: false,
            key: ['accountid'],
            navigationProperties: [],
            properties: [
              { name: 'accountid', type: 'Edm.Guid', nullable: false },
              {
                name: 'industrycode',
                type: 'Edm.Int32',
                nullable: true,
                info: {
                  logicalName: 'industrycode',
                  attributeType: 'Picklist',
                  displayName: 'Industry',
                  description: undefined,
                  requiredLevel: 'None',
                  options: [
                    { value: 1, label: 'Accounting' },
                    { value: 2, label: 'Agriculture' },
                  ],
                  targets: undefined,
                },
              },
            ],
          },
        ],
      ]),
      entitySets: new Map([['accounts', { name: 'accounts', entityType: 'Microsoft.Dynamics.CRM.account' }]]),
      complexTypes: new Map(),
      enumTypes: new Map(),
      operations: new Map(),
    };
    const result = complete('GET accounts?$filter=industrycode eq |', new MetadataIndex(model));
    assert.deepEqual(
      result?.items.map((i) => [i.label, i.detail]),
      [
        ['1', 'Accounting'],
        ['2', 'Agriculture'],
        ['null', undefined],
      ],
    );
  });

  it('offers header names, Prefer values, and JSON property names and @odata.bind in bodies', () => {
    assert.ok(labels('POST accounts\nPre|').includes('Prefer'));
    assert.ok(labels('POST accounts\nPrefer: |').includes('return=representation'));
    assert.ok(labels('POST accounts\nPrefer: return=representation, odata.|').includes('odata.track-changes'));
    const body = complete('POST accounts\n\n{\n  "na|"\n}');
    assert.ok(body?.items.some((i) => i.label === 'name'));
    assert.ok(body?.items.some((i) => i.label === 'primarycontactid@odata.bind'));
    const unquoted = complete('POST accounts\n\n{\n  "name": "x",\n  |\n}');
    assert.equal(unquoted?.items.find((i) => i.label === 'name')?.insertText, '"name": ');
    assert.deepEqual(labels('POST accounts\n\n{ "primarycontactid@odata.bind": "|" }'), ['/contacts(']);
  });

  it('offers variables, named requests and their properties inside {{', () => {
    const text = '@top = 5\n### a\n# @name created\nPOST accounts\n\n{}\n### b\nGET accounts?$top={{|';
    const items = labels(text);
    assert.ok(items.includes('top'));
    assert.ok(items.includes('created'));
    assert.ok(items.includes('$guid'));
    const properties = labels('### a\n# @name created\nPOST accounts\n\n{}\n### b\nPATCH accounts({{created.|})');
    assert.ok(properties.includes('id'));
    assert.ok(properties.includes('accountid'));
  });

  it('works without metadata: options, operators, methods, headers', () => {
    assert.ok(labels('GET accounts?|', 'none').includes('$select'));
    assert.ok(labels('GET accounts?$filter=revenue |', 'none').includes('gt'));
    assert.deepEqual(labels('GET accounts?$select=|', 'none'), []);
    assert.ok(labels('POST accounts\nPre|', 'none').includes('Prefer'));
  });
});

import fc from 'fast-check';
import * as assert from 'node:assert/strict';
import type { MetadataModel } from '../../../../src/metadata/model';
import { MetadataIndex } from '../../../../src/metadata/lookup';
import { parseDocument } from '../../../../src/odata/document/parser';
import { getCompletions, mayMatch } from '../../../../src/odata/language/completion';
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

  it('offers only tables after PATCH, PUT and DELETE, $batch only after POST and $metadata only after GET', () => {
    for (const method of ['PATCH', 'PUT', 'DELETE']) {
      const items = complete(`${method} |`)?.items ?? [];
      assert.ok(items.length > 500, method);
      assert.ok(
        items.every((i) => i.kind === 'entitySet'),
        `${method}: ${items.find((i) => i.kind !== 'entitySet')?.label}`,
      );
    }
    assert.ok(labels('POST |').includes('$batch'));
    assert.ok(!labels('POST |').includes('$metadata'));
    assert.ok(labels('GET |').includes('$metadata'));
    assert.ok(!labels('GET |').includes('$batch'));
  });

  it('orders lists by rank, then by label, as editors show them', () => {
    const items = complete('GET contacts?$filter=|')?.items ?? [];
    const keys = items.map((i) => [i.sortText ?? '', i.label] as const);
    const sorted = [...keys].sort((a, b) => (a[0] === b[0] ? (a[1] < b[1] ? -1 : 1) : a[0] < b[0] ? -1 : 1));
    assert.deepEqual(keys, sorted);
    const ranks = [...new Set(items.map((i) => i.sortText))];
    assert.ok(ranks.length > 1 && ranks.every((r) => r !== undefined && r.length === 1), ranks.join(' '));
    // Columns first, lookup ids after them.
    const firstLookup = items.findIndex((i) => i.kind === 'lookup');
    assert.ok(firstLookup > 0 && items.slice(0, firstLookup).every((i) => i.kind === 'property'));
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

  it('offers nothing inside or against a literal in $filter, and and/or first after a comparison', () => {
    for (const source of [
      "GET contacts?$filter=address1_city eq 'x'|",
      "GET contacts?$filter=startswith(lastname,'Sm'|)",
      'GET contacts?$filter=createdon ge 2024-06-|',
      'GET contacts?$filter=createdon ge 2024-01-01T00:00:|',
      'GET contacts?$filter=revenue gt 10|',
      'GET contacts?$filter=revenue gt -|',
      'GET contacts?$filter=contactid eq 00000000-0000-|',
      'GET contacts?$filter=(statecode eq 0)|',
    ])
      assert.equal(complete(source), undefined, source);
    assert.deepEqual(labels('GET contacts?$filter=statecode eq 0 |').slice(0, 3), ['and', 'or', 'eq']);
    assert.deepEqual(labels("GET contacts?$filter=contains(fullname,'a') |").slice(0, 2), ['and', 'or']);
    assert.deepEqual(labels('GET contacts?$filter=statecode |').slice(0, 2), ['eq', 'ne']);
    assert.ok(labels('GET contacts?$filter=contains(|').includes('fullname'));
    assert.ok(labels('GET contacts?$filter=statecode eq 0 and (|').includes('fullname'));
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

describe('mayMatch', () => {
  /** The definition: the typed text, or it with one pair of neighbours swapped, is a subsequence. */
  function byDefinition(typed: string, label: string): boolean {
    const word = label.toLowerCase();
    const inOrder = (pattern: string): boolean => {
      let at = 0;
      for (const char of pattern) {
        at = word.indexOf(char, at) + 1;
        if (at === 0) return false;
      }
      return true;
    };
    const pattern = typed.toLowerCase();
    if (inOrder(pattern)) return true;
    for (let i = 1; i < pattern.length; i++)
      if (inOrder(pattern.slice(0, i - 1) + pattern[i]! + pattern[i - 1]! + pattern.slice(i + 1))) return true;
    return false;
  }

  it('keeps what an editor could show for the typed word: in order, any case, one neighbour swap forgiven', () => {
    assert.ok(mayMatch('', 'accounts'));
    assert.ok(mayMatch('acc', 'accounts'));
    assert.ok(mayMatch('ACC', 'accounts'));
    assert.ok(mayMatch('whoami', 'WhoAmI'));
    assert.ok(mayMatch('acnt', 'accounts'));
    assert.ok(mayMatch('cnotact', 'contacts'), 'one swap of neighbours');
    assert.ok(mayMatch('rvnue', 'annualrevenue'));
    assert.ok(!mayMatch('cnotcat', 'contacts'), 'two swaps');
    assert.ok(!mayMatch('xyz', 'accounts'));
    assert.ok(!mayMatch('accountss', 'accounts'));
  });

  it('agrees with its definition on any text', () => {
    const text = fc.string({ unit: fc.constantFrom('a', 'b', 'c', 'A', '_', 'é'), maxLength: 9 });
    fc.assert(
      fc.property(text, text, (typed, label) => mayMatch(typed, label) === byDefinition(typed, label)),
      { numRuns: 5000 },
    );
  });
});

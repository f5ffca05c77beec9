import assert from 'node:assert/strict';
import fc from 'fast-check';
import { describe, it } from 'mocha';
import type { ODataDiagnostic, SyntaxNode } from '../../../src/odata/url/index';
import { parseExpression, parseODataUrl, printExpression, walk } from '../../../src/odata/url/index';
import { withoutSpans } from './helpers';

const SEEDS = [
  "accounts?$select=name,revenue&$filter=address1_city eq 'Seattle' and revenue gt 1000000&$orderby=revenue desc&$top=10",
  'accounts(00000000-0000-0000-0000-000000000001)/contact_customer_accounts?$expand=a($select=b;$filter=c eq 1;$expand=d($top=2))',
  'contacts?$filter=Microsoft.Dynamics.CRM.In(PropertyName=\'lastname\',PropertyValues=["a","b"]) and not contains(name,\'x\')',
  'accounts?$apply=filter(a eq 1)/groupby((b,c/d),aggregate(revenue with sum as total,$count as n))',
  "https://org.crm.dynamics.com/api/data/v9.2/RetrieveTotalRecordCount(EntityNames=@p1)?@p1=[\"account\"]&$filter=x/any(t:t/y in ('a','b'))",
  '/api/data/v9.2/accounts?%24filter=name%20eq%20%27O%27%27B%27&$skiptoken=%3Ccookie%20%2F%3E',
  "accounts?$filter=createdon ge 2024-01-31T10:00:00+01:00 and d eq duration'P1D' and e eq Microsoft.Dynamics.CRM.X'1' and f eq {{v}}",
];

const CHARS = [
  ...'abcxyz019 ()[]{},;:/=@$\'"%&?+-*.#!\\\t\n',
  'eq',
  'and',
  'or',
  'not',
  ' any(',
  '%2',
  '%C3',
  "''",
  '{{',
  '}}',
  'é',
];
const junk = fc.string({ unit: fc.constantFrom(...CHARS), maxLength: 80 });

const mutated = fc
  .tuple(
    fc.constantFrom(...SEEDS),
    fc.array(fc.tuple(fc.nat(), fc.nat({ max: 4 }), fc.string({ unit: fc.constantFrom(...CHARS), maxLength: 3 })), {
      maxLength: 5,
    }),
  )
  .map(([seed, edits]) => {
    let text = seed;
    for (const [at, remove, insert] of edits) {
      const position = at % (text.length + 1);
      text = text.slice(0, position) + insert + text.slice(position + remove);
    }
    return text;
  });

function checkSpans(text: string, root: SyntaxNode, diagnostics: readonly ODataDiagnostic[]): void {
  const inside = (s: { start: number; end: number }, what: string): void => {
    assert.ok(Number.isInteger(s.start) && Number.isInteger(s.end), what);
    assert.ok(
      0 <= s.start && s.start <= s.end && s.end <= text.length,
      `${what} ${JSON.stringify(s)} in ${JSON.stringify(text)}`,
    );
  };
  for (const d of diagnostics) inside(d.span, `diagnostic ${d.code}`);
  walk(root, (node, parent) => {
    inside(node.span, node.kind);
    if (parent !== undefined && parent.kind !== 'url') {
      assert.ok(
        parent.span.start <= node.span.start && node.span.end <= parent.span.end,
        `${node.kind} ${JSON.stringify(node.span)} inside ${parent.kind} ${JSON.stringify(parent.span)} in ${JSON.stringify(text)}`,
      );
    }
  });
}

describe('odata parser properties', () => {
  it('never throws on random text, and every span lies inside the input', () => {
    fc.assert(
      fc.property(fc.oneof(junk, fc.string({ maxLength: 60 })), (text) => {
        const url = parseODataUrl(text);
        checkSpans(text, url, url.diagnostics);
        const expression = parseExpression(text);
        checkSpans(text, expression.expression, expression.diagnostics);
      }),
      { numRuns: 3000 },
    );
  });

  it('never throws on mutated real URLs, with or without decoding', () => {
    fc.assert(
      fc.property(mutated, fc.boolean(), (text, plusAsSpace) => {
        const url = parseODataUrl(text, { plusAsSpace });
        checkSpans(text, url, url.diagnostics);
        const expression = parseExpression(text, { percentDecode: true });
        checkSpans(text, expression.expression, expression.diagnostics);
      }),
      { numRuns: 3000 },
    );
  });

  const member = fc.constantFrom('name', 'revenue', 'a/b', '_x_value', 'primarycontactid/fullname', '@p1', '$it/name');
  const literal = fc.constantFrom(
    'null',
    'true',
    '42',
    '-7',
    '1.5',
    '2.5m',
    '1e10',
    "'it''s'",
    "''",
    '00000000-0000-0000-0000-000000000001',
    '2024-01-31',
    '2024-01-31T10:00:00Z',
    "duration'P1D'",
    "Microsoft.Dynamics.CRM.Color'Red'",
    '{{v}}',
    'INF',
  );
  const { expression } = fc.letrec<{ expression: string }>((tie) => ({
    expression: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      member,
      literal,
      fc
        .tuple(
          tie('expression'),
          fc.constantFrom('eq', 'ne', 'gt', 'ge', 'lt', 'le', 'and', 'or', 'add', 'sub', 'mul', 'div', 'mod', 'has'),
          tie('expression'),
          fc.boolean(),
        )
        .map(([l, op, r, paren]) => (paren ? `(${l} ${op} ${r})` : `${l} ${op} ${r}`)),
      tie('expression').map((e) => `not ${e}`),
      tie('expression').map((e) => `-(${e})`),
      fc.tuple(member, tie('expression')).map(([m, e]) => `contains(${m},${e})`),
      fc.tuple(fc.constantFrom('tolower', 'length', 'year', 'round'), tie('expression')).map(([f, e]) => `${f}(${e})`),
      fc.tuple(fc.constantFrom('any', 'all'), tie('expression')).map(([op, e]) => `Tasks/${op}(t:t/x eq ${e})`),
      fc.constant('Tasks/any()'),
      fc
        .tuple(member, fc.array(literal, { minLength: 1, maxLength: 3 }))
        .map(([m, items]) => `${m} in (${items.join(',')})`),
      fc
        .array(fc.constantFrom("'a'", '"b"', '1', 'null'), { maxLength: 3 })
        .map((items) => `Microsoft.Dynamics.CRM.In(PropertyName='x',PropertyValues=[${items.join(',')}])`),
    ),
  }));

  it('printing a parsed well-formed expression and parsing it again gives the same tree', () => {
    fc.assert(
      fc.property(expression, (text) => {
        const first = parseExpression(text);
        assert.deepEqual(first.diagnostics, [], text);
        const printed = printExpression(first.expression);
        const second = parseExpression(printed);
        assert.deepEqual(second.diagnostics, [], printed);
        assert.deepEqual(withoutSpans(second.expression), withoutSpans(first.expression), `${text}\n${printed}`);
        assert.equal(printExpression(second.expression), printed);
      }),
      { numRuns: 3000 },
    );
  });
});

describe('odata parser on large input', () => {
  it('parses a 200 KB filter completely', () => {
    const clause = "(name eq 'x''y' or revenue gt 1000) and contains(city,'S') and ";
    const count = Math.ceil(200_000 / clause.length);
    const text = `accounts?$filter=${clause.repeat(count)}statecode eq 0`;
    const url = parseODataUrl(text);
    assert.deepEqual(url.diagnostics, []);
    let ands = 0;
    let calls = 0;
    walk(url.query.filter!, (node) => {
      if (node.kind === 'binary' && (node as { operator?: string }).operator === 'and') ands++;
      if (node.kind === 'call') calls++;
    });
    assert.equal(ands, count * 2);
    assert.equal(calls, count);
    assert.equal(printExpression(url.query.filter!).length, text.length - 'accounts?$filter='.length);
  });

  it('survives 200 KB of pathological input', () => {
    const size = 200_000;
    const inputs = [
      '('.repeat(size),
      ')'.repeat(size),
      "'".repeat(size + 1),
      'not '.repeat(size / 4) + 'a',
      'a eq '.repeat(size / 5),
      '%'.repeat(size),
      '%C3'.repeat(size / 3),
      '['.repeat(size),
      'a/'.repeat(size / 2),
      'x/any(t:'.repeat(size / 8),
    ];
    for (const input of inputs) {
      const expression = parseExpression(input);
      assert.ok(expression.expression.span.end <= input.length);
      const url = parseODataUrl(`accounts?$filter=${input}&$expand=${'a($expand='.repeat(size / 10)}`);
      assert.ok(url.diagnostics.length > 0);
    }
  });
});

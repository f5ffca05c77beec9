import assert from 'node:assert/strict';
import { describe, it } from 'mocha';
import type { ExpressionNode, LiteralNode } from '../../../src/odata/url/index';
import { parseExpression, printExpression } from '../../../src/odata/url/index';
import { codes, sexpr, withoutSpans } from './helpers';

function parse(text: string): ExpressionNode {
  const result = parseExpression(text);
  assert.deepEqual(result.diagnostics, [], `diagnostics for ${text}`);
  return result.expression;
}

function literal(text: string): LiteralNode {
  const node = parse(text);
  if (node.kind !== 'literal') assert.fail(`${text} parsed as ${node.kind}`);
  return node;
}

describe('odata expressions: precedence', () => {
  const cases: [string, string][] = [
    ['a eq 1 and b eq 2 or c eq 3', '(((a eq int:1) and (b eq int:2)) or (c eq int:3))'],
    ['a eq 1 or b eq 2 and c eq 3', '((a eq int:1) or ((b eq int:2) and (c eq int:3)))'],
    ['a or b or c', '((a or b) or c)'],
    ['a and b and c', '((a and b) and c)'],
    ['a add b mul c', '(a add (b mul c))'],
    ['a mul b add c', '((a mul b) add c)'],
    ['a sub b sub c', '((a sub b) sub c)'],
    ['a div b mod c', '((a div b) mod c)'],
    ['a divby b', '(a divby b)'],
    ['a add 1 gt b mul 2', '((a add int:1) gt (b mul int:2))'],
    ['-a add b', '((-a) add b)'],
    ['-a mul b', '((-a) mul b)'],
    ['- (a add b)', '(-(a add b))'],
    ['not a and b', '((not a) and b)'],
    ["not contains(name,'x')", "(not contains(name, string:'x'))"],
    ['not (a eq 1 or b eq 2)', '(not ((a eq int:1) or (b eq int:2)))'],
    ['not not a', '(not (not a))'],
    ['not(a eq 1)', '(not (a eq int:1))'],
    ['(a or b) and c', '((a or b) and c)'],
    ['a and (b or c)', '(a and (b or c))'],
    ['((a))', 'a'],
    ["name in ('a','b') and x eq 1", "((name in [string:'a', string:'b']) and (x eq int:1))"],
    ["name in ('a') or x", "((name in [string:'a']) or x)"],
    ['a add 1 in (2,3)', '((a add int:1) in [int:2, int:3])'],
    ['name in @p1', '(name in @p1)'],
    ['a eq b eq c', '((a eq b) eq c)'],
    ["flags has Microsoft.Dynamics.CRM.Color'Red'", "(flags has enum:Microsoft.Dynamics.CRM.Color'Red')"],
    ['a sub -5', '(a sub int:-5)'],
    ['a sub - 5', '(a sub (-int:5))'],
    ['- - a', '(-(-a))'],
    [
      'length(name) add 1 gt 5 and year(createdon) eq 2024',
      '(((length(name) add int:1) gt int:5) and (year(createdon) eq int:2024))',
    ],
  ];
  for (const [text, expected] of cases) {
    it(text, () => assert.equal(sexpr(parse(text)), expected));
  }
});

describe('odata expressions: literals', () => {
  const cases: [string, LiteralNode['literalType'], unknown][] = [
    ['null', 'null', null],
    ['true', 'boolean', true],
    ['false', 'boolean', false],
    ['42', 'int', 42],
    ['-42', 'int', -42],
    ['0', 'int', 0],
    ['3000000000', 'int64', 3000000000],
    ['5L', 'int64', 5],
    ['1.5', 'decimal', 1.5],
    ['1.5m', 'decimal', 1.5],
    ['1.5M', 'decimal', 1.5],
    ['2m', 'decimal', 2],
    ['1e10', 'double', 1e10],
    ['1.5E-3', 'double', 0.0015],
    ['2.5d', 'double', 2.5],
    ['2.5f', 'single', 2.5],
    ['INF', 'double', Infinity],
    ["'abc'", 'string', 'abc'],
    ["''", 'string', ''],
    ["'O''Brian'", 'string', "O'Brian"],
    ["''''", 'string', "'"],
    ["'a b&c'", 'string', 'a b&c'],
    ['00000000-0000-0000-0000-000000000001', 'guid', '00000000-0000-0000-0000-000000000001'],
    ['4b757ff7-9c85-ee11-8179-000d3a9933c9', 'guid', '4b757ff7-9c85-ee11-8179-000d3a9933c9'],
    ['ABCDEF01-2345-6789-ABCD-EF0123456789', 'guid', 'ABCDEF01-2345-6789-ABCD-EF0123456789'],
    ['2024-01-31', 'date', '2024-01-31'],
    ['2024-01-31T10:00:00Z', 'dateTimeOffset', '2024-01-31T10:00:00Z'],
    ['2024-01-31T10:00Z', 'dateTimeOffset', '2024-01-31T10:00Z'],
    ['2024-01-31T10:00:00.1234567Z', 'dateTimeOffset', '2024-01-31T10:00:00.1234567Z'],
    ['2024-01-31T10:00:00+01:00', 'dateTimeOffset', '2024-01-31T10:00:00+01:00'],
    ['2024-01-31T10:00:00-08:00', 'dateTimeOffset', '2024-01-31T10:00:00-08:00'],
    ['13:45:00', 'timeOfDay', '13:45:00'],
    ["duration'P1D'", 'duration', 'P1D'],
    ["duration'PT12H30M'", 'duration', 'PT12H30M'],
    ["binary'T0RhdGE'", 'binary', 'T0RhdGE'],
    ["geography'POINT(0 0)'", 'geography', 'POINT(0 0)'],
    ["Microsoft.Dynamics.CRM.OwnershipTypes'UserOwned'", 'enum', 'UserOwned'],
    ["Microsoft.Dynamics.CRM.X'1'", 'enum', '1'],
  ];
  for (const [text, type, value] of cases) {
    it(`${text} is ${type}`, () => {
      const node = literal(text);
      assert.equal(node.literalType, type);
      assert.deepEqual(node.value, value);
      assert.deepEqual(node.span, { start: 0, end: text.length });
    });
  }

  it('keeps the type name of enum literals', () => {
    assert.equal(
      literal("Microsoft.Dynamics.CRM.AttributeRequiredLevel'ApplicationRequired'").typeName,
      'Microsoft.Dynamics.CRM.AttributeRequiredLevel',
    );
  });

  it('parses JSON arrays with double-quoted strings and embedded quotes', () => {
    const node = parse('["O\'Brian","a\\"b",1,null]');
    assert.equal(node.kind, 'array');
    if (node.kind !== 'array') return;
    assert.deepEqual(
      node.items.map((i) => (i.kind === 'literal' ? i.value : i.kind)),
      ["O'Brian", 'a"b', 1, null],
    );
  });

  it('parses aliases and templates', () => {
    assert.equal(sexpr(parse('@p1 ne @p3')), '(@p1 ne @p3)');
    assert.equal(sexpr(parse('address1_city eq {{city}}')), '(address1_city eq {{city}})');
    assert.equal(sexpr(parse("address1_city eq '{{city}}'")), "(address1_city eq string:'{{city}}')");
  });

  it('parses JSON objects as raw text with their value', () => {
    const node = parse('{"@odata.id":"accounts(1)"}');
    assert.equal(node.kind, 'object');
    if (node.kind === 'object') assert.deepEqual(node.value, { '@odata.id': 'accounts(1)' });
  });
});

describe('odata expressions: paths, lambdas, functions', () => {
  const cases: [string, string][] = [
    ["primarycontactid/fullname eq 'X'", "(primarycontactid/fullname eq string:'X')"],
    ["primarycontactid/createdby/fullname eq 'X'", "(primarycontactid/createdby/fullname eq string:'X')"],
    [
      '_parentaccountid_value eq 00000000-0000-0000-0000-000000000001',
      '(_parentaccountid_value eq guid:00000000-0000-0000-0000-000000000001)',
    ],
    [
      "_owninguser_value eq '00000000-0000-0000-0000-000000000001'",
      "(_owninguser_value eq string:'00000000-0000-0000-0000-000000000001')",
    ],
    ['firstname eq lastname', '(firstname eq lastname)'],
    ['Account_Tasks/all(t:t/statecode eq 1)', '(Account_Tasks/all(t: (t/statecode eq int:1)))'.slice(1, -1)],
    ['Account_Tasks/any()', 'Account_Tasks/any()'],
    ["Account_Tasks/any(t: t/subject eq 'a')", "Account_Tasks/any(t: (t/subject eq string:'a'))"],
    [
      "contact_customer_accounts/any(c:c/opportunity_customer_contacts/any(o:o/name eq 'x'))",
      "contact_customer_accounts/any(c: c/opportunity_customer_contacts/any(o: (o/name eq string:'x')))",
    ],
    ['Account_Tasks/$count gt 2', '(Account_Tasks/$count gt int:2)'],
    ['CanCreateAttributes/Value eq true', '(CanCreateAttributes/Value eq boolean:true)'],
    ["substring(name,1,2) eq 'ab'", "(substring(name, int:1, int:2) eq string:'ab')"],
    ["startswith(tolower(name),'a')", "startswith(tolower(name), string:'a')"],
    ["concat(concat(a,', '),b) eq 'x'", "(concat(concat(a, string:', '), b) eq string:'x')"],
    ['month(createdon) eq 1', '(month(createdon) eq int:1)'],
    ['createdon lt now()', '(createdon lt now())'],
    ['round(revenue) eq 2', '(round(revenue) eq int:2)'],
    ["cast(x,Edm.String) eq '1'", "(cast(x, Edm.String) eq string:'1')"],
    ['geo.distance(a,b) lt 1', '(geo.distance(a, b) lt int:1)'],
    [
      'Microsoft.Dynamics.CRM.In(PropertyName=\'lastname\',PropertyValues=["a","b"])',
      'Microsoft.Dynamics.CRM.In(PropertyName=string:\'lastname\', PropertyValues=json[string:"a", string:"b"])',
    ],
    [
      'Microsoft.Dynamics.CRM.In(PropertyName=@p1,PropertyValues=@p2)',
      'Microsoft.Dynamics.CRM.In(PropertyName=@p1, PropertyValues=@p2)',
    ],
    [
      "Microsoft.Dynamics.CRM.LastXDays(PropertyName='createdon',PropertyValue=7)",
      "Microsoft.Dynamics.CRM.LastXDays(PropertyName=string:'createdon', PropertyValue=int:7)",
    ],
    [
      "Microsoft.Dynamics.CRM.Today(PropertyName='createdon')",
      "Microsoft.Dynamics.CRM.Today(PropertyName=string:'createdon')",
    ],
    [
      'Microsoft.Dynamics.CRM.Between(PropertyName=\'numberofemployees\',PropertyValues=["5","2000"])',
      'Microsoft.Dynamics.CRM.Between(PropertyName=string:\'numberofemployees\', PropertyValues=json[string:"5", string:"2000"])',
    ],
    [
      "Microsoft.Dynamics.CRM.ContainValues(PropertyName='hobbies',PropertyValues=['2'])",
      "Microsoft.Dynamics.CRM.ContainValues(PropertyName=string:'hobbies', PropertyValues=json[string:'2'])",
    ],
    [
      "Microsoft.Dynamics.CRM.InFiscalPeriodAndYear(PropertyName='createdon',PropertyValue1=3,PropertyValue2=2024)",
      "Microsoft.Dynamics.CRM.InFiscalPeriodAndYear(PropertyName=string:'createdon', PropertyValue1=int:3, PropertyValue2=int:2024)",
    ],
    [
      "Microsoft.Dynamics.CRM.On(PropertyName='createdon',PropertyValue='2024-01-31')",
      "Microsoft.Dynamics.CRM.On(PropertyName=string:'createdon', PropertyValue=string:'2024-01-31')",
    ],
    [
      "Microsoft.Dynamics.CRM.EqualUserId(PropertyName='ownerid') and statecode eq 0",
      "(Microsoft.Dynamics.CRM.EqualUserId(PropertyName=string:'ownerid') and (statecode eq int:0))",
    ],
    ["$it/name eq 'a'", "($it/name eq string:'a')"],
  ];
  for (const [text, expected] of cases) {
    it(text, () => assert.equal(sexpr(parse(text)), expected));
  }

  it('marks lambda variables, including outer ones in nested lambdas', () => {
    const node = parse('a/any(x: x/b/any(y: y/c eq x/d and z eq 1))');
    const members: { name: string; variable: boolean }[] = [];
    const visit = (n: ExpressionNode): void => {
      if (n.kind === 'member')
        members.push({ name: n.segments.map((s) => s.name).join('/'), variable: n.lambdaVariable });
      if (n.kind === 'lambda') {
        visit(n.source);
        if (n.predicate) visit(n.predicate);
      }
      if (n.kind === 'binary') {
        visit(n.left);
        visit(n.right);
      }
    };
    visit(node);
    assert.deepEqual(members, [
      { name: 'a', variable: false },
      { name: 'x/b', variable: true },
      { name: 'y/c', variable: true },
      { name: 'x/d', variable: true },
      { name: 'z', variable: false },
    ]);
  });

  it('puts exact spans on operators and names', () => {
    const text = "name eq 'x' and contains(city,'y')";
    const node = parse(text);
    assert.equal(node.kind, 'binary');
    if (node.kind !== 'binary' || node.right.kind !== 'call' || node.left.kind !== 'binary') return;
    assert.equal(text.slice(node.operatorSpan.start, node.operatorSpan.end), 'and');
    assert.equal(text.slice(node.left.operatorSpan.start, node.left.operatorSpan.end), 'eq');
    assert.equal(text.slice(node.right.nameSpan.start, node.right.nameSpan.end), 'contains');
    assert.deepEqual(node.span, { start: 0, end: text.length });
  });

  it('includes grouping parentheses in the span of the grouped node', () => {
    const text = '(a or b) and c';
    const node = parse(text);
    if (node.kind !== 'binary') return assert.fail('binary expected');
    assert.deepEqual(node.left.span, { start: 0, end: 8 });
    assert.deepEqual(node.span, { start: 0, end: text.length });
  });

  it('treats operator words used as property names as names', () => {
    assert.equal(sexpr(parse('not eq 1')), '(not eq int:1)');
    assert.equal(sexpr(parse('add/x eq 1')), '(add/x eq int:1)');
  });
});

describe('odata expressions: printer', () => {
  const canonical: [string, string][] = [
    ['a  eq   1', 'a eq 1'],
    ['(a eq 1) and (b eq 2)', 'a eq 1 and b eq 2'],
    ['(a or b) and c', '(a or b) and c'],
    ['a or (b and c)', 'a or b and c'],
    ['a sub (b sub c)', 'a sub (b sub c)'],
    ['(a sub b) sub c', 'a sub b sub c'],
    ['not (a eq b)', 'not (a eq b)'],
    ['-(5)', '-(5)'],
    ['- 5', '-(5)'],
    ['-5', '-5'],
    ["contains( name , 'x' )", "contains(name,'x')"],
    ["name in ( 'a' , 'b' )", "name in ('a','b')"],
    ['x/any( t : t/y eq 1 )', 'x/any(t:t/y eq 1)'],
    [
      'Microsoft.Dynamics.CRM.In(PropertyName=\'a\', PropertyValues=["x", "y"])',
      'Microsoft.Dynamics.CRM.In(PropertyName=\'a\',PropertyValues=["x","y"])',
    ],
    ["'O''Brian'", "'O''Brian'"],
    ['a eq (b eq c)', 'a eq (b eq c)'],
    ['(a in (1)) eq true', 'a in (1) eq true'],
    ['a eq (b in (1))', 'a eq (b in (1))'],
  ];
  for (const [text, expected] of canonical) {
    it(`${text} prints as ${expected}`, () => {
      const printed = printExpression(parse(text));
      assert.equal(printed, expected);
      assert.deepEqual(withoutSpans(parse(printed)), withoutSpans(parse(text)));
    });
  }
});

describe('odata expressions: diagnostics', () => {
  const cases: [string, string[]][] = [
    ['name eq', ['expectedExpression@eq']],
    ['name eq 1 and', ['expectedExpression@and']],
    ['(name eq 1', ['missingCloseParen@(']],
    ["contains(name,'x'", ['missingCloseParen@(']],
    ["name eq 'abc", ["unterminatedString@'abc"]],
    ["lastname eq 'O'Bryan'", ["unexpectedToken@Bryan'", "unterminatedString@'"]],
    ['foo(name)', ['unknownFunction@foo']],
    ["contain(name,'x')", ['unknownFunction@contain']],
    ['contains(name)', ['wrongArgumentCount@contains(name)']],
    ['tolower(a,b)', ['wrongArgumentCount@tolower(a,b)']],
    ['name eq 1)', ['unexpectedToken@)']],
    ["name eqq 'x'", ["unexpectedToken@eqq 'x'"]],
    ["name eqq 'x' and b eq 1", ["unexpectedToken@eqq 'x'"]],
    ['a eq #', ['expectedExpression@eq', 'unexpectedCharacter@#']],
    [
      "Microsoft.Dynamics.CRM.ContainsValues(PropertyName='a',PropertyValues=['1'])",
      ['unknownQueryFunction@Microsoft.Dynamics.CRM.ContainsValues'],
    ],
    [
      "Microsoft.Dynamics.CRM.LastXDays(PropertyName='createdon')",
      ["missingParameter@Microsoft.Dynamics.CRM.LastXDays(PropertyName='createdon')"],
    ],
    ["Microsoft.Dynamics.CRM.Today(PropertyName='a',Value=1)", ['unknownParameter@Value']],
    ["Microsoft.Dynamics.CRM.Today(PropertyName='a',PropertyName='b')", ['duplicateParameter@PropertyName']],
    ['name eq "x"', ['invalidLiteral@"x"']],
    ["status eq Color'Red'", ['unknownLiteralPrefix@Color']],
    ['', ['expectedExpression@']],
    ['a/', ['expectedIdentifier@/']],
    ['x/all()', ['expectedExpression@all']],
    ['x/any(t: )', ['expectedExpression@any']],
    ['[1,2', ['expectedToken@[']],
    ['a in', ['expectedExpression@in']],
    ['not', []],
  ];
  for (const [text, expected] of cases) {
    it(JSON.stringify(text), () => {
      const result = parseExpression(text);
      assert.deepEqual(
        result.diagnostics.map((d) => `${d.code}@${text.slice(d.span.start, d.span.end)}`),
        expected,
      );
    });
  }

  it('suggests the right query function name', () => {
    const result = parseExpression("Microsoft.Dynamics.CRM.ContainsValues(PropertyName='a',PropertyValues=['1'])");
    assert.match(result.diagnostics[0]!.message, /Did you mean 'Microsoft\.Dynamics\.CRM\.ContainValues'/);
  });

  it('recovers after junk and keeps the rest of the condition', () => {
    const result = parseExpression("name eqq 'x' and city eq 'y'");
    assert.deepEqual(codes(result.diagnostics), ['unexpectedToken']);
    assert.equal(sexpr(result.expression), "(name and (city eq string:'y'))");
  });

  it('stops at the depth limit with one diagnostic instead of overflowing the stack', () => {
    const depth = 50_000;
    for (const text of [
      '('.repeat(depth) + 'a' + ')'.repeat(depth),
      'not '.repeat(depth) + 'a',
      '-'.repeat(depth) + 'a',
      'f('.repeat(depth),
    ]) {
      const result = parseExpression(text);
      assert.ok(
        result.diagnostics.some((d) => d.code === 'tooDeep'),
        text.slice(0, 10),
      );
      assert.equal(result.diagnostics.filter((d) => d.code === 'tooDeep').length, 1);
    }
  });

  it('accepts nesting well below the limit', () => {
    const text = '('.repeat(100) + 'a eq 1' + ')'.repeat(100);
    assert.equal(sexpr(parse(text)), '(a eq int:1)');
  });
});

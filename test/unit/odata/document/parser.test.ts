import fc from 'fast-check';
import * as assert from 'node:assert/strict';
import {
  blockAt,
  parseDocument,
  reparseDocument,
  requestAt,
  requestsOf,
  urlDiagnostics,
} from '../../../../src/odata/document/parser';
import type { ODataDocument, Request } from '../../../../src/odata/document/syntax';

function slice(text: string, span: { start: number; end: number } | undefined): string | undefined {
  return span && text.slice(span.start, span.end);
}

/** The document's diagnostics with its URLs', each as `code@text`. */
function located(text: string, document: ODataDocument = parseDocument(text)): string[] {
  const urls = document.blocks.flatMap((b) => (b.request ? requestsOf(b.request).flatMap(urlDiagnostics) : []));
  return [...document.diagnostics, ...urls]
    .sort((a, b) => a.span.start - b.span.start)
    .map((d) => `${d.code}@${text.slice(d.span.start, d.span.end)}`);
}

describe('parseDocument', () => {
  it('parses blocks, titles, names, variables, request lines, continuations, headers and bodies', () => {
    const text =
      '# comment\n@top = 10\n@environment = dev\n\n### Biggest\n// @name biggest\nGET accounts?$select=name\n    &$top={{top}}\nPrefer: odata.maxpagesize=5\n\n### Create\nPOST accounts HTTP/1.1\nContent-Type: application/json\n\n{ "name": "x" }\n\n# trailing comment\n';
    const document = parseDocument(text);
    assert.deepEqual(located(text, document), []);
    assert.deepEqual(
      document.blocks.map((b) => [b.index, b.title, b.name?.name, b.request?.method]),
      [
        [0, '', undefined, undefined],
        [1, 'Biggest', 'biggest', 'GET'],
        [2, 'Create', undefined, 'POST'],
      ],
    );
    assert.deepEqual(
      document.variables.map((v) => [v.name, v.value]),
      [
        ['top', '10'],
        ['environment', 'dev'],
      ],
    );
    assert.equal(document.environment?.value, 'dev');
    const get = document.blocks[1]!.request!;
    assert.equal(get.url.text, 'accounts?$select=name\n    &$top={{top}}');
    assert.equal(slice(text, get.url.span), get.url.text);
    assert.deepEqual(
      get.url.tree.options.map((o) => o.name),
      ['$select', '$top'],
    );
    assert.deepEqual(
      get.headers.map((h) => [h.name, h.value, slice(text, h.valueSpan)]),
      [['Prefer', 'odata.maxpagesize=5', 'odata.maxpagesize=5']],
    );
    const post = document.blocks[2]!.request!;
    assert.equal(post.url.text, 'accounts', 'the HTTP version is not part of the URL');
    assert.equal(post.body?.kind, 'json');
    assert.equal(slice(text, post.body?.span), '{ "name": "x" }', 'trailing comments are not body');
    assert.deepEqual(
      document.variableUses.map((u) => [u.text, u.reference.kind]),
      [['top', 'name']],
    );
  });

  it('treats a bare URL as GET and FETCH with a <fetch> body', () => {
    const text =
      '### a\naccounts?$filter=name eq \'a b\'\n### b\nFETCH accounts\n<fetch>\n  <entity name="account" />\n</fetch>\n';
    const document = parseDocument(text);
    const [a, b] = document.blocks;
    assert.equal(a?.request?.method, 'GET');
    assert.equal(a?.request?.methodSpan, undefined);
    assert.equal(a?.request?.url.text, "accounts?$filter=name eq 'a b'");
    assert.equal(b?.request?.method, 'FETCH');
    assert.equal(b?.request?.body?.kind, 'xml');
    assert.deepEqual(located(text, document), []);
    assert.deepEqual(located('FETCH accounts\n'), ['fetchWithoutBody@FETCH accounts']);
    assert.deepEqual(located('FETCH accounts\n\n{"a":1}'), ['invalidFetchXml@{"a":1}']);
  });

  it('reports unknown methods, missing URLs, stray headers and bodies on GET', () => {
    assert.deepEqual(located('### a\nGTE accounts\n### b\nPOST\n### c\nPrefer: x\n### d\nGET accounts\n\n{"a":1}\n'), [
      'unknownMethod@GTE',
      'missingUrl@POST',
      'expectedRequest@Prefer: x',
      'unexpectedBody@{"a":1}',
    ]);
    assert.match(parseDocument('GETT accounts').diagnostics[0]!.message, /Did you mean 'GET'/);
    assert.deepEqual(located('POST accounts\nPrefer return\n\n{}'), ['invalidHeader@Prefer return']);
  });

  it('checks JSON bodies with precise error ranges, allowing {{variables}} as values', () => {
    assert.deepEqual(located('POST a\n\n{ "n": 1, }'), ['invalidJson@,']);
    assert.deepEqual(located('POST a\n\n{ "n": tru }'), ['invalidJson@tru']);
    assert.deepEqual(located('POST a\n\n{ "n": "open\n}'), ['invalidJson@"open']);
    assert.deepEqual(located('POST a\n\n{ "n": [1, 2 }'), ['invalidJson@}']);
    assert.deepEqual(located('POST a\n\n{ "n": 1'), ['invalidJson@']);
    assert.deepEqual(located('POST a\n\n{ "n": 1 } x'), ['invalidJson@x']);
    const text = 'POST a\n\n{ "n": {{count}}, "o": { "deep": [1, {"x": null}] }, "s": "\\u00e9" }';
    const document = parseDocument(text);
    assert.deepEqual(located(text, document), []);
    const body = document.blocks[0]!.request!.body;
    assert.equal(body?.kind, 'json');
    if (body?.kind === 'json') {
      assert.deepEqual(
        body.members.map((m) => [m.name, m.valueKind, m.stringValue]),
        [
          ['n', 'variable', undefined],
          ['o', 'object', undefined],
          ['s', 'string', 'é'],
        ],
      );
      assert.equal(slice(text, body.members[1]!.valueSpan), '{ "deep": [1, {"x": null}] }');
    }
  });

  it('parses $batch bodies with change sets and Content-ID references', () => {
    const text =
      'POST $batch\nPrefer: odata.continue-on-error\n\nBEGIN CHANGESET\nPOST accounts\nContent-ID: 1\n\n{ "name": "A" }\n\nPATCH $1\n\n{ "name": "B" }\nEND CHANGESET\n\nGET accounts?$top=2\nDELETE contacts(1)\n';
    const document = parseDocument(text);
    assert.deepEqual(located(text, document), []);
    const body = document.blocks[0]!.request!.body;
    assert.equal(body?.kind, 'batch');
    if (body?.kind !== 'batch') return;
    assert.deepEqual(
      body.items.map((item) =>
        item.kind === 'request'
          ? `${item.method} ${item.url.text}`
          : item.requests.map((r: Request) => `${r.method} ${r.url.text} ${r.contentId ?? ''}`.trim()).join(' | '),
      ),
      ['POST accounts 1 | PATCH $1', 'GET accounts?$top=2', 'DELETE contacts(1)'],
    );
    const changeset = body.items[0];
    const patch = changeset?.kind === 'changeset' ? changeset.requests[1] : undefined;
    assert.equal(slice(text, patch?.body?.span), '{ "name": "B" }');
    const offset = text.indexOf('PATCH');
    assert.equal(requestAt(blockAt(document, offset)!, offset)?.method, 'PATCH');
  });

  it('reports batch structure errors', () => {
    assert.deepEqual(
      located('POST $batch\n\nEND CHANGESET\nBEGIN CHANGESET\nGET accounts\nPOST $2\nBEGIN CHANGESET\naccounts\n'),
      [
        'unmatchedEndChangeset@END CHANGESET',
        'unclosedChangeset@BEGIN CHANGESET',
        'getInChangeset@GET accounts',
        'unknownContentId@$2',
        'nestedChangeset@BEGIN CHANGESET',
        'unexpectedBatchLine@accounts',
      ],
    );
    assert.deepEqual(located('POST $batch\n\nPOST $batch\n'), ['nestedBatch@POST $batch']);
    assert.deepEqual(
      located('POST $batch\nContent-Type: multipart/mixed; boundary=b\n\n--b\n'),
      [],
      'a raw multipart body is sent as it is',
    );
  });

  it('classifies variables and reports malformed ones', () => {
    const text =
      'GET a?x={{name}}&y={{req.id}}&z={{req.headers.ETag}}&w={{req.value.0.name}}&v={{$randomInt 1 10}}&u={{$guid}}';
    const document = parseDocument(text);
    assert.deepEqual(
      document.variableUses.map((u) => u.reference),
      [
        { kind: 'name', name: 'name' },
        { kind: 'request', label: 'req', target: 'id', path: [] },
        { kind: 'request', label: 'req', target: 'header', path: ['ETag'] },
        { kind: 'request', label: 'req', target: 'body', path: ['value', '0', 'name'] },
        { kind: 'system', name: '$randomInt', args: [1, 10] },
        { kind: 'system', name: '$guid', args: [] },
      ],
    );
    assert.deepEqual(located('GET a\nX-A: {{$uuid}} {{$randomInt 5}} {{a b}}\n###\nGET b\nX-B: {{open\n'), [
      'unknownSystemVariable@{{$uuid}}',
      'invalidVariable@{{$randomInt 5}}',
      'invalidVariable@{{a b}}',
      'unterminatedVariable@{{open',
    ]);
  });

  it('reports duplicate names and variables, and bad variable lines', () => {
    assert.deepEqual(located('@a = 1\n@a = 2\n@ = 3\n### x\n# @name r\nGET a\n### y\n# @name r\nGET b\n'), [
      'duplicateVariable@a',
      'invalidVariableDefinition@@ = 3',
      'duplicateRequestName@r',
    ]);
  });

  it('shifts URL parser diagnostics to document offsets', () => {
    const text = '### a\nGET accounts?$filter=(name eq 1\n';
    assert.deepEqual(located(text), ['missingCloseParen@(']);
  });

  it('parses a URL only when its tree is read, once', () => {
    const document = parseDocument('### a\nGET accounts?$filter=(name eq 1\n');
    assert.deepEqual(document.diagnostics, [], "the URL's diagnostics come with its tree");
    const url = document.blocks[0]!.request!.url;
    assert.equal(url.tree, url.tree);
    assert.equal(url.tree.path.segments[0]?.kind, 'name');
  });

  it('reads methods in any case, strips only a trailing HTTP version, trims titles as trim() does', () => {
    const urls = [
      'get accounts HTTP/1.1',
      'Patch accounts(1) http/2',
      "GET accounts?$filter=name eq 'HTTP/1.1'",
      'GET accounts?$top=1 HTTP/11',
      'GET accountsHTTP/1.1',
      'GET a\tHTTP/1.0',
    ];
    const document = parseDocument(urls.map((line, i) => `### \u00a0T${i}\ufeff \n${line}\n`).join(''));
    assert.deepEqual(
      document.blocks.map((b) => [
        b.title,
        b.request?.method,
        b.request?.url.text,
        slice(document.text, b.request?.methodSpan),
      ]),
      [
        ['T0', 'GET', 'accounts', 'get'],
        ['T1', 'PATCH', 'accounts(1)', 'Patch'],
        ['T2', 'GET', "accounts?$filter=name eq 'HTTP/1.1'", 'GET'],
        ['T3', 'GET', 'accounts?$top=1 HTTP/11', 'GET'],
        ['T4', 'GET', 'accountsHTTP/1.1', 'GET'],
        ['T5', 'GET', 'a', 'GET'],
      ],
    );
  });

  it('finds Content-Type and Content-ID in any case', () => {
    const text =
      'POST $batch\n\nBEGIN CHANGESET\nPOST accounts\ncontent-id: 1\nCONTENT-TYPE: application/json\n\n{ "name": "a" }\n' +
      'POST $1/contact_customer_accounts\nContent-Id: 2\n\n{ "lastname": "b" }\nEND CHANGESET\n';
    const document = parseDocument(text);
    assert.deepEqual(located(text, document), []);
    const [, first, second] = requestsOf(document.blocks[0]!.request!);
    assert.deepEqual([first?.contentId, second?.contentId], ['1', '2']);
    assert.equal(first?.body?.kind, 'json');
  });

  it('handles CRLF line ends and documents without a separator', () => {
    const document = parseDocument('### t\r\nGET accounts\r\nPrefer: x\r\n\r\n{}\r\n');
    const request = document.blocks[0]?.request;
    assert.equal(request?.url.text, 'accounts');
    assert.equal(request?.headers[0]?.value, 'x');
    assert.equal(request?.body?.kind, 'json');
    assert.deepEqual(parseDocument('').blocks, []);
    assert.equal(parseDocument('GET WhoAmI').blocks.length, 1);
  });
});

describe('reparseDocument (an edit re-parses only the blocks it touches)', function () {
  this.timeout(120000);
  const pieces = fc.constantFrom(
    '###',
    '### T',
    '\n',
    '\r\n',
    ' ',
    '    &$top=1',
    'GET accounts?$select=name',
    'POST $batch\n\nBEGIN CHANGESET\nPOST accounts\nContent-ID: 1\n\n{ "a": 1 }\nEND CHANGESET\n',
    'PATCH accounts(1)\nIf-Match: *\n\n{ "name": "x" }',
    '{{x}}',
    '{{',
    '}}',
    '@x = 1',
    '@environment = dev',
    '# @name n',
    'Prefer: return=representation',
    "'",
    '(',
    '#',
    'é',
  );
  // Blocks of pieces, so that most documents have several blocks for an edit to leave alone.
  const lines = fc.array(pieces, { maxLength: 6 }).map((p) => p.join(''));
  const block = fc.array(lines, { maxLength: 6 }).map((l) => `###\n${l.join('\n')}`);
  const documents = fc
    .tuple(lines, fc.array(block, { maxLength: 8 }))
    .map(([head, blocks]) => [head, ...blocks].join('\n'));
  const edit = fc.record({
    at: fc.nat(),
    // Edits at the start of a line matter most: they make and unmake `###` lines.
    atLineStart: fc.boolean(),
    removed: fc.nat({ max: 12 }),
    inserted: fc.oneof(fc.string({ maxLength: 4 }), pieces),
  });

  it('gives what a full parse gives, for any edit of any document (property)', () => {
    fc.assert(
      fc.property(documents, fc.array(edit, { minLength: 1, maxLength: 5 }), (text, edits) => {
        let document = parseDocument(text);
        for (const { at, atLineStart, removed, inserted } of edits) {
          const lineStarts = [0, ...[...document.text.matchAll(/\n/g)].map((m) => m.index + 1)];
          const start = atLineStart ? lineStarts[at % lineStarts.length]! : at % (document.text.length + 1);
          const next =
            document.text.slice(0, start) +
            inserted +
            document.text.slice(Math.min(document.text.length, start + removed));
          document = reparseDocument(document, next);
          assert.deepStrictEqual(document, parseDocument(next));
        }
      }),
      { numRuns: 400 },
    );
  });

  it('reuses the blocks an edit did not touch, and re-parses the one it did', () => {
    const blocks = Array.from({ length: 50 }, (_, i) => `### ${i}\nGET accounts?$top=${i}\n\n`);
    const text = blocks.join('');
    const document = parseDocument(text);
    const parsedTree = document.blocks[26]!.request!.url.tree;
    const at = text.indexOf('$top=25') + 5;
    const edited = reparseDocument(document, `${text.slice(0, at)}9${text.slice(at)}`);
    // The block above is parsed again too: an edit of a `###` line joins its block to that one.
    assert.equal(edited.blocks[23], document.blocks[23], 'a block before those is the same object');
    assert.notEqual(edited.blocks[25]!.request!.url.tree, document.blocks[25]!.request!.url.tree, 're-parsed');
    assert.equal(edited.blocks[25]!.request!.url.tree.query.top?.value, 925);
    // A block after it moved by one character; its URL tree (relative to the URL), once parsed, is reused.
    assert.equal(edited.blocks[26]!.request!.url.tree, parsedTree);
    assert.equal(
      edited.blocks[27]!.request!.url.tree.query.top?.value,
      27,
      'a tree not read before is parsed when read',
    );
    assert.equal(edited.blocks[26]!.span.start, document.blocks[26]!.span.start + 1);
  });
});

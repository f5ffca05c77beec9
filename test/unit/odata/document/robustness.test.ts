import * as assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseDocument, urlDiagnostics } from '../../../../src/odata/document/parser';
import type { ODataDocument } from '../../../../src/odata/document/syntax';
import { documentDiagnostics } from '../../../../src/odata/language/diagnostics';
import { getCompletions } from '../../../../src/odata/language/completion';
import { codeLenses, documentSymbols, formatDocument } from '../../../../src/odata/language/outline';

const SAMPLE = `### Settings
@top = 5
### Accounts
# @name list
GET accounts?$select=name,revenue
    &$filter=revenue gt 1000 and contains(name,'a') and statecode eq 0
    &$top={{top}}
Prefer: odata.include-annotations="*"

### Create
POST accounts

{ "name": "x {{$guid}}", "revenue": 5, "tags": [1, 2, {"a": null}] }

### Batch
POST $batch

BEGIN CHANGESET
POST accounts
Content-ID: 1

{ "name": "A" }
END CHANGESET
GET accounts?$top=1
`;

/** Every span of the document lies inside the text, starts before it ends, and all services run. */
function assertWellFormed(text: string, document: ODataDocument): void {
  const inRange = (span: { start: number; end: number }, what: string): void => {
    assert.ok(
      span.start >= 0 && span.start <= span.end && span.end <= text.length,
      `${what} ${JSON.stringify(span)} of ${text.length}`,
    );
  };
  for (const d of document.diagnostics) inRange(d.span, `diagnostic ${d.code}`);
  for (const block of document.blocks) {
    inRange(block.span, 'block');
    const request = block.request;
    if (!request) continue;
    inRange(request.span, 'request');
    inRange(request.url.span, 'url');
    for (const d of urlDiagnostics(request)) inRange(d.span, `URL diagnostic ${d.code}`);
    for (const h of request.headers) inRange(h.span, 'header');
    if (request.body) inRange(request.body.span, 'body');
  }
  for (const use of document.variableUses) inRange(use.span, 'variable');
  for (let i = 1; i < document.blocks.length; i++) {
    assert.equal(document.blocks[i - 1]!.span.end, document.blocks[i]!.span.start, 'blocks tile the text');
  }
}

/** Nodes of the document tree: the structural measure of the work a parse did. */
function nodeCount(document: ODataDocument): number {
  let count = document.variables.length + document.variableUses.length + document.diagnostics.length;
  for (const block of document.blocks) {
    count++;
    const request = block.request;
    if (!request) continue;
    count += 1 + request.headers.length + request.url.tree.options.length + (request.body ? 1 : 0);
    if (request.body?.kind === 'batch') count += request.body.items.length;
    if (request.body?.kind === 'json') count += request.body.members.length;
  }
  return count;
}

describe('parseDocument on bad input', function () {
  this.timeout(120000);

  it('never throws and keeps spans in range, for any text (property)', () => {
    const pieces = fc.constantFrom(
      '###',
      '\n',
      '\r\n',
      ' ',
      '    &',
      '?',
      'GET ',
      'POST ',
      'FETCH ',
      'accounts',
      '$batch',
      '$filter=',
      "'",
      '(',
      ')',
      '{',
      '}',
      '[',
      ']',
      '"',
      ':',
      ',',
      '{{',
      '}}',
      '@x = ',
      '# @name n',
      'BEGIN CHANGESET',
      'END CHANGESET',
      'Content-ID: 1',
      '$1',
      '<fetch>',
      'Prefer: ',
      'eq',
      '\u0000',
      '\uD800',
      'é',
    );
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ maxLength: 200 }),
          fc.array(pieces, { maxLength: 80 }).map((p) => p.join('')),
        ),
        (text) => {
          const document = parseDocument(text);
          assertWellFormed(text, document);
          documentDiagnostics(document);
          formatDocument(document, text);
          documentSymbols(document);
          codeLenses(document);
          for (const offset of [0, text.length >> 1, text.length]) getCompletions(document, text, offset);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('survives random bytes', () => {
    let seed = 42;
    const random = (): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed;
    };
    const text = Array.from({ length: 200_000 }, () => String.fromCharCode(random() % 256)).join('');
    const document = parseDocument(text);
    assertWellFormed(text, document);
    documentDiagnostics(document);
  });

  it('reports unterminated strings, brackets and variables without losing the next block', () => {
    const text =
      '### a\nGET accounts?$filter=name eq \'open\n### b\nPOST accounts\n\n{ "a": [1, {\n### c\nGET accounts?$top={{top\n### d\nGET contacts\n';
    const document = parseDocument(text);
    assert.deepEqual(
      document.blocks.map((b) => b.request?.url.text),
      ["accounts?$filter=name eq 'open", 'accounts', 'accounts?$top={{top', 'contacts'],
    );
    assert.deepEqual(
      documentDiagnostics(document)
        .map((d) => d.code)
        .filter((c) => c !== 'expectedToken' && c !== 'undefinedVariable'),
      ['unterminatedString', 'invalidJson', 'unterminatedVariable'],
    );
  });

  it('handles a 10 MB line, 10,000 nested parentheses and brackets', () => {
    const line = `GET accounts?$filter=name eq '${'x'.repeat(10 * 1024 * 1024)}'`;
    const long = parseDocument(line);
    assertWellFormed(line, long);
    assert.deepEqual(
      documentDiagnostics(long).map((d) => d.code),
      ['urlTooLong'],
    );

    const parens = `GET accounts?$filter=${'('.repeat(10_000)}name eq 'x'${')'.repeat(10_000)}`;
    const nested = parseDocument(parens);
    assertWellFormed(parens, nested);
    assert.ok(urlDiagnostics(nested.blocks[0]!.request!).some((d) => d.code === 'tooDeep'));

    const brackets = `POST accounts\n\n${'['.repeat(10_000)}${']'.repeat(10_000)}`;
    const json = parseDocument(brackets);
    assert.deepEqual(json.diagnostics, []);
    const unclosed = parseDocument(`POST accounts\n\n${'{"a":['.repeat(10_000)}`);
    assert.deepEqual(
      unclosed.diagnostics.map((d) => d.code),
      ['invalidJson'],
    );
  });

  it('parses a 50 MB file: a thousand requests and a large JSON body', () => {
    const row = '{"name": "row", "revenue": 1.5, "tags": ["a", "b"], "nested": {"x": null}},\n';
    const rows = Math.ceil((50 * 1024 * 1024) / row.length);
    const text = `${SAMPLE.repeat(1000)}### Import\nPOST accounts\n\n[\n${row.repeat(rows)}{}]\n`;
    assert.ok(text.length > 50 * 1024 * 1024);
    const document = parseDocument(text);
    assert.equal(document.blocks.length, 1000 * 4 + 1);
    assert.equal(document.blocks.at(-1)!.request?.body?.kind, 'json');
    assert.equal(document.blocks.at(-1)!.span.end, text.length);
    assert.deepEqual(
      document.diagnostics.filter((d) => d.code !== 'duplicateVariable' && d.code !== 'duplicateRequestName'),
      [],
    );
  });

  it('does work proportional to the input: twice the text, twice the nodes', () => {
    const measure = (copies: number): number => nodeCount(parseDocument(SAMPLE.repeat(copies)));
    const one = measure(500);
    const two = measure(1000);
    assert.ok(one > 500 * 10);
    // The preamble's variables and the duplicate names add a constant and per-copy terms only.
    assert.ok(Math.abs(two / one - 2) < 0.01, `${one} → ${two}`);
    // A single line twice as long holds twice the variable uses and nothing more.
    const uses = (n: number): number =>
      parseDocument(`GET a?$filter=${'{{x}} eq 1 and '.repeat(n)}true`).variableUses.length;
    assert.equal(uses(20_000), 2 * uses(10_000));
  });
});

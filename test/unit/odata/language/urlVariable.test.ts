import * as assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseDocument } from '../../../../src/odata/document/parser';
import { getCompletions } from '../../../../src/odata/language/completion';
import { documentDiagnostics } from '../../../../src/odata/language/diagnostics';
import { getHover } from '../../../../src/odata/language/hover';
import { documentSymbols, formatDocument } from '../../../../src/odata/language/outline';
import { realMetadata } from './metadata';

const PAGE = '# @name page\nGET accounts?$select=name\nPrefer: odata.maxpagesize=2\n\n###\n';

/** `code@covered text` for each diagnostic, with or without metadata. */
function located(text: string, withMetadata = true): string[] {
  return documentDiagnostics(parseDocument(text), { metadata: withMetadata ? realMetadata() : undefined }).map(
    (d) => `${d.code}@${text.slice(d.span.start, d.span.end)}`,
  );
}

function at(source: string): { text: string; offset: number } {
  const offset = source.indexOf('|');
  return { text: source.slice(0, offset) + source.slice(offset + 1), offset };
}

function labels(source: string): string[] | undefined {
  const { text, offset } = at(source);
  return getCompletions(parseDocument(text), text, offset, { metadata: realMetadata() })?.items.map((i) => i.label);
}

describe('a variable standing for the whole URL', function () {
  this.timeout(30000);
  before(() => realMetadata());

  it('is neither parsed nor checked as a URL: GET {{page.@odata.nextLink}} has no diagnostic', () => {
    const text = `${PAGE}GET {{page.@odata.nextLink}}\nPrefer: odata.maxpagesize=2\n`;
    assert.deepEqual(located(text), []);
    assert.deepEqual(located(text, false), []);
    const request = parseDocument(text).blocks[1]!.request!;
    assert.equal(request.method, 'GET');
    assert.equal(request.url.text, '{{page.@odata.nextLink}}');
    assert.equal(request.url.variable?.text, 'page.@odata.nextLink');
    assert.deepEqual(request.url.variable?.reference, {
      kind: 'request',
      label: 'page',
      target: 'body',
      path: ['@odata', 'nextLink'],
    });
    assert.deepEqual(request.url.tree.path.segments, []);
    assert.deepEqual(request.url.tree.options, []);
  });

  it('works with a file variable, spaces inside the braces, HTTP/1.1, a bare line and inside a batch', () => {
    const text =
      '@nextLink = https://org.crm.dynamics.com/api/data/v9.2/accounts?$skiptoken=x\n' +
      '###\nGET {{ nextLink }}\n###\ndelete {{nextLink}} HTTP/1.1\n###\n{{nextLink}}\n' +
      '###\nPOST $batch\n\nGET {{nextLink}}\nGET accounts?$top=1\n';
    assert.deepEqual(located(text), []);
    const requests = parseDocument(text).blocks.flatMap((b) => (b.request ? [b.request] : []));
    assert.deepEqual(
      requests.map((r) => [r.method, r.url.text, r.url.variable?.text]),
      [
        ['GET', '{{ nextLink }}', 'nextLink'],
        ['DELETE', '{{nextLink}}', 'nextLink'],
        ['GET', '{{nextLink}}', 'nextLink'],
        ['POST', '$batch', undefined],
      ],
    );
    const batch = requests[3]!.body;
    assert.equal(batch?.kind, 'batch');
    assert.equal(
      batch.kind === 'batch' && batch.items[0]?.kind === 'request' && batch.items[0].url.variable?.text,
      'nextLink',
    );
  });

  it('still checks the variable: undefined names, unknown labels (with a fix) and labels not above', () => {
    assert.deepEqual(located('GET {{nextLink}}\n'), ['undefinedVariable@nextLink']);
    const text = `${PAGE}GET {{pag.@odata.nextLink}}\n`;
    assert.deepEqual(located(text), ['undefinedVariable@pag']);
    const [unknown] = documentDiagnostics(parseDocument(text), {});
    assert.match(unknown!.message, /No request is named 'pag'.*Did you mean 'page'/);
    assert.equal(unknown!.fixes[0]?.edits[0]?.newText, 'page');
    assert.deepEqual(located('# @name self\nGET {{self.@odata.nextLink}}\n'), ['requestNotAbove@self.@odata.nextLink']);
    assert.deepEqual(located('GET {{$nope}}\n'), ['unknownSystemVariable@{{$nope}}']);
    assert.deepEqual(located('GET {{a b}}\n'), ['invalidVariable@{{a b}}']);
  });

  it('takes nothing after it: appended options, paths or continuation lines are one clear error', () => {
    const head = '@nextLink = https://org.crm.dynamics.com/api/data/v9.2/accounts?$skiptoken=x\n###\n';
    assert.deepEqual(located(`${head}GET {{nextLink}}&$top=5\n`), ['textAfterUrlVariable@&$top=5']);
    assert.deepEqual(located(`${head}GET {{nextLink}}\n    &$top=5\n`), ['textAfterUrlVariable@&$top=5']);
    assert.deepEqual(located(`${head}GET {{nextLink}}/accounts?$select=nme\n`), [
      'textAfterUrlVariable@/accounts?$select=nme',
    ]);
    assert.deepEqual(located(`${head}GET {{nextLink}}{{nope}}\n`), [
      'textAfterUrlVariable@{{nope}}',
      'undefinedVariable@nope',
    ]);
    const [error] = documentDiagnostics(parseDocument(`${head}GET {{nextLink}}&$top=5\n`));
    assert.equal(error?.severity, 'error');
    assert.match(error.message, /Nothing may follow '\{\{nextLink\}\}'.*Prefer: odata\.maxpagesize/);
  });

  it('leaves URLs that merely hold variables checked as before', () => {
    assert.deepEqual(located('@id = 1\nGET accounts({{id}})?$select=nme\n'), ['unknownColumn@nme']);
    assert.deepEqual(located('@n = 1\nGET acounts?$top={{n}}\n'), ['unknownEntitySet@acounts']);
    const unterminated = located('GET {{page.@odata.nextLink\n', false);
    assert.ok(unterminated.includes('unterminatedVariable@{{page.@odata.nextLink'), unterminated.join(', '));
    assert.ok(!unterminated.some((d) => d.startsWith('textAfterUrlVariable')));
  });

  it('hovers the variable, and completes variables inside it but no URL after it', () => {
    const { text, offset } = at(`${PAGE}GET {{page.@odata.ne|xtLink}}\n`);
    const hover = getHover(parseDocument(text), offset, { metadata: realMetadata() });
    assert.equal(hover && text.slice(hover.span.start, hover.span.end), '{{page.@odata.nextLink}}');
    assert.match(hover!.markdown, /`@odata\.nextLink` from the JSON body of the response to \*\*page\*\*/);
    assert.equal(labels(`${PAGE}GET {{page.@odata.nextLink}}|`), undefined);
    assert.equal(labels(`${PAGE}GET {{page.@odata.nextLink}} |`), undefined);
    assert.ok(labels(`${PAGE}GET {{pa|`)?.includes('page'));
    // A later request may read the one whose URL is a variable: its URL gives no columns to offer.
    const chained = `${PAGE}# @name page2\nGET {{page.@odata.nextLink}}\n\n###\nGET {{page2.|`;
    assert.deepEqual(labels(chained), ['id', 'headers']);
    assert.deepEqual(labels('|{{nextLink}}\n')?.slice(0, 2), ['GET', 'POST']);
  });

  it('is left alone by the formatter and named by its text in the outline', () => {
    const text = `${PAGE}get {{page.@odata.nextLink}}\n###\nGET {{page.@odata.nextLink}}&$top=5\n`;
    assert.deepEqual(formatDocument(parseDocument(text), text), []);
    assert.deepEqual(
      documentSymbols(parseDocument(text)).map((s) => s.name),
      ['GET accounts?$select=name', 'GET {{page.@odata.nextLink}}', 'GET {{page.@odata.nextLink}}&$top=5'],
    );
  });

  it('never throws, whatever follows GET {{ (diagnostics, hover and completion at every offset)', () => {
    const metadata = realMetadata();
    fc.assert(
      fc.property(
        fc.string({ maxLength: 30 }),
        fc.constantFrom('', '}}', '}} ', '}}&$top=1', '}}\n  &x'),
        (inner, tail) => {
          const text = `${PAGE}GET {{${inner}${tail}\nPrefer: odata.maxpagesize=2\n`;
          const document = parseDocument(text);
          documentDiagnostics(document, { metadata });
          formatDocument(document, text);
          for (let offset = PAGE.length; offset <= text.length; offset++) {
            getHover(document, offset, { metadata });
            getCompletions(document, text, offset, { metadata });
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});

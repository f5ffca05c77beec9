import * as assert from 'node:assert/strict';
import { parseDocument } from '../../../../src/odata/document/parser';
import type { NamedResult, PreparedRequest, RunContext, RunProblem } from '../../../../src/odata/run';
import { encodeUrlForWire, prepareRequest } from '../../../../src/odata/run';
import { documentDiagnostics } from '../../../../src/odata/language/diagnostics';

const NOW = new Date(Date.UTC(2024, 0, 31, 12, 0, 0));

function context(overrides: Partial<RunContext> = {}, results: Record<string, NamedResult> = {}): RunContext {
  let guids = 0;
  return {
    environmentVariables: {},
    namedResults: new Map(Object.entries(results)),
    now: () => NOW,
    random: () => 0.5,
    newGuid: () => `00000000-0000-0000-0000-${String(++guids).padStart(12, '0')}`,
    ...overrides,
  };
}

/** The block holding the last request of the text (the one under test). */
function lastBlock(text: string): number {
  const document = parseDocument(text);
  return document.blocks.filter((b) => b.request).at(-1)!.index;
}

function prepare(text: string, ctx: RunContext = context(), block = lastBlock(text)): PreparedRequest {
  const result = prepareRequest(parseDocument(text), block, ctx);
  if (!result.ok) assert.fail(`unexpected problems: ${result.problems.map((p) => p.message).join('; ')}`);
  return result.request;
}

function problems(text: string, ctx: RunContext = context(), block = lastBlock(text)): RunProblem[] {
  const result = prepareRequest(parseDocument(text), block, ctx);
  if (result.ok) assert.fail(`expected problems, got ${result.request.method} ${result.request.url}`);
  return [...result.problems];
}

function located(text: string, list: readonly RunProblem[]): string[] {
  return list.map((p) => `${p.code}@${text.slice(p.span.start, p.span.end)}`);
}

function header(request: PreparedRequest, name: string): string | undefined {
  return request.headers.find(([n]) => n.toLowerCase() === name.toLowerCase())?.[1];
}

describe('prepareRequest', () => {
  describe('file, environment and override variables', () => {
    it('expands file variables that use other file variables, wherever they are defined', () => {
      const text = '@top = {{half}}0\n@half = 5\n\n###\nGET accounts?$top={{top}}\n\n###\n@late = x\n';
      assert.equal(prepare(text).url, 'accounts?$top=50');
    });

    it('takes the last definition of a name', () => {
      assert.equal(prepare('@n = 1\n@n = 2\nGET accounts?$top={{n}}\n').url, 'accounts?$top=2');
    });

    it('falls back to environment variables, lets file variables win over them and overrides win over both', () => {
      const text = '@a = file\nGET accounts?x={{a}}&y={{b}}\n';
      const env = { a: 'env', b: 'envB' };
      assert.equal(prepare(text, context({ environmentVariables: env })).url, 'accounts?x=file&y=envB');
      assert.equal(
        prepare(text, context({ environmentVariables: env, overrides: { a: 'cli' } })).url,
        'accounts?x=cli&y=envB',
      );
    });

    it('reports an undefined variable at its name, and never sends it', () => {
      const text = 'GET accounts?$filter=name eq {{missing}}\n';
      assert.deepEqual(located(text, problems(text)), ['undefinedVariable@missing']);
    });

    it('reports an undefined variable inside a definition where it is written', () => {
      const text = '@a = pre-{{nowhere}}\n\n###\nGET accounts?x={{a}}\n';
      assert.deepEqual(located(text, problems(text)), ['undefinedVariable@nowhere']);
    });

    it('detects cycles between file variables, naming the chain', () => {
      const text = '@a = {{b}}\n@b = x{{c}}\n@c = {{a}}\n\n###\nGET accounts?x={{a}}\n';
      const list = problems(text);
      assert.deepEqual(located(text, list), ['variableCycle@a']);
      assert.equal(list[0]!.span.start, text.indexOf('{{a}}') + 2);
      assert.match(list[0]!.message, /a → b → c → a/);
    });

    it('detects a variable defined by itself', () => {
      const text = '@a = {{a}}\nGET x?y={{a}}\n';
      assert.deepEqual(
        problems(text).map((p) => p.code),
        ['variableCycle'],
      );
    });
  });

  describe('named results', () => {
    const created: NamedResult = {
      status: 204,
      headers: {
        'odata-entityid': 'https://org.crm.dynamics.com/api/data/v9.2/accounts(11111111-2222-3333-4444-555555555555)',
        ETag: 'W/"12345"',
      },
      body: {
        '@odata.etag': 'W/"12345"',
        name: 'Contoso "Ltd"',
        revenue: 5000,
        active: true,
        parent: null,
        value: [{ name: 'first' }, { name: 'second' }],
      },
    };

    it('reads the id from OData-EntityId, headers by any case, and JSON paths with array indexes', () => {
      const text =
        '# @name c\nGET accounts\n\n###\nGET accounts({{c.id}})?a={{c.value.1.name}}\nIf-Match: {{c.headers.etag}}\n';
      const request = prepare(text, context({}, { c: created }));
      assert.equal(request.url, 'accounts(11111111-2222-3333-4444-555555555555)?a=second');
      assert.equal(header(request, 'If-Match'), 'W/"12345"');
    });

    it('follows property names that hold dots', () => {
      const text = '# @name c\nGET accounts\n\n###\nPATCH accounts(1)\nIf-Match: {{c.@odata.etag}}\n';
      assert.equal(header(prepare(text, context({}, { c: created })), 'If-Match'), 'W/"12345"');
    });

    it('asks to run the named request first when its result is missing', () => {
      const text = '# @name c\nGET accounts\n\n###\nGET accounts({{c.id}})\n';
      const list = problems(text);
      assert.deepEqual(located(text, list), ['missingResult@c.id']);
      assert.match(list[0]!.message, /run the request named 'c' first/);
    });

    it('reports a missing property, header or entity id', () => {
      const text =
        '# @name c\nGET accounts\n\n###\nGET a?x={{c.nothing.here}}&y={{c.value.7.name}}\nX: {{c.headers.Missing}}\n';
      const noId: NamedResult = { ...created, headers: {} };
      assert.deepEqual(located(text, problems(text, context({}, { c: noId }))), [
        'missingValue@c.nothing.here',
        'missingValue@c.value.7.name',
        'missingValue@c.headers.Missing',
      ]);
      const idText = '# @name c\nGET accounts\n\n###\nGET a({{c.id}})\n';
      assert.deepEqual(located(idText, problems(idText, context({}, { c: noId }))), ['missingValue@c.id']);
    });

    it('refuses a header value that would span lines', () => {
      const text = '# @name c\nGET accounts\n\n###\nGET a\nX-Note: {{c.note}}\n';
      const result: NamedResult = { headers: {}, body: { note: 'two\nlines' } };
      assert.deepEqual(
        problems(text, context({}, { c: result })).map((p) => p.code),
        ['invalidHeaderValue'],
      );
    });
  });

  describe('system variables', () => {
    it('uses the injected guid, clock and random source', () => {
      const text = 'GET a?g={{$guid}}&h={{$guid}}&n={{$now}}&t={{$timestamp}}&r={{$randomInt 10 20}}\n';
      assert.equal(
        prepare(text).url,
        'a?g=00000000-0000-0000-0000-000000000001&h=00000000-0000-0000-0000-000000000002' +
          `&n=2024-01-31T12:00:00.000Z&t=${NOW.getTime() / 1000}&r=15`,
      );
    });

    it('keeps $randomInt within [min, max)', () => {
      const text = 'GET a?r={{$randomInt -3 3}}\n';
      assert.equal(prepare(text, context({ random: () => 0 })).url, 'a?r=-3');
      assert.equal(prepare(text, context({ random: () => 0.999999 })).url, 'a?r=2');
    });

    it('reports an unknown system variable', () => {
      const text = 'GET a?x={{$uuid}}\n';
      assert.deepEqual(
        problems(text).map((p) => p.code),
        ['unknownSystemVariable'],
      );
    });
  });

  describe('URL on the wire', () => {
    it('joins continuation lines and percent-encodes spaces', () => {
      const text = "GET accounts?$select=name\n    &$filter=name eq 'a b'\n\t&$top=3\n";
      assert.equal(prepare(text).url, "accounts?$select=name&$filter=name%20eq%20'a%20b'&$top=3");
    });

    it('encodes a variable value in the query so that it stays one value', () => {
      const text = "@name = Fabrikam & Sons #1 +50%\nGET accounts?$filter=name eq '{{name}}'&$top=1\n";
      assert.equal(prepare(text).url, "accounts?$filter=name%20eq%20'Fabrikam%20%26%20Sons%20%231%20%2B50%25'&$top=1");
    });

    it('keeps a variable value in the path as written: & and + mean nothing there', () => {
      const text = "@key = accountnumber='A&B+1'\nGET accounts({{key}})?$select=name\n";
      assert.equal(prepare(text).url, "accounts(accountnumber='A&B+1')?$select=name");
    });

    it('encodes what a URL cannot hold and keeps escapes already there', () => {
      assert.equal(encodeUrlForWire("accounts?$filter=name eq 'Zoë'"), "accounts?$filter=name%20eq%20'Zo%C3%AB'");
      assert.equal(encodeUrlForWire('a?x=%41%2&y=1+2'), 'a?x=%41%252&y=1%2B2');
      assert.equal(encodeUrlForWire("accounts(name='C#')"), "accounts(name='C%23')");
      assert.equal(encodeUrlForWire('a+b?c=d'), 'a+b?c=d');
    });

    it('writes $now unquoted into a filter', () => {
      assert.equal(
        prepare('GET a?$filter=createdon lt {{$now}}\n').url,
        'a?$filter=createdon%20lt%202024-01-31T12:00:00.000Z',
      );
    });
  });

  describe('headers', () => {
    it('adds the OData defaults when missing, and Content-Type only with a body', () => {
      const get = prepare('GET accounts\nPrefer: odata.maxpagesize=5\n');
      assert.deepEqual(get.headers, [
        ['Prefer', 'odata.maxpagesize=5'],
        ['OData-Version', '4.0'],
        ['OData-MaxVersion', '4.0'],
        ['Accept', 'application/json'],
      ]);
      const post = prepare('POST accounts\naccept: application/json;odata.metadata=full\n\n{ "name": "x" }\n');
      assert.deepEqual(post.headers, [
        ['accept', 'application/json;odata.metadata=full'],
        ['OData-Version', '4.0'],
        ['OData-MaxVersion', '4.0'],
        ['Content-Type', 'application/json'],
      ]);
      assert.equal(post.body, '{ "name": "x" }');
      assert.ok(!post.headers.some(([name]) => name.toLowerCase() === 'authorization'));
    });

    it('sends no body on GET or DELETE', () => {
      const request = prepare('DELETE accounts(1)\n\n{ "ignored": true }\n');
      assert.equal(request.body, undefined);
      assert.equal(header(request, 'Content-Type'), undefined);
    });
  });

  describe('bodies', () => {
    const result: NamedResult = {
      headers: {},
      body: { name: 'Contoso "Ltd"', revenue: 5000, tags: ['a'], none: null },
    };

    it('escapes values inside JSON strings and writes whole values outside them', () => {
      const text =
        '@amount = 5000\n@city = Seattle\n@flag = true\n# @name c\nGET a\n\n###\nPOST accounts\n\n' +
        '{ "name": "{{c.name}} in {{city}}", "revenue": {{amount}}, "city": {{city}}, "on": {{flag}},\n' +
        '  "copy": {{c.name}}, "money": {{c.revenue}}, "tags": {{c.tags}}, "none": {{c.none}}, "id": {{$guid}},\n' +
        '  "quote": "a \\"{{city}}\\" b" }\n';
      const body = prepare(text, context({}, { c: result })).body!;
      assert.deepEqual(JSON.parse(body), {
        name: 'Contoso "Ltd" in Seattle',
        revenue: 5000,
        city: 'Seattle',
        on: true,
        copy: 'Contoso "Ltd"',
        money: 5000,
        tags: ['a'],
        none: null,
        id: '00000000-0000-0000-0000-000000000001',
        quote: 'a "Seattle" b',
      });
    });

    it('keeps text bodies as written', () => {
      const text = '@who = World\nPOST annotations\nContent-Type: text/plain\n\nHello {{who}} & "you"\n';
      assert.equal(prepare(text).body, 'Hello World & "you"');
    });
  });

  describe('FETCH', () => {
    it('becomes GET <set>?fetchXml=<encoded body>, with variable values escaped for XML', () => {
      const text =
        "@name = A & B\nFETCH accounts\n\n<fetch top='5'>\n  <entity name='account'>\n    <filter><condition attribute='name' operator='eq' value='{{name}}' /></filter>\n  </entity>\n</fetch>\n";
      const request = prepare(text);
      assert.equal(request.kind, 'fetch');
      assert.equal(request.method, 'GET');
      assert.equal(request.body, undefined);
      const [path, query] = request.url.split('?fetchXml=');
      assert.equal(path, 'accounts');
      assert.match(query!, /^[A-Za-z0-9%\-_.!~*'()]+$/);
      const xml = decodeURIComponent(query!);
      assert.match(xml, /value='A &amp; B'/);
      assert.ok(xml.startsWith("<fetch top='5'>\n"));
    });

    it('appends fetchXml to a URL that already has a query', () => {
      assert.match(prepare('FETCH accounts?x=1\n\n<fetch/>\n').url, /^accounts\?x=1&fetchXml=%3Cfetch%2F%3E$/);
    });
  });

  describe('batch', () => {
    it('splits the body into parts and change sets for buildBatch', () => {
      const text = [
        '@city = Oslo',
        '### Batch',
        '# @name b',
        'POST $batch',
        'Prefer: odata.continue-on-error, odata.include-annotations="*"',
        '',
        "GET accounts?$select=name&$filter=address1_city eq '{{city}}'",
        '',
        'BEGIN CHANGESET',
        'POST accounts',
        'Content-ID: 1',
        '',
        '{ "name": "In {{city}}" }',
        '',
        'PATCH $1',
        'If-Match: *',
        '',
        '{ "telephone1": "1" }',
        'END CHANGESET',
        '',
        'FETCH contacts',
        '',
        '<fetch><entity name="contact" /></fetch>',
        '',
      ].join('\n');
      const request = prepare(text);
      assert.equal(request.kind, 'batch');
      assert.equal(request.method, 'POST');
      assert.equal(request.url, '$batch');
      assert.equal(request.label, 'b');
      assert.equal(header(request, 'Content-Type'), undefined);
      assert.deepEqual(request.batch, {
        continueOnError: true,
        includeAnnotations: '*',
        headers: {},
        items: [
          { method: 'GET', url: "accounts?$select=name&$filter=address1_city%20eq%20'Oslo'", headers: {} },
          {
            changeSet: [
              { method: 'POST', url: 'accounts', headers: {}, body: '{ "name": "In Oslo" }', contentId: '1' },
              { method: 'PATCH', url: '$1', headers: { 'If-Match': '*' }, body: '{ "telephone1": "1" }' },
            ],
          },
          {
            method: 'GET',
            url: `contacts?fetchXml=${encodeURIComponent('<fetch><entity name="contact" /></fetch>')}`,
            headers: {},
          },
        ],
      });
    });

    it('reports problems of every part', () => {
      const text = 'POST $batch\n\nGET a?x={{one}}\n\nGET b?y={{two}}\n';
      assert.deepEqual(located(text, problems(text)), ['undefinedVariable@one', 'undefinedVariable@two']);
    });

    describe('headers of the $batch request', () => {
      const BATCH_BODY = '\nBEGIN CHANGESET\nPOST accounts\n\n{ "name": "a" }\nEND CHANGESET\n';

      it('carries every other header written on POST $batch, variables expanded, for the request itself', () => {
        const text = [
          '@user = e39c5d16-675b-48d1-8e67-667427e9c084',
          'POST $batch',
          'MSCRM.BypassCustomPluginExecution: true',
          'MSCRM.BypassBusinessLogicExecution: CustomSync,CustomAsync',
          'MSCRM.SuppressDuplicateDetection: false',
          'MSCRM.SolutionUniqueName: ExampleSolution',
          'CallerObjectId: {{user}}',
          'Consistency: Strong',
          'x-custom: 1',
          'X-Custom: 2',
          BATCH_BODY,
        ].join('\n');
        const batch = prepare(text).batch!;
        assert.deepEqual(batch.headers, {
          'MSCRM.BypassCustomPluginExecution': 'true',
          'MSCRM.BypassBusinessLogicExecution': 'CustomSync,CustomAsync',
          'MSCRM.SuppressDuplicateDetection': 'false',
          'MSCRM.SolutionUniqueName': 'ExampleSolution',
          CallerObjectId: 'e39c5d16-675b-48d1-8e67-667427e9c084',
          Consistency: 'Strong',
          'x-custom': '1, 2',
        });
        // The parts keep only their own headers: nothing of the batch request is copied into them.
        assert.deepEqual(batch.items, [
          { changeSet: [{ method: 'POST', url: 'accounts', headers: {}, body: '{ "name": "a" }' }] },
        ]);
      });

      it('accepts the headers of Microsoft’s examples, sending once what the client sends anyway', () => {
        const text = [
          'POST $batch',
          'OData-MaxVersion: 4.0',
          'OData-Version: 4.0',
          'If-None-Match: null',
          'Accept: application/json',
          'accept-encoding: gzip,deflate',
          BATCH_BODY,
        ].join('\n');
        assert.deepEqual(prepare(text).batch!.headers, { 'If-None-Match': 'null' });
      });

      it('reads continue-on-error and annotations as before, and sends the other preferences once', () => {
        const text = [
          'POST $batch',
          'Prefer: odata.continue-on-error, odata.maxpagesize=5',
          'Prefer: odata.include-annotations="A,B", ODATA.MAXPAGESIZE=9, return=representation',
          BATCH_BODY,
        ].join('\n');
        const batch = prepare(text).batch!;
        assert.equal(batch.continueOnError, true);
        assert.equal(batch.includeAnnotations, 'A,B');
        assert.deepEqual(batch.headers, { Prefer: 'odata.maxpagesize=5,return=representation' });
        assert.deepEqual(prepare(`POST $batch\nPrefer: odata.continue-on-error\n${BATCH_BODY}`).batch!.headers, {});
        // Not in the quoted form read as an option: sent as written rather than lost.
        const unquoted = prepare(`POST $batch\nPrefer: odata.include-annotations=*\n${BATCH_BODY}`).batch!;
        assert.deepEqual(
          [unquoted.includeAnnotations, unquoted.headers],
          [undefined, { Prefer: 'odata.include-annotations=*' }],
        );
      });

      it('refuses the client’s own headers and per-record conditions at their line, never repeating the value', () => {
        const text = [
          'POST $batch',
          'Authorization: Bearer file-token',
          'Content-Type: application/json',
          'Content-Length: 10',
          'Host: evil.example',
          'OData-Version: 4.01',
          'Accept: text/html',
          'If-Match: *',
          'If-None-Match: *',
          'Content-ID: 1',
          'MSCRM.BypassCustomPluginExecution: true',
          BATCH_BODY,
        ].join('\n');
        const found = problems(text);
        assert.deepEqual(located(text, found), [
          'batchHeader@Authorization: Bearer file-token',
          'batchHeader@Content-Type: application/json',
          'batchHeader@Content-Length: 10',
          'batchHeader@Host: evil.example',
          'batchHeader@OData-Version: 4.01',
          'batchHeader@Accept: text/html',
          'batchHeader@If-Match: *',
          'batchHeader@If-None-Match: *',
          'batchHeader@Content-ID: 1',
        ]);
        assert.match(found[0]!.message, /^'Authorization' cannot be set on a \$batch request/);
        assert.match(found[1]!.message, /multipart\/mixed with a boundary of its own/);
        assert.match(found[4]!.message, /always sent with 'OData-Version: 4\.0'/);
        assert.match(found[6]!.message, /write it on the request inside the batch/);
        assert.ok(found.every((p) => !p.message.includes('file-token') && !p.message.includes('evil')));
      });

      it('checks a header again once its variables are expanded', () => {
        const text =
          '@v = 4.01\n@t = secret\nPOST $batch\nOData-Version: {{v}}\nAuthorization: Bearer {{t}}\n' + BATCH_BODY;
        const found = problems(text);
        assert.deepEqual(
          found.map((p) => p.code),
          ['batchHeader', 'batchHeader'],
        );
        assert.ok(found.every((p) => !p.message.includes('secret')));
        assert.deepEqual(prepare(text.replace('4.01', '4.0').replace(/Authorization.*\n/, '')).batch!.headers, {});
      });

      it('leaves the headers of a hand-written multipart body to the request', () => {
        const text = 'POST $batch\nContent-Type: multipart/mixed; boundary=b1\nCallerObjectId: x\n\n--b1--\n';
        const request = prepare(text);
        assert.equal(request.kind, 'single');
        assert.equal(header(request, 'CallerObjectId'), 'x');
        assert.equal(header(request, 'Content-Type'), 'multipart/mixed; boundary=b1');
      });
    });

    it('sends a multipart body written by hand as it is, with CRLF line ends', () => {
      const text =
        'POST $batch\nContent-Type: multipart/mixed; boundary=b1\n\n--b1\nContent-Type: application/http\n\nGET accounts HTTP/1.1\n\n--b1--\n';
      const request = prepare(text);
      assert.equal(request.kind, 'single');
      assert.equal(
        request.body,
        '--b1\r\nContent-Type: application/http\r\n\r\nGET accounts HTTP/1.1\r\n\r\n--b1--\r\n',
      );
    });
  });

  describe('the block', () => {
    it('marks change-tracking reads, and carries the label and the environment', () => {
      const text =
        '@environment = dev\n### Tracked\n# @name t\nGET accounts?$select=name\nPrefer: odata.track-changes\n';
      const request = prepare(text);
      assert.deepEqual(
        [request.kind, request.label, request.environment, request.blockIndex],
        ['trackChanges', 't', 'dev', 1],
      );
      assert.equal(prepare('GET accounts\n').kind, 'single');
    });

    it('refuses a block with document errors, or without a request', () => {
      const text = '### A\nGET accounts?$skip=5\n\n### B\n# only a comment\n';
      assert.deepEqual(
        problems(text, context(), 0).map((p) => p.code),
        ['unsupportedOption'],
      );
      assert.deepEqual(
        problems(text, context(), 1).map((p) => p.code),
        ['noRequest'],
      );
      assert.deepEqual(
        problems(text, context(), 7).map((p) => p.code),
        ['noRequest'],
      );
    });

    it('ignores errors of other blocks', () => {
      const text = '### A\nGTE accounts\n\n### B\nGET contacts\n';
      assert.equal(prepare(text, context(), 1).url, 'contacts');
    });

    it("takes the caller's diagnostics instead of diagnosing the document again (run_query checks with metadata first)", () => {
      const text = '### A\nGET accounts?$skip=5\n\n### B\nGET contacts\n';
      const document = parseDocument(text);
      const checked = documentDiagnostics(document, { environmentVariables: [] });
      const refused = prepareRequest(document, 0, context(), checked);
      assert.deepEqual(refused.ok ? [] : refused.problems.map((p) => p.code), ['unsupportedOption']);
      // An error the caller found (here a metadata one) refuses the block as the document's own would.
      const unknown = { ...checked[0]!, code: 'unknownEntitySet', message: 'No entity set contacts.' };
      const atContacts = { ...unknown, span: { start: text.indexOf('contacts'), end: text.length - 1 } };
      const result = prepareRequest(document, 1, context(), [atContacts]);
      assert.deepEqual(result.ok ? [] : result.problems.map((p) => p.message), ['No entity set contacts.']);
      assert.equal(prepareRequest(document, 1, context(), []).ok, true);
    });
    it('refuses a label of a request below', () => {
      const text = 'GET a({{later.id}})\n\n###\n# @name later\nGET b\n';
      assert.deepEqual(
        problems(text, context(), 0).map((p) => p.code),
        ['requestNotAbove'],
      );
    });
  });

  describe('a variable standing for the whole URL', () => {
    const LINK =
      'https://org.crm.dynamics.com/api/data/v9.2/accounts?$select=name&$skiptoken=%3Ccookie%20pagenumber=%222%22%20/%3E';
    const page = (body: unknown): Record<string, NamedResult> => ({ page: { status: 200, headers: {}, body } });
    const NEXT = '# @name page\nGET accounts\nPrefer: odata.maxpagesize=2\n\n###\nGET {{page.@odata.nextLink}}\n';

    it('sends the nextLink of a named result as the service wrote it, + included', () => {
      const request = prepare(NEXT, context({}, page({ value: [], '@odata.nextLink': LINK })));
      assert.equal(request.url, LINK);
      assert.equal(request.method, 'GET');
      assert.equal(request.kind, 'single');
      const plus = `${LINK}&x=a+b`;
      assert.equal(prepare(NEXT, context({}, page({ '@odata.nextLink': plus }))).url, plus);
      assert.equal(
        prepare(NEXT, context({}, page({ '@odata.nextLink': 'https://h/api/data/v9.2/a b?q="é"' }))).url,
        'https://h/api/data/v9.2/a%20b?q=%22%C3%A9%22',
        'only what a URL cannot hold is encoded',
      );
    });

    it('encodes text from the file, settings or --var as if it were written on the request line', () => {
      const text =
        '@next = https://org.crm.dynamics.com/api/data/v9.2/accounts?$filter=createdon gt 2024-01-01T00:00:00+01:00\nGET {{next}}\n';
      assert.equal(
        prepare(text).url,
        'https://org.crm.dynamics.com/api/data/v9.2/accounts?$filter=createdon%20gt%202024-01-01T00:00:00%2B01:00',
      );
      assert.equal(
        prepare('{{next}}\n', context({ environmentVariables: { next: 'accounts?$top=1' } })).url,
        'accounts?$top=1',
      );
      assert.equal(prepare('GET {{next}}\n', context({ overrides: { next: ` ${LINK} ` } })).url, LINK);
    });

    it('reports the last page (no nextLink) and values that are not one line of text', () => {
      assert.deepEqual(located(NEXT, problems(NEXT, context({}, page({ value: [] })))), [
        'missingValue@page.@odata.nextLink',
      ]);
      for (const [value, what] of [
        [null, 'null'],
        [5, 'a number'],
        [true, 'a boolean'],
        [['x'], 'a list'],
        [{ a: 1 }, 'an object'],
        ['', 'empty'],
        ['  ', 'empty'],
        ['a\nb', 'spans lines'],
      ] as const) {
        const found = problems(NEXT, context({}, page({ '@odata.nextLink': value })));
        assert.deepEqual(located(NEXT, found), ['invalidUrl@{{page.@odata.nextLink}}'], what);
        assert.ok(found[0]!.message.includes(what), found[0]!.message);
      }
    });

    it('is not sent with text after it, nor with an undefined variable', () => {
      const text = `${NEXT.trimEnd()}&$top=5\n`;
      assert.deepEqual(
        problems(text, context({}, page({ '@odata.nextLink': LINK }))).map((p) => p.code),
        ['textAfterUrlVariable'],
      );
      assert.deepEqual(
        problems('GET {{nowhere}}\n').map((p) => p.code),
        ['undefinedVariable'],
      );
    });

    it('works for a FETCH and for a part of a batch', () => {
      const fetch = prepare('@set = accounts\nFETCH {{set}}\n\n<fetch><entity name="account"/></fetch>\n');
      assert.equal(fetch.url, `accounts?fetchXml=${encodeURIComponent('<fetch><entity name="account"/></fetch>')}`);
      const batch = prepare(
        `# @name page\nGET accounts\n\n###\nPOST $batch\n\nGET {{page.@odata.nextLink}}\n`,
        context({}, page({ '@odata.nextLink': LINK })),
      );
      assert.deepEqual(
        batch.batch?.items.map((item) => ('url' in item ? item.url : undefined)),
        [LINK],
      );
    });
  });
});

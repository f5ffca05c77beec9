import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { BatchItem, BatchRequest } from '../../../src/dataverse/batch';
import {
  BATCH_CLIENT_HEADERS,
  batchRequestHeaders,
  boundaryOf,
  buildBatch,
  executeBatch,
  matchBatchResults,
  parseBatchResponse,
} from '../../../src/dataverse/batch';
import { WorkbenchError } from '../../../src/core/errors';
import type { Peer } from './helpers';
import { clientFor, rejection, startPeer } from './helpers';

const EXAMPLES = readFileSync(new URL('../../../../shared/fixtures/batch/batch-examples.md', import.meta.url), 'utf8');

/** The http block under the heading `## <n>. ...<kind>...` of Microsoft's published batch examples. */
function example(n: number, kind: 'Request' | 'Response'): string {
  const lines = EXAMPLES.split('\n');
  const heading = lines.findIndex((line) => line.startsWith(`## ${n}.`) && line.includes(kind));
  assert.ok(heading >= 0, `example ${n} ${kind}`);
  const open = lines.indexOf('```http', heading);
  const close = lines.indexOf('```', open + 1);
  return lines.slice(open + 1, close).join('\n') + '\n';
}

/** Splits an HTTP message of the examples into its header block and body (the examples use LF). */
function message(text: string): { head: string[]; body: string } {
  const blank = text.indexOf('\n\n');
  return { head: text.slice(0, blank).split('\n'), body: text.slice(blank + 2) };
}

const crlf = (text: string): string => text.replace(/\r?\n/g, '\r\n');
const ACCOUNT = 'accounts(00000000-0000-0000-0000-000000000001)';

function task(n: number): string {
  // The WebAPIService sample that produced examples 1–2 indents JSON by two spaces, lines ending in CRLF.
  const json = { subject: `Task ${n} in batch`, 'regardingobjectid_account_task@odata.bind': ACCOUNT };
  return crlf(JSON.stringify(json, null, 2));
}

/** A request-side reading of multipart framing, to compare hand-written examples structurally. */
interface RequestShape {
  contentId: string | undefined;
  line: string;
  headers: Record<string, string>;
  body: unknown;
}

function requestShapes(body: string, boundary: string): (RequestShape | RequestShape[])[] {
  const parts: string[][] = [];
  let current: string[] | undefined;
  for (const line of body.split(/\r?\n/)) {
    if (line.trim() === `--${boundary}` || line.trim() === `--${boundary}--`) {
      if (current) parts.push(current);
      current = line.trim().endsWith('--') ? undefined : [];
      continue;
    }
    current?.push(line);
  }
  return parts.map((lines) => {
    const blank = lines.findIndex((l) => l.trim() === '');
    const partHeaders = headerMap(lines.slice(0, blank));
    const rest = lines.slice(blank + 1);
    const type = partHeaders['content-type'] ?? '';
    if (type.startsWith('multipart/mixed')) {
      return requestShapes(rest.join('\n'), boundaryOf(type) ?? '').flat();
    }
    const innerBlank = rest.findIndex((l) => l.trim() === '');
    const text = rest
      .slice(innerBlank + 1)
      .join('\n')
      .trim();
    return {
      contentId: partHeaders['content-id'],
      line: rest[0] ?? '',
      headers: headerMap(rest.slice(1, innerBlank)),
      body: text === '' ? undefined : (JSON.parse(text) as unknown),
    };
  });
}

function headerMap(lines: string[]): Record<string, string> {
  const map: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    map[line.slice(0, colon).trim().toLowerCase()] = line
      .slice(colon + 1)
      .trim()
      .replace(/;\s*/g, '; ');
  }
  return map;
}

describe('dataverse/batch: building on Microsoft’s examples', () => {
  it('example 1 (no change set) byte for byte, CRLF framed', () => {
    const { head, body } = message(example(1, 'Request'));
    const items: BatchItem[] = [
      ...[1, 2, 3].map((n): BatchRequest => ({ method: 'POST', url: 'tasks', body: task(n) })),
      { method: 'GET', url: `${ACCOUNT}/Account_Tasks?$select=subject` },
    ];
    const built = buildBatch(items, { boundary: 'batch_80dd1615-2a10-428a-bb6f-0e559792721f' });
    assert.equal(`Content-Type: ${built.contentType}`, head.at(-1));
    // The page shows one blank line after the closing delimiter, where the wire ends with its CRLF.
    assert.equal(built.body, crlf(body.replace(/\n+$/, '\n')));
  });

  it('example 2 (change set with Content-IDs, then a GET) byte for byte', () => {
    const { head, body } = message(example(2, 'Request'));
    const items: BatchItem[] = [
      { changeSet: [1, 2, 3].map((n): BatchRequest => ({ method: 'POST', url: 'tasks', body: task(n) })) },
      { method: 'GET', url: `${ACCOUNT}/Account_Tasks?$select=subject` },
    ];
    const built = buildBatch(items, {
      boundary: 'batch_22975cad-7f57-410d-be15-6363209367ea',
      changeSetBoundary: () => 'changeset_246e6bfe-89a4-4c77-b293-7a433f082e8a',
    });
    assert.equal(`Content-Type: ${built.contentType}`, head.at(-1));
    assert.equal(built.body, crlf(body.replace(/\n+$/, '\n')));
    const first = built.items[0];
    assert.ok(first && 'changeSet' in first);
    assert.deepEqual(
      first.changeSet.map((r) => r.contentId),
      ['1', '2', '3'],
    );
  });

  // Examples 3–6 were written by hand (unquoted boundaries, blank lines before delimiters, headers in
  // other orders, no space after colons): the same requests must come out with the same structure.
  const handWritten: [number, BatchRequest[]][] = [
    [
      3,
      [
        { method: 'POST', url: 'leads', body: { firstname: 'first name', lastname: 'last name' } },
        { method: 'POST', url: 'contacts', body: { firstname: 'first name' } },
        {
          method: 'POST',
          url: 'accounts',
          body: { name: 'IcM Account', 'originatingleadid@odata.bind': '$1', 'primarycontactid@odata.bind': '$2' },
        },
      ],
    ],
    [
      4,
      [
        { method: 'POST', url: 'contacts', body: { firstname: 'First Name', lastname: 'Last name' } },
        { method: 'PUT', url: '$1/lastname', body: { value: 'BBBBB' } },
      ],
    ],
    [
      5,
      [
        { method: 'POST', url: 'accounts', body: { name: 'Account Name' } },
        { method: 'POST', url: 'contacts', body: { firstname: 'Contact first name' } },
        { method: 'PUT', url: '$1/primarycontactid/$ref', body: { '@odata.id': '$2' } },
      ],
    ],
    [
      6,
      [
        { method: 'POST', url: 'accounts', body: { name: 'Account name' } },
        { method: 'POST', url: 'contacts', body: { firstname: 'Contact first name' } },
        { method: 'PATCH', url: '$1', body: { 'primarycontactid@odata.bind': '$2' } },
      ],
    ],
  ];
  for (const [n, requests] of handWritten) {
    it(`example ${n} (Content-ID references) has the same structure`, () => {
      const { head, body } = message(example(n, 'Request'));
      const outerType = head.find((h) => /^content-type/i.test(h)) ?? '';
      const expected = requestShapes(body, boundaryOf(outerType.replace(/^[^:]*:\s*/, '')) ?? '');
      const built = buildBatch(
        [{ changeSet: requests.map((r) => ({ ...r, headers: { 'Content-Type': 'application/json' } })) }],
        { webApiPath: '[Organization URI]/api/data/v9.2/' },
      );
      const actual = requestShapes(built.body, boundaryOf(built.contentType) ?? '');
      assert.deepEqual(actual, expected);
    });
  }

  it('refuses a GET inside a change set and batches over 1,000 requests', () => {
    assert.throws(() => buildBatch([{ changeSet: [{ method: 'GET', url: 'accounts' }] }]), /change set/);
    const many = Array.from({ length: 1001 }, (): BatchRequest => ({ method: 'GET', url: 'accounts' }));
    assert.throws(() => buildBatch(many), /1000/);
    assert.throws(
      () => buildBatch([{ method: 'GET', url: 'accounts', headers: { 'X-A': 'x\r\nInjected: 1' } }]),
      /lines/,
    );
  });
});

describe('dataverse/batch: parsing Microsoft’s example responses', () => {
  it('example 1: four top-level parts with statuses, entity ids and the JSON of the GET', () => {
    const entries = parseBatchResponse(message(example(1, 'Response')).body);
    assert.deepEqual(
      entries.map((e) => (e.type === 'response' ? e.part.status : 'changeSet')),
      [204, 204, 204, 200],
    );
    const last = entries[3];
    assert.ok(last?.type === 'response');
    assert.equal(last.part.headers['content-type'], 'application/json; odata.metadata=minimal; odata.streaming=true');
    const value = (last.part.body as { value: { subject: string }[] }).value;
    assert.deepEqual(
      value.map((v) => v.subject),
      ['Task 1 in batch', 'Task 2 in batch', 'Task 3 in batch'],
    );
  });

  it('example 2: a change set (with Content-IDs) and a GET, matched to the requests', () => {
    const text = crlf(message(example(2, 'Response')).body);
    const entries = parseBatchResponse(
      text,
      'multipart/mixed; boundary=batchresponse_f27ef42d-51b0-4685-bac9-f468f844de2f',
    );
    const items: BatchItem[] = [
      {
        changeSet: [1, 2, 3].map((n): BatchRequest => ({
          method: 'POST',
          url: 'tasks',
          body: task(n),
          contentId: String(n),
        })),
      },
      { method: 'GET', url: 'x' },
    ];
    const results = matchBatchResults(items, entries);
    assert.deepEqual(
      results.map((r) => [r.status, r.executed, r.id]),
      [
        [204, true, 'e73ffc82-e292-ed11-aad1-000d3a9933c9'],
        [204, true, 'e83ffc82-e292-ed11-aad1-000d3a9933c9'],
        [204, true, 'e93ffc82-e292-ed11-aad1-000d3a9933c9'],
        [200, true, undefined],
      ],
    );
  });

  for (const [n, ids] of [
    [3, ['1', '2', '3']],
    [4, ['1', '2']],
    [5, ['1', '2', '3']],
    [6, ['1', '2', '3']],
  ] as const) {
    it(`example ${n}: one change set, Content-IDs echoed`, () => {
      const entries = parseBatchResponse(message(example(n, 'Response')).body);
      assert.equal(entries.length, 1);
      const set = entries[0];
      assert.ok(set?.type === 'changeSet');
      assert.deepEqual(
        set.parts.map((p) => p.contentId),
        [...ids],
      );
      assert.ok(set.parts.every((p) => p.status === 204));
      assert.match(set.parts[0]?.headers['odata-entityid'] ?? '', /\([0-9a-f-]{36}\)$/);
    });
  }

  it('example 8: stopped at the first failure; the rest were never executed', () => {
    const entries = parseBatchResponse(message(example(8, 'Response')).body);
    const requests: BatchRequest[] = [1, 2, 3].map((n) => ({ method: 'POST', url: 'tasks', body: task(n) }));
    const results = matchBatchResults(requests, entries);
    assert.deepEqual(
      results.map((r) => [r.status, r.executed]),
      [
        [400, false],
        [undefined, false],
        [undefined, false],
      ],
    );
    const error = results[0]?.error;
    assert.equal(error?.kind, 'odata');
    assert.equal(error?.code, '0x80044331');
    assert.equal(error?.requestId, '5ecd1cb3-1730-4ffc-909c-d44c22270026');
    assert.match(error?.message ?? '', /exceeded the maximum allowed length of '200'/);
  });

  it('example 9: continue-on-error gives every request its own answer', () => {
    const entries = parseBatchResponse(message(example(9, 'Response')).body);
    const requests: BatchRequest[] = [1, 2, 3].map((n) => ({ method: 'POST', url: 'tasks', body: task(n) }));
    const results = matchBatchResults(requests, entries);
    assert.deepEqual(
      results.map((r) => [r.status, r.executed, r.error?.requestId]),
      [
        [400, false, 'de4c5227-4a28-4ebd-8ced-3392ece1697b'],
        [204, true, undefined],
        [204, true, undefined],
      ],
    );
    assert.equal(results[1]?.id, 'aed2ae8b-3c94-ed11-aad1-000d3a9933c9');
  });

  it('a failed change set answers once for all its requests', () => {
    const text = [
      '--batchresponse_1',
      'Content-Type: application/http',
      'Content-Transfer-Encoding: binary',
      '',
      'HTTP/1.1 400 Bad Request',
      'Content-Type: application/json; odata.metadata=minimal',
      '',
      '{"error":{"code":"0x80044331","message":"A validation error occurred."}}',
      '--batchresponse_1--',
      '',
    ].join('\r\n');
    const results = matchBatchResults(
      [
        {
          changeSet: [
            { method: 'POST', url: 'tasks', body: {} },
            { method: 'POST', url: 'tasks', body: {} },
          ],
        },
      ],
      parseBatchResponse(text),
    );
    assert.deepEqual(
      results.map((r) => [r.status, r.executed, r.error?.code]),
      [
        [400, false, '0x80044331'],
        [400, false, '0x80044331'],
      ],
    );
  });

  it('rejects text that is not multipart or never closes', () => {
    assert.throws(() => parseBatchResponse('{"error":{}}', 'application/json'), /not multipart/);
    assert.throws(
      () => parseBatchResponse('--b\r\nContent-Type: application/http\r\n\r\nHTTP/1.1 204 No Content\r\n'),
      /closing/,
    );
  });
});

describe('dataverse/batch: executeBatch over HTTP (local peer answering with the examples)', () => {
  let peer: Peer | undefined;
  afterEach(async () => {
    await peer?.close();
    peer = undefined;
  });

  it('sends the built multipart and returns one result per request', async () => {
    const answer = crlf(message(example(2, 'Response')).body);
    peer = await startPeer((_request, res) => {
      res.writeHead(200, {
        'Content-Type': 'multipart/mixed; boundary=batchresponse_f27ef42d-51b0-4685-bac9-f468f844de2f',
        'OData-Version': '4.0',
      });
      res.end(answer);
    });
    const client = clientFor(peer.url, 't');
    const results = await executeBatch(client, [
      {
        changeSet: [1, 2, 3].map((n): BatchRequest => ({
          method: 'POST',
          url: 'tasks',
          body: { subject: `Task ${n}` },
        })),
      },
      { method: 'GET', url: `${ACCOUNT}/Account_Tasks?$select=subject` },
    ]);
    assert.equal(results.length, 4);
    assert.deepEqual(
      results.map((r) => r.status),
      [204, 204, 204, 200],
    );
    const sent = peer.requests[0];
    assert.ok(sent);
    assert.equal(sent.url, '/api/data/v9.2/$batch');
    const boundary = boundaryOf(String(sent.headers['content-type']));
    assert.match(boundary ?? '', /^batch_[0-9a-f-]{36}$/);
    assert.match(sent.body, /\r\nPOST \/api\/data\/v9\.2\/tasks HTTP\/1\.1\r\n/);
    assert.match(
      sent.body,
      /\r\nGET \/api\/data\/v9\.2\/accounts\(0{8}-0{4}-0{4}-0{4}-0{11}1\)\/Account_Tasks\?\$select=subject HTTP\/1\.1\r\n/,
    );
  });

  it('reads a 400 batch answer (example 8) as results, and a non-multipart 400 (example 7) as an error', async () => {
    const stopped = crlf(message(example(8, 'Response')).body);
    peer = await startPeer((request, res) => {
      if (request.headers.prefer === 'odata.continue-on-error') {
        res.writeHead(400, { 'Content-Type': 'text/plain' });
        res.end("Content-ID Reference: '$1' does not exist in the batch context.");
        return;
      }
      res.writeHead(400, {
        'Content-Type': 'multipart/mixed; boundary=batchresponse_156da4b8-cd2c-4862-a911-4aaab97c001a',
      });
      res.end(stopped);
    });
    const client = clientFor(peer.url, 't');
    const requests: BatchRequest[] = [1, 2, 3].map((n) => ({
      method: 'POST',
      url: 'tasks',
      body: { subject: `T${n}` },
    }));
    const results = await executeBatch(client, requests);
    assert.deepEqual(
      results.map((r) => r.status),
      [400, undefined, undefined],
    );
    const error = await rejection(executeBatch(client, requests, { continueOnError: true }));
    assert.equal(error.kind, 'odata');
    assert.equal(error.status, 400);
    assert.match(error.message, /Content-ID Reference/);
  });

  it('repeats a change set of keyed creates after a lost answer and reads its own "duplicate key" as success', async () => {
    let committed = 0;
    peer = await startPeer((request, res, req) => {
      if (peer?.requests.length === 1) {
        committed += (request.body.match(/^POST /gm) ?? []).length;
        req.socket.destroy();
        return;
      }
      const text = [
        '--batchresponse_2',
        'Content-Type: application/http',
        'Content-Transfer-Encoding: binary',
        '',
        'HTTP/1.1 412 Precondition Failed',
        'Content-Type: application/json; odata.metadata=minimal',
        '',
        '{"error":{"code":"0x80040237","message":"A record with matching key values already exists."}}',
        '--batchresponse_2--',
        '',
      ].join('\r\n');
      res.writeHead(200, { 'Content-Type': 'multipart/mixed; boundary=batchresponse_2' });
      res.end(text);
    });
    const client = clientFor(peer.url, 't');
    const keys = ['11111111-1111-1111-1111-111111111111', '22222222-2222-2222-2222-222222222222'];
    const results = await executeBatch(client, [
      {
        changeSet: keys.map((key): BatchRequest => ({
          method: 'POST',
          url: 'accounts',
          body: { accountid: key, name: key },
          createKey: key,
        })),
      },
    ]);
    assert.equal(committed, 2);
    assert.equal(peer.requests.length, 2);
    assert.deepEqual(
      results.map((r) => [r.executed, r.recovered, r.id]),
      keys.map((key) => [true, true, key]),
    );
  });

  it('does not repeat a batch of unkeyed writes after a lost answer', async () => {
    peer = await startPeer((_request, _res, req) => {
      req.socket.destroy();
    });
    const client = clientFor(peer.url, 't');
    const error = await rejection(
      executeBatch(client, [{ changeSet: [{ method: 'POST', url: 'accounts', body: { name: 'n' } }] }]),
    );
    assert.equal(error.kind, 'network');
    assert.equal(peer.requests.length, 1);
  });
});

describe('dataverse/batch: headers of the $batch request itself', () => {
  let peer: Peer | undefined;
  afterEach(async () => {
    await peer?.close();
    peer = undefined;
  });

  function refusal(headers: Record<string, string>): WorkbenchError {
    try {
      batchRequestHeaders({ headers });
    } catch (error) {
      assert.ok(error instanceof WorkbenchError, String(error));
      return error;
    }
    return assert.fail(`accepted ${Object.keys(headers).join()}`);
  }

  it('merges a Prefer into the one the options make, each preference once, the options first', () => {
    assert.deepEqual(
      batchRequestHeaders({
        continueOnError: true,
        includeAnnotations: 'A,B',
        headers: {
          'MSCRM.BypassCustomPluginExecution': 'true',
          Prefer: 'odata.maxpagesize=5, ODATA.CONTINUE-ON-ERROR, odata.include-annotations="*", return=representation',
          CallerObjectId: 'e39c5d16-675b-48d1-8e67-667427e9c084',
        },
      }),
      {
        'MSCRM.BypassCustomPluginExecution': 'true',
        CallerObjectId: 'e39c5d16-675b-48d1-8e67-667427e9c084',
        Prefer: 'odata.include-annotations="A,B",odata.continue-on-error,odata.maxpagesize=5,return=representation',
      },
    );
    assert.deepEqual(batchRequestHeaders({}), {});
    assert.deepEqual(batchRequestHeaders({ headers: { prefer: 'odata.maxpagesize=3' } }), {
      Prefer: 'odata.maxpagesize=3',
    });
  });

  it('refuses every header the client writes itself, naming it and never its value', () => {
    for (const lower of BATCH_CLIENT_HEADERS) {
      for (const name of [lower, lower.toUpperCase(), lower.replace(/(^|-)([a-z])/g, (m) => m.toUpperCase())]) {
        const error = refusal({ 'MSCRM.BypassCustomPluginExecution': 'true', [name]: 'Bearer stolen-value' });
        assert.equal(error.kind, 'invalidInput');
        assert.ok(error.message.includes(`'${name}'`), error.message);
        assert.match(error.message, /Nothing was sent\./);
        assert.ok(!error.message.includes('stolen-value'));
      }
    }
  });

  it('refuses names and values HTTP cannot carry, instead of letting fetch fail on them', () => {
    const cases: Record<string, string>[] = [
      { 'Bad Name': 'x' },
      { 'Bad:Name': 'x' },
      { '': 'x' },
      { CallerObjectId: 'a\r\nAuthorization: Bearer injected' },
      { CallerObjectId: 'a\nb' },
      { 'MSCRM.SolutionUniqueName': 'Solution\u0142' },
      { 'MSCRM.SolutionUniqueName': 'zero\u0000' },
    ];
    for (const headers of cases) {
      const error = refusal(headers);
      assert.equal(error.kind, 'invalidInput', JSON.stringify(headers));
      assert.ok(!error.message.includes('injected'));
    }
    // Latin-1 goes as bytes, as HTTP allows.
    assert.deepEqual(batchRequestHeaders({ headers: { 'MSCRM.SolutionUniqueName': 'Lösung' } }), {
      'MSCRM.SolutionUniqueName': 'Lösung',
    });
  });

  it('sends the headers on the $batch request, keeps the client’s own, and sends nothing when refused', async () => {
    const answer = crlf(message(example(2, 'Response')).body);
    peer = await startPeer((_request, res) => {
      res.writeHead(200, {
        'Content-Type': 'multipart/mixed; boundary=batchresponse_f27ef42d-51b0-4685-bac9-f468f844de2f',
      });
      res.end(answer);
    });
    const client = clientFor(peer.url, 'secret-token');
    const items: BatchItem[] = [
      { changeSet: [1, 2, 3].map((n): BatchRequest => ({ method: 'POST', url: 'tasks', body: { subject: `T${n}` } })) },
      { method: 'GET', url: `${ACCOUNT}/Account_Tasks?$select=subject` },
    ];
    const results = await executeBatch(client, items, {
      continueOnError: true,
      headers: {
        'MSCRM.BypassCustomPluginExecution': 'true',
        CallerObjectId: 'e39c5d16-675b-48d1-8e67-667427e9c084',
        Prefer: 'odata.maxpagesize=10',
      },
    });
    assert.deepEqual(
      results.map((r) => r.status),
      [204, 204, 204, 200],
    );
    const [sent] = peer.requests;
    assert.ok(sent);
    assert.equal(sent.headers['mscrm.bypasscustompluginexecution'], 'true');
    assert.equal(sent.headers.callerobjectid, 'e39c5d16-675b-48d1-8e67-667427e9c084');
    assert.equal(sent.headers.prefer, 'odata.continue-on-error,odata.maxpagesize=10');
    assert.equal(sent.headers.authorization, 'Bearer secret-token');
    assert.equal(sent.headers['odata-version'], '4.0');
    assert.match(String(sent.headers['content-type']), /^multipart\/mixed; boundary="batch_/);
    // The parts carry only their own headers.
    assert.ok(!/bypass|callerobjectid/i.test(sent.body));

    const refused: Record<string, string>[] = [{ Authorization: 'Bearer other-token' }, { 'Content-Type': 'a/b' }];
    for (const headers of refused) {
      const error = await rejection(executeBatch(client, items, { headers }));
      assert.equal(error.kind, 'invalidInput');
      assert.ok(!error.message.includes('other-token'));
    }
    assert.equal(peer.requests.length, 1, 'nothing more was sent');
  });
});

import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { memoryDeltaLinkStore } from '../../../src/dataverse/changeTracking';
import type { RunResult } from '../../../src/dataverse/runRequest';
import { checkRequestUrl, executeRequest, isFailedResult, namedResultFrom } from '../../../src/dataverse/runRequest';
import type { WebApiClient } from '../../../src/dataverse/webApiClient';
import { WorkbenchError } from '../../../src/core/errors';
import type { RunningEmulator } from '../../../src/emulator/server';
import { parseDocument } from '../../../src/odata/document/parser';
import type { NamedResult, PreparedRequest, RunContext } from '../../../src/odata/run';
import { prepareRequest } from '../../../src/odata/run';
import { startEmulatorClient } from './emulatorClient';
import type { Peer } from './helpers';
import { clientFor, rejection, sendJson, startPeer } from './helpers';

const fixtures = path.resolve(__dirname, '../../fixtures/odata/run');

function context(results: Map<string, NamedResult>): RunContext {
  let n = 0;
  return {
    environmentVariables: {},
    namedResults: results,
    now: () => new Date(Date.UTC(2025, 0, 15)),
    random: () => 0.25,
    newGuid: () => `00000000-0000-4000-8000-${String(++n).padStart(12, '0')}`,
  };
}

function prepared(text: string, blockIndex: number, ctx: RunContext): PreparedRequest {
  const result = prepareRequest(parseDocument(text), blockIndex, ctx);
  if (!result.ok) assert.fail(result.problems.map((p) => p.message).join('; '));
  return result.request;
}

function rows(result: RunResult): Record<string, unknown>[] {
  const body = result.body as { value?: Record<string, unknown>[] };
  assert.ok(Array.isArray(body.value), 'a collection answer');
  return body.value;
}

describe('executeRequest (emulator)', function () {
  this.timeout(30000);
  let emulator: RunningEmulator;
  let client: WebApiClient;

  before(async () => {
    ({ emulator, client } = await startEmulatorClient());
  });
  after(async () => {
    await emulator.close();
  });

  it('runs a file top to bottom: the create feeds {{label.id}} of the update and the read', async () => {
    const text = readFileSync(path.join(fixtures, 'crud.odata'), 'utf8');
    const document = parseDocument(text);
    const results = new Map<string, NamedResult>();
    const ctx = context(results);
    const deltaLinks = memoryDeltaLinkStore();
    const seen: RunResult[] = [];
    for (const block of document.blocks.filter((b) => b.request)) {
      const request = prepared(text, block.index, ctx);
      const result = await executeRequest(client, request, { deltaLinks, key: `crud#${block.index}` });
      seen.push(result);
      if (request.label !== undefined) results.set(request.label, namedResultFrom(result));
    }
    assert.deepEqual(
      seen.map((r) => [r.kind, r.status, r.statusText]),
      [
        ['single', 204, 'No Content'],
        ['single', 204, 'No Content'],
        ['single', 200, 'OK'],
        ['single', 200, 'OK'],
      ],
    );
    const id = /\(([^)]+)\)$/.exec(seen[0]!.headers['odata-entityid'] ?? '')?.[1];
    assert.ok(id !== undefined);
    const record = seen[2]!.body as Record<string, unknown>;
    // $randomInt 1000 9999 with random() = 0.25.
    assert.deepEqual(
      [record.accountid, record.name, record.telephone1, record.address1_city],
      [id, 'Run test 3249', '+1-425-555-0200', 'Redmond'],
    );
    assert.deepEqual(
      rows(seen[3]!).map((row) => row.accountid),
      [id],
    );
    assert.ok(seen.every((r) => r.elapsedMs >= 0 && typeof r.requestId === 'string'));
  });

  it('reads a collection and reports the next page', async () => {
    const ctx = context(new Map());
    const request = prepared('GET accounts?$select=name\nPrefer: odata.maxpagesize=2\n', 0, ctx);
    const result = await executeRequest(client, request, { deltaLinks: memoryDeltaLinkStore(), key: 'k' });
    assert.equal(result.status, 200);
    assert.equal(rows(result).length, 2);
    assert.match(result.nextLink ?? '', /\$skiptoken=/);
    assert.equal(isFailedResult(result), false);
  });

  it('answers a 404 as a result carrying the Dataverse error', async () => {
    const text = readFileSync(path.join(fixtures, 'notfound.odata'), 'utf8');
    const result = await executeRequest(client, prepared(text, 0, context(new Map())), {
      deltaLinks: memoryDeltaLinkStore(),
      key: 'k',
    });
    assert.equal(result.status, 404);
    assert.equal(result.statusText, 'Not Found');
    const error = (result.body as { error: { code: string; message: string } }).error;
    assert.equal(error.code, '0x80040217');
    assert.equal(isFailedResult(result), true);
  });

  it('runs a FETCH block', async () => {
    const text =
      "FETCH accounts\n\n<fetch top='3'>\n  <entity name='account'>\n    <attribute name='name' />\n  </entity>\n</fetch>\n";
    const result = await executeRequest(client, prepared(text, 0, context(new Map())), {
      deltaLinks: memoryDeltaLinkStore(),
      key: 'k',
    });
    assert.equal(result.status, 200);
    assert.equal(rows(result).length, 3);
  });

  it('runs a batch block through executeBatch, with one result per part', async () => {
    const text = readFileSync(path.join(fixtures, 'batch.odata'), 'utf8');
    const result = await executeRequest(client, prepared(text, 1, context(new Map())), {
      deltaLinks: memoryDeltaLinkStore(),
      key: 'k',
    });
    assert.equal(result.kind, 'batch');
    assert.deepEqual(
      result.batch?.map((part) => [part.method, part.status, part.executed]),
      [
        ['POST', 204, true],
        ['PATCH', 204, true],
        ['GET', 200, true],
        ['GET', 404, false],
      ],
    );
    assert.equal(result.status, 404);
    assert.equal(isFailedResult(result), true);
    const read = result.batch[2]!.body as { value: Record<string, unknown>[] };
    assert.deepEqual(
      read.value.map((row) => [row.name, row.address1_city]),
      [['Batch Bergen', 'Bergen']],
    );
  });

  it('tracks changes: the run stores the delta link, Get changes returns changed and removed rows', async () => {
    const results = new Map<string, NamedResult>();
    const ctx = context(results);
    const deltaLinks = memoryDeltaLinkStore();
    const text = [
      '### Tracked',
      '# @name tracked',
      'GET contacts?$select=fullname,telephone1',
      'Prefer: odata.track-changes',
      '',
      '### Change one',
      'PATCH contacts({{tracked.value.0.contactid}})',
      '',
      '{ "telephone1": "+1-555-0100" }',
      '',
      '### Delete another',
      'DELETE contacts({{tracked.value.1.contactid}})',
      '',
    ].join('\n');
    const key = 'file:///tracked.odata#0';
    const tracked = prepared(text, 0, ctx);
    assert.equal(tracked.kind, 'trackChanges');

    const none = await rejection(executeRequest(client, tracked, { deltaLinks, key, mode: 'getChanges' }));
    assert.equal(none.kind, 'invalidInput');
    assert.match(none.message, /Run the block first/);

    const first = await executeRequest(client, tracked, { deltaLinks, key });
    assert.equal(first.kind, 'delta');
    assert.ok(first.deltaLink !== undefined);
    assert.equal(await deltaLinks.get(key), first.deltaLink);
    assert.ok(rows(first).length >= 2);
    results.set('tracked', namedResultFrom(first));
    const changedId = rows(first)[0]!.contactid;
    const removedId = rows(first)[1]!.contactid;

    for (const index of [1, 2]) {
      const write = await executeRequest(client, prepared(text, index, ctx), { deltaLinks, key: `w${index}` });
      assert.equal(write.status, 204);
    }

    const changes = await executeRequest(client, tracked, { deltaLinks, key, mode: 'getChanges' });
    assert.equal(changes.kind, 'delta');
    assert.deepEqual(
      rows(changes).map((row) => [row.contactid, row.telephone1]),
      [[changedId, '+1-555-0100']],
    );
    assert.deepEqual(changes.removed, [removedId]);
    assert.notEqual(changes.deltaLink, first.deltaLink);
    assert.equal(await deltaLinks.get(key), changes.deltaLink);

    const quiet = await executeRequest(client, tracked, { deltaLinks, key, mode: 'getChanges' });
    assert.deepEqual([rows(quiet).length, quiet.removed], [0, []]);
  });

  it('pages with GET {{page.@odata.nextLink}}: the absolute link of the environment is followed', async () => {
    const text =
      '# @name page\nGET accounts?$select=name&$orderby=name\nPrefer: odata.maxpagesize=2\n\n' +
      '###\n# @name page2\nGET {{page.@odata.nextLink}}\nPrefer: odata.maxpagesize=2\n';
    const results = new Map<string, NamedResult>();
    const ctx = context(results);
    const options = { deltaLinks: memoryDeltaLinkStore(), key: 'k' };
    const first = await executeRequest(client, prepared(text, 0, ctx), options);
    results.set('page', namedResultFrom(first));
    assert.ok(first.nextLink?.startsWith(`${emulator.url}/api/data/v9.2/accounts?`), first.nextLink);
    const request = prepared(text, 1, ctx);
    assert.equal(request.url, first.nextLink);
    const second = await executeRequest(client, request, options);
    assert.equal(second.status, 200);
    const names = (result: RunResult): unknown[] => rows(result).map((row) => row.name);
    assert.equal(names(second).length, 2);
    assert.ok(String(names(first)[1]) <= String(names(second)[0]), 'the next page follows the first');
    assert.ok(!names(second).some((name) => names(first).includes(name)));
  });

  it('fails with WorkbenchErrors, not results, when there is no answer to show', async () => {
    const request = prepared('GET accounts\n', 0, context(new Map()));
    const options = { deltaLinks: memoryDeltaLinkStore(), key: 'k' };
    const wrongToken = clientFor(emulator.url, 'not-the-token');
    assert.equal((await rejection(executeRequest(wrongToken, request, options))).kind, 'auth');
    const aborted = new AbortController();
    aborted.abort();
    assert.equal(
      (await rejection(executeRequest(client, request, { ...options, signal: aborted.signal }))).kind,
      'cancelled',
    );
  });
});

describe('executeRequest (wire details)', () => {
  it('sends the prepared headers and body as written, and gives the named result its headers', async () => {
    const peer = await startPeer((request, res) => {
      if (request.method === 'POST') {
        res.writeHead(204, {
          'OData-EntityId': `${peer.url}/api/data/v9.2/accounts(0000000a-0000-0000-0000-000000000001)`,
        });
        res.end();
      } else {
        sendJson(res, 200, { value: [] });
      }
    });
    try {
      const client = clientFor(peer.url, 'secret-token');
      const text =
        '# @name made\nPOST accounts\nMSCRM.SuppressDuplicateDetection: false\n\n{ "name": "x y" }\n\n###\nGET accounts({{made.id}})?$filter=name eq \'a b\'\n';
      const results = new Map<string, NamedResult>();
      const ctx = context(results);
      const options = { deltaLinks: memoryDeltaLinkStore(), key: 'k' };
      const made = await executeRequest(client, prepared(text, 0, ctx), options);
      results.set('made', namedResultFrom(made));
      await executeRequest(client, prepared(text, 1, ctx), options);
      const [post, get] = peer.requests;
      assert.equal(post!.body, '{ "name": "x y" }');
      assert.equal(post!.headers['content-type'], 'application/json');
      assert.equal(post!.headers['mscrm.suppressduplicatedetection'], 'false');
      assert.equal(post!.headers['odata-version'], '4.0');
      assert.equal(post!.headers.authorization, 'Bearer secret-token');
      // The WHATWG URL the client sends through escapes the quotes as well.
      assert.equal(
        get!.url,
        '/api/data/v9.2/accounts(0000000a-0000-0000-0000-000000000001)?$filter=name%20eq%20%27a%20b%27',
      );
    } finally {
      await peer.close();
    }
  });
});

describe('executeRequest (headers of a $batch block)', () => {
  const CHANGESET_ANSWER = [
    '--batchresponse_1',
    'Content-Type: multipart/mixed; boundary=changesetresponse_1',
    '',
    '--changesetresponse_1',
    'Content-Type: application/http',
    'Content-Transfer-Encoding: binary',
    'Content-ID: 1',
    '',
    'HTTP/1.1 204 No Content',
    'OData-Version: 4.0',
    'OData-EntityId: https://org.crm.dynamics.com/api/data/v9.2/accounts(0000000a-0000-0000-0000-000000000001)',
    '',
    '',
    '--changesetresponse_1--',
    '--batchresponse_1',
    'Content-Type: application/http',
    'Content-Transfer-Encoding: binary',
    '',
    'HTTP/1.1 200 OK',
    'Content-Type: application/json; odata.metadata=minimal',
    'OData-Version: 4.0',
    '',
    '{"value":[]}',
    '--batchresponse_1--',
    '',
  ].join('\r\n');
  const options = { deltaLinks: memoryDeltaLinkStore(), key: 'k' };
  let peer: Peer;

  beforeEach(async () => {
    peer = await startPeer((_request, res) => {
      res.writeHead(200, { 'Content-Type': 'multipart/mixed; boundary=batchresponse_1', 'OData-Version': '4.0' });
      res.end(CHANGESET_ANSWER);
    });
  });
  afterEach(async () => {
    await peer.close();
  });

  it('sends the headers written on POST $batch on the $batch request, the client keeping its own', async () => {
    const text = [
      '@caller = e39c5d16-675b-48d1-8e67-667427e9c084',
      'POST $batch',
      'OData-Version: 4.0',
      'Accept: application/json',
      'If-None-Match: null',
      'MSCRM.BypassCustomPluginExecution: true',
      'CallerObjectId: {{caller}}',
      'Prefer: odata.continue-on-error, odata.maxpagesize=10',
      '',
      'BEGIN CHANGESET',
      'POST accounts',
      'Content-ID: 1',
      '',
      '{ "name": "Bypassed" }',
      'END CHANGESET',
      '',
      'GET accounts?$select=name',
      '',
    ].join('\n');
    const client = clientFor(peer.url, 'secret-token');
    const result = await executeRequest(client, prepared(text, 0, context(new Map())), options);
    assert.equal(result.kind, 'batch');
    assert.deepEqual(
      result.batch?.map((part) => [part.method, part.status]),
      [
        ['POST', 204],
        ['GET', 200],
      ],
    );
    assert.equal(peer.requests.length, 1);
    const sent = peer.requests[0]!;
    assert.equal(sent.url, '/api/data/v9.2/$batch');
    assert.equal(sent.headers['mscrm.bypasscustompluginexecution'], 'true');
    assert.equal(sent.headers.callerobjectid, 'e39c5d16-675b-48d1-8e67-667427e9c084');
    assert.equal(sent.headers['if-none-match'], 'null');
    assert.equal(sent.headers.prefer, 'odata.continue-on-error,odata.maxpagesize=10');
    assert.equal(sent.headers.authorization, 'Bearer secret-token');
    assert.equal(sent.headers['odata-version'], '4.0');
    assert.equal(sent.headers.accept, 'application/json');
    assert.match(String(sent.headers['content-type']), /^multipart\/mixed; boundary="batch_[0-9a-f-]{36}"$/);
  });

  it('cannot be made to send another Authorization: the file is refused, and so is a hand-made prepared block', async () => {
    const text = '@token = stolen\nPOST $batch\nAuthorization: Bearer {{token}}\n\nGET accounts\n';
    const result = prepareRequest(parseDocument(text), 0, context(new Map()));
    assert.ok(!result.ok);
    assert.deepEqual(
      result.problems.map((p) => [p.code, text.slice(p.span.start, p.span.end)]),
      [['batchHeader', 'Authorization: Bearer {{token}}']],
    );
    assert.ok(!result.problems[0]!.message.includes('stolen'));

    const request = prepared('POST $batch\nCallerObjectId: x\n\nGET accounts\n', 0, context(new Map()));
    const forged: PreparedRequest = {
      ...request,
      batch: { ...request.batch!, headers: { ...request.batch!.headers, authorization: 'Bearer stolen' } },
    };
    const client = clientFor(peer.url, 'secret-token');
    const error = await rejection(executeRequest(client, forged, options));
    assert.equal(error.kind, 'invalidInput');
    assert.match(error.message, /'authorization' cannot be set on a \$batch request/);
    assert.ok(!error.message.includes('stolen'));
    assert.deepEqual(peer.requests, [], 'nothing was sent');
  });
});

describe('checkRequestUrl', () => {
  const ROOT = 'https://org.crm.dynamics.com/api/data/v9.2/';
  const refusal = (url: string, root = ROOT): string => {
    try {
      checkRequestUrl(url, root);
    } catch (error) {
      assert.ok(error instanceof WorkbenchError && error.kind === 'invalidInput', String(error));
      return error.message;
    }
    return 'accepted';
  };

  it('accepts relative and rooted URLs, and absolute ones under the Web API of the environment', () => {
    for (const url of [
      'accounts?$top=1',
      '/api/data/v9.2/accounts',
      '$batch',
      'https://org.crm.dynamics.com/api/data/v9.2/accounts?$skiptoken=%3Ccookie%3E',
      'https://ORG.crm.dynamics.com:443/API/Data/v9.2/accounts',
      'https://org.crm.dynamics.com/api/data/v9.2',
    ]) {
      assert.equal(refusal(url), 'accepted', url);
    }
    assert.equal(
      refusal('http://127.0.0.1:5555/org/api/data/v9.1/x', 'http://127.0.0.1:5555/org/api/data/v9.1/'),
      'accepted',
    );
  });

  it('refuses another origin, naming it and the environment', () => {
    for (const [url, origin] of [
      ['https://evil.example/api/data/v9.2/accounts', 'https://evil.example'],
      ['http://org.crm.dynamics.com/api/data/v9.2/accounts', 'http://org.crm.dynamics.com'],
      ['https://org.crm.dynamics.com:8443/api/data/v9.2/accounts', 'https://org.crm.dynamics.com:8443'],
      ['https://org.crm.dynamics.com.evil.example/api/data/v9.2/', 'https://org.crm.dynamics.com.evil.example'],
      ['//evil.example/api/data/v9.2/accounts', 'https://evil.example'],
      ['file:///etc/passwd', 'a file: URL'],
    ] as const) {
      const message = refusal(url);
      assert.ok(message.includes(`to ${origin}:`), message);
      assert.ok(message.includes('https://org.crm.dynamics.com'), message);
      assert.match(message, /Nothing was sent/);
    }
  });

  it('refuses paths outside the Web API and URLs with credentials, never echoing the query', () => {
    for (const url of [
      'https://org.crm.dynamics.com/XRMServices/2011/Organization.svc?secret=1',
      'https://org.crm.dynamics.com/api/data/v9.1/accounts',
      'https://org.crm.dynamics.com/api/data/v9.2/../../../other',
      'https://org.crm.dynamics.com/api/data/v9.20/accounts',
    ]) {
      const message = refusal(url);
      assert.match(message, /outside the environment's Web API https:\/\/org\.crm\.dynamics\.com\/api\/data\/v9\.2\//);
      assert.ok(!message.includes('secret'), message);
    }
    const credentials = refusal('https://user:pass@org.crm.dynamics.com/api/data/v9.2/accounts');
    assert.match(credentials, /user name or password/);
    assert.ok(!credentials.includes('pass@'));
  });
});

describe('executeRequest (URLs outside the environment)', () => {
  let environment: Peer;
  let other: Peer;
  const options = { deltaLinks: memoryDeltaLinkStore(), key: 'k' };

  beforeEach(async () => {
    environment = await startPeer((_request, res) => sendJson(res, 200, { value: [] }));
    other = await startPeer((_request, res) => sendJson(res, 200, { value: [] }));
  });
  afterEach(async () => {
    await Promise.all([environment.close(), other.close()]);
  });

  it('sends an absolute URL of the environment as it is, with the same authorization', async () => {
    const link = `${environment.url}/api/data/v9.2/accounts?$select=name&$skiptoken=%3Ccookie%20page=%222%22%3E`;
    const client = clientFor(environment.url, 'secret-token');
    const request = prepared('GET {{next}}\n', 0, { ...context(new Map()), overrides: { next: link } });
    const result = await executeRequest(client, request, options);
    assert.equal(result.status, 200);
    assert.deepEqual(
      environment.requests.map((r) => [r.method, r.url, r.headers.authorization]),
      [['GET', '/api/data/v9.2/accounts?$select=name&$skiptoken=%3Ccookie%20page=%222%22%3E', 'Bearer secret-token']],
    );
  });

  it('refuses another origin or a path outside the Web API before sending anything, batch parts included', async () => {
    const client = clientFor(environment.url, 'secret-token');
    const cases: [string, string][] = [
      ['GET {{next}}\n', `${other.url}/api/data/v9.2/accounts?$skiptoken=x`],
      ['GET {{next}}\n', `${environment.url}/other/path`],
      ['# @name p\nGET {{next}}\nPrefer: odata.track-changes\n', `${other.url}/api/data/v9.2/accounts`],
      ['POST $batch\n\nGET accounts\nGET {{next}}\n', `${other.url}/api/data/v9.2/accounts`],
      ['POST $batch\n\nBEGIN CHANGESET\nPATCH {{next}}\n\n{}\nEND CHANGESET\n', `${other.url}/api/data/v9.2/a(1)`],
    ];
    for (const [text, next] of cases) {
      const request = prepared(text, 0, { ...context(new Map()), overrides: { next } });
      const error = await rejection(executeRequest(client, request, options));
      assert.equal(error.kind, 'invalidInput', text);
      assert.match(error.message, /^Refusing to send the request to http:\/\/127\.0\.0\.1:\d+/);
      assert.ok(error.message.includes(environment.url), error.message);
      assert.ok(!error.message.includes('secret-token'));
    }
    assert.deepEqual(environment.requests, []);
    assert.deepEqual(other.requests, []);
  });
});

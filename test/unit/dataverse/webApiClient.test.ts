import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { WorkbenchError } from '../../../src/core/errors';
import { RequestLimiter } from '../../../src/dataverse/limiter';
import type { AccessToken, RequestExchange, TokenProvider } from '../../../src/dataverse/webApiClient';
import { preferHeader, staticTokenProvider, WebApiClient, webApiRoot } from '../../../src/dataverse/webApiClient';
import type { RunningEmulator } from '../../../src/emulator/server';
import type { Peer } from './helpers';
import { startEmulatorClient } from './emulatorClient';
import { clientFor, rejection, sendJson, startPeer } from './helpers';

describe('dataverse/webApiClient against the emulator', () => {
  let emulator: RunningEmulator;
  let client: WebApiClient;

  before(async () => {
    ({ emulator, client } = await startEmulatorClient());
  });
  after(async () => {
    await emulator.close();
  });

  it('creates, retrieves, updates and deletes a record', async () => {
    const created = await client.create(
      'accounts',
      { name: 'Round Trip Ltd', telephone1: '555-0101' },
      { primaryKey: 'accountid' },
    );
    assert.ok(created.id);
    const read = await client.retrieve('accounts', created.id);
    assert.equal(read.accountid, created.id);
    assert.equal(read.name, 'Round Trip Ltd');
    const etag = read['@odata.etag'];
    assert.equal(typeof etag, 'string');

    const updated = await client.update(
      'accounts',
      created.id,
      { name: 'Round Trip plc' },
      { etag: String(etag), returnRepresentation: true },
    );
    assert.equal(updated.status, 200);
    assert.equal((updated.body as Record<string, unknown>).name, 'Round Trip plc');

    const removed = await client.delete('accounts', created.id);
    assert.equal(removed.status, 204);
    const gone = await rejection(client.retrieve('accounts', created.id));
    assert.equal(gone.kind, 'notFound');
  });

  it('uses the client-generated key as the record id, with and without representation', async () => {
    const plain = await client.create(
      'contacts',
      { lastname: 'Keyed' },
      { primaryKey: 'contactid', returnRepresentation: false },
    );
    assert.equal(plain.response.status, 204);
    assert.equal(plain.response.headers.get('odata-entityid')?.endsWith(`contacts(${plain.id})`), true);
    const full = await client.create(
      'contacts',
      { lastname: 'Shown' },
      { primaryKey: 'contactid', returnRepresentation: true },
    );
    assert.equal(full.response.status, 201);
    assert.equal(full.record?.contactid, full.id);
  });

  it('reads WhoAmI and $count', async () => {
    const me = await client.whoAmI();
    assert.equal(me.userId, emulator.userId);
    assert.equal(me.organizationId, emulator.organizationId);
    // The sample seeds 50 accounts; the round trip above left none behind.
    assert.equal(await client.count('accounts'), 50);
  });

  it('maps a 404 for an unknown entity set, keeping code, status and request id', async () => {
    const error = await rejection(client.get('acounts'));
    assert.equal(error.kind, 'notFound');
    assert.equal(error.status, 404);
    assert.equal(error.code, '0x8006088a');
    assert.equal(error.message, "Resource not found for the segment 'acounts'.");
    assert.match(error.requestId ?? '', /^[0-9a-f-]{36}$/);
  });

  it('maps a 400 for a column the table does not have', async () => {
    const error = await rejection(client.create('accounts', { nmae: 'Typo' }, { primaryKey: 'accountid' }));
    assert.equal(error.kind, 'odata');
    assert.equal(error.status, 400);
    assert.match(error.message, /nmae/);
    assert.ok(error.code !== undefined);
  });

  it('maps a 412 ETag mismatch to conflict', async () => {
    const { id } = await client.create('accounts', { name: 'Versioned' }, { primaryKey: 'accountid' });
    assert.ok(id);
    const error = await rejection(client.update('accounts', id, { name: 'Stale write' }, { etag: 'W/"1"' }));
    assert.equal(error.kind, 'conflict');
    assert.equal(error.status, 412);
    assert.equal(error.code, '0x80060882');
  });

  it('reports a create under an existing key as a conflict when no earlier attempt was lost', async () => {
    const { id } = await client.create('accounts', { name: 'Once' }, { primaryKey: 'accountid' });
    const error = await rejection(
      client.create('accounts', { name: 'Twice', accountid: id }, { primaryKey: 'accountid' }),
    );
    assert.equal(error.kind, 'conflict');
    assert.equal(error.code, '0x80040237');
  });

  it('tells an observer of each request once it is over, without the token', async () => {
    const exchanges: RequestExchange[] = [];
    const observed = clientFor(emulator.url, emulator.token, { onExchange: (exchange) => exchanges.push(exchange) });
    await observed.get('accounts?$select=name&$top=1');
    await rejection(observed.get('nosuchtable'));
    assert.equal(exchanges.length, 2);
    const [read, missing] = exchanges;
    assert.equal(read?.method, 'GET');
    assert.match(read?.url ?? '', /\/api\/data\/v9\.2\/accounts\?\$select=name&\$top=1$/);
    assert.equal(read?.status, 200);
    assert.equal(read?.error, undefined);
    assert.ok((read?.durationMs ?? -1) >= 0);
    assert.equal(missing?.status, 404);
    assert.ok(missing?.error);
    assert.ok(!JSON.stringify(exchanges).includes(emulator.token), 'the token is never handed out');
    assert.ok(!Object.keys(read?.headers ?? {}).some((name) => name.toLowerCase() === 'authorization'));
  });

  it('refreshes a stale token once and succeeds', async () => {
    const calls: boolean[] = [];
    const provider: TokenProvider = {
      getToken(_signal, options) {
        calls.push(options?.forceRefresh === true);
        return Promise.resolve<AccessToken>({ token: options?.forceRefresh ? emulator.token : 'expired-token' });
      },
    };
    const events: string[] = [];
    const stale = new WebApiClient({
      url: emulator.url,
      tokenProvider: provider,
      limiter: new RequestLimiter(),
      onEvent: (event) => events.push(event.type),
    });
    const me = await stale.whoAmI();
    assert.equal(me.userId, emulator.userId);
    assert.deepEqual(calls, [false, true]);
    assert.deepEqual(events, ['refreshToken', 'retry']);
  });

  it('gives up with an auth error when the refreshed token is refused too, without showing the token', async () => {
    const secret = 'never-valid-token-abc123';
    const bad = clientFor(emulator.url, secret);
    const error = await rejection(bad.whoAmI());
    assert.equal(error.kind, 'auth');
    assert.equal(error.status, 401);
    assert.equal(error.code, '0x8005F101');
    assert.ok(!error.message.includes(secret));
    assert.ok(!JSON.stringify(error).includes(secret));
  });
});

describe('dataverse/webApiClient on the wire (local peer server)', () => {
  let peer: Peer | undefined;
  afterEach(async () => {
    await peer?.close();
    peer = undefined;
  });

  it('sends the OData headers, Prefer and a JSON body, and accepts gzip', async () => {
    peer = await startPeer((request, res) => {
      const text = JSON.stringify({ echoed: true, bytes: request.body.length });
      const zipped = gzipSync(text);
      res.writeHead(201, { 'Content-Type': 'application/json; odata.metadata=minimal', 'Content-Encoding': 'gzip' });
      res.end(zipped);
    });
    const client = clientFor(peer.url, 'T0KEN');
    const response = await client.request({
      method: 'POST',
      path: 'accounts',
      body: { name: 'x' },
      prefer: { returnRepresentation: true, includeAnnotations: '*' },
    });
    assert.deepEqual(response.body, { echoed: true, bytes: 12 });
    const sent = peer.requests[0];
    assert.ok(sent);
    assert.equal(sent.url, '/api/data/v9.2/accounts');
    assert.equal(sent.headers.authorization, 'Bearer T0KEN');
    assert.equal(sent.headers['odata-version'], '4.0');
    assert.equal(sent.headers['odata-maxversion'], '4.0');
    assert.equal(sent.headers.accept, 'application/json');
    assert.match(String(sent.headers['accept-encoding']), /gzip/);
    assert.equal(sent.headers['content-type'], 'application/json; charset=utf-8');
    assert.equal(sent.headers.prefer, 'return=representation,odata.include-annotations="*"');
    assert.equal(sent.body, '{"name":"x"}');
  });

  it('cancels a request in flight through its AbortSignal', async () => {
    let arrived: () => void = () => undefined;
    const reached = new Promise<void>((resolve) => (arrived = resolve));
    peer = await startPeer(() => {
      arrived();
      // Never answers: only the caller's abort can end this request.
    });
    const client = clientFor(peer.url, 't');
    const controller = new AbortController();
    const pending = rejection(client.get('accounts', { signal: controller.signal }));
    await reached;
    controller.abort();
    const error = await pending;
    assert.equal(error.kind, 'cancelled');
    assert.equal(peer.requests.length, 1);
    assert.equal(client.limiter.inFlight, 0);
  });

  it('turns a per-request timeout into a network error and retries a GET', async () => {
    peer = await startPeer((request, res) => {
      if (peer?.requests.length === 1) return; // the first attempt hangs
      sendJson(res, 200, { value: [], url: request.url });
    });
    const client = clientFor(peer.url, 't', { timeoutMs: 50 });
    const page = await client.get('accounts');
    assert.deepEqual(page.value, []);
    assert.equal(peer.requests.length, 2);
  });

  it('still times out and retries a GET that carries a caller signal, and leaves no listener on it', async () => {
    peer = await startPeer((request, res) => {
      if (peer?.requests.length === 1) return; // the first attempt hangs
      sendJson(res, 200, { value: [], url: request.url });
    });
    const client = clientFor(peer.url, 't', { timeoutMs: 50 });
    const controller = new AbortController();
    let listeners = 0;
    const add = controller.signal.addEventListener.bind(controller.signal);
    const remove = controller.signal.removeEventListener.bind(controller.signal);
    controller.signal.addEventListener = (...args: Parameters<typeof add>) => {
      listeners += 1;
      add(...args);
    };
    controller.signal.removeEventListener = (...args: Parameters<typeof remove>) => {
      listeners -= 1;
      remove(...args);
    };
    const page = await client.get('accounts', { signal: controller.signal });
    assert.deepEqual(page.value, []);
    assert.equal(peer.requests.length, 2);
    assert.equal(listeners, 0);
  });

  it('cancels at once a request whose signal is already aborted', async () => {
    peer = await startPeer((_request, res) => sendJson(res, 200, { value: [] }));
    const client = clientFor(peer.url, 't');
    const controller = new AbortController();
    controller.abort();
    const error = await rejection(client.get('accounts', { signal: controller.signal }));
    assert.equal(error.kind, 'cancelled');
    assert.equal(client.limiter.inFlight, 0);
  });

  it('refuses to follow a link to another origin with the token', async () => {
    peer = await startPeer((_request, res) =>
      sendJson(res, 200, { value: [], '@odata.nextLink': 'https://evil.example/api/data/v9.2/accounts?$skiptoken=1' }),
    );
    const client = clientFor(peer.url, 't');
    const rows: unknown[] = [];
    const error = await rejection(
      (async () => {
        for await (const row of client.rows('accounts')) rows.push(row);
      })(),
    );
    assert.equal(error.kind, 'invalidInput');
    assert.equal(peer.requests.length, 1);
  });

  it('reads a plain-text error and keeps REQ_ID', async () => {
    peer = await startPeer((_request, res) => {
      res.writeHead(400, { 'Content-Type': 'text/plain', REQ_ID: 'abc-123' });
      res.end("Content-ID Reference: '$1' does not exist in the batch context.");
    });
    const error = await rejection(clientFor(peer.url, 't').get('x'));
    assert.equal(error.kind, 'odata');
    assert.equal(error.requestId, 'abc-123');
    assert.equal(error.message, "Content-ID Reference: '$1' does not exist in the batch context.");
  });
});

describe('dataverse/webApiClient basics', () => {
  it('derives the Web API root and refuses plain http to other machines', () => {
    assert.equal(webApiRoot('https://org.crm.dynamics.com'), 'https://org.crm.dynamics.com/api/data/v9.2/');
    assert.equal(
      webApiRoot('https://org.crm.dynamics.com/api/data/v9.1'),
      'https://org.crm.dynamics.com/api/data/v9.1/',
    );
    assert.equal(webApiRoot('http://127.0.0.1:5555/'), 'http://127.0.0.1:5555/api/data/v9.2/');
    assert.throws(
      () => webApiRoot('http://org.crm.dynamics.com'),
      (e: unknown) => e instanceof WorkbenchError && e.kind === 'invalidInput',
    );
  });

  it('builds Prefer values', () => {
    assert.equal(preferHeader({}), undefined);
    assert.equal(
      preferHeader({
        maxPageSize: 10,
        trackChanges: true,
        includeAnnotations: ['OData.Community.Display.V1.FormattedValue', 'Microsoft.Dynamics.CRM.*'],
      }),
      'odata.maxpagesize=10,odata.include-annotations="OData.Community.Display.V1.FormattedValue,Microsoft.Dynamics.CRM.*",odata.track-changes',
    );
    assert.throws(() => preferHeader({ maxPageSize: 5001 }));
  });

  it('a static provider hands out its token', async () => {
    assert.equal((await staticTokenProvider('abc').getToken(new AbortController().signal)).token, 'abc');
  });
});

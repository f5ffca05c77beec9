import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import type { Peer, PeerRequest } from './helpers';
import { clientFor, FakeClock, rejection, sendError, sendJson, startPeer } from './helpers';

/**
 * A table on a real HTTP server that commits a write and then drops the connection before answering,
 * `drops` times: the client sees a reset after sending, the worst case for "was it written?".
 */
async function droppingTable(drops: number): Promise<{ peer: Peer; rows: Map<string, unknown> }> {
  const rows = new Map<string, unknown>();
  let dropped = 0;
  const peer = await startPeer((request: PeerRequest, res, req: IncomingMessage) => {
    const byId = /\/accounts\(([0-9a-f-]{36})\)$/.exec(request.url);
    if (request.method === 'POST') {
      const body = JSON.parse(request.body) as Record<string, unknown>;
      const id = typeof body.accountid === 'string' ? body.accountid : crypto.randomUUID();
      if (rows.has(id)) {
        sendError(res, 412, '0x80040237', 'A record with matching key values already exists.');
        return;
      }
      rows.set(id, body);
      if (dropped < drops) {
        dropped++;
        req.socket.destroy();
        return;
      }
      res.writeHead(204, { 'OData-EntityId': `http://127.0.0.1/api/data/v9.2/accounts(${id})` });
      res.end();
      return;
    }
    if (request.method === 'DELETE' && byId?.[1] !== undefined) {
      if (!rows.delete(byId[1])) {
        sendError(res, 404, '0x80040217', `Entity 'account' With Id = ${byId[1]} Does Not Exist`);
        return;
      }
      if (dropped < drops) {
        dropped++;
        req.socket.destroy();
        return;
      }
      res.writeHead(204);
      res.end();
      return;
    }
    if (request.method === 'GET' && byId?.[1] !== undefined) {
      sendJson(res, 200, { accountid: byId[1], ...(rows.get(byId[1]) as object) });
      return;
    }
    sendError(res, 400, '0x80060888', 'unexpected');
  });
  return { peer, rows };
}

describe('dataverse/webApiClient: nothing is written twice (local peer dropping connections)', () => {
  let peer: Peer | undefined;
  afterEach(async () => {
    await peer?.close();
    peer = undefined;
  });

  it('repeats a keyed create whose connection dropped after commit, and counts "duplicate key" as success', async () => {
    const table = await droppingTable(1);
    peer = table.peer;
    const client = clientFor(peer.url, 't', { retry: { clock: new FakeClock() } });
    const created = await client.create('accounts', { name: 'Exactly once' }, { primaryKey: 'accountid' });
    assert.equal(table.rows.size, 1);
    assert.deepEqual([...table.rows.keys()], [created.id]);
    assert.equal(created.response.recovered, true);
    assert.equal(created.response.attempts, 2);
    assert.equal(peer.requests.filter((r) => r.method === 'POST').length, 2);
    const bodies = peer.requests.map((r) => (JSON.parse(r.body) as { accountid: string }).accountid);
    assert.equal(new Set(bodies).size, 1, 'both attempts carried the same client key');
  });

  it('fetches the record when a recovered create asked for its representation', async () => {
    const table = await droppingTable(1);
    peer = table.peer;
    const client = clientFor(peer.url, 't');
    const created = await client.create(
      'accounts',
      { name: 'Shown once' },
      { primaryKey: 'accountid', returnRepresentation: true },
    );
    assert.equal(created.record?.name, 'Shown once');
    assert.equal(table.rows.size, 1);
  });

  it('does not repeat a create without a client key when its outcome is unknown', async () => {
    const table = await droppingTable(1);
    peer = table.peer;
    const client = clientFor(peer.url, 't');
    const error = await rejection(client.create('accounts', { name: 'Unkeyed' }));
    assert.equal(error.kind, 'network');
    assert.match(error.message, /unknown/);
    assert.equal(peer.requests.length, 1);
    assert.equal(table.rows.size, 1);
  });

  it('a repeated DELETE answered "does not exist" counts as done', async () => {
    const table = await droppingTable(2);
    peer = table.peer;
    const client = clientFor(peer.url, 't');
    const { id } = await client.create('accounts', { name: 'Doomed' }, { primaryKey: 'accountid' });
    assert.ok(id);
    const removed = await client.delete('accounts', id);
    assert.equal(removed.status, 204);
    assert.equal(removed.recovered, true);
    assert.equal(table.rows.size, 0);
  });
});

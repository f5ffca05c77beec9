import assert from 'node:assert/strict';
import type { WebApiClient } from '../../../src/dataverse/webApiClient';
import type { RunningEmulator } from '../../../src/emulator/server';
import { startEmulatorClient } from './emulatorClient';
import type { Peer } from './helpers';
import { clientFor, rejection, sendJson, startPeer } from './helpers';

describe('dataverse/webApiClient paging against the emulator', () => {
  let emulator: RunningEmulator;
  let client: WebApiClient;

  before(async () => {
    ({ emulator, client } = await startEmulatorClient());
  });
  after(async () => {
    await emulator.close();
  });

  for (const set of ['accounts', 'contacts']) {
    it(`reads every ${set} row exactly once through @odata.nextLink`, async () => {
      const total = await client.count(set);
      const ids = new Set<unknown>();
      let pages = 0;
      let rows = 0;
      const key = set === 'accounts' ? 'accountid' : 'contactid';
      for await (const page of client.pages(set, { maxPageSize: 7 })) {
        pages++;
        assert.ok(page.value.length <= 7);
        for (const row of page.value) {
          rows++;
          ids.add(row[key]);
        }
      }
      assert.ok(total > 7);
      assert.equal(rows, total);
      assert.equal(ids.size, total);
      assert.equal(pages, Math.ceil(total / 7));
    });
  }

  it('resends odata.maxpagesize on every page', async () => {
    const sizes: number[] = [];
    for await (const page of client.pages('accounts', { maxPageSize: 20 })) sizes.push(page.value.length);
    assert.deepEqual(sizes, [20, 20, 10]);
  });

  it('collects all rows up to a cap and says when it stopped early', async () => {
    const all = await client.collectAll('contacts', { maxPageSize: 40 });
    assert.equal(all.truncated, false);
    assert.equal(all.rows.length, await client.count('contacts'));
    const capped = await client.collectAll('contacts', { maxPageSize: 40, cap: 50 });
    assert.equal(capped.truncated, true);
    assert.equal(capped.rows.length, 50);
    const exact = await client.collectAll('contacts', { maxPageSize: 40, cap: all.rows.length });
    assert.equal(exact.truncated, false);
  });

  it('yields rows one by one and stops early without reading further pages', async () => {
    let seen = 0;
    for await (const row of client.rows('accounts', { maxPageSize: 5 })) {
      assert.equal(typeof row.name, 'string');
      if (++seen === 12) break;
    }
    assert.equal(seen, 12);
  });
});

describe('dataverse/webApiClient paging on the wire (local peer)', () => {
  let peer: Peer | undefined;
  afterEach(async () => {
    await peer?.close();
    peer = undefined;
  });

  it('surfaces @odata.count and sends the same Prefer on the next page', async () => {
    peer = await startPeer((request, res) => {
      const base = `${peer?.url ?? ''}/api/data/v9.2/accounts`;
      if (!request.url.includes('$skiptoken')) {
        sendJson(res, 200, {
          '@odata.count': 3,
          value: [{ accountid: 'a' }, { accountid: 'b' }],
          '@odata.nextLink': `${base}?$count=true&$skiptoken=%3Ccookie%20pagenumber=%222%22%20/%3E`,
        });
      } else sendJson(res, 200, { value: [{ accountid: 'c' }] });
    });
    const client = clientFor(peer.url, 't');
    const result = await client.collectAll('accounts?$count=true', { maxPageSize: 2 });
    assert.equal(result.count, 3);
    assert.deepEqual(
      result.rows.map((r) => r.accountid),
      ['a', 'b', 'c'],
    );
    assert.deepEqual(
      peer.requests.map((r) => r.headers.prefer),
      ['odata.maxpagesize=2', 'odata.maxpagesize=2'],
    );
    assert.equal(
      peer.requests[1]?.url,
      '/api/data/v9.2/accounts?$count=true&$skiptoken=%3Ccookie%20pagenumber=%222%22%20/%3E',
    );
  });

  it('rejects a page without a value list', async () => {
    peer = await startPeer((_request, res) => sendJson(res, 200, { value: 'nope' }));
    const error = await rejection(clientFor(peer.url, 't').collectAll('accounts'));
    assert.equal(error.kind, 'odata');
  });
});

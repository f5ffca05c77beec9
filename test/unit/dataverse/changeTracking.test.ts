import assert from 'node:assert/strict';
import { ChangeTracker, memoryDeltaLinkStore, startTracking } from '../../../src/dataverse/changeTracking';
import type { Peer } from './helpers';
import { clientFor, rejection, sendJson, startPeer } from './helpers';

const SELECT = '$select=name,telephone1,fax';
const TOKEN_1 = '919042%2108%2f22%2f2017%2008%3a10%3a44';
const TOKEN_2 = '919058%2108%2f22%2f2017%2008%3a21%3a20';

/** Answers as §11 of the wire reference shows (Microsoft's change-tracking article), over real HTTP. */
async function trackingPeer(): Promise<Peer> {
  const peer: Peer = await startPeer((request, res) => {
    const root = `${peer.url}/api/data/v9.2/`;
    const context = `${root}$metadata#accounts(name,telephone1,fax)`;
    if (request.url.includes(`$deltatoken=${TOKEN_1}`)) {
      sendJson(res, 200, {
        '@odata.context': `${context}/$delta`,
        '@odata.deltaLink': `${root}accounts?${SELECT}&$deltatoken=${TOKEN_2}`,
        value: [
          {
            '@odata.etag': 'W/"915244"',
            name: 'Monte Orton',
            telephone1: '555000',
            fax: '10101',
            accountid: '60c4e274-0d87-e711-80e5-00155db19e6d',
          },
          {
            '@odata.context': `${root}$metadata#accounts/$deletedEntity`,
            id: '2e451703-c686-e711-80e5-00155db19e6d',
            reason: 'deleted',
          },
        ],
      });
      return;
    }
    if (request.url.includes(`$deltatoken=${TOKEN_2}`)) {
      sendJson(res, 200, {
        '@odata.context': `${context}/$delta`,
        '@odata.deltaLink': `${root}accounts?${SELECT}&$deltatoken=${TOKEN_2}`,
        value: [],
      });
      return;
    }
    if (request.headers.prefer !== 'odata.track-changes') {
      sendJson(res, 200, { '@odata.context': context, value: [] });
      return;
    }
    if (!request.url.includes('$skiptoken')) {
      sendJson(res, 200, {
        '@odata.context': context,
        value: [{ name: 'First page', accountid: '2e451703-c686-e711-80e5-00155db19e6d' }],
        '@odata.nextLink': `${root}accounts?${SELECT}&$skiptoken=2`,
      });
      return;
    }
    sendJson(
      res,
      200,
      {
        '@odata.context': context,
        '@odata.deltaLink': `${root}accounts?${SELECT}&$deltatoken=${TOKEN_1}`,
        value: [{ name: 'Monte Orton', accountid: '60c4e274-0d87-e711-80e5-00155db19e6d' }],
      },
      { 'Preference-Applied': 'odata.track-changes' },
    );
  });
  return peer;
}

describe('dataverse/changeTracking (local peer with the documented shapes)', () => {
  let peer: Peer | undefined;
  afterEach(async () => {
    await peer?.close();
    peer = undefined;
  });

  it('starts tracking over several pages, stores the delta link, then reports changes and deletions', async () => {
    peer = await trackingPeer();
    const client = clientFor(peer.url, 't');
    const store = memoryDeltaLinkStore();
    const tracker = new ChangeTracker(client, store, `accounts?${SELECT}`, 'accounts');

    const first = await tracker.sync();
    assert.equal(first.initial, true);
    assert.deepEqual(
      first.changed.map((r) => r.name),
      ['First page', 'Monte Orton'],
    );
    assert.deepEqual(first.deleted, []);
    assert.match((await store.get('accounts')) ?? '', new RegExp(`deltatoken=${TOKEN_1}$`));
    assert.deepEqual(
      peer.requests.map((r) => r.headers.prefer),
      ['odata.track-changes', 'odata.track-changes'],
    );

    const second = await tracker.sync();
    assert.equal(second.initial, false);
    assert.deepEqual(
      second.changed.map((r) => r.accountid),
      ['60c4e274-0d87-e711-80e5-00155db19e6d'],
    );
    assert.deepEqual(second.deleted, [{ id: '2e451703-c686-e711-80e5-00155db19e6d', reason: 'deleted' }]);
    assert.equal(peer.requests[2]?.headers.prefer, undefined);

    const third = await tracker.sync();
    assert.deepEqual([third.changed.length, third.deleted.length], [0, 0]);
    assert.match((await store.get('accounts')) ?? '', new RegExp(`deltatoken=${TOKEN_2}$`));
  });

  it('says so when the table answers without a delta link (tracking not enabled)', async () => {
    peer = await startPeer((_request, res) => sendJson(res, 200, { value: [{ name: 'x' }] }));
    const error = await rejection(startTracking(clientFor(peer.url, 't'), 'accounts'));
    assert.equal(error.kind, 'odata');
    assert.match(error.message, /change tracking/);
  });
});

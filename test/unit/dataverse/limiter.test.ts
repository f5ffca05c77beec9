import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { RequestLimiter } from '../../../src/dataverse/limiter';
import type { Peer } from './helpers';
import { clientFor, FakeClock, rejection, sendError, sendJson, startPeer } from './helpers';

describe('dataverse/limiter', () => {
  let peer: Peer | undefined;
  afterEach(async () => {
    await peer?.close();
    peer = undefined;
  });

  it('never has more than its limit in flight at the server under 200 concurrent calls from two clients', async () => {
    const limit = 5;
    let serverActive = 0;
    let serverPeak = 0;
    const held: ServerResponse[] = [];
    const answer = (res: ServerResponse): void => {
      serverActive--;
      sendJson(res, 200, { value: [] });
    };
    peer = await startPeer((_request, res) => {
      serverActive++;
      serverPeak = Math.max(serverPeak, serverActive);
      // Hold the first answers until the limiter has filled every slot: proof the calls really overlap.
      if (held.length < limit && serverPeak < limit) {
        held.push(res);
        return;
      }
      for (const waiting of held.splice(0)) setImmediate(() => answer(waiting));
      setImmediate(() => answer(res));
    });
    const limiter = new RequestLimiter({ maxConcurrent: limit });
    const a = clientFor(peer.url, 't', { limiter });
    const b = clientFor(peer.url, 't', { limiter });
    const calls = Array.from({ length: 200 }, (_, i) => (i % 2 === 0 ? a : b).get('accounts'));
    const results = await Promise.all(calls);
    assert.equal(results.length, 200);
    assert.equal(peer.requests.length, 200);
    assert.equal(serverPeak, limit);
    assert.ok(limiter.peakInFlight <= limit);
    assert.equal(limiter.inFlight, 0);
    assert.equal(limiter.waiting, 0);
  });

  it('halves concurrency and pauses every caller for Retry-After after a 429, then recovers', async () => {
    const clock = new FakeClock();
    const limiter = new RequestLimiter({ maxConcurrent: 8, clock });
    limiter.feedback({ status: 429, retryAfterMs: 4000 });
    assert.equal(limiter.currentLimit, 4);
    const start = clock.now();
    const release = await limiter.acquire();
    assert.equal(clock.now() - start, 4000, 'the acquire waited out the pause on the clock');
    release();
    for (let i = 0; i < 4; i++) limiter.feedback({ status: 200 });
    assert.equal(limiter.currentLimit, 5);
  });

  it('lowers concurrency when the x-ms-ratelimit headers run low', () => {
    const limiter = new RequestLimiter({ maxConcurrent: 52 });
    limiter.feedback({ status: 200, headers: new Headers({ 'x-ms-ratelimit-burst-remaining-xrm-requests': '10' }) });
    assert.equal(limiter.currentLimit, 10);
    // Seconds with a thousands separator, as Dataverse writes them: plenty left changes nothing.
    limiter.feedback({
      status: 200,
      headers: new Headers({ 'x-ms-ratelimit-time-remaining-xrm-requests': '1,199.46' }),
    });
    assert.equal(limiter.currentLimit, 10);
    limiter.feedback({ status: 200, headers: new Headers({ 'x-ms-ratelimit-time-remaining-xrm-requests': '30.5' }) });
    assert.equal(limiter.currentLimit, 5);
    limiter.feedback({ status: 200, headers: new Headers({ 'x-ms-ratelimit-burst-remaining-xrm-requests': 'lots' }) });
    assert.equal(limiter.currentLimit, 5);
  });

  it('slows the client down when the service throttles, sharing the pause with other requests', async () => {
    const clock = new FakeClock();
    let throttled = false;
    peer = await startPeer((_request, res) => {
      if (!throttled) {
        throttled = true;
        sendError(res, 429, '0x80072326', 'Number of concurrent requests exceeded the limit of 52.', {
          'Retry-After': '2',
        });
        return;
      }
      sendJson(res, 200, { value: [] });
    });
    const limiter = new RequestLimiter({ maxConcurrent: 4, clock });
    const client = clientFor(peer.url, 't', { limiter, retry: { clock } });
    await client.get('accounts');
    assert.equal(limiter.currentLimit, 2);
    assert.deepEqual(clock.sleeps, [2000]);
  });

  it('lets a waiting caller cancel', async () => {
    const limiter = new RequestLimiter({ maxConcurrent: 1 });
    const release = await limiter.acquire();
    const controller = new AbortController();
    const waiting = rejection(limiter.acquire(controller.signal));
    controller.abort();
    assert.equal((await waiting).kind, 'cancelled');
    assert.equal(limiter.waiting, 0);
    release();
    assert.equal(limiter.inFlight, 0);
  });
});

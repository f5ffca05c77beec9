import assert from 'node:assert/strict';
import { WorkbenchError } from '../../../src/core/errors';
import type { AttemptResult } from '../../../src/dataverse/retryPolicy';
import { parseRetryAfter, RetryPolicy } from '../../../src/dataverse/retryPolicy';
import type { ClientEvent } from '../../../src/dataverse/webApiClient';
import type { Peer } from './helpers';
import { clientFor, FakeClock, rejection, sendError, sendJson, startPeer } from './helpers';

const THROTTLED = new WorkbenchError(
  'throttled',
  'Number of requests exceeded the limit of 6000 over time window of 300 seconds.',
  {
    status: 429,
    code: '0x80072322',
  },
);

function script<T>(outcomes: AttemptResult<T>[]): (n: number) => Promise<AttemptResult<T>> {
  return (n) => {
    const outcome = outcomes[n - 1];
    if (outcome === undefined) throw new Error(`unexpected attempt ${n}`);
    return Promise.resolve(outcome);
  };
}

describe('dataverse/retryPolicy', () => {
  it('reads Retry-After as seconds or as an HTTP date', () => {
    const now = Date.UTC(2025, 0, 15, 12, 0, 0);
    assert.equal(parseRetryAfter('7', now), 7000);
    assert.equal(parseRetryAfter('0', now), 0);
    assert.equal(parseRetryAfter('Wed, 15 Jan 2025 12:00:42 GMT', now), 42_000);
    assert.equal(parseRetryAfter('Wed, 15 Jan 2025 11:00:00 GMT', now), 0);
    assert.equal(parseRetryAfter('soon', now), undefined);
    assert.equal(parseRetryAfter(null, now), undefined);
  });

  it('waits exactly what Retry-After says, then succeeds', async () => {
    const clock = new FakeClock();
    const policy = new RetryPolicy({ clock, random: () => 0.5 });
    const value = await policy.run(
      script([
        { type: 'retry', error: THROTTLED, retryAfterMs: 3000 },
        { type: 'retry', error: THROTTLED, retryAfterMs: 12_000 },
        { type: 'done', value: 'ok' },
      ]),
    );
    assert.equal(value, 'ok');
    assert.deepEqual(clock.sleeps, [3000, 12_000]);
  });

  it('backs off exponentially with full jitter inside [0, min(cap, base·2^n)]', async () => {
    for (const random of [0, 0.999_999]) {
      const policy = new RetryPolicy({
        clock: new FakeClock(),
        random: () => random,
        baseDelayMs: 100,
        maxDelayMs: 1000,
        maxAttempts: 7,
      });
      const network = new WorkbenchError('network', 'reset');
      const delays: number[] = [];
      await policy.run(
        script([
          ...Array.from({ length: 6 }, () => ({ type: 'retry' as const, error: network })),
          { type: 'done', value: 1 },
        ]),
        { onRetry: (event) => delays.push(event.delayMs) },
      );
      const ceilings = [100, 200, 400, 800, 1000, 1000];
      assert.deepEqual(
        delays,
        ceilings.map((ceiling) => (random === 0 ? 0 : ceiling - 1)),
      );
    }
    const spread = new RetryPolicy({ random: Math.random, baseDelayMs: 100, maxDelayMs: 1000 });
    for (let i = 0; i < 1000; i++) {
      const ms = spread.backoffMs(i % 8);
      assert.ok(ms >= 0 && ms < Math.min(1000, 100 * 2 ** (i % 8)), `backoff ${ms}`);
    }
  });

  it('gives up when the next wait would overrun the budget, keeping the kind and code', async () => {
    const clock = new FakeClock();
    const policy = new RetryPolicy({ clock, budgetMs: 10_000 });
    const error = await rejection(
      policy.run(
        script([
          { type: 'retry', error: THROTTLED, retryAfterMs: 6000 },
          { type: 'retry', error: THROTTLED, retryAfterMs: 6000 },
        ]),
      ),
    );
    assert.equal(error.kind, 'throttled');
    assert.equal(error.code, '0x80072322');
    assert.match(error.message, /budget/);
    assert.deepEqual(clock.sleeps, [6000]);
  });

  it('stops after the attempt limit and never sleeps for a failure', async () => {
    const clock = new FakeClock();
    const policy = new RetryPolicy({ clock, maxAttempts: 2, random: () => 0 });
    const network = new WorkbenchError('network', 'reset');
    const error = await rejection(
      policy.run(
        script([
          { type: 'retry', error: network },
          { type: 'retry', error: network },
        ]),
      ),
    );
    assert.match(error.message, /after 2 attempts/);
    const conflict = new WorkbenchError('conflict', 'no');
    assert.equal((await rejection(policy.run(script([{ type: 'fail', error: conflict }])))).kind, 'conflict');
  });

  it('stops waiting when cancelled', async () => {
    const clock = new FakeClock();
    const controller = new AbortController();
    controller.abort();
    const policy = new RetryPolicy({ clock });
    const error = await rejection(policy.run(script([{ type: 'done', value: 1 }]), { signal: controller.signal }));
    assert.equal(error.kind, 'cancelled');
  });
});

describe('dataverse/webApiClient retries over HTTP (local peer, fake clock)', () => {
  let peer: Peer | undefined;
  afterEach(async () => {
    await peer?.close();
    peer = undefined;
  });

  it('honours 429 Retry-After in seconds and as a date, and reports each retry', async () => {
    const clock = new FakeClock();
    const retryDate = new Date(clock.now() + 20_000).toUTCString();
    peer = await startPeer((_request, res) => {
      const n = peer?.requests.length ?? 0;
      if (n === 1)
        sendError(
          res,
          429,
          '0x80072322',
          'Number of requests exceeded the limit of 6000 over time window of 300 seconds.',
          { 'Retry-After': '5' },
        );
      else if (n === 2)
        sendError(res, 429, '0x80072326', 'Number of concurrent requests exceeded the limit of 52.', {
          'Retry-After': retryDate,
        });
      else sendJson(res, 200, { value: [{ id: 1 }] });
    });
    const events: ClientEvent[] = [];
    const client = clientFor(peer.url, 't', { retry: { clock }, onEvent: (e) => events.push(e) });
    const body = await client.get("accounts?$filter=name eq 'secret'");
    assert.deepEqual(body.value, [{ id: 1 }]);
    // The date names a moment 20 s after the start; 5 s of it passed in the first wait.
    assert.deepEqual(clock.sleeps, [5000, 15_000]);
    assert.deepEqual(
      events.map((e) => (e.type === 'retry' ? [e.source, e.delayMs, e.status, e.path] : [e.type])),
      [
        ['retryAfter', 5000, 429, '/api/data/v9.2/accounts'],
        ['retryAfter', 15_000, 429, '/api/data/v9.2/accounts'],
      ],
    );
  });

  it('retries 503 on a GET with backoff, but not on a POST without a client key', async () => {
    const clock = new FakeClock();
    peer = await startPeer((request, res) => {
      const gets = peer?.requests.filter((r) => r.method === 'GET').length ?? 0;
      if (request.method === 'GET' && gets < 3) sendError(res, 503, '', 'Service Unavailable');
      else if (request.method === 'GET') sendJson(res, 200, { value: [] });
      else sendError(res, 503, '', 'Service Unavailable');
    });
    const client = clientFor(peer.url, 't', { retry: { clock, random: () => 0.5, baseDelayMs: 1000 } });
    await client.get('accounts');
    assert.deepEqual(clock.sleeps, [500, 1000]);
    const error = await rejection(client.request({ method: 'POST', path: 'accounts', body: { name: 'n' } }));
    assert.equal(error.kind, 'network');
    assert.equal(error.status, 503);
    assert.equal(peer.requests.filter((r) => r.method === 'POST').length, 1);
  });

  it('gives up on a 429 whose Retry-After exceeds the budget and passes the wait on', async () => {
    const clock = new FakeClock();
    peer = await startPeer((_request, res) =>
      sendError(res, 429, '0x80072321', 'Combined execution time exceeded.', { 'Retry-After': '600' }),
    );
    const client = clientFor(peer.url, 't', { retry: { clock, budgetMs: 60_000 } });
    const error = await rejection(client.get('accounts'));
    assert.equal(error.kind, 'throttled');
    assert.equal(error.retryAfterMs, 600_000);
    assert.deepEqual(clock.sleeps, []);
    assert.equal(peer.requests.length, 1);
  });
});

import assert from 'node:assert/strict';
import { isLoopback } from '../../../src/emulator/loopback';
import { parseFaults, seededRandom } from '../../../src/emulator/faults';
import { parseLimits, SpecError } from '../../../src/emulator/protection';
import type { Client } from './helpers';
import { errorOf, startClient } from './helpers';

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

describe('emulator service protection (--limits)', function () {
  this.timeout(60_000);
  let client: Client | undefined;
  afterEach(async () => {
    await client?.emulator.close();
    client = undefined;
  });

  it('parses limit specs and refuses bad ones', () => {
    assert.deepEqual(parseLimits('requests=100/10s'), { requests: { count: 100, windowMs: 10_000 } });
    assert.deepEqual(parseLimits('requests=6000/300s,concurrent=52,time=1200s/300s'), {
      requests: { count: 6000, windowMs: 300_000 },
      concurrent: 52,
      time: { budgetMs: 1_200_000, windowMs: 300_000 },
    });
    assert.equal(parseLimits('dataverse').concurrent, 52);
    for (const bad of [
      'requests=100',
      'requests=0/10s',
      'concurrent=x',
      'time=5s/0s',
      'speed=1',
      'concurrent=1,concurrent=2',
    ]) {
      assert.throws(() => parseLimits(bad), SpecError, bad);
    }
  });

  it('a burst of 300 against requests=100/10s gets 429s whose Retry-After is honest', async () => {
    client = await startClient({ seed: 'none', limits: parseLimits('requests=100/10s') });
    const c = client;
    const responses = await Promise.all(Array.from({ length: 300 }, () => c.request('GET', 'WhoAmI')));
    const ok = responses.filter((r) => r.status === 200);
    const throttled = responses.filter((r) => r.status === 429);
    assert.equal(ok.length, 100);
    assert.equal(throttled.length, 200);
    const remaining = ok
      .map((r) => Number(r.headers.get('x-ms-ratelimit-burst-remaining-xrm-requests')))
      .sort((a, b) => a - b);
    assert.deepEqual([remaining[0], remaining[99]], [0, 99]);
    const error = await errorOf(throttled[0] as Response);
    assert.deepEqual(error, {
      code: '0x80072322',
      message: 'Number of requests exceeded the limit of 100 over time window of 10 seconds.',
    });
    const waits = throttled.map((r) => Number(r.headers.get('Retry-After')));
    assert.ok(
      waits.every((s) => Number.isInteger(s) && s >= 1 && s <= 10),
      waits.join(),
    );
    await Promise.all(throttled.slice(1).map((r) => r.arrayBuffer()));
    // Honest: after the longest Retry-After the whole window has passed, so a full burst goes through again.
    await sleep(Math.max(...waits) * 1000);
    const again = await Promise.all(Array.from({ length: 100 }, () => c.request('GET', 'WhoAmI')));
    assert.deepEqual(
      again.map((r) => r.status),
      Array.from({ length: 100 }, () => 200),
    );
    assert.equal((await c.request('GET', 'WhoAmI')).status, 429, 'and the 101st in the window is refused');
  });

  it('refuses requests beyond the concurrency limit at once, and counts execution time', async () => {
    client = await startClient({
      seed: 'none',
      limits: parseLimits('concurrent=2,time=1s/60s'),
      faults: parseFaults('latency=600ms'),
    });
    const c = client;
    const responses = await Promise.all(Array.from({ length: 5 }, () => c.request('GET', 'WhoAmI')));
    assert.deepEqual(responses.map((r) => r.status).sort(), [200, 200, 429, 429, 429]);
    const refused = responses.find((r) => r.status === 429) as Response;
    assert.equal(refused.headers.get('Retry-After'), '1');
    assert.deepEqual(await errorOf(refused), {
      code: '0x80072326',
      message: 'Number of concurrent requests exceeded the limit of 2.',
    });
    // Two requests of 600 ms each have used up the 1 s budget: the next is refused for execution time.
    const over = await c.request('GET', 'WhoAmI');
    assert.equal(over.status, 429);
    const error = await errorOf(over);
    assert.equal(error.code, '0x80072321');
    assert.match(
      error.message,
      /^Combined execution time of incoming requests exceeded limit of 1,000 {2}milliseconds over time window of 60 seconds\./,
    );
    const retryAfter = Number(over.headers.get('Retry-After'));
    assert.ok(retryAfter > 55 && retryAfter <= 60, String(retryAfter));
  });
});

describe('emulator fault injection (--faults, /_emulator/faults)', function () {
  this.timeout(20_000);
  let client: Client | undefined;
  afterEach(async () => {
    await client?.emulator.close();
    client = undefined;
  });

  it('parses fault specs, and its PRNG replays with a seed', () => {
    assert.deepEqual(parseFaults('503=5%,reset=2%,latency=20-200ms'), {
      unavailable: 0.05,
      reset: 0.02,
      latencyMs: { min: 20, max: 200 },
    });
    assert.deepEqual(parseFaults('after-commit=25%,seed=9,latency=1s'), {
      resetAfterCommit: 0.25,
      seed: 9,
      latencyMs: { min: 1000, max: 1000 },
    });
    for (const bad of ['503=5', 'latency=20', 'reset=101%', 'latency=200-20ms', 'fire=1%', '503=60%,reset=60%']) {
      assert.throws(() => parseFaults(bad), SpecError, bad);
    }
    const a = seededRandom(7);
    const b = seededRandom(7);
    const first = Array.from({ length: 5 }, a);
    assert.deepEqual(first, Array.from({ length: 5 }, b));
    assert.ok(first.every((x) => x >= 0 && x < 1));
  });

  it('switches faults on and off at run time through the admin endpoint', async () => {
    client = await startClient({ seed: 'none' });
    const admin = `${client.emulator.url}/_emulator/faults`;
    const post = (body: unknown, contentType = 'application/json'): Promise<Response> =>
      fetch(admin, { method: 'POST', headers: { 'Content-Type': contentType }, body: JSON.stringify(body) });
    assert.equal((await client.request('GET', 'WhoAmI')).status, 200);
    assert.equal((await post({ unavailable: 1 })).status, 200);
    const unavailable = await client.request('GET', 'WhoAmI');
    assert.equal(unavailable.status, 503);
    await unavailable.body?.cancel();
    assert.equal((await post('reset=100%,after-commit=0%')).status, 200);
    await assert.rejects(client.request('GET', 'WhoAmI'));
    assert.equal((await post({ unavailable: 2 })).status, 400);
    assert.equal((await post({ unavailable: 0 }, 'text/plain')).status, 415, 'no simple cross-site requests');
    const off = await fetch(admin, { method: 'DELETE' });
    const state = (await off.json()) as { faults: unknown; counts: Record<string, number> };
    assert.deepEqual(state.faults, {});
    assert.equal(state.counts.unavailable, 1);
    assert.equal(state.counts.resetBeforeCommit, 1);
    assert.equal((await client.request('GET', 'WhoAmI')).status, 200);
  });

  it('a reset after commit keeps the write; one before commit does not', async () => {
    client = await startClient({ seed: 'none', faults: { reset: 1, resetAfterCommit: 1 } });
    await assert.rejects(client.request('POST', 'accounts', { body: { name: 'After' } }));
    client.emulator.access.faults.configure({ reset: 1, resetAfterCommit: 0 });
    await assert.rejects(client.request('POST', 'accounts', { body: { name: 'Before' } }));
    client.emulator.access.faults.configure({});
    const rows = (await (await client.request('GET', 'accounts?$select=name')).json()) as { value: { name: string }[] };
    assert.deepEqual(
      rows.value.map((r) => r.name),
      ['After'],
    );
  });

  it('only loopback callers may use the admin endpoint', () => {
    for (const address of ['127.0.0.1', '127.1.2.3', '::1', '::ffff:127.0.0.1'])
      assert.ok(isLoopback(address), address);
    for (const address of [undefined, '10.0.0.1', '::ffff:10.0.0.1', '192.168.1.127', '::2', '1127.0.0.1'])
      assert.ok(!isLoopback(address), String(address));
  });
});

import * as assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { encodeRemoteExecutionContext, parseRemoteExecutionContext } from '../../../src/core/remoteExecutionContext';
import { startWebhookReceiver } from '../../../src/webhooks/receiver';
import type {
  RejectedDelivery,
  WebhookDelivery,
  WebhookReceiver,
  WebhookReceiverOptions,
} from '../../../src/webhooks/receiver';
import { FIXTURES, fixtureText } from './helpers';

const KEY = 'k3y-Ωmega/with+symbols';

interface Harness {
  readonly receiver: WebhookReceiver;
  readonly deliveries: WebhookDelivery[];
  readonly rejections: RejectedDelivery[];
}

let open: WebhookReceiver[] = [];

async function harness(options: Partial<WebhookReceiverOptions> = {}): Promise<Harness> {
  const deliveries: WebhookDelivery[] = [];
  const rejections: RejectedDelivery[] = [];
  const receiver = await startWebhookReceiver({
    onDelivery: (delivery) => {
      deliveries.push(delivery);
    },
    onRejected: (rejection) => rejections.push(rejection),
    ...options,
  });
  open.push(receiver);
  return { receiver, deliveries, rejections };
}

function post(url: string, body: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } });
}

function withCode(url: string, code: string): string {
  return `${url}?code=${encodeURIComponent(code)}`;
}

/** Streams a body without Content-Length, so the receiver must count as the bytes arrive. */
function postChunked(url: string, chunk: Buffer, times: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: 'POST', headers: { 'transfer-encoding': 'chunked' } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    // The receiver may answer and close before everything is written; that is the behaviour under test.
    req.on('error', (error: NodeJS.ErrnoException) =>
      error.code === 'EPIPE' || error.code === 'ECONNRESET' ? undefined : reject(error),
    );
    for (let i = 0; i < times; i++) req.write(chunk);
    req.end();
  });
}

describe('webhook receiver', () => {
  afterEach(async () => {
    await Promise.all(open.map((receiver) => receiver.close()));
    open = [];
  });

  it('listens on loopback on a free port by default', async () => {
    const { receiver } = await harness();
    assert.match(receiver.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
    assert.ok(receiver.port > 0);
  });

  it('accepts every real payload and records the documented headers', async () => {
    const { receiver, deliveries } = await harness({ key: KEY });
    for (const name of FIXTURES) {
      const expected = parseRemoteExecutionContext(fixtureText(name));
      const response = await post(withCode(receiver.url, KEY), fixtureText(name), {
        'x-ms-dynamics-organization': 'contoso.crm.dynamics.com',
        'x-ms-dynamics-entity-name': expected.primaryEntityName,
        'x-ms-dynamics-request-name': expected.messageName,
        'x-ms-correlation-request-id': expected.correlationId,
      });
      assert.equal(response.status, 200, name);
      const delivery = deliveries.at(-1) ?? assert.fail('delivered');
      assert.deepEqual(delivery.context, expected);
      assert.equal(delivery.body, fixtureText(name));
      assert.equal(delivery.bodyBytes, Buffer.byteLength(fixtureText(name)));
      assert.deepEqual(delivery.headers, {
        organization: 'contoso.crm.dynamics.com',
        entityName: expected.primaryEntityName,
        requestName: expected.messageName,
        correlationRequestId: expected.correlationId,
        requestId: undefined,
        msgSizeExceeded: false,
      });
    }
    assert.equal(deliveries.length, FIXTURES.length);
  });

  it('notes x-ms-dynamics-msg-size-exceeded and accepts the trimmed body', async () => {
    const { receiver, deliveries } = await harness();
    const full = parseRemoteExecutionContext(fixtureText('update-contact-docs-sample'));
    const trimmed = encodeRemoteExecutionContext({
      ...full,
      inputParameters: undefined,
      parentContext: undefined,
      preEntityImages: undefined,
      postEntityImages: undefined,
    });
    const response = await post(receiver.url, trimmed, { 'x-ms-dynamics-msg-size-exceeded': '' });
    assert.equal(response.status, 200);
    assert.equal(deliveries[0]?.headers.msgSizeExceeded, true);
    assert.equal(deliveries[0]?.context.inputParameters, undefined);
  });

  it('answers 401 to a missing or wrong key, without naming the key, and keeps running', async () => {
    const { receiver, deliveries, rejections } = await harness({ key: KEY });
    const body = fixtureText('update-contact-docs-sample');
    assert.equal((await post(receiver.url, body)).status, 401);
    assert.equal((await post(withCode(receiver.url, 'wrong'), body)).status, 401);
    assert.equal((await post(withCode(receiver.url, `${KEY}x`), body)).status, 401);
    assert.equal((await post(withCode(receiver.url, KEY.slice(0, -1)), body)).status, 401);
    const denied = await post(withCode(receiver.url, 'wrong'), body);
    assert.doesNotMatch(await denied.text(), /k3y/);
    assert.equal(deliveries.length, 0);
    assert.deepEqual(
      rejections.map((r) => r.status),
      [401, 401, 401, 401, 401],
    );
    assert.ok(rejections.every((r) => !r.reason.includes(KEY)));
    assert.equal((await post(withCode(receiver.url, KEY), body)).status, 200);
    assert.equal(deliveries.length, 1);
  });

  it('checks HttpHeader and HttpQueryString auth, every configured value', async () => {
    const body = fixtureText('update-contact-docs-sample');
    const headers = await harness({ key: { kind: 'httpHeader', values: { 'X-Key': 'one', 'x-other': 'two' } } });
    assert.equal((await post(headers.receiver.url, body, { 'x-key': 'one', 'x-other': 'two' })).status, 200);
    assert.equal((await post(headers.receiver.url, body, { 'x-key': 'one' })).status, 401);
    assert.equal((await post(headers.receiver.url, body, { 'x-key': 'one', 'x-other': 'TWO' })).status, 401);
    const query = await harness({ key: { kind: 'httpQueryString', values: { k1: 'v1', k2: 'v2' } } });
    assert.equal((await post(`${query.receiver.url}?k1=v1&k2=v2`, body)).status, 200);
    assert.equal((await post(`${query.receiver.url}?k1=v1`, body)).status, 401);
    assert.equal((await post(`${query.receiver.url}?code=v1`, body)).status, 401);
  });

  it('refuses bodies over the limit with 413 and keeps running', async () => {
    const { receiver, deliveries, rejections } = await harness();
    const huge = ' '.repeat(1024 * 1024 + 1);
    assert.equal((await post(receiver.url, huge)).status, 413);
    assert.equal(await postChunked(receiver.url, Buffer.alloc(64 * 1024, 0x20), 20), 413);
    assert.deepEqual(
      rejections.map((r) => r.status),
      [413, 413],
    );
    // Exactly at the limit is still accepted.
    const body = fixtureText('update-contact-docs-sample');
    const padded = body + ' '.repeat(1024 * 1024 - Buffer.byteLength(body));
    assert.equal((await post(receiver.url, padded)).status, 200);
    assert.equal(deliveries.length, 1);
  });

  it('honours a smaller maxBodyBytes', async () => {
    const { receiver } = await harness({ maxBodyBytes: 1000 });
    assert.equal((await post(receiver.url, fixtureText('update-contact-docs-sample'))).status, 413);
  });

  it('answers 400 to malformed JSON and to JSON that is not a context, and keeps running', async () => {
    const { receiver, deliveries, rejections } = await harness();
    const malformed = await post(receiver.url, '{"MessageName": "Update",');
    assert.equal(malformed.status, 400);
    const notContext = await post(receiver.url, '{"hello":"world"}');
    assert.equal(notContext.status, 400);
    assert.match(await notContext.text(), /\$\.BusinessUnitId should be a string/);
    assert.equal((await post(receiver.url, '')).status, 400);
    assert.deepEqual(
      rejections.map((r) => r.status),
      [400, 400, 400],
    );
    assert.equal((await post(receiver.url, fixtureText('create-account'))).status, 200);
    assert.equal(deliveries.length, 1);
  });

  it('answers 405 to anything but POST', async () => {
    const { receiver } = await harness();
    const response = await fetch(receiver.url);
    assert.equal(response.status, 405);
    assert.equal(response.headers.get('allow'), 'POST');
  });

  it('answers 500 when the handler fails, and keeps running', async () => {
    let fail = true;
    const { receiver } = await harness({
      onDelivery: () => {
        if (fail) throw new Error('handler broke');
      },
    });
    const body = fixtureText('update-contact-docs-sample');
    assert.equal((await post(receiver.url, body)).status, 500);
    fail = false;
    assert.equal((await post(receiver.url, body)).status, 200);
  });

  it('takes concurrent deliveries, each decoded on its own', async () => {
    const { receiver, deliveries } = await harness({ key: KEY });
    const base = parseRemoteExecutionContext(fixtureText('update-contact-docs-sample'));
    const ids = Array.from({ length: 25 }, (_, i) => `00000000-0000-0000-0000-${String(i).padStart(12, '0')}`);
    const statuses = await Promise.all(
      ids.map((id, i) =>
        post(
          withCode(receiver.url, KEY),
          i % 5 === 0 ? '{broken' : encodeRemoteExecutionContext({ ...base, correlationId: id }),
        ).then((r) => r.status),
      ),
    );
    assert.deepEqual(
      statuses,
      ids.map((_, i) => (i % 5 === 0 ? 400 : 200)),
    );
    assert.deepEqual(
      deliveries.map((d) => d.context.correlationId).sort(),
      ids.filter((_, i) => i % 5 !== 0),
    );
  });
});

import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describeError, isWorkbenchError } from '../core/errors';
import { parseRemoteExecutionContext } from '../core/remoteExecutionContext';
import type { RemoteExecutionContext } from '../core/remoteExecutionContext';

/**
 * How Dataverse authenticates to the endpoint (serviceendpoint `authtype`): WebhookKey sends
 * `?code=<key>`, HttpHeader the configured headers, HttpQueryString the configured query parameters.
 */
export type ReceiverAuth =
  | { readonly kind: 'webhookKey'; readonly key: string }
  | { readonly kind: 'httpHeader'; readonly values: Readonly<Record<string, string>> }
  | { readonly kind: 'httpQueryString'; readonly values: Readonly<Record<string, string>> };

/** The documented delivery headers (§13.5); absent ones are undefined. */
export interface DeliveryHeaders {
  readonly organization?: string;
  readonly entityName?: string;
  readonly requestName?: string;
  readonly correlationRequestId?: string;
  /** Only listed in the 2018 documentation. */
  readonly requestId?: string;
  /** Dataverse dropped ParentContext, InputParameters and the images because the body passed 256 KB. */
  readonly msgSizeExceeded: boolean;
}

export interface WebhookDelivery {
  readonly receivedAt: Date;
  readonly context: RemoteExecutionContext;
  readonly headers: DeliveryHeaders;
  /** The body text as received, for "show raw JSON". */
  readonly body: string;
  readonly bodyBytes: number;
}

export interface RejectedDelivery {
  readonly status: 400 | 401 | 405 | 413 | 500;
  /** Safe to show: never contains the key or the body. */
  readonly reason: string;
}

export interface WebhookReceiverOptions {
  readonly host?: string;
  readonly port?: number;
  /** A bare string is a WebhookKey. Without it every delivery is accepted. */
  readonly key?: string | ReceiverAuth;
  readonly maxBodyBytes?: number;
  /** Awaited before answering, so a synchronous step sees a failure as Dataverse would. */
  readonly onDelivery: (delivery: WebhookDelivery) => void | Promise<void>;
  readonly onRejected?: (rejection: RejectedDelivery) => void;
}

export interface WebhookReceiver {
  /** `http://host:port/`; with a WebhookKey, register `${url}?code=<key>`. */
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

/** Past this much discarded body the connection is cut instead of drained, so nobody can stream forever. */
const DRAIN_LIMIT_FACTOR = 16;

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/**
 * Comparing SHA-256 digests keeps both operands 32 bytes long, so neither the length nor the content
 * of the expected secret leaks through timing (timingSafeEqual itself needs equal lengths).
 */
function secretEquals(received: string | undefined, expected: string): boolean {
  return timingSafeEqual(digest(received ?? ''), digest(expected)) && received !== undefined;
}

function firstHeader(request: IncomingMessage, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function authorized(request: IncomingMessage, url: URL, auth: ReceiverAuth | undefined): boolean {
  if (!auth) return true;
  const checks: boolean[] = [];
  switch (auth.kind) {
    case 'webhookKey':
      checks.push(secretEquals(url.searchParams.get('code') ?? undefined, auth.key));
      break;
    case 'httpHeader':
      for (const [name, value] of Object.entries(auth.values))
        checks.push(secretEquals(firstHeader(request, name.toLowerCase()), value));
      break;
    case 'httpQueryString':
      for (const [name, value] of Object.entries(auth.values))
        checks.push(secretEquals(url.searchParams.get(name) ?? undefined, value));
      break;
  }
  // Every value is compared before deciding, so the time taken does not reveal which one differed.
  return checks.every(Boolean);
}

function deliveryHeaders(request: IncomingMessage): DeliveryHeaders {
  return {
    organization: firstHeader(request, 'x-ms-dynamics-organization'),
    entityName: firstHeader(request, 'x-ms-dynamics-entity-name'),
    requestName: firstHeader(request, 'x-ms-dynamics-request-name'),
    correlationRequestId: firstHeader(request, 'x-ms-correlation-request-id'),
    requestId: firstHeader(request, 'x-request-id'),
    msgSizeExceeded: request.headers['x-ms-dynamics-msg-size-exceeded'] !== undefined,
  };
}

type BodyResult = { readonly kind: 'body'; readonly bytes: Buffer } | { readonly kind: 'tooLarge' };

function readBody(request: IncomingMessage, maxBytes: number): Promise<BodyResult> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let received = 0;
    let tooLarge = false;
    const declared = Number(firstHeader(request, 'content-length'));
    if (Number.isFinite(declared) && declared > maxBytes) tooLarge = true;
    request.on('data', (chunk: Buffer) => {
      received += chunk.length;
      if (received > maxBytes) tooLarge = true;
      if (tooLarge) {
        chunks.length = 0;
        if (received > maxBytes * DRAIN_LIMIT_FACTOR) {
          request.destroy();
          resolve({ kind: 'tooLarge' });
        }
        return;
      }
      chunks.push(chunk);
    });
    request.on('end', () => resolve(tooLarge ? { kind: 'tooLarge' } : { kind: 'body', bytes: Buffer.concat(chunks) }));
    request.on('error', reject);
  });
}

function answer(response: ServerResponse, status: number, text: string): void {
  if (response.headersSent || response.destroyed) return;
  response.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
  response.end(`${text}\n`);
}

/**
 * Starts an HTTP receiver for Dataverse webhook deliveries. Bad requests are answered and reported
 * through `onRejected`; none of them stops the receiver. Nothing here logs: the key and the record
 * data stay with the caller.
 */
export async function startWebhookReceiver(options: WebhookReceiverOptions): Promise<WebhookReceiver> {
  const host = options.host ?? '127.0.0.1';
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const auth: ReceiverAuth | undefined =
    typeof options.key === 'string' ? { kind: 'webhookKey', key: options.key } : options.key;

  const reject = (response: ServerResponse, rejection: RejectedDelivery): void => {
    answer(response, rejection.status, rejection.reason);
    options.onRejected?.(rejection);
  };

  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const url = new URL(request.url ?? '/', 'http://receiver.invalid');
    if (request.method !== 'POST') {
      response.setHeader('allow', 'POST');
      request.resume();
      return reject(response, {
        status: 405,
        reason: `Method ${request.method ?? '?'} not allowed; deliveries are POSTs.`,
      });
    }
    if (!authorized(request, url, auth)) {
      request.resume();
      return reject(response, { status: 401, reason: 'The webhook key is missing or wrong.' });
    }
    const body = await readBody(request, maxBodyBytes);
    if (body.kind === 'tooLarge') {
      response.setHeader('connection', 'close');
      return reject(response, { status: 413, reason: `The body is larger than ${maxBodyBytes} bytes.` });
    }
    const text = body.bytes.toString('utf8');
    let context: RemoteExecutionContext;
    try {
      context = parseRemoteExecutionContext(text);
    } catch (error) {
      if (!isWorkbenchError(error) || error.kind !== 'invalidInput') throw error;
      return reject(response, { status: 400, reason: error.message });
    }
    try {
      await options.onDelivery({
        receivedAt: new Date(),
        context,
        headers: deliveryHeaders(request),
        body: text,
        bodyBytes: body.bytes.length,
      });
    } catch (error) {
      return reject(response, { status: 500, reason: `The delivery handler failed: ${describeError(error)}` });
    }
    answer(response, 200, 'OK');
  };

  const server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      reject(response, { status: 500, reason: `The receiver failed: ${describeError(error)}` });
    });
  });
  // A client that goes away mid-body must not take the receiver down with it.
  server.on('clientError', (_error, socket) => socket.destroy());

  await new Promise<void>((resolve, rejectListen) => {
    server.once('error', rejectListen);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', rejectListen);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const urlHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${urlHost}:${address.port}/`,
    port: address.port,
    close: () =>
      new Promise<void>((resolve, rejectClose) => {
        server.close((error) => (error ? rejectClose(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}

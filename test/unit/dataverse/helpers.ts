import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WorkbenchError } from '../../../src/core/errors';
import { RequestLimiter } from '../../../src/dataverse/limiter';
import type { Clock } from '../../../src/dataverse/retryPolicy';
import type { WebApiClientOptions } from '../../../src/dataverse/webApiClient';
import { staticTokenProvider, WebApiClient } from '../../../src/dataverse/webApiClient';

/**
 * Time that passes only when someone sleeps: the retry policy's waits are recorded instead of waited,
 * and `now()` moves by exactly what was slept. HTTP still runs for real underneath.
 */
export class FakeClock implements Clock {
  readonly sleeps: number[] = [];
  constructor(public current = Date.UTC(2025, 0, 15, 12, 0, 0)) {}
  now(): number {
    return this.current;
  }
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(new WorkbenchError('cancelled', 'The request was cancelled.'));
    this.sleeps.push(ms);
    this.current += ms;
    return Promise.resolve();
  }
}

export interface PeerRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingMessage['headers'];
  readonly body: string;
}

export interface Peer {
  readonly url: string;
  readonly requests: PeerRequest[];
  close(): Promise<void>;
}

export type PeerHandler = (request: PeerRequest, res: ServerResponse, req: IncomingMessage) => void | Promise<void>;

/**
 * A real HTTP server on 127.0.0.1 for what the emulator cannot do yet (batch, change tracking,
 * throttling, dropped connections): it answers with the wire shapes of the shared fixtures.
 */
export async function startPeer(handler: PeerHandler): Promise<Peer> {
  const requests: PeerRequest[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const request: PeerRequest = {
        method: req.method ?? 'GET',
        url: req.url ?? '/',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      requests.push(request);
      Promise.resolve(handler(request, res, req)).catch((error: unknown) => {
        res.writeHead(500);
        res.end(String(error));
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json; odata.metadata=minimal',
    'OData-Version': '4.0',
    'Content-Length': String(Buffer.byteLength(text)),
    ...headers,
  });
  res.end(text);
}

export function sendError(
  res: ServerResponse,
  status: number,
  code: string,
  message: string,
  headers: Record<string, string> = {},
): void {
  sendJson(res, status, { error: { code, message } }, headers);
}

/** A client on `url` with its own limiter (tests must not share the process budget) and a fake clock. */
export function clientFor(url: string, token: string, options: Partial<WebApiClientOptions> = {}): WebApiClient {
  const clock = options.retry?.clock ?? new FakeClock();
  return new WebApiClient({
    url,
    tokenProvider: staticTokenProvider(token),
    limiter: new RequestLimiter({ clock }),
    ...options,
    retry: { ...options.retry, clock },
  });
}

export async function rejection(promise: Promise<unknown>): Promise<WorkbenchError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof WorkbenchError) return error;
    throw error;
  }
  throw new Error('expected the promise to reject');
}

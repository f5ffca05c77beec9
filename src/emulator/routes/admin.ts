import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FaultInjector } from '../faults';
import { faultsFromJson } from '../faults';
import { isLoopback, namesThisMachine } from '../loopback';
import { readBody } from '../readBody';

const MAX_ADMIN_BODY = 16 * 1024;

function adminReply(res: ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value);
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': String(Buffer.byteLength(body)),
    'Cache-Control': 'no-store',
  });
  res.end(body);
}

/**
 * `/_emulator/faults`: GET shows the fault plan and counts, POST/PUT (JSON) replaces it, DELETE clears it.
 * Faults change what every caller sees, so only this machine may change them: a loopback caller that names
 * this machine in `Host` (not a DNS-rebinding page's name).
 */
export async function adminRoute(
  faults: FaultInjector,
  boundAddress: string,
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
): Promise<void> {
  if (!isLoopback(req.socket.remoteAddress)) {
    req.resume();
    adminReply(res, 403, { error: 'The emulator admin endpoint answers loopback callers only.' });
    return;
  }
  if (!namesThisMachine(req, boundAddress)) {
    req.resume();
    adminReply(res, 403, { error: 'The emulator admin endpoint answers requests for localhost or 127.0.0.1 only.' });
    return;
  }
  if (path !== '/_emulator/faults') {
    req.resume();
    adminReply(res, 404, { error: `No admin resource ${path}.` });
    return;
  }
  const method = req.method ?? 'GET';
  if (method === 'GET' || method === 'DELETE') {
    req.resume();
    if (method === 'DELETE') faults.configure({});
    adminReply(res, 200, { faults: faults.current, counts: faults.counts });
    return;
  }
  if (method !== 'POST' && method !== 'PUT') {
    req.resume();
    adminReply(res, 405, { error: 'Use GET, POST or DELETE.' });
    return;
  }
  // JSON only: a web page cannot send that cross-origin without a preflight this endpoint never answers.
  if (!/^application\/json\b/i.test(req.headers['content-type'] ?? '')) {
    req.resume();
    adminReply(res, 415, { error: 'Send the faults as application/json.' });
    return;
  }
  const raw = await readBody(req, MAX_ADMIN_BODY);
  if (raw === 'tooLarge') {
    req.resume();
    adminReply(res, 400, { error: 'The body is too large.' });
    return;
  }
  let body: unknown;
  try {
    body = JSON.parse(raw.toString('utf8')) as unknown;
  } catch {
    adminReply(res, 400, { error: 'The body is not JSON.' });
    return;
  }
  const parsed = faultsFromJson(body);
  if (typeof parsed === 'string') {
    adminReply(res, 400, { error: parsed });
    return;
  }
  faults.configure(parsed);
  adminReply(res, 200, { faults: faults.current, counts: faults.counts });
}

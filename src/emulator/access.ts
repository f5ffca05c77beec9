import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataverseHttpError, ErrorCodes } from './errors';
import type { Faults } from './faults';
import { FaultInjector, faultsFromJson } from './faults';
import type { IdentityEndpoint } from './identity';
import { startIdentity } from './identity';
import type { Admission, Limits } from './protection';
import { ServiceProtection, UNLIMITED } from './protection';

/**
 * What stands between a caller and the Web API handler: the bearer token check, service protection limits,
 * injected faults, and the loopback-only admin endpoint (`/_emulator/faults`) that switches faults at run time.
 */
export interface AccessOptions {
  readonly noAuth: boolean;
  readonly userId: string;
  readonly audience: () => string;
  readonly tokenLifetimeMs: number;
  readonly limits: Limits;
  readonly faults: Faults;
  readonly random?: () => number;
  readonly tenantId?: string;
  readonly clientId?: string;
  readonly clientSecret?: string;
  readonly clientCertificates?: readonly string[];
}

export interface Access {
  readonly identity: IdentityEndpoint;
  readonly protection: ServiceProtection;
  readonly faults: FaultInjector;
  /** A file holding the identity endpoint's certificate (PEM), removed on close. */
  readonly certificatePath: string;
  /** Answers `/_emulator/...` requests. */
  admin(req: IncomingMessage, res: ServerResponse, path: string): Promise<void>;
  /** The caller's user (`oid`), or the 401 Dataverse answers. */
  authenticate(req: IncomingMessage): string;
  /**
   * Admits a request of `user` under the limits (or throws their 429) and applies the fault plan: latency,
   * a 503, or a dropped connection. Undefined when the connection was dropped before running the request.
   */
  enter(req: IncomingMessage, res: ServerResponse, user: string): Promise<Gate | undefined>;
  close(): Promise<void>;
}

export interface Gate {
  /** `x-ms-ratelimit-*` headers for the answer. */
  readonly headers: Record<string, string>;
  /** True when the connection was dropped after the request ran (its write is committed); send nothing then. */
  dropAfterCommit(): boolean;
}

export const DEFAULT_TOKEN_LIFETIME_MS = 3_600_000;
const MAX_ADMIN_BODY = 16 * 1024;
/** The gate of a request under no limit and no fault: shared, so that both being off costs nothing. */
const OPEN_GATE: Gate = Object.freeze({ headers: Object.freeze({}), dropAfterCommit: () => false });

/** 127.0.0.0/8 and ::1, also as IPv4-mapped IPv6. */
export function isLoopback(address: string | undefined): boolean {
  if (address === undefined) return false;
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address;
  return address === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(v4);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function adminReply(res: ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value);
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': String(Buffer.byteLength(body)),
    'Cache-Control': 'no-store',
  });
  res.end(body);
}

function readJson(req: IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_ADMIN_BODY) chunks.push(chunk);
    });
    req.on('end', () => {
      if (size > MAX_ADMIN_BODY) {
        reject(new Error('The body is too large.'));
        return;
      }
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown);
      } catch {
        reject(new Error('The body is not JSON.'));
      }
    });
    req.on('error', reject);
  });
}

export async function startAccess(options: AccessOptions): Promise<Access> {
  const identity = await startIdentity({
    audience: options.audience,
    userId: options.userId,
    tokenLifetimeMs: options.tokenLifetimeMs,
    ...(options.tenantId === undefined ? {} : { tenantId: options.tenantId }),
    ...(options.clientId === undefined ? {} : { clientId: options.clientId }),
    ...(options.clientSecret === undefined ? {} : { clientSecret: options.clientSecret }),
    ...(options.clientCertificates === undefined ? {} : { clientCertificates: options.clientCertificates }),
  });
  let directory: string;
  try {
    directory = mkdtempSync(join(tmpdir(), 'dvw-emulator-'));
  } catch (error) {
    await identity.close();
    throw error;
  }
  // Only the public certificate goes to disk; the keys stay in memory, so tokens end with the process.
  const certificatePath = join(directory, 'identity-certificate.pem');
  writeFileSync(certificatePath, identity.certificate, { mode: 0o644 });
  const protection = new ServiceProtection(options.limits);
  const faults = new FaultInjector(options.faults, options.random);

  const admin = async (req: IncomingMessage, res: ServerResponse, path: string): Promise<void> => {
    // Faults and limits change what every caller sees: only this machine may change them.
    if (!isLoopback(req.socket.remoteAddress)) {
      req.resume();
      adminReply(res, 403, { error: 'The emulator admin endpoint answers loopback callers only.' });
      return;
    }
    if (path !== '/_emulator/faults') {
      req.resume();
      adminReply(res, 404, { error: `No admin resource ${path}.` });
      return;
    }
    const method = req.method ?? 'GET';
    if (method === 'GET') {
      req.resume();
      adminReply(res, 200, { faults: faults.current, counts: faults.counts });
      return;
    }
    if (method === 'DELETE') {
      req.resume();
      faults.configure({});
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
    let body: unknown;
    try {
      body = await readJson(req);
    } catch (error) {
      adminReply(res, 400, { error: error instanceof Error ? error.message : 'Bad request.' });
      return;
    }
    const parsed = faultsFromJson(body);
    if (typeof parsed === 'string') {
      adminReply(res, 400, { error: parsed });
      return;
    }
    faults.configure(parsed);
    adminReply(res, 200, { faults: faults.current, counts: faults.counts });
  };

  const authenticate = (req: IncomingMessage): string => {
    if (options.noAuth) return 'anonymous';
    const result = identity.check(req.headers.authorization);
    if (result.ok) return result.subject;
    req.resume();
    throw new DataverseHttpError(
      401,
      ErrorCodes.accessTokenExpired,
      result.reason === 'expired'
        ? 'The access token has expired. Acquire a new token and try again.'
        : 'The user is not authenticated. A valid bearer token is required.',
      { 'WWW-Authenticate': identity.challenge() },
    );
  };

  const admitted = (admission: Admission): Gate =>
    admission === UNLIMITED ? OPEN_GATE : { headers: admission.headers, dropAfterCommit: () => false };

  const enter = async (req: IncomingMessage, res: ServerResponse, user: string): Promise<Gate | undefined> => {
    const admission = protection.admit(user);
    // Execution time runs until the answer is out (or the connection is gone), as the service measures it.
    if (admission !== UNLIMITED) res.once('close', () => admission.finish());
    const fault = faults.next();
    if (fault.kind === 'none' && fault.latencyMs === 0) return admitted(admission);
    if (fault.latencyMs > 0) await sleep(fault.latencyMs);
    if (fault.kind === 'unavailable') {
      req.resume();
      throw new DataverseHttpError(503, '', 'The service is temporarily unavailable. Try again later.');
    }
    if (fault.kind === 'resetBeforeCommit') {
      req.socket.destroy();
      return undefined;
    }
    return {
      headers: admission.headers,
      dropAfterCommit: () => {
        if (fault.kind !== 'resetAfterCommit') return false;
        req.socket.destroy();
        return true;
      },
    };
  };

  let closed: Promise<void> | undefined;
  return {
    identity,
    protection,
    faults,
    certificatePath,
    admin,
    authenticate,
    enter,
    close() {
      closed ??= identity.close().finally(() => rmSync(directory, { recursive: true, force: true }));
      return closed;
    },
  };
}

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataverseHttpError, ErrorCodes } from './errors';
import type { Faults } from './faults';
import { FaultInjector } from './faults';
import type { IdentityEndpoint } from './identity';
import { startIdentity } from './identity';
import type { Admission, Limits } from './protection';
import { ServiceProtection, UNLIMITED } from './protection';

/**
 * What stands between a caller and the Web API handler: the bearer token check, service protection limits,
 * and injected faults (switched at run time by the admin endpoint, routes/admin.ts).
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
/** The gate of a request under no limit and no fault: shared, so that both being off costs nothing. */
const OPEN_GATE: Gate = Object.freeze({ headers: Object.freeze({}), dropAfterCommit: () => false });

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
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
    authenticate,
    enter,
    close() {
      closed ??= identity.close().finally(() => rmSync(directory, { recursive: true, force: true }));
      return closed;
    },
  };
}

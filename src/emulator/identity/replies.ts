import { randomUUID } from 'node:crypto';

/** An answer of the identity endpoint. */
export interface Reply {
  readonly status: number;
  readonly headers?: Record<string, string>;
  readonly body: string;
}

/** An Entra error for the token endpoint's JSON (the caller adds trace and correlation ids). */
export interface Failure {
  readonly ok: false;
  readonly status: number;
  readonly error: string;
  readonly code: number;
  readonly description: string;
}

/** OpenID Connect's own scopes, as opposed to a resource's. */
export const RESERVED_SCOPES: ReadonlySet<string> = new Set(['openid', 'profile', 'offline_access', 'email']);

/** The scopes of a request that are OpenID Connect's own rather than a resource's. */
export function reservedScopes(scope: string | null): Set<string> {
  return new Set((scope ?? '').split(' ').filter((s) => RESERVED_SCOPES.has(s)));
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Entra's description: the AADSTS code first, then trace id, correlation id and timestamp. */
export function entraDescription(
  code: number,
  description: string,
): {
  text: string;
  traceId: string;
  correlationId: string;
  timestamp: string;
} {
  const traceId = randomUUID();
  const correlationId = randomUUID();
  const timestamp = new Date()
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, 'Z');
  return {
    text: `AADSTS${code}: ${description} Trace ID: ${traceId} Correlation ID: ${correlationId} Timestamp: ${timestamp}`,
    traceId,
    correlationId,
    timestamp,
  };
}

export function jsonReply(status: number, value: unknown, headers: Record<string, string> = {}): Reply {
  return {
    status,
    headers: { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store', ...headers },
    body: JSON.stringify(value),
  };
}

/** Entra's error body: the AADSTS code leads the description and repeats in `error_codes`. */
export function aadError(
  status: number,
  error: string,
  code: number,
  description: string,
  extra: Record<string, string> = {},
): Reply {
  const { text, traceId, correlationId, timestamp } = entraDescription(code, description);
  return jsonReply(status, {
    error,
    error_description: text,
    error_codes: [code],
    timestamp,
    trace_id: traceId,
    correlation_id: correlationId,
    error_uri: `https://login.microsoftonline.com/error?code=${code}`,
    ...extra,
  });
}

export function failureReply(failure: Omit<Failure, 'ok'>): Reply {
  return aadError(failure.status, failure.error, failure.code, failure.description);
}

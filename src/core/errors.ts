/**
 * The one error type of the project. Callers branch on `kind`, never on message text; only the
 * command wrapper (extension) and the CLI's top level turn it into words for the user.
 */
export type ErrorKind =
  | 'invalidInput'
  | 'auth'
  | 'forbidden'
  | 'notFound'
  | 'conflict'
  | 'throttled'
  | 'network'
  | 'odata'
  | 'cancelled'
  | 'internal';

export interface WorkbenchErrorDetails {
  /** Dataverse's error code, e.g. `0x80040217`. */
  readonly code?: string;
  readonly status?: number;
  readonly requestId?: string;
  /** For `throttled`: how long the service asked callers to wait before trying again. */
  readonly retryAfterMs?: number;
  readonly cause?: unknown;
}

export class WorkbenchError extends Error {
  readonly kind: ErrorKind;
  readonly code: string | undefined;
  readonly status: number | undefined;
  readonly requestId: string | undefined;
  readonly retryAfterMs: number | undefined;

  constructor(kind: ErrorKind, message: string, details: WorkbenchErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'WorkbenchError';
    this.kind = kind;
    this.code = details.code;
    this.status = details.status;
    this.requestId = details.requestId;
    this.retryAfterMs = details.retryAfterMs;
  }
}

export function isWorkbenchError(value: unknown): value is WorkbenchError {
  return value instanceof WorkbenchError;
}

/** A message fit for a user, whatever was thrown. */
export function describeError(error: unknown): string {
  if (error instanceof Error) return error.message;
  if (typeof error === 'string') return error;
  return 'An unknown error occurred.';
}

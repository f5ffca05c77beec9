import { WorkbenchError } from '../core/errors';

/** Time as the retry policy and the limiter see it; injected so tests run on a fake clock. */
export interface Clock {
  now(): number;
  /** Resolves after `ms`, or rejects with a `cancelled` WorkbenchError when `signal` aborts first. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export function cancelledError(cause?: unknown): WorkbenchError {
  return new WorkbenchError('cancelled', 'The request was cancelled.', cause === undefined ? {} : { cause });
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep(ms, signal) {
    return new Promise<void>((resolve, reject) => {
      if (signal?.aborted) {
        reject(cancelledError(signal.reason));
        return;
      }
      const onAbort = (): void => {
        clearTimeout(timer);
        reject(cancelledError(signal?.reason));
      };
      const timer = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  },
};

export interface RetryOptions {
  /** Attempts in all, the first included. */
  readonly maxAttempts?: number;
  /** Wall time from the first attempt after which no retry starts. */
  readonly budgetMs?: number;
  readonly baseDelayMs?: number;
  /** Cap of one backoff delay; a longer `Retry-After` is still honoured while it fits the budget. */
  readonly maxDelayMs?: number;
  readonly clock?: Clock;
  /** In [0, 1); Math.random by default. */
  readonly random?: () => number;
}

export type AttemptResult<T> =
  | { readonly type: 'done'; readonly value: T }
  | {
      readonly type: 'retry';
      readonly error: WorkbenchError;
      /** From the service (`Retry-After`); replaces the backoff. */
      readonly retryAfterMs?: number;
      /** Retry at once (a refreshed token), without counting against the backoff. */
      readonly immediate?: boolean;
    }
  | { readonly type: 'fail'; readonly error: WorkbenchError };

export interface RetryEvent {
  /** The attempt that failed, from 1. */
  readonly attempt: number;
  readonly delayMs: number;
  readonly source: 'retryAfter' | 'backoff' | 'immediate';
  readonly kind: WorkbenchError['kind'];
  readonly status: number | undefined;
  readonly requestId: string | undefined;
}

const DEFAULTS = { maxAttempts: 8, budgetMs: 5 * 60_000, baseDelayMs: 500, maxDelayMs: 30_000 };

/**
 * `Retry-After` as milliseconds: delta-seconds or an HTTP date (RFC 9110 §10.2.3). A date in the past
 * means "now"; anything unreadable is ignored so the backoff applies instead.
 */
export function parseRetryAfter(value: string | null | undefined, nowMs: number): number | undefined {
  if (value === null || value === undefined) return undefined;
  const text = value.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  if (!/[a-z]/i.test(text)) return undefined;
  const date = Date.parse(text);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - nowMs);
}

export class RetryPolicy {
  readonly clock: Clock;
  private readonly random: () => number;
  private readonly maxAttempts: number;
  private readonly budgetMs: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;

  constructor(options: RetryOptions = {}) {
    this.clock = options.clock ?? systemClock;
    this.random = options.random ?? Math.random;
    this.maxAttempts = Math.max(1, options.maxAttempts ?? DEFAULTS.maxAttempts);
    this.budgetMs = options.budgetMs ?? DEFAULTS.budgetMs;
    this.baseDelayMs = options.baseDelayMs ?? DEFAULTS.baseDelayMs;
    this.maxDelayMs = options.maxDelayMs ?? DEFAULTS.maxDelayMs;
  }

  /**
   * "Full jitter" (uniform in [0, min(cap, base·2^n)]): many clients throttled at the same moment spread
   * out instead of returning together, which a fixed or equal-jitter backoff does not achieve.
   */
  backoffMs(retry: number): number {
    const ceiling = Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** Math.max(0, retry));
    return Math.floor(this.random() * ceiling);
  }

  async run<T>(
    attempt: (attemptNumber: number) => Promise<AttemptResult<T>>,
    options: { signal?: AbortSignal; onRetry?: (event: RetryEvent) => void } = {},
  ): Promise<T> {
    const started = this.clock.now();
    let backoffs = 0;
    for (let n = 1; ; n++) {
      if (options.signal?.aborted) throw cancelledError(options.signal.reason);
      const result = await attempt(n);
      if (result.type === 'done') return result.value;
      if (result.type === 'fail') throw result.error;
      const { error } = result;
      if (n >= this.maxAttempts) throw giveUp(error, `after ${n} attempts`);
      let delayMs: number;
      let source: RetryEvent['source'];
      if (result.immediate) {
        delayMs = 0;
        source = 'immediate';
      } else if (result.retryAfterMs !== undefined) {
        delayMs = result.retryAfterMs;
        source = 'retryAfter';
      } else {
        delayMs = this.backoffMs(backoffs++);
        source = 'backoff';
      }
      const elapsed = this.clock.now() - started;
      if (elapsed + delayMs > this.budgetMs) {
        throw giveUp(error, `the retry budget of ${Math.round(this.budgetMs / 1000)} s would be exceeded`);
      }
      options.onRetry?.({
        attempt: n,
        delayMs,
        source,
        kind: error.kind,
        status: error.status,
        requestId: error.requestId,
      });
      if (delayMs > 0) await this.clock.sleep(delayMs, options.signal);
    }
  }
}

function giveUp(error: WorkbenchError, why: string): WorkbenchError {
  return new WorkbenchError(error.kind, `${error.message} (gave up: ${why})`, {
    code: error.code,
    status: error.status,
    requestId: error.requestId,
    retryAfterMs: error.retryAfterMs,
    cause: error,
  });
}

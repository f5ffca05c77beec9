import type { Clock } from './retryPolicy';
import { cancelledError, systemClock } from './retryPolicy';

/** Dataverse's documented concurrent-request limit per user and web server (api-limits.md). */
export const DATAVERSE_CONCURRENCY_LIMIT = 52;

export interface LimiterOptions {
  readonly maxConcurrent?: number;
  readonly clock?: Clock;
}

/** What a finished request tells the limiter about the service's load. */
export interface LimiterFeedback {
  readonly status: number | undefined;
  readonly retryAfterMs?: number;
  readonly headers?: { get(name: string): string | null };
}

interface Waiter {
  readonly resolve: (release: () => void) => void;
  readonly reject: (error: unknown) => void;
  readonly signal: AbortSignal | undefined;
  readonly onAbort: () => void;
}

/**
 * Execution time left in the 300 s window below which we halve concurrency: 5 % of the documented
 * 1,200,000 ms, early enough that the slowdown lands before the service starts answering 429.
 */
/**
 * `x-ms-ratelimit-time-remaining-xrm-requests` counts seconds of the 1,200 s execution-time budget,
 * written with a thousands separator (`1,199.46`); below a minute left, the client slows down.
 */
const TIME_REMAINING_LOW_SECONDS = 60;

/**
 * A concurrency gate with additive-increase/multiplicative-decrease: a 429 halves the allowed
 * concurrency and pauses new starts for its `Retry-After` (Dataverse trips the concurrency limit
 * immediately and lengthens `Retry-After` under repeated pressure), successes win it back one slot at a
 * time. The `x-ms-ratelimit-*` headers only ever lower it: Microsoft documents them as hints that reset
 * when server affinity changes, so they must not raise concurrency on their own.
 */
export class RequestLimiter {
  readonly maxConcurrent: number;
  private readonly clock: Clock;
  private limit: number;
  private active = 0;
  private peak = 0;
  private successes = 0;
  private resumeAt = 0;
  private wakeScheduled = false;
  private readonly queue: Waiter[] = [];
  private dopHint: number | undefined;

  constructor(options: LimiterOptions = {}) {
    this.maxConcurrent = Math.max(1, Math.floor(options.maxConcurrent ?? DATAVERSE_CONCURRENCY_LIMIT));
    this.clock = options.clock ?? systemClock;
    this.limit = this.maxConcurrent;
  }

  get inFlight(): number {
    return this.active;
  }

  /** The highest number of requests ever in flight at once: what tests hold against the limit. */
  get peakInFlight(): number {
    return this.peak;
  }

  get currentLimit(): number {
    return this.limit;
  }

  /**
   * The degree of parallelism the service last asked for (`x-ms-dop-hint`), for callers that choose how many
   * requests to keep in flight; undefined until a response carried it. The limiter's own gate still applies.
   */
  get parallelismHint(): number | undefined {
    return this.dopHint;
  }

  get waiting(): number {
    return this.queue.length;
  }

  /** Resolves with a release function once a slot is free; the caller must call it exactly once. */
  acquire(signal?: AbortSignal): Promise<() => void> {
    if (signal?.aborted) return Promise.reject(cancelledError(signal.reason));
    if (this.queue.length === 0 && this.canStart()) return Promise.resolve(this.take());
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        reject,
        signal,
        onAbort: () => {
          const index = this.queue.indexOf(waiter);
          if (index >= 0) this.queue.splice(index, 1);
          reject(cancelledError(signal?.reason));
        },
      };
      signal?.addEventListener('abort', waiter.onAbort, { once: true });
      this.queue.push(waiter);
      this.pump();
    });
  }

  async run<T>(work: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    const release = await this.acquire(signal);
    try {
      return await work();
    } finally {
      release();
    }
  }

  feedback(result: LimiterFeedback): void {
    const hint = headerNumber(result.headers, 'x-ms-dop-hint');
    if (hint !== undefined && hint >= 1) this.dopHint = Math.floor(hint);
    if (result.status === 429) {
      this.limit = Math.max(1, Math.floor(this.limit / 2));
      this.successes = 0;
      if (result.retryAfterMs !== undefined)
        this.resumeAt = Math.max(this.resumeAt, this.clock.now() + result.retryAfterMs);
      return;
    }
    const burst = headerNumber(result.headers, 'x-ms-ratelimit-burst-remaining-xrm-requests');
    if (burst !== undefined && burst < this.limit) this.limit = Math.max(1, burst);
    const time = headerNumber(result.headers, 'x-ms-ratelimit-time-remaining-xrm-requests');
    if (time !== undefined && time < TIME_REMAINING_LOW_SECONDS) this.limit = Math.max(1, Math.floor(this.limit / 2));
    if (result.status !== undefined && result.status < 500 && this.limit < this.maxConcurrent) {
      this.successes += 1;
      if (this.successes >= this.limit) {
        this.successes = 0;
        this.limit += 1;
      }
    }
    this.pump();
  }

  private canStart(): boolean {
    return this.active < this.limit && this.clock.now() >= this.resumeAt;
  }

  private take(): () => void {
    this.active += 1;
    this.peak = Math.max(this.peak, this.active);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.active -= 1;
      this.pump();
    };
  }

  private pump(): void {
    while (this.queue.length > 0 && this.canStart()) {
      const waiter = this.queue.shift();
      if (waiter === undefined) break;
      waiter.signal?.removeEventListener('abort', waiter.onAbort);
      waiter.resolve(this.take());
    }
    const wait = this.resumeAt - this.clock.now();
    if (this.queue.length > 0 && wait > 0 && !this.wakeScheduled) {
      this.wakeScheduled = true;
      void this.clock.sleep(wait).then(() => {
        this.wakeScheduled = false;
        this.pump();
      });
    }
  }
}

function headerNumber(headers: LimiterFeedback['headers'], name: string): number | undefined {
  const text = headers?.get(name);
  if (text === null || text === undefined || text.trim() === '') return undefined;
  const value = Number(text.replace(/,/g, ''));
  return Number.isFinite(value) && value >= 0 ? value : undefined;
}

let processLimiter: RequestLimiter | undefined;

/**
 * The one budget shared by every client in this process: Dataverse counts concurrency per user across
 * all connections, so two independent limiters would together exceed it.
 */
export function sharedLimiter(): RequestLimiter {
  processLimiter ??= new RequestLimiter();
  return processLimiter;
}

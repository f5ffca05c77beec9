import { DataverseHttpError } from './errors';

/**
 * Dataverse's service protection limits (wire reference §12.3, api-limits.md), evaluated per user: requests
 * in a sliding window, requests in flight, and combined execution time in a sliding window. Off unless
 * configured: the emulator's own tests, benchmarks and bulk imports would otherwise trip Dataverse's numbers.
 */
export interface Limits {
  readonly requests?: { readonly count: number; readonly windowMs: number };
  readonly concurrent?: number;
  readonly time?: { readonly budgetMs: number; readonly windowMs: number };
}

/** Dataverse's documented defaults per user and web server. */
export const DATAVERSE_LIMITS: Limits = {
  requests: { count: 6000, windowMs: 300_000 },
  concurrent: 52,
  time: { budgetMs: 1_200_000, windowMs: 300_000 },
};

export const LIMIT_CODES = {
  requests: '0x80072322',
  time: '0x80072321',
  concurrent: '0x80072326',
} as const;

export class SpecError extends Error {}

const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** `60s`, `1500ms`, `5m`, `1h` as milliseconds. */
export function parseDuration(text: string, what: string): number {
  const match = DURATION.exec(text.trim());
  if (match?.[1] === undefined || match[2] === undefined) {
    throw new SpecError(`${what}: expected a duration such as 300s, 1500ms, 5m or 1h, not '${text}'.`);
  }
  return Math.round(Number(match[1]) * (UNIT_MS[match[2]] ?? 1));
}

function positiveInteger(text: string, what: string): number {
  if (!/^\d{1,9}$/.test(text) || Number(text) < 1) {
    throw new SpecError(`${what}: expected a whole number of at least 1, not '${text}'.`);
  }
  return Number(text);
}

function window(text: string, what: string): number {
  const ms = parseDuration(text, what);
  if (ms < 1000 || ms > 86_400_000) throw new SpecError(`${what}: the window must be from 1s to 24h.`);
  return ms;
}

/**
 * `requests=6000/300s,concurrent=52,time=1200s/300s`, any subset; `dataverse` for Dataverse's defaults,
 * `off` for none.
 */
export function parseLimits(text: string): Limits {
  const spec = text.trim();
  if (spec === 'off' || spec === 'none') return {};
  if (spec === 'dataverse' || spec === 'default') return DATAVERSE_LIMITS;
  const limits: { -readonly [K in keyof Limits]: Limits[K] } = {};
  for (const part of spec.split(',')) {
    const [name = '', value = '', extra] = part.split('=').map((s) => s.trim());
    if (extra !== undefined || value === '') throw new SpecError(`expected name=value, not '${part}'.`);
    if (name in limits) throw new SpecError(`'${name}' is given twice.`);
    if (name === 'requests') {
      const [count = '', span = ''] = value.split('/');
      limits.requests = { count: positiveInteger(count, 'requests'), windowMs: window(span, 'requests') };
    } else if (name === 'concurrent') {
      limits.concurrent = positiveInteger(value, 'concurrent');
    } else if (name === 'time') {
      const [budget = '', span = ''] = value.split('/');
      limits.time = { budgetMs: parseDuration(budget, 'time'), windowMs: window(span, 'time') };
      if (limits.time.budgetMs < 1) throw new SpecError('time: the budget must be more than 0.');
    } else {
      throw new SpecError(`unknown limit '${name}' (expected requests, concurrent or time).`);
    }
  }
  return limits;
}

interface Run {
  readonly end: number;
  readonly ms: number;
}

interface UserState {
  /** Start times of admitted requests, oldest first. */
  readonly starts: number[];
  active: number;
  readonly runs: Run[];
  runMs: number;
}

export interface Admission {
  /** `x-ms-ratelimit-*` headers for the answer (empty when no limit applies). */
  readonly headers: Record<string, string>;
  /** Call exactly once, when the request has finished. */
  finish(): void;
}

/** The admission of every request while no limit is set: shared, so that being off costs no allocation. */
export const UNLIMITED: Admission = Object.freeze({ headers: Object.freeze({}), finish: () => undefined });

/** Dataverse formats the remaining time in seconds with grouping and two decimals (`1,199.46`). */
function formatSeconds(ms: number): string {
  return (Math.max(0, ms) / 1000).toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });
}

export class ServiceProtection {
  private readonly users = new Map<string, UserState>();

  constructor(
    private limits: Limits,
    private readonly now: () => number = () => Date.now(),
  ) {}

  get enabled(): boolean {
    return this.limits.requests !== undefined || this.limits.concurrent !== undefined || this.limits.time !== undefined;
  }

  configure(limits: Limits): void {
    this.limits = limits;
    this.users.clear();
  }

  /**
   * Admits a request of `user` or throws the 429 Dataverse answers. Rejected requests are not counted, so
   * `Retry-After` stays honest: once it has passed, the oldest counted request has left the window.
   */
  admit(user: string): Admission {
    if (!this.enabled) return UNLIMITED;
    const now = this.now();
    const state = this.state(user);
    const { requests, concurrent, time } = this.limits;
    if (requests !== undefined) {
      this.expireStarts(state, now, requests.windowMs);
      if (state.starts.length >= requests.count) {
        const oldest = state.starts[0] ?? now;
        throw this.throttled(
          'requests',
          `Number of requests exceeded the limit of ${requests.count} over time window of ${requests.windowMs / 1000} seconds.`,
          oldest + requests.windowMs - now,
        );
      }
    }
    if (concurrent !== undefined && state.active >= concurrent) {
      // Nothing says when a request in flight ends; Dataverse answers this one with a short wait too.
      throw this.throttled('concurrent', `Number of concurrent requests exceeded the limit of ${concurrent}.`, 1000);
    }
    if (time !== undefined) {
      this.expireRuns(state, now, time.windowMs);
      if (state.runMs >= time.budgetMs) {
        throw this.throttled(
          'time',
          `Combined execution time of incoming requests exceeded limit of ${time.budgetMs.toLocaleString('en-US')}  milliseconds over time window of ${time.windowMs / 1000} seconds. Decrease number of concurrent requests or reduce the duration of requests and try again later.`,
          this.timeFreedAt(state, time.budgetMs, time.windowMs) - now,
        );
      }
    }
    if (requests !== undefined) state.starts.push(now);
    state.active += 1;
    const headers: Record<string, string> = {};
    if (requests !== undefined) {
      headers['x-ms-ratelimit-burst-remaining-xrm-requests'] = String(requests.count - state.starts.length);
    }
    if (time !== undefined) {
      headers['x-ms-ratelimit-time-remaining-xrm-requests'] = formatSeconds(time.budgetMs - state.runMs);
    }
    let finished = false;
    return {
      headers,
      finish: () => {
        if (finished) return;
        finished = true;
        state.active -= 1;
        if (time !== undefined) {
          const end = this.now();
          state.runs.push({ end, ms: end - now });
          state.runMs += end - now;
        }
      },
    };
  }

  private state(user: string): UserState {
    let state = this.users.get(user);
    if (state === undefined) {
      state = { starts: [], active: 0, runs: [], runMs: 0 };
      this.users.set(user, state);
    }
    return state;
  }

  private expireStarts(state: UserState, now: number, windowMs: number): void {
    let drop = 0;
    while (drop < state.starts.length && (state.starts[drop] ?? 0) + windowMs <= now) drop++;
    if (drop > 0) state.starts.splice(0, drop);
  }

  private expireRuns(state: UserState, now: number, windowMs: number): void {
    let drop = 0;
    while (drop < state.runs.length && (state.runs[drop]?.end ?? 0) + windowMs <= now) {
      state.runMs -= state.runs[drop]?.ms ?? 0;
      drop++;
    }
    if (drop > 0) state.runs.splice(0, drop);
  }

  /** When enough finished runs leave the window for the total to drop under the budget. */
  private timeFreedAt(state: UserState, budgetMs: number, windowMs: number): number {
    let total = state.runMs;
    for (const run of state.runs) {
      total -= run.ms;
      if (total < budgetMs) return run.end + windowMs;
    }
    return this.now();
  }

  private throttled(kind: keyof typeof LIMIT_CODES, message: string, waitMs: number): DataverseHttpError {
    // Whole seconds, rounded up: waiting exactly that long is enough.
    const seconds = Math.max(1, Math.ceil(waitMs / 1000));
    return new DataverseHttpError(429, LIMIT_CODES[kind], message, { 'Retry-After': String(seconds) });
  }
}

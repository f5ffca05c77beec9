import { SpecError, parseDuration } from './protection';

/**
 * Faults the emulator injects into Web API requests, so that clients can prove they survive what real
 * networks do: 503s, connections dropped before or after the write was committed, and latency.
 */
export interface Faults {
  /** Probability in [0, 1] of answering 503 without running the request. */
  readonly unavailable?: number;
  /** Probability in [0, 1] of dropping the connection without an answer. */
  readonly reset?: number;
  /** Share of resets that happen after the request ran (and committed); the rest happen before. */
  readonly resetAfterCommit?: number;
  /** Added delay before running the request, uniform in [min, max] milliseconds. */
  readonly latencyMs?: { readonly min: number; readonly max: number };
  /** Seed of the PRNG that decides; a fixed seed replays the same sequence of faults. */
  readonly seed?: number;
}

export type Fault =
  | { readonly kind: 'none'; readonly latencyMs: number }
  | { readonly kind: 'unavailable'; readonly latencyMs: number }
  | { readonly kind: 'resetBeforeCommit'; readonly latencyMs: number }
  | { readonly kind: 'resetAfterCommit'; readonly latencyMs: number };

export type FaultCounts = Record<Fault['kind'] | 'delayed', number>;

/** mulberry32: tiny, fast, and good enough to spread faults; not for anything secret. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function probability(text: string, what: string): number {
  const match = /^(\d+(?:\.\d+)?)%$/.exec(text.trim());
  const value = match?.[1] === undefined ? Number.NaN : Number(match[1]) / 100;
  if (!(value >= 0 && value <= 1))
    throw new SpecError(`${what}: expected a percentage from 0% to 100%, not '${text}'.`);
  return value;
}

/** `503=5%,reset=2%,after-commit=50%,latency=20-200ms,seed=42`, any subset; `off` for none. */
export function parseFaults(text: string): Faults {
  const spec = text.trim();
  if (spec === 'off' || spec === 'none' || spec === '') return {};
  const faults: { -readonly [K in keyof Faults]: Faults[K] } = {};
  const seen = new Set<string>();
  for (const part of spec.split(',')) {
    const [name = '', value = '', extra] = part.split('=').map((s) => s.trim());
    if (extra !== undefined || value === '') throw new SpecError(`expected name=value, not '${part}'.`);
    if (seen.has(name)) throw new SpecError(`'${name}' is given twice.`);
    seen.add(name);
    if (name === '503') faults.unavailable = probability(value, '503');
    else if (name === 'reset') faults.reset = probability(value, 'reset');
    else if (name === 'after-commit') faults.resetAfterCommit = probability(value, 'after-commit');
    else if (name === 'latency') {
      const match = /^(\d+(?:\.\d+)?(?:ms|s)?)(?:-(\d+(?:\.\d+)?(?:ms|s)))?$/.exec(value);
      if (match?.[1] === undefined || (match[2] === undefined && /\d$/.test(match[1]))) {
        throw new SpecError(`latency: expected a duration or a range such as 20-200ms, not '${value}'.`);
      }
      // `20-200ms`: the unit of the upper bound applies to the lower one too.
      const unit = /(ms|s)$/.exec(match[2] ?? match[1])?.[1] ?? 'ms';
      const lower = /\d$/.test(match[1]) ? `${match[1]}${unit}` : match[1];
      const min = parseDuration(lower, 'latency');
      const max = match[2] === undefined ? min : parseDuration(match[2], 'latency');
      if (max < min || max > 60_000) throw new SpecError('latency: expected min ≤ max ≤ 60s.');
      faults.latencyMs = { min, max };
    } else if (name === 'seed') {
      if (!/^\d{1,10}$/.test(value)) throw new SpecError(`seed: expected a whole number, not '${value}'.`);
      faults.seed = Number(value);
    } else {
      throw new SpecError(`unknown fault '${name}' (expected 503, reset, after-commit, latency or seed).`);
    }
  }
  if ((faults.unavailable ?? 0) + (faults.reset ?? 0) > 1) {
    throw new SpecError('503 and reset together must not exceed 100%.');
  }
  return faults;
}

/** Checks a JSON value as a `Faults` object (the admin endpoint's body), or returns why not. */
export function faultsFromJson(value: unknown): Faults | string {
  if (typeof value === 'string') {
    try {
      return parseFaults(value);
    } catch (error) {
      return error instanceof Error ? error.message : 'invalid faults';
    }
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'expected a JSON object or string';
  const v = value as Record<string, unknown>;
  const faults: { -readonly [K in keyof Faults]: Faults[K] } = {};
  for (const [key, item] of Object.entries(v)) {
    if (key === 'unavailable' || key === 'reset' || key === 'resetAfterCommit') {
      if (typeof item !== 'number' || !(item >= 0 && item <= 1)) return `${key}: expected a number from 0 to 1`;
      faults[key] = item;
    } else if (key === 'latencyMs') {
      const range = item as { min?: unknown; max?: unknown } | null;
      if (
        typeof range !== 'object' ||
        range === null ||
        typeof range.min !== 'number' ||
        typeof range.max !== 'number' ||
        !(range.min >= 0 && range.max >= range.min && range.max <= 60_000)
      ) {
        return 'latencyMs: expected {"min": ms, "max": ms} with 0 ≤ min ≤ max ≤ 60000';
      }
      faults.latencyMs = { min: range.min, max: range.max };
    } else if (key === 'seed') {
      if (typeof item !== 'number' || !Number.isInteger(item) || item < 0) return 'seed: expected a whole number';
      faults.seed = item;
    } else {
      return `unknown member '${key}'`;
    }
  }
  if ((faults.unavailable ?? 0) + (faults.reset ?? 0) > 1) return 'unavailable and reset together must not exceed 1';
  return faults;
}

export class FaultInjector {
  private faults: Faults = {};
  private random: () => number;
  readonly counts: FaultCounts = {
    none: 0,
    unavailable: 0,
    resetBeforeCommit: 0,
    resetAfterCommit: 0,
    delayed: 0,
  };

  /** `random` replaces the seeded PRNG (tests); otherwise `faults.seed` or a fixed default seeds it. */
  constructor(
    faults: Faults = {},
    private readonly injectedRandom?: () => number,
  ) {
    this.random = injectedRandom ?? seededRandom(0);
    this.configure(faults);
  }

  get current(): Faults {
    return this.faults;
  }

  configure(faults: Faults): void {
    this.faults = faults;
    if (this.injectedRandom === undefined) this.random = seededRandom(faults.seed ?? 0x5eed);
  }

  /** Decides the fate of one request. */
  next(): Fault {
    const { unavailable = 0, reset = 0, resetAfterCommit = 0.5, latencyMs } = this.faults;
    let delay = 0;
    if (latencyMs !== undefined) {
      delay = Math.round(latencyMs.min + this.random() * (latencyMs.max - latencyMs.min));
      if (delay > 0) this.counts.delayed += 1;
    }
    if (unavailable === 0 && reset === 0) {
      this.counts.none += 1;
      return { kind: 'none', latencyMs: delay };
    }
    const roll = this.random();
    let kind: Fault['kind'] = 'none';
    if (roll < unavailable) kind = 'unavailable';
    else if (roll < unavailable + reset)
      kind = this.random() < resetAfterCommit ? 'resetAfterCommit' : 'resetBeforeCommit';
    this.counts[kind] += 1;
    return { kind, latencyMs: delay };
  }
}

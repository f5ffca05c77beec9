import type { Clock } from '../retryPolicy';
import { cancelledError, systemClock } from '../retryPolicy';
import type { AccessToken } from '../webApiClient';

const DEFAULT_REFRESH_MARGIN_MS = 5 * 60_000;
/** When a source gives no expiry, assume Entra's shortest default lifetime rather than forever. */
const UNKNOWN_LIFETIME_MS = 60 * 60_000;

export interface RenewingOptions {
  /** Stop handing a token out this long before it expires at most (default 5 minutes). */
  readonly refreshMarginMs?: number;
  readonly clock?: Clock;
}

interface Held {
  readonly token: string;
  readonly expiresOn: number;
  readonly refreshAt: number;
}

/**
 * Holds the current token of a provider and renews it ahead of expiry: a quarter of its lifetime before
 * the end, at most the margin, so short-lived tokens are not renewed on every call. Concurrent callers share
 * one renewal; a caller that aborts stops waiting without cancelling the renewal the others wait for.
 */
export class RenewingToken {
  private readonly clock: Clock;
  private readonly margin: number;
  private held: Held | undefined;
  private pending: Promise<Held> | undefined;

  constructor(
    private readonly fetchToken: (force: boolean) => Promise<AccessToken>,
    options: RenewingOptions = {},
  ) {
    this.clock = options.clock ?? systemClock;
    this.margin = options.refreshMarginMs ?? DEFAULT_REFRESH_MARGIN_MS;
  }

  async get(signal: AbortSignal, forceRefresh = false): Promise<AccessToken> {
    if (signal.aborted) throw cancelledError(signal.reason);
    const held = this.held;
    if (!forceRefresh && held !== undefined && this.clock.now() < held.refreshAt) {
      return { token: held.token, expiresOn: new Date(held.expiresOn) };
    }
    this.pending ??= this.renew(forceRefresh || held !== undefined).finally(() => {
      this.pending = undefined;
    });
    const next = await abortable(this.pending, signal);
    return { token: next.token, expiresOn: new Date(next.expiresOn) };
  }

  private async renew(force: boolean): Promise<Held> {
    const result = await this.fetchToken(force);
    const now = this.clock.now();
    const expiresOn = result.expiresOn?.getTime() ?? now + UNKNOWN_LIFETIME_MS;
    const refreshAt = expiresOn - Math.min(this.margin, Math.max(0, (expiresOn - now) / 4));
    this.held = { token: result.token, expiresOn, refreshAt };
    return this.held;
  }
}

function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(cancelledError(signal.reason));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}

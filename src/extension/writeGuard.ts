import { WorkbenchError } from '../core/errors';
import type { EnvironmentConfig } from '../core/environments';

/** After a confirmed write, more writes to the same environment go without asking for this long (an apply or import sends several). */
export const CONFIRMED_WRITES_MS = 60_000;

export interface WriteGuardOptions {
  /** The environment's current settings entry (marks can change while a client lives). */
  readonly environment: () => EnvironmentConfig | undefined;
  /** Asks the user; true to send. */
  readonly confirm: (message: string) => Promise<boolean>;
  readonly now?: () => number;
}

/**
 * The `beforeWrite` of an environment's client: the explorer, record editor, `.odata` Run, import and
 * webhooks apply all write through it. Read-only environments refuse every write; production ones ask,
 * naming the method and path (never a query string or body), and a confirmation covers the next minute.
 */
export function createWriteGuard(
  options: WriteGuardOptions,
): (write: { method: string; path: string }) => Promise<void> {
  const now = options.now ?? Date.now;
  let confirmedUntil = 0;
  return async ({ method, path }) => {
    const environment = options.environment();
    if (environment === undefined) return;
    if (environment.readOnly === true) {
      throw new WorkbenchError(
        'forbidden',
        `${environment.name} is marked read-only: ${method} ${path} was not sent. Remove "readOnly" from its settings to write there.`,
      );
    }
    if (environment.production !== true || now() < confirmedUntil) return;
    const confirmed = await options.confirm(
      `${environment.name} is a production environment. Send ${method} ${path}? (Writes there go without asking again for a minute.)`,
    );
    if (!confirmed)
      throw new WorkbenchError(
        'cancelled',
        `Not sent: ${method} ${path} to production environment ${environment.name}.`,
      );
    confirmedUntil = now() + CONFIRMED_WRITES_MS;
  };
}

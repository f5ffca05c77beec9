import { describeError, isWorkbenchError, WorkbenchError } from '../../core/errors';

type LoadState =
  | { readonly status: 'loading'; readonly promise: Promise<unknown>; readonly controller: AbortController }
  | { readonly status: 'loaded'; readonly value: unknown }
  | { readonly status: 'failed'; readonly error: Error };

/**
 * Keyed, remembered loads for tree nodes. A node expanded twice while its load is in flight waits on
 * the same request; a failure is remembered so that VS Code re-rendering the node does not send the
 * request again (the node shows the error and a retry instead). Keys are paths (`conn/table/columns`),
 * so dropping a prefix forgets and aborts a whole subtree.
 */
export class Loads {
  private readonly states = new Map<string, LoadState>();

  /** The loaded value, the shared in-flight load, or a new load; rejects with a remembered failure. */
  get<T>(key: string, load: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const state = this.states.get(key);
    if (state?.status === 'loaded') return Promise.resolve(state.value as T);
    if (state?.status === 'loading') return state.promise as Promise<T>;
    if (state?.status === 'failed') return Promise.reject(state.error);
    const controller = new AbortController();
    const promise = load(controller.signal).then(
      (value) => {
        if (this.states.get(key)?.status === 'loading') this.states.set(key, { status: 'loaded', value });
        return value;
      },
      (error: unknown) => {
        const current = this.states.get(key);
        // A cancelled load is forgotten, so the next expand simply tries again.
        if (current?.status === 'loading' && current.promise === promise) {
          if (isWorkbenchError(error) && error.kind === 'cancelled') this.states.delete(key);
          else this.states.set(key, { status: 'failed', error: asError(error) });
        }
        throw error;
      },
    );
    this.states.set(key, { status: 'loading', promise, controller });
    return promise;
  }

  /** Forgets every load whose key is `prefix` or below it, aborting those in flight. */
  forget(prefix: string): void {
    for (const [key, state] of [...this.states]) {
      if (key !== prefix && !key.startsWith(`${prefix}/`)) continue;
      if (state.status === 'loading') state.controller.abort();
      this.states.delete(key);
    }
  }

  /** Forgets everything, aborting the loads in flight. */
  clear(): void {
    for (const state of this.states.values()) if (state.status === 'loading') state.controller.abort();
    this.states.clear();
  }

  /** Aborts every load in flight; loaded values stay. Returns how many were aborted. */
  cancelAll(): number {
    let count = 0;
    for (const [key, state] of [...this.states]) {
      if (state.status !== 'loading') continue;
      state.controller.abort();
      this.states.delete(key);
      count += 1;
    }
    return count;
  }
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new WorkbenchError('internal', describeError(error));
}

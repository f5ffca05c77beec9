import type { TokenProvider, WebApiClient } from './webApiClient';

export type WhoAmI = Awaited<ReturnType<WebApiClient['whoAmI']>>;

/** Which part of a connection failed: getting a token, or Dataverse with that token. */
export type ConnectionPart = 'signIn' | 'webApi';

export type ConnectionTestResult =
  | { readonly ok: true; readonly who: WhoAmI }
  | { readonly ok: false; readonly part: ConnectionPart; readonly error: unknown };

/**
 * A connection test that can fail: a token acquired afresh (`fresh`: MSAL's cache skipped, so a wrong client
 * secret is refused even while a token it once got is cached), then WhoAmI with it. `dvw env test` and VS
 * Code's "Test Connection" both use it, and both say which part failed. `fresh` is off only for VS Code's own
 * Microsoft account, whose session VS Code owns: forcing it would ask the user to sign in again.
 */
export async function checkConnection(
  client: WebApiClient,
  tokens: TokenProvider,
  signal: AbortSignal,
  fresh = true,
): Promise<ConnectionTestResult> {
  try {
    await tokens.getToken(signal, { forceRefresh: fresh });
  } catch (error) {
    return { ok: false, part: 'signIn', error };
  }
  try {
    return { ok: true, who: await client.whoAmI(signal) };
  } catch (error) {
    return { ok: false, part: 'webApi', error };
  }
}

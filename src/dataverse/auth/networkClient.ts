import { request as httpsRequest } from 'node:https';
import type { INetworkModule, NetworkRequestOptions, NetworkResponse } from '@azure/msal-node';

export interface HttpsNetworkClientOptions {
  /**
   * PEM certificates to trust instead of the system's (the emulator's self-signed certificate). Leave it out
   * for Entra: `ca` replaces the default roots, it does not add to them.
   */
  readonly ca?: string;
  /** Per request; MSAL passes its own for GETs. */
  readonly timeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 30_000;
const MAX_RESPONSE_BYTES = 1024 * 1024;

/**
 * MSAL's `system.networkClient` on `node:https`, so a private certificate can be trusted for one client only
 * (setting NODE_EXTRA_CA_CERTS or disabling verification would affect the whole process). Only https URLs:
 * the identity endpoint receives client secrets.
 */
export class HttpsNetworkClient implements INetworkModule {
  constructor(private readonly options: HttpsNetworkClientOptions = {}) {}

  sendGetRequestAsync<T>(url: string, options?: NetworkRequestOptions, timeout?: number): Promise<NetworkResponse<T>> {
    return this.send<T>('GET', url, options, timeout);
  }

  sendPostRequestAsync<T>(url: string, options?: NetworkRequestOptions): Promise<NetworkResponse<T>> {
    return this.send<T>('POST', url, options);
  }

  private send<T>(
    method: 'GET' | 'POST',
    url: string,
    options: NetworkRequestOptions | undefined,
    timeout?: number,
  ): Promise<NetworkResponse<T>> {
    const target = new URL(url);
    if (target.protocol !== 'https:') {
      return Promise.reject(new Error(`Refusing to send an identity request over ${target.protocol}.`));
    }
    const body = method === 'POST' ? (options?.body ?? '') : undefined;
    const headers: Record<string, string> = { ...options?.headers };
    if (body !== undefined) headers['Content-Length'] = String(Buffer.byteLength(body));
    return new Promise<NetworkResponse<T>>((resolve, reject) => {
      const req = httpsRequest(
        target,
        {
          method,
          headers,
          ...(this.options.ca === undefined ? {} : { ca: this.options.ca }),
          timeout: timeout ?? this.options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (chunk: Buffer) => {
            size += chunk.length;
            if (size > MAX_RESPONSE_BYTES) {
              req.destroy(new Error('The identity provider sent too large an answer.'));
              return;
            }
            chunks.push(chunk);
          });
          res.on('error', reject);
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            const responseHeaders: Record<string, string> = {};
            for (const [name, value] of Object.entries(res.headers)) {
              if (value !== undefined) responseHeaders[name] = Array.isArray(value) ? value.join(', ') : value;
            }
            let parsed: unknown;
            try {
              parsed = text === '' ? {} : (JSON.parse(text) as unknown);
            } catch {
              // MSAL reads error bodies as objects; an HTML error page becomes an empty one with the status kept.
              parsed = {};
            }
            // The boundary with MSAL: it validates the body's shape itself (isOpenIdConfigResponse and friends).
            resolve({ headers: responseHeaders, body: parsed as T, status: res.statusCode ?? 0 });
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error('The identity provider did not answer in time.')));
      req.on('error', reject);
      req.end(body);
    });
  }
}

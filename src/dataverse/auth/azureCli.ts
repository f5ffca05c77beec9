import { execFile } from 'node:child_process';
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { WorkbenchError } from '../../core/errors';
import type { AccessToken, TokenProvider } from '../webApiClient';
import { isJsonObject } from '../../core/json';
import type { RenewingOptions } from './renewing';
import { RenewingToken } from './renewing';

export interface AzureCliOptions extends RenewingOptions {
  /** The environment (organization) URL: `az` is asked for a token whose resource is its origin. */
  readonly environmentUrl: string;
  readonly tenantId?: string;
  /** Where to look for `az` (default `process.env.PATH`). */
  readonly path?: string;
  readonly timeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 60_000;
const MAX_OUTPUT_BYTES = 1024 * 1024;
const TENANT = /^[A-Za-z0-9][A-Za-z0-9.-]{0,253}$/;

/** The `az` executable on `path`, or undefined: nothing is spawned when the Azure CLI is not installed. */
export async function findAzureCli(path: string | undefined = process.env.PATH): Promise<string | undefined> {
  const names = process.platform === 'win32' ? ['az.cmd', 'az.exe'] : ['az'];
  for (const directory of (path ?? '').split(delimiter)) {
    if (directory === '') continue;
    for (const name of names) {
      const candidate = join(directory, name);
      try {
        await access(candidate, constants.X_OK);
        return candidate;
      } catch {
        // Not here; keep looking.
      }
    }
  }
  return undefined;
}

/**
 * Reads `az account get-access-token --output json`. `expires_on` (seconds since the epoch, az 2.54+) is
 * preferred; older versions only give `expiresOn` in local time without a zone, read as local time here.
 */
export function parseAzureCliToken(stdout: string): AccessToken {
  let json: unknown;
  try {
    json = JSON.parse(stdout) as unknown;
  } catch {
    throw new WorkbenchError('auth', 'The Azure CLI did not answer with JSON.');
  }
  if (!isJsonObject(json))
    throw new WorkbenchError('auth', 'The Azure CLI answered with something other than a token.');
  const { accessToken, expires_on: expiresOnEpoch, expiresOn } = json;
  if (typeof accessToken !== 'string' || !/^[A-Za-z0-9._~+/=-]{16,}$/.test(accessToken)) {
    throw new WorkbenchError('auth', 'The Azure CLI answer holds no usable access token.');
  }
  let expires: Date | undefined;
  const epoch = typeof expiresOnEpoch === 'string' ? Number(expiresOnEpoch) : expiresOnEpoch;
  if (typeof epoch === 'number' && Number.isFinite(epoch) && epoch > 0) expires = new Date(epoch * 1000);
  else if (typeof expiresOn === 'string') {
    const match = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})/.exec(expiresOn);
    if (match !== null) {
      const [, y, mo, d, h, mi, s] = match.map(Number);
      expires = new Date(y ?? 0, (mo ?? 1) - 1, d, h, mi, s);
    }
  }
  if (expires === undefined || Number.isNaN(expires.getTime())) {
    throw new WorkbenchError('auth', 'The Azure CLI answer does not say when its token expires.');
  }
  return { token: accessToken, expiresOn: expires };
}

/**
 * Tokens of the user signed in to the Azure CLI (`az login`). `az` keeps and refreshes its own tokens, so
 * this provider only asks again once the one it holds nears expiry.
 */
export class AzureCliTokenProvider implements TokenProvider {
  private readonly renewing: RenewingToken;
  private readonly resource: string;

  constructor(private readonly options: AzureCliOptions) {
    try {
      this.resource = new URL(options.environmentUrl).origin;
    } catch {
      throw new WorkbenchError('invalidInput', 'The environment URL is not a valid URL.');
    }
    if (options.tenantId !== undefined && !TENANT.test(options.tenantId)) {
      throw new WorkbenchError('invalidInput', 'The tenant is not a tenant id or domain.');
    }
    this.renewing = new RenewingToken(() => this.ask(), options);
  }

  getToken(signal: AbortSignal, options: { readonly forceRefresh?: boolean } = {}): Promise<AccessToken> {
    return this.renewing.get(signal, options.forceRefresh === true);
  }

  private async ask(): Promise<AccessToken> {
    const az = await findAzureCli(this.options.path ?? process.env.PATH);
    if (az === undefined) {
      throw new WorkbenchError(
        'auth',
        'The Azure CLI (az) is not on PATH: install it and run az login, or choose another sign-in.',
      );
    }
    const args = ['account', 'get-access-token', '--resource', this.resource, '--output', 'json'];
    if (this.options.tenantId !== undefined) args.push('--tenant', this.options.tenantId);
    const stdout = await new Promise<string>((resolve, reject) => {
      execFile(
        az,
        args,
        {
          timeout: this.options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
          maxBuffer: MAX_OUTPUT_BYTES,
          windowsHide: true,
          // az.cmd is a batch file, which Windows only runs through a shell; the arguments are ours alone.
          shell: process.platform === 'win32',
        },
        (error, out, err) => {
          if (error === null) {
            resolve(out);
            return;
          }
          // az's own error line ("Please run 'az login'…") is what the user needs; its output never is.
          const line = err
            .split(/\r?\n/)
            .map((l) => l.trim())
            .find((l) => l !== '');
          const detail = line === undefined ? `it exited with ${String(error.code ?? 'an error')}` : line.slice(0, 300);
          reject(new WorkbenchError('auth', `The Azure CLI could not get a token: ${detail}`));
        },
      );
    });
    return parseAzureCliToken(stdout);
  }
}

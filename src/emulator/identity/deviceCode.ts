import { randomBytes } from 'node:crypto';
import { base64url } from './keys';
import type { Reply } from './replies';
import { aadError, escapeHtml, jsonReply, reservedScopes } from './replies';

/**
 * The device-code flow: `POST /{tenant}/oauth2/v2.0/devicecode` starts a sign-in, the page at
 * `/common/oauth2/deviceauth` approves it with the user code, and the token endpoint redeems it.
 */

const DEVICE_CODE_LIFETIME_S = 900;
const DEVICE_CODE_INTERVAL_S = 1;
/**
 * Sign-ins waiting for a user, at most: anyone can start one, so without a bound a loop of requests grows
 * memory for 15 minutes each. Past it the oldest waiting sign-in is dropped (its poll then answers
 * `invalid_grant`, as an unknown code), so the newest always works.
 */
export const MAX_PENDING_DEVICE_CODES = 100;

interface DeviceFlow {
  readonly deviceCode: string;
  readonly userCode: string;
  readonly clientId: string;
  /** The OpenID scopes asked for at the start (`openid`, `offline_access`, …): they decide the answer's tokens. */
  readonly reserved: ReadonlySet<string>;
  readonly expiresAt: number;
  approved: boolean;
}

export type DeviceRedemption = { readonly ok: true; readonly reserved: ReadonlySet<string> } | Reply;

export class DeviceCodes {
  private readonly flows = new Map<string, DeviceFlow>();

  constructor(
    private readonly now: () => number,
    private readonly url: () => string,
  ) {}

  /** Starts a sign-in for a known client whose scope checked out. */
  start(client: string, scope: string | null): Reply {
    const nowMs = this.now();
    for (const [code, flow] of this.flows) if (nowMs >= flow.expiresAt) this.flows.delete(code);
    while (this.flows.size >= MAX_PENDING_DEVICE_CODES) {
      const oldest = this.flows.keys().next();
      if (oldest.done === true) break;
      this.flows.delete(oldest.value);
    }
    const userCode = randomBytes(6)
      .toString('base64')
      .replace(/[^A-Za-z0-9]/g, 'X')
      .toUpperCase()
      .slice(0, 8);
    const flow: DeviceFlow = {
      deviceCode: base64url(randomBytes(32)),
      userCode,
      clientId: client,
      reserved: reservedScopes(scope),
      expiresAt: nowMs + DEVICE_CODE_LIFETIME_S * 1000,
      approved: false,
    };
    this.flows.set(flow.deviceCode, flow);
    const verificationUri = `${this.url()}/common/oauth2/deviceauth`;
    return jsonReply(200, {
      user_code: userCode,
      device_code: flow.deviceCode,
      verification_uri: verificationUri,
      expires_in: DEVICE_CODE_LIFETIME_S,
      interval: DEVICE_CODE_INTERVAL_S,
      message: `To sign in, use a web browser to open the page ${verificationUri} and enter the code ${userCode} to authenticate.`,
    });
  }

  /** The token endpoint's `device_code` grant: pending, expired, unknown, or the approved sign-in (used up). */
  redeem(deviceCode: string, client: string): DeviceRedemption {
    const flow = this.flows.get(deviceCode);
    if (flow === undefined || flow.clientId !== client) {
      return aadError(
        400,
        'invalid_grant',
        70000,
        'The provided value for the input parameter device_code is not valid.',
      );
    }
    if (this.now() >= flow.expiresAt) {
      this.flows.delete(flow.deviceCode);
      return aadError(
        400,
        'expired_token',
        70020,
        'The provided value for the input parameter device_code is expired.',
      );
    }
    if (!flow.approved) {
      return aadError(
        400,
        'authorization_pending',
        70016,
        'OAuth 2.0 device flow error. Authorization is pending. Continue polling.',
      );
    }
    this.flows.delete(flow.deviceCode);
    return { ok: true, reserved: flow.reserved };
  }

  /** The sign-in page (`GET /common/oauth2/deviceauth`). */
  page(message = 'Enter the code shown by the application.'): Reply {
    return {
      status: 200,
      headers: { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' },
      body: `<!doctype html><html><head><title>Dataverse emulator sign-in</title></head><body><h1>Dataverse emulator</h1><p>${escapeHtml(message)}</p><form method="post"><label>Code <input name="user_code" autofocus></label> <button>Sign in as the emulator's admin user</button></form></body></html>`,
    };
  }

  /** The page's form: approves the sign-in with that user code. */
  approve(form: URLSearchParams): Reply {
    const code = (form.get('user_code') ?? '').trim().toUpperCase();
    const flow = [...this.flows.values()].find((f) => f.userCode === code && !f.approved);
    if (flow === undefined || this.now() >= flow.expiresAt) {
      return { ...this.page('That code is not valid or has expired. Try again.'), status: 400 };
    }
    flow.approved = true;
    return this.page('You are signed in. You can close this page and return to the application.');
  }

  /** Sign-ins waiting for a user, by user code. */
  pending(): string[] {
    return [...this.flows.values()].filter((f) => !f.approved).map((f) => f.userCode);
  }
}

import type { IncomingHttpHeaders } from 'node:http';

/** What the handler answers; `$batch` frames these as parts, the server writes them to the socket. */
export interface Reply {
  status: number;
  headers: Record<string, string>;
  body?: string;
  /** The reason phrase when it is not Node's default (Dataverse's batch answer says `400 BadRequest`). */
  statusText?: string;
}

/** One request as it reaches the router: a top-level request after authentication, or a `$batch` part. */
export interface InProcessRequest {
  readonly method: string;
  /** Path and query, root-relative (`/api/data/v9.2/accounts?$select=name`). */
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  /** The body as sent, for POST, PATCH and PUT. */
  readonly body: string | undefined;
}

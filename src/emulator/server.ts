import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Access } from './access';
import { DEFAULT_TOKEN_LIFETIME_MS, startAccess } from './access';
import type { BatchEnvironment, ParsedBatch } from './batch';
import { parseBatch, runBatch } from './batch';
import type { GuessedCode } from './errors';
import { badRequest, DataverseHttpError, ErrorCodes } from './errors';
import type { Faults } from './faults';
import { reachableFromOtherMachines } from './loopback';
import type { Limits } from './protection';
import type { Caller, Organization } from './records';
import type { Reply } from './reply';
import { readBody } from './readBody';
import { adminRoute } from './routes/admin';
import { errorAnswers } from './routes/answers';
import { noResource } from './routes/answers';
import { Service } from './routes/context';
import { dispatcher, isBatchPath, isWebApiPath, requestUrl } from './routes/dispatch';
import type { Schema } from './schema/schema';
import { builtinSchema } from './schema/snapshot';
import { bootstrap, seedAccounts, seedSample } from './seed';
import { Store } from './store';
import type { WebhookEvent } from './webhookDelivery';
import { WebhookDelivery } from './webhookDelivery';

export interface EmulatorOptions {
  /** Defaults to 127.0.0.1: the emulator is for this machine only unless asked otherwise. */
  readonly host?: string;
  /** 0 (the default) picks a free port. */
  readonly port?: number;
  /** SQLite file; in memory when absent. */
  readonly dataPath?: string;
  readonly seed?: 'sample' | 'none';
  readonly seedAccounts?: number;
  /** Accept requests without a bearer token. */
  readonly noAuth?: boolean;
  /** A schema other than the built-in one (schema/snapshot.ts, schema/extension.ts). */
  readonly schema?: Schema;
  /** Largest request body accepted, in bytes. */
  readonly maxBodyBytes?: number;
  /** The clock of relative-date query functions (`Today`, `LastXDays`, ...); tests pin it. */
  readonly now?: () => Date;
  /** Replaces error codes the emulator had to guess (see GUESSED_CODES in errors.ts), by name. */
  readonly errorCodes?: Partial<Record<GuessedCode, string>>;
  /** Lifetime of issued access tokens (default one hour, as Entra). */
  readonly tokenLifetimeMs?: number;
  /** Service protection limits (protection.ts); none by default. */
  readonly limits?: Limits;
  /** Injected faults (faults.ts); none by default, switchable at run time through `/_emulator/faults`. */
  readonly faults?: Faults;
  /** Replaces the seeded PRNG of fault injection. */
  readonly random?: () => number;
  /** Fixed identity-endpoint ids; random per start when absent. */
  readonly tenantId?: string;
  readonly clientId?: string;
  readonly clientSecret?: string;
  /**
   * PEM certificates (public part only) registered on the app: client assertions signed with their keys
   * are accepted as its credential, as for a service principal with a certificate in Entra.
   */
  readonly clientCertificates?: readonly string[];
  /** Each webhook delivery, retry, failure and non-delivery (Service Bus, Event Hub, Event Grid); never payloads or keys. */
  readonly onWebhook?: (event: WebhookEvent) => void;
  /** How long a webhook endpoint gets to answer, in milliseconds (default 60,000, as Dataverse). */
  readonly webhookTimeoutMs?: number;
  /** The `x-ms-dop-hint` every response carries (default 4); a function may change it while running. */
  readonly dopHint?: number | (() => number);
  /** Where the cause of each 500 goes, under its request id (default: stderr); never payloads or tokens. */
  readonly log?: (line: string) => void;
}

export interface RunningEmulator {
  readonly url: string;
  readonly webApi: string;
  /** Bearer token (a JWT from the identity endpoint) of the built-in admin user, issued at start. */
  readonly token: string;
  readonly userId: string;
  readonly businessUnitId: string;
  readonly organizationId: string;
  /** MSAL `authority` of the local identity endpoint (`https://127.0.0.1:<port>/<tenantId>`). */
  readonly authority: string;
  readonly tenantId: string;
  /** The app registration whose client credentials the token endpoint accepts. */
  readonly clientId: string;
  readonly clientSecret: string;
  /** PEM of the identity endpoint's self-signed certificate, and a file holding it (removed on close). */
  readonly certificate: string;
  readonly certificatePath: string;
  /** A fresh admin token, `lifetimeMs` long (default: the configured token lifetime). */
  issueToken(lifetimeMs?: number): string;
  /** Faults and limits, changeable while running. */
  readonly access: Pick<Access, 'faults' | 'protection'>;
  /** Webhook delivery: the recent outcomes, and a promise for the asynchronous deliveries in flight. */
  readonly webhooks: { log(): readonly WebhookEvent[]; idle(): Promise<void> };
  close(): Promise<void>;
}

const DEFAULT_MAX_BODY = 8 * 1024 * 1024;
/** Requests in parallel the emulator suggests (`x-ms-dop-hint`): its writes take turns, so a few suffice. */
const DEFAULT_DOP_HINT = 4;
const MAX_URL = 32 * 1024;
/**
 * Node refuses a request whose request line and headers pass 16 KB with a bare 431 before any handler runs; Dataverse
 * takes URLs up to 32 KB. Room for a 32 KB URL plus headers (a bearer token is ~2-4 KB) lets the URL check above
 * answer a Dataverse-shaped 414 instead.
 */
const MAX_HEADER_BYTES = MAX_URL + 32 * 1024;

export const OPEN_WITHOUT_AUTH = (host: string): string =>
  `refusing to listen on ${host} without authentication: any machine that can reach it could read and change the data. Keep authentication on (drop --no-auth), or listen on 127.0.0.1.`;

/** Starts the emulator; resolves once it is listening. */
export async function startEmulator(options: EmulatorOptions = {}): Promise<RunningEmulator> {
  const host = options.host ?? '127.0.0.1';
  if (options.noAuth === true && reachableFromOtherMachines(host)) {
    throw new Error(OPEN_WITHOUT_AUTH(host));
  }
  const timeout = options.webhookTimeoutMs;
  if (timeout !== undefined && (!Number.isFinite(timeout) || timeout <= 0 || timeout > 2_147_483_647)) {
    throw new Error('webhookTimeoutMs must be a positive number of milliseconds (at most 2147483647).');
  }
  const schema = options.schema ?? builtinSchema();
  const store = new Store(schema, options.dataPath);
  let identity: ReturnType<typeof bootstrap>;
  try {
    identity = bootstrap(store);
    if (options.seed === 'sample') seedSample(store, identity);
    if (options.seedAccounts !== undefined && options.seedAccounts > 0)
      seedAccounts(store, identity, options.seedAccounts);
  } catch (error) {
    store.close();
    throw error;
  }
  const caller: Caller = { userId: identity.userId, businessUnitId: identity.businessUnitId };
  const organization: Organization = { organizationId: identity.organizationId, baseCurrencyId: identity.currencyId };
  const maxBody = options.maxBodyBytes ?? DEFAULT_MAX_BODY;
  const dopHint = typeof options.dopHint === 'function' ? options.dopHint : () => options.dopHint ?? DEFAULT_DOP_HINT;
  let baseUrl = '';
  let boundAddress = host;
  let access: Access;
  try {
    access = await startAccess({
      noAuth: options.noAuth === true,
      userId: identity.userId,
      audience: () => baseUrl,
      tokenLifetimeMs: options.tokenLifetimeMs ?? DEFAULT_TOKEN_LIFETIME_MS,
      limits: options.limits ?? {},
      faults: options.faults ?? {},
      ...(options.random === undefined ? {} : { random: options.random }),
      ...(options.tenantId === undefined ? {} : { tenantId: options.tenantId }),
      ...(options.clientId === undefined ? {} : { clientId: options.clientId }),
      ...(options.clientSecret === undefined ? {} : { clientSecret: options.clientSecret }),
      ...(options.clientCertificates === undefined ? {} : { clientCertificates: options.clientCertificates }),
    });
  } catch (error) {
    store.close();
    throw error;
  }
  const webhooks = new WebhookDelivery({
    schema,
    store,
    caller,
    organization,
    baseUrl: () => baseUrl,
    ...(options.onWebhook === undefined ? {} : { onEvent: options.onWebhook }),
    ...(timeout === undefined ? {} : { timeoutMs: timeout }),
  });
  store.journal = webhooks;
  const service = new Service(
    schema,
    store,
    caller,
    organization,
    () => baseUrl,
    options.now ?? (() => new Date()),
    webhooks,
  );
  const errors = errorAnswers(options.errorCodes, options.log ?? ((line) => process.stderr.write(line)));
  const dispatch = dispatcher(service, webhooks, errors);
  const batchEnv: BatchEnvironment = {
    dispatch,
    errorReply: errors.reply,
    transaction: <T>(work: () => T): T => store.transaction(work),
    apiPath: '/api/data/v9.2/',
  };

  const send = (res: ServerResponse, requestId: string, reply: Reply): void => {
    const headers: Record<string, string> = {
      'OData-Version': '4.0',
      'x-ms-dop-hint': String(dopHint()),
      REQ_ID: requestId,
      'x-ms-service-request-id': requestId,
      ...reply.headers,
    };
    if (reply.body !== undefined) headers['Content-Length'] = String(Buffer.byteLength(reply.body));
    if (reply.statusText !== undefined) res.writeHead(reply.status, reply.statusText, headers);
    else res.writeHead(reply.status, headers);
    res.end(reply.body);
  };

  const serve = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const requestId = randomUUID();
    try {
      const method = req.method ?? 'GET';
      const rawUrl = req.url ?? '/';
      if (rawUrl.length > MAX_URL)
        throw new DataverseHttpError(414, ErrorCodes.queryShape, 'The request URL is too long.');
      const url = requestUrl(rawUrl);
      if (url === undefined) throw badRequest('Bad Request - Error in query syntax.');
      if (url.pathname.startsWith('/_emulator/')) {
        await adminRoute(access.faults, boundAddress, req, res, url.pathname);
        return;
      }
      if (!isWebApiPath(url.pathname)) throw noResource(`${baseUrl}${url.pathname}`);
      const gate = await access.enter(req, res, access.authenticate(req));
      if (gate === undefined) return;
      let text: string | undefined;
      if (method === 'POST' || method === 'PATCH' || method === 'PUT') {
        const raw = await readBody(req, maxBody);
        if (raw === 'tooLarge') {
          res.setHeader('Connection', 'close');
          throw new DataverseHttpError(
            413,
            ErrorCodes.requestTooLarge,
            `The request body exceeds the limit of ${maxBody} bytes.`,
          );
        }
        text = raw.toString('utf8');
      } else {
        req.resume();
      }
      const batch: ParsedBatch | undefined = isBatchPath(url.pathname)
        ? parseBatch(method, req.headers, text)
        : undefined;
      // Reads (a $batch of GETs too) are answered at once, even while a synchronous webhook is pending.
      const write = batch === undefined ? method !== 'GET' && method !== 'HEAD' : !batch.readOnly;
      const reply = await webhooks.run(
        write,
        () =>
          batch === undefined
            ? dispatch({ method, url: rawUrl, headers: req.headers, body: text }, requestId)
            : runBatch(batchEnv, batch),
        errors.reply,
      );
      if (gate.dropAfterCommit()) return;
      send(res, requestId, { ...reply, headers: { ...reply.headers, ...gate.headers } });
    } catch (error) {
      send(res, requestId, errors.fromThrown(error, requestId));
    }
  };

  const server = createServer({ maxHeaderSize: MAX_HEADER_BYTES }, (req, res) => {
    serve(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });
  // Idle keep-alive sockets stay open longer than the clients that pool them keep them: Node's default (5 s)
  // closed sockets that dynamics-web-api, .NET's HttpClient (60 s idle) and other agents still held, and a request
  // sent just as the server closed one failed with ECONNRESET. 65 s outlasts those pools (Node's agents, undici and
  // agentkeepalive let go after 4-5 s, .NET after 60 s); the `Keep-Alive: timeout=65` hint it sends lets clients that
  // read it close first. headersTimeout stays above keepAliveTimeout (the long-standing advice, so a request that
  // starts on a socket about to go idle is not cut off by the headers timer first) and requestTimeout, which Node
  // requires to be at least headersTimeout, above both.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  server.requestTimeout = 70_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  }).catch(async (error: unknown) => {
    await access.close();
    store.close();
    throw error;
  });
  const address = server.address() as AddressInfo;
  boundAddress = address.address;
  const hostForUrl = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  baseUrl = `http://${hostForUrl}:${address.port}`;
  let closed: Promise<void> | undefined;
  return {
    url: baseUrl,
    webApi: `${baseUrl}/api/data/v9.2/`,
    token: access.identity.issueToken(),
    userId: identity.userId,
    businessUnitId: identity.businessUnitId,
    organizationId: identity.organizationId,
    authority: access.identity.authority,
    tenantId: access.identity.tenantId,
    clientId: access.identity.clientId,
    clientSecret: access.identity.clientSecret,
    certificate: access.identity.certificate,
    certificatePath: access.certificatePath,
    issueToken: (lifetimeMs?: number) => access.identity.issueToken(lifetimeMs),
    access: { faults: access.faults, protection: access.protection },
    webhooks: { log: () => webhooks.log(), idle: () => webhooks.idle() },
    close(): Promise<void> {
      closed ??= new Promise<void>((resolve) => {
        // Deliveries in flight are abandoned first: a synchronous one holds a transaction open.
        const stopped = webhooks.close();
        server.close(() => {
          void stopped.finally(() => {
            store.close();
            void access.close().finally(resolve);
          });
        });
        server.closeAllConnections();
      });
      return closed;
    },
  };
}

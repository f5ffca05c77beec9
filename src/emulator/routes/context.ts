import type { IncomingHttpHeaders } from 'node:http';
import type { ODataUrl } from '../../odata/url';
import type { Prefer } from '../annotations';
import { ChangeTracking } from '../changeTracking';
import { generateCsdl } from '../csdl';
import { Engine } from '../engine';
import { EntityDefinitions } from '../entityDefinitions';
import { methodNotAllowed } from '../errors';
import type { QueryEnv } from '../query';
import type { Caller, Organization, WriteContext, WriteObserver } from '../records';
import type { Schema, Table } from '../schema/schema';
import type { Store } from '../store';

/** One Web API request as the routes see it: parsed URL and body. */
export interface Request {
  readonly method: string;
  /** The URL's path, as sent (percent escapes kept), for links back to the same resource. */
  readonly path: string;
  /** The request URL (path and query) after the trailing-comma fix; the spans of `url` point into it. */
  readonly rawUrl: string;
  readonly url: ODataUrl;
  readonly headers: IncomingHttpHeaders;
  readonly body: unknown;
  readonly prefer: Prefer;
}

/** What every route works with: the schema, the store, the caller, and the pieces built once per start. */
export class Service {
  readonly ctx: WriteContext;
  readonly metadataXml: string;
  readonly entityDefinitions: EntityDefinitions;
  readonly changes: ChangeTracking;

  constructor(
    readonly schema: Schema,
    readonly store: Store,
    readonly caller: Caller,
    readonly organization: Organization,
    readonly baseUrl: () => string,
    readonly now: () => Date,
    observer?: WriteObserver,
  ) {
    this.ctx = { schema, store, caller, organization, ...(observer === undefined ? {} : { observer }) };
    // A schema read from a `$metadata` document serves that document, with what the model does not hold.
    this.metadataXml = schema.csdl ?? generateCsdl(schema);
    this.entityDefinitions = new EntityDefinitions(schema);
    this.changes = new ChangeTracking(store, now);
  }

  get webApi(): string {
    return `${this.baseUrl()}/api/data/v9.2/`;
  }

  engine(request: Request): Engine {
    const env: QueryEnv = {
      schema: this.schema,
      userId: this.caller.userId,
      businessUnitId: this.caller.businessUnitId,
      now: this.now,
      aliases: new Map(request.url.query.aliases.map((a) => [a.name, a.value] as const)),
    };
    return new Engine(env, this.store, this.webApi, request.prefer.annotations);
  }

  entityUrl(table: Table, id: string): string {
    return `${this.webApi}${table.entitySetName}(${id})`;
  }
}

export function only(method: string, allowed: readonly string[]): void {
  if (!allowed.includes(method)) throw methodNotAllowed(method, allowed);
}

/**
 * Change tracking (reference §11): `Prefer: odata.track-changes` on a tracked table answers a delta link;
 * following it returns the rows written since and the rows deleted since.
 *
 * The change log lives in the SQLite file, so tokens survive restarts: every write already stamps the row
 * with the organization-wide `versionnumber` (store.nextVersion), and a trigger per tracked table (created with
 * the table's storage, store.ts) records a tombstone with a fresh version for every delete. A token is the version the reader had seen.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { ODataUrl } from '../odata/url';
import type { Engine } from './engine';
import { contextSelection, MAX_PAGE } from './engine';
import { guessed } from './errors';
import { finishJson } from './exactNumber';
import type { Reply } from './reply';
import type { Table } from './schema/schema';
import type { Row, Store } from './store';
import { sqlTable, TOMBSTONES } from './store';

/** Options Dataverse refuses on a tracked read (§11); `$apply` and `fetchXml` have no delta form either. */
const REFUSED = ['$filter', '$orderby', '$expand', '$top', '$apply', 'fetchXml'];
const JSON_TYPE = 'application/json; odata.metadata=minimal';
/** `<version>!<MM/dd/yyyy HH:mm:ss>`, as Dataverse writes its tokens. */
const TOKEN = /^(\d{1,15})!(\d{2})\/(\d{2})\/(\d{4}) (\d{2}):(\d{2}):(\d{2})$/;

/** A GET on an entity set that asks for tracking: the first read, or the read of a delta link. */
export function wantsChanges(method: string, headers: IncomingHttpHeaders, url: ODataUrl): boolean {
  if (method !== 'GET') return false;
  if (url.query.deltaToken !== undefined) return true;
  const prefer = Array.isArray(headers.prefer) ? headers.prefer.join(',') : (headers.prefer ?? '');
  return prefer.split(',').some((item) => item.trim() === 'odata.track-changes');
}

export interface TrackedRead {
  readonly table: Table;
  /** The URL names one record (the entity set has a key). */
  readonly keyed: boolean;
  /** Segments after the entity set. */
  readonly rest: readonly string[];
  readonly url: ODataUrl;
  /** The request URL as parsed (spans of `url` point into it). */
  readonly rawUrl: string;
  readonly engine: Engine;
  readonly webApi: string;
  readonly maxPageSize: number | undefined;
  /** The ordinary collection read, for the first (full) read. */
  readonly readAll: () => Reply;
}

interface Change {
  readonly version: number;
  readonly row?: Row;
  readonly deletedId?: string;
}

function pad(n: number): string {
  return String(n).padStart(2, '0');
}

/** Percent-encodes as Dataverse does in delta links: `!` too, escapes in lower case. */
function encodeToken(token: string): string {
  return encodeURIComponent(token)
    .replace(/!/g, '%21')
    .replace(/%[0-9A-F]{2}/g, (escape) => escape.toLowerCase());
}

export class ChangeTracking {
  constructor(
    private readonly store: Store,
    private readonly now: () => Date,
  ) {}

  /** The version of the last committed write. */
  private current(): number {
    return Number(this.store.getMeta('version') ?? '1000');
  }

  private token(version: number): string {
    const d = this.now();
    const date = `${pad(d.getUTCMonth() + 1)}/${pad(d.getUTCDate())}/${d.getUTCFullYear()}`;
    const time = `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
    return `${version}!${date} ${time}`;
  }

  private readToken(text: string): number {
    const match = TOKEN.exec(text.trim());
    const version = Number(match?.[1]);
    if (match === null || !Number.isSafeInteger(version) || version > this.current()) {
      throw guessed(400, 'deltaToken', 'The $deltatoken is not valid.');
    }
    return version;
  }

  /** The request's options as sent, except the paging and delta tokens, then `extra`. */
  private link(read: TrackedRead, extra: string): string {
    const kept = read.url.options
      .filter((o) => o.name !== '$skiptoken' && o.name !== '$deltatoken')
      .map((o) => read.rawUrl.slice(o.span.start, o.span.end));
    kept.push(extra);
    return `${read.webApi}${read.table.entitySetName}?${kept.join('&')}`;
  }

  /** Answers a tracked read, or undefined when tracking does not apply and the ordinary route should run. */
  answer(read: TrackedRead): Reply | undefined {
    const { table, url } = read;
    const delta = url.query.deltaToken;
    if (read.keyed) {
      if (delta === undefined) return undefined; // Dataverse ignores the preference on a single record.
      throw guessed(400, 'changeTrackingOption', 'The "$deltatoken" query parameter is only supported on entity sets.');
    }
    const count = read.rest.length === 1 && read.rest[0] === '$count';
    if (read.rest.length > 0 && !count) return undefined;
    if (count && delta === undefined) return undefined;
    if (!table.changeTracking) {
      throw guessed(400, 'changeTrackingDisabled', `Entity ${table.logicalName} isn't enabled for change tracking.`);
    }
    for (const option of url.options) {
      if (REFUSED.includes(option.name)) {
        throw guessed(
          400,
          'changeTrackingOption',
          `The "${option.name}" query parameter isn't supported when Change Tracking is enabled.`,
        );
      }
    }
    if (delta === undefined) return this.initial(read);
    const since = this.readToken(delta.value);
    if (count) {
      const changes = this.changes(table, since, MAX_PAGE);
      return {
        status: 200,
        headers: { 'Content-Type': 'text/plain' },
        body: String(changes.page.length),
      };
    }
    return this.delta(read, since);
  }

  /**
   * The full read with a delta link on its last page. The token is the version before the first page, carried
   * through the paging cookie, so a row written while the client pages comes back in the next delta.
   */
  private initial(read: TrackedRead): Reply {
    const skipToken = read.url.query.skipToken?.value;
    const carried = /trackingversion="(\d{1,15})"/.exec(skipToken ?? '')?.[1];
    const version = carried === undefined ? this.current() : Math.min(Number(carried), this.current());
    const reply = read.readAll();
    if (reply.status !== 200 || reply.body === undefined) return reply;
    const body = JSON.parse(reply.body) as Record<string, unknown>;
    const out: Record<string, unknown> = {};
    const next = body['@odata.nextLink'];
    for (const [name, value] of Object.entries(body)) {
      if (name === 'value' && typeof next !== 'string') {
        out['@odata.deltaLink'] = this.link(read, `$deltatoken=${encodeToken(this.token(version))}`);
      }
      if (name === '@odata.nextLink' && typeof value === 'string') {
        out[name] = value.replace(/([?&]\$skiptoken=)([^&]*)/, (_all, prefix: string, token: string) => {
          const cookie = decodeURIComponent(token).replace(
            /istracking="False"/,
            `istracking="True" trackingversion="${version}"`,
          );
          return `${prefix}${encodeURIComponent(cookie)}`;
        });
        continue;
      }
      out[name] = value;
    }
    const applied = reply.headers['Preference-Applied'];
    return {
      ...reply,
      headers: {
        ...reply.headers,
        'Preference-Applied': applied === undefined ? 'odata.track-changes' : `${applied},odata.track-changes`,
      },
      body: finishJson(JSON.stringify(out)),
    };
  }

  /**
   * Rows written and rows deleted after `since`, oldest first, at most `limit`; `next` is the version the
   * page ends at when more changes follow. A row deleted and re-created under the same key counts as changed.
   */
  private changes(table: Table, since: number, limit: number): { page: Change[]; next: number | undefined } {
    const rows = this.store.all(
      `SELECT * FROM ${sqlTable(table)} WHERE "versionnumber" > ? ORDER BY "versionnumber" LIMIT ?`,
      [since, limit + 1],
    );
    const deleted = this.store.all(
      `SELECT "id", "version" FROM ${TOMBSTONES} WHERE "tablename" = ? AND "version" > ? ORDER BY "version" LIMIT ?`,
      [table.logicalName, since, limit + 1],
    );
    // Everything up to `cutoff` was read; beyond it a list was cut by its LIMIT.
    const lastOf = (list: Row[], column: string): number =>
      list.length > limit ? Number(list[list.length - 1]?.[column]) : Number.POSITIVE_INFINITY;
    const cutoff = Math.min(lastOf(rows, 'versionnumber'), lastOf(deleted, 'version'));
    const merged: Change[] = [
      ...rows.map((row): Change => ({ version: Number(row.versionnumber), row })),
      ...deleted
        .filter((t) => this.store.get(table, String(t.id)) === null)
        .map((t): Change => ({ version: Number(t.version), deletedId: String(t.id) })),
    ]
      .filter((change) => change.version <= cutoff)
      .sort((a, b) => a.version - b.version);
    const page = merged.slice(0, limit);
    if (merged.length > limit) return { page, next: page[page.length - 1]?.version ?? cutoff };
    return { page, next: cutoff === Number.POSITIVE_INFINITY ? undefined : cutoff };
  }

  private delta(read: TrackedRead, since: number): Reply {
    const { table, engine, url } = read;
    const selection = engine.selection(table, url.query.select, undefined);
    const now = this.current();
    const pageSize = read.maxPageSize ?? MAX_PAGE;
    const { page, next } = this.changes(table, since, pageSize);
    const value = page.map((change) =>
      change.row === undefined
        ? {
            '@odata.context': `${read.webApi}$metadata#${table.entitySetName}/$deletedEntity`,
            id: change.deletedId,
            reason: 'deleted',
          }
        : engine.project(table, change.row, selection),
    );
    const body: Record<string, unknown> = {
      '@odata.context': `${read.webApi}$metadata#${table.entitySetName}${contextSelection(selection)}/$delta`,
    };
    if (next === undefined) {
      body['@odata.deltaLink'] = this.link(read, `$deltatoken=${encodeToken(this.token(now))}`);
    } else {
      // More changes than a page (paging of deltas is UNVERIFIED, §11): the next page is the delta after this one.
      body['@odata.nextLink'] = this.link(read, `$deltatoken=${encodeToken(this.token(next))}`);
    }
    body.value = value;
    const headers: Record<string, string> = { 'Content-Type': JSON_TYPE };
    if (next !== undefined && read.maxPageSize !== undefined)
      headers['Preference-Applied'] = `odata.maxpagesize=${pageSize}`;
    return { status: 200, headers, body: finishJson(JSON.stringify(body)) };
  }
}

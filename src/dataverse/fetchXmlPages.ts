import type { SaxesTagPlain } from 'saxes';
import { SaxesParser } from 'saxes';
import { WorkbenchError } from '../core/errors';
import type { Page, PagingOptions, WebApiClient } from './webApiClient';

/**
 * Paging a FetchXML query (`accounts?fetchXml=…`), which has no `@odata.nextLink`: the answer's paging cookie
 * (`@Microsoft.Dynamics.CRM.fetchxmlpagingcookie`, while `@Microsoft.Dynamics.CRM.morerecords` is true) goes into
 * the next request's `<fetch page="N" paging-cookie="…">`. Followed: Microsoft Learn, "Page results using
 * FetchXml" (https://learn.microsoft.com/power-apps/developer/data-platform/fetchxml/page-results): the cookie's
 * `pagingcookie` attribute is URL-decoded twice and set, XML-escaped, as the fetch's paging-cookie.
 */

export const PAGING_COOKIE = 'Microsoft.Dynamics.CRM.fetchxmlpagingcookie';
export const MORE_RECORDS = 'Microsoft.Dynamics.CRM.morerecords';

/** The root `<fetch …>` start tag; quoted attribute values may hold `>`. */
const FETCH_TAG = /<fetch((?:\s+[\w:.-]+\s*=\s*(?:"[^"]*"|'[^']*'))*)\s*(\/?)>/;

/** The FetchXML of a query path (`accounts?fetchXml=…`), if it is one. */
export function fetchXmlOf(path: string): string | undefined {
  const query = path.indexOf('?');
  if (query < 0) return undefined;
  return new URLSearchParams(path.slice(query + 1)).get('fetchXml') ?? undefined;
}

function xmlAttribute(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** The fetch with `page` and `paging-cookie` set on its root element (any earlier ones replaced). */
export function withPage(xml: string, page: number, cookie: string): string {
  const match = FETCH_TAG.exec(xml);
  if (match === null) throw new WorkbenchError('invalidInput', 'The FetchXML has no <fetch> element.');
  const kept = (match[1] ?? '').replace(/\s+(?:page|paging-cookie)\s*=\s*(?:"[^"]*"|'[^']*')/g, '');
  const tag = `<fetch${kept} page="${page}" paging-cookie="${xmlAttribute(cookie)}"${match[2] ?? ''}>`;
  return xml.slice(0, match.index) + tag + xml.slice(match.index + match[0].length);
}

/** The next page's path from an answer's cookie (`<cookie pagenumber="2" pagingcookie="%253ccookie…" />`). */
export function nextFetchPath(path: string, annotation: string): string | undefined {
  const xml = fetchXmlOf(path);
  const page = /pagenumber="(\d+)"/.exec(annotation)?.[1];
  const encoded = /pagingcookie="([^"]*)"/.exec(annotation)?.[1];
  if (xml === undefined || page === undefined || encoded === undefined) return undefined;
  let cookie: string;
  try {
    cookie = decodeURIComponent(decodeURIComponent(encoded));
  } catch {
    throw new WorkbenchError('odata', 'The service sent a paging cookie that is not URL-encoded.');
  }
  const base = path.slice(0, path.indexOf('?'));
  const params = new URLSearchParams(path.slice(path.indexOf('?') + 1));
  params.set('fetchXml', withPage(xml, Number(page), cookie));
  return `${base}?${params.toString().replace(/\+/g, '%20')}`;
}

/**
 * Every page of a FetchXML query, each with the path of the next as its `nextLink` (so a checkpoint can resume
 * there); `pages` of the client for any other path.
 */
export async function* queryPages(
  client: WebApiClient,
  path: string,
  options: PagingOptions = {},
): AsyncGenerator<Page, void, undefined> {
  if (fetchXmlOf(path) === undefined) {
    yield* client.pages(path, options);
    return;
  }
  // FetchXML pages by its own `count` attribute, not by `odata.maxpagesize`.
  const annotations = [...(options.includeAnnotations ?? []), PAGING_COOKIE, MORE_RECORDS];
  let next: string | undefined = path;
  while (next !== undefined) {
    const current: string = next;
    const response = await client.request({
      method: 'GET',
      path: current,
      prefer: { includeAnnotations: annotations },
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    });
    const body = response.body as Record<string, unknown> | undefined;
    const value = Array.isArray(body?.value) ? (body.value as Page['value']) : [];
    const cookie = body?.[`@${PAGING_COOKIE}`];
    next =
      body?.[`@${MORE_RECORDS}`] === true && typeof cookie === 'string' ? nextFetchPath(current, cookie) : undefined;
    yield { value, count: undefined, nextLink: next, deltaLink: undefined };
  }
}

/**
 * The properties a FetchXML query answers with, in order (FetchXML leaves null values out of each record, so the
 * first record does not show them all): the root's attributes (lookups as `_x_value`) and each link-entity's as
 * `alias.x`. Undefined with `<all-attributes>`, which names no columns.
 */
export function fetchXmlColumns(xml: string, isLookup: (column: string) => boolean): string[] | undefined {
  const parser = new SaxesParser({ xmlns: false });
  const columns: string[] = [];
  const aliases: (string | undefined)[] = [];
  let all = false;
  let error: string | undefined;
  parser.on('error', (e) => {
    error ??= e.message;
  });
  parser.on('opentag', (tag: SaxesTagPlain) => {
    const attribute = (name: string): string | undefined => {
      const value = tag.attributes[name];
      return typeof value === 'string' ? value : undefined;
    };
    if (tag.name === 'link-entity') aliases.push(attribute('alias') ?? attribute('name'));
    if (tag.name === 'all-attributes') all = true;
    if (tag.name !== 'attribute') return;
    const name = attribute('name');
    if (name === undefined) return;
    const link = aliases[aliases.length - 1];
    const alias = attribute('alias');
    if (link === undefined) columns.push(alias ?? (isLookup(name) ? `_${name}_value` : name));
    else columns.push(alias ?? `${link}.${name}`);
  });
  parser.on('closetag', (tag) => {
    if (tag.name === 'link-entity') aliases.pop();
  });
  parser.write(xml).close();
  if (error !== undefined) throw new WorkbenchError('invalidInput', `The FetchXML is not valid: ${error}`);
  return all ? undefined : columns;
}

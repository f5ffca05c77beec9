import type { Position } from '../engine';
import { badRequest } from '../errors';
import type { Table } from '../schema/schema';
import type { Request } from './context';

/** The most rows one page (and a `$count`) answers, as Dataverse. */
export const MAX_PAGE = 5000;

/**
 * The Dataverse paging cookie, so that debugging tools that decode `$skiptoken` see the usual shape. The
 * emulator adds `offset` to the inner cookie: with `$orderby` it pages by position, not by key.
 */
export function skipToken(table: Table, position: Position, first: string, last: string): string {
  const inner = `<cookie page="${position.page}" offset="${position.offset}"><${table.primaryIdAttribute} last="{${last.toUpperCase()}}" first="{${first.toUpperCase()}}" /></cookie>`;
  return `<cookie pagenumber="${position.page + 1}" pagingcookie="${lowerEscapes(encodeURIComponent(inner))}" istracking="False" />`;
}

/** Dataverse writes percent escapes in lower case inside paging cookies (`%3ccookie`). */
function lowerEscapes(text: string): string {
  return text.replace(/%[0-9A-F]{2}/g, (escape) => escape.toLowerCase());
}

export function readSkipToken(token: string): Position {
  const page = /pagenumber="(\d{1,9})"/.exec(token);
  const cookie = /pagingcookie="([^"]*)"/.exec(token);
  let inner = '';
  try {
    inner = decodeURIComponent(cookie?.[1] ?? '');
  } catch {
    inner = '';
  }
  const last = /last="\{([0-9A-Fa-f-]{36})\}"/.exec(inner);
  const offset = /offset="(\d{1,9})"/.exec(inner);
  if (page?.[1] === undefined || last?.[1] === undefined) throw badRequest('The $skiptoken is not valid.');
  return { page: Math.max(0, Number(page[1]) - 1), after: last[1].toLowerCase(), offset: Number(offset?.[1] ?? 0) };
}

/** The request's URL without `$skiptoken`, then the given token: options travel to the next page as sent. */
export function nextLink(baseUrl: string, request: Request, token: string): string {
  const kept = request.url.options
    .filter((o) => o.name !== '$skiptoken')
    .map((o) => request.rawUrl.slice(o.span.start, o.span.end));
  kept.push(`$skiptoken=${encodeURIComponent(token)}`);
  return `${baseUrl}${request.path}?${kept.join('&')}`;
}

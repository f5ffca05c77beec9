/**
 * What one request may make the emulator do. Each bound turns what would be a SQLite or stack failure (a 500)
 * into a 400 that names the limit. Where Dataverse documents a limit the emulator uses it (the sources are cited
 * beside each); elsewhere Dataverse's ceiling is SQL Server's and undocumented, and the emulator's is chosen
 * above anything a 64 KB request URL asks for in practice and below what SQLite can run.
 */
import type { DataverseHttpError } from './errors';
import { guessed } from './errors';

/**
 * Nesting of objects and arrays in a JSON request body: ODataLib's `ODataMessageQuotas.MaxNestingDepth` default,
 * which Dataverse's Web API reader keeps.
 */
export const MAX_JSON_DEPTH = 100;
/** Conditions (comparisons, functions, lambdas) in the filters of one query, after parameter aliases are resolved. */
export const MAX_FILTER_TERMS = 5_000;
/** Values of `In`, `NotIn`, `Between`, `ContainValues`… in one query, after parameter aliases are resolved. */
export const MAX_LIST_VALUES = 10_000;
/** `$orderby` items of one query (SQLite stops at 2,000 sort keys). */
export const MAX_ORDERBY_ITEMS = 1_000;
/**
 * Single-valued navigations in one property path (`parentaccountid/primarycontactid/fullname`): each is a join,
 * and Dataverse allows 15 joins in a query ("Join tables using FetchXml": up to 15 link-entity elements).
 */
export const MAX_PATH_NAVIGATIONS = 15;
/**
 * The URL of a request inside a `$batch`: "a GET inside $batch may be up to 64 KB" (Dataverse's "Compose HTTP
 * requests", reference §1.5); a top-level URL stops at 32 KB (server.ts).
 */
export const MAX_BATCH_PART_URL = 64 * 1024;
/** Values one SQL statement may bind; SQLite's own maximum is 32,766. */
export const MAX_SQL_VALUES = 30_000;

export function limitExceeded(what: string, count: number, limit: number): DataverseHttpError {
  return guessed(
    400,
    'queryLimit',
    `The number of ${what} (${count.toLocaleString('en-US')}) exceeds the limit of ${limit.toLocaleString('en-US')}.`,
  );
}

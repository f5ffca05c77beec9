import { memoryDeltaLinkStore } from '../dataverse/changeTracking';
import type { RunResult } from '../dataverse/runRequest';
import { executeRequest, liveRunContext } from '../dataverse/runRequest';
import type { WebApiClient } from '../dataverse/webApiClient';
import { isJsonObject } from '../core/json';
import type { MetadataIndex } from '../metadata/lookup';
import { parseDocument } from '../odata/document/parser';
import type { Block, ODataDocument } from '../odata/document/syntax';
import type { CheckFinding } from '../odata/language/check';
import { checkText, findingsOf, formatFinding } from '../odata/language/check';
import { documentDiagnostics } from '../odata/language/diagnostics';
import type { LanguageDiagnostic } from '../odata/language/types';
import type { NamedResult, PreparedRequest } from '../odata/run';
import { prepareRequest } from '../odata/run';
import { CHARACTER_BUDGET, compactTable, displayColumns, withinBudget } from './format';
import { ToolRefusal } from './refusal';
import { resolveTable } from './tables';

/** The name findings carry, as `dvw check query.odata` would print them. */
export const QUERY_FILE = 'query.odata';
const FORMATTED_VALUES = 'odata.include-annotations="OData.Community.Display.V1.FormattedValue"';
/** Dataverse stops counting at 5,000 (`$count` and `@odata.count`). */
const COUNT_LIMIT = 5000;

/**
 * The `.odata` text of a query: as given (a request line, bare URL or block), or for FetchXML a FETCH
 * block on the entity set of the `<entity name>` it names.
 */
export function requestText(query: string, index: MetadataIndex): string {
  const trimmed = query.trim();
  if (!trimmed.startsWith('<')) return `${trimmed}\n`;
  if (!/^<fetch[\s>]/.test(trimmed)) {
    throw new ToolRefusal('An XML query must be a FetchXML document starting with <fetch.');
  }
  const entity = /<entity\s+name\s*=\s*["']([^"']+)["']/.exec(trimmed)?.[1];
  if (entity === undefined) throw new ToolRefusal('The FetchXML names no table: add <entity name="account">.');
  const { set } = resolveTable(index, entity);
  return `FETCH ${set.name}\n\n${trimmed}\n`;
}

export function findingLines(findings: readonly CheckFinding[]): string {
  return findings
    .map((f) => `${formatFinding(f)}${f.fixes.length > 0 ? `\n  fix: ${f.fixes.join(' | ')}` : ''}`)
    .join('\n');
}

/** What check_query answers: exactly `dvw check`'s findings for the text, with their fixes. */
export function checkQuery(text: string, index: MetadataIndex): { findings: CheckFinding[]; text: string } {
  const findings = checkText(QUERY_FILE, text, index);
  const errors = findings.filter((f) => f.severity === 'error').length;
  const summary =
    findings.length === 0
      ? 'No problems found: the query matches the metadata.'
      : `${errors} error(s), ${findings.length - errors} warning(s) or note(s):\n${findingLines(findings)}`;
  return { findings, text: `Checked as:\n${text}\n${summary}\n` };
}

/**
 * The query refused before sending when it has errors, with the same findings check_query gives;
 * else its diagnostics, which prepareRequest takes instead of diagnosing the document again.
 */
function refuseErrors(text: string, document: ODataDocument, index: MetadataIndex): readonly LanguageDiagnostic[] {
  // checkText's own steps, on the document run_query sends, so the text is parsed once.
  const diagnostics = documentDiagnostics(document, { metadata: index });
  if (!diagnostics.some((d) => d.severity === 'error')) return diagnostics;
  const errors = findingsOf(QUERY_FILE, text, diagnostics).filter((f) => f.severity === 'error');
  throw new ToolRefusal(
    `Nothing was sent: the query has ${errors.length} error(s). Fix them and run again.\n${text}${findingLines(errors)}`,
  );
}

function onlyRequest(document: ODataDocument): Block {
  const blocks = document.blocks.filter((b) => b.request !== undefined);
  if (blocks.length !== 1) {
    throw new ToolRefusal(`Give exactly one request (this text has ${blocks.length}); run several one after another.`);
  }
  return blocks[0]!;
}

function hasPreference(headers: PreparedRequest['headers'], name: RegExp): boolean {
  return headers.some(([header, value]) => header.toLowerCase() === 'prefer' && name.test(value));
}

/**
 * The prepared request with what a model needs: formatted values, a page no larger than the rows it
 * will see, and the total count of a plain entity-set query (`$count=true` changes no rows).
 */
function forModel(request: PreparedRequest, index: MetadataIndex, maxRows: number): PreparedRequest {
  const [path = '', query = ''] = request.url.split('?', 2);
  const preferences: string[] = [];
  if (!hasPreference(request.headers, /include-annotations/i)) preferences.push(FORMATTED_VALUES);
  // A page size beside $top is left out: Dataverse docs advise against combining them.
  if (request.kind === 'single' && !hasPreference(request.headers, /maxpagesize/i) && !/(^|&)\$top=/i.test(query)) {
    preferences.push(`odata.maxpagesize=${maxRows}`);
  }
  const countable =
    request.kind === 'single' &&
    index.entitySet(path) !== undefined &&
    !/(^|&)(\$count|\$apply|fetchXml|savedQuery|userQuery|\$top)=/i.test(query);
  const url = countable ? `${request.url}${query === '' ? '?' : '&'}$count=true` : request.url;
  return {
    ...request,
    url,
    headers: preferences.length === 0 ? request.headers : [...request.headers, ['Prefer', preferences.join(',')]],
  };
}

/** A path for messages and logs: the Web API root and the query string (which may hold values) left out. */
export function pathOnly(url: string, webApiUrl: string): string {
  const relative = url.startsWith(webApiUrl) ? url.slice(webApiUrl.length) : url;
  return relative.split('?')[0] ?? relative;
}

function errorOf(body: unknown): string {
  if (isJsonObject(body) && isJsonObject(body.error)) {
    const { code, message } = body.error;
    return `${typeof code === 'string' && code !== '' ? `${code}: ` : ''}${typeof message === 'string' ? message : ''}`;
  }
  return typeof body === 'string' ? body.slice(0, 500) : '';
}

export interface ReadOutcome {
  readonly text: string;
  readonly isError: boolean;
  /** For the log: method, path, status, rows. */
  readonly summary: string;
}

function rowsAnswer(result: RunResult, client: WebApiClient, maxRows: number, budget: number): string {
  const body = result.body as Record<string, unknown>;
  const rows = (body.value as unknown[]).map((row) => (isJsonObject(row) ? row : { value: row }));
  const count = typeof body['@odata.count'] === 'number' ? body['@odata.count'] : undefined;
  const more = result.nextLink !== undefined || rows.length > maxRows;
  const shown = rows.slice(0, maxRows);
  const table = compactTable(shown, budget - 600);
  const total =
    count !== undefined
      ? `${count}${count >= COUNT_LIMIT ? ' or more' : ''} row(s) in total`
      : more
        ? `more than ${shown.length} row(s)`
        : `${rows.length} row(s)`;
  const lines = [`${result.status} ${result.statusText} — ${total}, showing ${table.shownRows}.`];
  if (table.text !== '') lines.push(table.text.trimEnd());
  if (table.shownRows < shown.length) {
    lines.push(
      `[truncated: ${shown.length - table.shownRows} more row(s) did not fit the ${budget}-character budget. $select fewer columns or ask for fewer rows.]`,
    );
  }
  if (more) {
    const next =
      result.nextLink === undefined ? '' : ` The next page is: GET ${result.nextLink.replace(client.webApiUrl, '')}`;
    lines.push(
      `More rows exist. Narrow the query with $filter or $top, raise maxRows (up to 500), or count with $apply=aggregate($count as count).${next}`,
    );
  }
  return `${lines.join('\n')}\n`;
}

function answerText(result: RunResult, client: WebApiClient, maxRows: number): string {
  const body = result.body;
  if (isJsonObject(body) && Array.isArray(body.value)) return rowsAnswer(result, client, maxRows, CHARACTER_BUDGET);
  if (isJsonObject(body)) {
    const lines = [...displayColumns(body)].map(([name, value]) => `${name}: ${value}`);
    return withinBudget(
      `${result.status} ${result.statusText}\n${lines.join('\n')}\n`,
      CHARACTER_BUDGET,
      'Name fewer columns ($select).',
    );
  }
  const text = body === undefined ? '(no content)' : typeof body === 'string' ? body : JSON.stringify(body);
  return withinBudget(`${result.status} ${result.statusText}\n${text}\n`, CHARACTER_BUDGET, 'Ask for less.');
}

/**
 * Checks, then sends one read-only request (GET or FETCH) and sizes the answer. A request that
 * changes data, a batch or change tracking is refused before anything is sent.
 */
export async function runReadOnly(
  client: WebApiClient,
  index: MetadataIndex,
  text: string,
  maxRows: number,
  signal: AbortSignal | undefined,
): Promise<ReadOutcome> {
  const document = parseDocument(text);
  const diagnostics = refuseErrors(text, document, index);
  const block = onlyRequest(document);
  const method = block.request!.method;
  if (method !== 'GET' && method !== 'FETCH') {
    throw new ToolRefusal(
      `run_query is read-only and ${method} changes data; nothing was sent. Use write_records or run_action where writes are allowed.`,
    );
  }
  const prepared = prepareRequest(
    document,
    block.index,
    liveRunContext({}, new Map<string, NamedResult>()),
    diagnostics,
  );
  if (!prepared.ok) {
    throw new ToolRefusal(`Nothing was sent: ${prepared.problems.map((p) => p.message).join('; ')}`);
  }
  if (prepared.request.kind === 'trackChanges') {
    throw new ToolRefusal(
      'run_query does not read change tracking (it reads every page); leave out Prefer: odata.track-changes.',
    );
  }
  const request = forModel(prepared.request, index, maxRows);
  const result = await executeRequest(client, request, {
    deltaLinks: memoryDeltaLinkStore(),
    key: 'run_query',
    ...(signal === undefined ? {} : { signal }),
  });
  const summary = `${request.method} ${pathOnly(request.url, client.webApiUrl)} → ${result.status}`;
  if (result.status >= 400) {
    return {
      isError: true,
      summary,
      text: `The service answered ${result.status} ${result.statusText}: ${errorOf(result.body)}\nNothing was changed. Fix the query (check_query helps) and run again.\n`,
    };
  }
  return { isError: false, summary, text: answerText(result, client, maxRows) };
}

const GUID = /^\{?([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\}?$/i;

/** A record id as the URL needs it, or a refusal naming the argument. */
export function recordId(value: unknown, argument: string): string {
  const match = typeof value === 'string' ? GUID.exec(value.trim()) : null;
  if (match === null) throw new ToolRefusal(`${argument} must be a GUID such as 8f1c4d2e-0b1a-4c6e-9d3f-5a2b7c8e9f01.`);
  return match[1]!.toLowerCase();
}

/** The GET of one record, checked like any query so an unknown column gets its did-you-mean. */
export function recordRequest(
  index: MetadataIndex,
  table: string,
  id: string,
  select: readonly string[] | undefined,
): string {
  const { set } = resolveTable(index, table);
  const options = select !== undefined && select.length > 0 ? `?$select=${select.map((s) => s.trim()).join(',')}` : '';
  return `GET ${set.name}(${id})${options}\n`;
}

/** The text save_as_odata writes: a `###` heading, then the request(s). */
export function odataFileText(text: string, title: string | undefined): string {
  const heading = title === undefined || title.trim() === '' ? '###' : `### ${title.replace(/[\r\n]+/g, ' ').trim()}`;
  return text.trimStart().startsWith('###') ? text : `${heading}\n${text}`;
}

export function requestCount(text: string): number {
  return parseDocument(text).blocks.filter((b) => b.request !== undefined).length;
}

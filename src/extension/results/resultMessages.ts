import { isJsonObject } from '../../core/json';
import type { RunResult } from '../../dataverse/runRequest';
import { MetadataIndex } from '../../metadata/lookup';
import type { MetadataModel } from '../../metadata/model';
import { columnType } from '../../metadata/columnNames';
import type { ColumnHint, HostMessage, JsonValue, ResultRow, StatusLine } from '../../webview/resultsProtocol';

/**
 * Whether a request URL asks for aggregated rows (`$apply`, or an aggregate FetchXML), which have no
 * record ids to open.
 */
export function isAggregateUrl(url: string): boolean {
  let decoded = url;
  try {
    decoded = decodeURIComponent(url);
  } catch {
    // A malformed escape: look at the text as it is.
  }
  return /[?&]\$apply=/.test(decoded) || /<fetch\b[^>]*\baggregate\s*=\s*["']true["']/i.test(decoded);
}

/** Turns a run's answer into the message that shows it; pure, so it is unit-tested without VS Code. */
export function messageForResult(
  result: RunResult,
  primaryIdAttribute: string | undefined,
  aggregate = false,
): HostMessage {
  const body = isJsonObject(result.body) ? result.body : undefined;
  if (result.status >= 400) {
    const error = isJsonObject(body?.['error']) ? body['error'] : undefined;
    return {
      type: 'showError',
      error: {
        message:
          typeof error?.['message'] === 'string'
            ? error['message']
            : `${result.status} ${result.statusText}`.trim() || 'The request failed.',
        status: result.status,
        ...(typeof error?.['code'] === 'string' ? { code: error['code'] } : {}),
        ...(result.requestId ? { serviceRequestId: result.requestId } : {}),
      },
    };
  }
  if (result.kind === 'batch') {
    return {
      type: 'showBatch',
      responses: (result.batch ?? []).map((part) => ({
        status: part.status ?? 0,
        statusText: part.status === undefined ? 'Not executed' : part.statusText,
        method: part.method,
        url: part.url,
        ...(part.contentId ? { contentId: part.contentId } : {}),
        ...(part.body === undefined ? {} : { body: toJsonValue(part.body) }),
      })),
      status: statusLine(result, result.batch?.length ?? 0),
    };
  }
  const rows = rowsOf(body);
  const metadata = {
    ...(entitySetOf(body) ? { entitySet: entitySetOf(body) } : {}),
    ...(primaryIdAttribute ? { primaryIdAttribute } : {}),
  };
  if (result.kind === 'delta') {
    return {
      type: 'showDelta',
      rows,
      removed: (result.removed ?? []).map((id) => ({ id, reason: 'deleted' })),
      metadata,
      status: statusLine(result, rows.length),
    };
  }
  return {
    type: 'showResult',
    shape: aggregate ? 'aggregate' : 'entities',
    rows,
    metadata,
    status: statusLine(result, rows.length),
    hasMore: result.nextLink !== undefined,
  };
}

/** The columns of the rows, in first-seen order: properties only, annotations (`x@…`) decorate one. */
export function columnNamesOf(rows: readonly ResultRow[]): string[] {
  const names = new Set<string>();
  for (const row of rows) for (const key in row) if (!key.includes('@')) names.add(key);
  return [...names];
}

/**
 * What metadata says about each column of a result of `entitySet`: the display name and the
 * Dataverse attribute type (`Money`, `Lookup`) when EntityDefinitions were merged into the model, else
 * the CSDL type (`Edm.Decimal`). Columns the table does not have (aliases, expanded navigation
 * properties) get no hint; an entity set the model does not know gives none at all.
 */
export function columnHintsFor(model: MetadataModel, entitySet: string, columns: readonly string[]): ColumnHint[] {
  const index = new MetadataIndex(model);
  const type = index.entityTypeOfSet(entitySet);
  if (type === undefined) return [];
  const hints: ColumnHint[] = [];
  for (const name of columns) {
    const property = index.property(type, name);
    if (property === undefined) continue;
    const displayName = property.info?.displayName;
    hints.push({
      logicalName: name,
      ...(displayName === undefined ? {} : { displayName }),
      // Dataverse's name for the type (Money, Lookup, Choice), as the explorer shows it.
      type: property.info === undefined ? property.type : columnType(property),
    });
  }
  return hints;
}

/** The table (`account`) whose rows an entity set (`accounts`) holds: the EntityDefinitions key. */
export function logicalNameOfSet(model: MetadataModel, entitySet: string): string | undefined {
  const set = model.entitySets.get(entitySet);
  return set === undefined ? undefined : set.entityType.slice(set.entityType.lastIndexOf('.') + 1);
}

export function statusLine(
  result: Pick<RunResult, 'elapsedMs' | 'status' | 'requestId' | 'body'>,
  rowCount: number,
): StatusLine {
  const body = isJsonObject(result.body) ? result.body : undefined;
  const count = body?.['@odata.count'];
  return {
    rowCount,
    elapsedMs: Math.round(result.elapsedMs),
    httpStatus: result.status,
    ...(result.requestId ? { requestId: result.requestId } : {}),
    ...(typeof count === 'number' ? { totalCount: count } : {}),
  };
}

/** A collection's `value`, a single record as one row, nothing for an empty answer. */
export function rowsOf(body: Record<string, unknown> | undefined): ResultRow[] {
  if (!body) return [];
  const value = body['value'];
  if (Array.isArray(value)) return value.filter(isJsonObject).map((row) => toJsonValue(row) as ResultRow);
  return [toJsonValue(body) as ResultRow];
}

/** `…/$metadata#accounts(name,revenue)` or `…#accounts/$entity` → `accounts`. */
export function entitySetOf(body: Record<string, unknown> | undefined): string | undefined {
  const context = body?.['@odata.context'];
  if (typeof context !== 'string') return undefined;
  return /#([A-Za-z_][\w]*)/.exec(context)?.[1];
}

/** JSON bodies are JSON already; this only narrows the type (and drops what JSON cannot hold). */
function toJsonValue(value: unknown): JsonValue {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') return Number.isFinite(value) ? value : null;
  if (Array.isArray(value)) return value.map(toJsonValue);
  if (isJsonObject(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toJsonValue(v)]));
  return null;
}

// The non-grid answers: errors and $batch sub-responses.
import { isJsonObject } from '../../core/json';
import type { BatchSubResponse, ErrorInfo, JsonValue } from '../resultsProtocol';
import { el } from './dom';
import { hintFor } from './errorHints';
import { rawText } from './model';

const PLAIN_TABLE_LIMIT = 200;

export function renderError(error: ErrorInfo, compact = false): HTMLElement {
  const hint = hintFor(error.status, error.hint);
  const heading = [error.status === undefined ? 'Error' : `HTTP ${error.status}`, error.code]
    .filter(Boolean)
    .join(' · ');
  return el('section', { className: compact ? 'error-banner' : 'error-view', attrs: { role: 'alert' } }, [
    el('div', { className: 'error-heading', text: heading }),
    el('div', { className: 'error-message', text: error.message }),
    ...(hint === undefined ? [] : [el('div', { className: 'error-hint', text: hint })]),
    ...(error.serviceRequestId === undefined
      ? []
      : [el('div', { className: 'error-request', text: `Request id ${error.serviceRequestId}` })]),
  ]);
}

/** Dataverse's error body: `{ "error": { "code": "0x…", "message": "…" } }`. */
export function errorOfBody(status: number, body: JsonValue | undefined): ErrorInfo | undefined {
  if (status < 400) return undefined;
  const error = isJsonObject(body) ? body.error : undefined;
  if (isJsonObject(error) && typeof error.message === 'string') {
    return { status, message: error.message, ...(typeof error.code === 'string' ? { code: error.code } : {}) };
  }
  return { status, message: typeof body === 'string' && body !== '' ? body : 'The request failed.' };
}

/** A collection body (`value` array of objects) as a plain table; a few hundred rows at most. */
export function plainTable(rows: readonly JsonValue[]): HTMLElement {
  const objects = rows.filter((row): row is { [key: string]: JsonValue } => isJsonObject(row));
  const columns: string[] = [];
  const seen = new Set<string>();
  for (const row of objects.slice(0, PLAIN_TABLE_LIMIT)) {
    for (const key of Object.keys(row)) {
      if (!key.includes('@') && !seen.has(key)) {
        seen.add(key);
        columns.push(key);
      }
    }
  }
  const table = el('table', { className: 'plain-table' }, [
    el('thead', {}, [
      el(
        'tr',
        {},
        columns.map((c) => el('th', { text: c })),
      ),
    ]),
    el(
      'tbody',
      {},
      objects.slice(0, PLAIN_TABLE_LIMIT).map((row) =>
        el(
          'tr',
          {},
          columns.map((c) => {
            const value = row[c];
            if (value === null) return el('td', { className: 'k-null', text: 'null' });
            if (value === '') return el('td', { className: 'k-empty', text: '""' });
            return el('td', { text: rawText(value) });
          }),
        ),
      ),
    ),
  ]);
  const more = objects.length - PLAIN_TABLE_LIMIT;
  return more > 0
    ? el('div', {}, [table, el('div', { className: 'note', text: `${more} more rows not shown` })])
    : table;
}

export function renderBatch(responses: readonly BatchSubResponse[]): HTMLElement {
  const list = el('ol', { className: 'batch-list', attrs: { 'aria-label': 'Batch sub-responses' } });
  responses.forEach((response, index) => {
    const ok = response.status < 400;
    const summary = el('summary', { className: 'batch-summary' }, [
      el('span', { className: `badge ${ok ? 'ok' : 'failed'}`, text: String(response.status) }),
      el('span', { className: 'batch-index', text: `#${index + 1}` }),
      ...(response.method === undefined ? [] : [el('span', { className: 'batch-method', text: response.method })]),
      ...(response.url === undefined ? [] : [el('span', { className: 'batch-url', text: response.url })]),
      ...(response.statusText === undefined ? [] : [el('span', { className: 'note', text: response.statusText })]),
      ...(response.changeSet === undefined
        ? []
        : [el('span', { className: 'note', text: `change set ${response.changeSet}` })]),
      ...(response.contentId === undefined
        ? []
        : [el('span', { className: 'note', text: `Content-ID ${response.contentId}` })]),
    ]);
    const details = el('details', { className: 'batch-item' }, [summary]);
    details.open = !ok || responses.length <= 10;
    const error = errorOfBody(response.status, response.body);
    const body = response.body;
    if (error) details.append(renderError(error, true));
    else if (isJsonObject(body) && Array.isArray(body.value)) details.append(plainTable(body.value));
    else if (body !== undefined && body !== '') {
      details.append(el('pre', { className: 'json-block', text: JSON.stringify(body, null, 2) }));
    } else details.append(el('div', { className: 'note', text: 'No content' }));
    list.append(el('li', {}, [details]));
  });
  return list;
}

import * as assert from 'node:assert/strict';
import type { HistoryEntry } from '../../../src/dataverse/requestHistory';
import {
  historyEntry,
  parseHistory,
  redactUrl,
  relativeUrl,
  toCurl,
  toOdataText,
  withEntry,
} from '../../../src/dataverse/requestHistory';
import type { RequestExchange } from '../../../src/dataverse/webApiClient';

const ROOT = 'https://contoso.crm.dynamics.com/api/data/v9.2/';

function exchange(overrides: Partial<RequestExchange> = {}): RequestExchange {
  return {
    startedAt: Date.UTC(2026, 11, 7, 18, 30),
    method: 'PATCH',
    url: `${ROOT}accounts(00000000-0000-0000-0000-000000000001)`,
    headers: {
      Accept: 'application/json',
      'Accept-Encoding': 'gzip, deflate',
      'OData-MaxVersion': '4.0',
      'OData-Version': '4.0',
      'Content-Type': 'application/json; charset=utf-8',
      'If-Match': 'W/"123"',
    },
    body: '{"name":"O\'Neil Ltd"}',
    status: 204,
    durationMs: 42,
    requestId: 'req-1',
    error: undefined,
    ...overrides,
  };
}

const environment = { name: 'Contoso Dev', id: 'environment:Contoso Dev' };

describe('request history', () => {
  it('keeps the headers a request file needs and the body only when asked', () => {
    const entry = historyEntry(exchange(), environment, { keepBody: false, id: 'a' });
    assert.deepEqual(entry.headers, { 'If-Match': 'W/"123"' });
    assert.equal(entry.body, undefined);
    assert.equal(entry.environment, 'Contoso Dev');
    const withBody = historyEntry(exchange(), environment, { keepBody: true, id: 'b' });
    assert.equal(withBody.body, '{"name":"O\'Neil Ltd"}');
    const read = historyEntry(exchange({ method: 'GET', headers: { 'If-None-Match': 'null' } }), environment, {
      keepBody: false,
      id: 'c',
    });
    assert.deepEqual(read.headers, {}, "the client's cache-buster is not the user's header");
  });

  it('redacts credentials in URLs and leaves OData queries as written', () => {
    const query = `${ROOT}accounts?$select=name,revenue&$filter=name eq 'x'`;
    assert.equal(redactUrl(query), query);
    assert.equal(
      redactUrl('https://user:pw@blob.example.net/x?sv=1&sig=abc%2B&se=2'),
      'https://blob.example.net/x?sv=1&sig=REDACTED&se=2',
    );
    assert.equal(relativeUrl(query), "accounts?$select=name,revenue&$filter=name eq 'x'");
    assert.equal(relativeUrl('https://elsewhere.example/x'), 'https://elsewhere.example/x');
  });

  it('copies as a .odata file for the same environment', () => {
    const entry = historyEntry(exchange(), environment, { keepBody: true, id: 'a' });
    assert.equal(
      toOdataText(entry),
      [
        '@environment = Contoso Dev',
        '',
        '### PATCH accounts(00000000-0000-0000-0000-000000000001) (2026-12-07T18:30:00.000Z)',
        'PATCH accounts(00000000-0000-0000-0000-000000000001)',
        'If-Match: W/"123"',
        '',
        '{"name":"O\'Neil Ltd"}',
        '',
      ].join('\n'),
    );
  });

  it('copies as cURL with the token left to a shell variable and quotes escaped', () => {
    const curl = toCurl(historyEntry(exchange(), environment, { keepBody: true, id: 'a' }));
    assert.match(curl, /^curl -X PATCH 'https:\/\/contoso\.crm\.dynamics\.com\/api\/data\/v9\.2\/accounts\(/);
    assert.ok(curl.includes('-H "Authorization: Bearer $DATAVERSE_TOKEN"'));
    assert.ok(curl.includes(`--data-raw '{"name":"O'\\''Neil Ltd"}'`));
    assert.ok(curl.includes('-H \'If-Match: W/"123"\''));
  });

  it('keeps the newest entries up to the limit, and drops damaged stored entries', () => {
    let list: HistoryEntry[] = [];
    for (let i = 0; i < 5; i++)
      list = withEntry(list, historyEntry(exchange(), environment, { keepBody: false, id: `${i}` }), 3);
    assert.deepEqual(
      list.map((entry) => entry.id),
      ['4', '3', '2'],
    );
    assert.deepEqual(parseHistory(JSON.parse(JSON.stringify(list))), list);
    assert.deepEqual(parseHistory([{ id: 1 }, 'x', null]), []);
    assert.deepEqual(parseHistory('not a list'), []);
  });
});

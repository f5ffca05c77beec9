import assert from 'node:assert/strict';
import { parseCsdl } from '../../../src/metadata/csdl';
import type { ImportProgress } from '../../../src/dataverse/bulkImport';
import { importRows, parseCsv, parseJsonLines, rowKeys, tableRules, uuidV5 } from '../../../src/dataverse/bulkImport';
import type { RunningEmulator } from '../../../src/emulator/server';
import type { WebApiClient } from '../../../src/dataverse/webApiClient';
import { startEmulatorClient } from './emulatorClient';

describe('dataverse/bulkImport: reading files and keys', () => {
  it('reads RFC 4180 CSV with quotes, line breaks in fields and CRLF, keeping each record’s first line', () => {
    const parsed = parseCsv('\uFEFFname,description\r\nA,"x, ""y"""\r\n\r\nB,"two\nlines"\nC,plain\nD\n');
    assert.deepEqual(parsed.columns, ['name', 'description']);
    assert.deepEqual(
      parsed.rows.map((r) => [r.line, r.values, r.problem]),
      [
        [2, { name: 'A', description: 'x, "y"' }, undefined],
        [4, { name: 'B', description: 'two\nlines' }, undefined],
        [6, { name: 'C', description: 'plain' }, undefined],
        [7, undefined, '1 fields where the header has 2'],
      ],
    );
  });

  it('reads JSON Lines, reporting lines that are not objects', () => {
    const parsed = parseJsonLines('{"a":1}\n\n[1]\n{oops\n');
    assert.deepEqual(
      parsed.rows.map((r) => [r.line, r.problem]),
      [
        [1, undefined],
        [3, 'not a JSON object'],
        [4, 'not valid JSON'],
      ],
    );
  });

  it('derives the same keys for the same rows, distinct keys for repeated identical rows', () => {
    assert.equal(
      uuidV5('www.example.com', '6ba7b810-9dad-11d1-80b4-00c04fd430c8'),
      '2ed6657d-e927-568b-95e1-2665a8aea6a2',
    );
    const first = rowKeys('accounts', [{ name: 'A' }, { name: 'B' }, { name: 'A' }]);
    const second = rowKeys('accounts', [{ name: 'B' }, { name: 'A' }, { name: 'A' }]);
    assert.equal(new Set(first).size, 3);
    assert.deepEqual([...first].sort(), [...second].sort(), 'moving rows keeps their keys');
    assert.notDeepEqual(rowKeys('contacts', [{ name: 'A' }]), rowKeys('accounts', [{ name: 'A' }]));
  });
});

describe('dataverse/bulkImport against the emulator', function () {
  this.timeout(60_000);
  let emulator: RunningEmulator;
  let client: WebApiClient;
  beforeEach(async () => {
    ({ emulator, client } = await startEmulatorClient({ seed: 'none' }));
  });
  afterEach(() => emulator.close());

  const rulesFor = async () => {
    const response = await client.request({ method: 'GET', path: '$metadata', headers: { Accept: 'application/xml' } });
    return tableRules(parseCsdl(String(response.body)).model, 'accounts');
  };
  const names = async (): Promise<string[]> =>
    (await client.collectAll('accounts?$select=name', { maxPageSize: 5000 })).rows.map((r) => String(r.name));

  it('an interrupted import run again ends with each row exactly once', async () => {
    const rules = await rulesFor();
    const n = 1200;
    const text = `name,numberofemployees\n${Array.from({ length: n }, (_, i) => `Row ${i},${i % 7}`).join('\n')}\n`;
    const source = parseCsv(text);
    const stop = new AbortController();
    const first = await importRows({
      client,
      rules,
      source,
      csv: true,
      batchSize: 50,
      parallel: 3,
      signal: stop.signal,
      onProgress: (p: ImportProgress) => {
        if (p.imported >= 300) stop.abort();
      },
    });
    assert.equal(first.cancelled, true);
    assert.ok(first.imported >= 300 && first.imported < n, `stopped part way (${first.imported})`);
    const partial = await names();
    assert.ok(partial.length >= first.imported && partial.length < n);
    const second = await importRows({ client, rules, source, csv: true, batchSize: 80, parallel: 3 });
    assert.equal(second.cancelled, false);
    assert.equal(second.imported, n);
    const all = await names();
    assert.equal(all.length, n);
    assert.equal(new Set(all).size, n);
  });

  it('a change set the service refuses is retried row by row, so only the bad row fails, by its line', async () => {
    const rules = await rulesFor();
    const lines = [
      '{"name":"Fine 1"}',
      '{"name":"Bad lookup","parentaccountid@odata.bind":"accounts(00000000-0000-0000-0000-000000000001)"}',
      '{"name":"Fine 2"}',
    ];
    const summary = await importRows({
      client,
      rules,
      source: parseJsonLines(lines.join('\n')),
      csv: false,
      batchSize: 10,
    });
    assert.equal(summary.imported, 2);
    assert.deepEqual(
      summary.failed.map((f) => f.line),
      [2],
    );
    assert.deepEqual((await names()).sort(), ['Fine 1', 'Fine 2']);
  });

  it('uses an id column as the key, so a re-run updates instead of adding', async () => {
    const rules = await rulesFor();
    const id = '3f2504e0-4f89-11d3-9a0c-0305e82c3301';
    await importRows({ client, rules, source: parseCsv(`accountid,name\n${id},First\n`), csv: true });
    await importRows({ client, rules, source: parseCsv(`accountid,name\n${id},Second\n`), csv: true });
    const rows = (await client.collectAll('accounts?$select=accountid,name')).rows;
    assert.deepEqual(
      rows.map((r) => [r.accountid, r.name]),
      [[id, 'Second']],
    );
  });
});

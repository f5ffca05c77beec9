import assert from 'node:assert/strict';
import { parseCsdl } from '../../../src/metadata/csdl';
import type { ImportCheckpoint, ImportProgress, TableRules } from '../../../src/dataverse/bulkImport';
import { importRows, RowKeys, tableRules, uuidV5 } from '../../../src/dataverse/bulkImport';
import { openSourceText } from '../../../src/dataverse/importSource';
import type { RunningEmulator } from '../../../src/emulator/server';
import type { WebApiClient } from '../../../src/dataverse/webApiClient';
import { startEmulatorClient } from './emulatorClient';
import type { Peer } from './helpers';
import { clientFor, sendError, startPeer } from './helpers';

describe('dataverse/bulkImport: keys', () => {
  it('derives the same keys for the same rows, distinct keys for repeated identical rows', () => {
    assert.equal(
      uuidV5('www.example.com', '6ba7b810-9dad-11d1-80b4-00c04fd430c8'),
      '2ed6657d-e927-568b-95e1-2665a8aea6a2',
    );
    const keysOf = (set: string, bodies: Record<string, unknown>[]): string[] => {
      const keys = new RowKeys(set);
      return bodies.map((body) => keys.next(body));
    };
    const first = keysOf('accounts', [{ name: 'A' }, { name: 'B' }, { name: 'A' }]);
    const second = keysOf('accounts', [{ name: 'B' }, { name: 'A' }, { name: 'A' }]);
    assert.equal(new Set(first).size, 3);
    assert.deepEqual([...first].sort(), [...second].sort(), 'moving rows keeps their keys');
    assert.notDeepEqual(keysOf('contacts', [{ name: 'A' }]), keysOf('accounts', [{ name: 'A' }]));
    const many = keysOf(
      'accounts',
      Array.from({ length: 20_000 }, (_, i) => ({ name: `Row ${i % 5000}` })),
    );
    assert.equal(new Set(many).size, 20_000, 'four copies of each of 5,000 rows: 20,000 keys');
  });

  it('keeps the keys earlier versions derived (a checkpoint or a re-run of a file from before an upgrade lands on the same records)', () => {
    const keys = new RowKeys('accounts');
    const bodies: Record<string, unknown>[] = [
      { name: 'Contoso', numberofemployees: 12, telephone1: '555-0100' },
      { telephone1: '555-0100', numberofemployees: 12, name: 'Contoso' },
      { name: 'Contoso', numberofemployees: 12, telephone1: '555-0100' },
      { name: 'Zoë "quoted" \\ line\nbreak', revenue: 1.5, donotemail: true, description: null },
      {
        name: 'Nested',
        'primarycontactid@odata.bind': 'contacts(00000000-0000-0000-0000-000000000001)',
        extra: { b: [1, 'x', { z: 1, a: 2 }], a: null },
      },
      { Name: 'case', name: 'lower', _x: 1, é: 2, a10: 3, a9: 4 },
    ];
    // Derived by the version before the shape cache and the sparse counter (commit bed9902).
    assert.deepEqual(
      bodies.map((body) => keys.next(body)),
      [
        'd71fa290-8464-5b78-b540-764b99dc5849',
        'e3900a2c-6bbf-5b48-bb37-9f7cae4fca6c',
        '59e9db35-8308-500c-a480-e1f32417b112',
        'a3c436cb-7ce6-54d6-a7fb-0d5ead3495f8',
        '82d1393c-0576-5660-9d9c-7e2d3ef57100',
        '8567a14d-ea78-53bd-a611-cb02a15bf20b',
      ],
    );
  });

  it('counts occurrences across the move from the small counter to the fixed table', () => {
    const keys = new RowKeys('accounts');
    const before = Array.from({ length: 70_000 }, (_, i) => keys.next({ name: `Row ${i}` }));
    // Past 65,536 slots the counts live in the fixed table: copies of early rows still count from there.
    const again = [0, 1, 69_999].map((i) => keys.next({ name: `Row ${i}` }));
    const all = new Set([...before, ...again]);
    assert.equal(all.size, 70_003);
    const fresh = new RowKeys('accounts');
    assert.deepEqual(
      [0, 1, 69_999].map((i) => fresh.next({ name: `Row ${i}` })),
      [0, 1, 69_999].map((i) => before[i]),
      'the first occurrence of a row has the same key in any file',
    );
  });

  it('counts past 255 copies of a row in the fixed table (a byte per slot), with the keys a small file gets', () => {
    const copies = (keys: RowKeys): string[] => Array.from({ length: 600 }, () => keys.next({ name: 'Same' }));
    const small = copies(new RowKeys('accounts'));
    const keys = new RowKeys('accounts');
    const before = copies(keys);
    for (let i = 0; i < 70_000; i++) keys.next({ name: `Row ${i}` });
    const after = copies(keys);
    assert.deepEqual(before, small, 'the counts before the move');
    assert.equal(new Set([...before, ...after]).size, 1200, 'copies 601 to 1,200 counted on from 600 in the table');
    const again = new RowKeys('accounts');
    for (let i = 0; i < 70_000; i++) again.next({ name: `Row ${i}` });
    assert.deepEqual(
      copies(again).concat(copies(again)),
      small.concat(after),
      'the same keys in either order of moving',
    );
  });
});

describe('dataverse/bulkImport against the emulator', function () {
  this.timeout(120_000);
  let emulator: RunningEmulator;
  let client: WebApiClient;
  let hint = 4;
  beforeEach(async () => {
    hint = 4;
    ({ emulator, client } = await startEmulatorClient({ seed: 'none', dopHint: () => hint }));
  });
  afterEach(() => emulator.close());

  const rulesFor = async (entitySet = 'accounts'): Promise<TableRules> => {
    const response = await client.request({ method: 'GET', path: '$metadata', headers: { Accept: 'application/xml' } });
    return tableRules(parseCsdl(String(response.body)).model, entitySet);
  };
  const names = async (): Promise<string[]> =>
    (await client.collectAll('accounts?$select=name', { maxPageSize: 5000 })).rows.map((r) => String(r.name));
  const csvOf = (n: number): string =>
    `name,numberofemployees\n${Array.from({ length: n }, (_, i) => `Row ${i},${i % 7}`).join('\n')}\n`;

  it('uses UpsertMultiple where the environment lists it for the table (sdkmessagefilters), and says so', async () => {
    const summary = await importRows({
      client,
      rules: await rulesFor(),
      source: await openSourceText(csvOf(250), 'csv'),
      csv: true,
    });
    assert.equal(summary.mode, 'bulk');
    assert.equal(summary.imported, 250);
    assert.equal(summary.requests, 1, 'one UpsertMultiple request (up to 1,000 rows by default)');
    assert.equal((await names()).length, 250);
  });

  it('falls back to $batch change sets for a table without UpsertMultiple (serviceendpoint)', async () => {
    const rows = [
      'name,contract,url,authtype,authvalue',
      'Hook A,8,https://example.test/a,4,key-a',
      'Hook B,8,https://example.test/b,4,key-b',
    ];
    const summary = await importRows({
      client,
      rules: await rulesFor('serviceendpoints'),
      source: await openSourceText(`${rows.join('\n')}\n`, 'csv'),
      csv: true,
    });
    assert.equal(summary.mode, 'batch');
    assert.equal(summary.imported, 2, JSON.stringify(summary.problems));
    const { rows: hooks } = await client.collectAll('serviceendpoints?$select=name');
    assert.deepEqual(hooks.map((h) => h.name).sort(), ['Hook A', 'Hook B']);
  });

  it('a row an UpsertMultiple request refuses is reported by line with the service message, the others go in', async () => {
    const lines = [
      '{"name":"Fine 1"}',
      '{"name":"Bad lookup","parentaccountid@odata.bind":"accounts(00000000-0000-0000-0000-000000000001)"}',
      '{"name":"Fine 2"}',
    ];
    const summary = await importRows({
      client,
      rules: await rulesFor(),
      source: await openSourceText(lines.join('\n'), 'jsonl'),
      csv: false,
      batchSize: 10,
    });
    assert.equal(summary.mode, 'bulk');
    assert.equal(summary.imported, 2);
    assert.equal(summary.failed, 1);
    assert.equal(summary.requests, 2, 'the refused UpsertMultiple, then the rows one by one in one $batch');
    assert.deepEqual(
      summary.problems.map((p) => [p.line, p.phase]),
      [[2, 'service']],
    );
    assert.match(summary.problems[0]?.message ?? '', /Does Not Exist/);
    assert.doesNotMatch(summary.problems[0]?.message ?? '', /Bad lookup/, 'never the row’s values');
    assert.deepEqual((await names()).sort(), ['Fine 1', 'Fine 2']);
  });

  it('rows sent as pre-serialized targets keep their exact text, and a refused one is found by its editor line (CRLF, quoted line breaks, blank lines)', async () => {
    const bad = 'accounts(00000000-0000-0000-0000-000000000001)';
    const text = [
      'name,description,parentaccountid@odata.bind',
      'Fine 1,"two\r\nlines",',
      '',
      `"Bad ""one""",x,${bad}`,
      'Zoë 🚀,"a, b ""c""",',
      '',
    ].join('\r\n');
    const summary = await importRows({
      client,
      rules: await rulesFor(),
      source: await openSourceText(text, 'csv'),
      csv: true,
      mode: 'bulk',
    });
    assert.equal(summary.imported, 2);
    assert.deepEqual(
      summary.problems.map((p) => [p.line, p.phase]),
      [[5, 'service']],
    );
    assert.doesNotMatch(summary.problems[0]?.message ?? '', /Bad/, 'never the row’s values');
    const stored = (await client.collectAll('accounts?$select=name,description')).rows;
    assert.deepEqual(stored.map((r) => [r.name, r.description]).sort(), [
      ['Fine 1', 'two\r\nlines'],
      ['Zoë 🚀', 'a, b "c"'],
    ]);
  });

  it('an interrupted import resumed from its checkpoint ends with each row exactly once', async () => {
    const rules = await rulesFor();
    const n = 1200;
    const text = csvOf(n);
    const stop = new AbortController();
    let checkpoint: ImportCheckpoint | undefined;
    const first = await importRows({
      client,
      rules,
      source: await openSourceText(text, 'csv'),
      csv: true,
      batchSize: 50,
      parallel: 3,
      signal: stop.signal,
      onCheckpoint: (c) => (checkpoint = c),
      onProgress: (p: ImportProgress) => {
        if (p.imported >= 300) stop.abort();
      },
    });
    assert.equal(first.cancelled, true);
    assert.ok(checkpoint !== undefined && checkpoint.afterLine > 1, 'a checkpoint was made');
    assert.ok(checkpoint.imported >= 300 && checkpoint.imported <= first.imported);
    const second = await importRows({
      client,
      rules,
      source: await openSourceText(text, 'csv'),
      csv: true,
      batchSize: 80,
      resume: checkpoint,
    });
    assert.equal(second.cancelled, false);
    assert.equal(second.resumedAfterLine, checkpoint.afterLine);
    assert.equal(second.rows, n, 'the summary counts the rows before the checkpoint too');
    assert.equal(second.imported, n);
    const all = await names();
    assert.equal(all.length, n);
    assert.equal(new Set(all).size, n);
  });

  it('keeps as many requests in flight as x-ms-dop-hint asks, follows a change mid-run, and a --parallel cap wins', async () => {
    const rules = await rulesFor();
    const seen = new Set<number>();
    hint = 1;
    let answered = 0;
    await importRows({
      client,
      rules,
      source: await openSourceText(csvOf(2000), 'csv'),
      csv: true,
      batchSize: 20,
      onProgress: (p) => {
        seen.add(p.parallel);
        answered += 1;
        if (answered === 20) hint = 6;
      },
    });
    assert.ok(seen.has(1) && seen.has(6), `parallelism followed the hint (${[...seen].join(', ')})`);
    const capped = new Set<number>();
    hint = 8;
    await importRows({
      client,
      rules,
      source: await openSourceText(csvOf(300), 'csv'),
      csv: true,
      batchSize: 20,
      parallel: 2,
      onProgress: (p) => capped.add(p.parallel),
    });
    assert.deepEqual([...capped], [2]);
  });

  it('uses an id column as the key, so a re-run updates instead of adding', async () => {
    const rules = await rulesFor();
    const id = '3f2504e0-4f89-11d3-9a0c-0305e82c3301';
    await importRows({
      client,
      rules,
      source: await openSourceText(`accountid,name\n${id},First\n`, 'csv'),
      csv: true,
    });
    await importRows({
      client,
      rules,
      source: await openSourceText(`accountid,name\n${id},Second\n`, 'csv'),
      csv: true,
    });
    const rows = (await client.collectAll('accounts?$select=accountid,name')).rows;
    assert.deepEqual(
      rows.map((r) => [r.accountid, r.name]),
      [[id, 'Second']],
    );
  });

  it('stops at a file error, having imported the rows before it, and counts rows rather than records', async () => {
    const lines = ['name,numberofemployees'];
    for (let i = 0; i < 1000; i++) lines.push(i === 4 ? `"Open quote ${i},${i}` : `Row ${i},${i}`);
    const summary = await importRows({
      client,
      rules: await rulesFor(),
      source: await openSourceText(`${lines.join('\n')}\n`, 'csv'),
      csv: true,
    });
    assert.equal(summary.fileError, 'line 6: a quoted field of the record starting here is not closed');
    assert.equal(summary.rows, 4);
    assert.equal(summary.imported, 4);
    assert.equal((await names()).length, 4);
  });
});

describe('dataverse/bulkImport: a service that times out on large requests (local peer)', () => {
  let peer: Peer | undefined;
  afterEach(async () => {
    await peer?.close();
    peer = undefined;
  });

  it('halves a request the service ran out of time on, and sends fewer rows per request from then on', async () => {
    const stored = new Map<string, unknown>();
    const sizes: number[] = [];
    peer = await startPeer((request, res) => {
      const body = JSON.parse(request.body) as { Targets: { accountid: string }[] };
      sizes.push(body.Targets.length);
      if (body.Targets.length > 30) {
        sendError(res, 408, '0x80040216', 'The request timed out.');
        return;
      }
      for (const target of body.Targets) stored.set(target.accountid, target);
      res.writeHead(204);
      res.end();
    });
    const rules: TableRules = {
      entitySet: 'accounts',
      logicalName: 'account',
      primaryKey: 'accountid',
      properties: new Map([['name', { name: 'name', type: 'Edm.String', nullable: true }]]),
      lookups: new Set(),
      maxLengths: new Map(),
    };
    const lines = Array.from({ length: 400 }, (_, i) => `Row ${i}`);
    const summary = await importRows({
      client: clientFor(peer.url, 'token'),
      rules,
      source: await openSourceText(`name\n${lines.join('\n')}\n`, 'csv'),
      csv: true,
      mode: 'bulk',
      batchSize: 100,
      parallel: 1,
    });
    assert.equal(summary.imported, 400);
    assert.equal(stored.size, 400);
    assert.deepEqual(sizes.slice(0, 4), [100, 50, 25, 25], 'halved until it fits');
    assert.ok(
      sizes.slice(4).every((size) => size <= 25),
      'and smaller from then on',
    );
  });
});

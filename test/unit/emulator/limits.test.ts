import assert from 'node:assert/strict';
import { sendBatch } from './batchParts';
import type { Client } from './helpers';
import { errorOf, jsonOf, startClient } from './helpers';

/**
 * Issue 14, item 2: each resource a request can make the emulator spend is bounded, and past the bound the
 * answer is a 400 naming the limit, never a 500. Each case here was a 500 (SQLite's expression depth,
 * variable count or sort-key count) before.
 */
describe('emulator limits: client input never ends in a 500 (issue 14)', function () {
  this.timeout(60_000);
  let client: Client;

  before(async function () {
    client = await startClient({ seed: 'sample' });
  });
  after(async function () {
    await client.emulator.close();
  });

  /** A GET inside a $batch: Node refuses request lines over 16 KB, Dataverse allows a batched GET up to 64 KB. */
  async function batchedGet(url: string): Promise<{ status: number; body: string }> {
    const batch = await sendBatch(client, [{ method: 'GET', url }]);
    // A batch that cannot be read at all is answered as a whole.
    return batch.answers[0] ?? { status: batch.status, body: batch.text };
  }

  function limitError(answer: { status: number; body: string }, pattern: RegExp): void {
    assert.equal(answer.status, 400, answer.body.slice(0, 300));
    const error = (JSON.parse(answer.body) as { error: { code: string; message: string } }).error;
    assert.equal(error.code, '0x80060888');
    assert.match(error.message, pattern);
  }

  it('runs and/or chains of 1,500 conditions (SQLite refused expressions nested deeper than 1,000)', async function () {
    const names = await jsonOf(await client.request('GET', 'accounts?$select=name&$top=3&$orderby=name'));
    const wanted = (names.value as { name: string }[]).map((row) => row.name);
    const or = Array.from({ length: 1_500 }, (_, i) => `name eq 'none ${i}'`);
    or[700] = `name eq '${wanted[1] ?? ''}'`;
    const answer = await batchedGet(`accounts?$select=name&$filter=${encodeURIComponent(or.join(' or '))}`);
    assert.equal(answer.status, 200, answer.body.slice(0, 300));
    assert.deepEqual(
      (JSON.parse(answer.body) as { value: { name: string }[] }).value.map((row) => row.name),
      [wanted[1]],
    );
    const and = Array.from({ length: 1_500 }, (_, i) => `name ne 'none ${i}'`).join(' and ');
    const all = await batchedGet(`accounts?$select=name&$count=true&$filter=${encodeURIComponent(and)}`);
    assert.equal(all.status, 200);
    const total = await jsonOf(await client.request('GET', 'accounts?$count=true&$top=1'));
    assert.equal((JSON.parse(all.body) as Record<string, unknown>)['@odata.count'], total['@odata.count']);
  });

  it('refuses $orderby with 2,000 items with a 400 naming the limit of 1,000', async function () {
    const items = Array.from({ length: 2_000 }, () => 'name').join(',');
    limitError(await batchedGet(`accounts?$orderby=${items}`), /\$orderby items \(2,000\) exceeds the limit of 1,000/);
    const fine = await client.request(
      'GET',
      `accounts?$top=1&$orderby=${Array.from({ length: 1_000 }, () => 'name').join(',')}`,
    );
    assert.equal(fine.status, 200);
  });

  it('answers top-level URLs between 16 KB and 32 KB (Node stops at 16 KB by default) and a 414 past 32 KB', async function () {
    // Dataverse's "Compose HTTP requests": a request URL may be up to 32 KB outside $batch.
    const filterOf = (bytes: number): string => {
      const terms: string[] = [];
      for (let i = 0; terms.join(' or ').length < bytes; i++) terms.push(`name eq 'none ${i}'`);
      return encodeURIComponent(terms.join(' or '));
    };
    const url20k = `accounts?$select=name&$filter=${filterOf(14_000)}`;
    assert.ok(url20k.length > 16 * 1024 && url20k.length < 32 * 1024, String(url20k.length));
    const fine = await client.request('GET', url20k);
    assert.equal(fine.status, 200, (await fine.text()).slice(0, 300));
    const tooLong = await client.request('GET', `accounts?$select=name&$filter=${filterOf(24_000)}`);
    assert.equal(tooLong.status, 414);
    assert.match((await errorOf(tooLong)).message, /too long/);
  });

  it('refuses In() with 50,000 values (past the 64 KB URL limit of a batched GET) and with 10,001 values, naming the limit', async function () {
    const list = (n: number): string => Array.from({ length: n }, (_, i) => String(i % 10)).join(',');
    const filter = (n: number): string =>
      `Microsoft.Dynamics.CRM.In(PropertyName='numberofemployees',PropertyValues=[${list(n)}])`;
    const huge = await batchedGet(`accounts?$filter=${filter(50_000)}`);
    assert.equal(huge.status, 414);
    assert.match(huge.body, /exceeds the limit of 65,536/);
    limitError(
      await batchedGet(`accounts?$filter=${filter(10_001)}`),
      /list values in the query \(10,001\) exceeds the limit of 10,000/,
    );
    assert.equal((await batchedGet(`accounts?$select=name&$filter=${filter(10_000)}`)).status, 200);
  });

  it('refuses more than 5,000 conditions, naming the limit', async function () {
    const uses = Array.from({ length: 5_001 }, () => '@a').join('%20or%20');
    limitError(
      await batchedGet(`accounts?$filter=${uses}&@a=statecode%20eq%200`),
      /conditions in the query \(5,001\) exceeds the limit of 5,000/,
    );
  });

  it('counts what parameter aliases expand to: one alias used 2,000 times is 2,000 times its conditions', async function () {
    const uses = Array.from({ length: 2_000 }, () => '@f').join(' or ');
    const alias = Array.from({ length: 5 }, (_, i) => `numberofemployees eq ${i}`).join(' or ');
    limitError(
      await batchedGet(`accounts?$filter=${encodeURIComponent(uses)}&@f=${encodeURIComponent(alias)}`),
      /conditions in the query .* exceeds the limit of 5,000/,
    );
    const list = Array.from({ length: 100 }, (_, i) => String(i)).join(',');
    const lists = Array.from(
      { length: 200 },
      () => "Microsoft.Dynamics.CRM.In(PropertyName='numberofemployees',PropertyValues=@l)",
    ).join(' or ');
    limitError(
      await batchedGet(`accounts?$filter=${encodeURIComponent(lists)}&@l=[${list}]`),
      /list values in the query .* exceeds the limit of 10,000/,
    );
  });

  it('refuses a navigation path of more than 15 lookups (each a join; FetchXML allows 15 link-entity elements)', async function () {
    const path = `${'parentaccountid/'.repeat(500)}name`;
    limitError(
      await batchedGet(`accounts?$filter=${path}%20eq%20'x'`),
      /navigations in the path .* \(500\) exceeds the limit of 15/,
    );
    const ok = await client.request('GET', `accounts?$filter=${'parentaccountid/'.repeat(15)}name eq 'x'`);
    assert.equal(ok.status, 200);
  });

  it('answers a $expand nested 40 deep and a page size past 5,000 without a 5xx', async function () {
    const expand = `${'parentaccountid($expand='.repeat(40)}parentaccountid${')'.repeat(40)}`;
    const deep = await client.request('GET', `accounts?$expand=${expand}`);
    assert.equal(deep.status, 400);
    assert.match((await errorOf(deep)).message, /limit of 15/);
    const page = await client.request('GET', 'accounts?$select=name', {
      headers: { Prefer: 'odata.maxpagesize=999999999' },
    });
    assert.equal(page.status, 200);
    assert.ok(((await jsonOf(page)).value as unknown[]).length <= 5_000);
  });

  it('refuses a JSON body nested 100,000 deep with a 400 naming the limit of 100, and stores nothing', async function () {
    const before = (await jsonOf(await client.request('GET', 'tasks?$count=true&$top=0')))['@odata.count'];
    for (const body of [
      `{"subject":"deep","description":${'['.repeat(100_000)}${']'.repeat(100_000)}}`,
      `${'{"subject":'.repeat(100_000)}"x"${'}'.repeat(100_000)}`,
    ]) {
      const response = await client.request('POST', 'tasks', { rawBody: body });
      assert.equal(response.status, 400);
      const error = await errorOf(response);
      assert.match(error.message, /deeper than the limit of 100 levels/);
    }
    const after = (await jsonOf(await client.request('GET', 'tasks?$count=true&$top=0')))['@odata.count'];
    assert.equal(after, before);
  });
});

import assert from 'node:assert/strict';
import type { Client } from './helpers';
import { jsonOf, startClient } from './helpers';

type Json = Record<string, unknown>;

const fetchUrl = (set: string, xml: string): string => `${set}?fetchXml=${encodeURIComponent(xml)}`;

// https://learn.microsoft.com/power-apps/developer/data-platform/fetchxml/aggregate-data
describe('emulator FetchXML aggregates (aggregate="true")', function () {
  this.timeout(60_000);
  let client: Client;
  const rows = async (set: string, xml: string): Promise<Json[]> => {
    const response = await client.request('GET', fetchUrl(set, xml));
    assert.equal(response.status, 200, await response.clone().text());
    return (await jsonOf(response)).value as Json[];
  };
  before(async () => {
    client = await startClient({ seed: 'none' });
    const accounts = [
      { name: 'A', revenue: 100, numberofemployees: 10, address1_city: 'Oslo' },
      { name: 'B', revenue: 300, numberofemployees: 30, address1_city: 'Oslo' },
      { name: 'C', revenue: 200, numberofemployees: 20, address1_city: 'Bergen' },
      { name: 'D', numberofemployees: 20, address1_city: 'Bergen' },
    ];
    for (const body of accounts) assert.equal((await client.request('POST', 'accounts', { body })).status, 204);
  });
  after(async () => {
    await client.emulator.close();
  });

  it('counts, counts a column (distinct too), sums, averages, and takes min and max', async () => {
    const [totals] = await rows(
      'accounts',
      `<fetch aggregate="true"><entity name="account">
        <attribute name="accountid" alias="all" aggregate="count" />
        <attribute name="revenue" alias="withrevenue" aggregate="countcolumn" />
        <attribute name="numberofemployees" alias="sizes" aggregate="countcolumn" distinct="true" />
        <attribute name="revenue" alias="total" aggregate="sum" />
        <attribute name="revenue" alias="mean" aggregate="avg" />
        <attribute name="numberofemployees" alias="smallest" aggregate="min" />
        <attribute name="numberofemployees" alias="largest" aggregate="max" />
      </entity></fetch>`,
    );
    assert.deepEqual(totals, { all: 4, withrevenue: 3, sizes: 3, total: 600, mean: 200, smallest: 10, largest: 30 });
  });

  it('groups by a column, filters before grouping, and orders by alias', async () => {
    const grouped = await rows(
      'accounts',
      `<fetch aggregate="true"><entity name="account">
        <attribute name="address1_city" alias="city" groupby="true" />
        <attribute name="numberofemployees" alias="people" aggregate="sum" />
        <filter><condition attribute="numberofemployees" operator="ge" value="20" /></filter>
        <order alias="people" descending="true" />
      </entity></fetch>`,
    );
    assert.deepEqual(grouped, [
      { city: 'Bergen', people: 40 },
      { city: 'Oslo', people: 30 },
    ]);
  });

  it('groups by year and month of a date (dategrouping)', async () => {
    const grouped = await rows(
      'accounts',
      `<fetch aggregate="true"><entity name="account">
        <attribute name="createdon" alias="year" groupby="true" dategrouping="year" />
        <attribute name="createdon" alias="month" groupby="true" dategrouping="month" />
        <attribute name="accountid" alias="n" aggregate="count" />
      </entity></fetch>`,
    );
    const now = new Date();
    assert.equal(grouped.length, 1);
    assert.equal(grouped[0]?.n, 4);
    // Written moments ago: this year and month, or the next if the clock crossed midnight at a month's end.
    assert.ok(Number(grouped[0]?.year) >= now.getUTCFullYear());
    assert.ok(Number(grouped[0]?.month) >= 1 && Number(grouped[0]?.month) <= 12);
  });

  it('refuses an attribute without an alias, and a sum of text, with the FetchXML error', async () => {
    for (const attribute of [
      '<attribute name="revenue" aggregate="sum" />',
      '<attribute name="name" alias="x" aggregate="sum" />',
      '<attribute name="name" alias="x" />',
    ]) {
      const response = await client.request(
        'GET',
        fetchUrl('accounts', `<fetch aggregate="true"><entity name="account">${attribute}</entity></fetch>`),
      );
      assert.equal(response.status, 400, attribute);
      assert.equal(((await response.json()) as { error: { code: string } }).error.code, '0x80040203');
    }
  });

  it('answers the AggregateQueryRecordLimit error (0x8004E023) past 50,000 rows', async function () {
    this.timeout(240_000);
    const big = await startClient({ seed: 'none', seedAccounts: 50_001 });
    try {
      const response = await big.request(
        'GET',
        fetchUrl(
          'accounts',
          '<fetch aggregate="true"><entity name="account"><attribute name="accountid" alias="n" aggregate="count" /></entity></fetch>',
        ),
      );
      assert.equal(response.status, 400);
      const body = (await response.json()) as { error: { code: string; message: string } };
      assert.equal(body.error.code, '0x8004E023');
      assert.match(body.error.message, /AggregateQueryRecordLimit exceeded/);
    } finally {
      await big.emulator.close();
    }
  });
});

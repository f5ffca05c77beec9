import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import type { Client } from './helpers';
import { jsonOf, startClient } from './helpers';

/** Statuses a Dataverse-shaped answer may have; anything else (500 above all) is a bug. */
const EXPECTED = new Set([200, 201, 204, 304, 400, 401, 404, 405, 412, 413, 414]);
const MAX_BODY = 16 * 1024;
/** Writes only ever reach this table, so every other table must come out exactly as seeded. */
const SCRATCH = 'tasks';
/**
 * On a real org's schema a task is an activity, written with its `activitypointer` row: `activitypointers` changes
 * with the scratch table (docs/emulator.md, "Records on a snapshot").
 */
const SCRATCH_MIRRORS = new Set([SCRATCH, 'activitypointers']);

interface FuzzRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body: string | undefined;
}

const printable = (max: number): fc.Arbitrary<string> => fc.stringMatching(new RegExp(`^[ -~]{0,${max}}$`));

/** Every row of every entity set, as JSON text, by set. */
async function snapshot(client: Client, sets: readonly string[]): Promise<Map<string, string[]>> {
  const rows = new Map<string, string[]>();
  for (const set of sets) {
    const texts: string[] = [];
    let url: string | undefined = set;
    while (url !== undefined) {
      const response = await client.request('GET', url, { headers: { Prefer: 'odata.maxpagesize=500' } });
      assert.equal(response.status, 200, set);
      const body = await jsonOf(response);
      for (const row of body.value as unknown[]) texts.push(JSON.stringify(row));
      const next = body['@odata.nextLink'];
      url = typeof next === 'string' ? next : undefined;
    }
    rows.set(set, texts.sort());
  }
  return rows;
}

function checksum(rows: readonly string[]): string {
  return createHash('sha256').update(rows.join('\n')).digest('hex');
}

describe('emulator robustness (property test)', function () {
  this.timeout(180_000);
  let client: Client;
  let sets: string[];
  let accountId: string;

  before(async function () {
    client = await startClient({ seed: 'sample', maxBodyBytes: MAX_BODY });
    const service = await jsonOf(await client.request('GET', ''));
    sets = (service.value as { url: string }[]).map((s) => s.url);
    const accounts = await jsonOf(await client.request('GET', 'accounts?$top=1&$select=name'));
    accountId = String((accounts.value as { accountid: string }[])[0]?.accountid);
  });
  after(async function () {
    await client.emulator.close();
  });

  const statuses = new Map<number, number>();

  async function send(request: FuzzRequest): Promise<void> {
    let response: Response;
    try {
      response = await fetch(`${client.emulator.webApi}${request.path}`, {
        method: request.method,
        headers: { Authorization: `Bearer ${client.emulator.token}`, ...request.headers },
        body: request.body,
        signal: AbortSignal.timeout(10_000),
      });
    } catch (error) {
      // fetch itself refuses some inputs (a bad header value); the server never saw those.
      if (error instanceof TypeError && !/fetch failed/.test(error.message)) return;
      throw error;
    }
    const text = await response.text();
    statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
    const context = `${request.method} ${request.path} -> ${response.status} ${text.slice(0, 300)}`;
    assert.ok(EXPECTED.has(response.status), context);
    if (response.status >= 400) {
      const body = JSON.parse(text) as { error?: { code?: unknown; message?: unknown } };
      assert.equal(typeof body.error?.code, 'string', context);
      assert.equal(typeof body.error?.message, 'string', context);
    }
  }

  it('answers thousands of random and mutated requests with Dataverse-shaped errors, and loses no data', async function () {
    const before = await snapshot(client, sets);

    const validPaths = [
      'accounts',
      `accounts(${accountId})`,
      `accounts(${accountId})?$select=name,revenue&$expand=primarycontactid($select=fullname),Account_Tasks($select=subject;$top=2)`,
      "accounts?$select=name&$filter=contains(name,'a') and revenue gt 1000 or Account_Tasks/any(t:t/subject ne null)&$orderby=revenue desc,name&$top=5&$count=true",
      "accounts?$filter=Microsoft.Dynamics.CRM.In(PropertyName='address1_city',PropertyValues=['Seattle','Oslo'])",
      "accounts?$filter=Microsoft.Dynamics.CRM.LastXDays(PropertyName='createdon',PropertyValue=7)",
      'accounts?$apply=groupby((industrycode),aggregate(revenue with sum as total,$count as n))',
      `accounts?fetchXml=${encodeURIComponent('<fetch count="3"><entity name="account"><attribute name="name"/><filter type="or"><condition attribute="revenue" operator="gt" value="5"/></filter><link-entity name="contact" from="contactid" to="primarycontactid" link-type="outer" alias="c"><attribute name="fullname"/></link-entity></entity></fetch>')}`,
      "EntityDefinitions(LogicalName='account')/Attributes/Microsoft.Dynamics.CRM.PicklistAttributeMetadata?$select=LogicalName&$expand=OptionSet",
      "EntityDefinitions?$select=LogicalName&$filter=LogicalName eq 'account'",
      'contacts/$count',
      `accounts(${accountId})/Account_Tasks?$select=subject`,
      '$metadata',
      'WhoAmI',
      `${SCRATCH}?$filter=prioritycode eq 1`,
    ];
    const methods = ['GET', 'POST', 'PATCH', 'PUT', 'DELETE', 'OPTIONS', 'MERGE'];
    const setNames = [...sets, 'Accounts', 'nosuch', '$batch', 'EntityDefinitions', 'WhoAmI()'];
    const guid = fc.uuid();
    const randomPath = fc.oneof(
      fc
        .tuple(
          fc.constantFrom(...setNames),
          fc.option(fc.oneof(guid, printable(12)), { nil: undefined }),
          printable(30),
        )
        .map(([set, key, rest]) => `${set}${key === undefined ? '' : `(${key})`}${rest}`),
      printable(60),
      fc
        .tuple(fc.constantFrom(...validPaths), fc.constantFrom('&', '?', '/', '(', "'", '%', '%zz', '$skip=1', '@p1='))
        .map(([p, s]) => `${p}${s}`),
    );
    // Mutations of valid requests: characters inserted, deleted or replaced anywhere in the URL.
    const mutatedPath = fc
      .tuple(
        fc.constantFrom(...validPaths),
        fc.array(fc.tuple(fc.nat(), fc.nat(3), printable(3)), { minLength: 1, maxLength: 4 }),
      )
      .map(([path, edits]) => {
        let out = path;
        for (const [at, removed, inserted] of edits) {
          const i = at % (out.length + 1);
          out = out.slice(0, i) + inserted + out.slice(i + removed);
        }
        return out;
      });
    const headers = fc.record(
      {
        Prefer: fc.oneof(
          printable(40),
          fc.constantFrom(
            'odata.maxpagesize=2',
            'odata.maxpagesize=0',
            'odata.maxpagesize=99999999999',
            'odata.include-annotations="*"',
            'return=representation',
          ),
        ),
        'If-Match': fc.oneof(fc.constant('*'), printable(12)),
        'If-None-Match': fc.oneof(fc.constant('*'), fc.constant('null'), printable(12)),
        'Content-Type': fc.constantFrom('application/json', 'text/plain', 'application/xml'),
      },
      { requiredKeys: [] },
    );
    const body = fc.oneof(
      fc.constant(undefined),
      fc.json(),
      printable(80),
      fc.constant('{"subject": '),
      fc.constant(`{"subject":"${'x'.repeat(MAX_BODY + 10)}"}`),
      fc
        .record(
          {
            subject: fc.oneof(fc.string(), fc.integer()),
            prioritycode: fc.oneof(fc.integer(), fc.constant(1)),
            scheduledstart: printable(25),
          },
          { requiredKeys: [] },
        )
        .map((o) => JSON.stringify(o)),
    );
    const validTask = fc
      .record({ subject: fc.string({ maxLength: 50 }), prioritycode: fc.constantFrom(0, 1, 2) })
      .map((o) => JSON.stringify(o));
    const request = fc
      .record({
        method: fc.constantFrom(...methods),
        path: fc.oneof(
          fc.constantFrom(...validPaths),
          randomPath,
          mutatedPath,
          guid.map((id) => `(${id})`),
        ),
        headers,
        body: fc.oneof(body, validTask),
      })
      .map((r): FuzzRequest => {
        const reads = r.method === 'GET' || r.method === 'OPTIONS';
        // Writes may only touch the scratch table: every other data set is compared against the seed below.
        const path = reads ? r.path : `${SCRATCH}${r.path.replace(/^[^(/?]*/, '')}`;
        const hasBody = r.method === 'POST' || r.method === 'PATCH' || r.method === 'PUT';
        return { method: r.method, path, headers: r.headers, body: hasBody ? r.body : undefined };
      });

    await fc.assert(fc.asyncProperty(request, send), { numRuns: 3000 });

    assert.equal((await client.request('GET', 'WhoAmI')).status, 200, 'still answering');
    // The generators must reach the server's main paths, not only its front door.
    for (const status of [200, 201, 204, 400, 404, 405, 413]) {
      assert.ok((statuses.get(status) ?? 0) > 0, `no ${status} in ${JSON.stringify([...statuses])}`);
    }
    const after = await snapshot(client, sets);
    for (const set of sets) {
      const seeded = before.get(set) ?? [];
      const now = after.get(set) ?? [];
      if (SCRATCH_MIRRORS.has(set)) {
        // New scratch rows are intended writes; the seeded ones were never addressed by key.
        const present = new Set(now);
        assert.deepEqual(
          seeded.filter((row) => !present.has(row)),
          [],
          `${set}: seeded rows changed`,
        );
        continue;
      }
      assert.equal(now.length, seeded.length, `${set}: row count`);
      assert.equal(checksum(now), checksum(seeded), `${set}: rows changed`);
    }
  });
});

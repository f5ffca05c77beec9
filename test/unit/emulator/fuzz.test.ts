import assert from 'node:assert/strict';
import fc from 'fast-check';
import { batchBody } from './batchParts';
import type { BatchPart } from './batchParts';
import type { Client } from './helpers';
import { jsonOf, startClient } from './helpers';

/**
 * Issue 14, item 2: requests generated from the OData URL grammar (filters with every operator, function,
 * lambda and literal kind, long chains, big lists, deep paths and nesting, `$select`, `$orderby`, nested
 * `$expand`, `$top`, `$apply`, parameter aliases), random and deeply nested JSON bodies and random multipart
 * `$batch` bodies. The emulator answers every one without a 5xx or a crash, with Dataverse-shaped errors,
 * and a refused request changes nothing.
 */

/** Statuses a Dataverse-shaped answer may have; a 5xx is a bug. */
const EXPECTED = new Set([200, 201, 204, 304, 400, 404, 405, 412, 413, 414]);
const REQUESTS = 500;
/** Writes reach only this table. */
const SCRATCH = 'tasks';

const pick = <T>(values: readonly T[]): fc.Arbitrary<T> => fc.constantFrom(...values);

/** Percent-encodes text as UTF-8; a lone surrogate becomes bytes no UTF-8 decoder accepts (%ED%A0%80). */
function encodeText(text: string): string {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const next = text.charCodeAt(i + 1);
    if (c >= 0xd800 && c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
      out += encodeURIComponent(text.slice(i, i + 2));
      i++;
    } else if (c >= 0xd800 && c <= 0xdfff) out += '%ED%A0%80';
    else out += encodeURIComponent(text[i] ?? '');
  }
  return out;
}

/** Text as an OData string literal: quotes doubled, then percent-encoded (control characters, %00 included). */
const stringLiteral = fc
  .string({
    unit: fc.oneof(
      fc.constantFrom('a', 'Z', ' ', "'", '%', '_', '[', '\u0000', '\u0001', '\ud800', '😀', 'é', '*', '/'),
      fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)),
    ),
    maxLength: 12,
  })
  .map((s) => `'${encodeText(s.replace(/'/g, "''"))}'`);

const numberLiteral = fc.oneof(
  fc.integer().map(String),
  fc.stringMatching(/^-?\d{1,25}(\.\d{1,20})?([eE][+-]?\d{1,4})?[mMdDfFlL]?$/),
  pick(['INF', '-INF', 'NaN', '1e308', '1e309', '-0']),
);
const dateLiteral = fc.oneof(
  fc
    .date({ min: new Date(-62135596800000), max: new Date(253402300799000), noInvalidDate: true })
    .map((d) => d.toISOString()),
  fc.stringMatching(/^\d{4}-\d{2}-\d{2}$/),
);
const literals = {
  string: stringLiteral,
  number: numberLiteral,
  date: dateLiteral,
  guid: fc.uuid(),
  boolean: pick(['true', 'false']),
};
type Kind = keyof typeof literals;
/** Properties of accounts by the kind of literal they compare with. */
const TYPED: Record<Kind, readonly string[]> = {
  string: ['name', 'description', 'primarycontactid/fullname', 'parentaccountid/name', 'cdsify_multiselect'],
  number: ['revenue', 'numberofemployees', 'address1_latitude', 'statecode', 'industrycode'],
  date: ['createdon', 'lastusedincampaign', 'modifiedon'],
  guid: ['accountid', '_primarycontactid_value', '_ownerid_value'],
  boolean: ['donotemail'],
};
const anyLiteral: fc.Arbitrary<string> = fc.oneof(...Object.values(literals), pick(['null', '@p1', '@p2', '@nosuch']));
const anyProperty = fc.oneof(
  { weight: 9, arbitrary: pick(Object.values(TYPED).flat()) },
  { weight: 1, arbitrary: pick(['nosuchcolumn', 'primarycontactid', 'Account_Tasks', '']) },
);
/** A property and a literal of its kind, mostly; now and then any pair. */
const typedPair = fc.oneof(
  {
    weight: 6,
    arbitrary: pick(Object.keys(TYPED) as Kind[]).chain((kind) => fc.tuple(pick(TYPED[kind]), literals[kind])),
  },
  { weight: 1, arbitrary: fc.tuple(anyProperty, anyLiteral) },
);

const comparison = fc
  .tuple(
    typedPair,
    fc.oneof(
      { weight: 12, arbitrary: pick(['eq', 'ne', 'gt', 'ge', 'lt', 'le']) },
      { weight: 1, arbitrary: pick(['has', 'add']) },
    ),
    fc.boolean(),
  )
  .map(([[p, value], op, flip]) => (flip ? `${value} ${op} ${p}` : `${p} ${op} ${value}`));
/** A list of values, occasionally far beyond any limit. */
const list = (item: fc.Arbitrary<string>): fc.Arbitrary<string> =>
  fc
    .oneof(
      { weight: 8, arbitrary: fc.array(item, { minLength: 1, maxLength: 6 }) },
      {
        weight: 1,
        arbitrary: fc
          .integer({ min: 1, max: 12_000 })
          .map((n) => Array.from({ length: n }, (_, i) => String(i % 1000))),
      },
    )
    .map((values) => `[${values.join(',')}]`);
const functionCall = fc.oneof(
  fc
    .tuple(
      pick(['contains', 'startswith', 'endswith', 'contains', 'tolower', 'length']),
      pick(TYPED.string),
      stringLiteral,
    )
    .map(([f, p, v]) => `${f}(${p},${v})`),
  pick(Object.keys(TYPED) as Kind[]).chain((kind) =>
    fc
      .tuple(pick(['In', 'NotIn', 'Between', 'ContainValues']), pick(TYPED[kind]), list(literals[kind]))
      .map(([f, p, l]) => `Microsoft.Dynamics.CRM.${f}(PropertyName='${p}',PropertyValues=${l})`),
  ),
  fc
    .tuple(
      pick(['LastXDays', 'NextXHours', 'OlderThanXMonths', 'On', 'Today', 'Nope']),
      pick(TYPED.date),
      fc.oneof(fc.nat(400).map(String), dateLiteral),
    )
    .map(([f, p, v]) => `Microsoft.Dynamics.CRM.${f}(PropertyName='${p}',PropertyValue=${v})`),
);

/** `$filter` expressions from the grammar, nested up to a few levels. */
const filter: fc.Arbitrary<string> = fc.letrec<{ expr: string }>((tie) => ({
  expr: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    comparison,
    functionCall,
    fc.tuple(tie('expr'), pick(['and', 'or']), tie('expr')).map(([a, op, b]) => `${a} ${op} ${b}`),
    tie('expr').map((e) => `not (${e})`),
    tie('expr').map((e) => `(${e})`),
    fc
      .tuple(
        pick(['Account_Tasks', 'Account_Tasks', 'nosuch']),
        pick(['any', 'all']),
        pick(['subject', 'createdon', 'statecode']),
        fc.oneof(stringLiteral, numberLiteral, dateLiteral),
      )
      .map(([nav, op, p, v]) => `${nav}/${op}(x:x/${p} ne ${v})`),
  ),
})).expr;

/** Shapes that once reached SQLite or the stack: long chains, deep nesting, long paths, many sort keys. */
const extreme = fc.oneof(
  fc
    .tuple(fc.integer({ min: 1, max: 3_000 }), pick(['and', 'or']))
    .map(([n, op]) => `$filter=${Array.from({ length: n }, (_, i) => `numberofemployees ne ${i}`).join(` ${op} `)}`),
  fc.integer({ min: 1, max: 400 }).map((n) => `$filter=${'('.repeat(n)}name eq 'a'${')'.repeat(n)}`),
  fc.integer({ min: 1, max: 400 }).map((n) => `$filter=${'not '.repeat(n)}(name eq 'a')`),
  fc.integer({ min: 1, max: 400 }).map((n) => `$filter=${'parentaccountid/'.repeat(n)}name eq 'a'`),
  fc.integer({ min: 1, max: 3_000 }).map((n) => `$orderby=${Array.from({ length: n }, () => 'name').join(',')}`),
  fc.integer({ min: 1, max: 3_000 }).map((n) => `$select=${Array.from({ length: n }, () => 'name').join(',')}`),
  fc
    .integer({ min: 1, max: 40 })
    .map((n) => `$expand=${'parentaccountid($expand='.repeat(n)}parentaccountid($select=name)${')'.repeat(n)}`),
  // One alias used many times: what it expands to counts, not what the URL spells.
  fc
    .tuple(fc.integer({ min: 1, max: 2_000 }), fc.integer({ min: 1, max: 50 }))
    .map(
      ([uses, size]) =>
        `$filter=${Array.from({ length: uses }, () => '@f').join(' or ')}&@f=${Array.from({ length: size }, (_, i) => `numberofemployees eq ${i}`).join(' or ')}`,
    ),
  fc
    .integer({ min: 1, max: 2_000 })
    .map(
      (uses) =>
        `$filter=${Array.from({ length: uses }, () => "Microsoft.Dynamics.CRM.In(PropertyName='name',PropertyValues=@l)").join(' or ')}&@l=[${Array.from({ length: 30 }, (_, i) => `'${i}'`).join(',')}]`,
    ),
);

const NAVIGATIONS = ['primarycontactid', 'parentaccountid', 'Account_Tasks', 'contact_customer_accounts'];
const options = fc.oneof(
  {
    weight: 6,
    arbitrary: fc
      .record(
        {
          select: fc
            .array(pick([...TYPED.string, ...TYPED.number, ...TYPED.date]), { minLength: 1, maxLength: 4 })
            .map((p) => `$select=${p.filter((x) => !x.includes('/')).join(',') || 'name'}`),
          filter: filter.map((f) => `$filter=${f}`),
          orderby: fc
            .array(fc.tuple(pick([...TYPED.string, ...TYPED.number]), pick(['', ' asc', ' desc'])), {
              minLength: 1,
              maxLength: 4,
            })
            .map((items) => `$orderby=${items.map(([p, d]) => p + d).join(',')}`),
          expand: fc
            .array(
              fc.tuple(
                fc.oneof({ weight: 9, arbitrary: pick(NAVIGATIONS) }, { weight: 1, arbitrary: fc.constant('nosuch') }),
                fc.boolean(),
              ),
              { minLength: 1, maxLength: 3 },
            )
            .map(
              (items) => `$expand=${items.map(([n, nested]) => (nested ? `${n}($select=createdon)` : n)).join(',')}`,
            ),
          top: fc
            .oneof(
              { weight: 6, arbitrary: pick(['0', '1', '3', '5000', '5001']) },
              { weight: 1, arbitrary: pick(['99999999999999999999', '-1', 'x']) },
            )
            .map((t) => `$top=${t}`),
          count: fc
            .oneof({ weight: 6, arbitrary: pick(['true', 'false']) }, { weight: 1, arbitrary: fc.constant('maybe') })
            .map((c) => `$count=${c}`),
          aliases: fc.tuple(anyLiteral, list(numberLiteral)).map(([a, l]) => `@p1=${a}&@p2=${l}`),
        },
        { requiredKeys: [] },
      )
      .map((o) => Object.values(o).join('&')),
  },
  {
    weight: 1,
    arbitrary: pick([
      'groupby((industrycode),aggregate($count as n))',
      'aggregate(revenue with sum as total)',
      "filter(name ne 'x')/groupby((name))",
      'groupby((nosuch))',
    ]).map((a) => `$apply=${a}`),
  },
  { weight: 1, arbitrary: extreme },
);

const readPath = fc
  .tuple(
    fc.oneof(
      { weight: 9, arbitrary: fc.constant('accounts') },
      { weight: 1, arbitrary: pick(['contacts', 'tasks', 'nosuch']) },
    ),
    options,
  )
  .map(([set, query]) => `${set}?${query}`);

/** JSON bodies: random values, scratch records with random column values, and deep nesting. */
const jsonBody = fc.oneof(
  { weight: 2, arbitrary: fc.json({ maxDepth: 4 }) },
  {
    weight: 6,
    arbitrary: fc
      .record(
        {
          subject: fc
            .oneof(fc.string(), fc.string({ unit: 'binary' }), fc.integer().map(String))
            .map((s) => JSON.stringify(s)),
          prioritycode: pick(['0', '1', '2', '7', '"1"', '1.5', '1e400']),
          scheduledstart: pick(['"2024-02-30T00:00:00Z"', '"1700-01-01"', '"2024-01-01T10:00:00+14:00"', '5']),
          actualdurationminutes: fc.stringMatching(/^-?\d{1,22}(\.\d{1,10})?$/),
          description: fc.string({ unit: 'binary', maxLength: 20 }).map((s) => JSON.stringify(s)),
        },
        { requiredKeys: [] },
      )
      .map(
        (o) =>
          `{${Object.entries(o)
            .map(([k, v]) => `"${k}":${v}`)
            .join(',')}}`,
      ),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.integer({ min: 1, max: 150_000 }), pick(['[', '{"a":', '{"subject":']))
      .map(([n, open]) => open.repeat(n) + '1' + (open === '[' ? ']' : '}').repeat(n)),
  },
);

/** A URL as a batch part's request line carries it: spaces encoded (fetch does that for top-level requests). */
const inRequestLine = (url: string): string => url.replace(/ /g, '%20');

interface FuzzRequest {
  readonly method: string;
  /** Relative to the Web API root. */
  readonly path: string;
  readonly body?: string;
  readonly headers?: Record<string, string>;
}

const batchPart: fc.Arbitrary<BatchPart> = fc.oneof(
  readPath.map((url) => ({ method: 'GET', url: inRequestLine(url) })),
  fc.tuple(pick(['POST', 'PATCH', 'DELETE']), jsonBody).map(([method, body]) => ({
    method,
    url: method === 'POST' ? SCRATCH : `${SCRATCH}(00000000-0000-0000-0000-000000000001)`,
    body: method === 'DELETE' ? undefined : body,
  })),
);

/**
 * Node's HTTP parser refuses request lines over 16 KB (431) before the emulator sees them, so long query URLs
 * travel inside a $batch, where Dataverse allows a GET up to 64 KB.
 */
const read = (path: string): FuzzRequest =>
  path.length <= 8_000
    ? { method: 'GET', path }
    : {
        method: 'POST',
        path: '$batch',
        body: batchBody([{ method: 'GET', url: inRequestLine(path) }]),
        headers: { 'Content-Type': 'multipart/mixed; boundary=batch_t' },
      };

const request: fc.Arbitrary<FuzzRequest> = fc.oneof(
  { weight: 5, arbitrary: readPath.map(read) },
  {
    weight: 3,
    arbitrary: fc
      .tuple(pick(['POST', 'PATCH', 'PUT']), jsonBody, fc.uuid())
      .map(([method, body, id]) => ({ method, path: method === 'POST' ? SCRATCH : `${SCRATCH}(${id})`, body })),
  },
  {
    weight: 2,
    arbitrary: fc
      .tuple(fc.array(batchPart, { minLength: 1, maxLength: 4 }), fc.array(fc.string(), { maxLength: 2 }))
      .map(([parts, garbage]) => ({
        method: 'POST',
        path: '$batch',
        // Random lines spliced in, now and then, so the multipart reader sees malformed input too.
        body:
          garbage.length === 0
            ? batchBody(parts)
            : batchBody(parts).replace('\r\n\r\n', `\r\n${garbage.join('\r\n')}\r\n\r\n`),
        headers: { 'Content-Type': 'multipart/mixed; boundary=batch_t' },
      })),
  },
);

describe('emulator fuzz: no 5xx for client input (issue 14)', function () {
  this.timeout(300_000);
  let client: Client;

  before(async function () {
    // A small data set, so that a query of thousands of conditions costs milliseconds and the run stays short.
    client = await startClient({ seed: 'none', maxBodyBytes: 2 * 1024 * 1024 });
    const parts: BatchPart[] = [];
    for (let i = 0; i < 24; i++) {
      const account = {
        accountid: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
        name: `Account ${i} ${['alpha', 'Beta', "o'hara", '%_['][i % 4] ?? ''}`,
        revenue: i * 1_000.25,
        numberofemployees: i * 7,
        industrycode: (i % 5) + 1,
        donotemail: i % 2 === 0,
        lastusedincampaign: `2024-0${(i % 9) + 1}-1${i % 10}T08:30:00Z`,
        ...(i > 0
          ? { 'parentaccountid@odata.bind': `/accounts(00000000-0000-4000-8000-${String(i - 1).padStart(12, '0')})` }
          : {}),
        Account_Tasks: [{ subject: `Task ${i}`, prioritycode: i % 3 }],
      };
      parts.push({ method: 'POST', url: 'accounts', body: JSON.stringify(account) });
    }
    const created = await client.request('POST', '$batch', {
      rawBody: batchBody(parts),
      headers: { 'Content-Type': 'multipart/mixed; boundary=batch_t' },
    });
    assert.equal(created.status, 200, (await created.text()).slice(0, 500));
  });
  after(async function () {
    await client.emulator.close();
  });

  /** The organization-wide row version, which every committed record write advances (change tracking's token). */
  async function version(): Promise<number> {
    const response = await client.request('GET', 'accounts?$select=accountid', {
      headers: { Prefer: 'odata.track-changes,odata.maxpagesize=5000' },
    });
    const link = String((await jsonOf(response))['@odata.deltaLink']);
    const token = decodeURIComponent(/\$deltatoken=([^&]+)/.exec(link)?.[1] ?? '');
    return Number(token.split('!')[0]);
  }

  function checkError(status: number, text: string, context: string): void {
    assert.ok(EXPECTED.has(status), `${context} -> ${status} ${text.slice(0, 300)}`);
    if (status < 400) return;
    const body = JSON.parse(text) as { error?: { code?: unknown; message?: unknown } };
    assert.equal(typeof body.error?.code, 'string', context);
    assert.equal(typeof body.error?.message, 'string', context);
  }

  it('answers generated OData URLs, JSON bodies and $batch bodies without a 5xx, and a refused request changes nothing', async function () {
    const statuses = new Map<number, number>();
    let sent = 0;
    const send = async (r: FuzzRequest): Promise<void> => {
      const before = r.method === 'GET' ? undefined : await version();
      const response = await client.request(r.method, r.path, {
        ...(r.body === undefined ? {} : { rawBody: r.body }),
        headers: r.headers ?? {},
      });
      const text = await response.text();
      sent += 1;
      statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
      const context = `${r.method} ${r.path.slice(0, 200)} ${r.body?.slice(0, 100) ?? ''}`;
      let acknowledgedWrite = r.method !== 'GET' && response.status < 300 && r.path !== '$batch';
      if (r.path === '$batch' && response.status < 500 && text.startsWith('--')) {
        // Every part of the answer, too.
        for (const match of text.matchAll(/^HTTP\/1\.1 (\d{3})[^\r\n]*\r?\n[\s\S]*?\r?\n\r?\n([^\r\n]*)/gm)) {
          const status = Number(match[1]);
          checkError(status, match[2] ?? '', `${context} (part)`);
          if (status === 201 || status === 204) acknowledgedWrite = true;
        }
      } else checkError(response.status, text, context);
      if (before !== undefined && !acknowledgedWrite) {
        assert.equal(await version(), before, `a refused request wrote: ${context} -> ${response.status}`);
      }
    };
    await fc.assert(fc.asyncProperty(request, send), {
      numRuns: REQUESTS,
      // Generated requests can be megabytes long: report the failure and the start of the request only.
      reporter: (run) => {
        if (!run.failed) return;
        const example = JSON.stringify(run.counterexample).slice(0, 1_000);
        throw new Error(
          `fuzz failed after ${run.numRuns} requests (seed ${run.seed}, path ${run.counterexamplePath ?? ''}): ${String(run.errorInstance)}\n${example}`,
        );
      },
    });

    assert.equal((await client.request('GET', 'WhoAmI')).status, 200, 'still answering');
    // The generators reach past the front door: queries run, writes land, and limits refuse.
    for (const status of [200, 204, 400]) {
      assert.ok((statuses.get(status) ?? 0) > 0, `no ${status} in ${JSON.stringify([...statuses])}`);
    }
    console.log(`      fuzz: ${sent} requests, statuses ${JSON.stringify(Object.fromEntries(statuses))}`);
  });
});

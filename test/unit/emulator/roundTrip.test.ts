import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { inexactLiteral, parseJsonBody } from '../../../src/emulator/jsonBody';
import { builtinSchema } from '../../../src/emulator/schema/snapshot';
import { sendBatch } from './batchParts';
import type { Client } from './helpers';
import { errorOf, jsonOf, startClient } from './helpers';

/**
 * Issue 14, item 1: what the emulator acknowledges reads back exactly; what it cannot keep, or what Dataverse
 * refuses, is refused with a 400 and leaves nothing behind.
 */

/** XML 1.0's Char production, which Dataverse checks string values against (XmlConvert.VerifyXmlChars). */
function isXmlText(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      const next = text.charCodeAt(i + 1);
      if (!(next >= 0xdc00 && next <= 0xdfff)) return false;
      i++;
      continue;
    }
    if (c >= 0xdc00 && c <= 0xdfff) return false;
    if (c < 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) return false;
    if (c === 0xfffe || c === 0xffff) return false;
  }
  return true;
}

/** A decimal literal's value as [sign, digits, exponent] without redundant zeros, for exact comparison. */
function decimal(literal: string): string {
  const match = /^(-?)(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/.exec(literal);
  if (match === null) throw new Error(`not a number literal: ${literal}`);
  const [, sign = '', whole = '', fraction = '', exponent = '0'] = match;
  let digits = (whole + fraction).replace(/^0+/, '');
  let power = Number(exponent) - fraction.length;
  const trailing = /0*$/.exec(digits)?.[0].length ?? 0;
  digits = digits.slice(0, digits.length - trailing);
  power += trailing;
  return digits === '' ? '0' : `${sign}${digits}e${power}`;
}

function significantDigits(literal: string): number {
  const value = decimal(literal);
  return value === '0' ? 1 : (value.replace(/^-/, '').split('e')[0]?.length ?? 0);
}

function numberValue(literal: string): number {
  return Number(literal);
}

/** What a case must do with a generated literal: be accepted, be refused, or either (but never change it). */
type Verdict = 'accept' | 'refuse' | 'either';
interface Outcome {
  readonly text: string;
  readonly verdict: Verdict;
}

interface Case {
  readonly name: string;
  readonly set: string;
  readonly idColumn: string;
  readonly column: string;
  /** Other columns the record needs. */
  readonly base: Record<string, unknown>;
  /** JSON text of a value, and what the emulator must do with it. */
  readonly literal: fc.Arbitrary<Outcome>;
  /** Whether the value read back is the one written (`text`). */
  readonly same: (text: string, read: unknown) => boolean;
}

const optionsOf = (table: string, column: string): number[] =>
  (builtinSchema().tables.get(table)?.columns.get(column)?.options ?? []).map((o) => o.value);

/** Any UTF-16 unit sequence: scalar values of every plane, lone surrogates, controls, non-characters. */
const anyText = fc.string({
  unit: fc.oneof(
    fc
      .integer({ min: 0, max: 0x10ffff })
      .map((cp) => (cp >= 0xd800 && cp <= 0xdfff ? String.fromCharCode(cp) : String.fromCodePoint(cp))),
    fc.constantFrom('\u0000', '\t', '\n', '\r', '\u0001', '\u001f', '\u007f', '\ufffe', '\uffff', '\ud83d', '😀'),
    fc.constantFrom('a', 'B', ' ', "'", '"', '\\', '%', 'é'),
  ),
  maxLength: 60,
});

/** Decimal literals of up to 22 significant digits, some with exponents. */
const decimalLiteral = (maxWhole: bigint): fc.Arbitrary<string> =>
  fc
    .tuple(
      fc.boolean(),
      fc.bigInt({ min: 0n, max: maxWhole }),
      fc.option(fc.stringMatching(/^\d{1,12}$/), { nil: undefined }),
      fc.option(fc.integer({ min: -3, max: 3 }), { nil: undefined }),
    )
    .map(([negative, whole, fraction, exponent]) => {
      const text = `${negative ? '-' : ''}${whole}${fraction === undefined ? '' : `.${fraction}`}`;
      return exponent === undefined ? text : `${text}e${exponent}`;
    });

const inRange = (text: string, min: number, max: number): boolean => {
  const n = numberValue(text);
  return n >= min && n <= max;
};

/** A decimal literal times 10^30, exactly: the literals here have at most 12 fraction digits and exponents ±3. */
function scaled(text: string): bigint {
  const match = /^(-?)(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/.exec(text);
  if (match === null) throw new Error(`not a number literal: ${text}`);
  const [, sign = '', whole = '', fraction = '', exponent = '0'] = match;
  const value = BigInt(whole + fraction) * 10n ** BigInt(30 + Number(exponent) - fraction.length);
  return sign === '-' ? -value : value;
}

/**
 * Decimal and money columns (SQL decimal(23,10) and money in Dataverse) keep up to 28 significant digits:
 * in range, that many must be accepted and read back digit for digit; out of range (compared exactly) refused.
 */
const exactNumber =
  (min: number, max: number) =>
  (text: string): Outcome => {
    const value = scaled(text);
    if (value < BigInt(min) * 10n ** 30n || value > BigInt(max) * 10n ** 30n) return { text, verdict: 'refuse' };
    return { text, verdict: significantDigits(text) <= 28 ? 'accept' : 'refuse' };
  };

/** The same number: equal decimal values, whether read as a double or (past a double) as its literal. */
const sameNumber = (text: string, read: unknown): boolean =>
  (typeof read === 'number' || typeof read === 'string') && decimal(String(read)) === decimal(text);

const pad = (n: number, width = 2): string => String(n).padStart(width, '0');
const MIN_INSTANT = Date.UTC(1753, 0, 1);
const MAX_INSTANT = Date.UTC(9999, 11, 31, 23, 59, 59);

function calendarValid(y: number, m: number, d: number): boolean {
  return m >= 1 && m <= 12 && d >= 1 && d <= new Date(Date.UTC(y, m, 0)).getUTCDate();
}

interface DateTimeParts {
  y: number;
  m: number;
  d: number;
  h: number;
  mi: number;
  s: number;
  ms: number | undefined;
  offset: number | undefined;
}

const dateTimeParts: fc.Arbitrary<DateTimeParts> = fc.record({
  y: fc.oneof(fc.integer({ min: 1752, max: 1754 }), fc.integer({ min: 1900, max: 2100 }), fc.constant(9999)),
  m: fc.integer({ min: 0, max: 13 }),
  d: fc.integer({ min: 0, max: 32 }),
  h: fc.integer({ min: 0, max: 24 }),
  mi: fc.integer({ min: 0, max: 60 }),
  s: fc.integer({ min: 0, max: 60 }),
  ms: fc.option(fc.integer({ min: 0, max: 999 }), { nil: undefined }),
  offset: fc.option(fc.integer({ min: -14 * 60, max: 14 * 60 }), { nil: undefined }),
});

function dateTimeText(p: DateTimeParts): string {
  const zone =
    p.offset === undefined
      ? 'Z'
      : `${p.offset < 0 ? '-' : '+'}${pad(Math.floor(Math.abs(p.offset) / 60))}:${pad(Math.abs(p.offset) % 60)}`;
  const fraction = p.ms === undefined ? '' : `.${pad(p.ms, 3)}`;
  return `${pad(p.y, 4)}-${pad(p.m)}-${pad(p.d)}T${pad(p.h)}:${pad(p.mi)}:${pad(p.s)}${fraction}${zone}`;
}

/** The instant a date-time literal names, to the second (Dataverse's precision), or undefined when invalid. */
function dateTimeInstant(p: DateTimeParts): number | undefined {
  if (!calendarValid(p.y, p.m, p.d) || p.h > 23 || p.mi > 59 || p.s > 59) return undefined;
  return Date.UTC(p.y, p.m - 1, p.d, p.h, p.mi, p.s) - (p.offset ?? 0) * 60_000;
}

const isoSeconds = (t: number): string => new Date(t).toISOString().replace(/\.\d{3}Z$/, 'Z');

const multiselect = optionsOf('account', 'cdsify_multiselect');
const industries = optionsOf('account', 'industrycode');

const CASES: Case[] = [
  {
    name: 'string',
    set: 'accounts',
    idColumn: 'accountid',
    column: 'name',
    base: {},
    literal: anyText.map((s): Outcome => ({ text: JSON.stringify(s), verdict: isXmlText(s) ? 'accept' : 'refuse' })),
    same: (text, read) => read === JSON.parse(text),
  },
  {
    name: 'memo',
    set: 'accounts',
    idColumn: 'accountid',
    column: 'description',
    base: { name: 'memo' },
    literal: anyText.map((s): Outcome => ({ text: JSON.stringify(s), verdict: isXmlText(s) ? 'accept' : 'refuse' })),
    same: (text, read) => read === JSON.parse(text),
  },
  {
    name: 'whole number',
    set: 'accounts',
    idColumn: 'accountid',
    column: 'numberofemployees',
    base: { name: 'int' },
    literal: fc.oneof(
      fc.integer({ min: -5, max: 1_100_000_000 }).map((n): Outcome => ({
        text: String(n),
        verdict: n >= 0 && n <= 1_000_000_000 ? 'accept' : 'refuse',
      })),
      decimalLiteral(10n ** 20n).map((text): Outcome => ({ text, verdict: 'either' })),
    ),
    same: (text, read) => typeof read === 'number' && decimal(String(read)) === decimal(text),
  },
  {
    name: 'big integer',
    set: 'contacts',
    idColumn: 'contactid',
    column: 'entityimage_timestamp',
    base: { lastname: 'bigint' },
    literal: fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map((n): Outcome => ({
      text: String(n),
      // Edm.Int64 holds all of them; past 2^53 the emulator keeps the digits, not a double.
      verdict: 'accept',
    })),
    same: sameNumber,
  },
  {
    name: 'decimal',
    set: 'opportunities',
    idColumn: 'opportunityid',
    column: 'discountpercentage',
    base: { name: 'decimal' },
    literal: decimalLiteral(200n).map(exactNumber(0, 100)),
    same: sameNumber,
  },
  {
    name: 'currency',
    set: 'accounts',
    idColumn: 'accountid',
    column: 'revenue',
    base: { name: 'money' },
    literal: decimalLiteral(10n ** 16n).map(exactNumber(-922_337_203_685_477, 922_337_203_685_477)),
    same: sameNumber,
  },
  {
    name: 'float',
    set: 'accounts',
    idColumn: 'accountid',
    column: 'address1_latitude',
    base: { name: 'float' },
    literal: decimalLiteral(120n).map((text): Outcome => ({
      text,
      verdict: inRange(text, -90, 90) ? 'accept' : 'refuse',
    })),
    // Edm.Double: the nearest double is the value, as in Dataverse.
    same: (text, read) => read === numberValue(text),
  },
  {
    name: 'boolean',
    set: 'accounts',
    idColumn: 'accountid',
    column: 'donotemail',
    base: { name: 'bool' },
    literal: fc.constantFrom('true', 'false', '1', '"true"', 'null').map((text): Outcome => ({
      text,
      verdict: text === 'true' || text === 'false' || text === 'null' ? 'accept' : 'refuse',
    })),
    same: (text, read) => read === JSON.parse(text),
  },
  {
    name: 'choice',
    set: 'accounts',
    idColumn: 'accountid',
    column: 'industrycode',
    base: { name: 'choice' },
    literal: fc.integer({ min: -1, max: 40 }).map((n): Outcome => ({
      text: String(n),
      verdict: industries.includes(n) ? 'accept' : 'refuse',
    })),
    same: (text, read) => read === Number(text),
  },
  {
    name: 'choices',
    set: 'accounts',
    idColumn: 'accountid',
    column: 'cdsify_multiselect',
    base: { name: 'choices' },
    literal: fc
      .array(fc.integer({ min: 0, max: multiselect.length + 2 }), { minLength: 1, maxLength: 5 })
      .map((values): Outcome => ({
        text: JSON.stringify(values.join(',')),
        verdict: values.every((v) => multiselect.includes(v)) ? 'accept' : 'refuse',
      })),
    // A set of options: Dataverse answers them in ascending order, each once.
    same: (text, read) =>
      read === [...new Set((JSON.parse(text) as string).split(',').map(Number))].sort((a, b) => a - b).join(','),
  },
  {
    name: 'date and time',
    set: 'accounts',
    idColumn: 'accountid',
    column: 'lastusedincampaign',
    base: { name: 'datetime' },
    literal: dateTimeParts.map((p) => {
      const instant = dateTimeInstant(p);
      const verdict: Verdict =
        instant !== undefined && instant >= MIN_INSTANT && instant <= MAX_INSTANT ? 'accept' : 'refuse';
      return { text: JSON.stringify(dateTimeText(p)), verdict };
    }),
    // Stored in UTC to the second, the fraction dropped (Dataverse's documented precision).
    same: (text, read) => {
      const match = /^"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{3}))?(Z|([+-])(\d\d):(\d\d))"$/.exec(text);
      if (match === null) return false;
      const [, y, m, d, h, mi, s, , , sign, oh, om] = match;
      const offset = sign === undefined ? 0 : (sign === '-' ? -1 : 1) * (Number(oh) * 60 + Number(om));
      const instant = Date.UTC(Number(y), Number(m) - 1, Number(d), Number(h), Number(mi), Number(s)) - offset * 60_000;
      return read === isoSeconds(instant);
    },
  },
  {
    name: 'date only',
    set: 'contacts',
    idColumn: 'contactid',
    column: 'birthdate',
    base: { lastname: 'dateonly' },
    literal: dateTimeParts.map((p) => {
      const instant = Date.UTC(p.y, p.m - 1, p.d);
      const verdict: Verdict = calendarValid(p.y, p.m, p.d) && instant >= MIN_INSTANT ? 'accept' : 'refuse';
      return { text: JSON.stringify(`${pad(p.y, 4)}-${pad(p.m)}-${pad(p.d)}`), verdict };
    }),
    same: (text, read) => read === JSON.parse(text),
  },
];

describe('emulator round trip: every acknowledged write reads back exactly (issue 14)', function () {
  this.timeout(120_000);
  let client: Client;

  before(async function () {
    client = await startClient({ seed: 'none' });
  });
  after(async function () {
    await client.emulator.close();
  });

  async function read(c: Case, id: string): Promise<{ status: number; value: unknown }> {
    const response = await client.request('GET', `${c.set}(${id})?$select=${c.column}`);
    if (response.status !== 200) {
      await response.text();
      return { status: response.status, value: undefined };
    }
    // Read as the emulator parses bodies, so that a literal past a double reaches `same` with all its digits.
    const body = parseJsonBody(await response.text()) as Record<string, unknown>;
    return { status: 200, value: inexactLiteral(body, c.column) ?? body[c.column] };
  }

  /** Writes one value by the Web API or in a $batch change set; answers the status and error code, if any. */
  async function write(
    c: Case,
    id: string,
    text: string,
    viaBatch: boolean,
  ): Promise<{ status: number; code?: string }> {
    // The id in mixed case: a GUID is stored and answered in lower case.
    const base = JSON.stringify({ ...c.base, [c.idColumn]: id.toUpperCase() }).slice(0, -1);
    const body = `${base},"${c.column}":${text}}`;
    if (!viaBatch) {
      const response = await client.request('POST', c.set, { rawBody: body });
      if (response.status >= 400) return { status: response.status, code: (await errorOf(response)).code };
      await response.text();
      return { status: response.status };
    }
    const batch = await sendBatch(client, [{ method: 'POST', url: c.set, body }]);
    // A failed change set fails the batch (400), as in Microsoft's example 8; its part says why.
    assert.ok(batch.status === 200 || batch.status === 400, batch.text.slice(0, 500));
    const answer = batch.answers[0];
    assert.ok(answer !== undefined, batch.text.slice(0, 500));
    if (answer.status >= 400) {
      const error = (JSON.parse(answer.body) as { error: { code: string } }).error;
      return { status: answer.status, code: error.code };
    }
    return { status: answer.status };
  }

  const counts = new Map<string, number>();

  it('writes random values of every column type by the Web API and $batch and reads them back equal, or refuses them with 400 and stores nothing', async function () {
    const property = fc.asyncProperty(
      // The case by name, so that a counterexample prints readably.
      fc
        .constantFrom(...CASES.map((c) => c.name))
        .chain((name) =>
          fc.tuple(fc.constant(name), (CASES.find((c) => c.name === name) as Case).literal, fc.boolean()),
        ),
      async ([name, { text, verdict }, viaBatch]) => {
        const c = CASES.find((x) => x.name === name) as Case;
        const id = randomUUID();
        const answer = await write(c, id, text, viaBatch);
        const context = `${c.name} ${text} via ${viaBatch ? '$batch' : 'Web API'} -> ${answer.status} ${answer.code ?? ''}`;
        const key = `${c.name}:${answer.status < 300 ? 'stored' : 'refused'}`;
        counts.set(key, (counts.get(key) ?? 0) + 1);
        if (answer.status < 300) {
          assert.notEqual(verdict, 'refuse', `accepted what Dataverse refuses: ${context}`);
          const back = await read(c, id.toLowerCase());
          assert.equal(back.status, 200, context);
          assert.ok(c.same(text, back.value), `${context}: read back ${JSON.stringify(back.value)}`);
        } else {
          assert.equal(answer.status, 400, context);
          assert.notEqual(verdict, 'accept', `refused a value it must keep: ${context}`);
          assert.equal((await read(c, id)).status, 404, `a refused write left a record: ${context}`);
        }
      },
    );
    await fc.assert(property, { numRuns: 400 });
    // Both outcomes were exercised for the types that have both.
    for (const name of ['string', 'memo', 'decimal', 'currency', 'date and time', 'date only']) {
      assert.ok((counts.get(`${name}:stored`) ?? 0) > 0, `${name}: nothing stored ${JSON.stringify([...counts])}`);
      assert.ok((counts.get(`${name}:refused`) ?? 0) > 0, `${name}: nothing refused ${JSON.stringify([...counts])}`);
    }
  });

  it('refuses U+0000, other C0 controls, lone surrogates and U+FFFF with InvalidCharactersInField, and keeps tab, CR, LF and astral characters', async function () {
    for (const text of ['a\u0000b', 'a\u0001', '\u001b[31mred', 'x\ud800y', '\udc00', 'end\uffff']) {
      const response = await client.request('POST', 'accounts', { body: { name: text } });
      assert.equal(response.status, 400, JSON.stringify(text));
      const error = await errorOf(response);
      assert.equal(error.code, '0x80040278');
      assert.equal(error.message, "The field 'name' contains one or more invalid characters.");
    }
    const kept = 'tab\there\r\nnew line 😀 \u00e9\u0301 \ue000 \ufffd';
    const created = await client.request('POST', 'accounts?$select=name', {
      body: { name: kept },
      headers: { Prefer: 'return=representation' },
    });
    assert.equal(created.status, 201);
    assert.equal((await jsonOf(created)).name, kept);
  });

  it('a filter literal with %00 matches only a value with that character, which no stored value has', async function () {
    const created = await client.request('POST', 'accounts', { body: { name: 'nul-prefix' } });
    assert.equal(created.status, 204);
    const names = async (filter: string): Promise<unknown[]> => {
      const response = await client.request('GET', `accounts?$select=name&$filter=${filter}`);
      assert.equal(response.status, 200, filter);
      return ((await jsonOf(response)).value as { name: unknown }[]).map((row) => row.name);
    };
    // Before the fix the driver bound 'nul-prefix%00tail' as 'nul-prefix' and the row matched.
    assert.deepEqual(await names("name eq 'nul-prefix%00tail'"), []);
    assert.deepEqual(await names("name eq 'nul-prefix'"), ['nul-prefix']);
    assert.deepEqual(await names("startswith(name,'nul-prefix%00')"), []);
    assert.deepEqual(await names("name gt 'nul-prefix%00' and startswith(name,'nul-')"), []);
    assert.deepEqual(await names("name lt 'nul-prefix%00' and startswith(name,'nul-')"), ['nul-prefix']);
    assert.deepEqual(
      await names("Microsoft.Dynamics.CRM.In(PropertyName='name',PropertyValues=['nul-prefix%00x','none'])"),
      [],
    );
  });

  it('refuses a date that does not exist instead of rolling it over (2023-02-30 was stored as 2023-03-02)', async function () {
    for (const value of ['2023-02-30T10:00:00Z', '2023-04-31', '2023-13-01T00:00:00Z', '2023-01-01T24:00:00Z']) {
      const response = await client.request('POST', 'accounts', { body: { name: 'd', lastusedincampaign: value } });
      assert.equal(response.status, 400, value);
      await response.text();
    }
    const early = await client.request('POST', 'accounts', {
      body: { name: 'd', lastusedincampaign: '1752-12-31T23:59:59Z' },
    });
    assert.equal(early.status, 400);
    assert.equal((await errorOf(early)).code, '0x8004431a');
  });

  it('keeps money, decimals and big integers past a double digit for digit (92233720368547.5807 was read back as 92233720368547.58), and compares them as numbers', async function () {
    // Learn, "Column data types": Currency holds -922,337,203,685,477 to 922,337,203,685,477 with up to 4
    // decimal places; Big Int is a 64-bit integer. Both are exact in Dataverse's SQL storage.
    const id = randomUUID();
    const response = await client.request('POST', 'accounts?$select=revenue', {
      rawBody: `{"accountid":"${id}","name":"money","revenue":92233720368547.5807}`,
      headers: { Prefer: 'return=representation' },
    });
    assert.equal(response.status, 201);
    const text = await response.text();
    assert.match(text, /"revenue":92233720368547\.5807[,}]/);
    const formatted = await client.request('GET', `accounts(${id})?$select=revenue`, {
      headers: { Prefer: 'odata.include-annotations="OData.Community.Display.V1.FormattedValue"' },
    });
    assert.match(
      await formatted.text(),
      /"revenue@OData\.Community\.Display\.V1\.FormattedValue":"\$92,233,720,368,547.58"/,
    );
    const filtered = async (filter: string): Promise<number> => {
      const answer = await client.request('GET', `accounts?$select=name&$filter=${filter}`);
      assert.equal(answer.status, 200, filter);
      return ((await jsonOf(answer)).value as unknown[]).length;
    };
    assert.equal(await filtered(`accountid eq ${id} and revenue gt 92233720368547.5`), 1);
    assert.equal(await filtered(`accountid eq ${id} and revenue lt 0`), 0);
    const big = await client.request('POST', 'contacts?$select=entityimage_timestamp', {
      rawBody: '{"lastname":"big","entityimage_timestamp":9223372036854775807}',
      headers: { Prefer: 'return=representation' },
    });
    assert.equal(big.status, 201);
    assert.match(await big.text(), /"entityimage_timestamp":9223372036854775807[,}]/);
    // One past Int64 and more digits than a .NET decimal holds are refused, and leave nothing behind.
    const tooBig = await client.request('POST', 'contacts', {
      rawBody: '{"lastname":"too big","entityimage_timestamp":9223372036854775808}',
    });
    assert.equal(tooBig.status, 400);
    await tooBig.text();
    const other = randomUUID();
    const tooLong = await client.request('POST', 'accounts', {
      rawBody: `{"accountid":"${other}","name":"m","revenue":92233720368547.123456789012345678901}`,
    });
    assert.equal(tooLong.status, 400);
    assert.equal((await errorOf(tooLong)).code, '0x8004431a');
    assert.equal((await client.request('GET', `accounts(${other})`)).status, 404);
    // A double column keeps the nearest double, as Dataverse's Edm.Double does.
    const float = await client.request('POST', 'accounts?$select=address1_latitude', {
      rawBody: '{"name":"float","address1_latitude":12.3456789012345678901}',
      headers: { Prefer: 'return=representation' },
    });
    assert.equal(float.status, 201);
    assert.equal((await jsonOf(float)).address1_latitude, 12.345678901234567);
  });
});

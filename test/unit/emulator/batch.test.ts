import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { Client } from './helpers';
import { idFromEntityId, jsonOf, startClient } from './helpers';

const EXAMPLES = readFileSync(new URL('../../../../shared/fixtures/batch/batch-examples.md', import.meta.url), 'utf8');
const GUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi;
const FIXTURE_ACCOUNT = '00000000-0000-0000-0000-000000000001';
const LONG_SUBJECT = 'x'.repeat(201);

/** The http block under the heading `## <n>. ...<kind>...` of Microsoft's published batch examples. */
function example(n: number, kind: 'Request' | 'Response'): string {
  const lines = EXAMPLES.split('\n');
  const heading = lines.findIndex((line) => line.startsWith(`## ${n}.`) && line.includes(kind));
  assert.ok(heading >= 0, `example ${n} ${kind}`);
  const open = lines.indexOf('```http', heading);
  const close = lines.indexOf('```', open + 1);
  return lines.slice(open + 1, close).join('\n') + '\n';
}

/** Splits an HTTP message of the examples into its header lines and body. */
function message(text: string): { head: string[]; body: string } {
  const blank = text.indexOf('\n\n');
  return { head: text.slice(0, blank).split('\n'), body: text.slice(blank + 2) };
}

const crlf = (text: string): string => text.replace(/\r?\n/g, '\r\n');

interface Sent {
  readonly response: Response;
  readonly text: string;
}

/**
 * Sends an example request to the emulator: the organization URL becomes the emulator's, the example's
 * account becomes one of ours, `edit` adapts the rest; the outer Content-Type is the example's.
 */
async function sendExample(
  client: Client,
  request: string,
  options: { edit?: (body: string) => string; prefer?: string; accountId?: string; lineEnds?: 'crlf' | 'lf' } = {},
): Promise<Sent> {
  const { head, body } = message(request);
  const contentType = (head.find((h) => /^content-type:/i.test(h)) ?? '').replace(/^[^:]*:\s*/, '');
  let text = body
    .replace(/\[Organization (?:Uri|URI)\]/g, client.emulator.url)
    .replace(new RegExp(FIXTURE_ACCOUNT, 'g'), options.accountId ?? FIXTURE_ACCOUNT);
  text = options.edit?.(text) ?? text;
  const response = await client.request('POST', '$batch', {
    rawBody: options.lineEnds === 'lf' ? text : crlf(text),
    headers: { 'Content-Type': contentType, ...(options.prefer === undefined ? {} : { Prefer: options.prefer }) },
  });
  return { response, text: await response.text() };
}

/**
 * The framing of a batch answer with what legitimately differs taken out: line ends, GUIDs, the
 * organization URL and the JSON bodies (compared on their own), so two answers can be compared as text.
 */
function skeleton(text: string, root: string): string {
  const out: string[] = [];
  let inJson = false;
  for (const line of text.replace(/\r\n/g, '\n').split('\n')) {
    if (inJson && !line.startsWith('--')) continue;
    inJson = false;
    if (line.startsWith('{')) {
      out.push('<json>');
      inJson = true;
      continue;
    }
    out.push(line.split(root).join('[Organization Uri]').replace(GUID, '<guid>'));
  }
  return out.join('\n').trimEnd();
}

interface PartShape {
  readonly partHeaders: Record<string, string>;
  readonly status: string;
  readonly headers: [string, string][];
  readonly body: unknown;
}

type EntryShape = { readonly part: PartShape } | { readonly boundary: string; readonly parts: PartShape[] };

function splitMultipart(text: string, boundary: string): string[][] {
  const parts: string[][] = [];
  let current: string[] | undefined;
  for (const line of text.replace(/\r\n/g, '\n').split('\n')) {
    if (line.trim() === `--${boundary}` || line.trim() === `--${boundary}--`) {
      if (current !== undefined) parts.push(current);
      current = line.trim().endsWith('--') ? undefined : [];
      continue;
    }
    current?.push(line);
  }
  return parts;
}

function headerLines(lines: string[]): [string, string][] {
  return lines.map((line) => {
    const colon = line.indexOf(':');
    return [line.slice(0, colon).trim(), line.slice(colon + 1).trim()];
  });
}

function partShape(lines: string[]): PartShape {
  const blank = lines.findIndex((l) => l.trim() === '');
  const partHeaders = Object.fromEntries(headerLines(lines.slice(0, blank)).map(([k, v]) => [k.toLowerCase(), v]));
  const rest = lines.slice(blank + 1);
  const innerBlank = rest.findIndex((l) => l.trim() === '');
  const bodyText = rest
    .slice(innerBlank + 1)
    .join('\n')
    .trim();
  return {
    partHeaders,
    status: rest[0] ?? '',
    headers: headerLines(rest.slice(1, innerBlank)),
    body: bodyText === '' ? undefined : (JSON.parse(bodyText) as unknown),
  };
}

/** A batch answer read structurally: top-level parts and change sets, each part's status, headers and body. */
function entries(text: string, boundary: string): EntryShape[] {
  return splitMultipart(text, boundary).map((lines): EntryShape => {
    const type = lines[0] ?? '';
    const inner = /boundary=(\S+)/.exec(type)?.[1];
    if (inner === undefined) return { part: partShape(lines) };
    return { boundary: inner, parts: splitMultipart(lines.slice(1).join('\n'), inner).map(partShape) };
  });
}

function boundaryOf(response: Response): string {
  const type = response.headers.get('content-type') ?? '';
  const match = /^multipart\/mixed; boundary=(batchresponse_[0-9a-f-]{36})$/.exec(type);
  assert.ok(match?.[1] !== undefined, `content type ${type}`);
  return match[1];
}

/** Every part as (Content-ID, status line, header names, entity set of Location); for hand-written examples. */
function structure(list: EntryShape[]): unknown {
  const part = (p: PartShape): unknown => [
    p.partHeaders['content-id'],
    p.status,
    p.headers.map(([name]) => name),
    /\/api\/data\/v9\.2\/([a-z]+)\(/.exec(p.headers.find(([n]) => n === 'Location')?.[1] ?? '')?.[1],
  ];
  return list.map((e) => ('part' in e ? part(e.part) : e.parts.map(part)));
}

function idOf(location: string | undefined): string {
  const id = /\(([0-9a-f-]{36})\)$/.exec(location ?? '')?.[1];
  assert.ok(id !== undefined, `no id in ${String(location)}`);
  return id;
}

function changeSetParts(list: EntryShape[]): PartShape[] {
  const first = list[0];
  assert.ok(first !== undefined && 'parts' in first);
  return first.parts;
}

async function get(client: Client, path: string): Promise<Record<string, unknown>> {
  const response = await client.request('GET', path);
  assert.equal(response.status, 200, path);
  return jsonOf(response);
}

async function count(client: Client, set: string): Promise<number> {
  const response = await client.request('GET', `${set}/$count`);
  return Number(await response.text());
}

describe('emulator $batch: Microsoft’s nine examples', () => {
  let client: Client;
  let accountId: string;
  beforeEach(async () => {
    client = await startClient({ seed: 'none' });
    const created = await client.request('POST', 'accounts', { body: { name: 'Batch account' } });
    accountId = idFromEntityId(created);
  });
  afterEach(() => client.emulator.close());

  const tasksOfAccount = async (): Promise<string[]> => {
    const body = await get(client, `accounts(${accountId})/Account_Tasks?$select=subject`);
    return (body.value as { subject: string }[]).map((t) => t.subject).sort();
  };

  for (const n of [1, 2]) {
    it(`example ${n}: the same framing as the real org, byte for byte outside bodies and ids`, async () => {
      const sent = await sendExample(client, example(n, 'Request'), { accountId });
      assert.equal(sent.response.status, 200);
      assert.equal(sent.response.statusText, 'OK');
      assert.equal(sent.response.headers.get('odata-version'), '4.0');
      const boundary = boundaryOf(sent.response);
      assert.ok(sent.text.includes('\r\n') && !/[^\r]\n/.test(sent.text), 'CRLF line ends only');
      const expected = message(example(n, 'Response')).body;
      assert.equal(skeleton(sent.text, client.emulator.url), skeleton(expected, '[Organization Uri]'));

      const list = entries(sent.text, boundary);
      const last = list[list.length - 1];
      assert.ok(last !== undefined && 'part' in last);
      const wanted = entries(expected, /--(batchresponse_\S+)/.exec(expected)?.[1] ?? '');
      const wantedLast = wanted[wanted.length - 1];
      assert.ok(wantedLast !== undefined && 'part' in wantedLast);
      const body = last.part.body as { '@odata.context': string; value: Record<string, unknown>[] };
      const wantedBody = wantedLast.part.body as { '@odata.context': string; value: Record<string, unknown>[] };
      assert.equal(
        body['@odata.context'],
        wantedBody['@odata.context'].replace('[Organization Uri]', client.emulator.url),
      );
      assert.deepEqual(
        body.value.map((row) => Object.keys(row)),
        wantedBody.value.map((row) => Object.keys(row)),
      );
      // Dataverse's sequential GUIDs sort in creation order; the emulator's random ones do not.
      assert.deepEqual(
        body.value.map((row) => String(row.subject)).sort(),
        wantedBody.value.map((row) => String(row.subject)).sort(),
      );
      // The GET sees the creates, and their ids are the ones the creates answered.
      const creates: PartShape[] =
        n === 1 ? list.slice(0, 3).flatMap((e) => ('part' in e ? [e.part] : [])) : changeSetParts(list);
      assert.equal(creates.length, 3);
      const created = creates.map((p) => idOf(p.headers.find(([name]) => name === 'OData-EntityId')?.[1]));
      assert.deepEqual(body.value.map((row) => String(row.activityid)).sort(), created.sort());
      if (n === 2) {
        const set = list[0];
        assert.ok(set !== undefined && 'boundary' in set);
        assert.match(set.boundary, /^changesetresponse_[0-9a-f-]{36}$/);
      }
    });
  }

  it('example 3: Content-ID references in @odata.bind (leads adapted to a parent account)', async () => {
    const sent = await sendExample(client, example(3, 'Request'), {
      lineEnds: 'lf',
      edit: (body) =>
        body
          .replace('/leads HTTP/1.1', '/accounts HTTP/1.1')
          .replace(/\{\s*"firstname":"first name",\s*"lastname":"last name"\s*\}/, '{"name":"Originating account"}')
          .replace('originatingleadid@odata.bind', 'parentaccountid@odata.bind'),
    });
    assert.equal(sent.response.status, 200);
    const list = entries(sent.text, boundaryOf(sent.response));
    const expected = message(example(3, 'Response')).body;
    const wanted = entries(expected, /--(batchresponse_\S+)/.exec(expected)?.[1] ?? '');
    assert.deepEqual(
      structure(list),
      JSON.parse(JSON.stringify(structure(wanted)).replace('"leads"', '"accounts"')) as unknown,
    );
    const [lead, contact, account] = changeSetParts(list).map((p) =>
      idOf(p.headers.find(([k]) => k === 'Location')?.[1]),
    );
    const row = await get(
      client,
      `accounts(${account ?? ''})?$select=name,_parentaccountid_value,_primarycontactid_value`,
    );
    assert.equal(row.name, 'IcM Account');
    assert.equal(row._parentaccountid_value, lead);
    assert.equal(row._primarycontactid_value, contact);
  });

  it('example 4: a Content-ID reference as the request URL (PUT $1/lastname)', async () => {
    const sent = await sendExample(client, example(4, 'Request'), { lineEnds: 'lf' });
    assert.equal(sent.response.status, 200);
    const list = entries(sent.text, boundaryOf(sent.response));
    const expected = message(example(4, 'Response')).body;
    assert.deepEqual(structure(list), structure(entries(expected, /--(batchresponse_\S+)/.exec(expected)?.[1] ?? '')));
    const contact = idOf(changeSetParts(list)[0]?.headers.find(([k]) => k === 'Location')?.[1]);
    const row = await get(client, `contacts(${contact})?$select=firstname,lastname`);
    assert.deepEqual([row.firstname, row.lastname], ['First Name', 'BBBBB']);
  });

  it('example 5: a Content-ID reference in a $ref body (PUT $1/primarycontactid/$ref)', async () => {
    const sent = await sendExample(client, example(5, 'Request'), { lineEnds: 'lf' });
    assert.equal(sent.response.status, 200);
    const list = entries(sent.text, boundaryOf(sent.response));
    const expected = message(example(5, 'Response')).body;
    assert.deepEqual(structure(list), structure(entries(expected, /--(batchresponse_\S+)/.exec(expected)?.[1] ?? '')));
    const [account, contact] = changeSetParts(list).map((p) => p.headers.find(([k]) => k === 'Location')?.[1]);
    const row = await get(client, `accounts(${idOf(account)})?$select=_primarycontactid_value`);
    assert.equal(row._primarycontactid_value, idOf(contact));
  });

  it('example 6: PATCH $1 binding $2, answered with the entity of $1', async () => {
    const sent = await sendExample(client, example(6, 'Request'), { lineEnds: 'lf' });
    assert.equal(sent.response.status, 200);
    const list = entries(sent.text, boundaryOf(sent.response));
    const expected = message(example(6, 'Response')).body;
    assert.deepEqual(structure(list), structure(entries(expected, /--(batchresponse_\S+)/.exec(expected)?.[1] ?? '')));
    const [account, contact, patched] = changeSetParts(list).map((p) => p.headers.find(([k]) => k === 'Location')?.[1]);
    assert.equal(patched, account);
    const row = await get(client, `accounts(${idOf(account)})?$select=_primarycontactid_value`);
    assert.equal(row._primarycontactid_value, idOf(contact));
  });

  it('example 7: a forward Content-ID reference is refused before anything runs', async () => {
    const body = [
      '--batch_BBB456',
      'Content-Type: multipart/mixed; boundary=changeset_BBB456',
      '',
      '--changeset_BBB456',
      'Content-Type: application/http',
      'Content-Transfer-Encoding: binary',
      'Content-ID: 2',
      '',
      'POST /api/data/v9.2/tasks HTTP/1.1',
      'Content-Type: application/json',
      '',
      '{"subject":"Forward","regardingobjectid_account_task@odata.bind":"$1"}',
      '--changeset_BBB456',
      'Content-Type: application/http',
      'Content-Transfer-Encoding: binary',
      'Content-ID: 1',
      '',
      'POST /api/data/v9.2/accounts HTTP/1.1',
      'Content-Type: application/json',
      '',
      '{"name":"Declared too late"}',
      '--changeset_BBB456--',
      '--batch_BBB456--',
      '',
    ].join('\r\n');
    const before = await count(client, 'accounts');
    const response = await client.request('POST', '$batch', {
      rawBody: body,
      headers: { 'Content-Type': 'multipart/mixed; boundary=batch_BBB456' },
    });
    assert.equal(response.status, 400);
    const error = (await jsonOf(response)).error as { message: string };
    assert.equal(error.message, "Content-ID Reference: '$1' does not exist in the batch context.");
    assert.equal(await count(client, 'accounts'), before);
  });

  const threeTasks = (): string =>
    message(example(1, 'Request')).body.split(
      /--batch_80dd1615-2a10-428a-bb6f-0e559792721f\n(?=Content-Type: application\/http\nContent-Transfer-Encoding: binary\n\nGET)/,
    )[0] + '--batch_80dd1615-2a10-428a-bb6f-0e559792721f--\n';
  const request8 = (): string =>
    `${message(example(1, 'Request')).head.join('\n')}\n\n${threeTasks().replace('Task 1 in batch', LONG_SUBJECT)}`;

  it('example 8: without continue-on-error the batch stops at the first failure and answers it', async () => {
    const sent = await sendExample(client, request8(), { accountId });
    assert.equal(sent.response.status, 400);
    assert.equal(sent.response.statusText, 'BadRequest');
    const expected = message(example(8, 'Response')).body;
    assert.equal(skeleton(sent.text, client.emulator.url), skeleton(expected, '[Organization Uri]'));
    const [failed] = entries(sent.text, boundaryOf(sent.response));
    assert.ok(failed !== undefined && 'part' in failed);
    const [wanted] = entries(expected, 'batchresponse_156da4b8-cd2c-4862-a911-4aaab97c001a');
    assert.ok(wanted !== undefined && 'part' in wanted);
    assert.deepEqual(failed.part.body, wanted.part.body);
    assert.deepEqual(await tasksOfAccount(), []);
  });

  it('example 9: with continue-on-error every request gets its own answer', async () => {
    const sent = await sendExample(client, request8(), { accountId, prefer: 'odata.continue-on-error' });
    assert.equal(sent.response.status, 200);
    const expected = message(example(9, 'Response')).body;
    assert.equal(skeleton(sent.text, client.emulator.url), skeleton(expected, '[Organization Uri]'));
    const list = entries(sent.text, boundaryOf(sent.response));
    const [wanted] = entries(expected, 'batchresponse_f44bd09d-573f-4a30-bca0-2e500ee7e139');
    assert.ok(list[0] !== undefined && 'part' in list[0] && wanted !== undefined && 'part' in wanted);
    assert.deepEqual(list[0].part.body, wanted.part.body);
    assert.deepEqual(await tasksOfAccount(), ['Task 2 in batch', 'Task 3 in batch']);
  });
});

describe('emulator $batch: change sets, methods and limits', () => {
  let client: Client;
  beforeEach(async () => {
    client = await startClient({ seed: 'sample' });
  });
  afterEach(() => client.emulator.close());

  const part = (method: string, url: string, body?: unknown, contentId?: string): string[] => [
    'Content-Type: application/http',
    'Content-Transfer-Encoding: binary',
    ...(contentId === undefined ? [] : [`Content-ID: ${contentId}`]),
    '',
    `${method} ${url} HTTP/1.1`,
    ...(body === undefined ? [] : ['Content-Type: application/json', '', JSON.stringify(body)]),
    ...(body === undefined ? [''] : []),
  ];
  const batch = (items: (string[] | string[][])[]): string => {
    const lines: string[] = [];
    items.forEach((item, index) => {
      lines.push('--batch_T');
      if (typeof item[0] === 'string') {
        lines.push(...(item as string[]));
        return;
      }
      lines.push(`Content-Type: multipart/mixed; boundary=changeset_${index}`, '');
      for (const member of item as string[][]) lines.push(`--changeset_${index}`, ...member);
      lines.push(`--changeset_${index}--`);
    });
    lines.push('--batch_T--', '');
    return lines.join('\r\n');
  };
  const send = (body: string, headers: Record<string, string> = {}): Promise<Response> =>
    client.request('POST', '$batch', {
      rawBody: body,
      headers: { 'Content-Type': 'multipart/mixed; boundary="batch_T"', ...headers },
    });

  it('a change set with a failing request leaves no trace', async () => {
    const before = await count(client, 'accounts');
    const contactsBefore = await count(client, 'contacts');
    const response = await send(
      batch([
        [
          part('POST', '/api/data/v9.2/accounts', { name: 'Rolled back' }, '1'),
          part('POST', 'contacts', { lastname: 'Rolled back', 'parentcustomerid_account@odata.bind': '$1' }, '2'),
          part('PATCH', '$1', { name: 'Renamed' }, '3'),
          part('POST', 'tasks', { subject: LONG_SUBJECT }, '4'),
        ],
      ]),
    );
    assert.equal(response.status, 400);
    const text = await response.text();
    const list = entries(text, boundaryOf(response));
    assert.equal(list.length, 1);
    const only = list[0];
    assert.ok(only !== undefined && 'part' in only);
    assert.equal(only.part.status, 'HTTP/1.1 400 Bad Request');
    assert.equal((only.part.body as { error: { code: string } }).error.code, '0x80044331');
    assert.equal(await count(client, 'accounts'), before);
    assert.equal(await count(client, 'contacts'), contactsBefore);
    const named = await get(client, "accounts?$filter=name eq 'Rolled back' or name eq 'Renamed'");
    assert.deepEqual(named.value, []);
  });

  it('with continue-on-error a failed change set answers once and later requests still run', async () => {
    const response = await send(
      batch([
        [part('POST', 'accounts', { name: 'First set' }, '1'), part('POST', 'tasks', { subject: LONG_SUBJECT }, '2')],
        [part('POST', 'accounts', { name: 'Second set' }, '1')],
        part('GET', "accounts?$select=name&$filter=startswith(name,'First')%20or%20startswith(name,'Second')"),
      ]),
      { Prefer: 'odata.continue-on-error' },
    );
    assert.equal(response.status, 200);
    const list = entries(await response.text(), boundaryOf(response));
    assert.deepEqual(
      list.map((e) => ('part' in e ? e.part.status : e.parts.map((p) => p.status))),
      ['HTTP/1.1 400 Bad Request', ['HTTP/1.1 204 No Content'], 'HTTP/1.1 200 OK'],
    );
    const last = list[2];
    assert.ok(last !== undefined && 'part' in last);
    assert.deepEqual(
      (last.part.body as { value: { name: string }[] }).value.map((r) => r.name),
      ['Second set'],
    );
  });

  it('runs GET, POST, PATCH, PUT and DELETE parts with relative, root-relative and absolute URLs', async () => {
    const created = await client.request('POST', 'accounts', { body: { name: 'Target' } });
    const id = idFromEntityId(created);
    const absolute = `${client.emulator.webApi}accounts(${id})`;
    const response = await send(
      batch([
        part('PATCH', `accounts(${id})`, { telephone1: '555-0100' }),
        part('PUT', `/api/data/v9.2/accounts(${id})/name`, { value: 'Renamed' }),
        part('GET', `${absolute}?$select=name,telephone1`),
        part('POST', 'accounts', { name: 'Created in batch' }),
        part('DELETE', absolute),
        part('GET', `accounts(${id})`),
      ]),
    );
    // Without continue-on-error the GET of the deleted record is the failure that ends the batch.
    assert.equal(response.status, 404);
    const list = entries(await response.text(), boundaryOf(response));
    assert.deepEqual(
      list.map((e) => ('part' in e ? e.part.status : '')),
      [
        'HTTP/1.1 204 No Content',
        'HTTP/1.1 204 No Content',
        'HTTP/1.1 200 OK',
        'HTTP/1.1 204 No Content',
        'HTTP/1.1 204 No Content',
        'HTTP/1.1 404 Not Found',
      ],
    );
    const read = list[2];
    assert.ok(read !== undefined && 'part' in read);
    const body = read.part.body as Record<string, unknown>;
    assert.deepEqual([body.name, body.telephone1], ['Renamed', '555-0100']);
    assert.deepEqual(
      read.part.headers.map(([name]) => name),
      ['Content-Type', 'OData-Version', 'ETag'],
    );
    const gone = list[5];
    assert.ok(gone !== undefined && 'part' in gone);
    assert.equal(gone.part.headers[0]?.[0], 'REQ_ID');
    assert.equal((gone.part.body as { error: { code: string } }).error.code, '0x80040217');
  });

  it('inner Prefer applies per part, and the batch’s include-annotations reaches every part', async () => {
    const response = await send(
      batch([
        [
          [
            'Content-Type: application/http',
            'Content-Transfer-Encoding: binary',
            'Content-ID: 1',
            '',
            'POST accounts?$select=name HTTP/1.1',
            'Content-Type: application/json',
            'Prefer: return=representation',
            '',
            '{"name":"Represented","creditonhold":true}',
          ],
        ],
        part('GET', "accounts?$select=creditonhold&$filter=name%20eq%20'Represented'"),
      ]),
      { Prefer: 'odata.include-annotations="OData.Community.Display.V1.FormattedValue"' },
    );
    assert.equal(response.status, 200);
    const [set, read] = entries(await response.text(), boundaryOf(response));
    assert.ok(set !== undefined && 'parts' in set && read !== undefined && 'part' in read);
    assert.equal(set.parts[0]?.status, 'HTTP/1.1 201 Created');
    assert.equal((set.parts[0]?.body as { name: string }).name, 'Represented');
    const row = (read.part.body as { value: Record<string, unknown>[] }).value[0];
    assert.equal(row?.['creditonhold@OData.Community.Display.V1.FormattedValue'], 'Yes');
  });

  it('refuses more than 1,000 requests, and accepts exactly 1,000 in one change set', async () => {
    const before = await count(client, 'accounts');
    const creates = (n: number): string[][] =>
      Array.from({ length: n }, (_, i) => part('POST', 'accounts', { name: `Bulk ${i}` }, String(i + 1)));
    const tooMany = await send(batch([creates(1001)]));
    assert.equal(tooMany.status, 400);
    assert.match(((await jsonOf(tooMany)).error as { message: string }).message, /limit of 1000/);
    assert.equal(await count(client, 'accounts'), before);
    const enough = await send(batch([creates(1000)]));
    assert.equal(enough.status, 200);
    const [set] = entries(await enough.text(), boundaryOf(enough));
    assert.ok(set !== undefined && 'parts' in set);
    assert.equal(set.parts.length, 1000);
    assert.equal(set.parts[999]?.partHeaders['content-id'], '1000');
    assert.equal(await count(client, 'accounts'), before + 1000);
  });

  it('answers malformed batches with a Dataverse error, never a crash', async () => {
    const malformed: [string, Record<string, string>][] = [
      ['--batch_T\r\nContent-Type: application/http\r\n\r\nGET accounts HTTP/1.1\r\n\r\n', {}],
      ['--batch_T\r\nContent-Type: text/plain\r\n\r\nhello\r\n--batch_T--\r\n', {}],
      ['--batch_T\r\nContent-Type: application/http\r\n\r\nnot a request line\r\n--batch_T--\r\n', {}],
      ['--batch_T\r\nno colon here\r\n\r\nGET accounts HTTP/1.1\r\n--batch_T--\r\n', {}],
      [batch([[part('GET', 'accounts')]]), {}],
      [batch([part('GET', 'accounts')]), { 'Content-Type': 'multipart/mixed' }],
      ['{"requests":[{"id":"1","method":"GET","url":"accounts"}]}', { 'Content-Type': 'application/json' }],
      [batch([[part('POST', 'accounts', { name: 'a' }, '1'), part('POST', 'accounts', { name: 'b' }, '1')]]), {}],
    ];
    for (const [body, headers] of malformed) {
      const response = await send(body, headers);
      assert.equal(response.status, 400, body.slice(0, 60));
      assert.match(response.headers.get('content-type') ?? '', /^application\/json/);
      const error = (await jsonOf(response)).error as { code: string; message: string };
      assert.equal(error.code, '0x80060888');
    }
    const wrongMethod = await client.request('GET', '$batch');
    assert.equal(wrongMethod.status, 405);
    assert.equal((await client.request('GET', 'accounts?$top=1')).status, 200);
  });
});

import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { attributeValue, parseRemoteExecutionContext, targetEntity } from '../../../src/core/remoteExecutionContext';
import { extendSchema } from '../../../src/emulator/schema/extension';
import { SchemaError } from '../../../src/emulator/schema/schema';
import { builtinSchema } from '../../../src/emulator/schema/snapshot';
import type { Client } from './helpers';
import { idFromEntityId, startClient } from './helpers';

// Write-only columns (IsValidForRead false): serviceendpoint.authvalue, saskey and sastoken. A client sets
// them and reads back only `isauthvalueset`, `issaskeyset`, `issastokenset`; naming one in a result is refused
// with Dataverse's "Retrieve can only return columns that are valid for read" (0x80041a08).

const NOT_VALID_FOR_READ = '0x80041a08';
const NOT_A_CONDITION = '0x80040203';
const KEY = 'webhook-key-that-must-never-be-read-back';
const SAS = 'sas-key-that-must-never-be-read-back';
const TOKEN = 'sas-token-that-must-never-be-read-back';
const VAULT_SECRET = 'vault-secret-that-must-never-be-read-back';

/** A loopback webhook receiver that keeps the URL and body of every POST. */
async function receiver(): Promise<{ url: string; got: { url: string; body: string }[]; close(): Promise<void> }> {
  const got: { url: string; body: string }[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      got.push({ url: req.url ?? '', body: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(200);
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    got,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** The built-in tables plus a change-tracked table with a write-only column of its own. */
function vaultSchema(): ReturnType<typeof builtinSchema> {
  return extendSchema(
    builtinSchema(),
    {
      tables: [
        {
          logicalName: 'new_vault',
          entitySetName: 'new_vaults',
          primaryNameAttribute: 'new_name',
          changeTracking: true,
          columns: [
            { name: 'new_vaultid', type: 'uniqueidentifier' },
            { name: 'new_name', type: 'string', maxLength: 100 },
            {
              name: 'new_secret',
              type: 'string',
              maxLength: 200,
              validForRead: false,
              setIndicator: 'new_issecretset',
            },
            { name: 'new_issecretset', type: 'boolean', readOnly: true },
          ],
        },
      ],
    },
    'vault.json',
  );
}

describe('emulator: write-only columns (IsValidForRead false)', function () {
  this.timeout(30_000);
  let client: Client;
  /** Every response body read in these tests: none may hold a secret. */
  const bodies: string[] = [];
  let hook: Awaited<ReturnType<typeof receiver>>;

  const text = async (response: Response): Promise<string> => {
    const body = await response.text();
    bodies.push(body);
    return body;
  };
  const get = async (path: string, headers: Record<string, string> = {}): Promise<Record<string, unknown>> => {
    const response = await client.request('GET', path, { headers });
    const body = await text(response);
    assert.equal(response.status, 200, body);
    return JSON.parse(body) as Record<string, unknown>;
  };
  const refused = async (path: string): Promise<{ code: string; message: string }> => {
    const response = await client.request('GET', path);
    const body = await text(response);
    assert.equal(response.status, 400, `${path}: ${body}`);
    const error = (JSON.parse(body) as { error: { code: string; message: string } }).error;
    return error;
  };
  const create = async (set: string, body: unknown): Promise<string> => {
    const response = await client.request('POST', set, { body });
    assert.equal(response.status, 204, await text(response));
    return idFromEntityId(response);
  };

  before(async () => {
    client = await startClient({ seed: 'none', schema: vaultSchema() });
    hook = await receiver();
  });
  after(async () => {
    await client.emulator.close();
    await hook.close();
    for (const body of bodies) {
      for (const secret of [KEY, SAS, TOKEN, VAULT_SECRET]) assert.ok(!body.includes(secret), 'a secret was read back');
    }
  });

  it('keeps isauthvalueset, issaskeyset and issastokenset on create and update', async () => {
    const webhook = await create('serviceendpoints', {
      name: 'Hook',
      contract: 8,
      authtype: 4,
      url: hook.url,
      authvalue: KEY,
    });
    const flags = '$select=isauthvalueset,issaskeyset,issastokenset';
    const row = await get(`serviceendpoints(${webhook})?${flags}`);
    assert.deepEqual([row.isauthvalueset, row.issaskeyset, row.issastokenset], [true, false, false]);

    const queue = await create('serviceendpoints', {
      name: 'Queue',
      contract: 2,
      authtype: 2,
      solutionnamespace: 'contoso',
      path: 'orders',
      saskeyname: 'send',
      saskey: SAS,
    });
    let flagsOf = await get(`serviceendpoints(${queue})?${flags}`);
    assert.deepEqual([flagsOf.isauthvalueset, flagsOf.issaskeyset, flagsOf.issastokenset], [false, true, false]);
    // Switching to a SAS token: the key is cleared, the token set.
    const switched = await client.request('PATCH', `serviceendpoints(${queue})`, {
      body: { authtype: 3, saskey: null, sastoken: TOKEN },
    });
    assert.equal(switched.status, 204, await text(switched));
    flagsOf = await get(`serviceendpoints(${queue})?${flags}`);
    assert.deepEqual([flagsOf.issaskeyset, flagsOf.issastokenset], [false, true]);
    // An update that does not name a secret leaves it, and its flag, as they were.
    const renamed = await client.request('PATCH', `serviceendpoints(${queue})`, { body: { description: 'x' } });
    assert.equal(renamed.status, 204);
    assert.equal((await get(`serviceendpoints(${queue})?${flags}`)).issastokenset, true);
    // The flags are the server's: a client's value is ignored.
    const forged = await client.request('PATCH', `serviceendpoints(${queue})`, { body: { issastokenset: false } });
    assert.equal(forged.status, 204);
    assert.equal((await get(`serviceendpoints(${queue})?${flags}`)).issastokenset, true);
    // Single-property writes still reach a write-only column.
    const put = await client.request('PUT', `serviceendpoints(${queue})/sastoken`, { body: { value: `${TOKEN}-2` } });
    assert.equal(put.status, 204);
    assert.equal((await get(`serviceendpoints(${queue})?${flags}`)).issastokenset, true);
  });

  it('reads them as null when every column is read: GET, collections, $expand, representation, $batch', async () => {
    const one = await get(`serviceendpoints?$filter=name eq 'Hook'`);
    const [row] = one.value as Record<string, unknown>[];
    assert.ok(row !== undefined);
    for (const name of ['authvalue', 'saskey', 'sastoken']) {
      assert.ok(name in row, `${name} is in $metadata, so a full read names it`);
      assert.equal(row[name], null);
    }
    assert.equal(row.isauthvalueset, true);
    const id = String(row.serviceendpointid);
    const single = await get(`serviceendpoints(${id})`, {
      Prefer: 'odata.include-annotations="*"',
    });
    assert.equal(single.authvalue, null);
    assert.ok(!Object.keys(single).some((k) => k.startsWith('authvalue@')), 'no annotations for a write-only column');

    // A step of the webhook, read with its endpoint expanded.
    const message = ((await get(`sdkmessages?$filter=name eq 'Create'&$select=sdkmessageid`)).value as Row[])[0];
    const step = await create('sdkmessageprocessingsteps', {
      name: 'expand me',
      stage: 40,
      mode: 1,
      rank: 1,
      'sdkmessageid@odata.bind': `/sdkmessages(${String(message?.sdkmessageid)})`,
      'eventhandler_serviceendpoint@odata.bind': `/serviceendpoints(${id})`,
      'sdkmessagefilterid@odata.bind': `/sdkmessagefilters(${await filterId('Create', 'account')})`,
    });
    const expanded = await get(`sdkmessageprocessingsteps(${step})?$select=name&$expand=eventhandler_serviceendpoint`);
    const endpoint = expanded.eventhandler_serviceendpoint as Record<string, unknown>;
    assert.equal(endpoint.authvalue, null);
    assert.equal(endpoint.isauthvalueset, true);
    const fromEndpoint = await get(
      `serviceendpoints(${id})?$select=name&$expand=serviceendpoint_sdkmessageprocessingstep`,
    );
    assert.equal((fromEndpoint.serviceendpoint_sdkmessageprocessingstep as unknown[]).length, 1);
    const deleted = await client.request('DELETE', `sdkmessageprocessingsteps(${step})`);
    assert.equal(deleted.status, 204);

    const represented = await client.request('POST', 'serviceendpoints', {
      body: { name: 'Represented', contract: 8, authtype: 4, url: hook.url, authvalue: KEY },
      headers: { Prefer: 'return=representation' },
    });
    const body = JSON.parse(await text(represented)) as Record<string, unknown>;
    assert.equal(represented.status, 201);
    assert.deepEqual([body.authvalue, body.isauthvalueset], [null, true]);

    const batch = [
      '--batch_W',
      'Content-Type: application/http',
      'Content-Transfer-Encoding: binary',
      '',
      `GET /api/data/v9.2/serviceendpoints(${id}) HTTP/1.1`,
      '',
      '--batch_W',
      'Content-Type: application/http',
      'Content-Transfer-Encoding: binary',
      '',
      `GET /api/data/v9.2/serviceendpoints(${id})?$select=authvalue HTTP/1.1`,
      '',
      '--batch_W--',
      '',
    ].join('\r\n');
    const answered = await client.request('POST', '$batch', {
      rawBody: batch,
      headers: { 'Content-Type': 'multipart/mixed; boundary=batch_W', Prefer: 'odata.continue-on-error' },
    });
    const parts = await text(answered);
    assert.equal(answered.status, 200);
    assert.match(parts, /"authvalue":null/);
    assert.match(parts, /HTTP\/1\.1 400/);
    assert.ok(parts.includes(NOT_VALID_FOR_READ));
  });

  type Row = Record<string, unknown>;
  async function filterId(message: string, table: string): Promise<string> {
    const messages = (await get(`sdkmessages?$filter=name eq '${message}'&$select=sdkmessageid`)).value as Row[];
    const filters = (
      await get(
        `sdkmessagefilters?$filter=primaryobjecttypecode eq '${table}' and _sdkmessageid_value eq ${String(messages[0]?.sdkmessageid)}&$select=sdkmessagefilterid`,
      )
    ).value as Row[];
    return String(filters[0]?.sdkmessagefilterid);
  }

  it('refuses them by name in $select, nested $select, a single-property GET and FetchXML <attribute>', async () => {
    const id = String(
      ((await get(`serviceendpoints?$filter=name eq 'Hook'&$select=name`)).value as Row[])[0]?.serviceendpointid,
    );
    const select = await refused(`serviceendpoints?$select=name,authvalue`);
    assert.deepEqual(select, {
      code: NOT_VALID_FOR_READ,
      message: 'Retrieve can only return columns that are valid for read. Column : authvalue. Entity : serviceendpoint',
    });
    assert.equal((await refused(`serviceendpoints(${id})?$select=saskey`)).code, NOT_VALID_FOR_READ);
    assert.equal(
      (await refused(`sdkmessageprocessingsteps?$expand=eventhandler_serviceendpoint($select=sastoken)`)).code,
      NOT_VALID_FOR_READ,
    );
    const property = await refused(`serviceendpoints(${id})/authvalue`);
    assert.equal(property.code, NOT_VALID_FOR_READ);
    assert.match(property.message, /Column : authvalue\. Entity : serviceendpoint$/);
    const fetch = (xml: string): string => `serviceendpoints?fetchXml=${encodeURIComponent(xml)}`;
    assert.equal(
      (await refused(fetch('<fetch><entity name="serviceendpoint"><attribute name="authvalue"/></entity></fetch>')))
        .code,
      NOT_VALID_FOR_READ,
    );
    // <all-attributes/> is AllColumns: write-only columns are left out (FetchXML leaves out nulls anyway).
    const all = await get(fetch('<fetch><entity name="serviceendpoint"><all-attributes/></entity></fetch>'));
    const rows = all.value as Row[];
    assert.ok(rows.length >= 1);
    for (const row of rows) {
      assert.ok(!('authvalue' in row) && !('saskey' in row) && !('sastoken' in row));
    }
    assert.equal(rows.find((r) => r.name === 'Hook')?.isauthvalueset, true);
  });

  it('refuses them as operands: $filter, query functions, lambdas, $orderby, $apply, FetchXML conditions and orders', async () => {
    for (const path of [
      `serviceendpoints?$filter=authvalue eq 'guess'`,
      `serviceendpoints?$filter=startswith(authvalue,'w')`,
      `serviceendpoints?$filter=authvalue ne null`,
      `serviceendpoints?$filter=Microsoft.Dynamics.CRM.In(PropertyName='saskey',PropertyValues=['a','b'])`,
      `serviceendpoints?$filter=serviceendpoint_sdkmessageprocessingstep/any(s:s/eventhandler_serviceendpoint/sastoken eq 'x')`,
      `sdkmessageprocessingsteps?$filter=eventhandler_serviceendpoint/authvalue eq 'guess'`,
      `serviceendpoints?$orderby=sastoken`,
      `serviceendpoints?$apply=groupby((authvalue))`,
      `serviceendpoints?$apply=aggregate(saskey with countdistinct as n)`,
      `serviceendpoints?$count=true&$filter=authvalue eq 'x'`,
      `serviceendpoints?fetchXml=${encodeURIComponent('<fetch><entity name="serviceendpoint"><filter><condition attribute="authvalue" operator="like" value="w%"/></filter></entity></fetch>')}`,
      `serviceendpoints?fetchXml=${encodeURIComponent('<fetch><entity name="serviceendpoint"><order attribute="saskey"/></entity></fetch>')}`,
    ]) {
      const response = await client.request('GET', path);
      const body = await text(response);
      assert.equal(response.status, 400, `${path}: ${body}`);
      const error = (JSON.parse(body) as { error: { code: string; message: string } }).error;
      assert.equal(error.code, NOT_A_CONDITION, path);
      assert.match(error.message, /is not valid for read/, path);
    }
  });

  it('describes them in EntityDefinitions (IsValidForRead false) and keeps them in $metadata, as Dataverse does', async () => {
    const attribute = await get(
      `EntityDefinitions(LogicalName='serviceendpoint')/Attributes(LogicalName='authvalue')?$select=LogicalName,IsValidForRead,IsValidForCreate,IsValidForUpdate`,
    );
    assert.deepEqual(
      [attribute.IsValidForRead, attribute.IsValidForCreate, attribute.IsValidForUpdate],
      [false, true, true],
    );
    const readable = await get(
      `EntityDefinitions(LogicalName='serviceendpoint')/Attributes?$select=LogicalName&$filter=IsValidForRead eq false`,
    );
    assert.deepEqual(((readable.value as Row[]).map((a) => a.LogicalName) as string[]).sort(), [
      'authvalue',
      'saskey',
      'sastoken',
    ]);
    const metadata = await client.request('GET', '$metadata');
    const csdl = await metadata.text();
    const type = /<EntityType Name="serviceendpoint"[\s\S]*?<\/EntityType>/.exec(csdl)?.[0] ?? '';
    for (const name of ['authvalue', 'saskey', 'sastoken', 'isauthvalueset']) {
      assert.ok(type.includes(`<Property Name="${name}"`), name);
    }
  });

  it('delivers the webhook key, keeps write-only values out of images, and reads null in change tracking', async () => {
    // A webhook on the custom table, with a post-image of every column.
    const endpoint = await create('serviceendpoints', {
      name: 'Vault hook',
      contract: 8,
      authtype: 4,
      url: hook.url,
      authvalue: KEY,
    });
    const message = ((await get(`sdkmessages?$filter=name eq 'Create'&$select=sdkmessageid`)).value as Row[])[0];
    const step = await create('sdkmessageprocessingsteps', {
      name: 'vault created',
      stage: 40,
      mode: 0,
      rank: 1,
      'sdkmessageid@odata.bind': `/sdkmessages(${String(message?.sdkmessageid)})`,
      'sdkmessagefilterid@odata.bind': `/sdkmessagefilters(${await filterId('Create', 'new_vault')})`,
      'eventhandler_serviceendpoint@odata.bind': `/serviceendpoints(${endpoint})`,
    });
    await create('sdkmessageprocessingstepimages', {
      name: 'After',
      entityalias: 'After',
      imagetype: 1,
      messagepropertyname: 'Target',
      'sdkmessageprocessingstepid@odata.bind': `/sdkmessageprocessingsteps(${step})`,
    });
    const tracked = await get('new_vaults?$select=new_name', { Prefer: 'odata.track-changes' });
    const deltaLink = String(tracked['@odata.deltaLink']);

    const vault = await create('new_vaults', { new_name: 'Vault', new_secret: VAULT_SECRET });
    assert.equal(hook.got.length, 1, 'a synchronous step posts before the answer');
    const [posted] = hook.got;
    assert.equal(
      new URL(posted?.url ?? '', 'http://x').searchParams.get('code'),
      KEY,
      'the emulator still uses the key',
    );
    const context = parseRemoteExecutionContext(posted?.body ?? '');
    // The Target is the request as the caller sent it; the image is read back from the row, like a Retrieve.
    const target = targetEntity(context);
    assert.ok(target !== undefined);
    assert.equal(attributeValue(target, 'new_secret'), VAULT_SECRET);
    const image = context.postEntityImages?.find((i) => i.key === 'After')?.value;
    assert.ok(image !== undefined);
    const keys = image.attributes.map((a) => a.key);
    assert.ok(keys.includes('new_name') && keys.includes('new_issecretset'), keys.join(','));
    assert.ok(!keys.includes('new_secret'), 'no write-only column in an image');
    assert.equal(attributeValue(image, 'new_issecretset'), true);

    const row = await get(`new_vaults(${vault})`);
    assert.deepEqual([row.new_secret, row.new_issecretset], [null, true]);
    const delta = await get(deltaLink.slice(client.emulator.webApi.length).replace('$select=new_name&', ''));
    const changed = (delta.value as Row[]).find((r) => r.new_vaultid === vault);
    assert.ok(changed !== undefined, 'the new row is in the delta');
    assert.equal(changed.new_secret, null);
    assert.equal(changed.new_issecretset, true);
    assert.equal(
      (
        await refused(
          `new_vaults?$select=new_secret&$deltatoken=${encodeURIComponent(new URL(deltaLink).searchParams.get('$deltatoken') ?? '')}`,
        )
      ).code,
      NOT_VALID_FOR_READ,
    );
  });

  it('checks the schema flags: a set indicator must be a read-only boolean of a write-only column', () => {
    const problems = (value: unknown): readonly string[] => {
      try {
        extendSchema(builtinSchema(), value, 'bad.json');
      } catch (error) {
        if (error instanceof SchemaError) return error.problems;
        throw error;
      }
      return assert.fail('expected a SchemaError');
    };
    const table = (columns: unknown[], extra: Record<string, unknown> = {}): unknown => ({
      tables: [
        {
          logicalName: 'new_bad',
          primaryNameAttribute: 'new_name',
          columns: [
            { name: 'new_badid', type: 'uniqueidentifier' },
            { name: 'new_name', type: 'string', maxLength: 10 },
            ...columns,
          ],
          ...extra,
        },
      ],
    });
    const all = [
      ...problems(table([{ name: 'new_a', type: 'string', maxLength: 9, validForRead: false, setIndicator: 'nope' }])),
      ...problems(
        table([
          { name: 'new_b', type: 'string', maxLength: 9, validForRead: false, setIndicator: 'new_name' },
          { name: 'new_c', type: 'string', maxLength: 9, setIndicator: 'new_d' },
          { name: 'new_d', type: 'boolean', readOnly: true },
          { name: 'new_e', type: 'string', maxLength: 9, validForRead: false, readOnly: true },
        ]),
      ),
      ...problems(table([{ name: 'new_f', type: 'string', maxLength: 9, validForRead: 'no' }])),
      ...problems(
        table([{ name: 'new_g', type: 'string', maxLength: 9, validForRead: false }], {
          alternateKeys: [{ name: 'new_gkey', columns: ['new_g'] }],
        }),
      ),
      ...problems(
        table([{ name: 'new_other', type: 'string', maxLength: 9 }], {
          primaryNameAttribute: 'new_other',
          columns: [
            { name: 'new_badid', type: 'uniqueidentifier' },
            { name: 'new_other', type: 'string', maxLength: 9, validForRead: false },
          ],
        }),
      ),
    ].join('\n');
    for (const expected of [
      "setIndicator names unknown column 'nope'",
      "setIndicator 'new_name' must be a readable, readOnly boolean column",
      "column 'new_c' has a setIndicator but is readable",
      "column 'new_e' can be neither read nor written",
      'validForRead must be true or false',
      'a column of an alternate key cannot be write-only',
      'the primary id and primary name columns cannot be write-only',
    ]) {
      assert.ok(all.includes(expected), `${expected}\n---\n${all}`);
    }
    const serviceendpoint = builtinSchema().tables.get('serviceendpoint');
    assert.deepEqual(
      [...(serviceendpoint?.columns.values() ?? [])]
        .filter((c) => !c.validForRead)
        .map((c) => [c.name, c.setIndicator])
        .sort(),
      [
        ['authvalue', 'isauthvalueset'],
        ['saskey', 'issaskeyset'],
        ['sastoken', 'issastokenset'],
      ],
    );
  });
});

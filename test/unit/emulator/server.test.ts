import assert from 'node:assert/strict';
import { parseCsdl } from '../../../src/metadata/csdl';
import type { Client } from './helpers';
import { errorOf, idFromEntityId, jsonOf, startClient } from './helpers';

describe('emulator HTTP server', function () {
  let client: Client;

  before(async function () {
    client = await startClient({ maxBodyBytes: 64 * 1024 });
  });
  after(async function () {
    await client.emulator.close();
  });

  describe('protocol', function () {
    it('binds to loopback and answers the service document with OData headers and request ids', async function () {
      assert.match(client.emulator.url, /^http:\/\/127\.0\.0\.1:\d+$/);
      const response = await client.request('GET', '');
      assert.equal(response.status, 200);
      assert.equal(response.headers.get('OData-Version'), '4.0');
      assert.match(response.headers.get('REQ_ID') ?? '', /^[0-9a-f-]{36}$/);
      assert.equal(response.headers.get('x-ms-service-request-id'), response.headers.get('REQ_ID'));
      const body = await jsonOf(response);
      const sets = (body.value as { name: string; kind: string }[]).map((v) => v.name);
      assert.ok(sets.includes('accounts') && sets.includes('opportunities'));
    });

    it('serves $metadata that the project CSDL parser loads', async function () {
      const response = await client.request('GET', '$metadata');
      assert.equal(response.status, 200);
      assert.match(response.headers.get('Content-Type') ?? '', /xml/);
      const { model, errors } = parseCsdl(await response.text());
      assert.deepEqual(errors, []);
      assert.equal(model.entitySets.get('accounts')?.entityType, 'Microsoft.Dynamics.CRM.account');
    });

    it('answers WhoAmI with the admin user, business unit and organization', async function () {
      const body = await jsonOf(await client.request('GET', 'WhoAmI'));
      assert.match(String(body['@odata.context']), /\$metadata#Microsoft\.Dynamics\.CRM\.WhoAmIResponse$/);
      assert.equal(body.UserId, client.emulator.userId);
      assert.equal(body.BusinessUnitId, client.emulator.businessUnitId);
      assert.equal(body.OrganizationId, client.emulator.organizationId);
      const user = await jsonOf(await client.request('GET', `systemusers(${client.emulator.userId})`));
      assert.equal(user.ownerid, client.emulator.userId);
      assert.equal(user._businessunitid_value, client.emulator.businessUnitId);
    });

    it('refuses missing or wrong tokens with 401 and a Bearer challenge', async function () {
      for (const authorization of [undefined, 'Bearer nope', `Bearer ${client.emulator.token}x`]) {
        const response = await fetch(
          `${client.emulator.webApi}accounts`,
          authorization === undefined ? {} : { headers: { Authorization: authorization } },
        );
        assert.equal(response.status, 401);
        assert.match(response.headers.get('WWW-Authenticate') ?? '', /^Bearer /);
        await errorOf(response);
      }
    });

    it('answers bad requests with Dataverse-shaped errors', async function () {
      const cases: [Response, number, string | RegExp][] = [
        [await client.request('GET', 'Account'), 404, '0x8006088a'],
        [await client.request('GET', 'accounts(not-a-guid)'), 400, '0x80060888'],
        [await client.request('POST', 'accounts', { rawBody: '{"name": ' }), 400, '0x80060888'],
        [await client.request('POST', 'accounts', { rawBody: '[1,2]' }), 400, '0x80060888'],
        [await client.request('DELETE', 'accounts'), 405, ''],
        [await client.request('POST', 'WhoAmI', { body: {} }), 404, ''],
        [await client.request('GET', 'accounts?$skip=1'), 400, '0x80060888'],
        [await client.request('GET', 'accounts?foo=1'), 400, '0x80060888'],
        [await client.request('GET', 'accounts(00000000-0000-0000-0000-000000000001)'), 404, '0x80040217'],
        [
          await client.request('POST', 'accounts', { rawBody: JSON.stringify({ name: 'x'.repeat(70 * 1024) }) }),
          413,
          /0x/,
        ],
      ];
      for (const [response, status, code] of cases) {
        assert.equal(response.status, status, response.url);
        const error = await errorOf(response);
        if (typeof code === 'string') assert.equal(error.code, code, response.url);
        else assert.match(error.code, code);
      }
      assert.equal((await client.request('GET', 'WhoAmI')).status, 200, 'still answering');
    });
  });

  describe('create, retrieve, update, delete', function () {
    it('creates with 204 + OData-EntityId and keeps system columns', async function () {
      const response = await client.request('POST', 'accounts', {
        body: { name: 'Contoso', revenue: 5000, creditonhold: false, industrycode: 1 },
      });
      assert.equal(response.status, 204);
      const id = idFromEntityId(response);
      assert.equal(response.headers.get('OData-EntityId'), `${client.emulator.webApi}accounts(${id})`);
      const got = await client.request('GET', `accounts(${id})`);
      assert.equal(got.status, 200);
      const body = await jsonOf(got);
      assert.equal(body['@odata.context'], `${client.emulator.webApi}$metadata#accounts/$entity`);
      assert.match(String(body['@odata.etag']), /^W\/"\d+"$/);
      assert.equal(got.headers.get('ETag'), body['@odata.etag']);
      assert.equal(body.name, 'Contoso');
      assert.equal(body.accountid, id);
      assert.equal(body.revenue, 5000);
      assert.equal(body.revenue_base, 5000);
      assert.equal(body.creditonhold, false);
      assert.equal(body.statecode, 0);
      assert.equal(body.statuscode, 1);
      assert.equal(body._ownerid_value, client.emulator.userId);
      assert.equal(body._owninguser_value, client.emulator.userId);
      assert.equal(body._owningbusinessunit_value, client.emulator.businessUnitId);
      assert.equal(body._createdby_value, client.emulator.userId);
      assert.match(String(body.createdon), /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
      assert.equal(typeof body.versionnumber, 'number');
      assert.equal(typeof body._transactioncurrencyid_value, 'string');
    });

    it('creates with 201 + body for return=representation, and accepts a client-supplied key', async function () {
      const id = '11111111-2222-4333-8444-555555555555';
      const response = await client.request('POST', 'contacts', {
        body: {
          contactid: id,
          firstname: 'Rafel',
          lastname: 'Shillo',
          birthdate: '1990-04-01',
          '@odata.type': 'Microsoft.Dynamics.CRM.contact',
        },
        headers: { Prefer: 'return=representation' },
      });
      assert.equal(response.status, 201);
      assert.equal(response.headers.get('Preference-Applied'), 'return=representation');
      const body = await jsonOf(response);
      assert.equal(body.contactid, id);
      assert.equal(body.fullname, 'Rafel Shillo');
      assert.equal(body.birthdate, '1990-04-01');
      const again = await client.request('POST', 'contacts', { body: { contactid: id, lastname: 'Again' } });
      assert.equal(again.status, 412);
    });

    it('updates only the given columns, bumps the ETag and honours If-Match', async function () {
      const id = idFromEntityId(
        await client.request('POST', 'accounts', { body: { name: 'Before', telephone1: '555-0100' } }),
      );
      const before = await jsonOf(await client.request('GET', `accounts(${id})`));
      const patch = await client.request('PATCH', `accounts(${id})`, {
        body: { name: 'After' },
        headers: { 'If-Match': String(before['@odata.etag']) },
      });
      assert.equal(patch.status, 204);
      const after = await jsonOf(await client.request('GET', `accounts(${id})`));
      assert.equal(after.name, 'After');
      assert.equal(after.telephone1, '555-0100');
      assert.notEqual(after['@odata.etag'], before['@odata.etag']);
      const stale = await client.request('PATCH', `accounts(${id})`, {
        body: { name: 'Stale' },
        headers: { 'If-Match': String(before['@odata.etag']) },
      });
      assert.equal(stale.status, 412);
      assert.equal((await errorOf(stale)).code, '0x80060882');
      const staleDelete = await client.request('DELETE', `accounts(${id})`, {
        headers: { 'If-Match': String(before['@odata.etag']) },
      });
      assert.equal(staleDelete.status, 412);
      const representation = await client.request('PATCH', `accounts(${id})`, {
        body: { name: 'Shown' },
        headers: { Prefer: 'return=representation' },
      });
      assert.equal(representation.status, 200);
      assert.equal((await jsonOf(representation)).name, 'Shown');
    });

    it('upserts: PATCH to a missing key creates; If-Match: * and If-None-Match: * limit it', async function () {
      const id = 'aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee';
      const blocked = await client.request('PATCH', `accounts(${id})`, {
        body: { name: 'No' },
        headers: { 'If-Match': '*' },
      });
      assert.equal(blocked.status, 404);
      assert.equal((await errorOf(blocked)).code, '0x80040217');
      const created = await client.request('PATCH', `accounts(${id})`, { body: { name: 'Upserted' } });
      assert.equal(created.status, 204);
      assert.equal(idFromEntityId(created), id);
      const noUpdate = await client.request('PATCH', `accounts(${id})`, {
        body: { name: 'Again' },
        headers: { 'If-None-Match': '*' },
      });
      assert.equal(noUpdate.status, 412);
      const updated = await client.request('PATCH', `accounts(${id})`, {
        body: { name: 'Updated' },
        headers: { 'If-Match': '*' },
      });
      assert.equal(updated.status, 204);
      assert.equal((await jsonOf(await client.request('GET', `accounts(${id})`))).name, 'Updated');
    });

    it('retrieves and upserts by alternate key', async function () {
      await client.request('POST', 'accounts', { body: { name: 'Keyed', accountnumber: 'AK-1' } });
      const got = await client.request('GET', "accounts(accountnumber='AK-1')");
      assert.equal(got.status, 200);
      assert.equal((await jsonOf(got)).name, 'Keyed');
      const duplicate = await client.request('POST', 'accounts', { body: { name: 'Clash', accountnumber: 'AK-1' } });
      assert.equal(duplicate.status, 412);
      assert.equal((await errorOf(duplicate)).code, '0x80060892');
      const upsert = await client.request('PATCH', "accounts(accountnumber='AK-2')", { body: { name: 'By key' } });
      assert.equal(upsert.status, 204);
      assert.equal((await jsonOf(await client.request('GET', "accounts(accountnumber='AK-2')"))).name, 'By key');
    });

    it('binds lookups with relative and absolute @odata.bind, and clears them with null', async function () {
      const contact = idFromEntityId(await client.request('POST', 'contacts', { body: { lastname: 'Bound' } }));
      const relative = idFromEntityId(
        await client.request('POST', 'accounts', {
          body: { name: 'Rel', 'primarycontactid@odata.bind': `contacts(${contact})` },
        }),
      );
      const absolute = idFromEntityId(
        await client.request('POST', 'accounts', {
          body: { name: 'Abs', 'primarycontactid@odata.bind': `${client.emulator.webApi}contacts(${contact})` },
        }),
      );
      for (const id of [relative, absolute]) {
        assert.equal((await jsonOf(await client.request('GET', `accounts(${id})`)))._primarycontactid_value, contact);
      }
      const polymorphic = idFromEntityId(
        await client.request('POST', 'contacts', {
          body: { lastname: 'Child', 'parentcustomerid_account@odata.bind': `/accounts(${relative})` },
        }),
      );
      assert.equal(
        (await jsonOf(await client.request('GET', `contacts(${polymorphic})`)))._parentcustomerid_value,
        relative,
      );
      await client.request('PATCH', `accounts(${relative})`, { body: { 'primarycontactid@odata.bind': null } });
      assert.equal((await jsonOf(await client.request('GET', `accounts(${relative})`)))._primarycontactid_value, null);
      const missing = await client.request('POST', 'accounts', {
        body: { name: 'X', 'primarycontactid@odata.bind': '/contacts(00000000-0000-0000-0000-000000000009)' },
      });
      assert.equal(missing.status, 404);
      const wrongTable = await client.request('POST', 'accounts', {
        body: { name: 'X', 'primarycontactid@odata.bind': `/accounts(${relative})` },
      });
      assert.equal(wrongTable.status, 400);
    });

    it('validates: unknown column, wrong type, too long, out of range, required', async function () {
      const cases: [string, unknown, string, RegExp][] = [
        [
          'accounts',
          { name: 'x', nosuchcolumn: 1 },
          '0x80060888',
          /The property 'nosuchcolumn' does not exist on type 'Microsoft\.Dynamics\.CRM\.account'/,
        ],
        ['accounts', { name: 42 }, '0x80060888', /Cannot convert the literal '42' to the expected type 'Edm\.String'/],
        ['accounts', { numberofemployees: 'many' }, '0x80060888', /Edm\.Int32/],
        ['accounts', { creditonhold: 'yes' }, '0x80060888', /Edm\.Boolean/],
        ['accounts', { lastusedincampaign: 'yesterday' }, '0x80060888', /Edm\.DateTimeOffset/],
        [
          'tasks',
          { subject: 's'.repeat(201) },
          '0x80044331',
          /The length of the 'subject' attribute of the 'task' entity exceeded the maximum allowed length of '200'/,
        ],
        ['accounts', { industrycode: 999 }, '0x8004431a', /outside the valid range/],
        [
          'accounts',
          { _primarycontactid_value: '00000000-0000-0000-0000-000000000001' },
          '0x80060888',
          /Use Navigation properties instead/,
        ],
        ['teams', { description: 'no name' }, '0x80040203', /'name' attribute of the 'team' entity is required/],
      ];
      for (const [set, body, code, message] of cases) {
        const response = await client.request('POST', set, { body });
        assert.equal(response.status, 400, JSON.stringify(body));
        const error = await errorOf(response);
        assert.equal(error.code, code, JSON.stringify(body));
        assert.match(error.message, message);
      }
    });

    it('reads, writes and clears a single property', async function () {
      const id = idFromEntityId(await client.request('POST', 'contacts', { body: { lastname: 'Prop' } }));
      assert.equal(
        (await client.request('PUT', `contacts(${id})/telephone1`, { body: { value: '555-0105' } })).status,
        204,
      );
      const body = await jsonOf(await client.request('GET', `contacts(${id})/telephone1`));
      assert.deepEqual(body, {
        '@odata.context': `${client.emulator.webApi}$metadata#contacts(${id})/telephone1`,
        value: '555-0105',
      });
      assert.equal((await client.request('DELETE', `contacts(${id})/telephone1`)).status, 204);
      assert.equal((await jsonOf(await client.request('GET', `contacts(${id})/telephone1`))).value, null);
    });

    it('deletes, clearing lookups that pointed at the record', async function () {
      const contact = idFromEntityId(await client.request('POST', 'contacts', { body: { lastname: 'Gone' } }));
      const account = idFromEntityId(
        await client.request('POST', 'accounts', {
          body: { name: 'Keeps', 'primarycontactid@odata.bind': `/contacts(${contact})` },
        }),
      );
      assert.equal((await client.request('DELETE', `contacts(${contact})`)).status, 204);
      assert.equal((await client.request('GET', `contacts(${contact})`)).status, 404);
      assert.equal((await client.request('DELETE', `contacts(${contact})`)).status, 404);
      assert.equal((await jsonOf(await client.request('GET', `accounts(${account})`)))._primarycontactid_value, null);
    });

    it('associates and disassociates 1:N and N:N with $ref, and deep-inserts related records', async function () {
      const deep = await client.request('POST', 'accounts', {
        body: {
          name: 'Fourth Coffee',
          primarycontactid: {
            firstname: 'Susie',
            lastname: 'Curtis',
            Contact_Tasks: [{ subject: 'Sign invoice' }, { subject: 'Setup display' }],
          },
        },
      });
      assert.equal(deep.status, 204);
      const account = await jsonOf(await client.request('GET', `accounts(${idFromEntityId(deep)})`));
      const contactId = String(account._primarycontactid_value);
      const tasks = await jsonOf(await client.request('GET', `contacts(${contactId})/Contact_Tasks`));
      assert.deepEqual((tasks.value as { subject: string }[]).map((t) => t.subject).sort(), [
        'Setup display',
        'Sign invoice',
      ]);

      const other = idFromEntityId(await client.request('POST', 'contacts', { body: { lastname: 'Linked' } }));
      const link = await client.request(
        'POST',
        `accounts(${String(account.accountid)})/contact_customer_accounts/$ref`,
        { body: { '@odata.id': `${client.emulator.webApi}contacts(${other})` } },
      );
      assert.equal(link.status, 204);
      const related = await jsonOf(
        await client.request('GET', `accounts(${String(account.accountid)})/contact_customer_accounts`),
      );
      assert.deepEqual(
        (related.value as { contactid: string }[]).map((c) => c.contactid),
        [other],
      );
      assert.equal(
        (
          await client.request(
            'DELETE',
            `accounts(${String(account.accountid)})/contact_customer_accounts(${other})/$ref`,
          )
        ).status,
        204,
      );
      assert.equal(
        (
          (
            await jsonOf(
              await client.request('GET', `accounts(${String(account.accountid)})/contact_customer_accounts`),
            )
          ).value as unknown[]
        ).length,
        0,
      );

      const team = idFromEntityId(
        await client.request('POST', 'teams', {
          body: { name: 'Owners', 'businessunitid@odata.bind': `/businessunits(${client.emulator.businessUnitId})` },
        }),
      );
      const user = client.emulator.userId;
      assert.equal(
        (
          await client.request('POST', `systemusers(${user})/teammembership_association/$ref`, {
            body: { '@odata.id': `teams(${team})` },
          })
        ).status,
        204,
      );
      const members = await jsonOf(await client.request('GET', `teams(${team})/teammembership_association`));
      assert.deepEqual(
        (members.value as { systemuserid: string }[]).map((u) => u.systemuserid),
        [user],
      );
      assert.equal(
        (
          await client.request(
            'DELETE',
            `systemusers(${user})/teammembership_association/$ref?$id=${client.emulator.webApi}teams(${team})`,
          )
        ).status,
        204,
      );
      assert.equal(
        ((await jsonOf(await client.request('GET', `teams(${team})/teammembership_association`))).value as unknown[])
          .length,
        0,
      );
    });
  });

  describe('collections', function () {
    it('pages with odata.maxpagesize, a cookie $skiptoken and Preference-Applied, visiting every row once', async function () {
      const paging = await startClient({ seedAccounts: 23 });
      try {
        const seen = new Set<string>();
        let url: string | undefined = `${paging.emulator.webApi}accounts`;
        let pages = 0;
        while (url !== undefined) {
          const response = await paging.request('GET', url, { headers: { Prefer: 'odata.maxpagesize=5' } });
          assert.equal(response.status, 200);
          assert.equal(response.headers.get('Preference-Applied'), 'odata.maxpagesize=5');
          const body = await jsonOf(response);
          for (const row of body.value as { accountid: string }[]) {
            assert.ok(!seen.has(row.accountid), 'no row twice');
            seen.add(row.accountid);
          }
          const next = body['@odata.nextLink'];
          assert.ok(next === undefined || typeof next === 'string');
          if (next !== undefined)
            assert.match(decodeURIComponent(next), /\$skiptoken=<cookie pagenumber="\d+" pagingcookie="/);
          url = next;
          pages += 1;
        }
        assert.equal(seen.size, 23);
        assert.equal(pages, 5);
        const count = await paging.request('GET', 'accounts/$count');
        assert.equal(await count.text(), '23');
      } finally {
        await paging.emulator.close();
      }
    });
  });
});

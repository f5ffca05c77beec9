/**
 * Records on a real organization's schema (the emulator started from a snapshot of ../shared/fixtures): activities
 * through `activitypointers`, polymorphic lookups, N:N relationships through their intersect table, over HTTP.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadSnapshot } from '../../../src/emulator/schema/snapshot';
import type { Client } from './helpers';
import { errorOf, idFromEntityId, jsonOf, startClient } from './helpers';
import { writeRealSnapshot } from './schema/fixtureSnapshot';

const TABLES = [
  'account',
  'contact',
  'lead',
  'opportunity',
  'incident',
  'task',
  'email',
  'phonecall',
  'appointment',
  'accountleads',
  'processstage',
  'connectionrole',
  'connectionroleassociation',
  'campaign',
  'webresource',
];

describe('emulator records on a real org schema (activities, polymorphic lookups, N:N)', function () {
  let folder: string;
  let client: Client;

  before(async function () {
    this.timeout(120_000);
    folder = writeRealSnapshot(mkdtempSync(join(tmpdir(), 'dvw-real-records-')), TABLES);
    client = await startClient({ schema: loadSnapshot(folder), seed: 'none' });
  });
  after(async function () {
    await client.emulator.close();
    rmSync(folder, { recursive: true, force: true });
  });

  async function create(set: string, body: Record<string, unknown>): Promise<string> {
    const response = await client.request('POST', set, { body });
    assert.equal(response.status, 204, `POST ${set}: ${await response.clone().text()}`);
    return idFromEntityId(response);
  }

  async function get(path: string): Promise<Record<string, unknown>> {
    const response = await client.request('GET', path, {
      headers: { Prefer: 'odata.include-annotations="*"' },
    });
    assert.equal(response.status, 200, `GET ${path}: ${await response.clone().text()}`);
    return jsonOf(response);
  }

  function values(body: Record<string, unknown>): Record<string, unknown>[] {
    return body.value as Record<string, unknown>[];
  }

  // https://learn.microsoft.com/power-apps/developer/data-platform/reference/entities/activitypointer (messages:
  // Retrieve and RetrieveMultiple) and https://learn.microsoft.com/power-apps/developer/data-platform/activity-entities
  describe('activitypointers answers for every activity type (Activity (ActivityPointer) table reference)', function () {
    let accountId: string;
    const ids: Record<string, string> = {};

    before(async function () {
      accountId = await create('accounts', { name: 'Regarding account' });
      ids.task = await create('tasks', {
        subject: 'Call back',
        'regardingobjectid_account_task@odata.bind': `/accounts(${accountId})`,
      });
      ids.email = await create('emails', { subject: 'Quote sent' });
      ids.phonecall = await create('phonecalls', { subject: 'Follow up' });
      ids.appointment = await create('appointments', {
        subject: 'Annual review',
        'regardingobjectid_account_appointment@odata.bind': `/accounts(${accountId})`,
      });
    });

    it('lists each activity with activitytypecode and the common columns, with $filter, $orderby, $count and paging', async function () {
      const all = await get('activitypointers?$select=subject,activitytypecode&$orderby=subject asc&$count=true');
      assert.equal(all['@odata.count'], 4);
      assert.deepEqual(
        values(all).map((r) => [r.subject, r.activitytypecode, r.activityid]),
        [
          ['Annual review', 'appointment', ids.appointment],
          ['Call back', 'task', ids.task],
          ['Follow up', 'phonecall', ids.phonecall],
          ['Quote sent', 'email', ids.email],
        ],
      );
      const emails = await get("activitypointers?$select=subject&$filter=activitytypecode eq 'email'");
      assert.deepEqual(
        values(emails).map((r) => r.subject),
        ['Quote sent'],
      );
      const first = await client.request('GET', 'activitypointers?$select=subject&$orderby=subject desc', {
        headers: { Prefer: 'odata.maxpagesize=3' },
      });
      const page = await jsonOf(first);
      assert.equal(values(page).length, 3);
      const next = page['@odata.nextLink'];
      assert.equal(typeof next, 'string');
      const rest = await jsonOf(
        await client.request('GET', String(next), { headers: { Prefer: 'odata.maxpagesize=3' } }),
      );
      assert.deepEqual(
        values(rest).map((r) => r.subject),
        ['Annual review'],
      );
    });

    it('reads one activity by key, its regarding lookup annotated, the same row its own set reads', async function () {
      const pointer = await get(
        `activitypointers(${ids.task})?$select=subject,activitytypecode,_regardingobjectid_value`,
      );
      assert.equal(pointer.subject, 'Call back');
      assert.equal(pointer.activitytypecode, 'task');
      assert.equal(pointer._regardingobjectid_value, accountId);
      assert.equal(pointer['_regardingobjectid_value@Microsoft.Dynamics.CRM.lookuplogicalname'], 'account');
      const task = await get(`tasks(${ids.task})?$select=subject,activitytypecode`);
      assert.equal(task.activitytypecode, 'task');
      assert.equal(task['@odata.etag'], pointer['@odata.etag'], 'one version for the activity and its pointer row');
      const expanded = await get(
        `activitypointers(${ids.appointment})?$select=subject&$expand=regardingobjectid_account($select=name)`,
      );
      assert.deepEqual((expanded.regardingobjectid_account as Record<string, unknown>).name, 'Regarding account');
      const related = await get(`accounts(${accountId})/Account_ActivityPointers?$select=subject&$orderby=subject`);
      assert.deepEqual(
        values(related).map((r) => r.subject),
        ['Annual review', 'Call back'],
      );
    });

    it('an update through the own set shows in activitypointers; activitytypecode is the server’s', async function () {
      const response = await client.request('PATCH', `phonecalls(${ids.phonecall})`, {
        body: { subject: 'Follow up twice', activitytypecode: 'email' },
      });
      assert.equal(response.status, 204);
      const pointer = await get(`activitypointers(${ids.phonecall})?$select=subject,activitytypecode`);
      assert.deepEqual([pointer.subject, pointer.activitytypecode], ['Follow up twice', 'phonecall']);
    });

    it('the 1:1 link of an activity to its pointer row navigates and expands both ways (loader gap: activityid_activitypointer)', async function () {
      const link = await get(`tasks(${ids.task})/activityid_activitypointer?$select=activitytypecode`);
      assert.equal(link.activitytypecode, 'task');
      assert.equal(link.activityid, ids.task);
      const expanded = await get(
        `emails(${ids.email})?$select=subject&$expand=activityid_activitypointer($select=subject)`,
      );
      assert.equal((expanded.activityid_activitypointer as Record<string, unknown>).subject, 'Quote sent');
      const back = await get(
        `activitypointers(${ids.email})?$select=subject&$expand=activity_pointer_email($select=subject)`,
      );
      assert.deepEqual(
        (back.activity_pointer_email as Record<string, unknown>[]).map((r) => r.activityid),
        [ids.email],
      );
      const none = await get(`activitypointers(${ids.email})/activity_pointer_task`);
      assert.deepEqual(values(none), []);
      const refused = await client.request('PATCH', `emails(${ids.email})`, {
        body: { 'activityid_activitypointer@odata.bind': `/activitypointers(${ids.task})` },
      });
      assert.equal(refused.status, 400);
    });

    it('refuses Create, Update and Delete through activitypointers, as Dataverse (its messages are Retrieve and RetrieveMultiple)', async function () {
      for (const [method, path, body] of [
        ['POST', 'activitypointers', { subject: 'x' }],
        ['PATCH', `activitypointers(${ids.email})`, { subject: 'x' }],
        ['DELETE', `activitypointers(${ids.email})`, undefined],
      ] as const) {
        const response = await client.request(method, path, body === undefined ? {} : { body });
        assert.equal(response.status, 400, `${method} ${path}`);
        const error = await errorOf(response);
        assert.match(
          error.message,
          /^The '(Create|Update|Delete)' method does not support entities of type 'activitypointer'/,
        );
      }
      assert.equal((await get(`emails(${ids.email})?$select=subject`)).subject, 'Quote sent', 'nothing changed');
    });

    it('deleting an activity through its own set removes it from activitypointers; deleting the regarding record clears it on both', async function () {
      const gone = await create('tasks', { subject: 'Short lived' });
      assert.equal((await client.request('DELETE', `tasks(${gone})`)).status, 204);
      assert.equal((await client.request('GET', `activitypointers(${gone})`)).status, 404);
      const other = await create('accounts', { name: 'Deleted soon' });
      const regarding = await create('tasks', {
        subject: 'Regarding a deleted account',
        'regardingobjectid_account_task@odata.bind': `/accounts(${other})`,
      });
      assert.equal((await client.request('DELETE', `accounts(${other})`)).status, 204);
      const pointer = await get(`activitypointers(${regarding})?$select=_regardingobjectid_value`);
      const task = await get(`tasks(${regarding})?$select=_regardingobjectid_value`);
      assert.equal(pointer._regardingobjectid_value, null);
      assert.equal(task._regardingobjectid_value, null);
      assert.equal(pointer['@odata.etag'], task['@odata.etag']);
    });
  });

  // https://learn.microsoft.com/power-apps/developer/data-platform/webapi/create-entity-web-api#associate-table-rows-on-create
  // (polymorphic lookups bind the typed navigation: customerid_account, parentcustomerid_contact) and
  // https://learn.microsoft.com/power-apps/developer/data-platform/webapi/web-api-navigation-properties#multi-table-lookups
  describe('polymorphic lookups: customer, owner and regarding', function () {
    let accountId: string;
    let teamId: string;

    before(async function () {
      teamId = await create('teams', { name: 'Sales team' });
      accountId = await create('accounts', { name: 'Owned by a team', 'ownerid@odata.bind': `/teams(${teamId})` });
    });

    it('binds ownerid to a team or a user (both principal), answering _ownerid_value with its lookuplogicalname and the owning columns', async function () {
      const account = await get(`accounts(${accountId})?$select=_ownerid_value,_owningteam_value,_owninguser_value`);
      assert.equal(account._ownerid_value, teamId);
      assert.equal(account['_ownerid_value@Microsoft.Dynamics.CRM.lookuplogicalname'], 'team');
      assert.equal(account['_ownerid_value@Microsoft.Dynamics.CRM.associatednavigationproperty'], 'ownerid');
      assert.equal(account._owningteam_value, teamId);
      assert.equal(account._owninguser_value, null);
      const expanded = await get(`accounts(${accountId})?$select=name&$expand=ownerid,owningteam($select=name)`);
      assert.equal((expanded.ownerid as Record<string, unknown>).teamid, teamId);
      assert.equal((expanded.owningteam as Record<string, unknown>).name, 'Sales team');
      const owned = await get(`teams(${teamId})/owner_accounts?$select=name`);
      assert.deepEqual(
        values(owned).map((r) => r.accountid),
        [accountId],
      );
      const userId = client.emulator.userId;
      const response = await client.request('PATCH', `accounts(${accountId})`, {
        body: { 'ownerid@odata.bind': `/systemusers(${userId})` },
      });
      assert.equal(response.status, 204);
      const mine = await get(`accounts(${accountId})?$select=_ownerid_value,_owninguser_value,_owningteam_value`);
      assert.deepEqual(
        [mine._ownerid_value, mine['_ownerid_value@Microsoft.Dynamics.CRM.lookuplogicalname'], mine._owninguser_value],
        [userId, 'systemuser', userId],
      );
      assert.equal(mine._owningteam_value, null);
    });

    // https://learn.microsoft.com/power-apps/developer/data-platform/webapi/web-api-entitytypes (principal: the
    // base type of systemuser and team, whose key ownerid they inherit)
    it('systemusers and teams answer principal’s ownerid (their own id) in $select and $filter', async function () {
      const team = await get(`teams?$select=name,ownerid&$filter=ownerid eq ${teamId}`);
      assert.deepEqual(
        values(team).map((r) => [r.name, r.ownerid, r.teamid]),
        [['Sales team', teamId, teamId]],
      );
      const userId = client.emulator.userId;
      const user = await get(`systemusers(${userId})?$select=ownerid`);
      assert.equal(user.ownerid, userId);
      const ignored = await client.request('PATCH', `teams(${teamId})`, {
        body: { ownerid: '00000000-0000-0000-0000-000000000001' },
      });
      assert.equal(ignored.status, 204);
      assert.equal((await get(`teams(${teamId})?$select=ownerid`)).ownerid, teamId, 'the server keeps it');
    });

    it('binds a customer lookup to an account or a contact through its typed navigation; each expands only its own target', async function () {
      const parent = await create('contacts', { lastname: 'Parent' });
      const child = await create('contacts', {
        lastname: 'Child',
        'parentcustomerid_contact@odata.bind': `/contacts(${parent})`,
      });
      const both = '$expand=parentcustomerid_account($select=name),parentcustomerid_contact($select=lastname)';
      let read = await get(`contacts(${child})?$select=_parentcustomerid_value&${both}`);
      assert.equal(read['_parentcustomerid_value@Microsoft.Dynamics.CRM.lookuplogicalname'], 'contact');
      assert.equal(
        read['_parentcustomerid_value@Microsoft.Dynamics.CRM.associatednavigationproperty'],
        'parentcustomerid_contact',
      );
      assert.equal((read.parentcustomerid_contact as Record<string, unknown>).lastname, 'Parent');
      assert.equal(read.parentcustomerid_account, null);
      const patch = await client.request('PATCH', `contacts(${child})`, {
        body: { 'parentcustomerid_account@odata.bind': `accounts(${accountId})` },
      });
      assert.equal(patch.status, 204);
      read = await get(`contacts(${child})?$select=_parentcustomerid_value&${both}`);
      assert.equal(read._parentcustomerid_value, accountId);
      assert.equal(read['_parentcustomerid_value@Microsoft.Dynamics.CRM.lookuplogicalname'], 'account');
      assert.equal((read.parentcustomerid_account as Record<string, unknown>).name, 'Owned by a team');
      assert.equal(read.parentcustomerid_contact, null, 'setting one typed navigation clears the other');
      const filtered = await get(
        "contacts?$select=lastname&$filter=parentcustomerid_account/name eq 'Owned by a team'",
      );
      assert.deepEqual(
        values(filtered).map((r) => r.lastname),
        ['Child'],
      );
      assert.deepEqual(
        values(await get(`accounts(${accountId})/contact_customer_accounts?$select=lastname`)).map((r) => r.lastname),
        ['Child'],
      );
      assert.deepEqual(values(await get(`contacts(${parent})/contact_customer_contacts`)), []);
    });

    it('binds regardingobjectid through the activity’s typed navigation (regardingobjectid_contact_task)', async function () {
      const contact = await create('contacts', { lastname: 'Regarding' });
      const task = await create('tasks', {
        subject: 'Regarding a contact',
        'regardingobjectid_contact_task@odata.bind': `/contacts(${contact})`,
      });
      const read = await get(
        `tasks(${task})?$select=_regardingobjectid_value&$expand=regardingobjectid_contact_task($select=lastname),regardingobjectid_account_task($select=name)`,
      );
      assert.equal(read['_regardingobjectid_value@Microsoft.Dynamics.CRM.lookuplogicalname'], 'contact');
      assert.equal((read.regardingobjectid_contact_task as Record<string, unknown>).lastname, 'Regarding');
      assert.equal(read.regardingobjectid_account_task, null);
    });

    it('refuses a bind to a target the lookup does not allow, with Dataverse’s 400', async function () {
      const contact = await create('contacts', { lastname: 'Not an owner' });
      for (const [body, message] of [
        [
          { lastname: 'x', 'parentcustomerid_lead@odata.bind': `/accounts(${accountId})` },
          /^An undeclared property 'parentcustomerid_lead' which only has property annotations in the payload/,
        ],
        [{ lastname: 'x', 'parentcustomerid_account@odata.bind': `/contacts(${contact})` }, /cannot be bound to/],
        [{ lastname: 'x', 'ownerid@odata.bind': `/contacts(${contact})` }, /cannot be bound to 'ownerid'/],
      ] as const) {
        const response = await client.request('POST', 'contacts', { body });
        assert.equal(response.status, 400, JSON.stringify(body));
        assert.match((await errorOf(response)).message, message);
      }
    });
  });

  // https://learn.microsoft.com/power-apps/developer/data-platform/webapi/associate-disassociate-entities-using-web-api
  describe('N:N associate and disassociate through the intersect table (accountleads_association)', function () {
    let accountId: string;
    let leads: string[];

    before(async function () {
      accountId = await create('accounts', { name: 'N:N account' });
      leads = [await create('leads', { lastname: 'Lead one' }), await create('leads', { lastname: 'Lead two' })];
    });

    it('associates from either side with POST …/$ref, expands both sides, and reads the pairs in accountleadscollection', async function () {
      let response = await client.request('POST', `accounts(${accountId})/accountleads_association/$ref`, {
        body: { '@odata.id': `${client.emulator.webApi}leads(${leads[0]})` },
      });
      assert.equal(response.status, 204);
      response = await client.request('POST', `leads(${leads[1]})/accountleads_association/$ref`, {
        body: { '@odata.id': `accounts(${accountId})` },
      });
      assert.equal(response.status, 204);
      const account = await get(
        `accounts(${accountId})?$select=name&$expand=accountleads_association($select=lastname;$orderby=lastname)`,
      );
      assert.deepEqual(
        (account.accountleads_association as Record<string, unknown>[]).map((r) => r.lastname),
        ['Lead one', 'Lead two'],
      );
      const lead = await get(`leads(${leads[0]})?$select=lastname&$expand=accountleads_association($select=name)`);
      assert.deepEqual(
        (lead.accountleads_association as Record<string, unknown>[]).map((r) => r.accountid),
        [accountId],
      );
      const pairs = await get(`accountleadscollection?$select=accountid,leadid&$filter=accountid eq ${accountId}`);
      assert.deepEqual(
        values(pairs)
          .map((r) => r.leadid)
          .sort(),
        [...leads].sort(),
      );
      assert.ok(values(pairs).every((r) => typeof r.accountleadid === 'string' && r.accountleadid !== r.leadid));
      const any = await get(`accounts?$select=name&$filter=accountleads_association/any(l:l/lastname eq 'Lead two')`);
      assert.deepEqual(
        values(any).map((r) => r.accountid),
        [accountId],
      );
    });

    it('disassociates with DELETE …(<id>)/$ref and with …/$ref?$id=, from the pairs too', async function () {
      let response = await client.request(
        'DELETE',
        `accounts(${accountId})/accountleads_association(${leads[0]})/$ref`,
      );
      assert.equal(response.status, 204);
      response = await client.request(
        'DELETE',
        `accounts(${accountId})/accountleads_association/$ref?$id=${encodeURIComponent(`${client.emulator.webApi}leads(${leads[1]})`)}`,
      );
      assert.equal(response.status, 204);
      assert.deepEqual(values(await get(`accounts(${accountId})/accountleads_association`)), []);
      assert.deepEqual(values(await get(`accountleadscollection?$filter=accountid eq ${accountId}`)), []);
    });

    it('the intersect table is read only; deleting a side removes its pairs', async function () {
      const refused = await client.request('POST', 'accountleadscollection', {
        body: { accountid: accountId, leadid: leads[0] },
      });
      assert.equal(refused.status, 400);
      const response = await client.request('POST', `accounts(${accountId})/accountleads_association/$ref`, {
        body: { '@odata.id': `leads(${leads[0]})` },
      });
      assert.equal(response.status, 204);
      assert.equal((await client.request('DELETE', `leads(${leads[0]})`)).status, 204);
      assert.deepEqual(values(await get(`accountleadscollection?$filter=accountid eq ${accountId}`)), []);
    });

    it('refuses a reference to a table the relationship does not join', async function () {
      const contact = await create('contacts', { lastname: 'Not a lead' });
      const response = await client.request('POST', `accounts(${accountId})/accountleads_association/$ref`, {
        body: { '@odata.id': `contacts(${contact})` },
      });
      assert.equal(response.status, 400);
    });
  });

  // A self-referential N:N relationship has two navigations on its one table, partners of each other: `<name>` on the
  // referencing side (Entity1) and `<name>_referenced` on the referenced side (Entity2), as the real $metadata declares
  // them. Associating A with B through A's `<name>` lists B there and A under B's `<name>_referenced`
  // (https://learn.microsoft.com/power-apps/developer/data-platform/webapi/associate-disassociate-entities-using-web-api,
  // https://learn.microsoft.com/power-apps/developer/data-platform/reference/entities/connectionroleassociation:
  // its columns connectionroleid and associatedconnectionroleid).
  describe('self-referential N:N relationships answer both directions (connectionroleassociation_association)', function () {
    const NAV = 'connectionroleassociation_association';
    const REFERENCED = `${NAV}_referenced`;
    let roles: Record<'a' | 'b' | 'c', string>;

    before(async function () {
      roles = {
        a: await create('connectionroles', { name: 'Role A' }),
        b: await create('connectionroles', { name: 'Role B' }),
        c: await create('connectionroles', { name: 'Role C' }),
      };
    });

    async function names(path: string): Promise<string[]> {
      return values(await get(path))
        .map((r) => String(r.name))
        .sort();
    }

    it('associates from either navigation; each side lists the other, the pairs are rows of connectionroleassociations', async function () {
      let response = await client.request('POST', `connectionroles(${roles.a})/${NAV}/$ref`, {
        body: { '@odata.id': `connectionroles(${roles.b})` },
      });
      assert.equal(response.status, 204, await response.clone().text());
      // From the referenced side: C's `_referenced` gets A, so A's `<name>` lists C.
      response = await client.request('POST', `connectionroles(${roles.c})/${REFERENCED}/$ref`, {
        body: { '@odata.id': `${client.emulator.webApi}connectionroles(${roles.a})` },
      });
      assert.equal(response.status, 204, await response.clone().text());

      assert.deepEqual(await names(`connectionroles(${roles.a})/${NAV}?$select=name`), ['Role B', 'Role C']);
      assert.deepEqual(await names(`connectionroles(${roles.a})/${REFERENCED}?$select=name`), []);
      assert.deepEqual(await names(`connectionroles(${roles.b})/${REFERENCED}?$select=name`), ['Role A']);
      assert.deepEqual(await names(`connectionroles(${roles.b})/${NAV}?$select=name`), []);
      const count = await client.request('GET', `connectionroles(${roles.b})/${REFERENCED}/$count`);
      assert.equal(await count.text(), '1');

      const b = await get(
        `connectionroles(${roles.b})?$select=name&$expand=${NAV}($select=name),${REFERENCED}($select=name)`,
      );
      assert.deepEqual(b[NAV], []);
      assert.deepEqual(
        (b[REFERENCED] as Record<string, unknown>[]).map((r) => r.connectionroleid),
        [roles.a],
      );

      const pairs = await get(
        `connectionroleassociations?$select=connectionroleid,associatedconnectionroleid&$filter=connectionroleid eq ${roles.a}`,
      );
      assert.deepEqual(
        values(pairs)
          .map((r) => r.associatedconnectionroleid)
          .sort(),
        [roles.b, roles.c].sort(),
      );

      const referencedByA = await get(
        `connectionroles?$select=name&$filter=${REFERENCED}/any(r:r/name eq 'Role A')&$orderby=name`,
      );
      assert.deepEqual(
        values(referencedByA).map((r) => r.name),
        ['Role B', 'Role C'],
      );
      const referencing = await get(`connectionroles?$select=name&$filter=${NAV}/any(r:r/name eq 'Role C')`);
      assert.deepEqual(
        values(referencing).map((r) => r.name),
        ['Role A'],
      );
      const none = await get(
        `connectionroles?$select=name&$filter=${REFERENCED}/all(r:r/name eq 'Role B') and startswith(name,'Role ')&$orderby=name`,
      );
      assert.deepEqual(
        values(none).map((r) => r.name),
        ['Role A'],
        'all() over an empty navigation is true; only A, which no role lists, and no B-only referencer',
      );
    });

    it('the relationship’s definition names both navigations and the intersect columns', async function () {
      const answer = await get(
        "EntityDefinitions(LogicalName='connectionrole')/ManyToManyRelationships?$select=SchemaName,IntersectEntityName,Entity1IntersectAttribute,Entity2IntersectAttribute,Entity1NavigationPropertyName,Entity2NavigationPropertyName",
      );
      const found = values(answer).find((r) => r.SchemaName === NAV);
      assert.deepEqual(
        [
          found?.IntersectEntityName,
          found?.Entity1IntersectAttribute,
          found?.Entity2IntersectAttribute,
          found?.Entity1NavigationPropertyName,
          found?.Entity2NavigationPropertyName,
        ],
        ['connectionroleassociation', 'connectionroleid', 'associatedconnectionroleid', NAV, REFERENCED],
      );
    });

    it('disassociates from either navigation, with …(<id>)/$ref and …/$ref?$id=', async function () {
      let response = await client.request('DELETE', `connectionroles(${roles.b})/${REFERENCED}(${roles.a})/$ref`);
      assert.equal(response.status, 204, await response.clone().text());
      assert.deepEqual(await names(`connectionroles(${roles.a})/${NAV}?$select=name`), ['Role C']);
      response = await client.request(
        'DELETE',
        `connectionroles(${roles.a})/${NAV}/$ref?$id=${encodeURIComponent(`${client.emulator.webApi}connectionroles(${roles.c})`)}`,
      );
      assert.equal(response.status, 204, await response.clone().text());
      assert.deepEqual(await names(`connectionroles(${roles.c})/${REFERENCED}?$select=name`), []);
      assert.deepEqual(values(await get(`connectionroleassociations?$filter=connectionroleid eq ${roles.a}`)), []);
    });

    it('deleting a role removes its pairs on both sides', async function () {
      const response = await client.request('POST', `connectionroles(${roles.b})/${NAV}/$ref`, {
        body: { '@odata.id': `connectionroles(${roles.c})` },
      });
      assert.equal(response.status, 204);
      assert.equal((await client.request('DELETE', `connectionroles(${roles.c})`)).status, 204);
      assert.deepEqual(await names(`connectionroles(${roles.b})/${NAV}?$select=name`), []);
      assert.deepEqual(values(await get(`connectionroleassociations?$filter=connectionroleid eq ${roles.b}`)), []);
    });

    it('a self-referential relationship without an intersect table in the snapshot still answers both directions (campaigncampaign_association)', async function () {
      const parent = await create('campaigns', { name: 'Parent campaign' });
      const child = await create('campaigns', { name: 'Child campaign' });
      const response = await client.request('POST', `campaigns(${parent})/campaigncampaign_association/$ref`, {
        body: { '@odata.id': `campaigns(${child})` },
      });
      assert.equal(response.status, 204, await response.clone().text());
      assert.deepEqual(await names(`campaigns(${parent})/campaigncampaign_association?$select=name`), [
        'Child campaign',
      ]);
      assert.deepEqual(await names(`campaigns(${child})/campaigncampaign_association_referenced?$select=name`), [
        'Parent campaign',
      ]);
      assert.deepEqual(await names(`campaigns(${child})/campaigncampaign_association?$select=name`), []);
    });
  });

  // Properties of complex type mscrm.BooleanManagedProperty (`iscustomizable` of connectionrole, webresource, workflow,
  // savedquery…): an object {Value, CanBeChanged, ManagedPropertyLogicalName}
  // (https://learn.microsoft.com/power-apps/developer/data-platform/webapi/reference/booleanmanagedproperty); new
  // components are customizable by default (https://learn.microsoft.com/power-platform/alm/use-managed-properties);
  // queries compare `iscustomizable/Value`.
  describe('managed properties (complex type BooleanManagedProperty): iscustomizable', function () {
    const CUSTOMIZABLE = { Value: true, CanBeChanged: true, ManagedPropertyLogicalName: 'iscustomizableanddeletable' };
    let open: string;
    let locked: string;

    before(async function () {
      open = await create('connectionroles', { name: 'Managed open' });
      locked = await create('connectionroles', { name: 'Managed locked', iscustomizable: { Value: false } });
    });

    it('answers the object in GET and $select; a new record is customizable unless the request says otherwise', async function () {
      assert.deepEqual((await get(`connectionroles(${open})?$select=iscustomizable`)).iscustomizable, CUSTOMIZABLE);
      assert.deepEqual((await get(`connectionroles(${locked})`)).iscustomizable, { ...CUSTOMIZABLE, Value: false });
      // The property alone is the complex value beside its context (OData JSON Format 4.01, "Individual Property").
      const { '@odata.context': context, ...alone } = await get(`connectionroles(${open})/iscustomizable`);
      assert.match(String(context), /\$metadata#connectionroles\([^)]+\)\/iscustomizable$/);
      assert.deepEqual(alone, CUSTOMIZABLE);
      const page = await create('webresourceset', { name: 'new_/page.html', displayname: 'Page', webresourcetype: 1 });
      assert.deepEqual((await get(`webresourceset(${page})?$select=name,iscustomizable`)).iscustomizable, CUSTOMIZABLE);
    });

    it('takes {"Value": …} and CanBeChanged on update; ManagedPropertyLogicalName stays the attribute’s', async function () {
      const response = await client.request('PATCH', `connectionroles(${locked})`, {
        body: { iscustomizable: { Value: true, CanBeChanged: false, ManagedPropertyLogicalName: 'other' } },
      });
      assert.equal(response.status, 204, await response.clone().text());
      assert.deepEqual((await get(`connectionroles(${locked})?$select=iscustomizable`)).iscustomizable, {
        ...CUSTOMIZABLE,
        CanBeChanged: false,
      });
      const back = await client.request('PATCH', `connectionroles(${locked})`, {
        body: { iscustomizable: { Value: false } },
      });
      assert.equal(back.status, 204);
      assert.deepEqual((await get(`connectionroles(${locked})?$select=iscustomizable`)).iscustomizable, {
        ...CUSTOMIZABLE,
        Value: false,
      });
    });

    it('filters and sorts on iscustomizable/Value and /CanBeChanged; FetchXML compares its Value', async function () {
      const names = async (query: string): Promise<string[]> =>
        values(await get(`connectionroles?$select=name&${query}`))
          .map((r) => String(r.name))
          .filter((n) => n.startsWith('Managed '));
      assert.deepEqual(await names('$filter=iscustomizable/Value eq false'), ['Managed locked']);
      assert.deepEqual(await names('$filter=iscustomizable/Value eq true and iscustomizable/CanBeChanged eq true'), [
        'Managed open',
      ]);
      assert.deepEqual(await names('$orderby=iscustomizable/Value desc,name'), ['Managed open', 'Managed locked']);
      assert.deepEqual(
        await names(
          `$filter=iscustomizable/ManagedPropertyLogicalName eq 'iscustomizableanddeletable' and iscustomizable/Value eq false`,
        ),
        ['Managed locked'],
      );
      const fetch = `<fetch><entity name="connectionrole"><attribute name="name"/><filter><condition attribute="iscustomizable" operator="eq" value="0"/><condition attribute="name" operator="like" value="Managed %"/></filter></entity></fetch>`;
      const fetched = await get(`connectionroles?fetchXml=${encodeURIComponent(fetch)}`);
      assert.deepEqual(
        values(fetched).map((r) => r.name),
        ['Managed locked'],
      );
    });

    it('refuses a wrong shape with a Dataverse-coded 400 and keeps the record as it was', async function () {
      for (const iscustomizable of [true, 'true', [true], { Value: 'yes' }, { CanBeChanged: false }, { Valu: true }]) {
        const response = await client.request('PATCH', `connectionroles(${open})`, { body: { iscustomizable } });
        assert.equal(response.status, 400, JSON.stringify(iscustomizable));
        const error = await errorOf(response);
        assert.match(error.code, /^0x[0-9a-f]{8}$/i);
        assert.match(error.message, /iscustomizable|BooleanManagedProperty|Valu/);
      }
      assert.deepEqual((await get(`connectionroles(${open})?$select=iscustomizable`)).iscustomizable, CUSTOMIZABLE);
      const created = await client.request('POST', 'connectionroles', {
        body: { name: 'Managed refused', iscustomizable: false },
      });
      assert.equal(created.status, 400);
      assert.deepEqual(values(await get(`connectionroles?$filter=name eq 'Managed refused'`)), []);
    });

    it('refuses comparing the object itself or an unknown member, naming what to use', async function () {
      let response = await client.request('GET', 'connectionroles?$filter=iscustomizable eq true');
      assert.equal(response.status, 400);
      assert.match((await errorOf(response)).message, /iscustomizable\/Value/);
      response = await client.request('GET', 'connectionroles?$apply=groupby((iscustomizable/Value))');
      assert.equal(response.status, 400);
      response = await client.request('GET', 'connectionroles?$filter=iscustomizable/Valu eq true');
      assert.equal(response.status, 400);
      assert.match((await errorOf(response)).message, /'Valu'.*BooleanManagedProperty/);
    });
  });

  // Navigations the real $metadata declares without a `_x_value` lookup property behind them: Dataverse serves the
  // navigation (https://learn.microsoft.com/power-apps/developer/data-platform/webapi/web-api-navigation-properties).
  describe('navigations without a lookup property in $metadata (loader gap)', function () {
    it('incident.responsiblecontactid binds, navigates, expands and clears, with no _responsiblecontactid_value property', async function () {
      const account = await create('accounts', { name: 'Case customer' });
      const contact = await create('contacts', { lastname: 'Responsible' });
      const incident = await create('incidents', {
        title: 'A case',
        'customerid_account@odata.bind': `/accounts(${account})`,
        'responsiblecontactid@odata.bind': `/contacts(${contact})`,
      });
      const expanded = await get(`incidents(${incident})?$select=title&$expand=responsiblecontactid($select=lastname)`);
      assert.equal((expanded.responsiblecontactid as Record<string, unknown>).lastname, 'Responsible');
      assert.equal((await get(`incidents(${incident})/responsiblecontactid?$select=lastname`)).contactid, contact);
      const back = await get(`contacts(${contact})/contact_as_responsible_contact?$select=title`);
      assert.deepEqual(
        values(back).map((r) => r.incidentid),
        [incident],
      );
      const whole = await get(`incidents(${incident})`);
      assert.ok(!('_responsiblecontactid_value' in whole), 'the property is not in $metadata, so not in the row');
      assert.equal(
        (await client.request('GET', `incidents(${incident})?$select=_responsiblecontactid_value`)).status,
        400,
      );
      assert.equal((await client.request('DELETE', `incidents(${incident})/responsiblecontactid/$ref`)).status, 204);
      const cleared = await get(`incidents(${incident})?$select=title&$expand=responsiblecontactid($select=lastname)`);
      assert.equal(cleared.responsiblecontactid, null);
    });

    it('account.stageid_processstage stands on the plain Guid property stageid (its referential constraint)', async function () {
      const stage = await create('processstages', { stagename: 'Qualify' });
      const account = await create('accounts', {
        name: 'Staged',
        'stageid_processstage@odata.bind': `/processstages(${stage})`,
      });
      const read = await get(`accounts(${account})?$select=stageid&$expand=stageid_processstage($select=stagename)`);
      assert.equal(read.stageid, stage);
      assert.equal((read.stageid_processstage as Record<string, unknown>).stagename, 'Qualify');
    });
  });
});

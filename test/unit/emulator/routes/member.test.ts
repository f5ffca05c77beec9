import assert from 'node:assert/strict';
import type { Client } from '../helpers';
import { jsonOf, startClient } from '../helpers';

describe('emulator: what follows a record key', function () {
  this.timeout(30_000);
  let client: Client;
  let accountId: string;
  let contactId: string;
  before(async () => {
    client = await startClient({ seed: 'none' });
    const contact = await client.request('POST', 'contacts', {
      body: { firstname: 'Ada', lastname: 'Lovelace' },
      headers: { Prefer: 'return=representation' },
    });
    contactId = String((await jsonOf(contact)).contactid);
    const account = await client.request('POST', 'accounts', {
      body: { name: 'Analytical', 'primarycontactid@odata.bind': `/contacts(${contactId})` },
      headers: { Prefer: 'return=representation' },
    });
    accountId = String((await jsonOf(account)).accountid);
  });
  after(async () => {
    await client.emulator.close();
  });

  // https://learn.microsoft.com/power-apps/developer/data-platform/webapi/retrieve-related-entities-query#retrieve-related-records-by-expanding-single-valued-navigation-properties
  it('a single-valued navigation path answers the related record, with $select', async () => {
    const response = await client.request('GET', `accounts(${accountId})/primarycontactid?$select=fullname,lastname`);
    assert.equal(response.status, 200);
    const body = await jsonOf(response);
    assert.equal(body.lastname, 'Lovelace');
    assert.equal(body.contactid, contactId);
    assert.match(String(body['@odata.context']), /\$metadata#contacts\(fullname,lastname\)\/\$entity$/);
    // The lookup's value stays reachable as its property.
    const value = await jsonOf(await client.request('GET', `accounts(${accountId})/_primarycontactid_value`));
    assert.equal(value.value, contactId);
  });

  // https://learn.microsoft.com/power-apps/developer/data-platform/webapi/associate-disassociate-entities-using-web-api
  it("GET …/<single-valued navigation>/$ref answers the related record's @odata.id, 204 once cleared", async () => {
    const ref = await client.request('GET', `accounts(${accountId})/primarycontactid/$ref`);
    assert.equal(ref.status, 200);
    const body = await jsonOf(ref);
    assert.equal(body['@odata.id'], `${client.emulator.webApi}contacts(${contactId})`);
    assert.equal(body['@odata.context'], `${client.emulator.webApi}$metadata#$ref`);
    assert.equal((await client.request('DELETE', `accounts(${accountId})/primarycontactid/$ref`)).status, 204);
    assert.equal((await client.request('GET', `accounts(${accountId})/primarycontactid/$ref`)).status, 204);
    assert.equal((await client.request('GET', `accounts(${accountId})/primarycontactid`)).status, 204);
  });
});

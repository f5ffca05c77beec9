import assert from 'node:assert/strict';
import { loadMetadataFile } from '../../../../src/emulator/schema/snapshot';
import { EMULATOR_VERSION } from '../../../../src/emulator/routes/operations';
import type { Client } from '../helpers';
import { jsonOf, startClient } from '../helpers';
import { REAL_METADATA } from '../schema/fixtureSnapshot';

describe('emulator operations: functions it answers, and declared ones it does not implement', function () {
  this.timeout(60_000);
  let client: Client;
  before(async () => {
    client = await startClient({ seed: 'none' });
  });
  after(async () => {
    await client.emulator.close();
  });

  // https://learn.microsoft.com/power-apps/developer/data-platform/webapi/reference/retrieveversion
  it('answers RetrieveVersion() with RetrieveVersionResponse', async () => {
    for (const path of ['RetrieveVersion()', 'RetrieveVersion']) {
      const response = await client.request('GET', path);
      assert.equal(response.status, 200, path);
      const body = await jsonOf(response);
      assert.equal(
        body['@odata.context'],
        `${client.emulator.webApi}$metadata#Microsoft.Dynamics.CRM.RetrieveVersionResponse`,
      );
      assert.equal(body.Version, EMULATOR_VERSION);
    }
    const metadata = await (await client.request('GET', '$metadata')).text();
    assert.match(metadata, /<Function Name="RetrieveVersion">/);
    assert.match(metadata, /<FunctionImport Name="RetrieveTotalRecordCount"/);
  });

  // https://learn.microsoft.com/power-apps/developer/data-platform/webapi/reference/retrievetotalrecordcount
  it('answers RetrieveTotalRecordCount(EntityNames=[...]) with the tables and their counts, inline or by alias', async () => {
    for (const name of ['A', 'B', 'C']) await client.request('POST', 'accounts', { body: { name } });
    await client.request('POST', 'contacts', { body: { lastname: 'D' } });
    const inline = await jsonOf(
      await client.request('GET', 'RetrieveTotalRecordCount(EntityNames=["account","contact"])'),
    );
    assert.deepEqual(inline.EntityRecordCountCollection, {
      Count: 2,
      IsReadOnly: false,
      Keys: ['account', 'contact'],
      Values: [3, 1],
    });
    const aliased = await jsonOf(
      await client.request('GET', `RetrieveTotalRecordCount(EntityNames=@p1)?@p1=${encodeURIComponent('["account"]')}`),
    );
    assert.deepEqual((aliased.EntityRecordCountCollection as { Values: number[] }).Values, [3]);
    assert.equal((await client.request('GET', 'RetrieveTotalRecordCount(EntityNames=["nosuch"])')).status, 404);
    assert.equal((await client.request('GET', 'RetrieveTotalRecordCount()')).status, 400);
  });

  it('still answers 404 for a name that is neither an entity set nor a declared operation', async () => {
    const response = await client.request('GET', 'NotAnything()');
    assert.equal(response.status, 404);
  });

  it('answers a declared action or function it does not run with "not implemented" naming the emulator, never 404', async () => {
    // The real organization's $metadata declares hundreds of operations the emulator does not run.
    const real = await startClient({ seed: 'none', schema: loadMetadataFile(REAL_METADATA) });
    try {
      const created = await real.request('POST', 'incidents', {
        body: { title: 'Printer on fire' },
        headers: { Prefer: 'return=representation' },
      });
      assert.equal(created.status, 201);
      const incident = String((await jsonOf(created)).incidentid);
      for (const [method, path] of [
        ['POST', 'WinOpportunity'],
        ['GET', "RetrieveCurrentOrganization(AccessType=@p1)?@p1=Microsoft.Dynamics.CRM.EndpointAccessType'Default'"],
        ['GET', `incidents(${incident})/Microsoft.Dynamics.CRM.CalculateTotalTimeIncident()`],
      ] as const) {
        const response = await real.request(method, path, method === 'POST' ? { body: {} } : {});
        const body = (await response.json()) as { error: { code: string; message: string } };
        assert.equal(response.status, 501, path);
        assert.equal(body.error.code, '0x80040219');
        assert.match(body.error.message, /Dataverse emulator does not implement/);
      }
      assert.equal((await real.request('GET', 'RetrieveVersion()')).status, 200);
    } finally {
      await real.emulator.close();
    }
  });
});

import assert from 'node:assert/strict';
import type { RemoteExecutionContext } from '../../../src/core/remoteExecutionContext';
import { parseRemoteExecutionContext } from '../../../src/core/remoteExecutionContext';
import { staticTokenProvider, WebApiClient } from '../../../src/dataverse/webApiClient';
import { registerWebhookReceiver } from '../webhooks/webhookReceiver';
import type { Client } from './helpers';
import { errorOf, jsonOf, startClient } from './helpers';

// Request and response shapes from Microsoft Learn, "Use bulk operation messages" and "Sample: Web API Use bulk
// operations" (https://learn.microsoft.com/power-apps/developer/data-platform/bulk-operations).
const ACCOUNT = 'Microsoft.Dynamics.CRM.account';

describe('emulator: bulk operation messages (CreateMultiple, UpdateMultiple, UpsertMultiple, DeleteMultiple)', () => {
  let c: Client;
  beforeEach(async () => {
    c = await startClient({ seed: 'none' });
  });
  afterEach(() => c.emulator.close());

  const names = async (): Promise<string[]> => {
    const body = await jsonOf(await c.request('GET', 'accounts?$select=name&$orderby=name'));
    return (body.value as { name: string }[]).map((row) => row.name);
  };

  it('CreateMultiple answers 200 with the CreateMultipleResponse Ids, one per target, in order, and x-ms-dop-hint', async () => {
    const response = await c.request('POST', 'accounts/Microsoft.Dynamics.CRM.CreateMultiple', {
      body: { Targets: [1, 2, 3].map((i) => ({ '@odata.type': ACCOUNT, name: `Bulk ${i}` })) },
    });
    assert.equal(response.status, 200);
    assert.match(response.headers.get('x-ms-dop-hint') ?? '', /^\d+$/);
    const body = await jsonOf(response);
    assert.equal(body['@odata.context'], `${c.emulator.webApi}$metadata#Microsoft.Dynamics.CRM.CreateMultipleResponse`);
    const ids = body.Ids as string[];
    assert.equal(ids.length, 3);
    for (const [i, id] of ids.entries()) {
      const row = await jsonOf(await c.request('GET', `accounts(${id})?$select=name`));
      assert.equal(row.name, `Bulk ${i + 1}`);
    }
  });

  it('refuses a target without @odata.type, or of another table, and writes nothing', async () => {
    const missing = await c.request('POST', 'accounts/Microsoft.Dynamics.CRM.CreateMultiple', {
      body: { Targets: [{ '@odata.type': ACCOUNT, name: 'A' }, { name: 'B' }] },
    });
    assert.equal(missing.status, 400);
    assert.match((await errorOf(missing)).message, /Targets\[1\] has no '@odata\.type'/);
    const other = await c.request('POST', 'accounts/Microsoft.Dynamics.CRM.CreateMultiple', {
      body: { Targets: [{ '@odata.type': 'Microsoft.Dynamics.CRM.contact', lastname: 'C' }] },
    });
    assert.equal(other.status, 400);
    const noTargets = await c.request('POST', 'accounts/Microsoft.Dynamics.CRM.CreateMultiple', { body: {} });
    assert.equal(noTargets.status, 400);
    assert.deepEqual(await names(), []);
  });

  it('is all or nothing: one failing record fails the request, naming its index, and nothing is written', async () => {
    const response = await c.request('POST', 'accounts/Microsoft.Dynamics.CRM.CreateMultiple', {
      body: {
        Targets: [
          { '@odata.type': ACCOUNT, name: 'Fine' },
          { '@odata.type': ACCOUNT, name: 'x'.repeat(161) },
          { '@odata.type': ACCOUNT, name: 'Also fine' },
        ],
      },
    });
    assert.equal(response.status, 400);
    const error = await errorOf(response);
    assert.match(error.message, /\(Targets\[1\]\)$/);
    assert.deepEqual(await names(), []);
  });

  it('UpdateMultiple answers 204 and updates by primary key; a missing record fails it all', async () => {
    const created = await jsonOf(
      await c.request('POST', 'accounts/Microsoft.Dynamics.CRM.CreateMultiple', {
        body: {
          Targets: [
            { '@odata.type': ACCOUNT, name: 'One' },
            { '@odata.type': ACCOUNT, name: 'Two' },
          ],
        },
      }),
    );
    const [one, two] = created.Ids as string[];
    const updated = await c.request('POST', 'accounts/Microsoft.Dynamics.CRM.UpdateMultiple', {
      body: {
        Targets: [
          { '@odata.type': ACCOUNT, accountid: one, name: 'One!' },
          { '@odata.type': ACCOUNT, accountid: two, name: 'Two!' },
        ],
      },
    });
    assert.equal(updated.status, 204);
    assert.deepEqual(await names(), ['One!', 'Two!']);
    const missing = await c.request('POST', 'accounts/Microsoft.Dynamics.CRM.UpdateMultiple', {
      body: {
        Targets: [
          { '@odata.type': ACCOUNT, accountid: one, name: 'Changed' },
          { '@odata.type': ACCOUNT, accountid: '00000000-0000-0000-0000-00000000000a', name: 'Nobody' },
        ],
      },
    });
    assert.equal(missing.status, 404);
    assert.match((await errorOf(missing)).message, /Does Not Exist \(Targets\[1\]\)/);
    assert.deepEqual(await names(), ['One!', 'Two!'], 'the first target was rolled back too');
  });

  it('UpsertMultiple answers 204, keyed by @odata.id with an alternate key or the primary key: creates, then updates', async () => {
    const id = '5d3b7b0e-4a51-4a43-9a1f-4c1b0e7f2c11';
    const targets = (suffix: string): Record<string, unknown>[] => [
      {
        '@odata.type': ACCOUNT,
        '@odata.id': "accounts(accountnumber='ACC-1')",
        accountnumber: 'ACC-1',
        name: `By key${suffix}`,
      },
      { '@odata.type': ACCOUNT, '@odata.id': `accounts(${id})`, name: `By id${suffix}` },
    ];
    const first = await c.request('POST', 'accounts/Microsoft.Dynamics.CRM.UpsertMultiple', {
      body: { Targets: targets('') },
    });
    assert.equal(first.status, 204);
    const second = await c.request('POST', 'accounts/Microsoft.Dynamics.CRM.UpsertMultiple', {
      body: { Targets: targets(' again') },
    });
    assert.equal(second.status, 204);
    assert.deepEqual(await names(), ['By id again', 'By key again'], 'updated in place, no copies');
    const byId = await jsonOf(await c.request('GET', `accounts(${id})?$select=name`));
    assert.equal(byId.name, 'By id again');
    const noKey = await c.request('POST', 'accounts/Microsoft.Dynamics.CRM.UpsertMultiple', {
      body: { Targets: [{ '@odata.type': ACCOUNT, name: 'No key' }] },
    });
    assert.equal(noKey.status, 400);
  });

  it("CreateMultiple works out owners' business units and row versions once per request, with the same results as record by record", async () => {
    const unit = (
      await jsonOf(
        await c.request('POST', 'businessunits', {
          body: { name: 'Sales', 'parentbusinessunitid@odata.bind': `/businessunits(${c.emulator.businessUnitId})` },
          headers: { Prefer: 'return=representation' },
        }),
      )
    ).businessunitid as string;
    const team = (
      await jsonOf(
        await c.request('POST', 'teams', {
          body: { name: 'Sales team', 'businessunitid@odata.bind': `/businessunits(${unit})` },
          headers: { Prefer: 'return=representation' },
        }),
      )
    ).teamid as string;
    const byTeam = { 'ownerid@odata.bind': `/teams(${team})` };
    const response = await c.request('POST', 'accounts/Microsoft.Dynamics.CRM.CreateMultiple', {
      body: {
        Targets: [
          { name: 'Mine 1' },
          { name: 'Team 1', ...byTeam },
          { name: 'Mine 2' },
          { name: 'Team 2', ...byTeam },
        ].map((target) => ({ '@odata.type': ACCOUNT, ...target })),
      },
    });
    const ids = (await jsonOf(response)).Ids as string[];
    const rows = await Promise.all(
      ids.map(async (id) => jsonOf(await c.request('GET', `accounts(${id})?$select=name,_owningbusinessunit_value`))),
    );
    assert.deepEqual(
      rows.map((row) => [row.name, row._owningbusinessunit_value]),
      [
        ['Mine 1', c.emulator.businessUnitId],
        ['Team 1', unit],
        ['Mine 2', c.emulator.businessUnitId],
        ['Team 2', unit],
      ],
    );
    // One organization-wide counter: the request's records take consecutive versions, and the next write a later one.
    const versions = rows.map((row) => Number(/^W\/"(\d+)"$/.exec(String(row['@odata.etag']))?.[1]));
    assert.deepEqual(
      versions,
      versions.map((_, i) => (versions[0] ?? 0) + i),
    );
    const later = await jsonOf(
      await c.request('POST', 'accounts', { body: { name: 'Later' }, headers: { Prefer: 'return=representation' } }),
    );
    assert.ok(Number(/^W\/"(\d+)"$/.exec(String(later['@odata.etag']))?.[1]) > Math.max(...versions));
  });

  it('UpsertMultiple: a key repeated in one request updates the record its first target made, a deep-inserted record too', async () => {
    const repeated = '3e1c2b4a-5d6e-4f70-8a9b-0c1d2e3f4a5b';
    const parent = '4f2d3c5b-6e7f-4081-9bac-1d2e3f4a5b6c';
    const response = await c.request('POST', 'accounts/Microsoft.Dynamics.CRM.UpsertMultiple', {
      body: {
        Targets: [
          { '@odata.type': ACCOUNT, '@odata.id': `accounts(${repeated})`, name: 'First' },
          // A deep insert: this target also creates the account `parent`, which a later target names by its key.
          {
            '@odata.type': ACCOUNT,
            '@odata.id': 'accounts(6a4f5e7d-8091-42a3-bdce-3f4a5b6c7d8e)',
            name: 'Child',
            parentaccountid: { accountid: parent, name: 'Parent' },
          },
          { '@odata.type': ACCOUNT, '@odata.id': `accounts(${repeated})`, name: 'Second' },
          { '@odata.type': ACCOUNT, '@odata.id': `accounts(${parent})`, name: 'Parent, updated' },
        ],
      },
    });
    assert.equal(response.status, 204, JSON.stringify(await response.clone().text()));
    assert.deepEqual(await names(), ['Child', 'Parent, updated', 'Second'], 'no copies');
  });

  it('DeleteMultiple is for elastic tables only: a standard table refuses it; GET is not allowed', async () => {
    const response = await c.request('POST', 'accounts/Microsoft.Dynamics.CRM.DeleteMultiple', {
      body: { Targets: [{ '@odata.type': ACCOUNT, accountid: '00000000-0000-0000-0000-00000000000a' }] },
    });
    assert.equal(response.status, 400);
    assert.match((await errorOf(response)).message, /elastic tables only/);
    assert.equal((await c.request('GET', 'accounts/Microsoft.Dynamics.CRM.CreateMultiple')).status, 405);
  });

  it('lists CreateMultiple, UpdateMultiple and UpsertMultiple as sdkmessagefilters of standard tables', async () => {
    const filter = encodeURIComponent("sdkmessageid/name eq 'UpsertMultiple' and primaryobjecttypecode eq 'account'");
    const found = await jsonOf(await c.request('GET', `sdkmessagefilters?$select=name&$filter=${filter}`));
    assert.deepEqual(
      (found.value as { name: string }[]).map((f) => f.name),
      ['UpsertMultiple account'],
    );
  });

  /** Registers `steps` on one webhook (a local HTTP server) and answers the contexts it receives. */
  const withHook = async (
    steps: { name: string; message: string; mode: 'sync' | 'async' }[],
    work: (received: RemoteExecutionContext[], bodies: string[]) => Promise<void>,
  ): Promise<void> => {
    const received: RemoteExecutionContext[] = [];
    const client = new WebApiClient({ url: c.emulator.url, tokenProvider: staticTokenProvider(c.emulator.token) });
    const hook = await registerWebhookReceiver(
      client,
      steps.map((step) => ({ ...step, table: 'account', stage: 'post-operation' })),
      (body) => received.push(parseRemoteExecutionContext(body)),
    );
    try {
      await work(received, hook.bodies);
    } finally {
      await hook.close();
    }
  };

  const targetsOf = (context: RemoteExecutionContext): { id: string; name: unknown }[] => {
    const targets = context.inputParameters?.find((p) => p.key === 'Targets')?.value;
    if (targets === null || typeof targets !== 'object' || targets.kind !== 'entityCollection') return [];
    return targets.entities.map((e) => ({ id: e.id, name: e.attributes.find((a) => a.key === 'name')?.value }));
  };

  // "Write plug-ins for CreateMultiple and UpdateMultiple" (Microsoft Learn): the multiple messages have `Targets`,
  // an EntityCollection, and the pipeline merges the steps of the single and the multiple message.
  it('delivers a step on CreateMultiple once per request with every record in Targets and the Ids; steps on Create still fire once per record', async () => {
    await withHook(
      [
        { name: 'bulk created', message: 'CreateMultiple', mode: 'sync' },
        { name: 'created', message: 'Create', mode: 'async' },
      ],
      async (received) => {
        const response = await c.request('POST', 'accounts/Microsoft.Dynamics.CRM.CreateMultiple', {
          body: { Targets: [1, 2, 3].map((i) => ({ '@odata.type': ACCOUNT, name: `Hooked ${i}` })) },
        });
        assert.equal(response.status, 200);
        const ids = (await jsonOf(response)).Ids as string[];
        await c.emulator.webhooks.idle();
        const bulk = received.filter((context) => context.messageName === 'CreateMultiple');
        assert.equal(bulk.length, 1);
        const [context] = bulk;
        assert.ok(context !== undefined);
        assert.deepEqual(targetsOf(context), [
          { id: ids[0], name: 'Hooked 1' },
          { id: ids[1], name: 'Hooked 2' },
          { id: ids[2], name: 'Hooked 3' },
        ]);
        const output = context.outputParameters?.find((p) => p.key === 'Ids')?.value;
        assert.deepEqual(output, { kind: 'list', items: ids });
        assert.equal(context.primaryEntityName, 'account');
        const singles = received.filter((c) => c.messageName === 'Create');
        assert.deepEqual(singles.map((c) => c.primaryEntityId).sort(), [...ids].sort());
      },
    );
  });

  it('delivers a step on UpdateMultiple for an UpdateMultiple, and for a single PATCH with that one record in Targets', async () => {
    await withHook([{ name: 'bulk updated', message: 'UpdateMultiple', mode: 'async' }], async (received) => {
      const ids = (
        await jsonOf(
          await c.request('POST', 'accounts/Microsoft.Dynamics.CRM.CreateMultiple', {
            body: { Targets: [1, 2].map((i) => ({ '@odata.type': ACCOUNT, name: `Before ${i}` })) },
          }),
        )
      ).Ids as string[];
      const update = await c.request('POST', 'accounts/Microsoft.Dynamics.CRM.UpdateMultiple', {
        body: { Targets: ids.map((id, i) => ({ '@odata.type': ACCOUNT, accountid: id, name: `After ${i + 1}` })) },
      });
      assert.equal(update.status, 204);
      const patch = await c.request('PATCH', `accounts(${ids[0] ?? ''})`, { body: { name: 'Patched' } });
      assert.equal(patch.status, 204);
      await c.emulator.webhooks.idle();
      assert.deepEqual(
        received.map((context) => [context.messageName, targetsOf(context)]),
        [
          [
            'UpdateMultiple',
            [
              { id: ids[0], name: 'After 1' },
              { id: ids[1], name: 'After 2' },
            ],
          ],
          ['UpdateMultiple', [{ id: ids[0], name: 'Patched' }]],
        ],
      );
    });
  });

  it('delivers a step on UpsertMultiple once, with the created and the updated records in Targets', async () => {
    await withHook([{ name: 'bulk upserted', message: 'UpsertMultiple', mode: 'async' }], async (received) => {
      const id = '5a4f5e2c-6f6e-4b8a-9a0d-0f1b2c3d4e5f';
      await c.request('POST', 'accounts', { body: { accountid: id, name: 'Existing' } });
      const other = '6b5f6e3d-7a7f-4c9b-8b1e-1a2b3c4d5e6f';
      const upsert = await c.request('POST', 'accounts/Microsoft.Dynamics.CRM.UpsertMultiple', {
        body: {
          Targets: [
            { '@odata.type': ACCOUNT, '@odata.id': `accounts(${id})`, name: 'Updated' },
            { '@odata.type': ACCOUNT, '@odata.id': `accounts(${other})`, name: 'Created' },
          ],
        },
      });
      assert.equal(upsert.status, 204);
      await c.emulator.webhooks.idle();
      assert.deepEqual(
        received.map((context) => [context.messageName, targetsOf(context)]),
        [
          [
            'UpsertMultiple',
            [
              { id, name: 'Updated' },
              { id: other, name: 'Created' },
            ],
          ],
        ],
      );
    });
  });

  // "Write plug-ins for CreateMultiple and UpdateMultiple" (Microsoft Learn), entity images: a bulk message's images
  // are an array of EntityImageCollection, one per entity of Targets and in its order
  // (IPluginExecutionContext4.PreEntityImagesCollection and PostEntityImagesCollection).
  it('gives a step on UpdateMultiple or UpsertMultiple its images per record of Targets, in Targets order', async () => {
    await withHook(
      [
        { name: 'bulk updated', message: 'UpdateMultiple', mode: 'async' },
        { name: 'bulk upserted', message: 'UpsertMultiple', mode: 'async' },
      ],
      async (received, bodies) => {
        // Registered as rows: the registration file refuses images on UpsertMultiple, which is not among Dataverse's
        // image messages; the emulator delivers whatever images a step's rows hold.
        for (const step of ['bulk updated', 'bulk upserted']) {
          const filter = encodeURIComponent(`name eq '${step}'`);
          const found = await jsonOf(
            await c.request('GET', `sdkmessageprocessingsteps?$select=name&$filter=${filter}`),
          );
          const stepId = (found.value as { sdkmessageprocessingstepid: string }[])[0]?.sdkmessageprocessingstepid ?? '';
          for (const [name, imagetype, attributes] of [
            ['Before', 0, 'name'],
            ['After', 1, 'name,telephone1'],
          ] as const) {
            const image = await c.request('POST', 'sdkmessageprocessingstepimages', {
              body: {
                name,
                entityalias: name,
                imagetype,
                attributes,
                messagepropertyname: 'Targets',
                'sdkmessageprocessingstepid@odata.bind': `/sdkmessageprocessingsteps(${stepId})`,
              },
            });
            assert.equal(image.status, 204);
          }
        }
        const ids = (
          await jsonOf(
            await c.request('POST', 'accounts/Microsoft.Dynamics.CRM.CreateMultiple', {
              body: { Targets: [1, 2].map((i) => ({ '@odata.type': ACCOUNT, name: `Old ${i}` })) },
            }),
          )
        ).Ids as string[];
        const [first = '', second = ''] = ids;
        const update = await c.request('POST', 'accounts/Microsoft.Dynamics.CRM.UpdateMultiple', {
          body: {
            Targets: [
              { '@odata.type': ACCOUNT, accountid: second, name: 'New 2', telephone1: '555-0102' },
              { '@odata.type': ACCOUNT, accountid: first, name: 'New 1' },
            ],
          },
        });
        assert.equal(update.status, 204);
        const fresh = '7c6a7f4e-8b80-4dac-9c2f-2b3c4d5e6f70';
        const upsert = await c.request('POST', 'accounts/Microsoft.Dynamics.CRM.UpsertMultiple', {
          body: {
            Targets: [
              { '@odata.type': ACCOUNT, '@odata.id': `accounts(${fresh})`, name: 'Fresh' },
              { '@odata.type': ACCOUNT, '@odata.id': `accounts(${first})`, name: 'Newer 1' },
            ],
          },
        });
        assert.equal(upsert.status, 204);
        await c.emulator.webhooks.idle();
        const imageValues = (
          list: readonly {
            key: string;
            value: { id: string; attributes: readonly { key: string; value: unknown }[] };
          }[],
        ) =>
          list.map((image) => [
            image.key,
            image.value.id,
            Object.fromEntries(image.value.attributes.map((a) => [a.key, a.value])),
          ]);
        const contextOf = (message: string): RemoteExecutionContext => {
          const found = received.find((context) => context.messageName === message);
          assert.ok(found !== undefined, `a context for ${message}`);
          return found;
        };
        const updated = contextOf('UpdateMultiple');
        assert.deepEqual(updated.preEntityImagesCollection?.map(imageValues), [
          [['Before', second, { accountid: second, name: 'Old 2' }]],
          [['Before', first, { accountid: first, name: 'Old 1' }]],
        ]);
        assert.deepEqual(updated.postEntityImagesCollection?.map(imageValues), [
          [['After', second, { accountid: second, name: 'New 2', telephone1: '555-0102' }]],
          [['After', first, { accountid: first, name: 'New 1' }]],
        ]);
        assert.deepEqual([updated.preEntityImages, updated.postEntityImages], [[], []]);
        const upserted = contextOf('UpsertMultiple');
        assert.deepEqual(
          upserted.preEntityImagesCollection?.map(imageValues),
          [[], [['Before', first, { accountid: first, name: 'New 1' }]]],
          'a created record has no pre-image',
        );
        assert.deepEqual(upserted.postEntityImagesCollection?.map(imageValues), [
          [['After', fresh, { accountid: fresh, name: 'Fresh' }]],
          [['After', first, { accountid: first, name: 'Newer 1' }]],
        ]);
        // On the wire: DataContract member names, in member order, beside the single message's (empty) lists.
        const wire = bodies.find((body) => body.includes('"MessageName":"UpdateMultiple"')) ?? '';
        assert.match(wire, /"PostEntityImages":\[\],"PostEntityImagesCollection":\[\[\{"key":"After"/);
        assert.match(wire, /"PreEntityImages":\[\],"PreEntityImagesCollection":\[\[\{"key":"Before"/);
      },
    );
  });

  it('runs steps on Create once per record, as Dataverse runs them for CreateMultiple', async () => {
    const client = new WebApiClient({ url: c.emulator.url, tokenProvider: staticTokenProvider(c.emulator.token) });
    const hook = await registerWebhookReceiver(client, [
      { name: 'created', message: 'Create', table: 'account', stage: 'post-operation', mode: 'async' },
    ]);
    try {
      const response = await c.request('POST', 'accounts/Microsoft.Dynamics.CRM.CreateMultiple', {
        body: { Targets: [1, 2, 3].map((i) => ({ '@odata.type': ACCOUNT, name: `Hooked ${i}` })) },
      });
      const ids = (await jsonOf(response)).Ids as string[];
      await c.emulator.webhooks.idle();
      const contexts = hook.bodies.map((body) => parseRemoteExecutionContext(body));
      assert.deepEqual(
        contexts.map((context) => context.messageName),
        ['Create', 'Create', 'Create'],
      );
      assert.deepEqual(contexts.map((context) => context.primaryEntityId).sort(), [...ids].sort());
    } finally {
      await hook.close();
    }
  });
});

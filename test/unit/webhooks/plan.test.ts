import * as assert from 'node:assert/strict';
import fc from 'fast-check';
import { isWorkbenchError } from '../../../src/core/errors';
import { applyPlan, computePlan, formatPlan, isEmptyPlan } from '../../../src/webhooks/plan';
import type { Plan, PlanExecutor, PlanOperation, RegisteredState } from '../../../src/webhooks/plan';
import { validateRegistrationFile } from '../../../src/webhooks/registrationFile';
import type { RegistrationFile, SecretRef } from '../../../src/webhooks/registrationFile';
import { createSnapshotExecutor } from '../../../src/webhooks/snapshotExecutor';
import { sampleFile } from './helpers';

const EMPTY: RegisteredState = { serviceEndpoints: [], steps: [], images: [], sdkMessages: [], sdkMessageFilters: [] };
const SECRETS: Record<string, string> = { REVENUE_HOOK_KEY: 'hook-key-value', SB_KEY: 'sb-key-value', X_KEY: 'x<&"' };
const resolveSecret = (ref: SecretRef): string | undefined => SECRETS[ref.env];

function file(json: unknown): RegistrationFile {
  const result = validateRegistrationFile(json);
  assert.ok(result.ok, JSON.stringify(result));
  return result.file;
}

async function applied(desired: RegistrationFile, state: RegisteredState, prune = false): Promise<RegisteredState> {
  const executor = createSnapshotExecutor(state);
  await applyPlan(computePlan(desired, state, { prune }), executor, { resolveSecret });
  return executor.state();
}

function sampleAuth(): unknown {
  return { kind: 'WebhookKey', value: { env: 'REVENUE_HOOK_KEY' } };
}

function summary(plan: Plan): string[] {
  return plan.operations.map((op) => `${op.action} ${op.label}`);
}

/** Records the requests an apply sends, answering like the Web API would. */
function recordingExecutor(): PlanExecutor & { calls: { method: string; entitySet?: string; body?: unknown }[] } {
  const calls: { method: string; entitySet?: string; body?: unknown }[] = [];
  let id = 0;
  const next = (): string => `00000000-0000-0000-0000-${String(++id).padStart(12, '0')}`;
  return {
    calls,
    create: (entitySet, body) => {
      calls.push({ method: 'create', entitySet, body });
      return Promise.resolve(next());
    },
    update: (entitySet, _id, body) => {
      calls.push({ method: 'update', entitySet, body });
      return Promise.resolve();
    },
    delete: (entitySet) => {
      calls.push({ method: 'delete', entitySet });
      return Promise.resolve();
    },
    findMessageId: () => Promise.resolve(next()),
    findMessageFilterId: () => Promise.resolve(next()),
  };
}

describe('webhook registration plan', () => {
  it('creates endpoints, then steps, then images, with Dataverse column values', () => {
    const plan = computePlan(file(sampleFile()), EMPTY);
    assert.deepEqual(summary(plan), [
      'create endpoint RevenueHook (webhook)',
      'create endpoint Orders (serviceBusQueue)',
      'create step RevenueHook / Revenue changed (Update of account)',
      'create step Orders / New order (Create of salesorder)',
      'create image RevenueHook / Revenue changed / PreImage',
    ]);
    const [hook, queue, step, , image] = plan.operations;
    assert.deepEqual(hook?.action === 'create' && hook.columns, {
      name: 'RevenueHook',
      description: null,
      contract: 8,
      url: 'https://hooks.example.test/api/revenue',
      authtype: 4,
    });
    assert.deepEqual(hook?.action === 'create' && hook.entitySet === 'serviceendpoints' && hook.secrets, [
      { column: 'authvalue', source: { kind: 'secret', ref: { env: 'REVENUE_HOOK_KEY' } } },
    ]);
    assert.deepEqual(queue?.action === 'create' && queue.columns, {
      name: 'Orders',
      description: null,
      contract: 2,
      solutionnamespace: 'contoso',
      namespaceaddress: 'sb://contoso.servicebus.windows.net/',
      namespaceformat: 2,
      path: 'orders',
      messageformat: 2,
      authtype: 2,
      saskeyname: 'RootManageSharedAccessKey',
    });
    assert.ok(step?.action === 'create' && step.entitySet === 'sdkmessageprocessingsteps');
    assert.deepEqual(step.columns, {
      name: 'Revenue changed',
      description: null,
      stage: 40,
      mode: 1,
      rank: 1,
      filteringattributes: 'revenue',
      asyncautodelete: true,
      supporteddeployment: 0,
      statecode: 0,
      statuscode: 1,
    });
    assert.deepEqual(step.endpoint, { ref: 'endpoint:RevenueHook' });
    assert.ok(image?.action === 'create' && image.entitySet === 'sdkmessageprocessingstepimages');
    assert.deepEqual(image.columns, {
      name: 'PreImage',
      entityalias: 'PreImage',
      imagetype: 0,
      messagepropertyname: 'Target',
      attributes: 'revenue,name',
      description: null,
    });
    // The plan is data that may be printed or saved: it names secrets, never holds them.
    assert.doesNotMatch(JSON.stringify(plan), /hook-key-value|sb-key-value/);
  });

  it('applies through the executor with Web API bodies, and a second plan is empty', async () => {
    const desired = file(sampleFile());
    const executor = recordingExecutor();
    const result = await applyPlan(computePlan(desired, EMPTY), executor, { resolveSecret });
    assert.deepEqual([result.created, result.updated, result.deleted], [5, 0, 0]);
    assert.equal((executor.calls[0]?.body as Record<string, unknown>).authvalue, 'hook-key-value');
    assert.equal((executor.calls[1]?.body as Record<string, unknown>).saskey, 'sb-key-value');
    const stepBody = executor.calls[2]?.body as Record<string, unknown>;
    assert.equal(
      stepBody['eventhandler_serviceendpoint@odata.bind'],
      `/serviceendpoints(${result.ids['endpoint:RevenueHook']})`,
    );
    assert.match(String(stepBody['sdkmessageid@odata.bind']), /^\/sdkmessages\([0-9a-f-]{36}\)$/);
    assert.match(String(stepBody['sdkmessagefilterid@odata.bind']), /^\/sdkmessagefilters\([0-9a-f-]{36}\)$/);
    const imageBody = executor.calls[4]?.body as Record<string, unknown>;
    assert.equal(
      imageBody['sdkmessageprocessingstepid@odata.bind'],
      `/sdkmessageprocessingsteps(${result.ids['step:RevenueHook / Revenue changed']})`,
    );

    const state = await applied(desired, EMPTY);
    assert.equal(state.serviceEndpoints.length, 2);
    assert.equal(state.steps.length, 2);
    assert.equal(state.images.length, 1);
    assert.ok(isEmptyPlan(computePlan(desired, state)));
    assert.equal(formatPlan(computePlan(desired, state)), 'No changes: the registrations match the file.\n');
  });

  it('updates only the columns that changed', async () => {
    const state = await applied(file(sampleFile()), EMPTY);
    const changed = structuredClone(sampleFile()) as { endpoints: { steps: Record<string, unknown>[] }[] };
    Object.assign(changed.endpoints[0]!.steps[0]!, {
      rank: 2,
      filteringAttributes: ['revenue', 'name'],
      enabled: false,
    });
    const plan = computePlan(file(changed), state);
    assert.equal(plan.operations.length, 1);
    const [update] = plan.operations;
    assert.ok(update?.action === 'update');
    assert.equal(update.entitySet, 'sdkmessageprocessingsteps');
    assert.deepEqual(update.changes, [
      { column: 'rank', from: 1, to: 2 },
      { column: 'filteringattributes', from: 'revenue', to: 'revenue,name' },
      { column: 'statecode', from: 0, to: 1 },
      { column: 'statuscode', from: 1, to: 2 },
    ]);
    assert.deepEqual(update.secrets, []);
    assert.match(formatPlan(plan), /~ update step RevenueHook \/ Revenue changed\n {4}rank: 1 -> 2\n/);
  });

  it('treats column lists as sets, as Dataverse may reorder them', async () => {
    const state = await applied(file(sampleFile()), EMPTY);
    const reordered: RegisteredState = {
      ...state,
      images: state.images.map((image) => ({ ...image, attributes: 'name, revenue' })),
    };
    assert.ok(isEmptyPlan(computePlan(file(sampleFile()), reordered)));
  });

  // Dataverse checks an image's request property per message: "Message property name 'Target' is not valid on
  // message UpdateMultiple" (SparkleXrm issue 486); CreateMultiple takes Ids (SparkleXrm pull request 489); the
  // Plug-in Registration Tool writes Id for Create. Learn, "Register a plug-in": Target for Update and Delete,
  // EntityMoniker for SetState.
  it('writes the request property each message takes its images from, and leaves an accepted one as it is', async () => {
    const steps = [
      ['Create', 'post'],
      ['CreateMultiple', 'post'],
      ['Update', 'both'],
      ['UpdateMultiple', 'both'],
      ['Delete', 'pre'],
      ['SetState', 'pre'],
    ].map(([message, type]) => ({
      name: `${message} step`,
      message,
      table: 'account',
      stage: 'post-operation',
      images: [{ type, alias: 'Image' }],
    }));
    const desired = file({
      endpoints: [{ name: 'Hook', kind: 'webhook', url: 'https://h.example.test/', auth: sampleAuth(), steps }],
    });
    const creates = computePlan(desired, EMPTY).operations.filter(
      (op) => op.action === 'create' && op.entitySet === 'sdkmessageprocessingstepimages',
    );
    assert.deepEqual(
      creates.map((op) => [op.label, op.action === 'create' && op.columns.messagepropertyname]),
      [
        ['image Hook / Create step / Image', 'Id'],
        ['image Hook / CreateMultiple step / Image', 'Ids'],
        ['image Hook / Update step / Image', 'Target'],
        ['image Hook / UpdateMultiple step / Image', 'Targets'],
        ['image Hook / Delete step / Image', 'Target'],
        ['image Hook / SetState step / Image', 'EntityMoniker'],
      ],
    );
    const state = await applied(desired, EMPTY);
    assert.ok(isEmptyPlan(computePlan(desired, state)));
    // Learn's table names Target for Create, which earlier versions wrote: kept. Target on UpdateMultiple is not.
    const property = (step: string): string =>
      state.steps.find((s) => s.name === step)?.sdkmessageprocessingstepid ?? assert.fail(step);
    const earlier: RegisteredState = {
      ...state,
      images: state.images.map((image) =>
        image._sdkmessageprocessingstepid_value === property('Create step') ||
        image._sdkmessageprocessingstepid_value === property('UpdateMultiple step')
          ? { ...image, messagepropertyname: 'Target' }
          : image,
      ),
    };
    const plan = computePlan(desired, earlier);
    assert.deepEqual(summary(plan), ['update image Hook / UpdateMultiple step / Image']);
    assert.deepEqual(plan.operations[0]?.action === 'update' && plan.operations[0].changes, [
      { column: 'messagepropertyname', from: 'Target', to: 'Targets' },
    ]);
  });

  it('deletes steps and images the file no longer lists, leaving cascades to Dataverse', async () => {
    const state = await applied(file(sampleFile()), EMPTY);
    const fewer = structuredClone(sampleFile()) as { endpoints: { steps: unknown[] }[] };
    fewer.endpoints[1]!.steps = [];
    (fewer.endpoints[0]!.steps[0] as Record<string, unknown>).images = [];
    const plan = computePlan(file(fewer), state);
    assert.deepEqual(summary(plan), [
      'delete image RevenueHook / Revenue changed / PreImage',
      'delete step Orders / New order',
    ]);
    const after = await applied(file(fewer), state);
    assert.equal(after.images.length, 0);
    assert.equal(after.steps.length, 1);
  });

  it('leaves unlisted endpoints alone unless pruning, and prunes with their steps', async () => {
    const state = await applied(file(sampleFile()), EMPTY);
    const onlyQueue = { endpoints: [(sampleFile().endpoints as unknown[])[1]] };
    assert.ok(isEmptyPlan(computePlan(file(onlyQueue), state)));
    const plan = computePlan(file(onlyQueue), state, { prune: true });
    assert.deepEqual(summary(plan), ['delete endpoint RevenueHook']);
    assert.ok(plan.operations[0]?.action === 'delete' && plan.operations[0].cascades === 2);
    const after = await applied(file(onlyQueue), state, true);
    assert.deepEqual(
      after.serviceEndpoints.map((e) => e.name),
      ['Orders'],
    );
    assert.equal(after.steps.length, 1);
    assert.equal(after.images.length, 0);
  });

  it('replaces a step whose message or table changed, and an endpoint whose kind changed', async () => {
    const state = await applied(file(sampleFile()), EMPTY);
    const moved = structuredClone(sampleFile()) as { endpoints: Record<string, unknown>[] };
    ((moved.endpoints[0]!.steps as Record<string, unknown>[])[0] as Record<string, unknown>).table = 'contact';
    assert.deepEqual(summary(computePlan(file(moved), state)), [
      'delete step RevenueHook / Revenue changed',
      'create step RevenueHook / Revenue changed (Update of contact)',
      'create image RevenueHook / Revenue changed / PreImage',
    ]);
    const retyped = structuredClone(sampleFile()) as { endpoints: Record<string, unknown>[] };
    Object.assign(retyped.endpoints[1]!, { kind: 'serviceBusTopic' });
    assert.deepEqual(summary(computePlan(file(retyped), state)), [
      'delete endpoint Orders',
      'create endpoint Orders (serviceBusTopic)',
      'create step Orders / New order (Create of salesorder)',
    ]);
  });

  it('sends secrets again only when needed or asked', async () => {
    const state = await applied(file(sampleFile()), EMPTY);
    assert.ok(isEmptyPlan(computePlan(file(sampleFile()), state)));
    const rotate = computePlan(file(sampleFile()), state, { rotateSecrets: true });
    assert.deepEqual(
      rotate.operations.map((op) => (op.action === 'update' ? op.secrets.map((s) => s.column) : [])),
      [['authvalue'], ['saskey']],
    );
    const unset: RegisteredState = {
      ...state,
      serviceEndpoints: state.serviceEndpoints.map((e) => ({ ...e, isauthvalueset: false })),
    };
    assert.deepEqual(summary(computePlan(file(sampleFile()), unset)), ['update endpoint RevenueHook']);

    const headers = structuredClone(sampleFile()) as { endpoints: Record<string, unknown>[] };
    headers.endpoints[0]!.auth = { kind: 'HttpHeader', values: { 'x-key': { env: 'X_KEY' } } };
    const plan = computePlan(file(headers), state);
    const [update] = plan.operations;
    assert.ok(update?.action === 'update');
    assert.deepEqual(update.changes, [{ column: 'authtype', from: 4, to: 5 }]);
    const executor = recordingExecutor();
    await applyPlan(plan, executor, { resolveSecret });
    assert.deepEqual(executor.calls[0]?.body, {
      authvalue: '<settings><setting name="x-key" value="x&#60;&#38;&#34;" /></settings>',
      authtype: 5,
    });
  });

  it('refuses to start when a secret is missing, before sending anything', async () => {
    const executor = recordingExecutor();
    await assert.rejects(
      applyPlan(computePlan(file(sampleFile()), EMPTY), executor, {
        resolveSecret: (ref) => (ref.env === 'SB_KEY' ? 'x' : undefined),
      }),
      (error: unknown) =>
        isWorkbenchError(error) && error.kind === 'invalidInput' && error.message.includes('REVENUE_HOOK_KEY'),
    );
    assert.deepEqual(executor.calls, []);
  });

  it('stops when cancelled', async () => {
    const controller = new AbortController();
    controller.abort();
    await assert.rejects(
      applyPlan(computePlan(file(sampleFile()), EMPTY), recordingExecutor(), {
        resolveSecret,
        signal: controller.signal,
      }),
      (error: unknown) => isWorkbenchError(error) && error.kind === 'cancelled',
    );
  });

  describe('idempotence (property)', () => {
    const names = fc.constantFrom('A', 'B', 'C');
    const columns = fc.subarray(['name', 'revenue', 'telephone1'], { minLength: 0 });
    const step = fc
      .record({
        name: names,
        message: fc.constantFrom('Create', 'Update', 'Delete', 'CreateMultiple', 'UpdateMultiple', 'UpsertMultiple'),
        table: fc.constantFrom('account', 'contact'),
        async: fc.boolean(),
        stage: fc.constantFrom('pre-validation', 'pre-operation', 'post-operation'),
        rank: fc.integer({ min: 1, max: 3 }),
        filtering: columns,
        enabled: fc.boolean(),
        autoDelete: fc.boolean(),
        images: fc.uniqueArray(fc.record({ alias: names, type: fc.constantFrom('pre', 'post', 'both'), columns }), {
          selector: (i) => i.alias,
          maxLength: 2,
        }),
      })
      .map((s) => {
        const stage = s.async ? 'post-operation' : s.stage;
        const allowed = (type: string): boolean =>
          s.message !== 'UpsertMultiple' &&
          !((s.message === 'Create' || s.message === 'CreateMultiple') && type !== 'post') &&
          !(s.message === 'Delete' && type !== 'pre') &&
          !(stage !== 'post-operation' && type !== 'pre');
        return {
          name: s.name,
          message: s.message,
          table: s.table,
          stage,
          mode: s.async ? 'async' : 'sync',
          rank: s.rank,
          filteringAttributes: s.message === 'Update' ? s.filtering : [],
          deleteAsyncJobOnSuccess: s.async && s.autoDelete,
          enabled: s.enabled,
          images: s.images.filter((i) => allowed(i.type)),
        };
      });
    const endpoint = fc
      .record({
        name: names,
        kind: fc.constantFrom(
          'webhook',
          'headerWebhook',
          'serviceBusQueue',
          'serviceBusTopic',
          'eventHub',
          'eventGrid',
        ),
        variant: fc.boolean(),
        steps: fc.uniqueArray(step, { selector: (s) => s.name, maxLength: 3 }),
      })
      .map((e) => {
        const base = { name: e.name, ...(e.variant ? { description: 'managed by dvw' } : {}) };
        switch (e.kind) {
          case 'webhook':
          case 'headerWebhook':
            return {
              ...base,
              kind: 'webhook',
              url: e.variant ? 'https://a.example.test/hook' : 'https://b.example.test/hook',
              auth:
                e.kind === 'webhook'
                  ? { kind: 'WebhookKey', value: { env: 'REVENUE_HOOK_KEY' } }
                  : { kind: 'HttpHeader', values: { 'x-key': { env: 'X_KEY' } } },
              steps: e.steps,
            };
          case 'eventGrid':
            return {
              ...base,
              kind: 'eventGrid',
              url: 'https://topic.example.test/api/events',
              accessKey: { env: 'SB_KEY' },
              steps: e.steps.map((s) => ({ ...s, mode: 'async', stage: 'post-operation' })),
            };
          default:
            return {
              ...base,
              kind: e.kind,
              namespace: 'contoso',
              path: e.variant ? 'orders' : 'invoices',
              auth: e.variant
                ? { kind: 'SASKey', keyName: 'Root', key: { env: 'SB_KEY' } }
                : { kind: 'SASToken', token: { env: 'SB_KEY' } },
              steps: e.steps.map((s) => ({ ...s, mode: 'async', stage: 'post-operation' })),
            };
        }
      })
      .map((e) => ({
        ...e,
        steps: e.steps.map((s) => ({
          ...s,
          images: s.images.filter((i) => s.stage === 'post-operation' || i.type === 'pre'),
        })),
      }));
    const registrationFile = fc
      .uniqueArray(endpoint, { selector: (e) => e.name, maxLength: 3 })
      .map((endpoints) => file({ endpoints }));

    it('apply(plan(B, apply(plan(A)))) leaves nothing to plan for B, and every operation is valid', async () => {
      await fc.assert(
        fc.asyncProperty(registrationFile, registrationFile, fc.boolean(), async (a, b, prune) => {
          const first = await applied(a, EMPTY);
          assert.ok(isEmptyPlan(computePlan(a, first)), formatPlan(computePlan(a, first)));
          const second = await applied(b, first, prune);
          const again = computePlan(b, second, { prune });
          assert.ok(isEmptyPlan(again), formatPlan(again));
          // What the file names is all there, once.
          for (const spec of b.endpoints) {
            const matches = second.serviceEndpoints.filter((e) => e.name === spec.name);
            assert.equal(matches.length, 1);
            const steps = second.steps.filter((s) => s._eventhandler_value === matches[0]?.serviceendpointid);
            assert.deepEqual(steps.map((s) => s.name).sort(), spec.steps.map((s) => s.name).sort());
          }
          if (prune) assert.equal(second.serviceEndpoints.length, b.endpoints.length);
        }),
        { numRuns: 150 },
      );
    });

    it('orders operations: deletes first, then endpoints, steps, images', () => {
      fc.assert(
        fc.property(registrationFile, (a) => {
          const rank = (op: PlanOperation): number =>
            op.action === 'delete'
              ? 0
              : { serviceendpoints: 1, sdkmessageprocessingsteps: 2, sdkmessageprocessingstepimages: 3 }[op.entitySet];
          const ranks = computePlan(a, EMPTY).operations.map(rank);
          assert.deepEqual(
            ranks,
            [...ranks].sort((x, y) => x - y),
          );
        }),
      );
    });
  });
});

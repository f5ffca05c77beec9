import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { isWorkbenchError } from '../../../src/core/errors';
import { parseRegistrationFile, validateRegistrationFile } from '../../../src/webhooks/registrationFile';
import { root, sampleFile } from './helpers';

function issuesOf(file: unknown): { path: string; message: string }[] {
  const result = validateRegistrationFile(file);
  assert.equal(result.ok, false, 'expected the file to be refused');
  return result.ok ? [] : [...result.issues];
}

function refuses(file: unknown, path: string, message: RegExp): void {
  const issues = issuesOf(file);
  assert.ok(
    issues.some((issue) => issue.path === path && message.test(issue.message)),
    `expected ${path} ${String(message)}, got ${JSON.stringify(issues)}`,
  );
}

/** The sample with one change made to a deep copy. */
function edited(change: (file: { endpoints: Record<string, unknown>[] }) => void): unknown {
  const file = structuredClone(sampleFile()) as { endpoints: Record<string, unknown>[] };
  change(file);
  return file;
}

function firstStep(file: { endpoints: Record<string, unknown>[] }): Record<string, unknown> {
  return (file.endpoints[0]?.steps as Record<string, unknown>[])[0] ?? assert.fail('has a step');
}

describe('dataverse.webhooks.json', () => {
  it('accepts a valid file and fills in the defaults', () => {
    const result = validateRegistrationFile(sampleFile());
    assert.ok(result.ok, JSON.stringify(result));
    const [hook, queue] = result.file.endpoints;
    assert.equal(hook?.kind, 'webhook');
    const step = hook.steps[0];
    assert.deepEqual(step, {
      name: 'Revenue changed',
      message: 'Update',
      table: 'account',
      stage: 'post-operation',
      mode: 'async',
      rank: 1,
      filteringAttributes: ['revenue'],
      deleteAsyncJobOnSuccess: true,
      enabled: true,
      images: [{ name: 'PreImage', alias: 'PreImage', type: 'pre', columns: ['revenue', 'name'] }],
    });
    assert.equal(queue?.kind, 'serviceBusQueue');
    assert.equal(queue.kind === 'serviceBusQueue' && queue.messageFormat, 'json');
  });

  it('refuses secrets written inline', () => {
    refuses(
      edited((f) => ((f.endpoints[0] as Record<string, unknown>).auth = { kind: 'WebhookKey', value: 'abc' })),
      '$.endpoints[0].auth.value',
      /never written in the file/,
    );
    refuses(
      edited(
        (f) =>
          ((f.endpoints[0] as Record<string, unknown>).auth = { kind: 'HttpHeader', values: { 'x-key': 'plain' } }),
      ),
      '$.endpoints[0].auth.values.x-key',
      /never written in the file/,
    );
  });

  it('refuses asynchronous steps outside post-operation', () => {
    refuses(
      edited((f) => (firstStep(f).stage = 'pre-operation')),
      '$.endpoints[0].steps[0].mode',
      /asynchronous steps run only post-operation, not pre-operation/,
    );
  });

  it('refuses impossible images', () => {
    refuses(
      edited((f) => {
        firstStep(f).message = 'Create';
        firstStep(f).filteringAttributes = [];
      }),
      '$.endpoints[0].steps[0].images[0].type',
      /a Create has no pre-image/,
    );
    refuses(
      edited((f) => {
        Object.assign(firstStep(f), { message: 'Delete', filteringAttributes: [] });
        firstStep(f).images = [{ type: 'post', alias: 'Gone' }];
      }),
      '$.endpoints[0].steps[0].images[0].type',
      /a Delete has no post-image/,
    );
    refuses(
      edited((f) => {
        Object.assign(firstStep(f), { stage: 'pre-operation', mode: 'sync', deleteAsyncJobOnSuccess: false });
        firstStep(f).images = [{ type: 'both', alias: 'Both' }];
      }),
      '$.endpoints[0].steps[0].images[0].type',
      /post-images exist only in the post-operation stage/,
    );
  });

  // Microsoft Learn, "Write plug-ins for CreateMultiple and UpdateMultiple": a bulk step's images come per record of
  // Targets; "Register a plug-in", availability of images: no pre-image before a create, post-images post-operation.
  it('takes images on CreateMultiple and UpdateMultiple steps as Dataverse does, none on UpsertMultiple', () => {
    const bulk = (message: string, images: unknown[], stage = 'post-operation') =>
      edited((f) => Object.assign(firstStep(f), { message, stage, filteringAttributes: [], images }));
    const accepted = validateRegistrationFile(
      bulk('UpdateMultiple', [
        { type: 'both', alias: 'Image', columns: ['name'] },
        { type: 'pre', alias: 'Before' },
      ]),
    );
    assert.ok(accepted.ok, JSON.stringify(accepted));
    assert.deepEqual(
      accepted.file.endpoints[0]?.steps[0]?.images.map((image) => [image.alias, image.type]),
      [
        ['Image', 'both'],
        ['Before', 'pre'],
      ],
    );
    assert.ok(validateRegistrationFile(bulk('CreateMultiple', [{ type: 'post', alias: 'Created' }])).ok);
    refuses(
      bulk('CreateMultiple', [{ type: 'both', alias: 'Created' }]),
      '$.endpoints[0].steps[0].images[0].type',
      /a CreateMultiple has no pre-images: the records do not exist yet/,
    );
    refuses(
      edited((f) => {
        Object.assign(firstStep(f), { message: 'UpdateMultiple', filteringAttributes: [], mode: 'sync' });
        Object.assign(firstStep(f), { stage: 'pre-operation', deleteAsyncJobOnSuccess: false });
        firstStep(f).images = [{ type: 'post', alias: 'After' }];
      }),
      '$.endpoints[0].steps[0].images[0].type',
      /post-images exist only in the post-operation stage/,
    );
    refuses(
      bulk('UpsertMultiple', [{ type: 'pre', alias: 'Before' }]),
      '$.endpoints[0].steps[0].images[0]',
      /images are available only on Create, CreateMultiple, Update, UpdateMultiple, .*: register them on the Create and Update/,
    );
    refuses(
      bulk('DeleteMultiple', [{ type: 'pre', alias: 'Before' }]),
      '$.endpoints[0].steps[0].images[0]',
      /images are available only on .*, not DeleteMultiple/,
    );
  });

  it('refuses options that do not apply', () => {
    refuses(
      edited((f) => (firstStep(f).message = 'Create')),
      '$.endpoints[0].steps[0].filteringAttributes',
      /only Update honours filtering attributes, not Create/,
    );
    refuses(
      edited((f) => (firstStep(f).mode = 'sync')),
      '$.endpoints[0].steps[0].deleteAsyncJobOnSuccess',
      /only asynchronous steps/,
    );
    refuses(
      edited(
        (f) => (((f.endpoints[1] as Record<string, unknown>).steps as Record<string, unknown>[])[0]!.mode = 'sync'),
      ),
      '$.endpoints[1].steps',
      /must be asynchronous on a serviceBusQueue endpoint/,
    );
    refuses(
      edited((f) => ((f.endpoints[0] as Record<string, unknown>).path = 'orders')),
      '$.endpoints[0].path',
      /does not apply to a webhook endpoint/,
    );
  });

  it('refuses bad values with their path', () => {
    refuses(
      edited((f) => (firstStep(f).stage = 'post')),
      '$.endpoints[0].steps[0].stage',
      /must be one of/,
    );
    refuses(
      edited((f) => (firstStep(f).rank = 0)),
      '$.endpoints[0].steps[0].rank',
      /whole number/,
    );
    refuses(
      edited((f) => (firstStep(f).colour = 'red')),
      '$.endpoints[0].steps[0].colour',
      /unknown member/,
    );
    refuses(
      edited((f) => ((f.endpoints[0] as Record<string, unknown>).url = 'http://hooks.example.test/')),
      '$.endpoints[0].url',
      /must use https/,
    );
    refuses(
      edited((f) => ((f.endpoints[0] as Record<string, unknown>).url = 'https://x.test/?code=abc')),
      '$.endpoints[0].url',
      /must not carry \?code=/,
    );
    refuses(
      edited((f) => (f.endpoints[1] = { ...f.endpoints[1], name: 'RevenueHook' })),
      '$.endpoints',
      /two entries have the name "RevenueHook"/,
    );
    refuses({ endpoints: {} }, '$.endpoints', /must be an array/);
  });

  it('accepts http on loopback, for the emulator', () => {
    const result = validateRegistrationFile(
      edited((f) => ((f.endpoints[0] as Record<string, unknown>).url = 'http://127.0.0.1:7071/api/hook')),
    );
    assert.ok(result.ok);
  });

  it('parseRegistrationFile lists every problem in one invalidInput error', () => {
    const text = JSON.stringify(
      edited((f) => {
        firstStep(f).stage = 'pre-validation';
        (f.endpoints[0] as Record<string, unknown>).auth = { kind: 'WebhookKey', value: 'inline' };
      }),
    );
    assert.throws(
      () => parseRegistrationFile(text),
      (error: unknown) =>
        isWorkbenchError(error) &&
        error.kind === 'invalidInput' &&
        error.message.includes('$.endpoints[0].steps[0].mode') &&
        error.message.includes('$.endpoints[0].auth.value') &&
        !error.message.includes('inline'),
    );
    assert.throws(
      () => parseRegistrationFile('{'),
      (error: unknown) => isWorkbenchError(error) && error.kind === 'invalidInput',
    );
  });
});

describe('schemas/dataverse.webhooks.schema.json', () => {
  it('offers the same kinds, stages, modes and image types as the validator accepts', () => {
    const schema = JSON.parse(readFileSync(path.join(root, 'schemas/dataverse.webhooks.schema.json'), 'utf8')) as {
      definitions: Record<string, { properties: Record<string, { enum?: string[] }> }>;
    };
    const { step, image, endpoint } = schema.definitions;
    assert.deepEqual(endpoint?.properties.kind?.enum, [
      'webhook',
      'serviceBusQueue',
      'serviceBusTopic',
      'eventHub',
      'eventGrid',
    ]);
    assert.deepEqual(step?.properties.stage?.enum, ['pre-validation', 'pre-operation', 'post-operation']);
    assert.deepEqual(step?.properties.mode?.enum, ['sync', 'async']);
    assert.deepEqual(image?.properties.type?.enum, ['pre', 'post', 'both']);
    for (const kind of endpoint?.properties.kind?.enum ?? []) {
      const result = validateRegistrationFile({ endpoints: [{ name: 'x', kind }] });
      assert.ok(!result.ok && result.issues.every((issue) => !issue.path.endsWith('.kind')), kind);
    }
  });
});

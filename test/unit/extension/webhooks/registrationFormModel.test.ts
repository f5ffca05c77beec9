import * as assert from 'node:assert/strict';
import {
  emptyRegistration,
  planSummary,
  registrationOfRows,
  specOfRegistration,
} from '../../../../src/extension/webhooks/registrationFormModel';
import { validateRegistrationFile } from '../../../../src/webhooks/registrationFile';
import type { EndpointRow, ImageRow, StepRow } from '../../../../src/webhooks/registrations';
import type { FormRegistration } from '../../../../src/webview/registrationProtocol';

const ENDPOINT_ID = '11111111-1111-4111-8111-111111111111';
const STEP_ID = '22222222-2222-4222-8222-222222222222';

const endpointRow: EndpointRow = {
  id: ENDPOINT_ID,
  name: 'Orders',
  contract: 2,
  url: undefined,
  authtype: 2,
  path: 'orders',
  namespace: 'contoso',
  messageformat: 2,
  saskeyname: 'Send',
  description: undefined,
  secretSet: true,
};

const stepRow: StepRow = {
  id: STEP_ID,
  name: 'New order',
  endpointId: ENDPOINT_ID,
  message: 'Create',
  table: 'salesorder',
  stage: 40,
  mode: 1,
  rank: 2,
  filteringAttributes: [],
  description: undefined,
  asyncAutoDelete: true,
  enabled: true,
};

const imageRow: ImageRow = {
  id: '33333333-3333-4333-8333-333333333333',
  name: 'after',
  alias: 'after',
  imagetype: 1,
  attributes: ['Name', 'totalamount'],
  stepId: STEP_ID,
};

describe('registration form model', () => {
  it('shows a registered Service Bus queue with its step and image, its secret kept', () => {
    const form = registrationOfRows(endpointRow, [stepRow], new Map([[STEP_ID, [imageRow]]]));
    assert.equal(form.endpoint.kind, 'serviceBusQueue');
    assert.equal(form.endpoint.authKind, 'SASKey');
    assert.equal(form.endpoint.keepAuth, true);
    assert.equal(form.endpoint.secret, '');
    assert.deepEqual(form.steps[0]?.images, [
      { id: imageRow.id, alias: 'after', type: 'post', columns: ['name', 'totalamount'] },
    ]);
    assert.equal(form.steps[0]?.stage, 'post-operation');
    assert.equal(form.steps[0]?.mode, 'async');

    // Sent back unchanged, it is a valid file fragment whose kept secret is a reference nothing resolves.
    const { spec, secrets, edited } = specOfRegistration(form, ENDPOINT_ID);
    assert.equal(secrets.size, 0);
    assert.deepEqual(edited, { endpointId: ENDPOINT_ID, stepIds: [STEP_ID], imageIds: [[imageRow.id]] });
    assert.deepEqual(spec.auth, { kind: 'SASKey', keyName: 'Send', key: { env: 'UNCHANGED' } });
    assert.ok(validateRegistrationFile({ endpoints: [spec] }).ok);
  });

  it('carries typed secrets only as references, and names an unnamed step after its trigger', () => {
    const base = emptyRegistration('http://127.0.0.1:7071/');
    const form: FormRegistration = {
      endpoint: { ...base.endpoint, name: 'Hook', authKind: 'HttpHeader', pairs: [{ name: 'x-key', value: 's3cret' }] },
      steps: [
        {
          name: '',
          message: 'Update',
          table: 'account',
          stage: 'pre-operation',
          mode: 'sync',
          rank: 1,
          filteringAttributes: ['name'],
          description: '',
          deleteAsyncJobOnSuccess: true,
          enabled: true,
          images: [],
        },
      ],
    };
    const { spec, secrets, edited } = specOfRegistration(form, undefined);
    assert.equal(edited, undefined);
    assert.equal(spec.url, 'http://127.0.0.1:7071/');
    assert.deepEqual(spec.auth, { kind: 'HttpHeader', values: { 'x-key': { env: 'SECRET_1' } } });
    assert.deepEqual([...secrets], [['SECRET_1', 's3cret']]);
    assert.ok(!JSON.stringify(spec).includes('s3cret'));
    const [step] = spec.steps as Record<string, unknown>[];
    assert.equal(step?.name, 'Hook: Update of account');
    assert.equal(step?.deleteAsyncJobOnSuccess, false, 'a synchronous step has no system job');
  });

  it('refuses a missing secret, a kept secret on a new endpoint, and an auth of the other kind', () => {
    const base = emptyRegistration(undefined);
    const named = { ...base.endpoint, name: 'Hook', url: 'https://example.test/' };
    assert.throws(() => specOfRegistration({ endpoint: named, steps: [] }, undefined), /enter the secret/);
    assert.throws(
      () => specOfRegistration({ endpoint: { ...named, keepAuth: true }, steps: [] }, undefined),
      /no registered secret to keep/,
    );
    assert.throws(
      () => specOfRegistration({ endpoint: { ...named, authKind: 'SASToken', secret: 'x' }, steps: [] }, undefined),
      /SASToken is not an authentication of this endpoint kind/,
    );
  });

  it('summarizes a plan by what it sends', () => {
    assert.equal(planSummary({ operations: [] }), 'no changes');
    assert.equal(
      planSummary({
        operations: [
          { action: 'delete', entitySet: 'sdkmessageprocessingstepimages', id: 'a', label: 'x', cascades: 0 },
          { action: 'update', entitySet: 'sdkmessageprocessingsteps', id: 'b', label: 'y', changes: [], secrets: [] },
        ],
      }),
      '1 updated, 1 deleted',
    );
  });
});

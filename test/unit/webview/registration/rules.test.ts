import * as assert from 'node:assert/strict';
import {
  allowed,
  imageTypeChoices,
  modeChoices,
  noImagesReason,
  searchColumns,
} from '../../../../src/webview/registration/rules';

describe('registration form rules', () => {
  // https://learn.microsoft.com/power-apps/developer/data-platform/event-framework#event-execution-pipeline
  it('disables asynchronous outside post-operation and synchronous on queues, each with its reason', () => {
    const preOp = modeChoices('pre-operation', 'webhook');
    assert.match(preOp.find((c) => c.value === 'async')?.disabledReason ?? '', /only post-operation/);
    assert.equal(allowed(preOp, 'async'), 'sync');
    const queue = modeChoices('post-operation', 'serviceBusQueue');
    assert.match(queue.find((c) => c.value === 'sync')?.disabledReason ?? '', /asynchronous only/);
    assert.equal(allowed(queue, 'sync'), 'async');
  });

  it('offers images only where Dataverse has them', () => {
    assert.equal(noImagesReason('Update'), undefined);
    assert.match(noImagesReason('Retrieve') ?? '', /only on Create, CreateMultiple, Update, UpdateMultiple, Delete/);
    assert.equal(noImagesReason('UpdateMultiple'), undefined);
    assert.match(noImagesReason('UpsertMultiple') ?? '', /register them on the Create and Update/);
    assert.deepEqual(
      imageTypeChoices('CreateMultiple', 'post-operation').map((choice) => [choice.value, choice.disabledReason]),
      [
        ['pre', 'a CreateMultiple has no pre-images: the records do not exist yet'],
        ['post', undefined],
        ['both', 'a CreateMultiple has no pre-images: the records do not exist yet'],
      ],
    );
    assert.ok(imageTypeChoices('UpdateMultiple', 'post-operation').every((c) => c.disabledReason === undefined));
    const create = imageTypeChoices('Create', 'post-operation');
    assert.match(create[0]?.disabledReason ?? '', /no pre-image/);
    assert.equal(create[1]?.disabledReason, undefined);
    assert.match(
      imageTypeChoices('Update', 'pre-operation')[1]?.disabledReason ?? '',
      /only in the post-operation stage/,
    );
  });

  it('searches columns by every word, picked ones first', () => {
    assert.deepEqual(searchColumns(['accountid', 'name', 'revenue', 'revenue_base'], ['revenue_base'], 'rev'), [
      'revenue_base',
      'revenue',
    ]);
    assert.deepEqual(searchColumns(['accountid', 'name'], [], ''), ['accountid', 'name']);
  });
});

import * as assert from 'node:assert/strict';
import {
  IMAGE_MESSAGES,
  imagePropertyOf,
  imagesPerRecord,
  imageTypeReasons,
  isImagePropertyOf,
  noImagesReason,
} from '../../../src/core/stepImages';

describe('step image rules', () => {
  // Learn, "Register a plug-in" (messages that support entity images) and "Write plug-ins for CreateMultiple and
  // UpdateMultiple"; Dataverse refuses "Message property name 'Target' is not valid on message UpdateMultiple"
  // (SparkleXrm issue 486) and takes Ids on CreateMultiple (SparkleXrm pull request 489).
  it('names the request property of each image message, and none for the others', () => {
    assert.deepEqual(
      IMAGE_MESSAGES.map((message) => [message, imagePropertyOf(message)]),
      [
        ['Create', 'Id'],
        ['CreateMultiple', 'Ids'],
        ['Update', 'Target'],
        ['UpdateMultiple', 'Targets'],
        ['Delete', 'Target'],
        ['SetState', 'EntityMoniker'],
        ['SetStateDynamicEntity', 'EntityMoniker'],
      ],
    );
    for (const message of ['UpsertMultiple', 'DeleteMultiple', 'Retrieve', 'Associate']) {
      assert.equal(imagePropertyOf(message), undefined, message);
      assert.match(noImagesReason(message) ?? '', /^images are available only on Create, CreateMultiple, /);
    }
    assert.equal(isImagePropertyOf('Create', 'Target'), true, "Learn's table writes Target for Create");
    assert.equal(isImagePropertyOf('UpdateMultiple', 'Target'), false);
    assert.deepEqual(IMAGE_MESSAGES.filter(imagesPerRecord), ['CreateMultiple', 'UpdateMultiple']);
  });

  it('gives every reason an image type cannot be had on a message and stage', () => {
    assert.deepEqual(imageTypeReasons('UpdateMultiple', 'post-operation', 'both'), []);
    assert.deepEqual(imageTypeReasons('CreateMultiple', 'pre-operation', 'both'), [
      'a CreateMultiple has no pre-images: the records do not exist yet',
      'post-images exist only in the post-operation stage',
    ]);
    assert.deepEqual(imageTypeReasons('Create', 'post-operation', 'post'), []);
    assert.deepEqual(imageTypeReasons('Delete', 'post-operation', 'post'), [
      'a Delete has no post-image: the record is gone',
    ]);
    assert.deepEqual(imageTypeReasons('UpdateMultiple', undefined, 'pre'), []);
  });
});

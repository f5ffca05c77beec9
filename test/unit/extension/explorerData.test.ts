import * as assert from 'node:assert/strict';
import { asSentence, recordCountText } from '../../../src/extension/explorer/explorerData';

describe('explorer wording', () => {
  it('counts records, and says 5,000+ where Dataverse stops counting ($count limit)', () => {
    assert.equal(recordCountText(0), '0 records');
    assert.equal(recordCountText(1), '1 record');
    assert.equal(recordCountText(4999), '4,999 records');
    assert.equal(recordCountText(5000), '5,000+ records');
  });

  it('turns a service message into a sentence without its error code', () => {
    assert.equal(
      asSentence("0x80060888: Resource not found for the segment 'Keys'"),
      "Resource not found for the segment 'Keys'.",
    );
    assert.equal(asSentence('the service is busy.'), 'The service is busy.');
    assert.equal(asSentence('  '), 'The service gave no reason.');
  });
});

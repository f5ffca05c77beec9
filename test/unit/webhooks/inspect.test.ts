import * as assert from 'node:assert/strict';
import { parseRemoteExecutionContext } from '../../../src/core/remoteExecutionContext';
import { formatDelivery, summarizeDelivery } from '../../../src/webhooks/inspect';
import type { WebhookDelivery } from '../../../src/webhooks/receiver';
import { captureUpdateMultipleDelivery } from './emulatorBulkDelivery';
import { fixtureText } from './helpers';

function delivery(body: string): WebhookDelivery {
  return {
    receivedAt: new Date(Date.UTC(2025, 0, 2, 3, 4, 5)),
    context: parseRemoteExecutionContext(body),
    headers: { msgSizeExceeded: false },
    body,
    bodyBytes: Buffer.byteLength(body),
  };
}

describe('delivery inspector facts (dvw webhooks listen)', () => {
  // Microsoft Learn, "Write plug-ins for CreateMultiple and UpdateMultiple": entry i of PreEntityImagesCollection and
  // PostEntityImagesCollection holds the images of entity i of Targets.
  it("shows each record of an UpdateMultiple's Targets with its own images, in the order of Targets", async () => {
    const body = await captureUpdateMultipleDelivery({
      names: [
        ['Contoso', 'Contoso Ltd'],
        ['Fabrikam', 'Fabrikam Inc'],
      ],
    });
    const summary = summarizeDelivery(delivery(body));
    assert.equal(summary.messageName, 'UpdateMultiple');
    assert.deepEqual([summary.changedColumns, summary.preImages, summary.postImages], [[], [], []]);
    // The columns as written, then the ones the platform sets itself, as a Target carries them.
    const written = ['name', 'telephone1', 'accountid', 'modifiedon', 'modifiedby'];
    assert.deepEqual(
      summary.targets.map((target) => [
        target.changedColumns,
        target.preImages.map((image) => [image.alias, image.values.name]),
        target.postImages.map((image) => [image.alias, image.values.name, image.values.telephone1]),
      ]),
      [
        [written, [['Before', 'Contoso']], [['After', 'Contoso Ltd', '555-0100']]],
        [written, [['Before', 'Fabrikam']], [['After', 'Fabrikam Inc', '555-0101']]],
      ],
    );
    const [first, second] = summary.targets;
    const text = formatDelivery(delivery(body));
    assert.ok(text.includes(`  record 1 of 2: account(${first?.id ?? ''})\n`), text);
    assert.ok(text.includes(`  record 2 of 2: account(${second?.id ?? ''})\n`), text);
    assert.ok(
      text.includes('      name: "Fabrikam" -> "Fabrikam Inc"\n'),
      'the old value comes from its own pre-image',
    );
    assert.match(text, /\n {4}post image After:\n {6}accountid = "[0-9a-f-]{36}"\n {6}name = "Contoso Ltd"\n/);
  });

  it('keeps a single message as it was: its Target and images, no records', () => {
    const summary = summarizeDelivery(delivery(fixtureText('update-activity-with-images')));
    assert.deepEqual(summary.targets, []);
    assert.deepEqual(
      summary.preImages.map((image) => image.alias),
      ['Image'],
    );
    const text = formatDelivery(delivery(fixtureText('update-activity-with-images')));
    assert.match(text, /\n {2}changed columns: activityid, statecode/);
    assert.match(text, /\n {2}pre image Image:\n/);
    assert.doesNotMatch(text, /record 1 of/);
  });
});

import * as assert from 'node:assert/strict';
import {
  CONTRACT_LABELS,
  CONTRACT_OF_KIND,
  IMAGE_TYPE_OF_NAME,
  imageTypeLabel,
  imageTypeNameOf,
  kindOfContract,
  MESSAGE_FORMAT,
  messageFormatOf,
  STAGE_OF_NAME,
  stageLabel,
  stageNameOf,
} from '../../../src/webhooks/registrationModel';

// Codes from the Dataverse table references: serviceendpoint (contract, messageformat),
// sdkmessageprocessingstep (stage), sdkmessageprocessingstepimage (imagetype).
// https://learn.microsoft.com/power-apps/developer/data-platform/reference/entities/serviceendpoint
describe('webhook registration codes and their names, once', () => {
  it('reads each code back to the name it was written from', () => {
    for (const [kind, contract] of Object.entries(CONTRACT_OF_KIND)) assert.equal(kindOfContract(contract), kind);
    for (const [name, stage] of Object.entries(STAGE_OF_NAME)) assert.equal(stageNameOf(stage), name);
    for (const [name, type] of Object.entries(IMAGE_TYPE_OF_NAME)) assert.equal(imageTypeNameOf(type), name);
    for (const [name, format] of Object.entries(MESSAGE_FORMAT)) assert.equal(messageFormatOf(format), name);
  });

  it('has no file name for codes a file cannot describe, and a label for every code it may meet', () => {
    assert.equal(kindOfContract(1), undefined);
    assert.equal(CONTRACT_LABELS[1], 'One-way');
    assert.equal(stageNameOf(30), undefined);
    assert.equal(stageLabel(30), 'main operation');
    assert.equal(stageLabel(99), 'stage 99');
    assert.equal(imageTypeLabel(2), 'pre and post');
    assert.equal(imageTypeLabel(7), 'type 7');
  });
});

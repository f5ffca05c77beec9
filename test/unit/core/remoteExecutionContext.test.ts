import * as assert from 'node:assert/strict';
import fc from 'fast-check';
import { isWorkbenchError } from '../../../src/core/errors';
import {
  attributeValue,
  changedColumns,
  columnChanges,
  decodeRemoteExecutionContext,
  encodeRemoteExecutionContext,
  findKeyValue,
  formatContextValue,
  parseRemoteExecutionContext,
  targetEntity,
} from '../../../src/core/remoteExecutionContext';
import type { ContextValue, Entity, RemoteExecutionContext } from '../../../src/core/remoteExecutionContext';
import { FIXTURES, fixtureText } from '../webhooks/helpers';

const CONTRACTS = 'http:\\/\\/schemas.microsoft.com\\/xrm\\/2011\\/Contracts';

function load(name: (typeof FIXTURES)[number]): RemoteExecutionContext {
  return parseRemoteExecutionContext(fixtureText(name));
}

function target(context: RemoteExecutionContext): Entity {
  const entity = targetEntity(context);
  assert.ok(entity, 'the context has a Target entity');
  return entity;
}

function image(images: RemoteExecutionContext['preEntityImages'], alias: string): Entity {
  const found = findKeyValue(images, alias);
  assert.ok(found, `image ${alias} exists`);
  return found;
}

function reference(id: string, logicalName: string, name: string | null): ContextValue {
  return { kind: 'entityReference', id, logicalName, name, keyAttributes: [], rowVersion: null };
}

function rejects(body: unknown, pathInMessage: string): void {
  assert.throws(
    () => decodeRemoteExecutionContext(body),
    (error: unknown) =>
      isWorkbenchError(error) && error.kind === 'invalidInput' && error.message.includes(pathInMessage),
  );
}

/** What Dataverse itself writes: compact, `/` escaped. */
function canonical(text: string): string {
  return JSON.stringify(JSON.parse(text)).replace(/\//g, '\\/');
}

describe('RemoteExecutionContext codec', () => {
  describe('decodes the real payloads', () => {
    it('create-account: a synchronous post-operation Create with non-ASCII text kept exactly', () => {
      const context = load('create-account');
      assert.equal(context.messageName, 'Create');
      assert.equal(context.primaryEntityName, 'account');
      assert.equal(context.primaryEntityId, '53c52f26-a89d-ef11-8a69-000d3a30b0c1');
      assert.equal(context.stage, 40);
      assert.equal(context.mode, 0);
      assert.equal(context.depth, 1);
      assert.equal(context.correlationId, '7038a274-4877-4f3f-a57a-0f4493a647c6');
      assert.deepEqual(context.operationCreatedOn, { kind: 'dateTime', epochMs: 1731053106922 });
      assert.deepEqual(changedColumns(context), [
        'territorycode',
        'statecode',
        'address2_shippingmethodcode',
        'isprivate',
        'followemail',
        'donotbulkemail',
        'donotsendmm',
        'createdon',
        'businesstypecode',
        'donotpostalmail',
        'ownerid',
        'donotbulkpostalmail',
        'name',
        'new_name',
        'donotemail',
        'address2_addresstypecode',
        'donotphone',
        'transactioncurrencyid',
        'modifiedby',
        'statuscode',
        'modifiedonbehalfby',
        'preferredcontactmethodcode',
        'owningbusinessunit',
        'accountid',
        'createdby',
        'donotfax',
        'merged',
        'customersizecode',
        'marketingonly',
        'accountratingcode',
        'shippingmethodcode',
        'processid',
        'creditonhold',
        'modifiedon',
        'participatesinworkflow',
        'accountclassificationcode',
        'address2_freighttermscode',
        'exchangerate',
      ]);
      const account = target(context);
      // The fixture holds UTF-8 Cyrillic and Latvian text as it was mis-decoded upstream; the codec
      // must hand those exact code points through, whatever they are.
      assert.equal(
        attributeValue(account, 'new_name'),
        '\u00c4\u00a2\u00c4\u0081r\u00c5\u00abm\u00c5\u00be\u00c4\u00abm\u00c4\u201c\u00c5\u00a1\u00c4\u008d\u00c5\u00ab\u00c4\u00bc\u00c5\u008d\u00c5\u00a1\u00c4\u00b6K\u00c4\u00a2\u00c4\u00bb\u00c4\u0152\u00c5\u2020',
      );
      const name = attributeValue(account, 'name');
      assert.equal(typeof name === 'string' && name.length, 138);
      assert.ok(typeof name === 'string' && name.startsWith('\u00d0\u0090\u00d0\u00b0\u00d0\u2018\u00d0\u00b1'));
      assert.deepEqual(attributeValue(account, 'territorycode'), { kind: 'optionSet', value: 1 });
      assert.deepEqual(attributeValue(account, 'createdon'), { kind: 'dateTime', epochMs: 1731053106000 });
      assert.equal(attributeValue(account, 'followemail'), true);
      assert.equal(attributeValue(account, 'exchangerate'), 1);
      assert.deepEqual(
        attributeValue(account, 'ownerid'),
        reference('3570e963-e69c-ef11-8a6b-000d3a318589', 'systemuser', null),
      );
      assert.deepEqual(context.preEntityImages, []);
      assert.deepEqual(context.postEntityImages, []);
      assert.equal(findKeyValue(context.outputParameters, 'id'), '53c52f26-a89d-ef11-8a69-000d3a30b0c1');
      assert.equal(findKeyValue(context.sharedVariables, 'AcceptLang'), 'en-US,en;q=0.9,lv;q=0.8');
      assert.equal(context.parentContext?.stage, 30);
      assert.equal(context.otherMembers?.InitiatingUserAgent, '');
    });

    it('create-all-column-types: money, decimals, dates, choices, multi-select choices, lookups, booleans', () => {
      const context = load('create-all-column-types');
      assert.equal(context.messageName, 'Create');
      assert.equal(context.primaryEntityName, 'shko_allfields');
      assert.equal(context.primaryEntityId, '6420f0cc-916b-ee11-9ae6-000d3a688809');
      assert.equal(context.stage, 40);
      assert.equal(context.mode, 0);
      assert.equal(context.depth, 1);
      assert.equal(context.correlationId, 'b5940787-bdf1-4d42-89aa-671ba512a488');
      assert.equal(changedColumns(context).length, 24);
      const row = target(context);
      assert.equal(attributeValue(row, 'shko_string'), 'This is a String');
      assert.equal(attributeValue(row, 'shko_integer'), 321);
      assert.equal(attributeValue(row, 'shko_decimal'), 10.12);
      assert.equal(attributeValue(row, 'shko_boolean'), false);
      assert.deepEqual(attributeValue(row, 'shko_currency'), { kind: 'money', value: 100 });
      assert.deepEqual(attributeValue(row, 'shko_datetime'), { kind: 'dateTime', epochMs: 1697526000000 });
      assert.deepEqual(attributeValue(row, 'shko_choice'), { kind: 'optionSet', value: 342490000 });
      assert.deepEqual(attributeValue(row, 'shko_choices'), {
        kind: 'list',
        items: [
          { kind: 'optionSet', value: 342490001 },
          { kind: 'optionSet', value: 342490002 },
        ],
      });
      assert.deepEqual(
        attributeValue(row, 'shko_lookup'),
        reference('c7877889-0f5f-ee11-8def-000d3adbef1f', 'systemuser', null),
      );
      assert.equal(attributeValue(row, 'modifiedonbehalfby'), null);
      assert.equal(findKeyValue(row.formattedValues, 'shko_currency'), '\u00e2\u201a\u00ac100.00');
      assert.deepEqual(context.otherMembers?.Unknown, null);
      const parentTarget = target(context.parentContext ?? assert.fail('has a parent context'));
      const attendees = attributeValue(parentTarget, 'requiredattendees');
      assert.ok(attendees !== null && typeof attendees === 'object' && attendees.kind === 'list');
      const party = attendees.items[0];
      assert.ok(party !== null && typeof party === 'object' && party.kind === 'entity');
      assert.equal(party.logicalName, 'activityparty');
      assert.deepEqual(
        attributeValue(party, 'partyid'),
        reference('f0459662-7d02-f111-8407-7ced8d48fc4e', 'contact', null),
      );
    });

    it('update-activity-with-images: pre/post images, activity parties, a dated offset', () => {
      const context = load('update-activity-with-images');
      assert.equal(context.messageName, 'Update');
      assert.equal(context.primaryEntityName, 'new_customactivity');
      assert.equal(context.primaryEntityId, '841579d9-7e63-ef11-9e4a-00155d0001ea');
      assert.equal(context.stage, 40);
      assert.equal(context.mode, 1);
      assert.equal(context.depth, 1);
      assert.equal(context.correlationId, '3860c444-0576-4d79-9877-b0ca8e4e9bd4');
      assert.equal(context.requestId, '3123f7a7-784a-4523-809a-11d47f16313a');
      assert.deepEqual(context.operationCreatedOn, { kind: 'dateTime', epochMs: 1724647396000, offset: '+0300' });
      assert.deepEqual(changedColumns(context), [
        'activityid',
        'statecode',
        'statuscode',
        'modifiedon',
        'modifiedby',
        'modifiedonbehalfby',
      ]);
      const changes = new Map(columnChanges(context).map((change) => [change.column, change]));
      assert.deepEqual(changes.get('statecode'), {
        column: 'statecode',
        before: { kind: 'optionSet', value: 0 },
        after: { kind: 'optionSet', value: 3 },
      });
      assert.deepEqual(changes.get('statuscode'), {
        column: 'statuscode',
        before: { kind: 'optionSet', value: 1 },
        after: { kind: 'optionSet', value: 4 },
      });
      assert.deepEqual(changes.get('modifiedon'), {
        column: 'modifiedon',
        before: undefined,
        after: { kind: 'dateTime', epochMs: 1724658196000 },
      });

      const pre = image(context.preEntityImages, 'Image');
      assert.deepEqual(
        pre.attributes.map((a) => a.key),
        ['statecode', 'description', 'from', 'regardingobjectid', 'statuscode', 'subject', 'to'],
      );
      assert.equal(attributeValue(pre, 'description'), 'asdf');
      assert.deepEqual(
        attributeValue(pre, 'regardingobjectid'),
        reference('8b1579d9-7e63-ef11-9e4a-00155d0001ea', 'new_otherentity', 'Other entity name'),
      );
      const from = attributeValue(pre, 'from');
      assert.ok(from !== null && typeof from === 'object' && from.kind === 'entityCollection');
      assert.equal(from.entityName, 'activityparty');
      assert.equal(from.entities.length, 1);
      const sender = from.entities[0] ?? assert.fail('one sender');
      assert.equal(sender.id, '861579d9-7e63-ef11-9e4a-00155d0001ea');
      assert.equal(sender.rowVersion, '147059704');
      assert.deepEqual(
        attributeValue(sender, 'partyid'),
        reference('a76c0a41-4dec-ea11-a2d1-00155d04e323', 'contact', 'Some Contact'),
      );
      assert.equal(findKeyValue(sender.formattedValues, 'participationtypemask'), 'Sender');
      assert.equal(
        formatContextValue(attributeValue(pre, 'to')),
        '[queue(64b14206-8fbb-e611-80ef-005056bd19ee) "Queue Name"]',
      );

      const post = image(context.postEntityImages, 'AsynchronousStepPrimaryName');
      assert.equal(attributeValue(post, 'subject'), 'This is a subject');
      assert.equal(attributeValue(post, 'activityid'), '841579d9-7e63-ef11-9e4a-00155d0001ea');

      // The parent is the SetState behind the update: its input is an EntityMoniker, not a Target entity.
      const parent = context.parentContext ?? assert.fail('has a parent context');
      assert.equal(parent.stage, 30);
      assert.equal(targetEntity(parent), undefined);
      assert.deepEqual(changedColumns(parent), []);
      assert.deepEqual(
        findKeyValue(parent.inputParameters, 'EntityMoniker'),
        reference('841579d9-7e63-ef11-9e4a-00155d0001ea', 'new_customactivity', null),
      );
    });

    it('update-contact-docs-sample: the documented Update of contact', () => {
      const context = load('update-contact-docs-sample');
      assert.equal(context.messageName, 'Update');
      assert.equal(context.primaryEntityName, 'contact');
      assert.equal(context.primaryEntityId, '6d81597f-0f9f-e711-8122-000d3aa2331c');
      assert.equal(context.stage, 40);
      assert.equal(context.mode, 1);
      assert.equal(context.depth, 1);
      assert.equal(context.correlationId, 'aaaa0000-bb11-2222-33cc-444444dddddd');
      assert.equal(context.organizationName, 'OrgName');
      assert.equal(context.secondaryEntityName, 'none');
      assert.equal(context.requestId, null);
      assert.deepEqual(context.operationCreatedOn, { kind: 'dateTime', epochMs: 1506409448000, offset: '-0700' });
      assert.deepEqual(changedColumns(context), [
        'firstname',
        'contactid',
        'fullname',
        'yomifullname',
        'modifiedon',
        'modifiedby',
        'modifiedonbehalfby',
      ]);
      assert.equal(attributeValue(target(context), 'firstname'), 'James');
      assert.deepEqual(context.preEntityImages, []);
      const post = image(context.postEntityImages, 'AsynchronousStepPrimaryName');
      assert.equal(attributeValue(post, 'fullname'), 'James Glynn (sample)');
      assert.deepEqual(
        context.owningExtension,
        reference('75417616-4ea2-e711-8122-000d3aa2331c', 'sdkmessageprocessingstep', null),
      );
      const changed = findKeyValue(context.parentContext?.sharedVariables, 'ChangedEntityTypes');
      assert.ok(changed !== null && typeof changed === 'object' && changed.kind === 'list');
      assert.equal(changed.items.length, 14);
      assert.deepEqual(changed.items[0], {
        kind: 'opaque',
        json: { __type: 'KeyValuePairOfstringstring:#System.Collections.Generic', key: 'feedback', value: 'Update' },
      });
    });
  });

  describe('encodes in Dataverse shape', () => {
    for (const name of FIXTURES) {
      it(`${name}: decode then encode gives back the same body`, () => {
        const text = fixtureText(name);
        const encoded = encodeRemoteExecutionContext(parseRemoteExecutionContext(text));
        let expected = canonical(text);
        if (name === 'create-all-column-types') {
          // This fixture has one hand-added member out of order; the serializer writes it in ordinal order.
          assert.ok(expected.includes('"Depth":1,"Unknown":null,'));
          expected = expected
            .replace('"Depth":1,"Unknown":null,', '"Depth":1,')
            .replace('"Stage":40,"UserAzure', '"Stage":40,"Unknown":null,"UserAzure');
        }
        assert.equal(encoded, expected);
        assert.deepEqual(parseRemoteExecutionContext(encoded), parseRemoteExecutionContext(text));
      });
    }

    it('writes __type annotations, \\/Date(…)\\/ dates and escapes every /', () => {
      const encoded = encodeRemoteExecutionContext(load('update-contact-docs-sample'));
      assert.ok(encoded.startsWith('{"BusinessUnitId":"e2b9dd85-e89e-e711-8122-000d3aa2331c","CorrelationId":'));
      assert.ok(encoded.includes(`"value":{"__type":"Entity:${CONTRACTS}","Attributes":[{"key":"firstname"`));
      assert.ok(encoded.includes('"OperationCreatedOn":"\\/Date(1506409448000-0700)\\/"'));
      assert.ok(encoded.includes('{"key":"modifiedon","value":"\\/Date(1506384247000)\\/"}'));
      // Images are declared as Entity, so the serializer writes no __type for them.
      assert.ok(encoded.includes('"PostEntityImages":[{"key":"AsynchronousStepPrimaryName","value":{"Attributes":'));
      assert.doesNotMatch(encoded, /[^\\]\//);
    });

    // IPluginExecutionContext4 (Microsoft Learn, "Write plug-ins for CreateMultiple and UpdateMultiple"): one image
    // list per record of Targets. The real single-message bodies have no such member, so it is written only when set.
    it("models a bulk message's PreEntityImagesCollection and PostEntityImagesCollection, in member order", () => {
      const base = load('update-activity-with-images');
      const pre = base.preEntityImages ?? [];
      const post = base.postEntityImages ?? [];
      assert.ok(pre.length > 0 && post.length > 0);
      const bulk: RemoteExecutionContext = {
        ...base,
        messageName: 'UpdateMultiple',
        preEntityImagesCollection: [pre, []],
        postEntityImagesCollection: [post, post],
      };
      const encoded = encodeRemoteExecutionContext(bulk);
      const members = Object.keys(JSON.parse(encoded) as Record<string, unknown>);
      assert.deepEqual(
        members.filter((name) => name.includes('EntityImages')),
        ['PostEntityImages', 'PostEntityImagesCollection', 'PreEntityImages', 'PreEntityImagesCollection'],
      );
      const decoded = parseRemoteExecutionContext(encoded);
      assert.deepEqual(decoded.preEntityImagesCollection, [pre, []]);
      assert.deepEqual(decoded.postEntityImagesCollection, [post, post]);
      assert.deepEqual(decoded.otherMembers, base.otherMembers, 'modelled, not kept as an unknown member');
      assert.equal(encodeRemoteExecutionContext(decoded), encoded);
      assert.doesNotMatch(encodeRemoteExecutionContext(base), /EntityImagesCollection/);
    });

    it('leaves out what a trimmed (over 256 KB) body leaves out', () => {
      const full = load('update-contact-docs-sample');
      const trimmed: RemoteExecutionContext = {
        ...full,
        inputParameters: undefined,
        parentContext: undefined,
        preEntityImages: undefined,
        postEntityImages: undefined,
      };
      const encoded = JSON.parse(encodeRemoteExecutionContext(trimmed)) as Record<string, unknown>;
      for (const member of ['InputParameters', 'ParentContext', 'PreEntityImages', 'PostEntityImages']) {
        assert.equal(member in encoded, false, member);
      }
      const decoded = decodeRemoteExecutionContext(encoded);
      assert.equal(decoded.messageName, 'Update');
      assert.deepEqual(changedColumns(decoded), []);
    });

    it('round-trips any string value, slashes and non-ASCII included', () => {
      const base = load('update-contact-docs-sample');
      const entity = target(base);
      fc.assert(
        fc.property(fc.string({ unit: 'grapheme' }), fc.string({ unit: 'binary' }), (a, b) => {
          fc.pre(!/^\/Date\(/.test(a) && !/^\/Date\(/.test(b));
          const context: RemoteExecutionContext = {
            ...base,
            inputParameters: [
              {
                key: 'Target',
                value: {
                  ...entity,
                  attributes: [
                    { key: 'a', value: a },
                    { key: 'b', value: b },
                  ],
                },
              },
            ],
          };
          const decoded = parseRemoteExecutionContext(encodeRemoteExecutionContext(context));
          assert.deepEqual(changedColumns(decoded), ['a', 'b']);
          assert.equal(attributeValue(target(decoded), 'a'), a);
          assert.equal(attributeValue(target(decoded), 'b'), b);
        }),
        { numRuns: 50 },
      );
    });
  });

  describe('refuses what is not a context, naming the place', () => {
    const valid = (): Record<string, unknown> =>
      JSON.parse(fixtureText('update-contact-docs-sample')) as Record<string, unknown>;

    it('non-objects and malformed JSON', () => {
      rejects([], '$ should be an object');
      rejects('text', '$ should be an object');
      assert.throws(
        () => parseRemoteExecutionContext('{"MessageName": '),
        (error: unknown) => isWorkbenchError(error) && error.kind === 'invalidInput',
      );
    });

    it('missing or mistyped members', () => {
      rejects({ ...valid(), MessageName: undefined }, '$.MessageName should be a string');
      rejects({ ...valid(), Stage: '40' }, '$.Stage should be an integer');
      rejects({ ...valid(), Mode: 2 }, '$.Mode should be 0 (synchronous) or 1 (asynchronous)');
      rejects({ ...valid(), PrimaryEntityId: 'not-a-guid' }, '$.PrimaryEntityId should be a GUID');
      rejects({ ...valid(), OperationCreatedOn: '2024-01-01' }, '$.OperationCreatedOn should be a date');
    });

    it('a bad attribute deep in the Target', () => {
      const body = valid();
      const input = body.InputParameters as { value: { Attributes: unknown[] } }[];
      input[0]!.value.Attributes[1] = { key: 7, value: 'x' };
      rejects(body, '$.InputParameters[0].value.Attributes[1].key should be a string');
      const parent = valid();
      (parent.ParentContext as Record<string, unknown>).Depth = 1.5;
      rejects(parent, '$.ParentContext.Depth should be an integer');
    });
  });
});

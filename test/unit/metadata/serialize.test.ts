import assert from 'node:assert/strict';
import { isWorkbenchError } from '../../../src/core/errors';
import { parseCsdl } from '../../../src/metadata/csdl';
import { enrichModel } from '../../../src/metadata/entityDefinitions';
import {
  CACHE_FORMAT,
  CACHE_VERSION,
  deserializeModel,
  serializeModel,
  tryDeserializeModel,
} from '../../../src/metadata/serialize';
import { SAMPLE_CSDL, readSharedFixture, readSharedJson, realDataverseModel } from './fixtures';

function refusal(text: string): { problem: string; message: string } {
  const result = tryDeserializeModel(text);
  assert.ok(!result.ok, 'the cache should be refused');
  return { problem: result.problem, message: result.message };
}

/** The cache's header line and the entity types' members after it. */
function split(text: string): { header: string; body: string } {
  const newline = text.indexOf('\n');
  assert.ok(newline > 0);
  return { header: text.slice(0, newline), body: text.slice(newline + 1) };
}

describe('serializeModel / deserializeModel', () => {
  it('round-trips the full real model losslessly, in less than half the size of the XML', () => {
    const model = realDataverseModel();
    const text = serializeModel(model);
    assert.deepStrictEqual(deserializeModel(text), model);
    assert.ok(text.length < readSharedFixture('metadata/dataverse-v9.edmx.xml').length / 2);
  });

  it('round-trips an enriched model with its display names and option sets', () => {
    const { model } = enrichModel(realDataverseModel(), readSharedJson('entitydefinitions/account-metadata.json'));
    const back = deserializeModel(serializeModel(model));
    assert.deepStrictEqual(back, model);
    const industry = back.entityTypes.get('account')?.properties.find((p) => p.name === 'industrycode');
    assert.equal(industry?.info?.options?.[0]?.label, 'Accounting');
  });

  it("round-trips status reasons with their states and EntityDefinitions' alternate keys with names and status", () => {
    const opportunity = enrichModel(
      realDataverseModel(),
      readSharedJson('entitydefinitions/opportunity-metadata.json'),
    );
    const { model } = enrichModel(opportunity.model, {
      LogicalName: 'customapirequestparameter',
      Keys: [
        { LogicalName: 'ak_unique', KeyAttributes: ['uniquename', 'customapiid'], EntityKeyIndexStatus: 'Pending' },
      ],
    });
    const back = deserializeModel(serializeModel(model));
    assert.deepStrictEqual(back, model);
    const status = back.entityTypes.get('opportunity')?.properties.find((p) => p.name === 'statuscode');
    assert.equal(status?.info?.options?.[2]?.state, 1);
    assert.deepEqual(back.entityTypes.get('customapirequestparameter')?.alternateKeys, [
      { columns: ['uniquename', '_customapiid_value'], name: 'ak_unique', status: 'Pending' },
    ]);
  });

  it('round-trips facets, complex navigation, flags and overloads of a hand-written model', () => {
    const { model } = parseCsdl(SAMPLE_CSDL);
    assert.deepStrictEqual(deserializeModel(serializeModel(model)), model);
  });

  it('refuses text that is not JSON or not a cache', () => {
    assert.deepEqual(refusal('<edmx:Edmx/>'), {
      problem: 'corrupt',
      message: 'The metadata cache is not valid JSON.',
    });
    assert.equal(refusal('[1,2]').problem, 'corrupt');
    assert.equal(refusal('{"format":"something-else","version":1}').problem, 'corrupt');
  });

  it('refuses a cache of another format version as such', () => {
    const old = JSON.stringify({ format: CACHE_FORMAT, version: CACHE_VERSION - 1, entityTypes: 'whatever' });
    const { problem, message } = refusal(old);
    assert.equal(problem, 'version');
    assert.equal(
      message,
      `The metadata cache has format version ${CACHE_VERSION - 1}; this version reads only ${CACHE_VERSION}.`,
    );
  });

  it('names the record and field of a corrupt cache', () => {
    const { header, body } = split(serializeModel(parseCsdl(SAMPLE_CSDL).model));
    const document = JSON.parse(header) as { entitySets: unknown[][] };
    (document.entitySets[1] as unknown[])[1] = 42;
    assert.deepEqual(refusal(`${JSON.stringify(document)}\n${body}`), {
      problem: 'corrupt',
      message:
        'The metadata cache is corrupt: entitySets[1]: an entity set type should be a string or an entity type index.',
    });
  });

  it('names the entity type whose members are corrupt when they are first read', () => {
    const text = serializeModel(parseCsdl(SAMPLE_CSDL).model);
    // Same length, so only decoding the members can tell.
    const corrupt = text.replace('["name","Edm.String"', '["name",123456789012');
    assert.notEqual(corrupt, text);
    const result = tryDeserializeModel(corrupt);
    assert.ok(result.ok, 'the header is intact');
    const customer = result.model.entityTypes.get('customer');
    assert.ok(customer);
    assert.equal(result.model.entityTypes.get('order')?.properties[0]?.name, 'orderid');
    assert.throws(
      () => customer.properties,
      (error: unknown) =>
        isWorkbenchError(error) &&
        error.kind === 'invalidInput' &&
        error.message ===
          'The metadata cache is corrupt: entityTypes[2] (customer): a property type should be a string.',
    );
  });

  it('refuses out-of-range flags, duplicate names, members of the wrong length and a truncated file', () => {
    const text = serializeModel(parseCsdl(SAMPLE_CSDL).model);
    const { header, body } = split(text);
    const document = JSON.parse(header) as { entityTypes: unknown[][]; entitySets: unknown[][] };
    const flags = structuredClone(document);
    (flags.entityTypes[0] as unknown[])[1] = 16;
    assert.match(
      refusal(`${JSON.stringify(flags)}\n${body}`).message,
      /entityTypes\[0\]: entity type flags should be an integer from 0 to 15/,
    );
    const duplicate = structuredClone(document);
    duplicate.entitySets.push(['orders', 'Contoso.Sales.order']);
    assert.match(refusal(`${JSON.stringify(duplicate)}\n${body}`).message, /Entity set 'orders' appears twice/);
    const length = structuredClone(document);
    (length.entityTypes[1] as unknown[])[2] = Number((length.entityTypes[1] as unknown[])[2]) + 1;
    assert.match(refusal(`${JSON.stringify(length)}\n${body}`).message, /entityTypes\[1\]: the members length/);
    assert.equal(refusal(text.slice(0, text.length - 10)).problem, 'corrupt');
    assert.equal(refusal(`${text}[]`).problem, 'corrupt');
    assert.equal(refusal(header).problem, 'corrupt');
  });

  it("refuses a wrong length of a complex type's members or an operation's details at load", () => {
    const { header, body } = split(serializeModel(parseCsdl(SAMPLE_CSDL).model));
    const document = JSON.parse(header) as { complexTypes: unknown[][]; operations: unknown[][] };
    assert.ok(document.complexTypes.length > 0 && document.operations.length > 0);
    const complex = structuredClone(document);
    (complex.complexTypes[0] as unknown[])[3] = Number((complex.complexTypes[0] as unknown[])[3]) + 1;
    assert.match(refusal(`${JSON.stringify(complex)}\n${body}`).message, /complexTypes\[0\]: the members length/);
    const operation = structuredClone(document);
    (operation.operations[0] as unknown[])[1] = Number((operation.operations[0] as unknown[])[1]) - 1;
    assert.match(refusal(`${JSON.stringify(operation)}\n${body}`).message, /operations\[0\]: the details length/);
  });

  it('throws a WorkbenchError of kind invalidInput from deserializeModel', () => {
    assert.throws(
      () => deserializeModel('not json'),
      (error: unknown) =>
        isWorkbenchError(error) && error.kind === 'invalidInput' && /not valid JSON/.test(error.message),
    );
  });
});

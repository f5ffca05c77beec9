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
    assert.match(message, /format version 0; this version reads only 1/);
  });

  it('names the record and field of a corrupt cache', () => {
    const document = JSON.parse(serializeModel(parseCsdl(SAMPLE_CSDL).model)) as { entityTypes: unknown[][] };
    const customer = document.entityTypes[2];
    assert.ok(customer);
    (customer[4] as unknown[][])[0] = ['name', 42, 1];
    assert.deepEqual(refusal(JSON.stringify(document)), {
      problem: 'corrupt',
      message: 'The metadata cache is corrupt: entityTypes[2]: a property type should be a string.',
    });
  });

  it('refuses out-of-range flags, duplicate names and a truncated file', () => {
    const text = serializeModel(parseCsdl(SAMPLE_CSDL).model);
    const document = JSON.parse(text) as { entityTypes: unknown[][]; entitySets: unknown[][] };
    const flags = structuredClone(document);
    (flags.entityTypes[0] as unknown[])[2] = 7;
    assert.match(
      refusal(JSON.stringify(flags)).message,
      /entityTypes\[0\]: entity type flags should be an integer from 0 to 3/,
    );
    const duplicate = structuredClone(document);
    duplicate.entitySets.push(['orders', 'Contoso.Sales.order']);
    assert.match(refusal(JSON.stringify(duplicate)).message, /Entity set 'orders' appears twice/);
    assert.equal(refusal(text.slice(0, text.length - 10)).problem, 'corrupt');
  });

  it('throws a WorkbenchError of kind invalidInput from deserializeModel', () => {
    assert.throws(
      () => deserializeModel('not json'),
      (error: unknown) =>
        isWorkbenchError(error) && error.kind === 'invalidInput' && /not valid JSON/.test(error.message),
    );
  });
});

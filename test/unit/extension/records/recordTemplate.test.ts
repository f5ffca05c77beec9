import * as assert from 'node:assert/strict';
import { createBody, recordTemplate } from '../../../../src/extension/records/recordTemplate';
import { parseCsdl } from '../../../../src/metadata/csdl';
import { enrichModel } from '../../../../src/metadata/entityDefinitions';
import { SAMPLE_CSDL } from '../../metadata/fixtures';

// recordTemplate.ts imports no `vscode`: the template a new record starts from is checked in plain Node.
describe('new record template', () => {
  const base = parseCsdl(SAMPLE_CSDL).model;
  const required = (level: string) => ({ Value: level });
  const enriched = enrichModel(base, {
    LogicalName: 'customer',
    PrimaryNameAttribute: 'name',
    Attributes: [
      { LogicalName: 'partyid', AttributeType: 'Uniqueidentifier', RequiredLevel: required('SystemRequired') },
      { LogicalName: 'name', AttributeType: 'String', RequiredLevel: required('ApplicationRequired') },
      { LogicalName: 'notes', AttributeType: 'Memo', RequiredLevel: required('Recommended') },
      { LogicalName: 'creditlimit', AttributeType: 'Money', RequiredLevel: required('SystemRequired') },
      { LogicalName: 'revenue', AttributeType: 'Decimal', RequiredLevel: required('None') },
      { LogicalName: 'parentid', AttributeType: 'Lookup', RequiredLevel: required('ApplicationRequired') },
    ],
  }).model;

  it('holds the required columns with placeholders by type, lookups as a bind hint, not the key', () => {
    assert.deepEqual(recordTemplate(enriched, { entitySet: 'customers', primaryName: undefined }), {
      name: '',
      creditlimit: 0,
      'parentid@odata.bind': '/customers(<id>)',
    });
  });

  it('holds the primary name column when nothing is enriched, typed from CSDL', () => {
    assert.deepEqual(recordTemplate(base, { entitySet: 'customers', primaryName: 'name' }), { name: '' });
    assert.deepEqual(recordTemplate(base, { entitySet: 'customers', primaryName: 'creditlimit' }), { creditlimit: 0 });
    assert.deepEqual(recordTemplate(base, { entitySet: 'nothere', primaryName: 'name' }), {});
  });

  it('refuses a bind still holding the placeholder, drops null binds and annotations', () => {
    const refused = createBody({ name: 'A', 'parentid@odata.bind': '/customers(<id>)' });
    assert.equal(refused.ok, false);
    assert.match(refused.ok ? '' : refused.message, /in "parentid@odata.bind"/);
    assert.deepEqual(
      createBody({ name: 'A', 'parentid@odata.bind': null, '@odata.etag': 'W/"1"', 'other@odata.bind': '/x(1)' }),
      { ok: true, body: { name: 'A', 'other@odata.bind': '/x(1)' } },
    );
  });
});

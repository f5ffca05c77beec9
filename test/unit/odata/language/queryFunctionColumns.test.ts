import * as assert from 'node:assert/strict';
import { parseDocument } from '../../../../src/odata/document/parser';
import { getCompletions } from '../../../../src/odata/language/completion';
import { documentDiagnostics } from '../../../../src/odata/language/diagnostics';
import { getHover } from '../../../../src/odata/language/hover';
import { lookupLogicalName } from '../../../../src/metadata/columnNames';
import { queryFunctionColumn, queryFunctionColumnNames } from '../../../../src/odata/language/queryFunctionColumns';
import { realMetadata } from './metadata';

function errors(text: string): string[] {
  return documentDiagnostics(parseDocument(text), { metadata: realMetadata() })
    .filter((d) => d.severity === 'error')
    .map((d) => `${d.code}@${text.slice(d.span.start, d.span.end)}`);
}

function items(source: string) {
  const offset = source.indexOf('|');
  const text = source.slice(0, offset) + source.slice(offset + 1);
  return getCompletions(parseDocument(text), text, offset, { metadata: realMetadata() })?.items ?? [];
}

describe('query function columns (PropertyName takes logical names)', function () {
  this.timeout(30000);
  before(() => realMetadata());

  it('knows the logical name of a lookup property', () => {
    assert.equal(lookupLogicalName('_ownerid_value'), 'ownerid');
    assert.equal(lookupLogicalName('_parentcustomerid_value'), 'parentcustomerid');
    assert.equal(lookupLogicalName('ownerid'), undefined);
    assert.equal(lookupLogicalName('name'), undefined);
  });

  // "Return records owned by the calling user": $filter=Microsoft.Dynamics.CRM.EqualUserId(PropertyName='ownerid')
  // https://learn.microsoft.com/power-apps/developer/data-platform/webapi/reference/equaluserid and
  // https://learn.microsoft.com/power-apps/developer/data-platform/webapi/query/filter-rows#dataverse-query-functions
  it("lets the documented EqualUserId(PropertyName='ownerid') through: ownerid is the lookup's logical name", () => {
    assert.deepEqual(
      errors("GET opportunities?$filter=Microsoft.Dynamics.CRM.EqualUserId(PropertyName='ownerid')"),
      [],
    );
    assert.deepEqual(errors("GET tasks?$filter=Microsoft.Dynamics.CRM.NotEqualUserId(PropertyName='ownerid')"), []);
  });

  // In: PropertyName='<logical name>', PropertyValues=[...]
  // https://learn.microsoft.com/power-apps/developer/data-platform/webapi/reference/in
  it("lets In(PropertyName='parentcustomerid',...) through: a multi-table lookup has no navigation property of that name", () => {
    const guids = "['00000000-0000-0000-0000-000000000001','00000000-0000-0000-0000-000000000002']";
    assert.deepEqual(
      errors(`GET contacts?$filter=Microsoft.Dynamics.CRM.In(PropertyName='parentcustomerid',PropertyValues=${guids})`),
      [],
    );
    assert.deepEqual(
      errors("GET contacts?$filter=Microsoft.Dynamics.CRM.In(PropertyName='lastname',PropertyValues=['a','b'])"),
      [],
    );
  });

  it('flags the _x_value form with a fix to the logical name, and unknown names with suggestions', () => {
    const text = "GET opportunities?$filter=Microsoft.Dynamics.CRM.EqualUserId(PropertyName='_ownerid_value')";
    const [diagnostic] = documentDiagnostics(parseDocument(text), { metadata: realMetadata() });
    assert.equal(diagnostic?.code, 'lookupPropertyInQueryFunction');
    assert.equal(text.slice(diagnostic.span.start, diagnostic.span.end), '_ownerid_value');
    assert.equal(diagnostic.fixes[0]?.edits[0]?.newText, 'ownerid');
    const unknown = queryFunctionColumn(realMetadata(), realMetadata().entityType('contact')!, 'parentcustomer');
    assert.equal(unknown.kind, 'unknown');
    assert.ok(unknown.kind === 'unknown' && unknown.suggestions.includes('parentcustomerid'), JSON.stringify(unknown));
  });

  it('completes logical names inside PropertyName, lookups by their own name, never as _x_value', () => {
    const offered = items("GET contacts?$filter=Microsoft.Dynamics.CRM.In(PropertyName='|");
    const labels = offered.map((i) => i.label);
    assert.ok(labels.includes('parentcustomerid'));
    assert.ok(labels.includes('ownerid'));
    assert.ok(labels.includes('lastname'));
    assert.ok(!labels.some((l) => l.startsWith('_') && l.endsWith('_value')));
    assert.equal(offered.find((i) => i.label === 'parentcustomerid')?.kind, 'lookup');
    assert.deepEqual(
      labels.slice().sort(),
      queryFunctionColumnNames(realMetadata(), realMetadata().entityType('contact')!).sort(),
    );
  });

  it('hovers a lookup named by its logical name as its lookup column', () => {
    const text = "GET opportunities?$filter=Microsoft.Dynamics.CRM.EqualUserId(PropertyName='ownerid')";
    const hover = getHover(parseDocument(text), text.indexOf('ownerid') + 2, { metadata: realMetadata() });
    assert.match(hover?.markdown ?? '', /_ownerid_value/);
  });
});

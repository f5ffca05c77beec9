import * as assert from 'node:assert/strict';
import { parseDocument } from '../../../../src/odata/document/parser';
import { getHover } from '../../../../src/odata/language/hover';
import { realMetadata } from './metadata';

function hover(source: string, withMetadata = true): { covered: string; markdown: string } | undefined {
  const offset = source.indexOf('|');
  const text = source.slice(0, offset) + source.slice(offset + 1);
  const result = getHover(parseDocument(text), offset, { metadata: withMetadata ? realMetadata() : undefined });
  return result && { covered: text.slice(result.span.start, result.span.end), markdown: result.markdown };
}

describe('hover', function () {
  this.timeout(30000);
  before(() => realMetadata());

  it('shows the column type and its table', () => {
    const result = hover('GET accounts?$select=na|me');
    assert.equal(result?.covered, 'name');
    assert.match(result.markdown, /Type: `Edm\.String`/);
    assert.match(result.markdown, /column of `account`/);
    assert.match(hover('GET accounts?$filter=reven|ue gt 5')!.markdown, /Edm\.Decimal/);
  });

  it('shows a lookup by its logical name with its Web API name, on bare CSDL too', () => {
    const result = hover('GET accounts?$select=_primarycontactid_va|lue');
    assert.equal(result?.covered, '_primarycontactid_value');
    assert.match(result.markdown, /^\*\*primarycontactid\*\* — column of `account`/);
    assert.match(result.markdown, /Web API name: `_primarycontactid_value`/);
    assert.match(result.markdown, /Type: `Edm\.Guid`/);
  });

  it('shows the logical name behind an entity set', () => {
    const result = hover('GET acc|ounts');
    assert.equal(result?.covered, 'accounts');
    assert.match(result.markdown, /table `account`/);
  });

  it('shows navigation targets, also in nested $expand', () => {
    const result = hover('GET accounts?$expand=primarycontactid($expand=parentcustomerid_acc|ount)');
    assert.match(result!.markdown, /Single `account`/);
  });

  it('shows query function signatures, even without metadata', () => {
    const result = hover(
      "GET accounts?$filter=Microsoft.Dynamics.CRM.LastX|Days(PropertyName='createdon',PropertyValue=7)",
      false,
    );
    assert.equal(result?.covered, 'Microsoft.Dynamics.CRM.LastXDays');
    assert.match(result.markdown, /PropertyName='column',PropertyValue=value/);
  });

  it('shows variable values', () => {
    assert.match(hover('@top = 5\nGET accounts?$top={{t|op}}', false)!.markdown, /`5`/);
  });
});

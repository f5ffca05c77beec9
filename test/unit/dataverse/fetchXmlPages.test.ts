import assert from 'node:assert/strict';
import { fetchXmlColumns, fetchXmlOf, nextFetchPath, withPage } from '../../../src/dataverse/fetchXmlPages';

// Microsoft Learn, "Page results using FetchXml": the answer's cookie is
// `<cookie pagenumber="2" pagingcookie="%253ccookie%2520page%253d%25221%2522%253e…" istracking="False" />`; its
// pagingcookie attribute, URL-decoded twice, goes XML-escaped into the next request's <fetch paging-cookie>.
describe('FetchXML paging', () => {
  const inner = '<cookie page="1"><accountid last="{B}" first="{A}" /></cookie>';
  const annotation = `<cookie pagenumber="2" pagingcookie="${encodeURIComponent(encodeURIComponent(inner))}" istracking="False" />`;

  it('sets page and paging-cookie on the root fetch, replacing earlier ones, and keeps the rest', () => {
    const xml = '<fetch count="5" page="1" paging-cookie="old" mapping=\'a>b\'><entity name="account" /></fetch>';
    const next = withPage(xml, 2, inner);
    assert.equal(
      next,
      `<fetch count="5" mapping='a>b' page="2" paging-cookie="&lt;cookie page=&quot;1&quot;&gt;&lt;accountid last=&quot;{B}&quot; first=&quot;{A}&quot; /&gt;&lt;/cookie&gt;"><entity name="account" /></fetch>`,
    );
  });

  it('builds the next path from the cookie, and reads its FetchXML back', () => {
    const path = `accounts?fetchXml=${encodeURIComponent('<fetch count="5"><entity name="account" /></fetch>')}`;
    const next = nextFetchPath(path, annotation);
    assert.ok(next !== undefined && next.startsWith('accounts?fetchXml='));
    assert.equal(
      fetchXmlOf(next),
      '<fetch count="5" page="2" paging-cookie="&lt;cookie page=&quot;1&quot;&gt;&lt;accountid last=&quot;{B}&quot; first=&quot;{A}&quot; /&gt;&lt;/cookie&gt;"><entity name="account" /></fetch>',
    );
    assert.equal(nextFetchPath('accounts?$select=name', annotation), undefined);
  });

  it('names the columns a fetch answers with: lookups as _x_value, link-entity ones with their alias', () => {
    const xml =
      '<fetch><entity name="account"><attribute name="name" /><attribute name="parentaccountid" />' +
      '<link-entity name="contact" from="contactid" to="primarycontactid" alias="pc"><attribute name="fullname" />' +
      '</link-entity><attribute name="revenue" alias="money" /></entity></fetch>';
    assert.deepEqual(
      fetchXmlColumns(xml, (name) => name === 'parentaccountid'),
      ['name', '_parentaccountid_value', 'pc.fullname', 'money'],
    );
    assert.equal(
      fetchXmlColumns('<fetch><entity name="account"><all-attributes /></entity></fetch>', () => false),
      undefined,
    );
    assert.throws(() => fetchXmlColumns('<fetch><entity', () => false), /not valid/);
  });
});

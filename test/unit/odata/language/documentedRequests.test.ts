import * as assert from 'node:assert/strict';
import { parseDocument } from '../../../../src/odata/document/parser';
import { documentDiagnostics } from '../../../../src/odata/language/diagnostics';
import { realMetadata } from './metadata';

const ID = '00000000-0000-0000-0000-000000000001';
const LEARN = 'https://learn.microsoft.com/power-apps/developer/data-platform/webapi';

/**
 * Every diagnostic that blocks Run (severity error) with, beside a request it refuses, the documented
 * request of the same shape it must let through, checked on a real organization's metadata. A new
 * error code gets its row here.
 */
const RULES: readonly { code: string; refused: string; documented: string; page: string }[] = [
  {
    code: 'unknownEntitySet',
    refused: 'GET acounts?$select=name',
    documented: 'GET accounts?$select=name,revenue&$top=1',
    page: `${LEARN}/query/select-columns`,
  },
  {
    code: 'unknownColumn',
    refused: 'GET accounts?$select=name,revenu',
    documented: 'GET accounts?$select=name,revenue,_primarycontactid_value',
    page: `${LEARN}/query/select-columns`,
  },
  {
    code: 'unknownMember',
    refused: `GET accounts(${ID})/primarycontact`,
    documented: `GET accounts(${ID})/primarycontactid?$select=fullname`,
    page: `${LEARN}/retrieve-related-entities-query`,
  },
  {
    code: 'unknownNavigation',
    refused: 'GET accounts?$expand=primarycontact($select=fullname)',
    documented: 'GET accounts?$select=name&$expand=primarycontactid($select=contactid,fullname)',
    page: `${LEARN}/query/join-tables`,
  },
  {
    code: 'navigationInSelect',
    refused: 'GET accounts?$select=primarycontactid',
    documented: 'GET accounts?$select=_primarycontactid_value',
    page: `${LEARN}/query/select-columns`,
  },
  {
    code: 'notNavigation',
    refused: 'GET accounts?$expand=name',
    documented: 'GET accounts?$expand=Account_Tasks($select=subject)',
    page: `${LEARN}/query/join-tables`,
  },
  {
    code: 'expandOptionOnSingle',
    refused: 'GET accounts?$expand=primarycontactid($top=1)',
    documented: 'GET accounts?$expand=Account_Tasks($select=subject;$orderby=createdon desc;$top=5)',
    page: `${LEARN}/query/join-tables`,
  },
  {
    code: 'typeMismatch',
    refused: "GET accounts?$filter=revenue gt 'x'",
    documented: `GET accounts?$filter=revenue gt 100000 and _primarycontactid_value eq ${ID}`,
    page: `${LEARN}/query/filter-rows`,
  },
  {
    code: 'keyType',
    refused: 'GET accounts(123)',
    documented: `GET accounts(${ID})?$select=name`,
    page: `${LEARN}/retrieve-entity-using-web-api`,
  },
  {
    code: 'lookupPropertyInQueryFunction',
    refused: "GET opportunities?$filter=Microsoft.Dynamics.CRM.EqualUserId(PropertyName='_ownerid_value')",
    documented: "GET opportunities?$filter=Microsoft.Dynamics.CRM.EqualUserId(PropertyName='ownerid')",
    page: `${LEARN}/reference/equaluserid`,
  },
  {
    code: 'lookupInBody',
    refused: `POST contacts\nContent-Type: application/json\n\n{ "lastname": "x", "_parentcustomerid_value": "${ID}" }`,
    documented: `POST contacts\nContent-Type: application/json\n\n{ "lastname": "x", "parentcustomerid_account@odata.bind": "/accounts(${ID})" }`,
    page: `${LEARN}/create-entity-web-api`,
  },
  {
    code: 'unsupportedOption',
    refused: 'GET accounts?$skip=10',
    documented: 'GET accounts?$select=name&$top=10&$count=true',
    page: `${LEARN}/query/page-results`,
  },
  {
    code: 'urlTooLong',
    refused: `GET accounts?$filter=${Array.from({ length: 1500 }, (_, i) => `name eq 'account ${i}'`).join(' or ')}`,
    documented: `POST $batch\n\nGET accounts?$filter=${Array.from({ length: 1500 }, (_, i) => `name eq 'account ${i}'`).join(' or ')}`,
    page: `${LEARN}/execute-batch-operations-using-web-api`,
  },
  {
    code: 'batchHeader',
    refused: 'POST $batch\nIf-Match: *\n\nGET accounts?$top=1',
    documented: 'POST $batch\nPrefer: odata.continue-on-error\n\nGET accounts?$top=1',
    page: `${LEARN}/execute-batch-operations-using-web-api`,
  },
  {
    code: 'undefinedVariable',
    refused: 'GET accounts({{accountid}})',
    documented: `@accountid = ${ID}\nGET accounts({{accountid}})?$select=name`,
    page: `${LEARN}/retrieve-entity-using-web-api`,
  },
  {
    code: 'requestNotAbove',
    refused: `GET accounts({{created.id}})\n###\n# @name created\nPOST accounts\nContent-Type: application/json\n\n{ "name": "x" }`,
    documented: `# @name created\nPOST accounts\nContent-Type: application/json\n\n{ "name": "x" }\n###\nGET accounts({{created.id}})?$select=name`,
    page: `${LEARN}/create-entity-web-api`,
  },
];

function errorCodes(text: string): string[] {
  return documentDiagnostics(parseDocument(text), { metadata: realMetadata() })
    .filter((d) => d.severity === 'error')
    .map((d) => d.code);
}

describe('errors that block Run, each beside the documented request it lets through (real metadata)', function () {
  this.timeout(30000);
  before(() => realMetadata());

  for (const rule of RULES) {
    it(`${rule.code}: refuses its case, lets through ${rule.page}`, () => {
      assert.ok(errorCodes(rule.refused).includes(rule.code), `${rule.code} not reported: ${rule.refused}`);
      assert.deepEqual(errorCodes(rule.documented), [], rule.documented);
    });
  }

  // Properties of complex type BooleanManagedProperty (`iscustomizable`): selected whole, compared through `Value`
  // (https://learn.microsoft.com/power-apps/developer/data-platform/webapi/reference/booleanmanagedproperty), written
  // as an object.
  it('lets through $select and $filter on a managed property (iscustomizable/Value) and writing it as an object', () => {
    for (const request of [
      'GET workflows?$select=name,iscustomizable&$filter=iscustomizable/Value eq true',
      'GET savedqueries?$select=name&$filter=iscustomizable/Value eq false and iscustomizable/CanBeChanged eq true&$orderby=name',
      `PATCH webresourceset(${ID})\nContent-Type: application/json\n\n{ "iscustomizable": { "Value": false } }`,
    ]) {
      assert.deepEqual(errorCodes(request), [], request);
    }
  });

  it("reports an unknown member of a managed property, with the complex type's members as did-you-mean", () => {
    // BooleanManagedProperty has Value, CanBeChanged and ManagedPropertyLogicalName (the page above); ODataLib
    // refuses any other member of a complex type.
    const text = 'GET workflows?$select=name&$filter=iscustomizable/Valu eq true';
    const [diagnostic, ...rest] = documentDiagnostics(parseDocument(text), { metadata: realMetadata() });
    assert.equal(rest.length, 0);
    assert.equal(diagnostic?.code, 'unknownColumn');
    assert.equal(diagnostic.severity, 'error');
    assert.match(diagnostic.message, /Unknown member 'Valu' of BooleanManagedProperty\. Did you mean 'Value'/);
    // Value is Edm.Boolean: a string compared with it is the typeMismatch any Boolean column gets.
    assert.deepEqual(errorCodes("GET workflows?$filter=iscustomizable/Value eq 'yes'"), ['typeMismatch']);
    assert.deepEqual(errorCodes("GET workflows?$filter=iscustomizable/ManagedPropertyLogicalName eq 'x'"), []);
  });
});

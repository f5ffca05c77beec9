import * as assert from 'node:assert/strict';
import { parseDocument } from '../../../../src/odata/document/parser';
import { documentDiagnostics, MAX_URL_LENGTH } from '../../../../src/odata/language/diagnostics';
import type { LanguageDiagnostic } from '../../../../src/odata/language/types';
import { realMetadata } from './metadata';

function check(text: string, withMetadata = true, environmentVariables?: string[]): LanguageDiagnostic[] {
  return documentDiagnostics(parseDocument(text), {
    metadata: withMetadata ? realMetadata() : undefined,
    environmentVariables,
  });
}

/** `code@covered text` for each diagnostic: asserts the exact range. */
function located(text: string, withMetadata = true): string[] {
  return check(text, withMetadata).map((d) => `${d.code}@${text.slice(d.span.start, d.span.end)}`);
}

describe('diagnostics', function () {
  this.timeout(30000);
  before(() => realMetadata());

  it('gives the same diagnostics whether URL trees are kept or dropped block by block (dvw check)', () => {
    const text = '### a\nGET accounts?$select=revenu&$filter=(name eq 1\n### b\nPOST $batch\n\nGET contcts\n';
    const kept = parseDocument(text);
    const once = parseDocument(text);
    const keptDiagnostics = documentDiagnostics(kept, { metadata: realMetadata() });
    assert.deepEqual(documentDiagnostics(once, { metadata: realMetadata(), keepUrlTrees: false }), keptDiagnostics);
    assert.deepEqual(
      keptDiagnostics.map((d) => d.code),
      ['unknownColumn', 'missingCloseParen', 'typeMismatch', 'unknownEntitySet'],
    );
    const url = (document: typeof kept): unknown => document.blocks[0]!.request!.url.tree;
    assert.equal(url(kept), url(kept), 'an editor keeps the tree it parsed for the next edit');
    const before = url(once);
    documentDiagnostics(once, { keepUrlTrees: false });
    assert.notEqual(url(once), before, 'a one-time pass drops each tree once its block is checked');
  });

  it('reports unknown entity sets, columns and navigation properties with a did-you-mean fix', () => {
    const text = 'GET acounts\n###\nGET accounts?$select=name,revenu&$expand=primarycontact($select=fulname)\n';
    const diagnostics = check(text);
    assert.deepEqual(
      diagnostics.map((d) => `${d.code}@${text.slice(d.span.start, d.span.end)}`),
      ['unknownEntitySet@acounts', 'unknownColumn@revenu', 'unknownNavigation@primarycontact'],
    );
    const column = diagnostics[1]!;
    assert.match(column.message, /Did you mean 'revenue'/);
    assert.deepEqual(column.fixes[0]?.edits, [{ span: column.span, newText: 'revenue' }]);
    assert.equal(diagnostics[0]!.fixes[0]?.edits[0]?.newText, 'accounts');
  });

  it('checks nested $expand options against the target type', () => {
    assert.deepEqual(located('GET accounts?$expand=primarycontactid($select=fulname;$top=2)'), [
      'unknownColumn@fulname',
      'expandOptionOnSingle@$top',
    ]);
    assert.deepEqual(located('GET accounts?$expand=Account_Tasks($select=subject;$top=2)'), []);
  });

  it('suggests the lookup column for a navigation property in $select, and case fixes', () => {
    assert.deepEqual(located('GET accounts?$select=primarycontactid'), ['navigationInSelect@primarycontactid']);
    const [fix] = check('GET accounts?$select=primarycontactid')[0]!.fixes;
    assert.equal(fix?.edits[0]?.newText, '_primarycontactid_value');
    assert.match(check('GET Accounts')[0]!.message, /case-sensitive: 'accounts'/);
  });

  it('reports $filter type mismatches between columns and literals', () => {
    assert.deepEqual(
      located(
        "GET accounts?$filter=revenue gt 'big' and name eq 5 and accountid eq 7 and createdon gt '2024-01-01' and donotemail eq 1",
      ),
      ["typeMismatch@'big'", 'typeMismatch@5', 'typeMismatch@7', "typeMismatch@'2024-01-01'", 'typeMismatch@1'],
    );
    assert.deepEqual(
      located(
        "GET accounts?$filter=revenue gt 5 and name eq 'x' and accountid eq 00000000-0000-0000-0000-000000000001 and _primarycontactid_value eq '00000000-0000-0000-0000-000000000001' and createdon gt 2024-01-01 and name ne null",
      ),
      [],
    );
    assert.deepEqual(located("GET accounts?$filter=Account_Tasks/any(t:t/subjec eq 'x')"), ['unknownColumn@subjec']);
  });

  it('reports options Dataverse rejects as errors, and $top with paging preferences', () => {
    const diagnostics = check('GET accounts?$skip=1&$search=x&$format=json');
    assert.deepEqual(
      diagnostics.map((d) => [d.code, d.severity]),
      [
        ['unsupportedOption', 'error'],
        ['unsupportedOption', 'error'],
        ['unsupportedOption', 'error'],
      ],
    );
    assert.deepEqual(located('GET accounts?$top=5\nPrefer: odata.maxpagesize=10'), ['topWithPaging@$top']);
  });

  it('reports URLs longer than Dataverse accepts, suggesting $batch', () => {
    const long = `GET accounts?$filter=${Array.from({ length: 2000 }, (_, i) => `name eq 'n${i}'`).join(' or ')}`;
    assert.ok(long.length > MAX_URL_LENGTH);
    const [diagnostic] = check(long, false);
    assert.equal(diagnostic?.code, 'urlTooLong');
    assert.match(diagnostic.message, /\$batch/);
    const inBatch = `POST $batch\n\n${long}\n`;
    assert.deepEqual(
      check(inBatch, false).map((d) => d.code),
      [],
      'a batch allows 64 KB',
    );
  });

  it('accepts optional-parameter and impersonation headers on a $batch request, and refuses the client’s own there', () => {
    const body = '\nBEGIN CHANGESET\nPOST accounts\n\n{ "name": "a" }\nEND CHANGESET\n';
    const accepted = [
      'POST $batch',
      'OData-MaxVersion: 4.0',
      'OData-Version: 4.0',
      'If-None-Match: null',
      'Accept: application/json',
      'Prefer: odata.continue-on-error, odata.maxpagesize=10',
      'MSCRM.BypassCustomPluginExecution: true',
      'MSCRM.BypassBusinessLogicExecution: CustomSync',
      'MSCRM.SuppressDuplicateDetection: false',
      'MSCRM.SolutionUniqueName: ExampleSolution',
      'CallerObjectId: e39c5d16-675b-48d1-8e67-667427e9c084',
      'MSCRMCallerID: 75df116d-d9da-e711-a94b-000d3a34ed47',
      'Consistency: Strong',
      'OData-Version: {{version}}',
      body,
    ].join('\n');
    assert.deepEqual(located(accepted, false), ['undefinedVariable@version']);
    const refused = `POST $batch\nAuthorization: Bearer x\nOData-Version: 4.01\nIf-Match: *\n${body}`;
    assert.deepEqual(
      check(refused, false).map((d) => [d.code, d.severity, refused.slice(d.span.start, d.span.end)]),
      [
        ['batchHeader', 'error', 'Authorization: Bearer x'],
        ['batchHeader', 'error', 'OData-Version: 4.01'],
        ['batchHeader', 'error', 'If-Match: *'],
      ],
    );
    // Outside a batch block these headers are the request's own business.
    assert.deepEqual(located('POST accounts\nIf-Match: *\nAuthorization: Bearer x\n\n{}\n', false), []);
    assert.deepEqual(located('POST $batch\nContent-Type: multipart/mixed; boundary=b\n\n--b--\n', false), []);
  });

  it('reports undefined variables and requests named below, knowing environment variables', () => {
    const text =
      '@top = 5\n### a\nGET accounts?$top={{topp}}&$filter=name eq {{later.name}}\n### b\n# @name later\nGET accounts\n';
    assert.deepEqual(located(text, false), ['undefinedVariable@topp', 'requestNotAbove@later.name']);
    assert.equal(check(text, false)[0]!.fixes[0]?.edits[0]?.newText, 'top');
    assert.deepEqual(check('GET accounts?$top={{pageSize}}', false, ['pageSize']), []);
  });

  it('reports invalid JSON and unknown body properties', () => {
    assert.deepEqual(
      located('POST accounts\n\n{ "name": "x", "revenu": 5, "primarycontactid@odata.bind": "/contactz(1)" }'),
      ['unknownColumn@revenu', 'unknownEntitySet@"/contactz(1)"'],
    );
    assert.deepEqual(located('POST accounts\n\n{ "name": \'x\' }', false), ["invalidJson@'x'"]);
  });

  it('checks syntax without metadata and reports nothing on valid requests', () => {
    assert.deepEqual(located('GET accounts?$select=nonsense&$filter=a eq 1', false), []);
    assert.deepEqual(located('GET accounts?$filter=(a eq 1', false), ['missingCloseParen@(']);
  });
});

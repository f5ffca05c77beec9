import * as assert from 'node:assert/strict';
import type { RunResult } from '../../../../src/dataverse/runRequest';
import { parseCsdl } from '../../../../src/metadata/csdl';
import { enrichModel } from '../../../../src/metadata/entityDefinitions';
import {
  columnHintsFor,
  columnNamesOf,
  entitySetOf,
  isAggregateUrl,
  logicalNameOfSet,
  messageForResult,
} from '../../../../src/extension/results/resultMessages';
import { SAMPLE_CSDL } from '../../metadata/fixtures';
import type { ResultRow } from '../../../../src/webview/resultsProtocol';
import { parseHostMessage } from '../../../../src/webview/resultsProtocol';

// resultMessages.ts imports no `vscode`, so the mapping from answers to panel messages runs in plain Node.
function result(partial: Partial<RunResult>): RunResult {
  return { status: 200, statusText: 'OK', headers: {}, body: undefined, elapsedMs: 12.4, kind: 'single', ...partial };
}

describe('results panel messages', () => {
  it('shows a collection as entity rows with count, paging and request id', () => {
    const message = messageForResult(
      result({
        body: {
          '@odata.context': 'https://x/api/data/v9.2/$metadata#accounts(name)',
          '@odata.count': 42,
          value: [{ accountid: 'a', name: '<img src=x onerror=alert(1)>' }],
        },
        nextLink: 'https://x/api/data/v9.2/accounts?$skiptoken=1',
        requestId: 'req-1',
      }),
      'accountid',
    );
    assert.deepEqual(message, {
      type: 'showResult',
      shape: 'entities',
      rows: [{ accountid: 'a', name: '<img src=x onerror=alert(1)>' }],
      metadata: { entitySet: 'accounts', primaryIdAttribute: 'accountid' },
      status: { rowCount: 1, elapsedMs: 12, httpStatus: 200, requestId: 'req-1', totalCount: 42 },
      hasMore: true,
    });
    assert.equal(parseHostMessage(message).ok, true, 'the page accepts what the host sends');
  });

  it('shows a single record as one row and an aggregate as a plain table', () => {
    const single = messageForResult(
      result({ body: { '@odata.context': '…#accounts/$entity', accountid: 'a', name: 'A' } }),
      undefined,
    );
    assert.equal(single.type === 'showResult' && single.rows.length, 1);
    const applied = messageForResult(result({ body: { value: [{ total: 5 }] } }), undefined, true);
    assert.equal(applied.type === 'showResult' && applied.shape, 'aggregate');
    assert.equal(isAggregateUrl('accounts?$apply=aggregate(revenue%20with%20sum%20as%20total)'), true);
    assert.equal(isAggregateUrl('accounts?fetchXml=%3Cfetch%20aggregate%3D%22true%22%3E'), true);
    assert.equal(isAggregateUrl('accounts?$select=name'), false);
  });

  it('turns a Dataverse error body into an error with its code and the service request id', () => {
    const message = messageForResult(
      result({
        status: 404,
        statusText: 'Not Found',
        body: { error: { code: '0x80040217', message: 'account With Id = 1 Does Not Exist' } },
        requestId: 'req-2',
      }),
      undefined,
    );
    assert.deepEqual(message, {
      type: 'showError',
      error: {
        message: 'account With Id = 1 Does Not Exist',
        status: 404,
        code: '0x80040217',
        serviceRequestId: 'req-2',
      },
    });
    assert.equal(parseHostMessage(message).ok, true);
  });

  it('lists batch parts, including those never executed, and marks removed rows of a delta', () => {
    const batch = messageForResult(
      result({
        kind: 'batch',
        batch: [
          {
            method: 'POST',
            url: 'accounts',
            contentId: '1',
            status: 204,
            statusText: 'No Content',
            headers: {},
            body: undefined,
          },
          {
            method: 'POST',
            url: 'accounts',
            contentId: '2',
            status: undefined,
            statusText: '',
            headers: {},
            body: undefined,
          },
        ] as unknown as RunResult['batch'],
      }),
      undefined,
    );
    assert.equal(batch.type, 'showBatch');
    assert.deepEqual(batch.type === 'showBatch' && batch.responses.map((r) => [r.status, r.statusText]), [
      [204, 'No Content'],
      [0, 'Not executed'],
    ]);
    const delta = messageForResult(
      result({ kind: 'delta', body: { value: [{ accountid: 'b' }] }, removed: ['c'] }),
      'accountid',
    );
    assert.deepEqual(delta.type === 'showDelta' && delta.removed, [{ id: 'c', reason: 'deleted' }]);
  });

  it('reads the entity set from @odata.context', () => {
    assert.equal(entitySetOf({ '@odata.context': 'https://x/api/data/v9.2/$metadata#contacts(fullname)' }), 'contacts');
    assert.equal(entitySetOf({}), undefined);
  });

  describe('column hints', () => {
    const base = parseCsdl(SAMPLE_CSDL).model;
    const label = (text: string) => ({ UserLocalizedLabel: { Label: text } });
    const enriched = enrichModel(base, {
      LogicalName: 'customer',
      Attributes: [
        { LogicalName: 'name', AttributeType: 'String', DisplayName: label('Customer Name') },
        { LogicalName: 'parentid', AttributeType: 'Lookup', DisplayName: label('Parent Customer') },
      ],
    }).model;
    const rows: ResultRow[] = [
      { '@odata.etag': 'W/"1"', partyid: 'p', name: 'A', 'name@x.y': 'z' },
      { _parentid_value: 'q', creditlimit: 1, alias_total: 3 },
    ];

    it('lists the columns of the rows in first-seen order, without annotations', () => {
      assert.deepEqual(columnNamesOf(rows), ['partyid', 'name', '_parentid_value', 'creditlimit', 'alias_total']);
    });

    it('gives display names and attribute types when enriched, Edm types otherwise, nothing for unknown columns', () => {
      const hints = columnHintsFor(enriched, 'customers', columnNamesOf(rows));
      assert.deepEqual(hints, [
        { logicalName: 'partyid', type: 'Edm.Guid' },
        { logicalName: 'name', displayName: 'Customer Name', type: 'String' },
        { logicalName: '_parentid_value', displayName: 'Parent Customer', type: 'Lookup' },
        { logicalName: 'creditlimit', type: 'Edm.Decimal' },
      ]);
      assert.equal(parseHostMessage({ type: 'columnHints', entitySet: 'customers', columns: hints }).ok, true);
    });

    it('falls back to the CSDL types before enrichment, and gives nothing for an unknown entity set', () => {
      assert.deepEqual(columnHintsFor(base, 'customers', ['name', '_parentid_value']), [
        { logicalName: 'name', type: 'Edm.String' },
        { logicalName: '_parentid_value', type: 'Edm.Guid' },
      ]);
      assert.deepEqual(columnHintsFor(base, 'nothere', ['name']), []);
    });

    it('finds the table of an entity set', () => {
      assert.equal(logicalNameOfSet(base, 'customers'), 'customer');
      assert.equal(logicalNameOfSet(base, 'nothere'), undefined);
    });
  });
});

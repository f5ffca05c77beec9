import * as assert from 'node:assert/strict';
import { parseODataUrl } from '../../../src/odata/url/index';

describe('parseODataUrl: Content-ID references', () => {
  it('reads $1 as a system segment, as batch change sets use it', () => {
    const url = parseODataUrl('$1/contact_customer_accounts');
    assert.deepEqual(url.diagnostics, []);
    assert.deepEqual(
      url.path.segments.map((s) => [s.kind, s.kind === 'system' ? s.name : s.name]),
      [
        ['system', '$1'],
        ['name', 'contact_customer_accounts'],
      ],
    );
  });
});

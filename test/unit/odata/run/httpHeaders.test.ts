import * as assert from 'node:assert/strict';
import { withFormattedValues } from '../../../../src/odata/run/httpHeaders';

// https://learn.microsoft.com/power-apps/developer/data-platform/webapi/query/format-results#formatted-values
describe('formatted values for the grid', () => {
  const annotation = 'odata.include-annotations="OData.Community.Display.V1.FormattedValue"';

  it('asks for formatted values when the request says nothing about annotations', () => {
    assert.deepEqual(withFormattedValues([['Accept', 'application/json']]), [
      ['Accept', 'application/json'],
      ['Prefer', annotation],
    ]);
    assert.deepEqual(withFormattedValues([['prefer', 'odata.maxpagesize=10']]), [
      ['prefer', `odata.maxpagesize=10,${annotation}`],
    ]);
  });

  it("keeps the request's own choice of annotations", () => {
    const own = [['Prefer', 'odata.maxpagesize=5, odata.include-annotations="*"']] as const;
    assert.deepEqual(withFormattedValues(own), own);
  });
});

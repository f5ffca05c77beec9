import * as assert from 'node:assert/strict';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { symbolsOf } from '../../../src/server/languageServer';

describe('language server: document symbols', () => {
  it('names each block by its title, or by its request line when untitled', () => {
    const document = TextDocument.create(
      'file:///a.odata',
      'odata',
      1,
      '@x = 1\n### Top accounts\nGET accounts?$top=5\n###\nDELETE accounts(1)\n',
    );
    const symbols = symbolsOf(document);
    assert.deepEqual(
      symbols.map((s) => [s.name, s.detail, s.range.start.line, s.selectionRange.start.line]),
      [
        ['Top accounts', 'GET accounts?$top=5', 1, 2],
        ['DELETE accounts(1)', '', 3, 4],
      ],
    );
  });
});

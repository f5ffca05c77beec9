import type { Connection, DocumentSymbol, InitializeResult } from 'vscode-languageserver';
import { SymbolKind, TextDocuments, TextDocumentSyncKind } from 'vscode-languageserver';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { splitBlocks } from '../odata/blocks';

/**
 * Wires the pure `.odata` services to an LSP connection. The same function serves the extension
 * (dist/server.js over IPC) and other editors (`dvw lsp` over stdio).
 */
export function startLanguageServer(connection: Connection): void {
  const documents = new TextDocuments(TextDocument);

  connection.onInitialize((): InitializeResult => ({
    capabilities: {
      textDocumentSync: TextDocumentSyncKind.Incremental,
      documentSymbolProvider: true,
    },
    serverInfo: { name: 'Dataverse Workbench .odata language server' },
  }));

  connection.onDocumentSymbol((params): DocumentSymbol[] => {
    const document = documents.get(params.textDocument.uri);
    if (!document) return [];
    return documentSymbols(document);
  });

  documents.listen(connection);
  connection.listen();
}

/** One symbol per request block, named by its title or, when untitled, by its request line. */
export function documentSymbols(document: TextDocument): DocumentSymbol[] {
  const text = document.getText();
  return splitBlocks(text).flatMap((block, index): DocumentSymbol[] => {
    const request = block.request;
    if (!request && block.title === '') return [];
    const requestText = request ? `${request.method} ${request.url}` : '';
    const range = { start: document.positionAt(block.span.start), end: document.positionAt(block.span.end) };
    const selection = request
      ? { start: document.positionAt(request.span.start), end: document.positionAt(request.span.end) }
      : { start: range.start, end: range.start };
    return [
      {
        name: block.title || requestText || `Block ${index + 1}`,
        detail: block.title ? requestText : '',
        kind: SymbolKind.Method,
        range,
        selectionRange: selection,
      },
    ];
  });
}

/**
 * Document symbols (one per block), CodeLens data (Run per block, Get changes on change-tracking
 * blocks, Run all on the file) and formatting (one query option per line, in a stable order).
 */
import { requestsOf } from '../document/parser';
import type { ODataDocument, Request } from '../document/syntax';
import type { CodeLensData, SymbolData, TextEdit } from './types';

function firstLine(text: string): string {
  const newline = text.indexOf('\n');
  const line = newline < 0 ? text : text.slice(0, newline);
  return line.length > 120 ? `${line.slice(0, 119)}…` : line;
}

export function requestLabel(request: Request): string {
  return `${request.method} ${firstLine(request.url.text)}`;
}

export function documentSymbols(document: ODataDocument): SymbolData[] {
  const symbols: SymbolData[] = [];
  for (const block of document.blocks) {
    const request = block.request;
    if (!request && block.title === '') continue;
    const requestText = request ? requestLabel(request) : '';
    symbols.push({
      name: block.title || requestText || `Block ${block.index + 1}`,
      detail: block.title ? requestText : '',
      blockIndex: block.index,
      span: block.span,
      selectionSpan: request
        ? request.requestLineSpan
        : (block.separatorSpan ?? { start: block.span.start, end: block.span.start }),
    });
  }
  return symbols;
}

export function isTrackChanges(request: Request): boolean {
  return (
    request.method === 'GET' &&
    request.headers.some((h) => h.name.toLowerCase() === 'prefer' && /(^|[\s,])odata\.track-changes\b/i.test(h.value))
  );
}

export function codeLenses(document: ODataDocument): CodeLensData[] {
  const lenses: CodeLensData[] = [];
  const runnable = document.blocks.filter((b) => b.request);
  if (runnable.length > 0) {
    const first = runnable[0]!;
    const at = first.separatorSpan ?? first.request!.requestLineSpan;
    lenses.push({
      kind: 'runAll',
      title: `Run all (${runnable.length})`,
      blockIndex: undefined,
      span: { start: at.start, end: at.start },
    });
  }
  for (const block of runnable) {
    const request = block.request!;
    const span = request.requestLineSpan;
    const count = requestsOf(request).length - 1;
    lenses.push({
      kind: 'run',
      title: count > 0 ? `Run batch (${count} requests)` : 'Run',
      blockIndex: block.index,
      span,
    });
    if (isTrackChanges(request))
      lenses.push({ kind: 'getChanges', title: 'Get changes', blockIndex: block.index, span });
  }
  return lenses;
}

/** System options first in the order people read them, then Dataverse's own, then aliases. */
const OPTION_ORDER = [
  '$select',
  '$expand',
  '$filter',
  '$orderby',
  '$apply',
  '$top',
  '$count',
  '$skiptoken',
  '$deltatoken',
  '$id',
  'fetchXml',
  'savedQuery',
  'userQuery',
];

function optionRank(name: string): number {
  const rank = OPTION_ORDER.indexOf(name);
  if (rank >= 0) return rank;
  return name.startsWith('@') ? OPTION_ORDER.length + 1 : OPTION_ORDER.length;
}

export const FORMAT_INDENT = '    ';

/**
 * The request line of `request` formatted: method in capitals, the first query option on the
 * request line, each further one on its own indented line. Option text is kept as written, so
 * formatting never changes what is sent.
 */
export function formatRequestLine(request: Request): string {
  const tree = request.url.tree;
  const text = request.url.text;
  const method = request.methodSpan ? `${request.method} ` : '';
  const q = text.indexOf('?');
  const path = (q < 0 ? text : text.slice(0, q)).trim();
  const options = [...tree.options]
    .map((o, i) => ({ o, i }))
    .sort((a, b) => optionRank(a.o.name) - optionRank(b.o.name) || a.i - b.i)
    .map(({ o }) => text.slice(o.span.start, o.span.end));
  if (options.length === 0) return `${method}${path}`;
  return `${method}${path}?${options.join(`\n${FORMAT_INDENT}&`)}`;
}

export function formatDocument(document: ODataDocument, text: string): TextEdit[] {
  const edits: TextEdit[] = [];
  for (const block of document.blocks) {
    if (!block.request) continue;
    for (const request of requestsOf(block.request)) {
      // A URL with a syntax error in its query string may not split where the user meant; a URL that a
      // variable stands for has no parsed options to lay out.
      if (
        request.url.variable !== undefined ||
        request.url.tree.diagnostics.some((d) => d.code === 'unexpectedCharacter' || d.code === 'unterminatedString')
      )
        continue;
      const span = request.requestLineSpan;
      const formatted = formatRequestLine(request);
      if (text.slice(span.start, span.end) !== formatted) edits.push({ span, newText: formatted });
    }
  }
  return edits;
}

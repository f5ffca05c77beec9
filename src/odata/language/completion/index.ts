/**
 * Completion. The context comes from the text before the cursor (what the user is typing is
 * seldom a complete request); the scope from the request's path, resolved by the resolver that
 * diagnostics and hover use. Each kind of place has its own file: URL paths and query options
 * (url.ts, filter.ts), headers, JSON bodies and `{{variables}}`.
 */
import { blockAt, requestAt } from '../../document/parser';
import type { Block, ODataDocument, Request } from '../../document/syntax';
import { REQUEST_METHODS } from '../../document/syntax';
import type { CompletionResult, LanguageOptions } from '../types';
import { headerCompletion } from './headers';
import { lineStartOf, wordStart } from './items';
import { jsonCompletion } from './json';
import { urlCompletion } from './url';
import { variableCompletion } from './variables';

export { HEADERS } from './headers';
export { mayMatch } from './items';
export { QUERY_OPTIONS } from './url';

export function getCompletions(
  document: ODataDocument,
  text: string,
  offset: number,
  options: LanguageOptions = {},
): CompletionResult | undefined {
  const index = options.metadata;
  const lineStart = lineStartOf(text, offset);
  const linePrefix = text.slice(lineStart, offset);

  const variable = variableCompletion(document, text, offset, lineStart, linePrefix, options);
  if (variable) return variable;

  const block = blockAt(document, offset);
  const request = block && requestAt(block, offset);

  // Spans end at the last non-blank character; the cursor after a typed space still belongs to them.
  const trailing = (end: number): boolean => offset >= end && /^[ \t]*$/.test(text.slice(end, offset));
  if (
    request &&
    offset >= request.url.span.start &&
    (offset <= request.url.span.end || trailing(request.url.span.end))
  ) {
    // A variable standing for the whole URL leaves nothing to complete: the URL is known only at run time.
    const result =
      request.url.variable === undefined
        ? urlCompletion(text.slice(request.url.span.start, offset), offset, request.method, index)
        : undefined;
    if (request.methodSpan === undefined && /^[ \t]*[A-Za-z]*$/.test(linePrefix)) {
      // A lone word is parsed as a bare URL, but it may as well be the start of a method.
      const start = wordStart(text, offset, lineStart);
      const methods = REQUEST_METHODS.map((m, i) => ({
        label: m,
        kind: 'method' as const,
        sortText: `0${i}`,
        insertText: `${m} `,
      }));
      return { span: { start, end: offset }, items: [...methods, ...(result?.items ?? [])] };
    }
    return result;
  }
  const methodLine = /^[ \t]*([A-Za-z]+)[ \t]+(\S*)$/.exec(linePrefix);
  if (methodLine && (REQUEST_METHODS as readonly string[]).includes(methodLine[1]!.toUpperCase())) {
    const urlStart = offset - methodLine[2]!.length;
    return urlCompletion(text.slice(urlStart, offset), offset, methodLine[1]!.toUpperCase(), index);
  }
  if (/^[ \t]*[A-Za-z]*$/.test(linePrefix) && isRequestLinePosition(block, request, lineStart)) {
    const start = wordStart(text, offset, lineStart);
    return {
      span: { start, end: offset },
      items: REQUEST_METHODS.map((m, i) => ({
        label: m,
        kind: 'method' as const,
        sortText: String(i),
        insertText: `${m} `,
      })),
    };
  }
  if (!request) return undefined;
  const body = request.body;
  const inHeaders = offset > request.requestLineSpan.end && (body === undefined || offset < body.span.start);
  if (inHeaders) return headerCompletion(linePrefix, offset);
  if (
    body?.kind === 'json' &&
    offset >= body.span.start &&
    (offset <= body.span.end || /^\s*$/.test(text.slice(body.span.end, offset)))
  ) {
    return jsonCompletion(text, body.span.start, offset, request, index);
  }
  return undefined;
}

function isRequestLinePosition(block: Block | undefined, request: Request | undefined, lineStart: number): boolean {
  if (!block) return true;
  if (!request) return true;
  return lineStart <= request.requestLineSpan.start;
}

// -----------------------------------------------------------------------------------------------

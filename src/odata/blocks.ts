/**
 * The first, flat view of a `.odata` document: one entry per block with its request line. Kept for
 * callers that need no more (the benchmark); everything else uses `parseDocument`.
 */
import { parseDocument } from './document/parser';
import type { RequestMethod } from './document/syntax';
import type { TextSpan } from './span';

export type { TextSpan };
export type { HttpMethod, RequestMethod } from './document/syntax';
export { HTTP_METHODS } from './document/syntax';

export interface RequestLine {
  readonly method: RequestMethod;
  /** True when the line names no method and GET is implied. */
  readonly impliedMethod: boolean;
  readonly url: string;
  readonly span: TextSpan;
}

export interface Block {
  readonly title: string;
  readonly span: TextSpan;
  readonly request: RequestLine | undefined;
}

export function splitBlocks(text: string): Block[] {
  return parseDocument(text).blocks.map((block) => {
    const request = block.request;
    return {
      title: block.title,
      span: block.span,
      request: request && {
        method: request.method,
        impliedMethod: request.methodSpan === undefined,
        url: request.url.text,
        span: request.requestLineSpan,
      },
    };
  });
}

/**
 * Splits a `.odata` document into request blocks (see docs/odata-files.md). Works on text and
 * offsets only, never throws, and runs in one pass over the text.
 */

export const HTTP_METHODS = ['GET', 'POST', 'PATCH', 'PUT', 'DELETE'] as const;
export type HttpMethod = (typeof HTTP_METHODS)[number];
/** `FETCH <entityset>` sends the FetchXML body as `GET <entityset>?fetchXml=...`. */
export type RequestMethod = HttpMethod | 'FETCH';

export interface TextSpan {
  /** Offset of the first character. */
  readonly start: number;
  /** Offset just past the last character. */
  readonly end: number;
}

export interface RequestLine {
  readonly method: RequestMethod;
  /** True when the line names no method and GET is implied. */
  readonly impliedMethod: boolean;
  readonly url: string;
  readonly span: TextSpan;
}

export interface Block {
  /** The text after `###`, trimmed; empty for an untitled block or the preamble. */
  readonly title: string;
  /** From the `###` line (or the start of the document) to the start of the next block. */
  readonly span: TextSpan;
  /** Undefined when the block holds only comments and variables. */
  readonly request: RequestLine | undefined;
}

const METHOD_PATTERN = /^(GET|POST|PATCH|PUT|DELETE|FETCH)\s+(\S.*)$/i;

function isCommentLine(trimmed: string): boolean {
  return trimmed.startsWith('#') || trimmed.startsWith('//');
}

function isVariableLine(trimmed: string): boolean {
  return /^@[A-Za-z_][\w.-]*\s*=/.test(trimmed);
}

function parseRequestLine(line: string, start: number): RequestLine | undefined {
  const trimmed = line.trimEnd();
  const match = METHOD_PATTERN.exec(trimmed);
  const span = { start, end: start + trimmed.length };
  if (match) {
    return { method: match[1]!.toUpperCase() as RequestMethod, impliedMethod: false, url: match[2]!.trim(), span };
  }
  // A line that is a URL alone (absolute, or relative to the Web API root) means GET.
  if (!/\s/.test(trimmed) && !/^[A-Za-z][\w-]*:(?!\/\/)/.test(trimmed) && !trimmed.startsWith('{')) {
    return { method: 'GET', impliedMethod: true, url: trimmed, span };
  }
  return undefined;
}

export function splitBlocks(text: string): Block[] {
  const blocks: Block[] = [];
  let blockStart = 0;
  let title = '';
  let request: RequestLine | undefined;
  let lookingForRequest = true;

  const close = (end: number): void => {
    const isEmptyPreamble = blocks.length === 0 && blockStart === 0 && title === '' && request === undefined;
    if (!isEmptyPreamble || text.slice(blockStart, end).trim().length > 0) {
      blocks.push({ title, span: { start: blockStart, end }, request });
    }
  };

  let offset = 0;
  while (offset <= text.length) {
    const newline = text.indexOf('\n', offset);
    const lineEnd = newline === -1 ? text.length : newline;
    const line = text.slice(offset, lineEnd).replace(/\r$/, '');
    const trimmed = line.trim();

    if (trimmed.startsWith('###')) {
      if (offset > 0 || blocks.length > 0) close(offset);
      blockStart = offset;
      title = trimmed.slice(3).trim();
      request = undefined;
      lookingForRequest = true;
    } else if (lookingForRequest && trimmed.length > 0 && !isCommentLine(trimmed) && !isVariableLine(trimmed)) {
      // The first other line is the request line; if it is not one, the block has no request.
      const leading = line.length - line.trimStart().length;
      request = parseRequestLine(trimmed, offset + leading);
      lookingForRequest = false;
    }

    if (newline === -1) break;
    offset = newline + 1;
  }
  close(text.length);
  return blocks;
}

/**
 * Checks a JSON body in place (offsets into the document, no slicing) and collects the members of
 * its top-level object. `{{…}}` outside strings stands for a whole value, since a variable such as
 * `{{top}}` is substituted before sending. Iterative with an explicit stack, so 10,000 nested
 * brackets cost no recursion; stops at the first error, as any JSON parser would.
 */
import { JsonMemberNode } from './nodes';
import type { DocumentDiagnostic, JsonBody, JsonValueKind, TextSpan } from './syntax';

const enum Expect {
  Value,
  ValueOrClose,
  Key,
  KeyOrClose,
  Colon,
  CommaOrClose,
  End,
}

interface Frame {
  readonly close: 93 | 125;
  readonly start: number;
  /** The top-level member this container is the value of. */
  readonly key: Key | undefined;
}

/** A property name of the top-level object, waiting for its value. */
interface Key {
  readonly name: string;
  readonly start: number;
  readonly end: number;
}

function isWhitespace(c: number): boolean {
  return c === 32 || c === 9 || c === 10 || c === 13;
}

function describe(text: string, at: number, end: number): string {
  if (at >= end) return 'the end of the body';
  return `'${text[at]}'`;
}

export function checkJson(
  text: string,
  start: number,
  end: number,
): { body: JsonBody; diagnostic?: DocumentDiagnostic } {
  const members: JsonMemberNode[] = [];
  const stack: Frame[] = [];
  let expect = Expect.Value;
  let i = start;
  let pendingKey: Key | undefined;
  let diagnostic: DocumentDiagnostic | undefined;

  const fail = (message: string, span: TextSpan): void => {
    diagnostic = { code: 'invalidJson', message: `Invalid JSON: ${message}`, severity: 'error', span };
  };
  const charSpan = (at: number): TextSpan => (at >= end ? { start: end, end } : { start: at, end: at + 1 });

  /** Records a value that just ended, as a member when it is the value of a top-level property. */
  const valueDone = (kind: JsonValueKind, valueStart: number, valueEnd: number, stringValue?: string): void => {
    if (pendingKey && stack.length === 1) {
      const key = pendingKey;
      members.push(new JsonMemberNode(key.name, key.start, key.end, kind, valueStart, valueEnd, stringValue));
    }
    pendingKey = undefined;
    expect = stack.length === 0 ? Expect.End : Expect.CommaOrClose;
  };

  const closeContainer = (): void => {
    const frame = stack.pop()!;
    pendingKey = frame.key;
    valueDone(frame.close === 125 ? 'object' : 'array', frame.start, i);
  };

  /** Reads a string at `i` (a `"`); returns its end and unescaped value, or undefined after reporting. */
  const readString = (): { end: number; value: string } | undefined => {
    const open = i;
    let j = i + 1;
    let value = '';
    let chunk = j;
    while (j < end) {
      const c = text.charCodeAt(j);
      if (c === 34) {
        value += text.slice(chunk, j);
        return { end: j + 1, value };
      }
      if (c === 10 || c === 13) break;
      if (c < 32) {
        fail('control characters must be escaped inside strings.', charSpan(j));
        return undefined;
      }
      if (c === 92) {
        value += text.slice(chunk, j);
        const e = text[j + 1];
        const simple: Record<string, string> = {
          '"': '"',
          '\\': '\\',
          '/': '/',
          b: '\b',
          f: '\f',
          n: '\n',
          r: '\r',
          t: '\t',
        };
        if (e !== undefined && e in simple) {
          value += simple[e];
          j += 2;
        } else if (e === 'u' && /^[0-9a-fA-F]{4}$/.test(text.slice(j + 2, j + 6))) {
          value += String.fromCharCode(parseInt(text.slice(j + 2, j + 6), 16));
          j += 6;
        } else {
          fail('invalid escape sequence.', { start: j, end: Math.min(j + 2, end) });
          return undefined;
        }
        chunk = j;
        continue;
      }
      j++;
    }
    fail('unterminated string: missing closing quote.', { start: open, end: j });
    return undefined;
  };

  while (diagnostic === undefined) {
    while (i < end && isWhitespace(text.charCodeAt(i))) i++;
    if (i >= end) {
      if ((expect as Expect) === Expect.End) break;
      if (expect === Expect.Value && stack.length === 0) {
        fail('the body is empty.', { start: end, end });
        break;
      }
      const open = stack[stack.length - 1];
      fail(
        open ? `missing '${String.fromCharCode(open.close)}' at the end of the body.` : 'unexpected end of the body.',
        { start: end, end },
      );
      break;
    }
    const c = text.charCodeAt(i);

    // Read through a widening cast: the closures above change `expect`, which flow analysis misses.
    const state = expect as Expect;
    if (state === Expect.End) {
      fail(`unexpected ${describe(text, i, end)} after the end of the value.`, charSpan(i));
      break;
    }
    if (state === Expect.Colon) {
      if (c !== 58) {
        fail(`expected ':' after a property name, found ${describe(text, i, end)}.`, charSpan(i));
        break;
      }
      i++;
      expect = Expect.Value;
      continue;
    }
    if (state === Expect.CommaOrClose) {
      const frame = stack[stack.length - 1]!;
      if (c === 44) {
        i++;
        expect = frame.close === 125 ? Expect.Key : Expect.Value;
        const next = skip(text, i, end);
        if (next < end && text.charCodeAt(next) === frame.close) {
          fail('trailing comma.', charSpan(i - 1));
          break;
        }
        continue;
      }
      if (c === frame.close) {
        i++;
        closeContainer();
        continue;
      }
      fail(
        `expected ',' or '${String.fromCharCode(frame.close)}', found ${describe(text, i, end)}.`,
        tokenSpan(text, i, end),
      );
      break;
    }
    if (state === Expect.Key || state === Expect.KeyOrClose) {
      if (c === 125 && state === Expect.KeyOrClose) {
        i++;
        closeContainer();
        continue;
      }
      if (c !== 34) {
        fail(`expected a property name in double quotes, found ${describe(text, i, end)}.`, tokenSpan(text, i, end));
        break;
      }
      const start = i;
      const read = readString();
      if (!read) break;
      i = read.end;
      pendingKey = stack.length === 1 ? { name: read.value, start, end: i } : undefined;
      expect = Expect.Colon;
      continue;
    }
    // A value.
    if (c === 93 && state === Expect.ValueOrClose) {
      i++;
      closeContainer();
      continue;
    }
    if (c === 123 && text.charCodeAt(i + 1) === 123) {
      const close = text.indexOf('}}', i + 2);
      const lineEnd = nextLineBreak(text, i, end);
      const stop = close < 0 || close >= lineEnd ? lineEnd : close + 2;
      const start = i;
      i = stop;
      // An unterminated variable is reported by the variable scanner; here it just ends the value.
      valueDone('variable', start, stop);
      continue;
    }
    if (c === 123 || c === 91) {
      stack.push({ close: c === 123 ? 125 : 93, start: i, key: stack.length === 1 ? pendingKey : undefined });
      pendingKey = undefined;
      i++;
      expect = c === 123 ? Expect.KeyOrClose : Expect.ValueOrClose;
      continue;
    }
    if (c === 34) {
      const start = i;
      const read = readString();
      if (!read) break;
      i = read.end;
      valueDone('string', start, i, read.value);
      continue;
    }
    const word = tokenSpan(text, i, end);
    const token = text.slice(word.start, word.end);
    if (token === 'true' || token === 'false' || token === 'null') {
      i = word.end;
      valueDone(token === 'null' ? 'null' : 'boolean', word.start, word.end);
      continue;
    }
    if (/^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/.test(token)) {
      i = word.end;
      valueDone('number', word.start, word.end);
      continue;
    }
    if (token.length === 0) {
      fail(`expected a value, found ${describe(text, i, end)}.`, charSpan(i));
    } else if (text.charCodeAt(i) === 39) {
      fail('strings take double quotes.', word);
    } else {
      fail(`'${token.length > 40 ? token.slice(0, 40) + '…' : token}' is not a JSON value.`, word);
    }
    break;
  }

  return {
    body: { kind: 'json', span: { start, end }, members, valid: diagnostic === undefined },
    ...(diagnostic ? { diagnostic } : {}),
  };
}

function skip(text: string, i: number, end: number): number {
  while (i < end && isWhitespace(text.charCodeAt(i))) i++;
  return i;
}

function nextLineBreak(text: string, i: number, end: number): number {
  while (i < end && text.charCodeAt(i) !== 10 && text.charCodeAt(i) !== 13) i++;
  return i;
}

/** A run of characters up to the next JSON delimiter: what the user meant as one token. */
function tokenSpan(text: string, i: number, end: number): TextSpan {
  let j = i;
  while (j < end) {
    const c = text.charCodeAt(j);
    if (isWhitespace(c) || c === 44 || c === 58 || c === 91 || c === 93 || c === 123 || c === 125 || c === 34) break;
    j++;
  }
  return { start: i, end: j === i ? Math.min(i + 1, end) : j };
}

/**
 * One tokenizer for paths, option values and expressions. A single forward pass with bounded
 * look-ahead (GUIDs, dates) and no regular expressions, so any input tokenizes in linear time.
 */
import type { SourceText } from './source';
import type { DiagnosticCode, ODataDiagnostic, TextSpan } from './syntax';

export type TokenKind =
  | 'identifier'
  | 'string'
  | 'jsonString'
  | 'number'
  | 'guid'
  | 'date'
  | 'dateTimeOffset'
  | 'timeOfDay'
  | 'typedLiteral'
  | 'alias'
  | 'template'
  | 'object'
  | '('
  | ')'
  | ','
  | '/'
  | ':'
  | '['
  | ']'
  | '='
  | ';'
  | '*'
  | '-'
  | 'unknown'
  | 'eof';

export type NumberType = 'int' | 'int64' | 'decimal' | 'double' | 'single';

export interface Token {
  readonly kind: TokenKind;
  /** Decoded text of the token. */
  readonly text: string;
  /** Unescaped content of strings (and typed literals), name of aliases and templates. */
  readonly value: string;
  /** Prefix of a typed literal (`duration`, `Microsoft.Dynamics.CRM.OwnershipTypes`). */
  readonly prefix?: string;
  readonly numberType?: NumberType;
  /** False for an unterminated string, typed literal or object. */
  readonly terminated: boolean;
  /** Whitespace precedes the token. */
  readonly spaceBefore: boolean;
  readonly span: TextSpan;
}

export interface TokenizeOptions {
  /** Recognize `{{name}}` placeholders of `.odata` files. Default true. */
  readonly templates?: boolean;
}

const OPERATOR_WORDS = new Set([
  'eq',
  'ne',
  'gt',
  'ge',
  'lt',
  'le',
  'has',
  'in',
  'and',
  'or',
  'not',
  'add',
  'sub',
  'mul',
  'div',
  'divby',
  'mod',
]);

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

function isHex(c: number): boolean {
  return isDigit(c) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102);
}

function isIdentStart(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || c > 127;
}

function isIdentPart(c: number): boolean {
  return isIdentStart(c) || isDigit(c);
}

function isSpace(c: number): boolean {
  return c === 32 || c === 9 || c === 10 || c === 13;
}

function digitsAt(s: string, i: number, count: number): boolean {
  for (let k = 0; k < count; k++) if (!isDigit(s.charCodeAt(i + k))) return false;
  return true;
}

function guidLengthAt(s: string, i: number): number {
  if (i + 36 > s.length) return 0;
  for (let k = 0; k < 36; k++) {
    const c = s.charCodeAt(i + k);
    if (k === 8 || k === 13 || k === 18 || k === 23) {
      if (c !== 45) return 0;
    } else if (!isHex(c)) return 0;
  }
  return isIdentPart(s.charCodeAt(i + 36)) ? 0 : 36;
}

/** `hh:mm[:ss[.fff]]` at i; returns the length or 0. */
function timeLengthAt(s: string, i: number): number {
  if (!digitsAt(s, i, 2) || s.charCodeAt(i + 2) !== 58 || !digitsAt(s, i + 3, 2)) return 0;
  let j = i + 5;
  if (s.charCodeAt(j) === 58 && digitsAt(s, j + 1, 2)) {
    j += 3;
    if (s.charCodeAt(j) === 46 && isDigit(s.charCodeAt(j + 1))) {
      j++;
      while (isDigit(s.charCodeAt(j))) j++;
    }
  }
  return j - i;
}

export function tokenize(source: SourceText, diagnostics: ODataDiagnostic[], options: TokenizeOptions = {}): Token[] {
  const s = source.text;
  const templates = options.templates !== false;
  const tokens: Token[] = [];
  const span = (from: number, to: number): TextSpan => ({ start: source.offsetAt(from), end: source.offsetAt(to) });
  const report = (code: DiagnosticCode, message: string, from: number, to: number): void => {
    diagnostics.push({ code, message, span: span(from, to), severity: 'error' });
  };
  let i = 0;
  let spaceBefore = false;
  const push = (
    kind: TokenKind,
    from: number,
    to: number,
    extra?: { value?: string; prefix?: string; numberType?: NumberType; terminated?: boolean },
  ): void => {
    const text = s.slice(from, to);
    const token: { -readonly [K in keyof Token]: Token[K] } = {
      kind,
      text,
      value: extra?.value ?? text,
      terminated: extra?.terminated ?? true,
      spaceBefore,
      span: span(from, to),
    };
    // Set only when given, without object spread (a slow path, and most of this function's time).
    if (extra?.prefix !== undefined) token.prefix = extra.prefix;
    if (extra?.numberType !== undefined) token.numberType = extra.numberType;
    tokens.push(token);
    spaceBefore = false;
    i = to;
  };

  /** Reads a single-quoted string starting at the quote; returns end and unescaped value. */
  const readQuoted = (quoteAt: number): { end: number; value: string; terminated: boolean } => {
    const parts: string[] = [];
    let j = quoteAt + 1;
    let segmentStart = j;
    while (j < s.length) {
      if (s.charCodeAt(j) === 39) {
        if (s.charCodeAt(j + 1) === 39) {
          parts.push(s.slice(segmentStart, j + 1));
          j += 2;
          segmentStart = j;
          continue;
        }
        parts.push(s.slice(segmentStart, j));
        return { end: j + 1, value: parts.join(''), terminated: true };
      }
      j++;
    }
    parts.push(s.slice(segmentStart));
    return { end: s.length, value: parts.join(''), terminated: false };
  };

  while (i < s.length) {
    const c = s.charCodeAt(i);
    if (isSpace(c)) {
      spaceBefore = true;
      i++;
      continue;
    }
    const guid = isHex(c) ? guidLengthAt(s, i) : 0;
    if (guid > 0) {
      push('guid', i, i + guid);
      continue;
    }
    if (isDigit(c) || (c === 45 && isDigit(s.charCodeAt(i + 1)))) {
      const start = i;
      const digitsStart = c === 45 ? i + 1 : i;
      if (digitsAt(s, digitsStart, 4) && s.charCodeAt(digitsStart + 4) === 45 && digitsAt(s, digitsStart + 5, 2)) {
        // A date: yyyy-mm-dd, optionally followed by Thh:mm[:ss[.f]] and a zone.
        let j = digitsStart + 7;
        if (s.charCodeAt(j) === 45 && digitsAt(s, j + 1, 2)) {
          j += 3;
          const t = s.charCodeAt(j);
          const time = t === 84 || t === 116 ? timeLengthAt(s, j + 1) : 0;
          if (time > 0) {
            j += 1 + time;
            const z = s.charCodeAt(j);
            if (z === 90 || z === 122) j++;
            else if ((z === 43 || z === 45) && timeLengthAt(s, j + 1) === 5) j += 6;
            push('dateTimeOffset', start, j);
          } else {
            push('date', start, j);
          }
          continue;
        }
      }
      const time = c === 45 ? 0 : timeLengthAt(s, i);
      if (time > 0) {
        push('timeOfDay', i, i + time);
        continue;
      }
      let j = digitsStart;
      while (isDigit(s.charCodeAt(j))) j++;
      let numberType: NumberType = 'int';
      if (s.charCodeAt(j) === 46 && isDigit(s.charCodeAt(j + 1))) {
        j++;
        while (isDigit(s.charCodeAt(j))) j++;
        numberType = 'decimal';
      }
      const e = s.charCodeAt(j);
      if (e === 69 || e === 101) {
        let k = j + 1;
        const sign = s.charCodeAt(k);
        if (sign === 43 || sign === 45) k++;
        if (isDigit(s.charCodeAt(k))) {
          while (isDigit(s.charCodeAt(k))) k++;
          j = k;
          numberType = 'double';
        }
      }
      const suffix = s[j];
      if ((suffix === 'm' || suffix === 'M') && !isIdentPart(s.charCodeAt(j + 1))) {
        numberType = 'decimal';
        j++;
      } else if ((suffix === 'd' || suffix === 'D') && !isIdentPart(s.charCodeAt(j + 1))) {
        numberType = 'double';
        j++;
      } else if ((suffix === 'f' || suffix === 'F') && !isIdentPart(s.charCodeAt(j + 1))) {
        numberType = 'single';
        j++;
      } else if ((suffix === 'l' || suffix === 'L') && numberType === 'int' && !isIdentPart(s.charCodeAt(j + 1))) {
        numberType = 'int64';
        j++;
      }
      push('number', start, j, { numberType });
      continue;
    }
    // `$1` names the request with Content-ID 1 inside a $batch change set.
    if (isIdentStart(c) || (c === 36 && (isIdentStart(s.charCodeAt(i + 1)) || isDigit(s.charCodeAt(i + 1))))) {
      const start = i;
      let j = i + 1;
      for (;;) {
        while (j < s.length && isIdentPart(s.charCodeAt(j))) j++;
        if (s.charCodeAt(j) === 46 && isIdentStart(s.charCodeAt(j + 1))) {
          j++;
          continue;
        }
        break;
      }
      const word = s.slice(start, j);
      if (s.charCodeAt(j) === 39 && !OPERATOR_WORDS.has(word) && c !== 36) {
        const quoted = readQuoted(j);
        if (!quoted.terminated)
          report('unterminatedString', 'Unterminated literal: missing closing quote.', j, quoted.end);
        push('typedLiteral', start, quoted.end, { value: quoted.value, prefix: word, terminated: quoted.terminated });
        continue;
      }
      push('identifier', start, j);
      continue;
    }
    if (c === 39) {
      const quoted = readQuoted(i);
      if (!quoted.terminated)
        report('unterminatedString', 'Unterminated string: missing closing quote.', i, quoted.end);
      push('string', i, quoted.end, { value: quoted.value, terminated: quoted.terminated });
      continue;
    }
    if (c === 34) {
      let j = i + 1;
      let terminated = false;
      while (j < s.length) {
        const d = s.charCodeAt(j);
        if (d === 92) {
          j += 2;
          continue;
        }
        j++;
        if (d === 34) {
          terminated = true;
          break;
        }
      }
      j = Math.min(j, s.length);
      let value = s.slice(i + 1, terminated ? j - 1 : j);
      if (terminated) {
        try {
          const parsed: unknown = JSON.parse(s.slice(i, j));
          if (typeof parsed === 'string') value = parsed;
        } catch {
          report('invalidLiteral', 'Invalid JSON string.', i, j);
        }
      } else {
        report('unterminatedString', 'Unterminated string: missing closing double quote.', i, j);
      }
      push('jsonString', i, j, { value, terminated });
      continue;
    }
    if (c === 64) {
      let j = i + 1;
      while (j < s.length && isIdentPart(s.charCodeAt(j))) j++;
      if (j === i + 1) {
        report('unexpectedCharacter', "Expected a parameter alias name after '@'.", i, j);
      }
      push('alias', i, j, { value: s.slice(i + 1, j) });
      continue;
    }
    if (c === 123) {
      if (templates && s.charCodeAt(i + 1) === 123) {
        const close = s.indexOf('}}', i + 2);
        const end = close < 0 ? s.length : close + 2;
        if (close < 0) report('expectedToken', "Unterminated variable: missing '}}'.", i, end);
        push('template', i, end, { value: s.slice(i + 2, close < 0 ? end : close).trim(), terminated: close >= 0 });
        continue;
      }
      // A JSON object: balanced braces, skipping over strings of either quote.
      let depth = 0;
      let j = i;
      let quote = 0;
      while (j < s.length) {
        const d = s.charCodeAt(j);
        if (quote !== 0) {
          if (d === 92 && quote === 34) j++;
          else if (d === quote) quote = 0;
        } else if (d === 34 || d === 39) quote = d;
        else if (d === 123) depth++;
        else if (d === 125) {
          depth--;
          if (depth === 0) {
            j++;
            break;
          }
        }
        j++;
      }
      j = Math.min(j, s.length);
      const terminated = depth === 0;
      if (!terminated) report('expectedToken', "Unterminated object: missing '}'.", i, j);
      push('object', i, j, { terminated });
      continue;
    }
    const ch = s[i]!;
    if ('(),/:[]=;*-'.includes(ch)) {
      push(ch as TokenKind, i, i + 1);
      continue;
    }
    // One diagnostic for a run of stray characters keeps the list readable.
    let j = i + 1;
    while (j < s.length) {
      const d = s.charCodeAt(j);
      if (isSpace(d) || isIdentPart(d) || '(),/:[]=;*-\'"@{'.includes(s[j]!)) break;
      j++;
    }
    report('unexpectedCharacter', `Unexpected character '${s.slice(i, j)}'.`, i, j);
    push('unknown', i, j);
  }
  tokens.push({
    kind: 'eof',
    text: '',
    value: '',
    terminated: true,
    spaceBefore,
    span: span(s.length, s.length),
  });
  return tokens;
}

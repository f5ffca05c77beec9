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
  return new Tokenizer(source, diagnostics, options.templates !== false).run();
}

interface TokenExtra {
  readonly value?: string;
  readonly prefix?: string;
  readonly numberType?: NumberType;
  readonly terminated?: boolean;
}

/**
 * The state of one pass. A class rather than closures inside `tokenize`: every option value of every
 * URL is tokenized, and four closures per call were a measurable part of checking a request.
 */
class Tokenizer {
  private readonly s: string;
  private readonly tokens: Token[] = [];
  private i = 0;
  private spaceBefore = false;

  constructor(
    private readonly source: SourceText,
    private readonly diagnostics: ODataDiagnostic[],
    private readonly templates: boolean,
  ) {
    this.s = source.text;
  }

  private span(from: number, to: number): TextSpan {
    return { start: this.source.offsetAt(from), end: this.source.offsetAt(to) };
  }

  private report(code: DiagnosticCode, message: string, from: number, to: number): void {
    this.diagnostics.push({ code, message, span: this.span(from, to), severity: 'error' });
  }

  private push(kind: TokenKind, from: number, to: number, extra?: TokenExtra): void {
    const text = this.s.slice(from, to);
    const token: { -readonly [K in keyof Token]: Token[K] } = {
      kind,
      text,
      value: extra?.value ?? text,
      terminated: extra?.terminated ?? true,
      spaceBefore: this.spaceBefore,
      span: this.span(from, to),
    };
    // Set only when given, without object spread (a slow path, and most of this function's time).
    if (extra?.prefix !== undefined) token.prefix = extra.prefix;
    if (extra?.numberType !== undefined) token.numberType = extra.numberType;
    this.tokens.push(token);
    this.spaceBefore = false;
    this.i = to;
  }

  /** Reads a single-quoted string starting at the quote; returns end and unescaped value. */
  private readQuoted(quoteAt: number): { end: number; value: string; terminated: boolean } {
    const s = this.s;
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
  }

  run(): Token[] {
    const s = this.s;
    while (this.i < s.length) {
      const i = this.i;
      const c = s.charCodeAt(i);
      if (isSpace(c)) {
        this.spaceBefore = true;
        this.i++;
        continue;
      }
      const guid = isHex(c) ? guidLengthAt(s, i) : 0;
      if (guid > 0) {
        this.push('guid', i, i + guid);
        continue;
      }
      if (isDigit(c) || (c === 45 && isDigit(s.charCodeAt(i + 1)))) {
        this.number(i, c);
        continue;
      }
      // `$1` names the request with Content-ID 1 inside a $batch change set.
      if (isIdentStart(c) || (c === 36 && (isIdentStart(s.charCodeAt(i + 1)) || isDigit(s.charCodeAt(i + 1))))) {
        this.word(i, c);
        continue;
      }
      if (c === 39) {
        const quoted = this.readQuoted(i);
        if (!quoted.terminated)
          this.report('unterminatedString', 'Unterminated string: missing closing quote.', i, quoted.end);
        this.push('string', i, quoted.end, { value: quoted.value, terminated: quoted.terminated });
        continue;
      }
      if (c === 34) {
        this.jsonString(i);
        continue;
      }
      if (c === 64) {
        let j = i + 1;
        while (j < s.length && isIdentPart(s.charCodeAt(j))) j++;
        if (j === i + 1) {
          this.report('unexpectedCharacter', "Expected a parameter alias name after '@'.", i, j);
        }
        this.push('alias', i, j, { value: s.slice(i + 1, j) });
        continue;
      }
      if (c === 123) {
        this.brace(i);
        continue;
      }
      const ch = s[i]!;
      if ('(),/:[]=;*-'.includes(ch)) {
        this.push(ch as TokenKind, i, i + 1);
        continue;
      }
      // One diagnostic for a run of stray characters keeps the list readable.
      let j = i + 1;
      while (j < s.length) {
        const d = s.charCodeAt(j);
        if (isSpace(d) || isIdentPart(d) || '(),/:[]=;*-\'"@{'.includes(s[j]!)) break;
        j++;
      }
      this.report('unexpectedCharacter', `Unexpected character '${s.slice(i, j)}'.`, i, j);
      this.push('unknown', i, j);
    }
    this.tokens.push({
      kind: 'eof',
      text: '',
      value: '',
      terminated: true,
      spaceBefore: this.spaceBefore,
      span: this.span(s.length, s.length),
    });
    return this.tokens;
  }

  /** A number, date, date-time or time of day at `i`, whose first character is `c`. */
  private number(i: number, c: number): void {
    const s = this.s;
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
          this.push('dateTimeOffset', start, j);
        } else {
          this.push('date', start, j);
        }
        return;
      }
    }
    const time = c === 45 ? 0 : timeLengthAt(s, i);
    if (time > 0) {
      this.push('timeOfDay', i, i + time);
      return;
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
    this.push('number', start, j, { numberType });
  }

  /** An identifier (dotted names included) or a typed literal (`duration'P1D'`) at `i`. */
  private word(i: number, c: number): void {
    const s = this.s;
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
    if (s.charCodeAt(j) === 39 && c !== 36) {
      const word = s.slice(start, j);
      if (!OPERATOR_WORDS.has(word)) {
        const quoted = this.readQuoted(j);
        if (!quoted.terminated)
          this.report('unterminatedString', 'Unterminated literal: missing closing quote.', j, quoted.end);
        this.push('typedLiteral', start, quoted.end, {
          value: quoted.value,
          prefix: word,
          terminated: quoted.terminated,
        });
        return;
      }
    }
    this.push('identifier', start, j);
  }

  /** A JSON string (`"…"`) at `i`, unescaped as JSON does. */
  private jsonString(i: number): void {
    const s = this.s;
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
        this.report('invalidLiteral', 'Invalid JSON string.', i, j);
      }
    } else {
      this.report('unterminatedString', 'Unterminated string: missing closing double quote.', i, j);
    }
    this.push('jsonString', i, j, { value, terminated });
  }

  /** A `{{name}}` placeholder or a JSON object (balanced braces) at `i`. */
  private brace(i: number): void {
    const s = this.s;
    if (this.templates && s.charCodeAt(i + 1) === 123) {
      const close = s.indexOf('}}', i + 2);
      const end = close < 0 ? s.length : close + 2;
      if (close < 0) this.report('expectedToken', "Unterminated variable: missing '}}'.", i, end);
      this.push('template', i, end, { value: s.slice(i + 2, close < 0 ? end : close).trim(), terminated: close >= 0 });
      return;
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
    if (!terminated) this.report('expectedToken', "Unterminated object: missing '}'.", i, j);
    this.push('object', i, j, { terminated });
  }
}

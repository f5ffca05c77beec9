/**
 * Request bodies as JSON, within limits: nesting deeper than Dataverse's OData reader allows is refused before
 * anything recurses (V8's `JSON.parse` overflows the stack near 10,000 levels of arrays), and a number literal
 * that a JavaScript number cannot hold exactly is remembered beside the value it became, so that a column which
 * must keep it exactly (decimal, money, whole numbers) can refuse it instead of storing something else.
 */
import { badRequest, guessed } from './errors';
import { MAX_JSON_DEPTH } from './limits';

/** Number literals that lost digits when read, by the object or array that holds them and the key. */
const inexact = new WeakMap<object, Map<string, string>>();

/** The literal as the client wrote it, when the number at `holder[key]` is not exactly that literal. */
export function inexactLiteral(holder: object, key: string): string | undefined {
  return inexact.get(holder)?.get(key);
}

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

/** Digits and decimal exponent of a literal, without leading or trailing zeros: "1.50e1" → ["15", 0]. */
function decimalParts(literal: string): [string, number] {
  const match = /^-?(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/.exec(literal);
  if (match === null) return ['', 0];
  const [, whole = '', fraction = '', exponent = '0'] = match;
  let digits = whole + fraction;
  let power = Number(exponent) - fraction.length;
  const lead = /^0*/.exec(digits)?.[0].length ?? 0;
  digits = digits.slice(lead);
  const trail = /0*$/.exec(digits)?.[0].length ?? 0;
  digits = digits.slice(0, digits.length - trail);
  power += trail;
  return digits === '' ? ['0', 0] : [digits, power];
}

/** Whether the JavaScript number read from `literal` has exactly the literal's decimal value. */
export function isExactNumber(literal: string): boolean {
  const value = Number(literal);
  if (!Number.isFinite(value)) return false;
  // The shortest text that reads back as the same number: equal decimals mean nothing was lost.
  const [digits, power] = decimalParts(literal);
  const [readDigits, readPower] = decimalParts(String(Math.abs(value)));
  return digits === readDigits && (digits === '0' || power === readPower);
}

/**
 * One pass over the text outside strings: the deepest nesting, and whether a number literal would lose
 * digits. Malformed text is left to `JSON.parse`, which reports it.
 */
function scan(text: string): { depth: number; inexact: boolean } {
  let depth = 0;
  let deepest = 0;
  let lossy = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      // Skip the string, escapes included.
      for (i++; i < text.length; i++) {
        const s = text.charCodeAt(i);
        if (s === 0x5c) i++;
        else if (s === 0x22) break;
      }
    } else if (c === 0x5b || c === 0x7b) {
      depth++;
      if (depth > deepest) deepest = depth;
      if (deepest > MAX_JSON_DEPTH) return { depth: deepest, inexact: lossy };
    } else if (c === 0x5d || c === 0x7d) depth--;
    else if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
      NUMBER.lastIndex = i;
      const match = NUMBER.exec(text);
      if (match !== null) {
        if (!lossy && !isExactNumber(match[0])) lossy = true;
        i += match[0].length - 1;
      }
    }
  }
  return { depth: deepest, inexact: lossy };
}

/** Reads JSON text as `JSON.parse` does and notes inexact number literals (only run when there are some). */
class Reader {
  private at = 0;

  constructor(private readonly text: string) {}

  read(): unknown {
    const value = this.value();
    this.space();
    if (this.at < this.text.length) throw new SyntaxError('unexpected text after the value');
    return value;
  }

  private space(): void {
    while (this.at < this.text.length) {
      const c = this.text.charCodeAt(this.at);
      if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) return;
      this.at++;
    }
  }

  private value(): unknown {
    this.space();
    const c = this.text[this.at];
    if (c === '{') return this.object();
    if (c === '[') return this.array();
    if (c === '"') return this.string();
    for (const [word, value] of [
      ['true', true],
      ['false', false],
      ['null', null],
    ] as const) {
      if (this.text.startsWith(word, this.at)) {
        this.at += word.length;
        return value;
      }
    }
    NUMBER.lastIndex = this.at;
    const match = NUMBER.exec(this.text);
    if (match === null) throw new SyntaxError('unexpected character');
    this.at += match[0].length;
    return Number(match[0]);
  }

  /** The literal of the number just read, when it is not exact. */
  private lossy(start: number, value: unknown): string | undefined {
    if (typeof value !== 'number') return undefined;
    const literal = this.text.slice(start, this.at).trim();
    return isExactNumber(literal) ? undefined : literal;
  }

  private note(holder: object, key: string, literal: string | undefined): void {
    if (literal === undefined) return;
    let notes = inexact.get(holder);
    if (notes === undefined) {
      notes = new Map<string, string>();
      inexact.set(holder, notes);
    }
    notes.set(key, literal);
  }

  private string(): string {
    const start = this.at;
    for (this.at++; this.at < this.text.length; this.at++) {
      const c = this.text.charCodeAt(this.at);
      if (c === 0x5c) this.at++;
      else if (c === 0x22) {
        this.at++;
        // The escapes are JSON's own: its parser reads them exactly.
        return JSON.parse(this.text.slice(start, this.at)) as string;
      }
    }
    throw new SyntaxError('unterminated string');
  }

  private object(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    this.at++;
    this.space();
    if (this.text[this.at] === '}') {
      this.at++;
      return out;
    }
    for (;;) {
      this.space();
      if (this.text[this.at] !== '"') throw new SyntaxError('expected a property name');
      const key = this.string();
      this.space();
      if (this.text[this.at] !== ':') throw new SyntaxError("expected ':'");
      this.at++;
      this.space();
      const start = this.at;
      const value = this.value();
      // As JSON.parse: an own property even for "__proto__", the last of duplicate keys wins.
      Object.defineProperty(out, key, { value, writable: true, enumerable: true, configurable: true });
      inexact.get(out)?.delete(key);
      this.note(out, key, this.lossy(start, value));
      this.space();
      const next = this.text[this.at++];
      if (next === '}') return out;
      if (next !== ',') throw new SyntaxError("expected ',' or '}'");
    }
  }

  private array(): unknown[] {
    const out: unknown[] = [];
    this.at++;
    this.space();
    if (this.text[this.at] === ']') {
      this.at++;
      return out;
    }
    for (;;) {
      this.space();
      const start = this.at;
      const value = this.value();
      this.note(out, String(out.length), this.lossy(start, value));
      out.push(value);
      this.space();
      const next = this.text[this.at++];
      if (next === ']') return out;
      if (next !== ',') throw new SyntaxError("expected ',' or ']'");
    }
  }
}

/**
 * A request body read as JSON. Refuses nesting deeper than `MAX_JSON_DEPTH` (400, naming the limit) and
 * malformed JSON (400); numbers that lost digits can be asked for with `inexactLiteral`.
 */
export function parseJsonBody(text: string): unknown {
  const shape = scan(text);
  if (shape.depth > MAX_JSON_DEPTH) {
    throw guessed(
      400,
      'bodyLimit',
      `The request body nests JSON objects and arrays deeper than the limit of ${MAX_JSON_DEPTH} levels.`,
    );
  }
  try {
    // Most bodies hold only exact numbers: the built-in parser is faster, and gives the same values.
    return shape.inexact ? new Reader(text).read() : (JSON.parse(text) as unknown);
  } catch {
    throw badRequest('Invalid JSON. The request body could not be read as JSON.');
  }
}

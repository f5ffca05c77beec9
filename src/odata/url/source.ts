/**
 * A decoded view of a slice of the input that remembers where each decoded character came from, so
 * that the tokenizer can work on decoded text while every span points into the raw text.
 */

export interface SourceText {
  /** The decoded text. */
  readonly text: string;
  /** Offset in the raw input of decoded index `i`; `i === text.length` gives the end of the slice. */
  offsetAt(i: number): number;
}

export interface DecodeOptions {
  /** Decode `%XX` escapes (UTF-8). Default true. */
  readonly percentDecode?: boolean;
  /** Treat `+` as a space, as HTML forms encode it. Default false: OData literals use `+` in time zones. */
  readonly plusAsSpace?: boolean;
}

function hexValue(code: number): number {
  if (code >= 48 && code <= 57) return code - 48;
  if (code >= 65 && code <= 70) return code - 55;
  if (code >= 97 && code <= 102) return code - 87;
  return -1;
}

function byteAt(raw: string, i: number, end: number): number {
  if (i + 3 > end) return -1;
  if (raw.charCodeAt(i) !== 37) return -1;
  const high = hexValue(raw.charCodeAt(i + 1));
  const low = hexValue(raw.charCodeAt(i + 2));
  return high < 0 || low < 0 ? -1 : high * 16 + low;
}

/** A slice with nothing to decode: offsets are the slice's own, shifted. */
class PlainSlice implements SourceText {
  constructor(
    readonly text: string,
    private readonly start: number,
  ) {}

  offsetAt(i: number): number {
    return this.start + Math.min(Math.max(i, 0), this.text.length);
  }
}

/** A decoded slice: `offsets[i]` is where decoded character `i` was written. */
class DecodedSlice implements SourceText {
  constructor(
    readonly text: string,
    private readonly offsets: Int32Array,
  ) {}

  offsetAt(i: number): number {
    return this.offsets[Math.min(Math.max(i, 0), this.text.length)]!;
  }
}

function needsDecoding(raw: string, start: number, end: number, options: DecodeOptions): boolean {
  const percent = options.percentDecode !== false;
  const plus = options.plusAsSpace === true;
  for (let i = start; i < end; i++) {
    const c = raw.charCodeAt(i);
    if ((c === 37 && percent) || (c === 43 && plus)) return true;
  }
  return false;
}

/** `decodeSlice(raw, start, end, options).text`, without the offsets when nothing needs decoding. */
export function decodeText(raw: string, start: number, end: number, options: DecodeOptions = {}): string {
  return needsDecoding(raw, start, end, options) ? decodeSlice(raw, start, end, options).text : raw.slice(start, end);
}

/**
 * Decodes `raw.slice(start, end)`. Invalid escapes and malformed UTF-8 stay as written: the parser is
 * tolerant, and a literal `%` is common in `.odata` files (SQL-like wildcards in `contains`).
 */
export function decodeSlice(raw: string, start: number, end: number, options: DecodeOptions = {}): SourceText {
  if (!needsDecoding(raw, start, end, options)) return new PlainSlice(raw.slice(start, end), start);
  const percent = options.percentDecode !== false;
  const plus = options.plusAsSpace === true;

  // Built as UTF-16 code units: the decoded text is never longer than the raw one.
  const units = new Uint16Array(end - start);
  const offsets = new Int32Array(end - start + 1);
  let length = 0;
  let i = start;
  while (i < end) {
    const c = raw.charCodeAt(i);
    let decoded = -1;
    let width = 1;
    if (c === 43 && plus) {
      decoded = 32;
    } else if (c === 37 && percent) {
      const b0 = byteAt(raw, i, end);
      const sequence = b0 < 0 ? -1 : utf8At(raw, i, end, b0);
      // A malformed escape stays as written: its `%` is a plain character.
      if (sequence >= 0) {
        decoded = sequence >> 3;
        width = 3 * (sequence & 7);
      }
    }
    offsets[length] = i;
    if (decoded < 0) {
      units[length++] = c;
    } else if (decoded < 0x10000) {
      units[length++] = decoded;
    } else {
      units[length++] = 0xd800 + ((decoded - 0x10000) >> 10);
      offsets[length] = i;
      units[length++] = 0xdc00 + ((decoded - 0x10000) & 0x3ff);
    }
    i += width;
  }
  offsets[length] = end;
  return new DecodedSlice(fromCodeUnits(units, length), offsets);
}

/** The string of `units[0, length)`, converted in chunks that stay below engines' argument limits. */
function fromCodeUnits(units: Uint16Array, length: number): string {
  const chunks: string[] = [];
  for (let from = 0; from < length; from += 8192) {
    chunks.push(
      String.fromCharCode.apply(null, units.subarray(from, Math.min(from + 8192, length)) as unknown as number[]),
    );
  }
  return chunks.join('');
}

/** Smallest code point of a UTF-8 sequence of 2, 3 or 4 bytes (overlong forms are malformed). */
const MINIMUM_CODE_POINT = [0, 0, 0x80, 0x800, 0x10000] as const;

/**
 * The UTF-8 sequence whose first byte `b0` is escaped at `i`: its code point times 8 plus its length in
 * bytes, or -1 when it is malformed, overlong or a surrogate.
 */
function utf8At(raw: string, i: number, end: number, b0: number): number {
  let length = 1;
  let codePoint = b0;
  if (b0 >= 0xc2 && b0 <= 0xdf) {
    length = 2;
    codePoint = b0 & 0x1f;
  } else if (b0 >= 0xe0 && b0 <= 0xef) {
    length = 3;
    codePoint = b0 & 0x0f;
  } else if (b0 >= 0xf0 && b0 <= 0xf4) {
    length = 4;
    codePoint = b0 & 0x07;
  } else if (b0 >= 0x80) {
    return -1;
  }
  for (let k = 1; k < length; k++) {
    const b = byteAt(raw, i + 3 * k, end);
    if (b < 0x80 || b > 0xbf) return -1;
    codePoint = codePoint * 64 + (b & 0x3f);
  }
  if (length > 1 && (codePoint < MINIMUM_CODE_POINT[length]! || codePoint > 0x10ffff)) return -1;
  if (codePoint >= 0xd800 && codePoint <= 0xdfff) return -1;
  return codePoint * 8 + length;
}

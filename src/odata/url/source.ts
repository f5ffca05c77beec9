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

/**
 * Decodes `raw.slice(start, end)`. Invalid escapes and malformed UTF-8 stay as written: the parser is
 * tolerant, and a literal `%` is common in `.odata` files (SQL-like wildcards in `contains`).
 */
export function decodeSlice(raw: string, start: number, end: number, options: DecodeOptions = {}): SourceText {
  const percent = options.percentDecode !== false;
  const plus = options.plusAsSpace === true;
  let needs = false;
  for (let i = start; i < end; i++) {
    const c = raw.charCodeAt(i);
    if ((c === 37 && percent) || (c === 43 && plus)) {
      needs = true;
      break;
    }
  }
  if (!needs) {
    const text = raw.slice(start, end);
    return { text, offsetAt: (i) => start + Math.min(Math.max(i, 0), text.length) };
  }

  const chars: string[] = [];
  const offsets: number[] = [];
  let i = start;
  while (i < end) {
    const c = raw.charCodeAt(i);
    if (c === 43 && plus) {
      chars.push(' ');
      offsets.push(i);
      i++;
      continue;
    }
    const b0 = percent && c === 37 ? byteAt(raw, i, end) : -1;
    if (b0 < 0) {
      chars.push(raw[i]!);
      offsets.push(i);
      i++;
      continue;
    }
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
      length = 0;
    }
    let ok = length > 0;
    for (let k = 1; ok && k < length; k++) {
      const b = byteAt(raw, i + 3 * k, end);
      if (b < 0x80 || b > 0xbf) ok = false;
      else codePoint = codePoint * 64 + (b & 0x3f);
    }
    if (ok && length > 1 && (codePoint < [0, 0, 0x80, 0x800, 0x10000][length]! || codePoint > 0x10ffff)) ok = false;
    if (ok && codePoint >= 0xd800 && codePoint <= 0xdfff) ok = false;
    if (!ok) {
      chars.push('%');
      offsets.push(i);
      i++;
      continue;
    }
    const decoded = String.fromCodePoint(codePoint);
    for (let k = 0; k < decoded.length; k++) {
      chars.push(decoded[k]!);
      offsets.push(i);
    }
    i += 3 * length;
  }
  offsets.push(end);
  const text = chars.join('');
  return { text, offsetAt: (k) => offsets[Math.min(Math.max(k, 0), text.length)]! };
}

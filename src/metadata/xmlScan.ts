/**
 * A fast scanner for the XML that `$metadata` endpoints produce: elements, attributes, the five
 * predefined entities, whitespace. It accepts only a strict subset of well-formed XML and gives up
 * (returns `false`) on anything outside it — comments, numeric character references, CDATA,
 * DOCTYPE, processing instructions after the declaration — and on every well-formedness error, so
 * that the caller can read the document again with saxes, which then reports the exact problem.
 * Giving up is always safe; accepting a document saxes would reject is the one thing it must not do.
 */

/** What the scanner hands over for each element; valid only during the `open` call. */
export interface ScannedTag {
  readonly name: string;
  attribute(name: string): string | undefined;
}

export interface ScanHandler {
  /** `end` is the offset just after the tag's `>`, for positions in messages. */
  open(tag: ScannedTag, end: number): void;
  close(): void;
}

const TAB = 9;
const LF = 10;
const CR = 13;
const SPACE = 32;
const QUOTE = 34;
const AMP = 38;
const APOS = 39;
const SLASH = 47;
const LT = 60;
const EQ = 61;
const GT = 62;
const BRACKET = 93;

function isSpace(c: number): boolean {
  return c === SPACE || c === LF || c === TAB || c === CR;
}

// ASCII names only: CSDL names are, and a name with other characters just takes the slow path,
// where saxes applies the full XML name rules.
function isNameStart(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95 || c === 58;
}

function isNameChar(c: number): boolean {
  return isNameStart(c) || (c >= 48 && c <= 57) || c === 46 || c === 45;
}

const ENTITY = /&(amp|lt|gt|quot|apos);/y;
const ENTITY_TEXT: Readonly<Record<string, string>> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

/** The length of the predefined entity reference at `at`, or 0 when there is none. */
function entityLength(xml: string, at: number): number {
  ENTITY.lastIndex = at;
  const match = ENTITY.exec(xml);
  return match ? match[0].length : 0;
}

/**
 * Checks a character that needs more than a range test: a valid surrogate pair gives 2 (its
 * length), anything XML forbids gives 0.
 */
function specialCharLength(xml: string, at: number, c: number): number {
  if (c < SPACE) return c === TAB || c === LF || c === CR ? 1 : 0;
  if (c >= 0xe000) return c <= 0xfffd ? 1 : 0;
  if (c <= 0xdbff) {
    const low = xml.charCodeAt(at + 1);
    return low >= 0xdc00 && low <= 0xdfff ? 2 : 0;
  }
  return 0;
}

const XML_DECLARATION =
  /^<\?xml[ \t\r\n]+version[ \t\r\n]*=[ \t\r\n]*(["'])1\.[0-9]+\1([ \t\r\n]+encoding[ \t\r\n]*=[ \t\r\n]*(["'])[A-Za-z][A-Za-z0-9._-]*\3)?([ \t\r\n]+standalone[ \t\r\n]*=[ \t\r\n]*(["'])(yes|no)\5)?[ \t\r\n]*\?>$/;

/** Attribute values as XML reads them: entities replaced, each line break and tab a space. */
function decodeAttribute(xml: string, start: number, end: number): string {
  let out = '';
  let from = start;
  for (let i = start; i < end; i++) {
    const c = xml.charCodeAt(i);
    if (c === AMP) {
      const length = entityLength(xml, i);
      out += xml.slice(from, i) + (ENTITY_TEXT[xml.slice(i + 1, i + length - 1)] ?? '');
      i += length - 1;
      from = i + 1;
    } else if (c === TAB || c === LF || c === CR) {
      out += `${xml.slice(from, i)} `;
      if (c === CR && xml.charCodeAt(i + 1) === LF) i++;
      from = i + 1;
    }
  }
  return out + xml.slice(from, end);
}

class Tag implements ScannedTag {
  name = '';
  count = 0;
  // Per attribute: name start and end, value start and end, and 1 when the value needs decoding.
  spans: number[] = [];

  constructor(private readonly xml: string) {}

  attribute(name: string): string | undefined {
    const spans = this.spans;
    for (let i = 0, at = 0; i < this.count; i++, at += 5) {
      const start = spans[at] ?? 0;
      if ((spans[at + 1] ?? 0) - start === name.length && this.xml.startsWith(name, start)) {
        const valueStart = spans[at + 2] ?? 0;
        const valueEnd = spans[at + 3] ?? 0;
        return spans[at + 4] === 1
          ? decodeAttribute(this.xml, valueStart, valueEnd)
          : this.xml.slice(valueStart, valueEnd);
      }
    }
    return undefined;
  }

  /** True when an earlier attribute of this tag has the name at `start..end`. */
  repeats(start: number, end: number): boolean {
    const spans = this.spans;
    const length = end - start;
    for (let i = 0, at = 0; i < this.count; i++, at += 5) {
      const other = spans[at] ?? 0;
      if ((spans[at + 1] ?? 0) - other !== length) continue;
      let same = true;
      for (let k = 0; k < length && same; k++) same = this.xml.charCodeAt(start + k) === this.xml.charCodeAt(other + k);
      if (same) return true;
    }
    return false;
  }
}

/**
 * Anything but space to U+D7FF and U+E000 to U+FFFD, and `&`: with `<`, what an attribute value is checked for.
 * `<` is looked for apart (indexOf): it starts every tag, so a search including it would stop at each one.
 */
const CAREFUL = /[^ -%'-\ud7ff\ue000-\ufffd]/g;

/** The offset of the next careful character at or after `from`, or the length when there is none. */
function nextCareful(xml: string, from: number): number {
  CAREFUL.lastIndex = from;
  return CAREFUL.exec(xml)?.index ?? xml.length;
}

/** The offset of the next `<` at or after `from`, or the length when there is none. */
function nextLt(xml: string, from: number): number {
  const at = xml.indexOf('<', from);
  return at === -1 ? xml.length : at;
}

/**
 * Scans `xml`, calling `handler` for every element. Returns `false` as soon as the document leaves
 * the subset; the handler has then seen a prefix of the document and its results must be dropped.
 */
export function scanXml(xml: string, handler: ScanHandler): boolean {
  const n = xml.length;
  const tag = new Tag(xml);
  const open: string[] = [];
  /** By length, the last element name of that length: a document repeats a few names 100,000 times. */
  const names: (string | undefined)[] = [];
  let rootSeen = false;
  /** Where the next character an attribute value must not hold as such (`&`, control, surrogate) is. */
  let careful = -1;
  /** Where the next `<` is, the other character an attribute value must not hold. */
  let lessThan = -1;
  let i = xml.charCodeAt(0) === 0xfeff ? 1 : 0;
  if (xml.startsWith('<?xml', i)) {
    const end = xml.indexOf('?>', i);
    if (end === -1 || !XML_DECLARATION.test(xml.slice(i, end + 2))) return false;
    i = end + 2;
  }

  while (i < n) {
    // Text: only whitespace outside the root element; inside it, anything but markup errors.
    const lt = xml.indexOf('<', i);
    const textEnd = lt === -1 ? n : lt;
    for (; i < textEnd; i++) {
      const c = xml.charCodeAt(i);
      if (open.length === 0) {
        if (!isSpace(c)) return false;
      } else if (c === AMP) {
        const length = entityLength(xml, i);
        if (length === 0) return false;
        i += length - 1;
      } else if (c === BRACKET) {
        if (xml.startsWith(']]>', i)) return false;
      } else if (c < SPACE || c >= 0xd800) {
        const length = specialCharLength(xml, i, c);
        if (length === 0) return false;
        i += length - 1;
      }
    }
    if (lt === -1) break;
    i = lt + 1;
    let c = xml.charCodeAt(i);

    if (c === SLASH) {
      const name = open.pop();
      if (name === undefined || !xml.startsWith(name, i + 1)) return false;
      i += 1 + name.length;
      while (isSpace(xml.charCodeAt(i))) i++;
      if (xml.charCodeAt(i) !== GT) return false;
      i++;
      handler.close();
      continue;
    }

    if (!isNameStart(c) || (open.length === 0 && rootSeen)) return false;
    const nameStart = i;
    while (isNameChar(xml.charCodeAt(++i)));
    const known = names[i - nameStart];
    tag.name =
      known !== undefined && xml.startsWith(known, nameStart)
        ? known
        : (names[i - nameStart] = xml.slice(nameStart, i));
    tag.count = 0;
    let selfClosing = false;
    for (;;) {
      c = xml.charCodeAt(i);
      if (c === GT) {
        i++;
        break;
      }
      if (c === SLASH) {
        if (xml.charCodeAt(i + 1) !== GT) return false;
        selfClosing = true;
        i += 2;
        break;
      }
      // Attributes must be separated from the name and from each other by whitespace.
      if (!isSpace(c)) return false;
      while (isSpace((c = xml.charCodeAt(++i))));
      if (c === GT || c === SLASH) continue;
      if (!isNameStart(c)) return false;
      const attributeStart = i;
      while (isNameChar(xml.charCodeAt(++i)));
      const attributeEnd = i;
      while (isSpace(xml.charCodeAt(i))) i++;
      if (xml.charCodeAt(i) !== EQ) return false;
      while (isSpace((c = xml.charCodeAt(++i))));
      if (c !== QUOTE && c !== APOS) return false;
      const quote = c;
      const valueStart = ++i;
      const valueEnd = xml.indexOf(quote === QUOTE ? '"' : "'", valueStart);
      if (valueEnd === -1) return false;
      if (careful < valueStart) careful = nextCareful(xml, valueStart);
      if (lessThan < valueStart) lessThan = nextLt(xml, valueStart);
      let decode = 0;
      // Most values hold nothing to check: one search per tag (for `<`) finds the next character that needs a look.
      if (careful > valueEnd && lessThan > valueEnd) i = valueEnd;
      while (i < valueEnd) {
        c = xml.charCodeAt(i);
        if (c === LT) return false;
        if (c === AMP) {
          const length = entityLength(xml, i);
          if (length === 0) return false;
          decode = 1;
          i += length;
        } else if (c < SPACE || c >= 0xd800) {
          const length = specialCharLength(xml, i, c);
          if (length === 0) return false;
          if (c < SPACE) decode = 1;
          i += length;
        } else {
          i++;
        }
      }
      // An entity or a surrogate pair reaching past the quote: not well-formed.
      if (i !== valueEnd) return false;
      if (tag.repeats(attributeStart, attributeEnd)) return false;
      const at = tag.count * 5;
      tag.spans[at] = attributeStart;
      tag.spans[at + 1] = attributeEnd;
      tag.spans[at + 2] = valueStart;
      tag.spans[at + 3] = i;
      tag.spans[at + 4] = decode;
      tag.count++;
      i++;
    }
    rootSeen = true;
    handler.open(tag, i);
    if (selfClosing) handler.close();
    else open.push(tag.name);
  }
  return rootSeen && open.length === 0;
}

/**
 * The position saxes would give just before `offset`: 1-based line (`\n`, `\r\n` and a lone `\r`
 * each end one) and 0-based column in code points. Positions asked for in document order resume
 * counting where the last one stopped.
 */
export class Positions {
  private offset = 0;
  private line = 1;
  private lineStart = 0;

  constructor(private readonly xml: string) {}

  at(offset: number): { line: number; column: number } {
    if (offset < this.offset) {
      this.offset = 0;
      this.line = 1;
      this.lineStart = 0;
    }
    const xml = this.xml;
    for (let i = this.offset; i < offset; i++) {
      const c = xml.charCodeAt(i);
      if (c === LF || (c === CR && xml.charCodeAt(i + 1) !== LF)) {
        this.line++;
        this.lineStart = i + 1;
      }
    }
    this.offset = offset;
    let column = 0;
    for (let i = this.lineStart; i < offset; i++) {
      const c = xml.charCodeAt(i);
      // A surrogate pair is one character (the scanner accepts low surrogates only in pairs).
      if (c < 0xdc00 || c > 0xdfff) column++;
    }
    return { line: this.line, column };
  }
}

import { parse } from 'csv-parse';
import type { CsvError } from 'csv-parse';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { WorkbenchError } from '../core/errors';
import { isJsonObject } from '../core/json';

export type ImportFormat = 'csv' | 'jsonl';

/** One record of the source file, with the line it starts on (1-based, as editors count). */
export interface SourceRow {
  readonly line: number;
  /** Strings from CSV, JSON values from JSONL; undefined when the line could not be read at all. */
  readonly values: Readonly<Record<string, unknown>> | undefined;
  /** Why the line could not be read (bad JSON, wrong number of CSV fields). */
  readonly problem?: string;
}

/** A file opened for streaming: its columns (CSV header, or the first JSON object's keys) and its rows. */
export interface ImportSource {
  readonly columns: readonly string[];
  /** CSV: the header is the whole truth about columns; JSONL: rows may add keys (checked row by row). */
  readonly fixedColumns: boolean;
  readonly rows: AsyncIterable<SourceRow>;
  /** Bytes read so far and the file's size, for progress; size 0 when unknown. */
  readonly bytes: () => { readonly read: number; readonly size: number };
}

/** An encoding name TextDecoder knows (`utf-8`, `latin1`, `windows-1252`, `utf-16le`, …), or an error saying so. */
export function checkEncoding(name: string): string {
  try {
    return new TextDecoder(name).encoding;
  } catch {
    throw new WorkbenchError('invalidInput', `Unknown encoding '${name}' (try utf-8, windows-1252 or utf-16le).`);
  }
}

/** The line (1-based) of the first bytes of `chunk` that `encoding` cannot decode, counting from `firstLine`. */
function badLine(chunk: Uint8Array, encoding: string, firstLine: number): number {
  let line = firstLine;
  let start = 0;
  for (let i = 0; i <= chunk.length; i++) {
    if (i < chunk.length && chunk[i] !== 0x0a) continue;
    try {
      // The first piece may start inside a character carried over from the previous chunk; it gets the benefit of the doubt.
      if (start > 0 || i === chunk.length) new TextDecoder(encoding, { fatal: true }).decode(chunk.subarray(start, i));
    } catch {
      return line;
    }
    line++;
    start = i + 1;
  }
  return firstLine;
}

/**
 * Bytes decoded at a time. The text of a larger piece would be a string of V8's large-object space, which only a
 * full collection frees (peak memory grew with the file); 16 KiB of any encoding decode to at most 32 KiB.
 */
const DECODED_PIECE = 16 * 1024;

/** The chunks of `bytes` cut to at most `size` bytes each (views, not copies). */
async function* pieces(bytes: AsyncIterable<Uint8Array>, size: number): AsyncGenerator<Uint8Array> {
  for await (const chunk of bytes) {
    for (let at = 0; at < chunk.length; at += size) yield chunk.subarray(at, at + size);
  }
}

/**
 * Decodes a byte stream strictly: a byte sequence that is not valid in `encoding` stops the import with the line
 * it is on, instead of turning into U+FFFD in the imported records. A UTF-8 BOM is dropped.
 */
async function* decode(bytes: AsyncIterable<Uint8Array>, encoding: string, counted: (n: number) => void) {
  const decoder = new TextDecoder(encoding, { fatal: true });
  let lines = 1;
  for await (const chunk of pieces(bytes, DECODED_PIECE)) {
    let text: string;
    try {
      text = decoder.decode(chunk, { stream: true });
    } catch {
      const line = badLine(chunk, encoding, lines);
      throw new WorkbenchError(
        'invalidInput',
        `line ${line} is not valid ${encoding}; save the file as UTF-8 or pass --encoding with its encoding (e.g. windows-1252)`,
      );
    }
    for (const byte of chunk) if (byte === 0x0a) lines++;
    counted(chunk.length);
    if (text !== '') yield text;
  }
  let rest: string;
  try {
    rest = decoder.decode();
  } catch {
    throw new WorkbenchError('invalidInput', `the file ends inside a character that is not valid ${encoding}`);
  }
  if (rest !== '') yield rest;
}

interface CsvRecord {
  readonly record: string[];
  /** The record's text as read: the blank lines skipped before it, its fields, its line break. */
  readonly raw: string;
}

/**
 * The line breaks in `text` (LF, CRLF or a lone CR, as editors count lines), or only those before its first
 * other character when `leading`.
 */
function lineBreaks(text: string, leading = false): number {
  let breaks = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code === 0x0a || (code === 0x0d && text.charCodeAt(i + 1) !== 0x0a)) breaks++;
    else if (leading && code !== 0x0d) break;
  }
  return breaks;
}

/** Records parsed ahead of the reader at most (plus one chunk's worth): the reader's pace sets the file's. */
const AHEAD = 1000;

/**
 * RFC 4180 CSV through csv-parse: quoted fields may hold commas, quotes and line breaks; CRLF or LF. Blank lines
 * are skipped. A quote left open is an error naming the line where its record starts: without that check the rest
 * of the file would fold into one field. Records are taken as the parser emits them (not through its async
 * iterator, which drops the records still buffered when the error comes), and text is fed only while few are
 * waiting, so memory stays flat. Lines are counted in each record's raw text: csv-parse's `info` objects (one per
 * record) made the old generation grow with the file, and count a CRLF inside a quoted field as two lines.
 */
async function* csvRecords(text: AsyncIterable<string>): AsyncGenerator<{ line: number; fields: string[] }> {
  const parser = parse({ raw: true, relax_column_count: true, skip_empty_lines: true, bom: true });
  const queue: CsvRecord[] = [];
  let finished = false;
  let failure: unknown;
  let wake: (() => void) | undefined;
  const signal = (): void => {
    const resume = wake;
    wake = undefined;
    resume?.();
  };
  const waitForSignal = (): Promise<void> => new Promise((resolve) => (wake = resolve));
  parser.on('data', (record: CsvRecord) => {
    queue.push(record);
    signal();
  });
  parser.on('error', (error) => {
    failure ??= error;
    signal();
  });
  parser.on('end', () => {
    finished = true;
    signal();
  });
  let stopped = false;
  const pump = (async () => {
    try {
      for await (const piece of text) {
        while (queue.length > AHEAD && !stopped) await waitForSignal();
        if (stopped || failure !== undefined) return;
        parser.write(piece);
      }
      parser.end();
    } catch (error) {
      failure ??= error;
      finished = true;
      signal();
    }
  })();
  // A record starts on the line after the previous one ends, past the blank lines skipped in between.
  let lastEnd = 0;
  try {
    for (;;) {
      const next = queue.shift();
      if (next === undefined) {
        if (failure !== undefined || finished) break;
        await waitForSignal();
        continue;
      }
      if (queue.length <= AHEAD) signal();
      const line = lastEnd + 1 + lineBreaks(next.raw, true);
      lastEnd += lineBreaks(next.raw);
      yield { line, fields: next.record };
    }
  } finally {
    stopped = true;
    signal();
    parser.destroy();
    await pump;
  }
  if (failure === undefined) return;
  const csv = failure as CsvError & { raw?: unknown };
  const start = lastEnd + 1 + (typeof csv.raw === 'string' ? lineBreaks(csv.raw, true) : 0);
  if (csv.code === 'CSV_QUOTE_NOT_CLOSED') {
    throw new WorkbenchError('invalidInput', `line ${start}: a quoted field of the record starting here is not closed`);
  }
  if (typeof csv.code === 'string' && csv.code.startsWith('CSV_')) {
    throw new WorkbenchError('invalidInput', `line ${start}: ${csv.message.replace(/ at line \d+/, '')}`);
  }
  throw failure instanceof Error ? failure : new WorkbenchError('internal', 'The file could not be read.');
}

function csvRows(
  header: { line: number; fields: string[] },
  records: AsyncIterator<{ line: number; fields: string[] }>,
) {
  const columns = header.fields.map((name) => name.trim());
  const seen = new Set<string>();
  for (const column of columns) {
    if (column === '') throw new WorkbenchError('invalidInput', 'The CSV header has an empty column name.');
    if (seen.has(column)) throw new WorkbenchError('invalidInput', `The CSV header names '${column}' twice.`);
    seen.add(column);
  }
  async function* rows(): AsyncGenerator<SourceRow> {
    for (let next = await records.next(); next.done !== true; next = await records.next()) {
      const { line, fields } = next.value;
      if (fields.length !== columns.length) {
        yield { line, values: undefined, problem: `${fields.length} fields where the header has ${columns.length}` };
      } else yield { line, values: Object.fromEntries(columns.map((column, i) => [column, fields[i] ?? ''])) };
    }
  }
  return { columns, rows: rows() };
}

/** One JSON object per line; blank lines are skipped. */
async function* jsonLines(text: AsyncIterable<string>): AsyncGenerator<SourceRow> {
  let carry = '';
  let line = 1;
  const row = (content: string, at: number): SourceRow | undefined => {
    if (content.trim() === '') return undefined;
    let value: unknown;
    try {
      value = JSON.parse(content) as unknown;
    } catch {
      return { line: at, values: undefined, problem: 'not valid JSON' };
    }
    return isJsonObject(value)
      ? { line: at, values: value }
      : { line: at, values: undefined, problem: 'not a JSON object' };
  };
  let first = true;
  for await (const piece of text) {
    let chunk = carry + piece;
    if (first) {
      if (chunk.startsWith('\uFEFF')) chunk = chunk.slice(1);
      first = false;
    }
    const parts = chunk.split('\n');
    carry = parts.pop() ?? '';
    for (const part of parts) {
      const found = row(part.endsWith('\r') ? part.slice(0, -1) : part, line++);
      if (found !== undefined) yield found;
    }
  }
  const last = row(carry, line);
  if (last !== undefined) yield last;
}

/** Opens `bytes` (a file's content) as an import source; reads only as far as the header (CSV) or first row (JSONL). */
export async function openSource(
  bytes: AsyncIterable<Uint8Array>,
  format: ImportFormat,
  options: { readonly encoding?: string; readonly size?: number } = {},
): Promise<ImportSource> {
  const encoding = checkEncoding(options.encoding ?? 'utf-8');
  let read = 0;
  const text = decode(bytes, encoding, (n) => (read += n));
  const progress = () => ({ read, size: options.size ?? 0 });
  if (format === 'csv') {
    const records = csvRecords(text);
    const header = await records.next();
    if (header.done === true) throw new WorkbenchError('invalidInput', 'The CSV file has no header line.');
    const { columns, rows } = csvRows(header.value, records);
    return { columns, fixedColumns: true, rows, bytes: progress };
  }
  const lines = jsonLines(text);
  const first = await lines.next();
  async function* all(): AsyncGenerator<SourceRow> {
    if (first.done === true) return;
    yield first.value;
    yield* lines;
  }
  const columns = first.done !== true && first.value.values !== undefined ? Object.keys(first.value.values) : [];
  return { columns, fixedColumns: false, rows: all(), bytes: progress };
}

/** Opens a file for import, streaming: memory stays flat whatever its size. */
export async function openSourceFile(
  file: string,
  format: ImportFormat,
  options: { readonly encoding?: string } = {},
): Promise<ImportSource> {
  const { size } = await stat(file);
  // Checked before the stream exists: a stream opens its file later, and one left behind by a refusal would
  // report its own errors (the file gone by then) to nobody.
  if (options.encoding !== undefined) checkEncoding(options.encoding);
  const stream = createReadStream(file, { highWaterMark: 256 * 1024 });
  try {
    return await openSource(stream, format, { ...options, size });
  } catch (error) {
    stream.destroy();
    throw error;
  }
}

/** A source from text in memory (tests, small inputs), through the same reader as files. */
export function openSourceText(text: string, format: ImportFormat): Promise<ImportSource> {
  return openSource(Readable.from([Buffer.from(text, 'utf8')]), format);
}

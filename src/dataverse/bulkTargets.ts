import type { JsonObject } from '../core/json';

const NAMESPACE = 'Microsoft.Dynamics.CRM.';
/** Keys are GUIDs (the import checks them): a fixed width, so a row's parts are found from where it starts. */
const KEY_LENGTH = 36;
const BODY_START = Buffer.from('{"Targets":[', 'latin1');
const BODY_END = ']}';

/** What every target of one table repeats: its type and the text around its key. */
export interface TargetShape {
  readonly entitySet: string;
  /** `{"@odata.type":"Microsoft.Dynamics.CRM.account","@odata.id":"accounts(` */
  readonly head: string;
  /** `,"accountid":"`, which follows the row's columns. */
  readonly keyColumn: string;
}

export function targetShape(table: {
  readonly entitySet: string;
  readonly logicalName: string;
  readonly primaryKey: string;
}): TargetShape {
  const { entitySet, logicalName, primaryKey } = table;
  return {
    entitySet,
    head: `{"@odata.type":${JSON.stringify(`${NAMESPACE}${logicalName}`)},"@odata.id":${JSON.stringify(`${entitySet}(`).slice(0, -1)}`,
    keyColumn: `,${JSON.stringify(primaryKey)}:"`,
  };
}

/**
 * The rows of one request as the UTF-8 text of their UpsertMultiple targets, one after another with a comma
 * after each: `{"@odata.type":"Microsoft.Dynamics.CRM.account","@odata.id":"accounts(<key>)",<columns>,
 * "accountid":"<key>"},`, the text `JSON.stringify` gives the same target as an object. An import holds a few
 * requests' rows for a round trip; as objects they outlived V8's young generation and piled up in the old one
 * between full collections, so peak memory grew with the file. As bytes they are one buffer per request, outside
 * the JavaScript heap, reused for the next request once this one is answered. The `$batch` path takes each row's
 * columns back out as `{<columns>}`, the body of a single upsert.
 */
export class BulkTargets {
  /** `{"Targets":[` first, so that a request of every row is a view of the buffer, not a copy. */
  private bytes = Buffer.allocUnsafe(64 * 1024);
  private end = BODY_START.length;
  private starts = new Float64Array(100);
  private lines = new Float64Array(100);
  private size = 0;
  private readonly headLength: number;
  /** From a row's `{` to its columns: head, key and `)",`. */
  private readonly columnsOffset: number;
  /** From the end of a row's columns to the start of the next row: key column, key, `"}` and `,`. */
  private readonly tailLength: number;

  constructor(private readonly shape: TargetShape) {
    BODY_START.copy(this.bytes, 0);
    this.headLength = Buffer.byteLength(shape.head);
    this.columnsOffset = this.headLength + KEY_LENGTH + 3;
    this.tailLength = Buffer.byteLength(shape.keyColumn) + KEY_LENGTH + 3;
  }

  get count(): number {
    return this.size;
  }

  /** Appends a row: `key` is a GUID, `columns` a non-empty object without the primary key or annotations. */
  add(line: number, key: string, columns: JsonObject): void {
    if (key.length !== KEY_LENGTH) throw new RangeError('A target key is a GUID.');
    const json = JSON.stringify(columns);
    // UTF-8 takes at most three bytes per UTF-16 unit; the one after the comma is room for `]}` (see `body`).
    const most = this.columnsOffset + json.length * 3 + this.tailLength + 1;
    if (this.end + most > this.bytes.length) this.grow(this.end + most);
    if (this.size === this.starts.length) {
      this.starts = grown(this.starts);
      this.lines = grown(this.lines);
    }
    const bytes = this.bytes;
    // A request of every row turned the last comma into `]`.
    if (this.size > 0) bytes[this.end - 1] = 0x2c;
    const start = this.end;
    this.starts[this.size] = start;
    this.lines[this.size] = line;
    this.size += 1;
    let at = start + bytes.write(this.shape.head, start, 'utf8');
    at += bytes.write(key, at, 'latin1');
    at += bytes.write(')"', at, 'latin1');
    // The columns' own braces become the commas around them.
    const opening = at;
    at += bytes.write(json, at, 'utf8');
    bytes[opening] = 0x2c;
    at -= 1;
    at += bytes.write(this.shape.keyColumn, at, 'utf8');
    at += bytes.write(key, at, 'latin1');
    at += bytes.write('"},', at, 'latin1');
    this.end = at;
  }

  /** The source line of row `index`. */
  line(index: number): number {
    return this.lines[index] ?? 0;
  }

  key(index: number): string {
    const at = this.startOf(index) + this.headLength;
    return this.bytes.toString('latin1', at, at + KEY_LENGTH);
  }

  /** Row `index`'s columns as one JSON object (`{"name":"…",…}`): the body of its single upsert. */
  columns(index: number): string {
    const from = this.startOf(index) + this.columnsOffset;
    const to = this.startOf(index + 1) - this.tailLength;
    return `{${this.bytes.toString('utf8', from, to)}}`;
  }

  /** The UpsertMultiple body (`{"Targets":[…]}`) of rows `from` to `to` (not included). */
  body(from = 0, to = this.size): Uint8Array<ArrayBuffer> {
    if (from === 0 && to === this.size) {
      // The last comma becomes `]`, and `}` goes into the byte kept free after it.
      this.bytes.write(BODY_END, this.end - 1, 'latin1');
      return this.bytes.subarray(0, this.end + 1);
    }
    const rows = this.bytes.subarray(this.startOf(from), this.startOf(to) - 1);
    return Buffer.concat([BODY_START, rows, Buffer.from(BODY_END, 'latin1')]);
  }

  /** Empties it for the next request's rows, keeping the memory. */
  clear(): void {
    this.end = BODY_START.length;
    this.size = 0;
  }

  private startOf(index: number): number {
    return index >= this.size ? this.end : (this.starts[index] ?? this.end);
  }

  private grow(needed: number): void {
    const bigger = Buffer.allocUnsafe(Math.max(needed, this.bytes.length * 2));
    this.bytes.copy(bigger, 0, 0, this.end);
    this.bytes = bigger;
  }
}

function grown(list: Float64Array<ArrayBuffer>): Float64Array<ArrayBuffer> {
  const bigger = new Float64Array(list.length * 2);
  bigger.set(list);
  return bigger;
}

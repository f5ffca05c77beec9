import type { ExpressionNode, SegmentArguments } from '../../odata/url';
import { badRequest, propertyNotFound, recordNotFound } from '../errors';
import { isGuid } from '../records';
import type { Table } from '../schema/schema';
import type { Row, Store } from '../store';

/** A record's key: its id (lower case), or an alternate key's values by column. */
export type Key = string | { readonly alternate: Record<string, string | number> };

const SYNTAX = 'Bad Request - Error in query syntax.';

/** The value of one alternate-key part: a string, a number, or a GUID (lookup keys), lower-cased. */
function keyValue(node: ExpressionNode): string | number {
  if (node.kind !== 'literal') throw badRequest(SYNTAX);
  switch (node.literalType) {
    case 'string':
      return String(node.value);
    case 'guid':
      return String(node.value).toLowerCase();
    case 'int':
    case 'int64':
    case 'decimal':
    case 'double':
    case 'single':
      return Number(node.raw);
    default:
      throw badRequest(SYNTAX);
  }
}

/** `(<guid>)`, or an alternate key `(col='x',col2=1)` that the table declares (`_x_value` names lookup `x`). */
export function resolveKey(table: Table, args: SegmentArguments): Key {
  if (args.kind === 'keyValue') {
    const value = args.value;
    if (value.kind === 'literal' && value.literalType === 'guid' && isGuid(String(value.value))) {
      return String(value.value).toLowerCase();
    }
    throw badRequest(SYNTAX);
  }
  if (args.values.length === 0) throw badRequest(SYNTAX);
  const values: Record<string, string | number> = {};
  for (const part of args.values) {
    const written = part.name;
    const name = written.startsWith('_') && written.endsWith('_value') ? written.slice(1, -6) : written;
    if (!table.columns.has(name)) throw propertyNotFound(table.logicalName, written);
    values[name] = keyValue(part.value);
  }
  const names = Object.keys(values).sort();
  const matches = table.alternateKeys.some((k) => [...k.columns].sort().join(',') === names.join(','));
  if (!matches) throw badRequest(`The key ${names.join(',')} is not an alternate key of '${table.logicalName}'.`);
  return { alternate: values };
}

export function findByKey(store: Store, table: Table, key: Key): Row | null {
  if (typeof key === 'string') return store.get(table, key);
  return store.findBy(table, key.alternate)[0] ?? null;
}

/** The 404 of a key that names no record; an alternate key is named as written (`accountnumber='A-1'`). */
export function missingRecord(table: Table, key: Key): Error {
  if (typeof key === 'string') return recordNotFound(table.logicalName, key);
  const written = Object.entries(key.alternate).map(([name, value]) =>
    typeof value === 'string' ? `${name}='${value.replace(/'/g, "''")}'` : `${name}=${value}`,
  );
  return recordNotFound(table.logicalName, written.join(','));
}

/**
 * The kinds of value a column holds and a literal is, as far as the checks can tell them apart, and
 * why a literal cannot stand for a column's value.
 */
import type { LiteralNode } from '../url/syntax';

/** `Edm.String` and friends; `undefined` for anything the checks cannot reason about. */
export type ValueType = 'string' | 'number' | 'guid' | 'date' | 'boolean' | undefined;

export function valueTypeOfProperty(type: string): ValueType {
  switch (type) {
    case 'Edm.String':
      return 'string';
    case 'Edm.Int16':
    case 'Edm.Int32':
    case 'Edm.Int64':
    case 'Edm.Decimal':
    case 'Edm.Double':
    case 'Edm.Single':
    case 'Edm.Byte':
      return 'number';
    case 'Edm.Guid':
      return 'guid';
    case 'Edm.DateTimeOffset':
    case 'Edm.Date':
      return 'date';
    case 'Edm.Boolean':
      return 'boolean';
    default:
      return undefined;
  }
}

const GUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

function valueTypeOfLiteral(literal: LiteralNode): ValueType | 'null' {
  switch (literal.literalType) {
    case 'null':
      return 'null';
    case 'string':
      return 'string';
    case 'int':
    case 'int64':
    case 'decimal':
    case 'double':
    case 'single':
      return 'number';
    case 'guid':
      return 'guid';
    case 'date':
    case 'dateTimeOffset':
      return 'date';
    case 'boolean':
      return 'boolean';
    default:
      return undefined;
  }
}

const TYPE_NAMES: Record<Exclude<ValueType, undefined>, string> = {
  string: 'a string',
  number: 'a number',
  guid: 'a GUID',
  date: 'a date',
  boolean: 'a boolean',
};

/** Why `literal` cannot be compared with a column of type `column`, or undefined when it can. */
export function mismatch(column: ValueType, literal: LiteralNode): string | undefined {
  const type = valueTypeOfLiteral(literal);
  if (column === undefined || type === undefined || type === 'null' || type === column) return undefined;
  // Dataverse accepts lookups compared with a quoted GUID too (dataverse-webapi.md §4.2).
  if (column === 'guid' && type === 'string' && typeof literal.value === 'string' && GUID.test(literal.value))
    return undefined;
  if (column === 'date' && type === 'string') {
    return `Dates are written without quotes: ${String(literal.value)}.`;
  }
  if (
    column === 'number' &&
    type === 'string' &&
    typeof literal.value === 'string' &&
    /^-?\d+(\.\d+)?$/.test(literal.value)
  ) {
    return `This column holds numbers: write ${literal.value} without quotes.`;
  }
  return `This column holds ${TYPE_NAMES[column]}, not ${TYPE_NAMES[type]}.`;
}

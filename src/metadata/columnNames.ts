/**
 * What every view calls a column (the explorer's tree, the results grid, hover and completion): its
 * display name with its logical name, a lookup by its logical name (`primarycontactid`) rather than
 * the Web API's `_primarycontactid_value`, and its type as Dataverse names it with the Edm type second.
 * Display names and attribute types come from EntityDefinitions; on bare CSDL the names and the Edm
 * type are all there is.
 */
import type { Property } from './model';

const UNDERSCORE = 95;
const SUFFIX = '_value';

/** `ownerid` for the lookup property `_ownerid_value`; undefined for any other name. */
export function lookupLogicalName(propertyName: string): string | undefined {
  // `^_(.+)_value$` without the regex: asked for every property of an 800-table schema at the emulator's start,
  // where each match array is garbage.
  const end = propertyName.length - SUFFIX.length;
  if (end < 2 || propertyName.charCodeAt(0) !== UNDERSCORE || !propertyName.endsWith(SUFFIX)) return undefined;
  for (let i = 1; i < end; i++) if (isLineTerminator(propertyName.charCodeAt(i))) return undefined;
  return propertyName.slice(1, end);
}

/** What the regex `.` does not match. */
function isLineTerminator(c: number): boolean {
  return c === 10 || c === 13 || c === 0x2028 || c === 0x2029;
}

/** `_primarycontactid_value` → `primarycontactid`: a lookup's logical name, as makers and docs call it. */
export function columnLogicalName(property: Property): string {
  return lookupLogicalName(property.name) ?? property.name;
}

/** What the tree and grid call a column: its display name, else its logical name. */
export function columnLabel(property: Property): string {
  return property.info?.displayName ?? columnLogicalName(property);
}

/**
 * Attribute types whose name in Power Apps differs from the AttributeTypeCode: `Picklist` is Choice and
 * `Boolean` is Yes/No (Two options in the classic designer). Learn: "Types of columns"
 * (https://learn.microsoft.com/power-apps/maker/data-platform/types-of-fields).
 */
const MAKER_TYPE_NAMES: Readonly<Record<string, string>> = { Picklist: 'Choice', Boolean: 'Yes/No' };

/** The column's type as Dataverse names it (Money, Lookup, Choice, Yes/No), else the Edm type without its prefix. */
export function columnType(property: Property): string {
  const attributeType = property.info?.attributeType;
  if (attributeType === undefined) return property.type.replace(/^Edm\./, '');
  return MAKER_TYPE_NAMES[attributeType] ?? attributeType;
}

/** `Money (Edm.Decimal)`: Dataverse's type first, the Edm type second; just `Edm.Decimal` on bare CSDL. */
export function columnTypeText(property: Property): string {
  return property.info === undefined ? property.type : `${columnType(property)} (${property.type})`;
}

/** Columns in the order a maker expects: by display name, then logical name. */
export function compareColumns(a: Property, b: Property): number {
  return (
    columnLabel(a).localeCompare(columnLabel(b), 'en', { sensitivity: 'base' }) ||
    columnLogicalName(a).localeCompare(columnLogicalName(b))
  );
}

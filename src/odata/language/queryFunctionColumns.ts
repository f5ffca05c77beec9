/**
 * The columns a Dataverse query function takes in `PropertyName`: logical names
 * (`PropertyName='<logicalname>'`, dataverse-webapi.md §5). For a lookup that is the attribute's own
 * name (`ownerid`, `parentcustomerid`), which CSDL has only as the `_ownerid_value` property and as
 * single-valued navigation properties (`ownerid`, or `parentcustomerid_account` and
 * `parentcustomerid_contact` for a multi-table lookup). `_ownerid_value` is not an attribute, so
 * Dataverse's query builder refuses it there.
 */
import type { MetadataIndex } from '../../metadata/lookup';
import { didYouMean } from '../../metadata/lookup';
import { lookupLogicalName } from '../../metadata/columnNames';
import type { EntityType, Property } from '../../metadata/model';

export type QueryFunctionColumn =
  /** A column; for a lookup named by its logical name, `property` is its `_x_value` property. */
  | { readonly kind: 'column'; readonly property: Property }
  /** A lookup named by its `_x_value` property instead of its logical name. */
  | { readonly kind: 'lookupProperty'; readonly property: Property; readonly logicalName: string }
  | { readonly kind: 'unknown'; readonly suggestions: readonly string[] };

/** The logical names `PropertyName` accepts on `type`, inherited columns included. */
export function queryFunctionColumnNames(index: MetadataIndex, type: EntityType): string[] {
  return index.properties(type).map((p) => lookupLogicalName(p.name) ?? p.name);
}

/** What `name` in `PropertyName='name'` refers to on `type`. Case is forgiven, as it always was here. */
export function queryFunctionColumn(index: MetadataIndex, type: EntityType, name: string): QueryFunctionColumn {
  const lookup = index.findProperty(type, `_${name}_value`);
  if (lookup.match) return { kind: 'column', property: lookup.match };
  const found = index.findProperty(type, name);
  if (found.match) {
    const logicalName = lookupLogicalName(found.match.name);
    return logicalName === undefined
      ? { kind: 'column', property: found.match }
      : { kind: 'lookupProperty', property: found.match, logicalName };
  }
  return { kind: 'unknown', suggestions: didYouMean(name, queryFunctionColumnNames(index, type)) };
}

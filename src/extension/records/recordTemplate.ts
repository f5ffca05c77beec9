/**
 * The JSON a new record starts from: the table's required columns with placeholder values. Pure (no
 * `vscode`), so it is unit-tested in plain Node.
 */
import type { RecordJson } from '../../core/recordPatch';
import { isReadOnlyColumn } from '../../core/recordPatch';
import { MetadataIndex } from '../../metadata/lookup';
import type { MetadataModel, Property } from '../../metadata/model';

/** What a lookup's `@odata.bind` placeholder holds until the user puts a record id in its place. */
export const ID_PLACEHOLDER = '<id>';

/**
 * Required on paper, but Dataverse fills them on create (the caller owns the record, it starts
 * active): asking the user for them would only invite a 400.
 */
const DEFAULTED_ON_CREATE = new Set(['ownerid', 'statecode', 'statuscode']);

const REQUIRED = new Set(['SystemRequired', 'ApplicationRequired']);

const NUMBER_ATTRIBUTES = new Set(['Integer', 'BigInt', 'Decimal', 'Double', 'Money']);
const CHOICE_ATTRIBUTES = new Set(['Picklist', 'State', 'Status']);
const NUMBER_EDM = new Set(['Edm.Int16', 'Edm.Int32', 'Edm.Int64', 'Edm.Decimal', 'Edm.Double', 'Edm.Single']);
const LOOKUP = /^_(.+)_value$/;

export interface TemplateTable {
  readonly entitySet: string;
  /** From the table list, for when the model was not enriched with the table's EntityDefinitions. */
  readonly primaryName: string | undefined;
}

/**
 * The required columns of the table (the primary name column always), each with a placeholder: `""`
 * for text, `0` for numbers, the first option for a choice, `false` for yes/no, `null` otherwise.
 * A lookup is written through its navigation property, so it appears as
 * `"<navigation>@odata.bind": "/<set>(<id>)"`: JSON has no comments, and this is the hint; saving
 * refuses it until `<id>` is replaced (or the value set to null, which leaves the lookup empty).
 */
export function recordTemplate(model: MetadataModel, table: TemplateTable): RecordJson {
  const index = new MetadataIndex(model);
  const type = index.entityTypeOfSet(table.entitySet);
  if (type === undefined) return {};
  const primaryId = index.key(type)[0] ?? type.info?.primaryIdAttribute;
  const primaryName = type.info?.primaryNameAttribute ?? table.primaryName;
  const template: RecordJson = {};
  for (const property of index.properties(type)) {
    const lookup = LOOKUP.exec(property.name);
    const logicalName = lookup?.[1] ?? property.name;
    const required = REQUIRED.has(property.info?.requiredLevel ?? '') || property.name === primaryName;
    if (!required || property.name === primaryId || DEFAULTED_ON_CREATE.has(logicalName)) continue;
    if (lookup !== null) {
      const navigation = index.navigationForLookup(type, property.name)[0];
      const target = navigation === undefined ? undefined : index.entitySetOf(navigation.type);
      if (navigation !== undefined && target !== undefined) {
        template[`${navigation.name}@odata.bind`] = `/${target.name}(${ID_PLACEHOLDER})`;
      }
      continue;
    }
    // Computed columns (a contact's `fullname`) cannot be written: Dataverse fills them.
    if (isReadOnlyColumn(property.name, primaryId === undefined ? {} : { primaryId })) continue;
    template[property.name] = placeholder(property);
  }
  return template;
}

function placeholder(property: Property): unknown {
  const attributeType = property.info?.attributeType;
  if (attributeType !== undefined) {
    if (attributeType === 'String' || attributeType === 'Memo') return '';
    if (NUMBER_ATTRIBUTES.has(attributeType)) return 0;
    if (CHOICE_ATTRIBUTES.has(attributeType)) return property.info?.options?.[0]?.value ?? 0;
    if (attributeType === 'Boolean') return false;
    return null;
  }
  if (property.type === 'Edm.String') return '';
  if (NUMBER_EDM.has(property.type)) return 0;
  if (property.type === 'Edm.Boolean') return false;
  return null;
}

export type CreateBody =
  { readonly ok: true; readonly body: RecordJson } | { readonly ok: false; readonly message: string };

/**
 * The POST body of an edited template: lookups left at null are left out (there is nothing to bind),
 * and a placeholder id still in place stops the save before any request, saying which lookup.
 */
export function createBody(record: RecordJson): CreateBody {
  const body: RecordJson = {};
  for (const [name, value] of Object.entries(record)) {
    if (name.endsWith('@odata.bind')) {
      if (value === null) continue;
      if (typeof value === 'string' && value.includes(ID_PLACEHOLDER)) {
        return {
          ok: false,
          message: `Not created: put the id of a record in place of ${ID_PLACEHOLDER} in "${name}", or set it to null.`,
        };
      }
    }
    // Annotations (`@odata.etag`…) belong to read records; the service would reject them in a create.
    if (name.includes('@') && !name.endsWith('@odata.bind')) continue;
    body[name] = value;
  }
  return { ok: true, body };
}

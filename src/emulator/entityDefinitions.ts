/**
 * `EntityDefinitions` (reference §3) as tools use it: the table list, one table by key or
 * `LogicalName='x'`, its `Attributes` (optionally cast, e.g. to `PicklistAttributeMetadata` with
 * `$expand=OptionSet`), with `$select`, `$filter` and `$expand=Attributes(...)`. Metadata is small, so
 * filters are evaluated in memory over the JSON shapes Dataverse returns.
 */
import { createHash } from 'node:crypto';
import type { ExpandItem, ExpressionNode, NameSegment, ODataUrl, SelectClause } from '../odata/url';
import { DataverseHttpError, ErrorCodes, guessed, notFoundSegment } from './errors';
import type { Column, ColumnType, OptionDef, Schema, Table } from './schema/schema';
import { isLookupType } from './schema/schema';
import {
  ATTRIBUTE_PROPERTIES,
  ENTITY_PROPERTIES,
  KEY_PROPERTIES,
  OPTION_SET_PROPERTIES,
  RELATIONSHIP_PROPERTIES,
} from './metadataProperties';
import { isJsonObject } from '../core/json';

type Json = Record<string, unknown>;

const CAST_PREFIX = 'Microsoft.Dynamics.CRM.';

/** Stable ids derived from names, so that a `MetadataId` stays the same across restarts. */
function metadataId(name: string): string {
  const h = createHash('sha1').update(`emulator-metadata:${name}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

function label(text: string, id: string): Json {
  const localized = {
    Label: text,
    LanguageCode: 1033,
    IsManaged: true,
    MetadataId: metadataId(`label:${id}`),
    HasChanged: null,
  };
  return { LocalizedLabels: [localized], UserLocalizedLabel: localized };
}

function managed(value: boolean, name: string): Json {
  return { Value: value, CanBeChanged: false, ManagedPropertyLogicalName: name };
}

const ATTRIBUTE_TYPES: Record<ColumnType, { type: string; typeName: string; odataType: string }> = {
  string: { type: 'String', typeName: 'StringType', odataType: 'StringAttributeMetadata' },
  memo: { type: 'Memo', typeName: 'MemoType', odataType: 'MemoAttributeMetadata' },
  integer: { type: 'Integer', typeName: 'IntegerType', odataType: 'IntegerAttributeMetadata' },
  bigint: { type: 'BigInt', typeName: 'BigIntType', odataType: 'BigIntAttributeMetadata' },
  decimal: { type: 'Decimal', typeName: 'DecimalType', odataType: 'DecimalAttributeMetadata' },
  float: { type: 'Double', typeName: 'DoubleType', odataType: 'DoubleAttributeMetadata' },
  currency: { type: 'Money', typeName: 'MoneyType', odataType: 'MoneyAttributeMetadata' },
  boolean: { type: 'Boolean', typeName: 'BooleanType', odataType: 'BooleanAttributeMetadata' },
  datetime: { type: 'DateTime', typeName: 'DateTimeType', odataType: 'DateTimeAttributeMetadata' },
  dateonly: { type: 'DateTime', typeName: 'DateTimeType', odataType: 'DateTimeAttributeMetadata' },
  uniqueidentifier: { type: 'Uniqueidentifier', typeName: 'UniqueidentifierType', odataType: 'AttributeMetadata' },
  lookup: { type: 'Lookup', typeName: 'LookupType', odataType: 'LookupAttributeMetadata' },
  customer: { type: 'Customer', typeName: 'CustomerType', odataType: 'LookupAttributeMetadata' },
  owner: { type: 'Owner', typeName: 'OwnerType', odataType: 'LookupAttributeMetadata' },
  choice: { type: 'Picklist', typeName: 'PicklistType', odataType: 'PicklistAttributeMetadata' },
  choices: { type: 'Virtual', typeName: 'MultiSelectPicklistType', odataType: 'MultiSelectPicklistAttributeMetadata' },
  state: { type: 'State', typeName: 'StateType', odataType: 'StateAttributeMetadata' },
  status: { type: 'Status', typeName: 'StatusType', odataType: 'StatusAttributeMetadata' },
  binary: { type: 'Virtual', typeName: 'ImageType', odataType: 'ImageAttributeMetadata' },
  managedproperty: {
    type: 'ManagedProperty',
    typeName: 'ManagedPropertyType',
    odataType: 'ManagedPropertyAttributeMetadata',
  },
};

/** Object type codes of the built-in tables; other tables get codes from 10000 as custom tables do. */
const OBJECT_TYPE_CODES: Record<string, number> = {
  account: 1,
  contact: 2,
  opportunity: 3,
  systemuser: 8,
  businessunit: 10,
  role: 1036,
  team: 9,
  transactioncurrency: 9105,
  task: 4212,
};

/** The PascalCase schema name Dataverse pairs with a logical name (approximated: first letter up). */
function schemaName(logicalName: string): string {
  return logicalName.charAt(0).toUpperCase() + logicalName.slice(1);
}

function optionSet(table: Table, column: Column): Json {
  const option = (o: OptionDef): Json => ({
    Value: o.value,
    Label: label(o.label, `${table.logicalName}.${column.name}.${o.value}`),
    Description: label('', `${table.logicalName}.${column.name}.${o.value}.d`),
    Color: null,
    IsManaged: true,
    ExternalValue: null,
    MetadataId: null,
    HasChanged: null,
    ...(o.state === undefined ? {} : { State: o.state }),
  });
  const set = {
    MetadataId: metadataId(`optionset:${table.logicalName}.${column.name}`),
    HasChanged: null,
    IsCustomOptionSet: false,
    IsGlobal: false,
    IsManaged: true,
    Name: `${table.logicalName}_${column.name}`,
  };
  const options = column.options ?? [];
  if (column.type === 'boolean') {
    // A BooleanOptionSetMetadata: its two labels as FalseOption and TrueOption, no Options list.
    const pick = (value: number): Json | null => {
      const found = options.find((o) => o.value === value);
      return found === undefined ? null : option(found);
    };
    return { ...set, OptionSetType: 'Boolean', TrueOption: pick(1), FalseOption: pick(0) };
  }
  const type = column.type === 'state' ? 'State' : column.type === 'status' ? 'Status' : 'Picklist';
  return { ...set, OptionSetType: type, Options: options.map(option) };
}

/** The attribute's option set as the snapshot holds it (a global one's too), else the emulator's own. */
function attributeOptionSet(table: Table, column: Column): Json | undefined {
  const raw = rawAttribute(table, column.name)?.OptionSet;
  if (isJsonObject(raw)) return raw;
  return column.options === undefined ? undefined : optionSet(table, column);
}

/** The option set a definition-only attribute carries, if any. */
function rawOptionSet(attribute: Json): Json | undefined {
  return isJsonObject(attribute.OptionSet) ? attribute.OptionSet : undefined;
}

/** One attribute as served, with its column when the table has one. */
interface ServedAttribute {
  readonly column: Column | undefined;
  readonly json: Json;
}

/** The `@odata.type` of an option set: Boolean ones have their own type. */
function optionSetType(set: Readonly<Record<string, unknown>>): string {
  return `#${CAST_PREFIX}${set.OptionSetType === 'Boolean' ? 'BooleanOptionSetMetadata' : 'OptionSetMetadata'}`;
}

/**
 * The organization's global option sets (choices): every `GlobalOptionSet`, and every `OptionSet` marked
 * `IsGlobal`, of the snapshot's attributes, once per name. The built-in tables have none.
 */
function globalOptionSets(schema: Schema): Json[] {
  const byName = new Map<string, Json>();
  for (const table of schema.tables.values()) {
    const attributes = table.entityDefinition?.Attributes;
    if (!Array.isArray(attributes)) continue;
    for (const attribute of attributes as unknown[]) {
      if (!isJsonObject(attribute)) continue;
      for (const set of [attribute.GlobalOptionSet, attribute.OptionSet]) {
        if (!isJsonObject(set) || set.IsGlobal !== true || typeof set.Name !== 'string' || byName.has(set.Name))
          continue;
        byName.set(set.Name, { '@odata.type': optionSetType(set), ...set });
      }
    }
  }
  return [...byName.values()].sort((a, b) => String(a.Name).localeCompare(String(b.Name)));
}

/**
 * An attribute as served: a snapshot's own JSON for it as the organization gave it (so that a snapshot of the
 * emulator is the snapshot it started from), over what the emulator synthesizes for the keys it lacks.
 */
function attributeJson(table: Table, column: Column): Json {
  const raw = rawAttribute(table, column.name);
  const synthesized = synthesizedAttributeJson(table, column);
  if (raw === undefined) return synthesized;
  const served: Json = { ...synthesized, ...raw };
  // Casts (`Attributes/…PicklistAttributeMetadata`) select on `@odata.type`. The snapshot's stays when it is one
  // of EntityDefinitions' attribute types; the types of RetrieveMetadataChanges (`ComplexStringAttributeMetadata`)
  // become the emulator's. OData leaves the type out for the collection's own type, AttributeMetadata.
  if (raw['@odata.type'] === undefined && synthesized['@odata.type'] === BASE_ATTRIBUTE_TYPE) {
    delete served['@odata.type'];
  } else if (!isAttributeType(raw['@odata.type'])) {
    served['@odata.type'] = synthesized['@odata.type'];
  }
  return served;
}

/** Dataverse's AttributeMetadata types (Learn, Web API EntityType reference, "AttributeMetadata" derived types). */
const ATTRIBUTE_METADATA_TYPES = new Set([
  'AttributeMetadata',
  'BigIntAttributeMetadata',
  'BooleanAttributeMetadata',
  'DateTimeAttributeMetadata',
  'DecimalAttributeMetadata',
  'DoubleAttributeMetadata',
  'EntityNameAttributeMetadata',
  'EnumAttributeMetadata',
  'FileAttributeMetadata',
  'ImageAttributeMetadata',
  'IntegerAttributeMetadata',
  'LookupAttributeMetadata',
  'ManagedPropertyAttributeMetadata',
  'MemoAttributeMetadata',
  'MoneyAttributeMetadata',
  'MultiSelectPicklistAttributeMetadata',
  'PicklistAttributeMetadata',
  'StateAttributeMetadata',
  'StatusAttributeMetadata',
  'StringAttributeMetadata',
  'UniqueIdentifierAttributeMetadata',
]);

const BASE_ATTRIBUTE_TYPE = `#${CAST_PREFIX}AttributeMetadata`;

function isAttributeType(type: unknown): type is string {
  return (
    typeof type === 'string' &&
    type.startsWith(`#${CAST_PREFIX}`) &&
    ATTRIBUTE_METADATA_TYPES.has(type.slice(CAST_PREFIX.length + 1))
  );
}

/**
 * The attributes a snapshot's definition lists that are no column of the table (virtual ones such as
 * `createdbyname`, which `$metadata` does not declare): served as the organization gave them.
 */
function definitionOnlyAttributes(table: Table): Json[] {
  const attributes = table.entityDefinition?.Attributes;
  if (!Array.isArray(attributes)) return [];
  return (attributes as unknown[])
    .filter((a): a is Json => isJsonObject(a) && typeof a.LogicalName === 'string' && !table.columns.has(a.LogicalName))
    .map((a) => {
      const type = a['@odata.type'];
      if (type === undefined || isAttributeType(type)) return a;
      const plain = typeof type === 'string' ? type.replace(`#${CAST_PREFIX}Complex`, `#${CAST_PREFIX}`) : undefined;
      const served = { ...a };
      if (isAttributeType(plain) && plain !== BASE_ATTRIBUTE_TYPE) served['@odata.type'] = plain;
      else delete served['@odata.type'];
      return served;
    });
}

function synthesizedAttributeJson(table: Table, column: Column): Json {
  const kind = ATTRIBUTE_TYPES[column.type];
  const json: Json = {
    '@odata.type': `#${CAST_PREFIX}${kind.odataType}`,
    LogicalName: column.name,
    SchemaName: schemaName(column.name),
    AttributeType: kind.type,
    AttributeTypeName: { Value: kind.typeName },
    AttributeOf: null,
    EntityLogicalName: table.logicalName,
    DisplayName: label(column.displayName, `${table.logicalName}.${column.name}`),
    Description: label('', `${table.logicalName}.${column.name}.d`),
    RequiredLevel: {
      Value: column.required,
      CanBeChanged: !column.system,
      ManagedPropertyLogicalName: 'canmodifyrequirementlevelsettings',
    },
    IsPrimaryId: column.name === table.primaryIdAttribute,
    IsPrimaryName: column.name === table.primaryNameAttribute,
    IsCustomAttribute: false,
    IsValidForCreate: !column.readOnly || column.name === table.primaryIdAttribute,
    IsValidForUpdate: !column.readOnly && column.name !== table.primaryIdAttribute,
    // Write-only columns (serviceendpoint.authvalue, saskey, sastoken) answer false, as Dataverse does.
    IsValidForRead: column.validForRead,
    IsValidODataAttribute: true,
    // The emulator refuses write-only columns in $filter and FetchXML conditions.
    IsFilterable: column.validForRead,
    IsSearchable: !column.system,
    IsAuditEnabled: managed(true, 'canmodifyauditsettings'),
    IsLogical: false,
    MetadataId: metadataId(`attribute:${table.logicalName}.${column.name}`),
  };
  if (column.maxLength !== undefined) json.MaxLength = column.maxLength;
  if (column.min !== undefined) json.MinValue = column.min;
  if (column.max !== undefined) json.MaxValue = column.max;
  if (column.precision !== undefined || column.type === 'currency') json.Precision = column.precision ?? 2;
  if (isLookupType(column.type)) json.Targets = (column.targets ?? []).map((t) => t.table);
  if (column.type === 'datetime' || column.type === 'dateonly') {
    json.Format = column.type === 'dateonly' ? 'DateOnly' : 'DateAndTime';
    json.DateTimeBehavior = { Value: column.type === 'dateonly' ? 'DateOnly' : 'UserLocal' };
  }
  if (column.type === 'choice' || column.type === 'state' || column.type === 'status' || column.type === 'choices') {
    json.DefaultFormValue = column.type === 'choice' ? -1 : null;
  }
  return json;
}

/** The navigation properties of EntityMetadata: served from the schema, never copied from the raw JSON. */
const ENTITY_NAVIGATIONS = new Set([
  'Attributes',
  'Keys',
  'OneToManyRelationships',
  'ManyToOneRelationships',
  'ManyToManyRelationships',
  'Privileges',
]);

/**
 * What the snapshot's raw EntityDefinitions JSON says, over what the emulator synthesized from its schema: every
 * property the raw JSON gives a value (not null), except navigation properties.
 */
function overlay(synthesized: Json, raw: Readonly<Record<string, unknown>> | undefined): Json {
  if (raw === undefined) return synthesized;
  const out: Json = { ...synthesized };
  for (const [name, value] of Object.entries(raw)) {
    if (value !== null && value !== undefined && !ENTITY_NAVIGATIONS.has(name) && !name.startsWith('@odata.')) {
      out[name] = value;
    }
  }
  return out;
}

/** The raw JSON of one attribute of a snapshot's table, by logical name. */
function rawAttribute(table: Table, logicalName: string): Readonly<Record<string, unknown>> | undefined {
  const attributes = table.entityDefinition?.Attributes;
  if (!Array.isArray(attributes)) return undefined;
  return (attributes as unknown[]).find(
    (a): a is Record<string, unknown> =>
      typeof a === 'object' && a !== null && (a as Record<string, unknown>).LogicalName === logicalName,
  );
}

function entityJson(table: Table, index: number): Json {
  return overlay(synthesizedEntityJson(table, index), table.entityDefinition);
}

function synthesizedEntityJson(table: Table, index: number): Json {
  return {
    LogicalName: table.logicalName,
    SchemaName: schemaName(table.logicalName),
    EntitySetName: table.entitySetName,
    LogicalCollectionName: table.entitySetName,
    CollectionSchemaName: schemaName(table.entitySetName),
    DisplayName: label(table.displayName, table.logicalName),
    DisplayCollectionName: label(table.displayCollectionName, `${table.logicalName}.plural`),
    Description: label('', `${table.logicalName}.d`),
    PrimaryIdAttribute: table.primaryIdAttribute,
    PrimaryNameAttribute: table.primaryNameAttribute ?? null,
    PrimaryImageAttribute: null,
    ObjectTypeCode: OBJECT_TYPE_CODES[table.logicalName] ?? 10000 + index,
    OwnershipType: table.ownership,
    IsCustomEntity: !(table.logicalName in OBJECT_TYPE_CODES),
    IsActivity: table.isActivity || table.logicalName === 'task',
    IsIntersect: table.isIntersect,
    IsPrivate: false,
    IsManaged: true,
    IsValidForAdvancedFind: true,
    ChangeTrackingEnabled: table.changeTracking,
    IsOptimisticConcurrencyEnabled: true,
    CanCreateAttributes: managed(true, 'cancreateattributes'),
    IsAuditEnabled: managed(true, 'canmodifyauditsettings'),
    MetadataId: metadataId(`entity:${table.logicalName}`),
  };
}

// ---------------------------------------------------------------------------------------------
// In-memory evaluation of `$filter` over metadata JSON.

function typeName(item: Json): string {
  const type = item['@odata.type'];
  return typeof type === 'string' ? type.replace(/^#Microsoft\.Dynamics\.CRM\./, '') : 'EntityMetadata';
}

function valueAt(item: Json, segments: readonly string[]): unknown {
  let current: unknown = item;
  for (const name of segments) {
    if (typeof current !== 'object' || current === null || Array.isArray(current)) return undefined;
    current = (current as Json)[name];
  }
  return current;
}

function evaluate(node: ExpressionNode, item: Json, aliases: ReadonlyMap<string, ExpressionNode>): unknown {
  switch (node.kind) {
    case 'alias': {
      const value = aliases.get(node.name);
      return value === undefined ? null : evaluate(value, item, new Map());
    }
    case 'literal':
      return node.literalType === 'guid' ? String(node.value).toLowerCase() : node.value;
    case 'member': {
      const segments = node.segments.map((s) => s.name);
      const value = valueAt(item, segments);
      if (value === undefined) {
        throw new DataverseHttpError(
          400,
          ErrorCodes.propertyNotFound,
          `Could not find a property named '${segments.join('/')}' on type 'Microsoft.Dynamics.CRM.${typeName(item)}'.`,
        );
      }
      if (typeof value === 'object' && value !== null) {
        throw guessed(
          400,
          'incompatibleTypes',
          `'${segments.join('/')}' cannot be used in $filter; compare its /Value.`,
        );
      }
      return value;
    }
    case 'unary':
      if (node.operator === 'not') return evaluate(node.operand, item, aliases) !== true;
      break;
    case 'binary': {
      if (node.operator === 'and')
        return evaluate(node.left, item, aliases) === true && evaluate(node.right, item, aliases) === true;
      if (node.operator === 'or')
        return evaluate(node.left, item, aliases) === true || evaluate(node.right, item, aliases) === true;
      const left = evaluate(node.left, item, aliases);
      const right = evaluate(node.right, item, aliases);
      const l = typeof left === 'string' ? left.toLowerCase() : left;
      const r = typeof right === 'string' ? right.toLowerCase() : right;
      switch (node.operator) {
        case 'eq':
          return l === r;
        case 'ne':
          return l !== r;
        case 'gt':
        case 'ge':
        case 'lt':
        case 'le': {
          if (typeof l !== typeof r || (typeof l !== 'number' && typeof l !== 'string')) return false;
          const a = l;
          const b = r as number | string;
          return node.operator === 'gt'
            ? a > b
            : node.operator === 'ge'
              ? a >= b
              : node.operator === 'lt'
                ? a < b
                : a <= b;
        }
        default:
          break;
      }
      break;
    }
    case 'call': {
      const [subject, value] = node.args.map((a) => evaluate(a, item, aliases));
      if (typeof subject !== 'string' || typeof value !== 'string') return false;
      const s = subject.toLowerCase();
      const v = value.toLowerCase();
      if (node.name === 'contains') return s.includes(v);
      if (node.name === 'startswith') return s.startsWith(v);
      if (node.name === 'endswith') return s.endsWith(v);
      break;
    }
    default:
      break;
  }
  throw guessed(400, 'functionNotSupported', 'This $filter expression is not supported on metadata.');
}

/**
 * `$select` over one metadata item. A property the item lacks answers `null` when its type documents it (the
 * emulator does not know every property a real org has); only an undocumented name is a 400.
 */
function select(
  item: Json,
  clause: SelectClause | undefined,
  keep: readonly string[],
  documented: ReadonlySet<string> = new Set(),
): Json {
  if (clause === undefined) return item;
  const names = clause.items.map((i) => i.segments.map((s) => s.name).join('/'));
  if (names.includes('*')) return item;
  const out: Json = {};
  for (const name of keep) if (name in item) out[name] = item[name];
  for (const name of names) {
    if (!(name in item) && documented.has(name)) {
      out[name] = null;
      continue;
    }
    if (!(name in item)) {
      throw new DataverseHttpError(
        400,
        ErrorCodes.propertyNotFound,
        `Could not find a property named '${name}' on type 'Microsoft.Dynamics.CRM.${typeName(item)}'.`,
      );
    }
    out[name] = item[name];
  }
  if ('MetadataId' in item) out.MetadataId = item.MetadataId;
  return out;
}

function selectText(clause: SelectClause | undefined): string {
  return clause === undefined ? '' : clause.items.map((i) => i.segments.map((s) => s.name).join('/')).join(',');
}

// ---------------------------------------------------------------------------------------------
// Relationships and keys, from the schema's lookups, N:N relationships and alternate keys.

/** Every 1:N relationship: one per lookup column and target table. */
function oneToManyRelationships(schema: Schema): Json[] {
  const out: Json[] = [];
  for (const table of schema.tables.values()) {
    for (const column of table.columns.values()) {
      if (!isLookupType(column.type)) continue;
      for (const target of column.targets ?? []) {
        const referenced = schema.tables.get(target.table);
        const name = target.relationship ?? target.partner;
        out.push({
          '@odata.type': `#${CAST_PREFIX}OneToManyRelationshipMetadata`,
          SchemaName: name,
          RelationshipType: 'OneToManyRelationship',
          ReferencedEntity: target.table,
          ReferencedAttribute: referenced?.primaryIdAttribute ?? `${target.table}id`,
          ReferencingEntity: table.logicalName,
          ReferencingAttribute: column.name,
          ReferencedEntityNavigationPropertyName: target.partner,
          ReferencingEntityNavigationPropertyName: target.navigation,
          IsCustomRelationship: false,
          IsManaged: true,
          IsValidForAdvancedFind: true,
          IsHierarchical: false,
          SecurityTypes: 'None',
          MetadataId: metadataId(`relationship:${name}:${table.logicalName}.${column.name}`),
        });
      }
    }
  }
  return out;
}

function manyToManyRelationships(schema: Schema): Json[] {
  return schema.manyToMany.map((m) => {
    const [first, second] = m.tables;
    const idOf = (name: string): string => schema.tables.get(name)?.primaryIdAttribute ?? `${name}id`;
    return {
      '@odata.type': `#${CAST_PREFIX}ManyToManyRelationshipMetadata`,
      SchemaName: m.name,
      RelationshipType: 'ManyToManyRelationship',
      Entity1LogicalName: first,
      Entity2LogicalName: second,
      IntersectEntityName: m.intersect,
      Entity1IntersectAttribute: m.intersectColumns?.[0] ?? idOf(first),
      Entity2IntersectAttribute: m.intersectColumns?.[1] ?? idOf(second),
      Entity1NavigationPropertyName: m.name,
      Entity2NavigationPropertyName: m.referencedNavigation ?? m.name,
      IsCustomRelationship: false,
      IsManaged: true,
      IsValidForAdvancedFind: true,
      SecurityTypes: 'None',
      MetadataId: metadataId(`relationship:${m.name}`),
    };
  });
}

function keysOf(table: Table): Json[] {
  return table.alternateKeys.map((key) => ({
    LogicalName: key.name,
    SchemaName: schemaName(key.name),
    EntityLogicalName: table.logicalName,
    KeyAttributes: [...key.columns],
    DisplayName: label(key.name, `${table.logicalName}.key.${key.name}`),
    EntityKeyIndexStatus: 'Active',
    IsManaged: true,
    MetadataId: metadataId(`key:${table.logicalName}.${key.name}`),
  }));
}

/** The navigation properties of EntityMetadata the emulator serves, with the documented names of their items. */
const ENTITY_COLLECTIONS = ['Keys', 'OneToManyRelationships', 'ManyToOneRelationships', 'ManyToManyRelationships'];

export class EntityDefinitions {
  constructor(private readonly schema: Schema) {}

  // The schema does not change while the emulator runs, so each table's JSON is built once, on first request:
  // building it (ids are SHA-1 hashes, a snapshot's raw JSON laid over) was most of an `EntityDefinitions` answer.
  // Cached objects are never changed: answers copy before adding expanded properties.
  private readonly entityCache = new Map<Table, Json>();
  private readonly attributeCache = new Map<Table, ServedAttribute[]>();

  private entityJson(table: Table, index: number): Json {
    let json = this.entityCache.get(table);
    if (json === undefined) {
      json = entityJson(table, index);
      this.entityCache.set(table, json);
    }
    return json;
  }

  private globals: Json[] | undefined;

  private globalOptionSets(): Json[] {
    this.globals ??= globalOptionSets(this.schema);
    return this.globals;
  }

  /**
   * `GlobalOptionSetDefinitions`, `(<MetadataId>)`, `(Name='x')`, with `$select` and the casts to
   * `Microsoft.Dynamics.CRM.OptionSetMetadata` / `…BooleanOptionSetMetadata` ("Query table definitions using the
   * Web API": https://learn.microsoft.com/power-apps/developer/data-platform/webapi/query-metadata-web-api).
   */
  optionSets(url: ODataUrl, webApi: string): Json {
    const system = url.path.segments.find((s) => s.kind === 'system');
    if (system !== undefined) throw notFoundSegment(system.name);
    const [root, cast, extra] = url.path.segments.filter((s): s is NameSegment => s.kind === 'name');
    if (root === undefined) throw notFoundSegment('GlobalOptionSetDefinitions');
    if (extra !== undefined) throw notFoundSegment(extra.name);
    let items = this.globalOptionSets();
    if (cast !== undefined) {
      const type = cast.name.startsWith(CAST_PREFIX) ? cast.name.slice(CAST_PREFIX.length) : '';
      if (type !== 'OptionSetMetadata' && type !== 'BooleanOptionSetMetadata') throw notFoundSegment(cast.name);
      items = items.filter((o) => o['@odata.type'] === `#${CAST_PREFIX}${type}`);
    }
    const context = `${webApi}$metadata#GlobalOptionSetDefinitions${cast === undefined ? '' : `/${cast.name}`}`;
    const args = root.args;
    if (args !== undefined) {
      const name = args.kind === 'namedValues' ? args.values.find((v) => v.name === 'Name')?.value : undefined;
      const found = items.find((o) =>
        args.kind === 'keyValue'
          ? args.value.kind === 'literal' &&
            String(o.MetadataId).toLowerCase() === String(args.value.value).toLowerCase()
          : name?.kind === 'literal' && o.Name === name.value,
      );
      if (found === undefined) {
        throw new DataverseHttpError(404, ErrorCodes.objectDoesNotExist, 'Could not find optionset.');
      }
      return {
        '@odata.context': `${context}/$entity`,
        ...select(found, url.query.select, ['@odata.type'], OPTION_SET_PROPERTIES),
      };
    }
    const aliases = new Map(url.query.aliases.map((a) => [a.name, a.value] as const));
    const value = this.shape({ items, documented: OPTION_SET_PROPERTIES }, url.query.select, url.query.filter, aliases);
    return { '@odata.context': context, value };
  }

  private tables(): Table[] {
    return [...this.schema.tables.values()];
  }

  private entity(segment: NameSegment): Table {
    const args = segment.args;
    let table: Table | undefined;
    if (args?.kind === 'keyValue') {
      const id = args.value.kind === 'literal' ? String(args.value.value).toLowerCase() : '';
      // The MetadataId served: a snapshot's own (the organization's), else the emulator's.
      table = this.tables().find((t, i) => String(this.entityJson(t, i).MetadataId).toLowerCase() === id);
    } else if (args?.kind === 'namedValues') {
      const logical = args.values.find((v) => v.name === 'LogicalName')?.value;
      const name = logical?.kind === 'literal' ? String(logical.value) : '';
      table = this.schema.tables.get(name);
      if (table === undefined || args.values.length !== 1) {
        throw new DataverseHttpError(
          404,
          ErrorCodes.objectDoesNotExist,
          `Could not find entity with logical name '${name}'.`,
        );
      }
    }
    if (table === undefined) {
      throw new DataverseHttpError(404, ErrorCodes.objectDoesNotExist, 'Could not find the entity metadata requested.');
    }
    return table;
  }

  /** `Keys` and the relationship collections of one table. */
  private related(table: Table, name: string): { items: Json[]; documented: ReadonlySet<string> } {
    const logicalName = table.logicalName;
    if (name === 'Keys') return { items: keysOf(table), documented: KEY_PROPERTIES };
    if (name === 'OneToManyRelationships') {
      const items = oneToManyRelationships(this.schema).filter((r) => r.ReferencedEntity === logicalName);
      return { items, documented: RELATIONSHIP_PROPERTIES };
    }
    if (name === 'ManyToOneRelationships') {
      const items = oneToManyRelationships(this.schema).filter((r) => r.ReferencingEntity === logicalName);
      return { items, documented: RELATIONSHIP_PROPERTIES };
    }
    const items = manyToManyRelationships(this.schema).filter(
      (r) => r.Entity1LogicalName === logicalName || r.Entity2LogicalName === logicalName,
    );
    return { items, documented: RELATIONSHIP_PROPERTIES };
  }

  /** A collection of metadata items with `$select` and `$filter`. */
  private shape(
    list: { items: Json[]; documented: ReadonlySet<string> },
    selectClause: SelectClause | undefined,
    filter: ExpressionNode | undefined,
    aliases: ReadonlyMap<string, ExpressionNode>,
  ): Json[] {
    return list.items
      .filter((item) => filter === undefined || evaluate(filter, item, aliases) === true)
      .map((item) => select(item, selectClause, ['@odata.type'], list.documented));
  }

  /**
   * `RelationshipDefinitions`, `(<id>)`, `(SchemaName='x')`, and the casts to
   * `Microsoft.Dynamics.CRM.OneToManyRelationshipMetadata` / `…ManyToManyRelationshipMetadata`.
   */
  relationships(url: ODataUrl, webApi: string): Json {
    const system = url.path.segments.find((s) => s.kind === 'system');
    if (system !== undefined) throw notFoundSegment(system.name);
    const path = url.path.segments.filter((s): s is NameSegment => s.kind === 'name');
    const [root, cast, extra] = path;
    if (root === undefined) throw notFoundSegment('RelationshipDefinitions');
    if (extra !== undefined) throw notFoundSegment(extra.name);
    const aliases = new Map(url.query.aliases.map((a) => [a.name, a.value] as const));
    let items = [...oneToManyRelationships(this.schema), ...manyToManyRelationships(this.schema)];
    if (cast !== undefined) {
      const type = cast.name.startsWith(CAST_PREFIX) ? cast.name.slice(CAST_PREFIX.length) : '';
      if (type !== 'OneToManyRelationshipMetadata' && type !== 'ManyToManyRelationshipMetadata') {
        throw notFoundSegment(cast.name);
      }
      items = items.filter((r) => r['@odata.type'] === `#${CAST_PREFIX}${type}`);
    }
    const context = `${webApi}$metadata#RelationshipDefinitions${cast === undefined ? '' : `/${cast.name}`}`;
    const args = root.args;
    if (args !== undefined) {
      const wanted =
        args.kind === 'keyValue'
          ? (r: Json) => args.value.kind === 'literal' && r.MetadataId === String(args.value.value).toLowerCase()
          : (r: Json) => {
              const value = args.values.find((v) => v.name === 'SchemaName')?.value;
              return value?.kind === 'literal' && r.SchemaName === value.value;
            };
      const found = items.find(wanted);
      if (found === undefined) {
        throw new DataverseHttpError(404, ErrorCodes.objectDoesNotExist, 'Could not find the relationship requested.');
      }
      return {
        '@odata.context': `${context}/$entity`,
        ...select(found, url.query.select, ['@odata.type'], RELATIONSHIP_PROPERTIES),
      };
    }
    const value = this.shape(
      { items, documented: RELATIONSHIP_PROPERTIES },
      url.query.select,
      url.query.filter,
      aliases,
    );
    return { '@odata.context': context, value };
  }

  /** Every attribute of a table, in the order its snapshot definition lists them, then the emulator's others. */
  private servedAttributes(table: Table): ServedAttribute[] {
    const columns = [...table.columns.values()].map((column) => ({ column, json: attributeJson(table, column) }));
    const extra = definitionOnlyAttributes(table).map((json) => ({ column: undefined, json }));
    const raw = table.entityDefinition?.Attributes;
    if (!Array.isArray(raw)) return columns;
    const order = new Map<unknown, number>();
    (raw as unknown[]).forEach((a, i) => order.set(isJsonObject(a) ? a.LogicalName : undefined, i));
    const position = (a: ServedAttribute): number => order.get(a.json.LogicalName) ?? raw.length;
    // A stable sort: the definition's order, and the emulator's own columns after it in their order.
    return [...columns, ...extra].sort((a, b) => position(a) - position(b));
  }

  private attributes(table: Table, cast: string | undefined): ServedAttribute[] {
    let all = this.attributeCache.get(table);
    if (all === undefined) {
      all = this.servedAttributes(table);
      this.attributeCache.set(table, all);
    }
    if (cast === undefined) return all;
    if (cast === 'AttributeMetadata') return all;
    if (!ATTRIBUTE_METADATA_TYPES.has(cast) || cast === 'EnumAttributeMetadata') {
      throw notFoundSegment(`${CAST_PREFIX}${cast}`);
    }
    // An attribute without `@odata.type` is of the collection's type, AttributeMetadata, which no cast but
    // AttributeMetadata's own selects.
    return all.filter((a) => a.json['@odata.type'] === `#${CAST_PREFIX}${cast}`);
  }

  private shapeAttributes(
    table: Table,
    list: ServedAttribute[],
    selectClause: SelectClause | undefined,
    filter: ExpressionNode | undefined,
    expand: readonly ExpandItem[],
    aliases: ReadonlyMap<string, ExpressionNode>,
  ): Json[] {
    for (const item of expand) {
      const name = item.segments.map((s) => s.name).join('/');
      if (name !== 'OptionSet' && name !== 'GlobalOptionSet') {
        throw new DataverseHttpError(
          400,
          ErrorCodes.propertyNotFound,
          `Could not find a property named '${name}' on type 'Microsoft.Dynamics.CRM.AttributeMetadata'.`,
        );
      }
    }
    return list
      .filter((a) => filter === undefined || evaluate(filter, a.json, aliases) === true)
      .map((a) => {
        const out = { ...select(a.json, selectClause, ['@odata.type'], ATTRIBUTE_PROPERTIES) };
        for (const item of expand) {
          const name = item.segments[0]?.name ?? '';
          const set = a.column === undefined ? rawOptionSet(a.json) : attributeOptionSet(table, a.column);
          // GlobalOptionSet is the one GlobalOptionSetDefinitions serves under the same name; null for a local set.
          const global = set?.IsGlobal === true ? this.globalOptionSets().find((g) => g.Name === set.Name) : undefined;
          const value = name === 'OptionSet' ? set : global;
          out[name] = value === undefined ? null : select(value, item.options.select, [], OPTION_SET_PROPERTIES);
        }
        return out;
      });
  }

  handle(url: ODataUrl, webApi: string): Json {
    const system = url.path.segments.find((s) => s.kind === 'system');
    if (system !== undefined) throw notFoundSegment(system.name);
    const path = url.path.segments.filter((s): s is NameSegment => s.kind === 'name');
    const { query } = url;
    const aliases = new Map(query.aliases.map((a) => [a.name, a.value] as const));
    const [root, second, third, fourth] = path;
    if (root === undefined) throw notFoundSegment('EntityDefinitions');
    const context = `${webApi}$metadata#EntityDefinitions`;
    if (root.args === undefined) {
      if (second !== undefined) throw notFoundSegment(second.name);
      const value = this.tables()
        .map((t, i) => this.entityJson(t, i))
        .filter((e) => query.filter === undefined || evaluate(query.filter, e, aliases) === true)
        .map((e) => select(e, query.select, [], ENTITY_PROPERTIES));
      const shape = selectText(query.select);
      return { '@odata.context': `${context}${shape === '' ? '' : `(${shape})`}`, value };
    }
    const table = this.entity(root);
    const index = this.tables().indexOf(table);
    if (second === undefined) {
      const entity = { ...select(this.entityJson(table, index), query.select, [], ENTITY_PROPERTIES) };
      for (const item of query.expand?.items ?? []) {
        const name = item.segments.map((s) => s.name).join('/');
        if (ENTITY_COLLECTIONS.includes(name)) {
          entity[name] = this.shape(this.related(table, name), item.options.select, item.options.filter, aliases);
          continue;
        }
        if (name !== 'Attributes')
          throw guessed(400, 'functionNotSupported', `Expanding '${name}' is not supported by the emulator.`);
        entity.Attributes = this.shapeAttributes(
          table,
          this.attributes(table, undefined),
          item.options.select,
          item.options.filter,
          item.options.expand?.items ?? [],
          aliases,
        );
      }
      return { '@odata.context': `${context}(${selectText(query.select)})/$entity`, ...entity };
    }
    if (ENTITY_COLLECTIONS.includes(second.name) && second.args === undefined && third === undefined) {
      const value = this.shape(this.related(table, second.name), query.select, query.filter, aliases);
      return { '@odata.context': `${context}('${table.logicalName}')/${second.name}`, value };
    }
    if (second.name !== 'Attributes') throw notFoundSegment(second.name);
    let cast: string | undefined;
    let attributeKey: string | undefined;
    if (second.args?.kind === 'namedValues') {
      const logical = second.args.values.find((v) => v.name === 'LogicalName')?.value;
      attributeKey = logical?.kind === 'literal' ? String(logical.value) : '';
    } else if (second.args?.kind === 'keyValue') {
      const id = second.args.value.kind === 'literal' ? String(second.args.value.value).toLowerCase() : '';
      const found = this.attributes(table, undefined).find((a) => String(a.json.MetadataId).toLowerCase() === id);
      attributeKey = typeof found?.json.LogicalName === 'string' ? found.json.LogicalName : id;
    }
    if (third !== undefined) {
      if (!third.qualified || !third.name.startsWith(CAST_PREFIX)) throw notFoundSegment(third.name);
      cast = third.name.slice(CAST_PREFIX.length);
    }
    let list = this.attributes(table, cast);
    if (attributeKey !== undefined) {
      list = list.filter((a) => a.json.LogicalName === attributeKey);
      if (list.length === 0) {
        throw new DataverseHttpError(404, ErrorCodes.objectDoesNotExist, `Could not find attribute '${attributeKey}'.`);
      }
    }
    const expand = query.expand?.items ?? [];
    if (fourth !== undefined) {
      if (fourth.name !== 'OptionSet' || attributeKey === undefined) throw notFoundSegment(fourth.name);
      const first = list[0];
      const set =
        first === undefined
          ? undefined
          : first.column === undefined
            ? rawOptionSet(first.json)
            : attributeOptionSet(table, first.column);
      if (set === undefined) throw notFoundSegment(fourth.name);
      return {
        '@odata.context': `${context}/OptionSet/$entity`,
        ...select(set, query.select, [], OPTION_SET_PROPERTIES),
      };
    }
    const value = this.shapeAttributes(table, list, query.select, query.filter, expand, aliases);
    const typeSegment = cast === undefined ? '' : `/${CAST_PREFIX}${cast}`;
    const base = `${context}('${table.logicalName}')/Attributes${typeSegment}`;
    if (attributeKey !== undefined) return { '@odata.context': `${base}/$entity`, ...value[0] };
    return { '@odata.context': base, value };
  }
}

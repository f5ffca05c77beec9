/**
 * `EntityDefinitions` (reference §3) as tools use it: the table list, one table by key or
 * `LogicalName='x'`, its `Attributes` (optionally cast, e.g. to `PicklistAttributeMetadata` with
 * `$expand=OptionSet`), with `$select`, `$filter` and `$expand=Attributes(...)`. Metadata is small, so
 * filters are evaluated in memory over the JSON shapes Dataverse returns.
 */
import { createHash } from 'node:crypto';
import type { ExpandItem, ExpressionNode, NameSegment, ODataUrl, SelectClause } from '../odata/url';
import { DataverseHttpError, ErrorCodes, guessed, notFoundSegment } from './errors';
import type { Column, ColumnType, Schema, Table } from './schema/schema';
import { isLookupType } from './schema/schema';

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
  return {
    MetadataId: metadataId(`optionset:${table.logicalName}.${column.name}`),
    HasChanged: null,
    IsCustomOptionSet: false,
    IsGlobal: false,
    IsManaged: true,
    Name: `${table.logicalName}_${column.name}`,
    OptionSetType: column.type === 'state' ? 'State' : column.type === 'status' ? 'Status' : 'Picklist',
    Options: (column.options ?? []).map((o) => ({
      Value: o.value,
      Label: label(o.label, `${table.logicalName}.${column.name}.${o.value}`),
      Description: label('', `${table.logicalName}.${column.name}.${o.value}.d`),
      Color: null,
      IsManaged: true,
      ExternalValue: null,
      MetadataId: null,
      HasChanged: null,
      ...(o.state === undefined ? {} : { State: o.state }),
    })),
  };
}

function attributeJson(table: Table, column: Column): Json {
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

function entityJson(table: Table, index: number): Json {
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
    IsActivity: table.logicalName === 'task',
    IsIntersect: false,
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

function select(item: Json, clause: SelectClause | undefined, keep: readonly string[]): Json {
  if (clause === undefined) return item;
  const names = clause.items.map((i) => i.segments.map((s) => s.name).join('/'));
  if (names.includes('*')) return item;
  const out: Json = {};
  for (const name of keep) if (name in item) out[name] = item[name];
  for (const name of names) {
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

export class EntityDefinitions {
  constructor(private readonly schema: Schema) {}

  private tables(): Table[] {
    return [...this.schema.tables.values()];
  }

  private entity(segment: NameSegment): Table {
    const args = segment.args;
    let table: Table | undefined;
    if (args?.kind === 'keyValue') {
      const id = args.value.kind === 'literal' ? String(args.value.value).toLowerCase() : '';
      table = this.tables().find((t) => metadataId(`entity:${t.logicalName}`) === id);
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

  private attributes(table: Table, cast: string | undefined): { column: Column; json: Json }[] {
    const all = [...table.columns.values()].map((column) => ({ column, json: attributeJson(table, column) }));
    if (cast === undefined) return all;
    if (cast === 'AttributeMetadata') return all;
    const known = new Set(Object.values(ATTRIBUTE_TYPES).map((t) => t.odataType));
    if (!known.has(cast) || cast === 'EnumAttributeMetadata') throw notFoundSegment(`${CAST_PREFIX}${cast}`);
    return all.filter((a) => a.json['@odata.type'] === `#${CAST_PREFIX}${cast}`);
  }

  private shapeAttributes(
    table: Table,
    list: { column: Column; json: Json }[],
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
        const out = select(a.json, selectClause, ['@odata.type']);
        for (const item of expand) {
          const name = item.segments[0]?.name ?? '';
          const hasOptions = a.column.options !== undefined;
          out[name] = name === 'OptionSet' && hasOptions ? optionSet(table, a.column) : null;
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
        .map((t, i) => entityJson(t, i))
        .filter((e) => query.filter === undefined || evaluate(query.filter, e, aliases) === true)
        .map((e) => select(e, query.select, []));
      const shape = selectText(query.select);
      return { '@odata.context': `${context}${shape === '' ? '' : `(${shape})`}`, value };
    }
    const table = this.entity(root);
    const index = this.tables().indexOf(table);
    if (second === undefined) {
      const entity = select(entityJson(table, index), query.select, []);
      for (const item of query.expand?.items ?? []) {
        const name = item.segments.map((s) => s.name).join('/');
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
    if (second.name !== 'Attributes') throw notFoundSegment(second.name);
    let cast: string | undefined;
    let attributeKey: string | undefined;
    if (second.args?.kind === 'namedValues') {
      const logical = second.args.values.find((v) => v.name === 'LogicalName')?.value;
      attributeKey = logical?.kind === 'literal' ? String(logical.value) : '';
    } else if (second.args?.kind === 'keyValue') {
      const id = second.args.value.kind === 'literal' ? String(second.args.value.value).toLowerCase() : '';
      attributeKey =
        [...table.columns.values()].find((c) => metadataId(`attribute:${table.logicalName}.${c.name}`) === id)?.name ??
        id;
    }
    if (third !== undefined) {
      if (!third.qualified || !third.name.startsWith(CAST_PREFIX)) throw notFoundSegment(third.name);
      cast = third.name.slice(CAST_PREFIX.length);
    }
    let list = this.attributes(table, cast);
    if (attributeKey !== undefined) {
      list = list.filter((a) => a.column.name === attributeKey);
      if (list.length === 0) {
        throw new DataverseHttpError(404, ErrorCodes.objectDoesNotExist, `Could not find attribute '${attributeKey}'.`);
      }
    }
    const expand = query.expand?.items ?? [];
    if (fourth !== undefined) {
      if (fourth.name !== 'OptionSet' || attributeKey === undefined) throw notFoundSegment(fourth.name);
      const column = list[0]?.column;
      if (column?.options === undefined) throw notFoundSegment(fourth.name);
      return {
        '@odata.context': `${context}/OptionSet/$entity`,
        ...select(optionSet(table, column), query.select, []),
      };
    }
    const value = this.shapeAttributes(table, list, query.select, query.filter, expand, aliases);
    const typeSegment = cast === undefined ? '' : `/${CAST_PREFIX}${cast}`;
    const base = `${context}('${table.logicalName}')/Attributes${typeSegment}`;
    if (attributeKey !== undefined) return { '@odata.context': `${base}/$entity`, ...value[0] };
    return { '@odata.context': base, value };
  }
}

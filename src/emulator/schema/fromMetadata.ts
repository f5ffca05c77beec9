/**
 * A real organization's schema as the emulator's `Schema`: the tables, columns and navigations of a `$metadata`
 * document (parsed by the shared CSDL parser), refined by each table's EntityDefinitions JSON when the snapshot
 * has it (column kinds, option sets, required levels, lengths, keys, ownership, primary name). What only the
 * definitions say (option sets, alternate keys) is unknown for a bare `$metadata`: choice columns are then plain
 * integers and tables have no alternate keys.
 */
import type { EntityType, MetadataModel, NavigationProperty, Property } from '../../metadata/model';
import type { EntityTable } from '../../metadata/schemaSnapshot';
import {
  baseChain,
  entityTables,
  localTypeName,
  REQUIRED_TABLES,
  ROOT_ENTITY_TYPE,
} from '../../metadata/schemaSnapshot';
import type {
  AlternateKey,
  Column,
  ColumnType,
  LookupTarget,
  ManyToMany,
  Navigation,
  OptionDef,
  Ownership,
  RequiredLevel,
  Schema,
  Table,
} from './schema';
import { isLookupType, SchemaError } from './schema';
import { isJsonObject } from '../../core/json';
import { lookupLogicalName } from '../../metadata/columnNames';
import { SERVER_MAINTAINED_COLUMNS } from '../../core/recordPatch';

type Json = Readonly<Record<string, unknown>>;
type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** Where each input came from, for messages: the `$metadata` file and each table's definition file. */
export interface MetadataSources {
  readonly metadata: string;
  readonly definition: (logicalName: string) => string;
}

const UNDERSCORE = 95;
/** Tables whose `fullname` the server composes. */
const COMPOSED_FULLNAME = new Set(['contact', 'lead', 'systemuser']);

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

/** `DisplayName.UserLocalizedLabel.Label`, else the first localized label. */
function labelText(value: unknown): string | undefined {
  if (!isJsonObject(value)) return undefined;
  const user = isJsonObject(value.UserLocalizedLabel) ? text(value.UserLocalizedLabel.Label) : undefined;
  if (user !== undefined) return user;
  const labels = Array.isArray(value.LocalizedLabels) ? (value.LocalizedLabels as unknown[]) : [];
  for (const l of labels) if (isJsonObject(l) && text(l.Label) !== undefined) return text(l.Label);
  return undefined;
}

function options(attribute: Json): OptionDef[] | undefined {
  const set = attribute.OptionSet;
  if (!isJsonObject(set)) return undefined;
  // A Boolean's set (BooleanOptionSetMetadata) has FalseOption and TrueOption instead of Options.
  const list = Array.isArray(set.Options) ? (set.Options as unknown[]) : [set.FalseOption, set.TrueOption];
  const out: OptionDef[] = [];
  for (const o of list) {
    if (!isJsonObject(o) || typeof o.Value !== 'number') continue;
    const label = labelText(o.Label) ?? String(o.Value);
    out.push(typeof o.State === 'number' ? { value: o.Value, label, state: o.State } : { value: o.Value, label });
  }
  return out.length > 0 ? out : undefined;
}

/** The column kind: the wire type comes from CSDL; the definition tells choices, money, memo and lookup kinds. */
function columnType(property: Property, attribute: Json | undefined, isCurrency: boolean): ColumnType | undefined {
  const kind = attribute === undefined ? undefined : text(attribute.AttributeType);
  const odataType = attribute === undefined ? '' : (text(attribute['@odata.type']) ?? '');
  switch (property.type) {
    case 'Edm.String':
      if (kind === 'Virtual' && odataType.endsWith('MultiSelectPicklistAttributeMetadata')) return 'choices';
      return kind === 'Memo' ? 'memo' : 'string';
    case 'Edm.Int32':
    case 'Edm.Int16':
      if (kind === 'Picklist') return 'choice';
      if (kind === 'State') return 'state';
      if (kind === 'Status') return 'status';
      return 'integer';
    case 'Edm.Int64':
      return 'bigint';
    case 'Edm.Decimal':
      return kind === 'Money' || (kind === undefined && isCurrency) ? 'currency' : 'decimal';
    case 'Edm.Double':
      return 'float';
    case 'Edm.Boolean':
      return 'boolean';
    case 'Edm.DateTimeOffset':
      return 'datetime';
    case 'Edm.Date':
      return 'dateonly';
    case 'Edm.Guid':
      return 'uniqueidentifier';
    case 'Edm.Binary':
      return 'binary';
    default:
      return property.type.endsWith('.BooleanManagedProperty') ? 'managedproperty' : undefined;
  }
}

/**
 * `ManagedPropertyLogicalName` of a managed property column: the definition's, else the name Dataverse answers for
 * the two columns seen in its answers (`iscustomizable` of webresource, workflow, canvasapp records:
 * `iscustomizableanddeletable`; workflow's `iscustomprocessingstepallowedforotherpublishers`: `canbedeleted`),
 * else the column's own name.
 */
function managedPropertyName(name: string, attribute: Json | undefined): string {
  return text(attribute?.ManagedPropertyLogicalName) ?? KNOWN_MANAGED_PROPERTY_NAMES.get(name) ?? name;
}

const KNOWN_MANAGED_PROPERTY_NAMES: ReadonlyMap<string, string> = new Map([
  ['iscustomizable', 'iscustomizableanddeletable'],
  ['iscustomprocessingstepallowedforotherpublishers', 'canbedeleted'],
]);

function requiredLevel(attribute: Json | undefined): RequiredLevel {
  const level =
    attribute !== undefined && isJsonObject(attribute.RequiredLevel) ? attribute.RequiredLevel.Value : undefined;
  return level === 'SystemRequired' || level === 'ApplicationRequired' || level === 'Recommended' ? level : 'None';
}

function numberOf(attribute: Json | undefined, key: string): number | undefined {
  const value = attribute?.[key];
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

interface Flattened {
  readonly properties: Property[];
  readonly navigations: NavigationProperty[];
  readonly navigationsByName: ReadonlyMap<string, NavigationProperty>;
  readonly key: string | undefined;
  readonly baseType: string | undefined;
  /** How many base types the table has. */
  readonly depth: number;
}

/** A table's own members after the inherited ones (a task has activitypointer's `subject`); own wins by name. */
function flatten(model: MetadataModel, type: EntityType): Flattened {
  const chain = [type, ...baseChain(model, type)];
  const properties = new Map<string, Property>();
  const navigations = new Map<string, NavigationProperty>();
  let key: string | undefined;
  // forEach rather than for-of in the loops over every member of a schema: they run while the code is still cold,
  // where each step of a for-of allocates an iterator result (a third of the garbage of an 800-table start).
  for (const t of [...chain].reverse()) {
    t.properties.forEach((p) => properties.set(p.name, p));
    if (t.key.length > 0) key = t.key[0];
  }
  // Own navigations first: a lookup's target is the derived type's navigation (`regardingobjectid_account_task`),
  // the inherited one (`regardingobjectid_account`) stays usable by name.
  for (const t of chain) {
    t.navigationProperties.forEach((n) => {
      if (!navigations.has(n.name)) navigations.set(n.name, n);
    });
  }
  const base = chain[1]?.name;
  return {
    properties: [...properties.values()],
    navigations: [...navigations.values()],
    navigationsByName: navigations,
    key,
    baseType: base === undefined || base === ROOT_ENTITY_TYPE ? undefined : base,
    depth: chain.length - 1,
  };
}

interface Problems {
  readonly list: string[];
  add(file: string, message: string): void;
}

interface Draft {
  readonly entity: EntityTable;
  readonly flat: Flattened;
  readonly definition: Json | undefined;
  readonly attributes: ReadonlyMap<string, Json>;
  /** Mutable until the tables are built: lookups get their targets in place. */
  readonly columns: Map<string, Mutable<Column>>;
  /** Lookup column name per single-valued navigation property. */
  readonly lookupOf: Map<string, string>;
  primaryId: string;
}

function attributesOf(definition: Json | undefined): Map<string, Json> {
  const map = new Map<string, Json>();
  const list = definition?.Attributes;
  if (!Array.isArray(list)) return map;
  for (const a of list as unknown[])
    if (isJsonObject(a) && typeof a.LogicalName === 'string') map.set(a.LogicalName, a);
  return map;
}

function makeColumn(name: string, type: ColumnType, attribute: Json | undefined, fields?: Partial<Column>): Column {
  const system = SERVER_MAINTAINED_COLUMNS.has(name);
  const serverSet = attribute?.IsValidForCreate === false && attribute.IsValidForUpdate === false;
  return {
    name,
    type,
    displayName: labelText(attribute?.DisplayName) ?? name,
    required: requiredLevel(attribute),
    maxLength: numberOf(attribute, 'MaxLength'),
    min: numberOf(attribute, 'MinValue'),
    max: numberOf(attribute, 'MaxValue'),
    precision: numberOf(attribute, 'Precision'),
    options: undefined,
    targets: undefined,
    readOnly: system || serverSet,
    validForRead: attribute?.IsValidForRead !== false,
    setIndicator: undefined,
    concatOf: undefined,
    baseOf: undefined,
    system,
    ...fields,
  };
}

/** The columns of one table (lookups get their targets later, from the navigations). */
function draftColumns(draft: Draft, problems: Problems, source: MetadataSources): void {
  const names = new Set(draft.flat.properties.map((p) => p.name));
  const seen = new Set<string>();
  const where = `<EntityType Name="${draft.entity.logicalName}">`;
  for (const members of [draft.entity.type.properties, draft.entity.type.navigationProperties]) {
    members.forEach((p) => {
      if (seen.has(p.name)) problems.add(source.metadata, `${where}: property '${p.name}' is declared twice`);
      seen.add(p.name);
    });
  }
  draft.flat.properties.forEach((property) => {
    const lookup = lookupLogicalName(property.name);
    const name = lookup ?? property.name;
    const attribute = draft.attributes.get(name);
    if (lookup !== undefined && property.type === 'Edm.Guid') {
      const kind = text(attribute?.AttributeType);
      const type: ColumnType =
        kind === 'Owner' || name === 'ownerid' ? 'owner' : kind === 'Customer' ? 'customer' : 'lookup';
      draft.columns.set(name, makeColumn(name, type, attribute));
      return;
    }
    const baseOf = name.endsWith('_base') && names.has(name.slice(0, -5)) ? name.slice(0, -5) : undefined;
    const isCurrency = property.type === 'Edm.Decimal' && (baseOf !== undefined || names.has(`${name}_base`));
    const type = columnType(property, attribute, isCurrency);
    if (type === undefined) return;
    // An activity's type is its table, set by the server.
    const activityType = name === 'activitytypecode' && isActivityType(draft);
    const choices = type === 'choice' || type === 'state' || type === 'status' || type === 'choices';
    const values = (choices || type === 'boolean') && attribute !== undefined ? options(attribute) : undefined;
    // Without the option set the values are unknown: the column takes any whole number (or text, for choices).
    const known: ColumnType = choices && values === undefined ? (type === 'choices' ? 'string' : 'integer') : type;
    // Assigned one by one, later ones winning: no object per condition for each of 20,000 columns.
    const fields: Partial<Mutable<Column>> = { options: values };
    if (type === 'managedproperty') fields.managedPropertyName = managedPropertyName(name, attribute);
    if (baseOf !== undefined) {
      fields.baseOf = baseOf;
      fields.readOnly = true;
    }
    if (name === draft.primaryId) fields.readOnly = false;
    // systemuser and team carry principal's key `ownerid`: the row's own id again (store.ts keeps it).
    if (activityType || (draft.flat.baseType === 'principal' && name === 'ownerid')) fields.readOnly = true;
    // A currency's own rate is set by its maker; elsewhere exchangerate is the server's copy of it.
    if (name === 'exchangerate' && draft.primaryId === 'transactioncurrencyid') {
      fields.readOnly = false;
      fields.system = false;
    }
    draft.columns.set(name, makeColumn(name, known, attribute, fields));
  });
  // Dataverse composes these tables' fullname from the first and last names (the organization's Full Name Format);
  // metadata does not say so. "First Last", as the built-in tables do.
  const fullname = draft.columns.get('fullname');
  if (COMPOSED_FULLNAME.has(draft.entity.logicalName) && fullname !== undefined) {
    const parts = ['firstname', 'lastname'].filter((c) => draft.columns.has(c));
    if (parts.length === 2) draft.columns.set('fullname', { ...fullname, concatOf: parts, readOnly: true });
  }
  // ETags and change tracking are versionnumber; a table whose CSDL lacks it still keeps one.
  if (!draft.columns.has('versionnumber')) {
    draft.columns.set('versionnumber', makeColumn('versionnumber', 'bigint', draft.attributes.get('versionnumber')));
  }
  // A write-only column (serviceendpoint.authvalue) has a yes/no column the server keeps true while it holds a
  // value, named after it (isauthvalueset, issaskeyset, issastokenset).
  draft.columns.forEach((column) => {
    if (column.validForRead) return;
    const indicator = draft.columns.get(`is${column.name}set`);
    if (indicator?.type === 'boolean') {
      draft.columns.set(column.name, { ...column, setIndicator: indicator.name });
      draft.columns.set(indicator.name, { ...indicator, readOnly: true });
    }
  });
}

/**
 * A navigation with no lookup column behind it in `$metadata` (`incident.responsiblecontactid`: Dataverse leaves
 * the attribute out of the CSDL, not the relationship): a hidden lookup column named after the navigation holds it.
 */
function hiddenLookup(draft: Draft, navigation: NavigationProperty): string | undefined {
  const name = navigation.name.toLowerCase();
  if (draft.columns.has(name)) return undefined;
  draft.columns.set(name, makeColumn(name, 'lookup', draft.attributes.get(name), { hidden: true, readOnly: false }));
  return name;
}

function isActivityType(draft: Draft): boolean {
  return draft.entity.logicalName === 'activitypointer' || draft.flat.baseType === 'activitypointer';
}

/** The lookup column behind a single-valued navigation property. */
function lookupColumn(
  draft: Draft,
  navigation: NavigationProperty,
  relationships: ReadonlyMap<string, string>,
  drafts: ReadonlyMap<string, Draft>,
): string | undefined {
  const constraint = navigation.referentialConstraints[0];
  const fromConstraint = constraint === undefined ? undefined : lookupLogicalName(constraint.property);
  if (fromConstraint !== undefined) return fromConstraint;
  // A constraint on a plain Guid property (`stageid_processstage` on `stageid`): that column holds the key.
  if (constraint !== undefined && draft.columns.get(constraint.property)?.type === 'uniqueidentifier') {
    return constraint.property;
  }
  const fromDefinition = relationships.get(navigation.name);
  if (fromDefinition !== undefined) return fromDefinition;
  // A navigation named as its lookup (`bulkoperationlog.bulkoperationid` beside `_bulkoperationid_value`).
  const same = draft.columns.get(navigation.name);
  if (same !== undefined && isLookupType(same.type)) return same.name;
  // Navigations to derived types (activities) carry no constraint in Dataverse's CSDL; their names start with
  // the lookup's logical name (`regardingobjectid_task_actioncard`).
  let best: string | undefined;
  draft.columns.forEach((column) => {
    if (column.type !== 'lookup' && column.type !== 'customer' && column.type !== 'owner') return;
    const length = column.name.length;
    if (
      length > (best?.length ?? 0) &&
      navigation.name.charCodeAt(length) === UNDERSCORE &&
      navigation.name.startsWith(column.name)
    ) {
      best = column.name;
    }
  });
  if (best !== undefined) return best;
  // An activity's navigation to activitypointer without a constraint (`activityid_activitypointer`) is the 1:1 link
  // to its own pointer row: the key is the lookup.
  if (draft.flat.baseType === 'activitypointer' && navigation.type.endsWith('.activitypointer')) return draft.primaryId;
  // Else the base type's own navigation to the same target (`sla_task_sla` → activitypointer's slaid).
  const base = draft.flat.baseType === undefined ? undefined : drafts.get(draft.flat.baseType);
  if (base === undefined) return undefined;
  const candidates = new Set<string>();
  for (const [name, column] of base.lookupOf) {
    if (base.flat.navigationsByName.get(name)?.type === navigation.type) candidates.add(column);
  }
  return candidates.size === 1 ? [...candidates][0] : undefined;
}

/** ReferencingEntityNavigationPropertyName → ReferencingAttribute, from the definition's ManyToOneRelationships. */
function manyToOneColumns(definition: Json | undefined): Map<string, string> {
  const map = new Map<string, string>();
  const list = definition?.ManyToOneRelationships;
  if (!Array.isArray(list)) return map;
  for (const r of list as unknown[]) {
    if (!isJsonObject(r)) continue;
    const navigation = text(r.ReferencingEntityNavigationPropertyName);
    const attribute = text(r.ReferencingAttribute);
    if (navigation !== undefined && attribute !== undefined) map.set(navigation, attribute);
  }
  return map;
}

function alternateKeys(draft: Draft, problems: Problems, source: MetadataSources): AlternateKey[] {
  const list = draft.definition?.Keys;
  if (!Array.isArray(list)) return [];
  const keys: AlternateKey[] = [];
  for (const k of list as unknown[]) {
    if (!isJsonObject(k)) continue;
    const name = text(k.LogicalName) ?? text(k.SchemaName);
    const columns = Array.isArray(k.KeyAttributes)
      ? (k.KeyAttributes as unknown[]).filter((c) => typeof c === 'string')
      : [];
    if (name === undefined || columns.length === 0) continue;
    const unknown = columns.filter((c) => !draft.columns.has(c));
    if (unknown.length > 0) {
      problems.add(
        source.definition(draft.entity.logicalName),
        `Keys: '${name}' names ${unknown.map((c) => `'${c}'`).join(', ')}, not a column of '${draft.entity.logicalName}' in $metadata`,
      );
      continue;
    }
    keys.push({ name: name.toLowerCase(), columns });
  }
  return keys;
}

function ownershipOf(definition: Json | undefined, columns: ReadonlyMap<string, Column>): Ownership {
  switch (definition?.OwnershipType) {
    case 'UserOwned':
    case 'TeamOwned':
      return 'UserOwned';
    case 'BusinessOwned':
      return 'BusinessOwned';
    case 'OrganizationOwned':
    case 'None':
      return 'OrganizationOwned';
    default:
      return columns.has('ownerid') ? 'UserOwned' : 'OrganizationOwned';
  }
}

/**
 * Builds the emulator's schema from a parsed `$metadata` and the tables' EntityDefinitions JSON (by logical
 * name; any may be missing). Throws SchemaError listing every problem, each naming its file and element.
 */
export function schemaFromMetadata(
  model: MetadataModel,
  csdl: string,
  definitions: ReadonlyMap<string, Json>,
  source: MetadataSources,
): Schema {
  const problems: Problems = {
    list: [],
    add(file, message) {
      this.list.push(`${file}: ${message}`);
    },
  };
  const found = entityTables(model);
  const drafts = new Map<string, Draft>();
  for (const entity of found) {
    const flat = flatten(model, entity.type);
    const where = `<EntityType Name="${entity.logicalName}">`;
    if (flat.key === undefined) {
      problems.add(source.metadata, `${where} has no <Key> (nor does a base type): a table needs a primary key`);
      continue;
    }
    const definition = definitions.get(entity.logicalName);
    if (definition !== undefined && definition.LogicalName !== entity.logicalName) {
      problems.add(
        source.definition(entity.logicalName),
        `LogicalName is ${JSON.stringify(definition.LogicalName)}, expected '${entity.logicalName}'`,
      );
    }
    const ownId = `${entity.logicalName}id`;
    const inheritedPrincipal = flat.key === 'ownerid' && flat.properties.some((p) => p.name === ownId);
    const primaryId = text(definition?.PrimaryIdAttribute) ?? (inheritedPrincipal ? ownId : flat.key);
    const draft: Draft = {
      entity,
      flat,
      definition,
      attributes: attributesOf(definition),
      columns: new Map(),
      lookupOf: new Map(),
      primaryId,
    };
    draftColumns(draft, problems, source);
    const primary = draft.columns.get(primaryId);
    if (primary === undefined || primary.type !== 'uniqueidentifier') {
      problems.add(source.metadata, `${where}: the key '${primaryId}' is not an Edm.Guid property`);
      continue;
    }
    drafts.set(entity.logicalName, draft);
  }
  for (const name of REQUIRED_TABLES) {
    if (!drafts.has(name) && !found.some((t) => t.logicalName === name)) {
      problems.add(
        source.metadata,
        `no entity set for '${name}': the emulator needs the ${REQUIRED_TABLES.join(', ')} tables`,
      );
    }
  }
  if (problems.list.length > 0) throw new SchemaError(source.metadata, problems.list);

  // Single-valued navigations: the lookup's targets, in base-first order so derived types can borrow.
  const ordered = [...drafts.values()].sort((a, b) => a.flat.depth - b.flat.depth);
  const targets = new Map<string, Map<string, LookupTarget[]>>();
  for (const draft of ordered) {
    const relationships = manyToOneColumns(draft.definition);
    const perColumn = new Map<string, LookupTarget[]>();
    targets.set(draft.entity.logicalName, perColumn);
    draft.flat.navigations.forEach((navigation) => {
      if (navigation.collection) return;
      const target = localTypeName(model, navigation.type);
      if (target === undefined || (target !== 'principal' && !drafts.has(target))) return;
      const column = lookupColumn(draft, navigation, relationships, drafts) ?? hiddenLookup(draft, navigation);
      if (column === undefined || !draft.columns.has(column)) return;
      draft.lookupOf.set(navigation.name, column);
      if (column === draft.primaryId) return;
      let list = perColumn.get(column);
      if (list === undefined) perColumn.set(column, (list = []));
      const partner = navigation.partner ?? '';
      if (target === 'principal') {
        for (const owner of ['systemuser', 'team']) list.push({ table: owner, navigation: navigation.name, partner });
      } else if (drafts.has(target) && !list.some((t) => t.table === target)) {
        list.push({ table: target, navigation: navigation.name, partner });
      }
    });
  }

  const tables = new Map<string, Table>();
  const byEntitySet = new Map<string, Table>();
  const manyToMany = new Map<string, ManyToMany>();
  /** The relationship behind each N:N navigation (a self-referential one has two navigations). */
  const relationshipOf = new Map<string, string>();
  const principalNavigations: Navigation[] = [];
  const navigationMaps = new Map<string, Map<string, Navigation>>();
  for (const draft of drafts.values()) {
    const name = draft.entity.logicalName;
    targets.get(name)?.forEach((list, column) => {
      // Built above for this table alone and not yet handed out: completed in place rather than copied.
      const current = draft.columns.get(column);
      if (current !== undefined) current.targets = list;
    });
    const navigations = new Map<string, Navigation>();
    navigationMaps.set(name, navigations);
    draft.flat.navigations.forEach((navigation) => {
      const target = localTypeName(model, navigation.type);
      if (target === undefined) return;
      if (!navigation.collection) {
        const columnName = draft.lookupOf.get(navigation.name);
        const column = columnName === undefined ? undefined : draft.columns.get(columnName);
        if (column === undefined || (target !== 'principal' && !drafts.has(target))) return;
        navigations.set(navigation.name, {
          kind: 'single',
          name: navigation.name,
          column,
          target,
          partner: navigation.partner ?? '',
        });
        return;
      }
      const other = drafts.get(target);
      if (other === undefined || navigation.partner === undefined) return;
      const referencing = other.lookupOf.get(navigation.partner);
      if (referencing !== undefined) {
        navigations.set(navigation.name, {
          kind: 'collection',
          name: navigation.name,
          source: target,
          column: referencing,
          partner: navigation.partner,
        });
        return;
      }
      const partner = other.flat.navigationsByName.get(navigation.partner);
      if (partner?.collection !== true) return;
      navigations.set(navigation.name, { kind: 'manyToMany', name: navigation.name, target, intersect: '' });
      const sides = selfReferentialSides(draft, navigation.name, partner.name);
      const relationship = sides?.[0] ?? navigation.name;
      relationshipOf.set(navigation.name, relationship);
      if (!manyToMany.has(relationship))
        manyToMany.set(relationship, nn(drafts, draft, relationship, other, sides?.[1]));
    });
  }
  // Owner relationships live on the abstract principal type.
  const principal = model.entityTypes.get('principal');
  for (const navigation of principal?.navigationProperties ?? []) {
    const source = localTypeName(model, navigation.type);
    const draft = source === undefined ? undefined : drafts.get(source);
    const column = navigation.partner === undefined ? undefined : draft?.lookupOf.get(navigation.partner);
    if (source === undefined || column === undefined || navigation.partner === undefined) continue;
    principalNavigations.push({
      kind: 'collection',
      name: navigation.name,
      source,
      column,
      partner: navigation.partner,
    });
  }

  const intersects = new Set([...manyToMany.values()].map((m) => m.intersect));
  for (const draft of drafts.values()) {
    const name = draft.entity.logicalName;
    const d = draft.definition;
    const navigations = navigationMaps.get(name) ?? new Map<string, Navigation>();
    navigations.forEach((navigation, key) => {
      if (navigation.kind === 'manyToMany') {
        navigations.set(key, {
          ...navigation,
          intersect:
            manyToMany.get(relationshipOf.get(navigation.name) ?? navigation.name)?.intersect ?? navigation.name,
        });
      }
    });
    const table: Table = {
      logicalName: name,
      entitySetName: draft.entity.entitySetName,
      displayName: labelText(d?.DisplayName) ?? name,
      displayCollectionName:
        labelText(d?.DisplayCollectionName) ?? labelText(d?.DisplayName) ?? draft.entity.entitySetName,
      primaryIdAttribute: draft.primaryId,
      primaryNameAttribute: primaryName(d, draft.columns),
      ownership: ownershipOf(d, draft.columns),
      changeTracking: d?.ChangeTrackingEnabled === true,
      versionNumberInMetadata: draft.flat.properties.some((p) => p.name === 'versionnumber'),
      baseType: draft.flat.baseType,
      isActivity:
        typeof d?.IsActivity === 'boolean'
          ? d.IsActivity
          : draft.flat.baseType === 'activitypointer' || name === 'activitypointer',
      isIntersect: d?.IsIntersect === true || intersects.has(name),
      alternateKeys: alternateKeys(draft, problems, source),
      columns: draft.columns,
      navigations,
      ...(d === undefined ? {} : { entityDefinition: d }),
    };
    tables.set(name, table);
    byEntitySet.set(table.entitySetName, table);
  }
  if (problems.list.length > 0) throw new SchemaError(source.metadata, problems.list);
  return { tables, byEntitySet, manyToMany: [...manyToMany.values()], principalNavigations, csdl };
}

/** The definition's PrimaryNameAttribute when it is a column here. */
function primaryName(definition: Json | undefined, columns: ReadonlyMap<string, Column>): string | undefined {
  const name = text(definition?.PrimaryNameAttribute);
  return name !== undefined && columns.has(name) ? name : undefined;
}

const guidHolders = new WeakMap<ReadonlyMap<string, Draft>, ReadonlyMap<string, readonly Draft[]>>();

/**
 * The tables with an Edm.Guid property `name`, in the order of `drafts`: asked for each N:N without a definition,
 * indexed once rather than asking every table each time.
 */
function holdersOf(drafts: ReadonlyMap<string, Draft>, name: string): readonly Draft[] {
  let index = guidHolders.get(drafts);
  if (index === undefined) {
    const built = new Map<string, Draft[]>();
    drafts.forEach((d) => {
      d.flat.properties.forEach((p) => {
        if (p.type !== 'Edm.Guid') return;
        const list = built.get(p.name);
        if (list === undefined) built.set(p.name, [d]);
        else list.push(d);
      });
    });
    guidHolders.set(drafts, built);
    index = built;
  }
  return index.get(name) ?? [];
}

/**
 * The two navigations of a self-referential N:N relationship, `[<name>, <name>_referenced]`: partners of each other
 * on one table, the referencing side (Entity1) named as the relationship, the referenced side (Entity2) with the
 * `_referenced` suffix (`campaigncampaign_association` / `campaigncampaign_association_referenced`). The table's
 * definition names them when it has the relationship (`Entity1NavigationPropertyName`, `Entity2…`). Undefined for
 * a relationship between two tables, whose navigations share its name.
 */
function selfReferentialSides(
  draft: Draft,
  navigation: string,
  partner: string,
): readonly [string, string] | undefined {
  if (navigation === partner) return undefined;
  const list = draft.definition?.ManyToManyRelationships;
  for (const r of Array.isArray(list) ? (list as unknown[]) : []) {
    if (!isJsonObject(r)) continue;
    const one = text(r.Entity1NavigationPropertyName);
    const two = text(r.Entity2NavigationPropertyName);
    if ((one === navigation && two === partner) || (one === partner && two === navigation)) {
      return [text(r.SchemaName) ?? one, two];
    }
  }
  if (partner === `${navigation}_referenced`) return [navigation, partner];
  if (navigation === `${partner}_referenced`) return [partner, navigation];
  return undefined;
}

/**
 * An N:N relationship. The definition names its intersect table and columns; without it, the one table of the
 * CSDL whose rows hold both tables' keys (`accountleads`: `accountid`, `leadid`; for a self-referential relationship,
 * two Guid columns both naming the table's key, `connectionroleid` and `associatedconnectionroleid`, Entity1 first
 * as declared) is the intersect table, else the relationship name stands for it.
 */
function nn(
  drafts: ReadonlyMap<string, Draft>,
  draft: Draft,
  name: string,
  other: Draft,
  referencedNavigation?: string,
): ManyToMany {
  const referenced = referencedNavigation === undefined ? {} : { referencedNavigation };
  const target = other.entity.logicalName;
  const list = draft.definition?.ManyToManyRelationships;
  const found = Array.isArray(list)
    ? (list as unknown[]).find((r): r is Record<string, unknown> => isJsonObject(r) && r.SchemaName === name)
    : undefined;
  const first = text(found?.Entity1IntersectAttribute);
  const second = text(found?.Entity2IntersectAttribute);
  const entity1 = text(found?.Entity1LogicalName);
  const tables: [string, string] =
    entity1 === undefined || entity1 === draft.entity.logicalName
      ? [draft.entity.logicalName, target]
      : [target, draft.entity.logicalName];
  const intersect = text(found?.IntersectEntityName);
  if (intersect !== undefined) {
    return {
      name,
      intersect,
      tables,
      ...(first !== undefined && second !== undefined ? { intersectColumns: [first, second] as const } : {}),
      ...referenced,
    };
  }
  if (referencedNavigation !== undefined) {
    const candidates = [...drafts.values()]
      .filter((d) => d !== draft)
      .map((d) => ({ d, keys: selfIntersectColumns(d, draft.primaryId) }))
      .filter((c) => c.keys !== undefined);
    const only = candidates.length === 1 ? candidates[0] : undefined;
    return only?.keys === undefined
      ? { name, intersect: name.toLowerCase(), tables, ...referenced }
      : { name, intersect: only.d.entity.logicalName, tables, intersectColumns: only.keys, ...referenced };
  }
  const [a, b] = tables.map((t) => (t === target ? other : draft).primaryId) as [string, string];
  const holdersOfB = holdersOf(drafts, b);
  const holdsBoth = (d: Draft): boolean => a !== b && d.primaryId !== a && d.primaryId !== b && holdersOfB.includes(d);
  const candidates = holdersOf(drafts, a).filter(holdsBoth);
  const only = candidates.length === 1 ? candidates[0] : undefined;
  if (only !== undefined) return { name, intersect: only.entity.logicalName, tables, intersectColumns: [a, b] };
  return { name, intersect: name.toLowerCase(), tables };
}

/** The two plain Guid columns of `d` that name `key` (`connectionroleid`, `associatedconnectionroleid`), in order. */
function selfIntersectColumns(d: Draft, key: string): readonly [string, string] | undefined {
  const named = d.flat.properties.filter(
    (p) =>
      p.type === 'Edm.Guid' &&
      p.name !== d.primaryId &&
      lookupLogicalName(p.name) === undefined &&
      p.name.includes(key),
  );
  const [first, second] = named;
  return named.length === 2 && first !== undefined && second !== undefined ? [first.name, second.name] : undefined;
}

import { isJsonObject } from '../../core/json';

/** Dataverse column types, named as makers see them; `AttributeType` and Edm type follow from each. */
export type ColumnType =
  | 'string'
  | 'memo'
  | 'integer'
  | 'bigint'
  | 'decimal'
  | 'float'
  | 'currency'
  | 'boolean'
  | 'datetime'
  | 'dateonly'
  | 'uniqueidentifier'
  | 'lookup'
  | 'customer'
  | 'owner'
  | 'choice'
  | 'choices'
  | 'state'
  | 'status'
  /** `Edm.Binary` (image and file content), base64 on the wire. */
  | 'binary'
  /**
   * A managed property, of complex type `Microsoft.Dynamics.CRM.BooleanManagedProperty` (`iscustomizable`): an
   * object `{Value, CanBeChanged, ManagedPropertyLogicalName}` on the wire, its JSON text in storage; queries
   * compare its `Value`.
   */
  | 'managedproperty';

export type RequiredLevel = 'None' | 'SystemRequired' | 'ApplicationRequired' | 'Recommended';
export type Ownership = 'UserOwned' | 'OrganizationOwned' | 'BusinessOwned';

export interface OptionDef {
  readonly value: number;
  readonly label: string;
  /** For status options: the state they belong to. */
  readonly state?: number;
}

export interface LookupTarget {
  readonly table: string;
  /** The single-valued navigation property on the referencing table. */
  readonly navigation: string;
  /** The collection-valued navigation property on the target table. */
  readonly partner: string;
  /** The relationship's SchemaName, when the source says (EntityDefinitions' `ManyToOneRelationships`). */
  readonly relationship?: string;
}

export interface Column {
  readonly name: string;
  readonly type: ColumnType;
  readonly displayName: string;
  readonly required: RequiredLevel;
  readonly maxLength: number | undefined;
  readonly min: number | undefined;
  readonly max: number | undefined;
  readonly precision: number | undefined;
  readonly options: readonly OptionDef[] | undefined;
  readonly targets: readonly LookupTarget[] | undefined;
  /** Set by the server only (system columns, `_base` columns, computed names). */
  readonly readOnly: boolean;
  /**
   * False for write-only columns (`IsValidForRead` false: serviceendpoint.authvalue, saskey, sastoken): a client
   * may set them, never read them back. The emulator keeps the value for its own use (webhook delivery).
   */
  readonly validForRead: boolean;
  /** For a write-only column: the boolean column the server keeps true while it holds a value (`isauthvalueset`). */
  readonly setIndicator: string | undefined;
  /** For computed name columns (contact.fullname): the columns joined with a space. */
  readonly concatOf: readonly string[] | undefined;
  /** For `<x>_base`: the currency column it converts. */
  readonly baseOf: string | undefined;
  readonly system: boolean;
  /**
   * A lookup a `$metadata` declares only as a navigation property, without its `_x_value` property
   * (`incident.responsiblecontactid`): stored, bound and navigated, never one of a row's properties.
   */
  readonly hidden?: boolean;
  /** For a managed property: the `ManagedPropertyLogicalName` it answers (`iscustomizableanddeletable`). */
  readonly managedPropertyName?: string;
}

export interface AlternateKey {
  readonly name: string;
  readonly columns: readonly string[];
}

export interface NavigationRef {
  readonly navigation: string;
  readonly partner: string;
}

/** A navigation property of a table, resolved across the whole schema. */
export type Navigation =
  | {
      readonly kind: 'single';
      readonly name: string;
      readonly column: Column;
      /** Logical name of the target table; `principal` for owner columns. */
      readonly target: string;
      readonly partner: string;
    }
  | {
      readonly kind: 'collection';
      readonly name: string;
      /** The referencing table and its lookup column. */
      readonly source: string;
      readonly column: string;
      readonly partner: string;
    }
  | {
      readonly kind: 'manyToMany';
      readonly name: string;
      readonly target: string;
      readonly intersect: string;
    };

export interface Table {
  readonly logicalName: string;
  readonly entitySetName: string;
  readonly displayName: string;
  readonly displayCollectionName: string;
  readonly primaryIdAttribute: string;
  readonly primaryNameAttribute: string | undefined;
  readonly ownership: Ownership;
  readonly changeTracking: boolean;
  /** False for the few tables whose real `$metadata` has no `versionnumber` (serviceendpoint); ETags still use it. */
  readonly versionNumberInMetadata: boolean;
  /**
   * The entity type this one derives from, other than `crmbaseentity`: `principal` for systemuser and team
   * (whose CSDL key is the inherited `ownerid`), `activitypointer` for activity tables (task, email, ...).
   * Columns and navigations are flattened: a table lists the inherited ones too.
   */
  readonly baseType: string | undefined;
  /** An activity table (`IsActivity`): its rows are also rows of `activitypointers`. */
  readonly isActivity: boolean;
  /** The intersect table of an N:N relationship (`IsIntersect`): written only by associate/disassociate. */
  readonly isIntersect: boolean;
  readonly alternateKeys: readonly AlternateKey[];
  readonly columns: ReadonlyMap<string, Column>;
  readonly navigations: ReadonlyMap<string, Navigation>;
  /**
   * The table's `EntityMetadata` JSON exactly as the snapshot holds it (Dataverse's EntityDefinitions answer with
   * Attributes, Keys and relationships expanded, option sets inline), for the metadata endpoints to serve.
   * Absent for the JSON schema format and for a bare `$metadata`.
   */
  readonly entityDefinition?: Readonly<Record<string, unknown>>;
}

export interface ManyToMany {
  /** The relationship's SchemaName, which is also the navigation property's name on both tables. */
  readonly name: string;
  /** Logical name of the intersect table (`IntersectEntityName`). */
  readonly intersect: string;
  readonly tables: readonly [string, string];
  /** Columns of the intersect table naming each side (`Entity1IntersectAttribute`, `…2…`), when known. */
  readonly intersectColumns?: readonly [string, string];
  /**
   * A self-referential relationship's navigation on the referenced side (`campaigncampaign_association_referenced`,
   * `Entity2NavigationPropertyName`): it lists the records whose `name` navigation lists this one. Absent when the
   * relationship joins two tables, which both name it `name`.
   */
  readonly referencedNavigation?: string;
}

/**
 * The N:N relationship behind `table`'s collection navigation `navigation`, and the side of its pairs `table`'s
 * record is on (`a`: `tables[0]`, Entity1). A self-referential relationship has both sides on one table: its
 * `name` navigation is side `a`, its `referencedNavigation` side `b`.
 */
export function manyToManySide(
  schema: Schema,
  table: Table,
  navigation: string,
): { readonly relationship: ManyToMany; readonly mine: 'a' | 'b' } | undefined {
  for (const relationship of schema.manyToMany) {
    if (relationship.referencedNavigation === navigation) return { relationship, mine: 'b' };
    if (relationship.name === navigation) {
      return { relationship, mine: relationship.tables[0] === table.logicalName ? 'a' : 'b' };
    }
  }
  return undefined;
}

export interface Schema {
  readonly tables: ReadonlyMap<string, Table>;
  readonly byEntitySet: ReadonlyMap<string, Table>;
  readonly manyToMany: readonly ManyToMany[];
  /** Collection navigations of the abstract `principal` type (owner relationships). */
  readonly principalNavigations: readonly Navigation[];
  /**
   * The `$metadata` document the schema was read from (a snapshot's `$metadata.xml`, a `--metadata` file), to be
   * served as is: it holds what the model does not (actions, functions, complex and enum types). Absent when the
   * schema is the JSON format, whose `$metadata` is generated (csdl.ts).
   */
  readonly csdl?: string;
}

export class SchemaError extends Error {
  readonly problems: readonly string[];
  constructor(source: string, problems: readonly string[]) {
    super(`${source}: invalid emulator schema:\n  - ${problems.join('\n  - ')}`);
    this.name = 'SchemaError';
    this.problems = problems;
  }
}

const COLUMN_TYPES: ReadonlySet<string> = new Set<ColumnType>([
  'string',
  'memo',
  'integer',
  'bigint',
  'decimal',
  'float',
  'currency',
  'boolean',
  'datetime',
  'dateonly',
  'uniqueidentifier',
  'lookup',
  'customer',
  'owner',
  'choice',
  'choices',
  'state',
  'status',
  'binary',
]);
const REQUIRED_LEVELS: ReadonlySet<string> = new Set<RequiredLevel>([
  'None',
  'SystemRequired',
  'ApplicationRequired',
  'Recommended',
]);
const OWNERSHIPS: ReadonlySet<string> = new Set<Ownership>(['UserOwned', 'OrganizationOwned', 'BusinessOwned']);
/** Dataverse logical names; also what makes them safe as quoted SQLite identifiers. */
const LOGICAL_NAME = /^[a-z][a-z0-9_]{0,99}$/;
/** Navigation property names keep their schema-name casing (`Account_Tasks`). */
const NAVIGATION_NAME = /^[A-Za-z][A-Za-z0-9_]{0,127}$/;

// ---------------------------------------------------------------------------------------------
// Raw (file) shapes, validated field by field; every problem is collected with its path.

/** A column as a schema file declares it, before system columns and defaults are filled in. */
export interface RawColumn {
  name: string;
  type: ColumnType;
  displayName: string | undefined;
  required: RequiredLevel;
  maxLength: number | undefined;
  min: number | undefined;
  max: number | undefined;
  precision: number | undefined;
  options: OptionDef[] | undefined;
  targets: LookupTarget[] | undefined;
  readOnly: boolean;
  validForRead: boolean;
  setIndicator: string | undefined;
  concatOf: string[] | undefined;
}

/** A table as a schema file declares it. */
export interface RawTable {
  logicalName: string;
  entitySetName: string | undefined;
  displayName: string | undefined;
  displayCollectionName: string | undefined;
  primaryIdAttribute: string | undefined;
  primaryNameAttribute: string | undefined;
  ownership: Ownership | undefined;
  changeTracking: boolean | undefined;
  versionNumberInMetadata: boolean | undefined;
  baseType: 'principal' | undefined;
  alternateKeys: AlternateKey[];
  systemNavigation: Partial<Record<SystemNavigationKey, NavigationRef>>;
  columns: RawColumn[];
}

type SystemNavigationKey =
  'createdby' | 'modifiedby' | 'ownerid' | 'owninguser' | 'owningteam' | 'owningbusinessunit' | 'transactioncurrencyid';
const SYSTEM_NAVIGATION_KEYS: readonly SystemNavigationKey[] = [
  'createdby',
  'modifiedby',
  'ownerid',
  'owninguser',
  'owningteam',
  'owningbusinessunit',
  'transactioncurrencyid',
];

export interface RawSchema {
  tables: RawTable[];
  manyToMany: ManyToMany[];
}

class Reader {
  readonly problems: string[] = [];

  string(obj: Record<string, unknown>, key: string, path: string, required: boolean): string | undefined {
    const value = obj[key];
    if (value === undefined || value === null) {
      if (required) this.problems.push(`${path}.${key} is required`);
      return undefined;
    }
    if (typeof value !== 'string' || value.length === 0) {
      this.problems.push(`${path}.${key} must be a non-empty string`);
      return undefined;
    }
    return value;
  }

  name(obj: Record<string, unknown>, key: string, path: string, pattern: RegExp, required = true): string | undefined {
    const value = this.string(obj, key, path, required);
    if (value !== undefined && !pattern.test(value)) {
      this.problems.push(
        `${path}.${key} '${value}' is not a valid name (${pattern === LOGICAL_NAME ? 'lower-case letters, digits and _' : 'letters, digits and _'})`,
      );
      return undefined;
    }
    return value;
  }

  number(obj: Record<string, unknown>, key: string, path: string, integer: boolean): number | undefined {
    const value = obj[key];
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'number' || !Number.isFinite(value) || (integer && !Number.isInteger(value))) {
      this.problems.push(`${path}.${key} must be ${integer ? 'an integer' : 'a number'}`);
      return undefined;
    }
    return value;
  }

  boolean(obj: Record<string, unknown>, key: string, path: string): boolean | undefined {
    const value = obj[key];
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'boolean') {
      this.problems.push(`${path}.${key} must be true or false`);
      return undefined;
    }
    return value;
  }

  array(obj: Record<string, unknown>, key: string, path: string): unknown[] | undefined {
    const value = obj[key];
    if (value === undefined || value === null) return undefined;
    if (!Array.isArray(value)) {
      this.problems.push(`${path}.${key} must be an array`);
      return undefined;
    }
    return value as unknown[];
  }

  navigationRef(value: unknown, path: string): NavigationRef | undefined {
    if (!isJsonObject(value)) {
      this.problems.push(`${path} must be an object with navigation and partner`);
      return undefined;
    }
    const navigation = this.name(value, 'navigation', path, NAVIGATION_NAME);
    const partner = this.name(value, 'partner', path, NAVIGATION_NAME);
    return navigation !== undefined && partner !== undefined ? { navigation, partner } : undefined;
  }

  column(value: unknown, path: string): RawColumn | undefined {
    if (!isJsonObject(value)) {
      this.problems.push(`${path} must be an object`);
      return undefined;
    }
    const name = this.name(value, 'name', path, LOGICAL_NAME);
    const typeText = this.string(value, 'type', path, true);
    let type: ColumnType | undefined;
    if (typeText !== undefined) {
      if (COLUMN_TYPES.has(typeText)) type = typeText as ColumnType;
      else this.problems.push(`${path}.type '${typeText}' is not one of ${[...COLUMN_TYPES].join(', ')}`);
    }
    const requiredText = this.string(value, 'required', path, false);
    if (requiredText !== undefined && !REQUIRED_LEVELS.has(requiredText)) {
      this.problems.push(`${path}.required must be one of ${[...REQUIRED_LEVELS].join(', ')}`);
    }
    const options = this.options(value, path, type);
    const targets = this.targets(value, path, type);
    const concat = this.array(value, 'concatOf', path);
    const concatOf = concat?.filter((item): item is string => typeof item === 'string');
    if (concat !== undefined && concatOf?.length !== concat.length)
      this.problems.push(`${path}.concatOf must list column names`);
    const maxLength = this.number(value, 'maxLength', path, true);
    if ((type === 'string' || type === 'memo') && maxLength === undefined) {
      this.problems.push(`${path}.maxLength is required for ${type} columns`);
    }
    if (name === undefined || type === undefined) return undefined;
    return {
      name,
      type,
      displayName: this.string(value, 'displayName', path, false),
      required: (requiredText !== undefined && REQUIRED_LEVELS.has(requiredText)
        ? requiredText
        : 'None') as RequiredLevel,
      maxLength,
      min: this.number(value, 'min', path, false),
      max: this.number(value, 'max', path, false),
      precision: this.number(value, 'precision', path, true),
      options,
      targets,
      readOnly: this.boolean(value, 'readOnly', path) ?? false,
      validForRead: this.boolean(value, 'validForRead', path) ?? true,
      setIndicator: this.name(value, 'setIndicator', path, LOGICAL_NAME, false),
      concatOf,
    };
  }

  options(value: Record<string, unknown>, path: string, type: ColumnType | undefined): OptionDef[] | undefined {
    const raw = this.array(value, 'options', path);
    const needs = type === 'choice' || type === 'choices' || type === 'state' || type === 'status';
    if (raw === undefined) {
      if (needs) this.problems.push(`${path}.options is required for ${type} columns`);
      return undefined;
    }
    const options: OptionDef[] = [];
    raw.forEach((item, index) => {
      const p = `${path}.options[${index}]`;
      if (!isJsonObject(item)) {
        this.problems.push(`${p} must be an object with value and label`);
        return;
      }
      const optionValue = this.number(item, 'value', p, true);
      const label = this.string(item, 'label', p, true);
      const state = this.number(item, 'state', p, true);
      if (optionValue === undefined || label === undefined) {
        if (optionValue === undefined && item.value === undefined) this.problems.push(`${p}.value is required`);
        return;
      }
      if (options.some((o) => o.value === optionValue)) this.problems.push(`${p}.value ${optionValue} is repeated`);
      if (type === 'status' && state === undefined) this.problems.push(`${p}.state is required for status options`);
      options.push(state === undefined ? { value: optionValue, label } : { value: optionValue, label, state });
    });
    if (needs && options.length === 0) this.problems.push(`${path}.options must not be empty`);
    return options;
  }

  targets(value: Record<string, unknown>, path: string, type: ColumnType | undefined): LookupTarget[] | undefined {
    const raw = this.array(value, 'targets', path);
    const needs = type === 'lookup' || type === 'customer';
    if (raw === undefined) {
      if (needs) this.problems.push(`${path}.targets is required for ${type} columns`);
      return undefined;
    }
    const targets: LookupTarget[] = [];
    raw.forEach((item, index) => {
      const p = `${path}.targets[${index}]`;
      if (!isJsonObject(item)) {
        this.problems.push(`${p} must be an object with table, navigation and partner`);
        return;
      }
      const table = this.name(item, 'table', p, LOGICAL_NAME);
      const ref = this.navigationRef(item, p);
      if (table !== undefined && ref !== undefined) targets.push({ table, ...ref });
    });
    if (needs && targets.length === 0) this.problems.push(`${path}.targets must not be empty`);
    return targets;
  }

  table(value: unknown, path: string): RawTable | undefined {
    if (!isJsonObject(value)) {
      this.problems.push(`${path} must be an object`);
      return undefined;
    }
    const logicalName = this.name(value, 'logicalName', path, LOGICAL_NAME);
    const ownershipText = this.string(value, 'ownership', path, false);
    if (ownershipText !== undefined && !OWNERSHIPS.has(ownershipText)) {
      this.problems.push(`${path}.ownership must be one of ${[...OWNERSHIPS].join(', ')}`);
    }
    const baseType = this.string(value, 'baseType', path, false);
    if (baseType !== undefined && baseType !== 'principal')
      this.problems.push(`${path}.baseType may only be 'principal'`);
    const alternateKeys: AlternateKey[] = [];
    (this.array(value, 'alternateKeys', path) ?? []).forEach((item, index) => {
      const p = `${path}.alternateKeys[${index}]`;
      if (!isJsonObject(item)) {
        this.problems.push(`${p} must be an object with name and columns`);
        return;
      }
      const name = this.name(item, 'name', p, LOGICAL_NAME);
      const columns = this.array(item, 'columns', p)?.filter((c): c is string => typeof c === 'string') ?? [];
      if (columns.length === 0) this.problems.push(`${p}.columns must list at least one column`);
      if (name !== undefined && columns.length > 0) alternateKeys.push({ name, columns });
    });
    const systemNavigation: Partial<Record<SystemNavigationKey, NavigationRef>> = {};
    const rawSystem = value.systemNavigation;
    if (rawSystem !== undefined) {
      if (!isJsonObject(rawSystem)) this.problems.push(`${path}.systemNavigation must be an object`);
      else {
        for (const [key, ref] of Object.entries(rawSystem)) {
          if (!(SYSTEM_NAVIGATION_KEYS as readonly string[]).includes(key)) {
            this.problems.push(`${path}.systemNavigation.${key} is not one of ${SYSTEM_NAVIGATION_KEYS.join(', ')}`);
            continue;
          }
          const parsed = this.navigationRef(ref, `${path}.systemNavigation.${key}`);
          if (parsed !== undefined) systemNavigation[key as SystemNavigationKey] = parsed;
        }
      }
    }
    const rawColumns = this.array(value, 'columns', path);
    if (rawColumns === undefined) this.problems.push(`${path}.columns is required`);
    const columns = (rawColumns ?? [])
      .map((c, index) => this.column(c, `${path}.columns[${index}]`))
      .filter((c): c is RawColumn => c !== undefined);
    if (logicalName === undefined) return undefined;
    return {
      logicalName,
      entitySetName: this.name(value, 'entitySetName', path, LOGICAL_NAME, false),
      displayName: this.string(value, 'displayName', path, false),
      displayCollectionName: this.string(value, 'displayCollectionName', path, false),
      primaryIdAttribute: this.name(value, 'primaryIdAttribute', path, LOGICAL_NAME, false),
      primaryNameAttribute: this.name(value, 'primaryNameAttribute', path, LOGICAL_NAME, false),
      ownership:
        ownershipText !== undefined && OWNERSHIPS.has(ownershipText) ? (ownershipText as Ownership) : undefined,
      changeTracking: this.boolean(value, 'changeTracking', path),
      versionNumberInMetadata: this.boolean(value, 'versionNumberInMetadata', path),
      baseType: baseType === 'principal' ? 'principal' : undefined,
      alternateKeys,
      systemNavigation,
      columns,
    };
  }

  schema(value: unknown): RawSchema {
    if (!isJsonObject(value)) {
      this.problems.push('the file must hold a JSON object with a "tables" array');
      return { tables: [], manyToMany: [] };
    }
    const rawTables = this.array(value, 'tables', '$');
    if (rawTables === undefined) this.problems.push('$.tables is required');
    const tables = (rawTables ?? [])
      .map((t, index) => this.table(t, `$.tables[${index}]`))
      .filter((t): t is RawTable => t !== undefined);
    const manyToMany: ManyToMany[] = [];
    (this.array(value, 'manyToMany', '$') ?? []).forEach((item, index) => {
      const p = `$.manyToMany[${index}]`;
      if (!isJsonObject(item)) {
        this.problems.push(`${p} must be an object with name, intersect and tables`);
        return;
      }
      const name = this.name(item, 'name', p, NAVIGATION_NAME);
      const intersect = this.name(item, 'intersect', p, LOGICAL_NAME);
      const pair = this.array(item, 'tables', p);
      const first = pair?.[0];
      const second = pair?.[1];
      if (pair?.length !== 2 || typeof first !== 'string' || typeof second !== 'string') {
        this.problems.push(`${p}.tables must name exactly two tables`);
        return;
      }
      if (name !== undefined && intersect !== undefined) manyToMany.push({ name, intersect, tables: [first, second] });
    });
    return { tables, manyToMany };
  }
}

// ---------------------------------------------------------------------------------------------
// Resolution: fill in system columns, `_base` columns, defaults; check cross-references.

function makeColumn(raw: RawColumn, extra: { system?: boolean; baseOf?: string } = {}): Column {
  return {
    name: raw.name,
    type: raw.type,
    displayName: raw.displayName ?? raw.name,
    required: raw.required,
    maxLength: raw.maxLength,
    min: raw.min,
    max: raw.max,
    precision: raw.precision,
    options: raw.options,
    targets: raw.targets,
    readOnly: raw.readOnly,
    validForRead: raw.validForRead,
    setIndicator: raw.setIndicator,
    concatOf: raw.concatOf,
    baseOf: extra.baseOf,
    system: extra.system ?? false,
  };
}

function systemColumn(name: string, type: ColumnType, displayName: string, targets?: LookupTarget[]): RawColumn {
  return {
    name,
    type,
    displayName,
    required: 'None',
    maxLength: undefined,
    min: undefined,
    max: undefined,
    precision: undefined,
    options: undefined,
    targets,
    readOnly: true,
    validForRead: true,
    setIndicator: undefined,
    concatOf: undefined,
  };
}

export function pluralSet(logicalName: string): string {
  return logicalName.endsWith('s') ? `${logicalName}es` : `${logicalName}s`;
}

/** Adds the columns Dataverse maintains itself, with the relationship names it gives custom tables. */
function withSystemColumns(raw: RawTable, ownership: Ownership): RawColumn[] {
  const declared = new Set(raw.columns.map((c) => c.name));
  const columns = [...raw.columns];
  const nav = (key: SystemNavigationKey, fallback: NavigationRef): NavigationRef =>
    raw.systemNavigation[key] ?? fallback;
  const t = raw.logicalName;
  const add = (column: RawColumn): void => {
    if (!declared.has(column.name)) {
      columns.push(column);
      declared.add(column.name);
    }
  };
  const lookup = (key: SystemNavigationKey, name: string, display: string, table: string, fallback: NavigationRef) =>
    systemColumn(name, 'lookup', display, [{ table, ...nav(key, fallback) }]);
  add(systemColumn('createdon', 'datetime', 'Created On'));
  add(systemColumn('modifiedon', 'datetime', 'Modified On'));
  add(
    lookup('createdby', 'createdby', 'Created By', 'systemuser', {
      navigation: 'createdby',
      partner: `lk_${t}_createdby`,
    }),
  );
  add(
    lookup('modifiedby', 'modifiedby', 'Modified By', 'systemuser', {
      navigation: 'modifiedby',
      partner: `lk_${t}_modifiedby`,
    }),
  );
  add(systemColumn('versionnumber', 'bigint', 'Version Number'));
  if (ownership === 'UserOwned') {
    const owner = nav('ownerid', { navigation: 'ownerid', partner: `owner_${pluralSet(t)}` });
    add({
      ...systemColumn('ownerid', 'owner', 'Owner', [
        { table: 'systemuser', ...owner },
        { table: 'team', ...owner },
      ]),
      required: 'SystemRequired',
      readOnly: false,
    });
    add(
      lookup('owninguser', 'owninguser', 'Owning User', 'systemuser', {
        navigation: 'owninguser',
        partner: `user_${t}`,
      }),
    );
    add(lookup('owningteam', 'owningteam', 'Owning Team', 'team', { navigation: 'owningteam', partner: `team_${t}` }));
    add(
      lookup('owningbusinessunit', 'owningbusinessunit', 'Owning Business Unit', 'businessunit', {
        navigation: 'owningbusinessunit',
        partner: `business_unit_${t}`,
      }),
    );
  }
  const currencies = raw.columns.filter((c) => c.type === 'currency');
  if (currencies.length > 0) {
    add({
      ...lookup('transactioncurrencyid', 'transactioncurrencyid', 'Currency', 'transactioncurrency', {
        navigation: 'transactioncurrencyid',
        partner: `transactioncurrency_${t}`,
      }),
      readOnly: false,
    });
    add({ ...systemColumn('exchangerate', 'decimal', 'Exchange Rate'), precision: 10 });
    for (const currency of currencies) {
      add({ ...systemColumn(`${currency.name}_base`, 'currency', `${currency.displayName ?? currency.name} (Base)`) });
    }
  }
  return columns;
}

/** What a write-only column (`validForRead: false`) and its `setIndicator` may not be. */
function writeOnlyProblems(prefix: string, t: RawTable, columns: ReadonlyMap<string, Column>, c: Column): string[] {
  const problems: string[] = [];
  const at = `${prefix}: column '${c.name}'`;
  if (c.setIndicator !== undefined) {
    const indicator = columns.get(c.setIndicator);
    if (c.validForRead) problems.push(`${at} has a setIndicator but is readable (validForRead is not false)`);
    if (indicator === undefined) problems.push(`${at}: setIndicator names unknown column '${c.setIndicator}'`);
    else if (indicator.type !== 'boolean' || !indicator.readOnly || !indicator.validForRead)
      problems.push(`${at}: setIndicator '${c.setIndicator}' must be a readable, readOnly boolean column`);
  }
  if (c.validForRead) return problems;
  if (c.readOnly) problems.push(`${at} can be neither read nor written (readOnly and validForRead false)`);
  if (isLookupType(c.type)) problems.push(`${at}: a lookup column cannot be write-only`);
  const primaryId = t.primaryIdAttribute ?? `${t.logicalName}id`;
  if (c.name === primaryId || c.name === t.primaryNameAttribute)
    problems.push(`${at}: the primary id and primary name columns cannot be write-only`);
  if (t.alternateKeys.some((k) => k.columns.includes(c.name)))
    problems.push(`${at}: a column of an alternate key cannot be write-only`);
  for (const other of columns.values()) {
    if (other.concatOf?.includes(c.name))
      problems.push(`${at}: column '${other.name}' cannot concatenate a write-only column`);
  }
  return problems;
}

/** Resolves raw tables into a schema; throws SchemaError listing every problem. */
export function resolve(raw: RawSchema, source: string): Schema {
  const problems: string[] = [];
  const tables = new Map<string, Table>();
  const byEntitySet = new Map<string, Table>();
  const resolvedColumns = new Map<string, Map<string, Column>>();

  for (const t of raw.tables) {
    if (resolvedColumns.has(t.logicalName)) {
      problems.push(`table '${t.logicalName}' is defined twice`);
      continue;
    }
    const ownership = t.ownership ?? 'UserOwned';
    const columns = new Map<string, Column>();
    const currencyNames = new Set(t.columns.filter((c) => c.type === 'currency').map((c) => c.name));
    for (const c of withSystemColumns(t, ownership)) {
      if (columns.has(c.name)) {
        problems.push(`table '${t.logicalName}': column '${c.name}' is defined twice`);
        continue;
      }
      const baseOf =
        c.name.endsWith('_base') && currencyNames.has(c.name.slice(0, -5)) ? c.name.slice(0, -5) : undefined;
      const system = [
        'createdon',
        'modifiedon',
        'createdby',
        'modifiedby',
        'versionnumber',
        'owninguser',
        'owningteam',
        'owningbusinessunit',
      ].includes(c.name);
      columns.set(c.name, makeColumn(c, { system, baseOf }));
    }
    // systemuser and team carry principal's key `ownerid`: the row's own id again (store.ts keeps it).
    if (t.baseType === 'principal' && !columns.has('ownerid')) {
      columns.set('ownerid', makeColumn(systemColumn('ownerid', 'uniqueidentifier', 'Owner')));
    }
    resolvedColumns.set(t.logicalName, columns);
  }

  const navigations = new Map<string, Map<string, Navigation>>();
  const principalNavigations: Navigation[] = [];
  const addNavigation = (table: string, navigation: Navigation): void => {
    if (table === 'principal') {
      if (!principalNavigations.some((n) => n.name === navigation.name)) principalNavigations.push(navigation);
      return;
    }
    const map = navigations.get(table) ?? new Map<string, Navigation>();
    navigations.set(table, map);
    const existing = map.get(navigation.name);
    if (existing !== undefined && !(existing.kind === 'single' && navigation.kind === 'single')) {
      problems.push(`table '${table}': navigation property '${navigation.name}' is defined twice`);
    }
    map.set(navigation.name, navigation);
  };

  for (const t of raw.tables) {
    const columns = resolvedColumns.get(t.logicalName);
    if (columns === undefined) continue;
    const prefix = `table '${t.logicalName}'`;
    const primaryId = t.primaryIdAttribute ?? `${t.logicalName}id`;
    const primary = columns.get(primaryId);
    if (primary === undefined || primary.type !== 'uniqueidentifier') {
      problems.push(`${prefix}: primary id column '${primaryId}' must be declared with type uniqueidentifier`);
    }
    if (t.primaryNameAttribute !== undefined && !columns.has(t.primaryNameAttribute)) {
      problems.push(`${prefix}: primaryNameAttribute '${t.primaryNameAttribute}' is not a column`);
    }
    for (const key of t.alternateKeys) {
      for (const c of key.columns) {
        if (!columns.has(c)) problems.push(`${prefix}: alternate key '${key.name}' names unknown column '${c}'`);
      }
    }
    for (const c of columns.values()) {
      for (const name of c.concatOf ?? []) {
        if (!columns.has(name)) problems.push(`${prefix}: column '${c.name}' concatenates unknown column '${name}'`);
      }
      problems.push(...writeOnlyProblems(prefix, t, columns, c));
      if (c.type === 'status') {
        const state = [...columns.values()].find((s) => s.type === 'state');
        if (state === undefined) problems.push(`${prefix}: status column '${c.name}' needs a state column`);
      }
      if (c.type === 'owner') {
        const first = c.targets?.[0];
        if (first !== undefined) {
          addNavigation(t.logicalName, {
            kind: 'single',
            name: first.navigation,
            column: c,
            target: 'principal',
            partner: first.partner,
          });
          addNavigation('principal', {
            kind: 'collection',
            name: first.partner,
            source: t.logicalName,
            column: c.name,
            partner: first.navigation,
          });
        }
        continue;
      }
      for (const target of c.targets ?? []) {
        if (!resolvedColumns.has(target.table)) {
          problems.push(`${prefix}: column '${c.name}' targets unknown table '${target.table}'`);
          continue;
        }
        addNavigation(t.logicalName, {
          kind: 'single',
          name: target.navigation,
          column: c,
          target: target.table,
          partner: target.partner,
        });
        addNavigation(target.table, {
          kind: 'collection',
          name: target.partner,
          source: t.logicalName,
          column: c.name,
          partner: target.navigation,
        });
      }
    }
  }
  for (const m of raw.manyToMany) {
    const [a, b] = m.tables;
    for (const name of m.tables) {
      if (!resolvedColumns.has(name)) problems.push(`many-to-many '${m.name}' names unknown table '${name}'`);
    }
    if (!resolvedColumns.has(a) || !resolvedColumns.has(b)) continue;
    addNavigation(a, { kind: 'manyToMany', name: m.name, target: b, intersect: m.intersect });
    if (a !== b) addNavigation(b, { kind: 'manyToMany', name: m.name, target: a, intersect: m.intersect });
  }
  for (const required of ['systemuser', 'team', 'businessunit', 'transactioncurrency']) {
    if (!resolvedColumns.has(required)) problems.push(`the schema must define the '${required}' table`);
  }

  for (const t of raw.tables) {
    const columns = resolvedColumns.get(t.logicalName);
    if (columns === undefined) continue;
    const entitySetName = t.entitySetName ?? pluralSet(t.logicalName);
    const table: Table = {
      logicalName: t.logicalName,
      entitySetName,
      displayName: t.displayName ?? t.logicalName,
      displayCollectionName: t.displayCollectionName ?? t.displayName ?? entitySetName,
      primaryIdAttribute: t.primaryIdAttribute ?? `${t.logicalName}id`,
      primaryNameAttribute: t.primaryNameAttribute,
      ownership: t.ownership ?? 'UserOwned',
      changeTracking: t.changeTracking ?? false,
      versionNumberInMetadata: t.versionNumberInMetadata ?? true,
      baseType: t.baseType,
      isActivity: false,
      isIntersect: false,
      alternateKeys: t.alternateKeys,
      columns,
      navigations: navigations.get(t.logicalName) ?? new Map(),
    };
    if (byEntitySet.has(entitySetName)) problems.push(`entity set '${entitySetName}' is used by two tables`);
    tables.set(t.logicalName, table);
    byEntitySet.set(entitySetName, table);
  }
  if (problems.length > 0) throw new SchemaError(source, problems);
  return { tables, byEntitySet, manyToMany: raw.manyToMany, principalNavigations };
}

export function readRaw(value: unknown, source: string): RawSchema {
  const reader = new Reader();
  const raw = reader.schema(value);
  if (reader.problems.length > 0) throw new SchemaError(source, reader.problems);
  return raw;
}

/** Builds a schema from a parsed schema file (the `--schema` format); throws SchemaError with every problem found. */
export function parseSchema(value: unknown, source = 'schema'): Schema {
  return resolve(readRaw(value, source), source);
}

/** The primary-key column first, then the rest in declaration order. */
export function columnList(table: Table): Column[] {
  return [...table.columns.values()];
}

export function isLookupType(type: ColumnType): boolean {
  return type === 'lookup' || type === 'customer' || type === 'owner';
}

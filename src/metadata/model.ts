/**
 * The metadata model every consumer shares: the language service, the explorer, the client and the
 * emulator (which generates `$metadata` from its schema and must load back through the same parser).
 * Names are as in CSDL; types are qualified (`Edm.String`, `Microsoft.Dynamics.CRM.account`).
 */

export interface MetadataModel {
  /** `Microsoft.Dynamics.CRM` for Dataverse. */
  readonly namespace: string;
  /** `mscrm` for Dataverse. */
  readonly alias: string | undefined;
  /** Keyed by the unqualified type name, e.g. `account`. */
  readonly entityTypes: ReadonlyMap<string, EntityType>;
  /** Keyed by the entity set name, e.g. `accounts`. */
  readonly entitySets: ReadonlyMap<string, EntitySet>;
  readonly complexTypes: ReadonlyMap<string, ComplexType>;
  readonly enumTypes: ReadonlyMap<string, EnumType>;
  /** Actions and functions, keyed by unqualified name; a name may have several overloads. */
  readonly operations: ReadonlyMap<string, readonly Operation[]>;
}

export interface EntityType {
  readonly name: string;
  /** Qualified name of the base type, e.g. `mscrm.crmbaseentity`, when there is one. */
  readonly baseType: string | undefined;
  readonly abstract: boolean;
  readonly openType: boolean;
  /** Names of the key properties declared on this type (inherited keys are resolved by helpers). */
  readonly key: readonly string[];
  /**
   * Alternate keys, in one list whatever said them: `$metadata`'s `Keys.AlternateKeys` annotation
   * (always there, columns only), replaced by EntityDefinitions `Keys` once the table's definition
   * was read (`enrichModel`), which is fresher (fetched on first use, `$metadata` is cached up to a
   * day) and names each key with its index status. Empty when the metadata says the type has none;
   * absent when it does not say (a document without the Keys vocabulary).
   */
  readonly alternateKeys?: readonly AlternateKey[];
  readonly properties: readonly Property[];
  readonly navigationProperties: readonly NavigationProperty[];
  /** Display name, description and option sets, when EntityDefinitions enrichment has run. */
  readonly info?: EntityInfo;
}

export interface Property {
  readonly name: string;
  /** `Edm.String`, `Edm.Int32`, `Edm.Decimal`, `Edm.Guid`, `Edm.DateTimeOffset`, ... */
  readonly type: string;
  readonly nullable: boolean;
  readonly maxLength?: number;
  readonly precision?: number;
  readonly scale?: number;
  readonly info?: AttributeInfo;
}

export interface ReferentialConstraint {
  /** The property on this type, e.g. `_parentaccountid_value`. */
  readonly property: string;
  /** The property on the target type, e.g. `accountid`. */
  readonly referencedProperty: string;
}

export interface NavigationProperty {
  readonly name: string;
  /** Qualified target type, without `Collection(...)`. */
  readonly type: string;
  readonly collection: boolean;
  readonly nullable: boolean;
  readonly partner: string | undefined;
  readonly referentialConstraints: readonly ReferentialConstraint[];
}

export interface EntitySet {
  readonly name: string;
  /** Qualified entity type, e.g. `Microsoft.Dynamics.CRM.account`. */
  readonly entityType: string;
}

export interface ComplexType {
  readonly name: string;
  readonly baseType: string | undefined;
  readonly properties: readonly Property[];
  /** Present only when there are some: Dataverse's action responses (e.g. `AnalyzeSentimentResponse`) hold entities. */
  readonly navigationProperties?: readonly NavigationProperty[];
}

export interface EnumType {
  readonly name: string;
  readonly isFlags: boolean;
  readonly members: readonly { readonly name: string; readonly value: number }[];
}

export interface Parameter {
  readonly name: string;
  readonly type: string;
  readonly nullable: boolean;
}

export interface Operation {
  readonly name: string;
  readonly kind: 'action' | 'function';
  readonly bound: boolean;
  readonly composable: boolean;
  /** For bound operations the first parameter is the binding parameter. */
  readonly parameters: readonly Parameter[];
  readonly returnType: string | undefined;
}

/** From EntityDefinitions: what CSDL does not say. */
export interface EntityInfo {
  readonly logicalName: string;
  readonly displayName: string | undefined;
  readonly description: string | undefined;
  readonly primaryIdAttribute: string | undefined;
  readonly primaryNameAttribute: string | undefined;
  readonly isCustomEntity: boolean;
}

/**
 * One alternate key: a record is addressed by these columns' values, `accounts(accountnumber='A-1')`
 * ("Use an alternate key to reference a record",
 * https://learn.microsoft.com/power-apps/developer/data-platform/use-alternate-key-reference-record).
 */
export interface AlternateKey {
  /** The properties as URLs name them: a lookup column is `_x_value`, as in `$metadata`. */
  readonly columns: readonly string[];
  /** EntityKeyMetadata `LogicalName`; `$metadata` names no key. */
  readonly name?: string;
  /**
   * EntityKeyMetadata `EntityKeyIndexStatus`: only an `Active` key addresses records (`Pending`,
   * `InProgress`, `Failed` do not yet); unknown when only `$metadata` listed the key.
   */
  readonly status?: string;
}

export interface OptionValue {
  readonly value: number;
  readonly label: string;
  /** A status reason's state (StatusOptionMetadata `State`): the `statecode` value it belongs to. */
  readonly state?: number;
}

export interface AttributeInfo {
  readonly logicalName: string;
  /** `String`, `Picklist`, `Lookup`, `Money`, ... (Dataverse's AttributeType). */
  readonly attributeType: string;
  readonly displayName: string | undefined;
  readonly description: string | undefined;
  readonly requiredLevel: 'None' | 'SystemRequired' | 'ApplicationRequired' | 'Recommended' | undefined;
  readonly options: readonly OptionValue[] | undefined;
  /** For lookups: the tables the lookup may point to. */
  readonly targets: readonly string[] | undefined;
}

import type {
  AlternateKey,
  ComplexType,
  EntitySet,
  EntityType,
  EnumType,
  MetadataModel,
  NavigationProperty,
  Property,
} from './model';

/** The two rows `editDistance` works in, reused: suggestions measure hundreds of names per diagnostic. */
let previousRow = new Int32Array(64);
let currentRow = new Int32Array(64);

/**
 * Levenshtein distance, giving up (returning `max + 1`) once the distance must exceed `max`: the
 * suggestions scan every name of a large model on each diagnostic, and almost all are far off.
 */
export function editDistance(a: string, b: string, max = Number.POSITIVE_INFINITY): number {
  if (Math.abs(a.length - b.length) > max) return max + 1;
  if (previousRow.length <= b.length) {
    previousRow = new Int32Array(2 * (b.length + 1));
    currentRow = new Int32Array(2 * (b.length + 1));
  }
  let previous = previousRow;
  let current = currentRow;
  for (let j = 0; j <= b.length; j++) previous[j] = j;
  for (let i = 1; i <= a.length; i++) {
    current[0] = i;
    let rowMin = i;
    const code = a.charCodeAt(i - 1);
    for (let j = 1; j <= b.length; j++) {
      const cost = code === b.charCodeAt(j - 1) ? 0 : 1;
      const value = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + cost);
      current[j] = value;
      if (value < rowMin) rowMin = value;
    }
    if (rowMin > max) return max + 1;
    [previous, current] = [current, previous];
  }
  return previous[b.length]!;
}

/** Names to suggest from, each with its lower-case form: made once for a list asked often (a table's columns). */
export interface SuggestionNames {
  readonly names: readonly string[];
  readonly lower: readonly string[];
}

export function suggestionNames(names: Iterable<string>): SuggestionNames {
  const list = [...names];
  return { names: list, lower: list.map((name) => name.toLowerCase()) };
}

/**
 * The candidates closest to `name` (case-insensitively), best first, within a distance that grows
 * with the name's length (a third of it, at least 1, at most 3) so short names get no wild guesses.
 * Candidates that contain the name or start like it (`parentacc` → `parentaccountid`) count too.
 */
export function didYouMean(name: string, candidates: Iterable<string> | SuggestionNames, limit = 3): string[] {
  const { names, lower } = isSuggestionNames(candidates) ? candidates : suggestionNames(candidates);
  const wanted = name.toLowerCase();
  const max = Math.min(3, Math.max(1, Math.floor(wanted.length / 3)));
  const scored: { candidate: string; score: number }[] = [];
  for (let i = 0; i < names.length; i++) {
    const candidate = lower[i]!;
    if (candidate === wanted) continue;
    let score = editDistance(wanted, candidate, max);
    if (score > max && wanted.length >= 4 && candidate.includes(wanted)) score = max + 0.5;
    if (score <= max + 0.5) scored.push({ candidate: names[i]!, score });
  }
  scored.sort(
    (x, y) => x.score - y.score || x.candidate.length - y.candidate.length || (x.candidate < y.candidate ? -1 : 1),
  );
  return scored.slice(0, limit).map((entry) => entry.candidate);
}

function isSuggestionNames(candidates: Iterable<string> | SuggestionNames): candidates is SuggestionNames {
  return 'lower' in candidates && 'names' in candidates;
}

/** A case-insensitive search: the exact-case match when there is one, otherwise suggestions. */
export interface FindResult<T> {
  readonly match: T | undefined;
  /** Set when `match` was found only by ignoring case: the right spelling to show. */
  readonly caseMismatch: boolean;
  readonly suggestions: readonly string[];
}

export interface NavigationTarget {
  readonly navigation: NavigationProperty;
  readonly entityType: EntityType | undefined;
  /** The entity set of the target type, for building URLs and `@odata.bind` values. */
  readonly entitySet: EntitySet | undefined;
}

/** Names accepted wherever a type is named: `account`, `mscrm.account`, `Microsoft.Dynamics.CRM.account`. */
export type TypeName = string;

/**
 * Query helpers over one model, with the indexes they need built once. Create one per loaded model
 * (the language server keeps it beside the model) rather than per request.
 */
export class MetadataIndex {
  readonly model: MetadataModel;
  private readonly setsByType = new Map<string, EntitySet[]>();
  private readonly entityTypesLower = new Map<string, EntityType>();
  private readonly entitySetsLower = new Map<string, EntitySet>();
  private readonly memberCache = new Map<EntityType, Members>();

  constructor(model: MetadataModel) {
    this.model = model;
    for (const set of model.entitySets.values()) {
      const typeName = this.localName(set.entityType);
      if (typeName === undefined) continue;
      const sets = this.setsByType.get(typeName);
      if (sets) sets.push(set);
      else this.setsByType.set(typeName, [set]);
    }
    for (const type of model.entityTypes.values()) this.entityTypesLower.set(type.name.toLowerCase(), type);
    for (const set of model.entitySets.values()) this.entitySetsLower.set(set.name.toLowerCase(), set);
  }

  /**
   * The unqualified name for a name qualified by the model's namespace or alias, or given bare;
   * `undefined` for other namespaces (`Edm.String`) and for `Collection(...)`.
   */
  localName(name: TypeName): string | undefined {
    const dot = name.lastIndexOf('.');
    if (dot === -1) return name.includes('(') ? undefined : name;
    const prefix = name.slice(0, dot);
    if (prefix === this.model.namespace || (this.model.alias !== undefined && prefix === this.model.alias)) {
      return name.slice(dot + 1);
    }
    return undefined;
  }

  /** `Microsoft.Dynamics.CRM.account` for `account` or `mscrm.account`. */
  qualifiedName(name: TypeName): string {
    const local = this.localName(name);
    return local === undefined ? name : `${this.model.namespace}.${local}`;
  }

  entityType(name: TypeName): EntityType | undefined {
    const local = this.localName(name);
    return local === undefined ? undefined : this.model.entityTypes.get(local);
  }

  complexType(name: TypeName): ComplexType | undefined {
    const local = this.localName(name);
    return local === undefined ? undefined : this.model.complexTypes.get(local);
  }

  enumType(name: TypeName): EnumType | undefined {
    const local = this.localName(name);
    return local === undefined ? undefined : this.model.enumTypes.get(local);
  }

  /** The type, then its base type, and so on up to the root; stops at a missing type or a cycle. */
  typeChain(type: EntityType | TypeName): EntityType[] {
    const chain: EntityType[] = [];
    let current = typeof type === 'string' ? this.entityType(type) : type;
    while (current && !chain.includes(current)) {
      chain.push(current);
      current = current.baseType === undefined ? undefined : this.entityType(current.baseType);
    }
    return chain;
  }

  /** True when `type` is `ancestor` or derives from it. */
  isDerivedFrom(type: EntityType | TypeName, ancestor: TypeName): boolean {
    const target = this.entityType(ancestor);
    return target !== undefined && this.typeChain(type).includes(target);
  }

  /** Structural properties, inherited ones first; a redeclared name keeps the most derived one. */
  properties(type: EntityType | TypeName): readonly Property[] {
    return this.members(type)?.properties ?? [];
  }

  navigationProperties(type: EntityType | TypeName): readonly NavigationProperty[] {
    return this.members(type)?.navigation ?? [];
  }

  property(type: EntityType | TypeName, name: string): Property | undefined {
    return this.members(type)?.propertyByName.get(name);
  }

  navigationProperty(type: EntityType | TypeName, name: string): NavigationProperty | undefined {
    return this.members(type)?.navigationByName.get(name);
  }

  /** The key declared on the nearest type of the chain: `activityid` for `task`. */
  key(type: EntityType | TypeName): readonly string[] {
    for (const current of this.typeChain(type)) if (current.key.length > 0) return current.key;
    return [];
  }

  /**
   * The alternate keys of a type (each the properties that together identify a row), from the
   * nearest type of the chain that says; `undefined` when the metadata does not say, which is not
   * the same as none (`[]`). The language and describe_table both read them here: `$metadata`'s,
   * or EntityDefinitions' once the table's definition was read (see `EntityType.alternateKeys`).
   */
  alternateKeys(type: EntityType | TypeName): readonly AlternateKey[] | undefined {
    for (const current of this.typeChain(type)) {
      if (current.alternateKeys && current.alternateKeys.length > 0) return current.alternateKeys;
    }
    const own = typeof type === 'string' ? this.entityType(type) : type;
    return own?.alternateKeys;
  }

  entitySet(name: string): EntitySet | undefined {
    return this.model.entitySets.get(name);
  }

  /** The entity set whose entity type is exactly `type` (Dataverse has one per table). */
  entitySetOf(type: EntityType | TypeName): EntitySet | undefined {
    const local = typeof type === 'string' ? this.localName(type) : type.name;
    return local === undefined ? undefined : this.setsByType.get(local)?.[0];
  }

  entityTypeOfSet(set: EntitySet | string): EntityType | undefined {
    const entitySet = typeof set === 'string' ? this.entitySet(set) : set;
    return entitySet === undefined ? undefined : this.entityType(entitySet.entityType);
  }

  navigationTarget(type: EntityType | TypeName, navigationName: string): NavigationTarget | undefined {
    const navigation = this.navigationProperty(type, navigationName);
    if (!navigation) return undefined;
    const entityType = this.entityType(navigation.type);
    return { navigation, entityType, entitySet: entityType && this.entitySetOf(entityType) };
  }

  /**
   * The single-valued navigation properties a lookup property (`_parentaccountid_value`) stands for,
   * found through their referential constraints. Several for a multi-table lookup
   * (`_customerid_value` → `customerid_account`, `customerid_contact`).
   */
  navigationForLookup(type: EntityType | TypeName, lookupProperty: string): readonly NavigationProperty[] {
    return this.members(type)?.navigationByLookup.get(lookupProperty) ?? [];
  }

  /** The lookup property (`_parentaccountid_value`) behind a single-valued navigation property. */
  lookupPropertyFor(type: EntityType | TypeName, navigationName: string): string | undefined {
    const navigation = this.navigationProperty(type, navigationName);
    return navigation?.collection ? undefined : navigation?.referentialConstraints[0]?.property;
  }

  findEntityType(name: string): FindResult<EntityType> {
    const local = this.localName(name) ?? name;
    return this.find(local, this.model.entityTypes, this.entityTypesLower);
  }

  findEntitySet(name: string): FindResult<EntitySet> {
    return this.find(name, this.model.entitySets, this.entitySetsLower);
  }

  findProperty(type: EntityType | TypeName, name: string): FindResult<Property> {
    const members = this.members(type);
    if (members === undefined) return findMember(name, NO_NAMES, [], []);
    return findMember(name, members.propertyNames, [members.propertyByName], [members.propertyByLowerName]);
  }

  findNavigationProperty(type: EntityType | TypeName, name: string): FindResult<NavigationProperty> {
    const members = this.members(type);
    if (members === undefined) return findMember(name, NO_NAMES, [], []);
    return findMember(name, members.navigationNames, [members.navigationByName], [members.navigationByLowerName]);
  }

  /** Structural or navigation property, as `$select`/`$expand`/`$filter` paths may name either. */
  findMemberOf(type: EntityType | TypeName, name: string): FindResult<Property | NavigationProperty> {
    const members = this.members(type);
    if (members === undefined) return findMember(name, NO_NAMES, [], []);
    return findMember<Property | NavigationProperty>(
      name,
      members.memberNames,
      [members.propertyByName, members.navigationByName],
      [members.propertyByLowerName, members.navigationByLowerName],
    );
  }

  private find<T>(name: string, exact: ReadonlyMap<string, T>, lower: ReadonlyMap<string, T>): FindResult<T> {
    const match = exact.get(name);
    if (match !== undefined) return { match, caseMismatch: false, suggestions: [] };
    const folded = lower.get(name.toLowerCase());
    if (folded !== undefined) return { match: folded, caseMismatch: true, suggestions: [] };
    return { match: undefined, caseMismatch: false, suggestions: didYouMean(name, exact.keys()) };
  }

  private members(type: EntityType | TypeName): Members | undefined {
    // Looked up before the type chain is walked: the language asks this several times per name it checks.
    const head = typeof type === 'string' ? this.entityType(type) : type;
    if (head === undefined) return undefined;
    const cached = this.memberCache.get(head);
    if (cached !== undefined) return cached;
    const chain = this.typeChain(head);
    const propertyByName = new Map<string, Property>();
    const navigationByName = new Map<string, NavigationProperty>();
    for (const current of [...chain].reverse()) {
      for (const property of current.properties) propertyByName.set(property.name, property);
      for (const navigation of current.navigationProperties) navigationByName.set(navigation.name, navigation);
    }
    // Grouped once per type: describing a table asks this for each of its hundreds of columns.
    const navigationByLookup = new Map<string, NavigationProperty[]>();
    for (const navigation of navigationByName.values()) {
      if (navigation.collection) continue;
      for (const { property } of navigation.referentialConstraints) {
        const list = navigationByLookup.get(property);
        if (list === undefined) navigationByLookup.set(property, [navigation]);
        else if (!list.includes(navigation)) list.push(navigation);
      }
    }
    const properties = [...propertyByName.values()];
    const navigation = [...navigationByName.values()];
    const members: Members = {
      properties,
      navigation,
      // Names for suggestions, listed once per type: a lookup copied every member of the type before.
      propertyNames: suggestionNames(properties.map((p) => p.name)),
      navigationNames: suggestionNames(navigation.map((n) => n.name)),
      memberNames: suggestionNames([...properties, ...navigation].map((m) => m.name)),
      propertyByName,
      navigationByName,
      propertyByLowerName: byLowerName(propertyByName.values()),
      navigationByLowerName: byLowerName(navigationByName.values()),
      navigationByLookup,
    };
    // Only types of this model are cached: a caller may pass an EntityType that is not (an enriched copy).
    if (this.model.entityTypes.get(head.name) === head) this.memberCache.set(head, members);
    return members;
  }
}

const NO_NAMES = suggestionNames([]);

/** The first member of each case-folded name, in declaration order. */
function byLowerName<T extends { readonly name: string }>(members: Iterable<T>): Map<string, T> {
  const result = new Map<string, T>();
  for (const member of members) {
    const lower = member.name.toLowerCase();
    if (!result.has(lower)) result.set(lower, member);
  }
  return result;
}

/**
 * The exact-case member, else the case-folded one, else did-you-mean suggestions from every member
 * name; the maps are asked in order, so a column wins over a navigation property of the same name.
 */
function findMember<T extends { readonly name: string }>(
  name: string,
  names: SuggestionNames,
  exact: readonly ReadonlyMap<string, T>[],
  folded: readonly ReadonlyMap<string, T>[],
): FindResult<T> {
  for (const map of exact) {
    const match = map.get(name);
    if (match !== undefined) return { match, caseMismatch: false, suggestions: [] };
  }
  const lower = name.toLowerCase();
  for (const map of folded) {
    const match = map.get(lower);
    if (match !== undefined) return { match, caseMismatch: true, suggestions: [] };
  }
  return { match: undefined, caseMismatch: false, suggestions: didYouMean(name, names) };
}

interface Members {
  readonly properties: readonly Property[];
  readonly navigation: readonly NavigationProperty[];
  readonly propertyNames: SuggestionNames;
  readonly navigationNames: SuggestionNames;
  readonly memberNames: SuggestionNames;
  readonly propertyByName: ReadonlyMap<string, Property>;
  readonly navigationByName: ReadonlyMap<string, NavigationProperty>;
  readonly propertyByLowerName: ReadonlyMap<string, Property>;
  readonly navigationByLowerName: ReadonlyMap<string, NavigationProperty>;
  /** Single-valued navigations by the lookup property (`_parentaccountid_value`) of their constraints. */
  readonly navigationByLookup: ReadonlyMap<string, readonly NavigationProperty[]>;
}

import { WorkbenchError } from '../core/errors';
import { isJsonObject } from '../core/json';
import type {
  AlternateKey,
  AttributeInfo,
  ComplexType,
  EntityInfo,
  EntitySet,
  EntityType,
  EnumType,
  MetadataModel,
  NavigationProperty,
  Operation,
  OptionValue,
  Parameter,
  Property,
  ReferentialConstraint,
} from './model';

/**
 * The disk cache of a parsed (and possibly enriched) model. Records are positional arrays, with
 * trailing absent fields dropped, because the cache of a real org is dominated by 45,000 small
 * property and navigation records whose key names would otherwise be most of the text.
 *
 * The text is a header line (JSON: names, keys, entity sets and enum types, with the length of each
 * lazy record) followed by the lazy records back to back, one JSON array each: the members of each
 * entity type, then of each complex type, then the details of each operation. Loading reads the
 * header only; a lazy record is decoded on first use, because decoding all 45,000 members took most
 * of a reload, and parsing the complex types and operations (a third of a megabyte) most of the
 * rest, while a session uses a few dozen tables and fewer operations.
 * A type name in the header (an entity set's type, an entity type's base type) that names a listed
 * entity type is written as its index `i` (namespace-qualified) or `-1 - i` (alias-qualified): the
 * repeated `Microsoft.Dynamics.CRM.` prefixes were a third of the header.
 * Bump `CACHE_VERSION` whenever a record layout changes: an old cache is then refused, not misread.
 */
export const CACHE_FORMAT = 'dvw-metadata-cache';
export const CACHE_VERSION = 6;

type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

/** Drops trailing `null`s so absent optional fields cost nothing. */
function record(...fields: Json[]): Json[] {
  let end = fields.length;
  while (end > 0 && fields[end - 1] === null) end--;
  return end === fields.length ? fields : fields.slice(0, end);
}

const opt = <T extends Json>(value: T | undefined): T | null => (value === undefined ? null : value);

function encodeProperty(p: Property): Json {
  return record(
    p.name,
    p.type,
    p.nullable ? 1 : 0,
    opt(p.maxLength),
    opt(p.precision),
    opt(p.scale),
    p.info ? encodeAttributeInfo(p.info) : null,
  );
}

function encodeAttributeInfo(a: AttributeInfo): Json {
  return record(
    a.logicalName,
    a.attributeType,
    opt(a.displayName),
    opt(a.description),
    opt(a.requiredLevel),
    a.options ? a.options.map((o) => record(o.value, o.label, opt(o.state))) : null,
    a.targets ? [...a.targets] : null,
  );
}

function encodeNavigation(n: NavigationProperty): Json {
  return record(
    n.name,
    n.type,
    (n.collection ? 1 : 0) | (n.nullable ? 2 : 0),
    opt(n.partner),
    n.referentialConstraints.length > 0
      ? n.referentialConstraints.map((c) => [c.property, c.referencedProperty])
      : null,
  );
}

function encodeEntityInfo(i: EntityInfo): Json {
  return [
    i.logicalName,
    opt(i.displayName),
    opt(i.description),
    opt(i.primaryIdAttribute),
    opt(i.primaryNameAttribute),
    i.isCustomEntity ? 1 : 0,
  ];
}

/** Writes qualified names of listed entity types as indexes; see the comment on the format. */
function typeReferences(model: MetadataModel): (name: string | undefined) => Json {
  const indexes = new Map<string, number>();
  let index = 0;
  for (const t of model.entityTypes.values()) {
    if (model.alias !== undefined) indexes.set(`${model.alias}.${t.name}`, -1 - index);
    // The namespace wins when the alias equals it; both decode to the same text.
    indexes.set(`${model.namespace}.${t.name}`, index);
    index++;
  }
  return (name) => (name === undefined ? null : (indexes.get(name) ?? name));
}

export function serializeModel(model: MetadataModel): string {
  const reference = typeReferences(model);
  const members: string[] = [];
  // A lazy record goes to the body; the header keeps its length, to find it without parsing.
  const lazy = (value: Json): number => {
    const text = JSON.stringify(value);
    members.push(text);
    return text.length;
  };
  // [name, flags, members length, base type, ...key, info if flag 4, alternate keys if flag 8].
  const entityTypes = [...model.entityTypes.values()].map((t) => {
    const fields: Json[] = [
      t.name,
      (t.abstract ? 1 : 0) | (t.openType ? 2 : 0) | (t.info ? 4 : 0) | (t.alternateKeys ? 8 : 0),
      lazy([t.properties.map(encodeProperty), t.navigationProperties.map(encodeNavigation)]),
      reference(t.baseType),
      ...t.key,
    ];
    if (t.info) fields.push(encodeEntityInfo(t.info));
    if (t.alternateKeys) fields.push(t.alternateKeys.map((k) => record([...k.columns], opt(k.name), opt(k.status))));
    return fields;
  });
  const complexTypes = [...model.complexTypes.values()].map((c) =>
    record(
      c.name,
      opt(c.baseType),
      c.navigationProperties ? 1 : 0,
      lazy([
        c.properties.map(encodeProperty),
        c.navigationProperties ? c.navigationProperties.map(encodeNavigation) : [],
      ]),
    ),
  );
  const operations: Json[] = [];
  for (const overloads of model.operations.values()) {
    for (const o of overloads) {
      operations.push([
        o.name,
        lazy(
          record(
            o.kind === 'action' ? 'a' : 'f',
            (o.bound ? 1 : 0) | (o.composable ? 2 : 0),
            o.parameters.map((p) => [p.name, p.type, p.nullable ? 1 : 0]),
            opt(o.returnType),
          ),
        ),
      ]);
    }
  }
  const document: Json = {
    format: CACHE_FORMAT,
    version: CACHE_VERSION,
    namespace: model.namespace,
    alias: opt(model.alias),
    entityTypes,
    entitySets: [...model.entitySets.values()].map((s) => [s.name, reference(s.entityType)]),
    complexTypes,
    enumTypes: [...model.enumTypes.values()].map((e) => [
      e.name,
      e.isFlags ? 1 : 0,
      e.members.map((m) => [m.name, m.value]),
    ]),
    operations,
  };
  // JSON.stringify escapes line breaks inside strings, so the first one ends the header.
  return `${JSON.stringify(document)}\n${members.join('')}`;
}

/** Why a cache was refused: `version` means rebuild it quietly, `corrupt` is worth a log line. */
export type CacheProblem = 'version' | 'corrupt';

export type DeserializeResult =
  | { readonly ok: true; readonly model: MetadataModel }
  | { readonly ok: false; readonly problem: CacheProblem; readonly message: string };

class CorruptCache extends Error {}

// Field names are constant strings, not paths built per field: building a path string for each of
// the cache's ~400,000 fields cost more than the decoding itself. `decodeEach` adds where.
function fail(field: string, expected: string): never {
  throw new CorruptCache(`${field} should be ${expected}`);
}

function array(value: unknown, field: string): unknown[] {
  return Array.isArray(value) ? (value as unknown[]) : fail(field, 'an array');
}

function str(value: unknown, field: string): string {
  return typeof value === 'string' ? value : fail(field, 'a string');
}

function optStr(value: unknown, field: string): string | undefined {
  return value === undefined || value === null ? undefined : str(value, field);
}

function int(value: unknown, field: string): number {
  return typeof value === 'number' && Number.isSafeInteger(value) ? value : fail(field, 'an integer');
}

function optInt(value: unknown, field: string): number | undefined {
  return value === undefined || value === null ? undefined : int(value, field);
}

function bits(value: unknown, field: string, max: number): number {
  const n = int(value, field);
  return n >= 0 && n <= max ? n : fail(field, `an integer from 0 to ${max}`);
}

function present(value: unknown): boolean {
  return value !== undefined && value !== null;
}

function decodeProperty(value: unknown): Property {
  const r = array(value, 'a property');
  const property: { -readonly [K in keyof Property]: Property[K] } = {
    name: str(r[0], 'a property name'),
    type: str(r[1], 'a property type'),
    nullable: bits(r[2], 'a property nullable flag', 1) === 1,
  };
  const maxLength = optInt(r[3], 'a MaxLength');
  const precision = optInt(r[4], 'a Precision');
  const scale = optInt(r[5], 'a Scale');
  if (maxLength !== undefined) property.maxLength = maxLength;
  if (precision !== undefined) property.precision = precision;
  if (scale !== undefined) property.scale = scale;
  if (present(r[6])) property.info = decodeAttributeInfo(r[6]);
  return property;
}

const REQUIRED_LEVELS = ['None', 'SystemRequired', 'ApplicationRequired', 'Recommended'] as const;

function decodeOption(value: unknown): OptionValue {
  const r = array(value, 'an option');
  return {
    value: int(r[0], 'an option value'),
    label: str(r[1], 'an option label'),
    ...(present(r[2]) ? { state: int(r[2], 'an option state') } : {}),
  };
}

function decodeAttributeInfo(value: unknown): AttributeInfo {
  const r = array(value, 'attribute info');
  const level = optStr(r[4], 'a required level');
  const requiredLevel = REQUIRED_LEVELS.find((known) => known === level);
  if (level !== undefined && requiredLevel === undefined) fail('a required level', 'None, SystemRequired, ...');
  return {
    logicalName: str(r[0], 'an attribute logical name'),
    attributeType: str(r[1], 'an attribute type'),
    displayName: optStr(r[2], 'an attribute display name'),
    description: optStr(r[3], 'an attribute description'),
    requiredLevel,
    options: present(r[5]) ? array(r[5], 'options').map(decodeOption) : undefined,
    targets: present(r[6]) ? array(r[6], 'lookup targets').map((t) => str(t, 'a lookup target')) : undefined,
  };
}

function decodeConstraint(value: unknown): ReferentialConstraint {
  const pair = array(value, 'a referential constraint');
  return {
    property: str(pair[0], 'a constraint property'),
    referencedProperty: str(pair[1], 'a constraint referenced property'),
  };
}

function decodeNavigation(value: unknown): NavigationProperty {
  const r = array(value, 'a navigation property');
  const flags = bits(r[2], 'navigation flags', 3);
  return {
    name: str(r[0], 'a navigation property name'),
    type: str(r[1], 'a navigation property type'),
    collection: (flags & 1) !== 0,
    nullable: (flags & 2) !== 0,
    partner: optStr(r[3], 'a partner'),
    referentialConstraints: present(r[4]) ? array(r[4], 'referential constraints').map(decodeConstraint) : [],
  };
}

function decodeEntityInfo(value: unknown): EntityInfo {
  const r = array(value, 'entity info');
  return {
    logicalName: str(r[0], 'an entity logical name'),
    displayName: optStr(r[1], 'an entity display name'),
    description: optStr(r[2], 'an entity description'),
    primaryIdAttribute: optStr(r[3], 'a primary id attribute'),
    primaryNameAttribute: optStr(r[4], 'a primary name attribute'),
    isCustomEntity: bits(r[5], 'a custom entity flag', 1) === 1,
  };
}

function decodeAlternateKey(value: unknown): AlternateKey {
  const r = array(value, 'an alternate key');
  const name = optStr(r[1], 'an alternate key name');
  const status = optStr(r[2], 'an alternate key status');
  return {
    columns: array(r[0], 'alternate key columns').map((c) => str(c, 'an alternate key column')),
    ...(name === undefined ? {} : { name }),
    ...(status === undefined ? {} : { status }),
  };
}

type Members = readonly [readonly Property[], readonly NavigationProperty[]];

function decodeMembers(value: unknown): Members {
  const r = array(value, 'the members');
  return [array(r[0], 'properties').map(decodeProperty), array(r[1], 'navigation properties').map(decodeNavigation)];
}

/** The lazy records after the header line, claimed in the order the header lists them. */
class Body {
  private offset = 0;

  constructor(private readonly text: string) {}

  /**
   * Claims the next `length` characters as one lazy record, decoded by `decode` on first use. Each
   * record is one JSON array, so a wrong length or a truncated file shows here, at load. A record
   * corrupt inside can only be found when decoded: that throws a WorkbenchError naming the record.
   */
  lazy<T>(length: number, field: string, where: RecordName, decode: (value: unknown) => T): () => T {
    const text = this.text;
    const start = this.offset;
    const end = start + length;
    if (length < 2 || end > text.length || text.charCodeAt(start) !== 0x5b || text.charCodeAt(end - 1) !== 0x5d) {
      fail(field, 'the length of the record in the file');
    }
    this.offset = end;
    let decoded: { readonly value: T } | undefined;
    return () => {
      if (decoded) return decoded.value;
      try {
        let value: unknown;
        try {
          value = JSON.parse(text.slice(start, end));
        } catch {
          fail('the record', 'valid JSON');
        }
        decoded = { value: decode(value) };
      } catch (error: unknown) {
        if (error instanceof CorruptCache) {
          throw new WorkbenchError(
            'invalidInput',
            `The metadata cache is corrupt: ${where.list}[${where.index}] (${where.name}): ${error.message}.`,
          );
        }
        throw error;
      }
      return decoded.value;
    };
  }

  /** Whether the lazy records end where the text does. */
  get filled(): boolean {
    return this.offset === this.text.length;
  }
}

interface RecordName {
  readonly list: string;
  readonly index: number;
  readonly name: string;
}

/**
 * An entity type whose members are decoded on first use. They are own enumerable getters, so
 * spreading, `JSON.stringify` and deep equality see a plain entity type.
 */
function decodeEntityType(r: unknown[], name: string, index: number, body: Body, types: TypeNames): EntityType {
  const flags = bits(r[1], 'entity type flags', 15);
  const load = body.lazy(
    int(r[2], 'a members length'),
    'the members length',
    { list: 'entityTypes', index, name },
    decodeMembers,
  );
  const base = r[3];
  const baseType = base === null || base === undefined ? undefined : types.resolve(base, 'a base type');
  const hasInfo = (flags & 4) !== 0;
  const hasAlternateKeys = (flags & 8) !== 0;
  const keyEnd = r.length - (hasInfo ? 1 : 0) - (hasAlternateKeys ? 1 : 0);
  const key: string[] = [];
  for (let k = 4; k < keyEnd; k++) key.push(str(r[k], 'a key property'));
  const type: { -readonly [K in keyof EntityType]: EntityType[K] } = {
    name,
    baseType,
    abstract: (flags & 1) !== 0,
    openType: (flags & 2) !== 0,
    key,
    get properties() {
      return load()[0];
    },
    get navigationProperties() {
      return load()[1];
    },
  };
  if (hasInfo) type.info = decodeEntityInfo(keyEnd < 4 ? undefined : r[keyEnd]);
  if (hasAlternateKeys) type.alternateKeys = decodeAlternateKeys(r[r.length - 1]);
  return type;
}

function decodeAlternateKeys(value: unknown): AlternateKey[] {
  return array(value, 'alternate keys').map(decodeAlternateKey);
}

/** A complex type whose members are decoded on first use, as an entity type's are. */
function decodeComplexType(value: unknown, index: number, body: Body): ComplexType {
  const r = array(value, 'a complex type');
  const name = str(r[0], 'a complex type name');
  const hasNavigation = bits(r[2], 'a complex navigation flag', 1) === 1;
  const load = body.lazy(
    int(r[3], 'a members length'),
    'the members length',
    { list: 'complexTypes', index, name },
    decodeMembers,
  );
  const type: { -readonly [K in keyof ComplexType]: ComplexType[K] } = {
    name,
    baseType: optStr(r[1], 'a base type'),
    get properties() {
      return load()[0];
    },
  };
  // Only a type that had navigation properties gets the key, so deep equality holds.
  if (hasNavigation) {
    Object.defineProperty(type, 'navigationProperties', {
      get: () => load()[1],
      enumerable: true,
      configurable: true,
    });
  }
  return type;
}

function decodeEnumType(value: unknown): EnumType {
  const r = array(value, 'an enum type');
  return {
    name: str(r[0], 'an enum type name'),
    isFlags: bits(r[1], 'an IsFlags flag', 1) === 1,
    members: array(r[2], 'members').map((m) => {
      const pair = array(m, 'a member');
      return { name: str(pair[0], 'a member name'), value: int(pair[1], 'a member value') };
    }),
  };
}

function decodeParameter(value: unknown): Parameter {
  const r = array(value, 'a parameter');
  return {
    name: str(r[0], 'a parameter name'),
    type: str(r[1], 'a parameter type'),
    nullable: bits(r[2], 'a parameter nullable flag', 1) === 1,
  };
}

type OperationDetails = Omit<Operation, 'name'>;

function decodeOperationDetails(value: unknown): OperationDetails {
  const r = array(value, 'operation details');
  const kind = str(r[0], 'an operation kind');
  if (kind !== 'a' && kind !== 'f') fail('an operation kind', '"a" or "f"');
  const flags = bits(r[1], 'operation flags', 3);
  return {
    kind: kind === 'a' ? 'action' : 'function',
    bound: (flags & 1) !== 0,
    composable: (flags & 2) !== 0,
    parameters: array(r[2], 'parameters').map(decodeParameter),
    returnType: optStr(r[3], 'a return type'),
  };
}

/** An operation whose details are decoded on first use; only its name is in the header. */
function decodeOperation(value: unknown, index: number, body: Body): Operation {
  const r = array(value, 'an operation');
  const name = str(r[0], 'an operation name');
  const load = body.lazy(
    int(r[1], 'a details length'),
    'the details length',
    { list: 'operations', index, name },
    decodeOperationDetails,
  );
  return {
    name,
    get kind() {
      return load().kind;
    },
    get bound() {
      return load().bound;
    },
    get composable() {
      return load().composable;
    },
    get parameters() {
      return load().parameters;
    },
    get returnType() {
      return load().returnType;
    },
  };
}

/** Resolves the header's entity type indexes (see the format comment) to qualified names. */
class TypeNames {
  private readonly qualified: (string | undefined)[] = [];
  private readonly aliased: (string | undefined)[] = [];

  constructor(
    private readonly names: readonly string[],
    private readonly namespace: string,
    private readonly alias: string | undefined,
  ) {}

  resolve(value: unknown, field: string): string {
    if (typeof value === 'string') return value;
    if (typeof value === 'number' && Number.isSafeInteger(value)) {
      const names = this.names;
      if (value >= 0 && value < names.length) {
        return (this.qualified[value] ??= `${this.namespace}.${names[value]}`);
      }
      const index = -1 - value;
      if (this.alias !== undefined && index >= 0 && index < names.length) {
        return (this.aliased[index] ??= `${this.alias}.${names[index]}`);
      }
    }
    return fail(field, 'a string or an entity type index');
  }
}

function decodeEntitySet(value: unknown, _index: number, types: TypeNames): EntitySet {
  const pair = array(value, 'an entity set');
  return { name: str(pair[0], 'an entity set name'), entityType: types.resolve(pair[1], 'an entity set type') };
}

/** Names the record of a top-level list in the message of a corrupt field inside it. */
function within(error: unknown, list: string, index: number): unknown {
  return error instanceof CorruptCache ? new CorruptCache(`${list}[${index}]: ${error.message}`) : error;
}

/** Decodes each record of a top-level list, naming the record in the message when one is wrong. */
function decodeEach<T, C>(
  value: unknown,
  list: string,
  context: C,
  decode: (item: unknown, index: number, context: C) => T,
): T[] {
  const items = array(value, list);
  const decoded: T[] = new Array<T>(items.length);
  let index = 0;
  try {
    for (; index < items.length; index++) decoded[index] = decode(items[index], index, context);
  } catch (error: unknown) {
    throw within(error, list, index);
  }
  return decoded;
}

/** The entity types, whose names are read first: a base type may refer to a later one by index. */
function decodeEntityTypes(
  value: unknown,
  body: Body,
  namespace: string,
  alias: string | undefined,
): [EntityType[], TypeNames] {
  const items = array(value, 'entityTypes');
  const records: unknown[][] = new Array<unknown[]>(items.length);
  const names: string[] = new Array<string>(items.length);
  let index = 0;
  try {
    for (; index < items.length; index++) {
      const r = array(items[index], 'an entity type');
      records[index] = r;
      names[index] = str(r[0], 'an entity type name');
    }
    const types = new TypeNames(names, namespace, alias);
    const decoded: EntityType[] = new Array<EntityType>(items.length);
    for (index = 0; index < items.length; index++) {
      decoded[index] = decodeEntityType(records[index] as unknown[], names[index] as string, index, body, types);
    }
    return [decoded, types];
  } catch (error: unknown) {
    throw within(error, 'entityTypes', index);
  }
}

function byName<T extends { readonly name: string }>(items: readonly T[], what: string): Map<string, T> {
  const map = new Map<string, T>();
  for (const item of items) {
    if (map.has(item.name)) throw new CorruptCache(`${what} '${item.name}' appears twice`);
    map.set(item.name, item);
  }
  return map;
}

/** Like `deserializeModel`, for callers that handle a refused cache without exceptions. */
export function tryDeserializeModel(text: string): DeserializeResult {
  const newline = text.indexOf('\n');
  const body = newline === -1 ? '' : text.slice(newline + 1);
  let document: unknown;
  try {
    document = JSON.parse(newline === -1 ? text : text.slice(0, newline));
  } catch {
    return { ok: false, problem: 'corrupt', message: 'The metadata cache is not valid JSON.' };
  }
  if (!isJsonObject(document) || document['format'] !== CACHE_FORMAT) {
    return { ok: false, problem: 'corrupt', message: 'The file is not a Dataverse Workbench metadata cache.' };
  }
  if (document['version'] !== CACHE_VERSION) {
    return {
      ok: false,
      problem: 'version',
      message: `The metadata cache has format version ${JSON.stringify(document['version'])}; this version reads only ${CACHE_VERSION}.`,
    };
  }
  try {
    // In body order: the members of entity types, of complex types, then the operations' details.
    const namespace = str(document['namespace'], 'namespace');
    const alias = optStr(document['alias'], 'alias');
    const lazyRecords = new Body(body);
    const [entityTypes, typeNames] = decodeEntityTypes(document['entityTypes'], lazyRecords, namespace, alias);
    const complexTypes = decodeEach(document['complexTypes'], 'complexTypes', lazyRecords, decodeComplexType);
    const operations = new Map<string, Operation[]>();
    for (const operation of decodeEach(document['operations'], 'operations', lazyRecords, decodeOperation)) {
      const overloads = operations.get(operation.name);
      if (overloads) overloads.push(operation);
      else operations.set(operation.name, [operation]);
    }
    if (!lazyRecords.filled) throw new CorruptCache('the lazy records do not fill the file');
    const model: MetadataModel = {
      namespace,
      alias,
      entityTypes: byName(entityTypes, 'Entity type'),
      entitySets: byName(decodeEach(document['entitySets'], 'entitySets', typeNames, decodeEntitySet), 'Entity set'),
      complexTypes: byName(complexTypes, 'Complex type'),
      enumTypes: byName(decodeEach(document['enumTypes'], 'enumTypes', undefined, decodeEnumType), 'Enum type'),
      operations,
    };
    return { ok: true, model };
  } catch (error: unknown) {
    if (error instanceof CorruptCache) {
      return { ok: false, problem: 'corrupt', message: `The metadata cache is corrupt: ${error.message}.` };
    }
    throw error;
  }
}

/**
 * Loads a model written by `serializeModel`, checking every field: a cache is a file on disk that
 * an older build, a crash mid-write or a user may have left in any state.
 * @throws WorkbenchError (`invalidInput`) for a corrupt cache or one of another format version.
 */
export function deserializeModel(text: string): MetadataModel {
  const result = tryDeserializeModel(text);
  if (result.ok) return result.model;
  throw new WorkbenchError('invalidInput', result.message);
}

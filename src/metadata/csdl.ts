import { SaxesParser } from 'saxes';
import type {
  AlternateKey,
  ComplexType,
  EntitySet,
  EntityType,
  EnumType,
  MetadataModel,
  NavigationProperty,
  Operation,
  Parameter,
  Property,
  ReferentialConstraint,
} from './model';
import type { ScannedTag } from './xmlScan';
import { Positions, scanXml } from './xmlScan';

export interface CsdlError {
  readonly message: string;
  readonly line?: number;
}

export interface CsdlParseResult {
  readonly model: MetadataModel;
  readonly errors: CsdlError[];
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

interface EntityTypeBuilder extends Mutable<EntityType> {
  readonly key: string[];
  readonly properties: Property[];
  readonly navigationProperties: NavigationPropertyBuilder[];
}

interface NavigationPropertyBuilder extends Mutable<NavigationProperty> {
  readonly referentialConstraints: ReferentialConstraint[];
}

interface ComplexTypeBuilder extends Mutable<ComplexType> {
  readonly properties: Property[];
  navigationProperties?: NavigationPropertyBuilder[];
}

interface EnumTypeBuilder extends Mutable<EnumType> {
  readonly members: { readonly name: string; readonly value: number }[];
}

interface OperationBuilder extends Mutable<Operation> {
  readonly parameters: Parameter[];
}

const KEYS_VOCABULARY = 'OData.Community.Keys.V1';

/** `Keys.AlternateKeys` as Dataverse writes it (the vocabulary's alias), or with the namespace spelled out. */
function isAlternateKeysTerm(term: string | undefined): boolean {
  return term === 'Keys.AlternateKeys' || term === `${KEYS_VOCABULARY}.AlternateKeys`;
}

const NO_ALTERNATE_KEYS: readonly AlternateKey[] = [];

/** What an open element's children are read into. */
type Frame =
  | { readonly kind: 'schema' }
  | { readonly kind: 'container' }
  | { readonly kind: 'entity'; readonly entity: EntityTypeBuilder }
  | { readonly kind: 'key'; readonly entity: EntityTypeBuilder }
  /** `<Annotation Term="Keys.AlternateKeys">` and its `<Collection>`: one `<Record>` per key. */
  | { readonly kind: 'alternateKeys'; readonly keys: string[][] }
  /** A `Keys.AlternateKey` record down to its `Keys.PropertyRef` records, whose `Name` paths are read. */
  | { readonly kind: 'alternateKey'; readonly key: string[] }
  | { readonly kind: 'navigation'; readonly navigation: NavigationPropertyBuilder }
  | { readonly kind: 'complex'; readonly complex: ComplexTypeBuilder }
  | { readonly kind: 'enum'; readonly enumType: EnumTypeBuilder }
  | { readonly kind: 'operation'; readonly operation: OperationBuilder };

const SCHEMA: Frame = { kind: 'schema' };
const CONTAINER: Frame = { kind: 'container' };

const INTEGER = /^-?\d+$/;

/** A document with this many problems is not CSDL at all; more messages would only bury the first ones. */
const MAX_ERRORS = 100;

/**
 * Parses a CSDL (`$metadata`) document in one streaming pass. Never throws: problems are reported in
 * `errors` and whatever was read before and around them is returned, so a truncated or slightly
 * wrong document (a hand-edited cache, an emulator under development) still gives a usable model.
 *
 * Well-formed documents of the kind servers produce go through a scanner specialised for them
 * (saxes spends most of its time building attribute objects the reader mostly ignores); anything
 * else is read again with saxes, whose messages and recovery are what users see for bad XML.
 */
export function parseCsdl(xml: string): CsdlParseResult {
  const positions = new Positions(xml);
  let end = 0;
  const reader = createReader(() => positions.at(end));
  const scanned = scanXml(xml, {
    open(tag, tagEnd) {
      end = tagEnd;
      reader.openTag(tag);
    },
    close: reader.closeTag,
  });
  return scanned ? reader.finish() : parseCsdlWithSaxes(xml);
}

/** The reference reader, for what the fast scanner does not accept. Exported for tests comparing the two. */
export function parseCsdlWithSaxes(xml: string): CsdlParseResult {
  const parser = new SaxesParser({ xmlns: false, position: true });
  const reader = createReader(() => parser);
  parser.on('opentag', (tag) => reader.openTag({ name: tag.name, attribute: (name) => tag.attributes[name] }));
  parser.on('closetag', reader.closeTag);
  parser.on('error', reader.onSaxesError);
  // Never used, but without a text handler saxes keeps the `</x>` of an unmatched close tag in its
  // text buffer and prepends it to the next attribute value it reads.
  parser.on('text', () => undefined);
  try {
    parser.write(xml).close();
  } catch (error: unknown) {
    // saxes reports through the error handler; this is for a failure inside saxes itself.
    reader.report(`The XML parser stopped: ${error instanceof Error ? error.message : String(error)}`);
  }
  return reader.finish();
}

interface Reader {
  readonly openTag: (tag: ScannedTag) => void;
  readonly closeTag: () => void;
  readonly onSaxesError: (error: Error) => void;
  readonly report: (message: string, line?: number) => void;
  readonly finish: () => CsdlParseResult;
}

/** Builds the model from element events; `where` gives the position of the current element's end. */
function createReader(where: () => { readonly line: number; readonly column: number }): Reader {
  const errors: CsdlError[] = [];
  const entityTypes = new Map<string, EntityTypeBuilder>();
  const entitySets = new Map<string, EntitySet>();
  const complexTypes = new Map<string, ComplexType>();
  const enumTypes = new Map<string, EnumType>();
  const operations = new Map<string, Operation[]>();
  let namespace: string | undefined;
  let alias: string | undefined;
  let schemaCount = 0;
  /** Whether the document includes the Keys vocabulary: then a type without the annotation has no alternate key. */
  let keysVocabulary = false;
  /** Read from the annotations; set on the types in `finish`, where the vocabulary is known. */
  const annotatedKeys = new Map<EntityTypeBuilder, string[][]>();

  const report = (message: string, line?: number): void => {
    if (errors.length < MAX_ERRORS) {
      errors.push(line === undefined ? { message } : { message, line });
    } else if (errors.length === MAX_ERRORS) {
      errors.push({ message: 'Too many errors; the rest of the document was not checked.' });
    }
  };
  // A one-line document (the real `$metadata` is) makes the line useless on its own.
  const here = (message: string): void => {
    const { line, column } = where();
    report(`${message} (column ${column})`, line);
  };

  // The open elements (qualified names, and what their children are read into), as arrays with an
  // explicit depth so that a pop can be undone: see the error handler.
  const raws: string[] = [];
  const frames: (Frame | undefined)[] = [];
  let depth = 0;

  const required = (tag: ScannedTag, attribute: string): string | undefined => {
    const value = tag.attribute(attribute);
    if (value === undefined || value === '') {
      here(`<${tag.name}> has no ${attribute} attribute; it was skipped`);
      return undefined;
    }
    return value;
  };
  const flag = (tag: ScannedTag, attribute: string, fallback: boolean): boolean => {
    const value = tag.attribute(attribute);
    if (value === undefined) return fallback;
    if (value === 'true') return true;
    if (value === 'false') return false;
    here(`${attribute}="${value}" on <${tag.name}> is not true or false`);
    return fallback;
  };
  const integer = (tag: ScannedTag, attribute: string, symbolic: readonly string[]): number | undefined => {
    const value = tag.attribute(attribute);
    if (value === undefined || symbolic.includes(value.toLowerCase())) return undefined;
    if (INTEGER.test(value)) return Number(value);
    here(`${attribute}="${value}" on <${tag.name}> is not an integer`);
    return undefined;
  };

  const readProperty = (tag: ScannedTag): Property | undefined => {
    const name = required(tag, 'Name');
    const type = required(tag, 'Type');
    if (name === undefined || type === undefined) return undefined;
    const property: Mutable<Property> = { name, type, nullable: flag(tag, 'Nullable', true) };
    const maxLength = integer(tag, 'MaxLength', ['max']);
    const precision = integer(tag, 'Precision', []);
    const scale = integer(tag, 'Scale', ['variable', 'floating']);
    if (maxLength !== undefined) property.maxLength = maxLength;
    if (precision !== undefined) property.precision = precision;
    if (scale !== undefined) property.scale = scale;
    return property;
  };

  const readNavigation = (tag: ScannedTag): NavigationPropertyBuilder | undefined => {
    const name = required(tag, 'Name');
    const rawType = required(tag, 'Type');
    if (name === undefined || rawType === undefined) return undefined;
    const collection = rawType.startsWith('Collection(') && rawType.endsWith(')');
    return {
      name,
      type: collection ? rawType.slice('Collection('.length, -1) : rawType,
      collection,
      nullable: flag(tag, 'Nullable', true),
      partner: tag.attribute('Partner'),
      referentialConstraints: [],
    };
  };

  const openSchemaChild = (tag: ScannedTag, local: string): Frame | undefined => {
    switch (local) {
      case 'EntityType': {
        const name = required(tag, 'Name');
        if (name === undefined) return undefined;
        if (entityTypes.has(name)) {
          here(`EntityType '${name}' is declared twice; the second declaration was skipped`);
          return undefined;
        }
        const entity: EntityTypeBuilder = {
          name,
          baseType: tag.attribute('BaseType'),
          abstract: flag(tag, 'Abstract', false),
          openType: flag(tag, 'OpenType', false),
          key: [],
          properties: [],
          navigationProperties: [],
        };
        entityTypes.set(name, entity);
        return { kind: 'entity', entity };
      }
      case 'ComplexType': {
        const name = required(tag, 'Name');
        if (name === undefined) return undefined;
        if (complexTypes.has(name)) {
          here(`ComplexType '${name}' is declared twice; the second declaration was skipped`);
          return undefined;
        }
        const complex: ComplexTypeBuilder = { name, baseType: tag.attribute('BaseType'), properties: [] };
        complexTypes.set(name, complex);
        return { kind: 'complex', complex };
      }
      case 'EnumType': {
        const name = required(tag, 'Name');
        if (name === undefined) return undefined;
        if (enumTypes.has(name)) {
          here(`EnumType '${name}' is declared twice; the second declaration was skipped`);
          return undefined;
        }
        const enumType: EnumTypeBuilder = { name, isFlags: flag(tag, 'IsFlags', false), members: [] };
        enumTypes.set(name, enumType);
        return { kind: 'enum', enumType };
      }
      case 'Action':
      case 'Function': {
        const name = required(tag, 'Name');
        if (name === undefined) return undefined;
        const operation: OperationBuilder = {
          name,
          kind: local === 'Action' ? 'action' : 'function',
          bound: flag(tag, 'IsBound', false),
          composable: flag(tag, 'IsComposable', false),
          parameters: [],
          returnType: undefined,
        };
        const overloads = operations.get(name);
        if (overloads) overloads.push(operation);
        else operations.set(name, [operation]);
        return { kind: 'operation', operation };
      }
      case 'EntityContainer':
        return CONTAINER;
      default:
        return undefined;
    }
  };

  /** Reads an element into its parent's frame; returns the frame its own children are read into. */
  const openElement = (tag: ScannedTag, local: string, parent: Frame | undefined): Frame | undefined => {
    switch (parent?.kind) {
      case undefined:
        return undefined;
      case 'schema':
        return openSchemaChild(tag, local);
      case 'entity':
        if (local === 'Key') return { kind: 'key', entity: parent.entity };
        if (local === 'Annotation' && isAlternateKeysTerm(tag.attribute('Term'))) {
          let keys = annotatedKeys.get(parent.entity);
          if (!keys) annotatedKeys.set(parent.entity, (keys = []));
          return { kind: 'alternateKeys', keys };
        }
        if (local === 'Property') {
          const property = readProperty(tag);
          if (property) parent.entity.properties.push(property);
        } else if (local === 'NavigationProperty') {
          const navigation = readNavigation(tag);
          if (navigation) {
            parent.entity.navigationProperties.push(navigation);
            return { kind: 'navigation', navigation };
          }
        }
        return undefined;
      case 'key':
        if (local === 'PropertyRef') {
          const name = required(tag, 'Name');
          if (name !== undefined) parent.entity.key.push(name);
        }
        return undefined;
      case 'alternateKeys':
        if (local === 'Collection') return parent;
        if (local === 'Record') {
          const key: string[] = [];
          parent.keys.push(key);
          return { kind: 'alternateKey', key };
        }
        return undefined;
      case 'alternateKey':
        if (local === 'Collection' || local === 'Record') return parent;
        if (local === 'PropertyValue') {
          const property = tag.attribute('Property');
          if (property === 'Key') return parent;
          const path = tag.attribute('PropertyPath');
          if (property === 'Name' && path) parent.key.push(path);
        }
        return undefined;
      case 'navigation':
        if (local === 'ReferentialConstraint') {
          const property = required(tag, 'Property');
          const referencedProperty = required(tag, 'ReferencedProperty');
          if (property !== undefined && referencedProperty !== undefined) {
            parent.navigation.referentialConstraints.push({ property, referencedProperty });
          }
        }
        return undefined;
      case 'complex':
        if (local === 'Property') {
          const property = readProperty(tag);
          if (property) parent.complex.properties.push(property);
        } else if (local === 'NavigationProperty') {
          const navigation = readNavigation(tag);
          if (navigation) {
            (parent.complex.navigationProperties ??= []).push(navigation);
            return { kind: 'navigation', navigation };
          }
        }
        return undefined;
      case 'enum':
        if (local === 'Member') {
          const name = required(tag, 'Name');
          if (name === undefined) return undefined;
          const members = parent.enumType.members;
          const previous = members[members.length - 1];
          members.push({ name, value: integer(tag, 'Value', []) ?? (previous ? previous.value + 1 : 0) });
        }
        return undefined;
      case 'operation':
        if (local === 'Parameter') {
          const name = required(tag, 'Name');
          const type = required(tag, 'Type');
          if (name !== undefined && type !== undefined) {
            parent.operation.parameters.push({ name, type, nullable: flag(tag, 'Nullable', true) });
          }
        } else if (local === 'ReturnType') {
          const type = required(tag, 'Type');
          if (type !== undefined) parent.operation.returnType = type;
        }
        return undefined;
      case 'container':
        if (local === 'EntitySet') {
          const name = required(tag, 'Name');
          const type = required(tag, 'EntityType');
          if (name === undefined || type === undefined) return undefined;
          if (entitySets.has(name)) here(`EntitySet '${name}' is declared twice; the second declaration was skipped`);
          else entitySets.set(name, { name, entityType: type });
        }
        return undefined;
    }
  };

  const openSchema = (tag: ScannedTag): Frame => {
    schemaCount++;
    const schemaNamespace = required(tag, 'Namespace');
    // The model has one namespace; Dataverse has one schema. Types of any later schema still load.
    if (namespace === undefined && schemaNamespace !== undefined) {
      namespace = schemaNamespace;
      alias = tag.attribute('Alias');
    }
    return SCHEMA;
  };

  // saxes recovers from a stray close tag (`</Key>` where none is open) by popping every open
  // element, reporting "unexpected close tag." before each further pop and "unmatched closing tag"
  // at the end, then reading on with an empty stack. Undoing those pops here keeps the rest of the
  // document readable: `depthBeforeClose` is the depth before the first pop of one close tag.
  let lastEvent: 'close' | 'unexpected' | 'other' = 'other';
  let depthBeforeClose = 0;
  let cascade: CsdlError[] = [];
  const flushCascade = (): void => {
    for (const error of cascade) report(error.message, error.line);
    cascade = [];
  };

  const openTag = (tag: ScannedTag): void => {
    if (cascade.length > 0) flushCascade();
    lastEvent = 'other';
    // Prefixes are dropped: only edm and edmx elements are read, and their local names do not collide.
    const colon = tag.name.indexOf(':');
    const local = colon === -1 ? tag.name : tag.name.slice(colon + 1);
    let frame: Frame | undefined;
    if (depth === 0) {
      if (local !== 'Edmx' && local !== 'Schema') here(`<${tag.name}> is not a CSDL document element`);
      else if (local === 'Edmx' && tag.attribute('Version') !== '4.0' && tag.attribute('Version') !== '4.01') {
        here(`Edmx Version="${tag.attribute('Version') ?? ''}" is not OData 4`);
      }
    }
    if (local === 'Include' && tag.attribute('Namespace') === KEYS_VOCABULARY) keysVocabulary = true;
    // Schema may also be the root: a bare schema is what generators and hand-written tests produce.
    if (local === 'Schema') frame = openSchema(tag);
    else frame = openElement(tag, local, depth === 0 ? undefined : frames[depth - 1]);
    raws[depth] = tag.name;
    frames[depth] = frame;
    depth++;
  };

  const closeTag = (): void => {
    if (lastEvent !== 'unexpected') {
      if (cascade.length > 0) flushCascade();
      depthBeforeClose = depth;
    }
    lastEvent = 'close';
    if (depth > 0) depth--;
  };

  const onError = (error: Error): void => {
    // saxes prefixes "line:column: "; keep the line as data and the column in the text.
    const match = /^(\d+):(\d+): (.*)$/s.exec(error.message);
    const text = match?.[3] ?? error.message;
    const entry: CsdlError = match
      ? { message: `${text} (column ${match[2] ?? ''})`, line: Number(match[1]) }
      : { message: text };
    if (text === 'unexpected close tag.') {
      lastEvent = 'unexpected';
      cascade.push(entry);
      return;
    }
    const unmatched = /^unmatched closing tag: (.*)\.$/s.exec(text)?.[1];
    if (unmatched !== undefined) {
      if (lastEvent === 'unexpected') {
        depth = depthBeforeClose;
        cascade = [];
      } else if (depth > 0 && raws[depth - 1] === unmatched) {
        // saxes lost the elements opened before the stray tag: their close tags come only as this
        // error, though the document is right about them.
        depth--;
        lastEvent = 'other';
        return;
      }
    } else if (cascade.length > 0) {
      flushCascade();
    }
    lastEvent = 'other';
    report(entry.message, entry.line);
  };

  const finish = (): CsdlParseResult => {
    flushCascade();
    if (schemaCount === 0) report('The document has no <Schema> element, so it describes no types.');
    for (const entity of entityTypes.values()) {
      const keys = annotatedKeys.get(entity)?.filter((key) => key.length > 0) ?? [];
      // Under the vocabulary a type without the annotation has none; without it, nothing is known.
      if (keys.length > 0) entity.alternateKeys = keys.map((columns) => ({ columns }));
      else if (keysVocabulary) entity.alternateKeys = NO_ALTERNATE_KEYS;
    }
    return {
      model: { namespace: namespace ?? '', alias, entityTypes, entitySets, complexTypes, enumTypes, operations },
      errors,
    };
  };

  return { openTag, closeTag, onSaxesError: onError, report, finish };
}

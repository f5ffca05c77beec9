import type { JsonObject } from '../core/json';
import { isJsonObject, nonEmptyString } from '../core/json';
import type {
  AlternateKey,
  AttributeInfo,
  EntityInfo,
  EntityType,
  MetadataModel,
  OptionValue,
  Property,
} from './model';

export interface EnrichResult {
  /** A new model; entity types without metadata are shared with the input, which is not changed. */
  readonly model: MetadataModel;
  /** Problems with the JSON; entries that could not be read are skipped, the rest still applies. */
  readonly errors: readonly string[];
  /** Per enriched entity, how many of its attributes matched a property of the CSDL. */
  readonly enriched: readonly { readonly entity: string; readonly attributes: number }[];
}

/**
 * `DisplayName.UserLocalizedLabel.Label`, or the first non-empty localized label when the user's language has
 * none (a label in a language pack can be empty while another language has text).
 */
export function labelOf(value: unknown): string | undefined {
  if (!isJsonObject(value)) return undefined;
  const user = value['UserLocalizedLabel'];
  const fromUser = isJsonObject(user) ? nonEmptyString(user['Label']) : undefined;
  if (fromUser !== undefined) return fromUser;
  const localized = value['LocalizedLabels'];
  if (!Array.isArray(localized)) return undefined;
  for (const label of localized as unknown[]) {
    const text = isJsonObject(label) ? nonEmptyString(label['Label']) : undefined;
    if (text !== undefined) return text;
  }
  return undefined;
}

const REQUIRED_LEVELS = ['None', 'SystemRequired', 'ApplicationRequired', 'Recommended'] as const;

function requiredLevelOf(value: unknown): AttributeInfo['requiredLevel'] {
  const level = isJsonObject(value) ? value['Value'] : undefined;
  return REQUIRED_LEVELS.find((known) => known === level);
}

function optionOf(value: unknown): OptionValue | undefined {
  if (!isJsonObject(value)) return undefined;
  const number = value['Value'];
  if (typeof number !== 'number' || !Number.isInteger(number)) return undefined;
  // A status reason (StatusOptionMetadata) names the state it belongs to.
  const state = value['State'];
  return {
    value: number,
    label: labelOf(value['Label']) ?? String(number),
    ...(typeof state === 'number' && Number.isInteger(state) ? { state } : {}),
  };
}

/**
 * Picklist, State, Status and multi-select choices list `Options`; a Boolean's set has `FalseOption`
 * and `TrueOption`. `GlobalOptionSet` is where an `$expand=OptionSet,GlobalOptionSet` answer puts a
 * global choice when `OptionSet` is null.
 */
function optionsOf(attribute: JsonObject): OptionValue[] | undefined {
  for (const key of ['OptionSet', 'GlobalOptionSet']) {
    const set = attribute[key];
    if (!isJsonObject(set)) continue;
    const options = set['Options'];
    if (Array.isArray(options)) {
      return (options as unknown[]).map(optionOf).filter((o): o is OptionValue => o !== undefined);
    }
    const pair = [optionOf(set['FalseOption']), optionOf(set['TrueOption'])].filter(
      (o): o is OptionValue => o !== undefined,
    );
    if (pair.length > 0) return pair;
  }
  return undefined;
}

/**
 * `Keys` of an EntityMetadata (EntityKeyMetadata: LogicalName, KeyAttributes, EntityKeyIndexStatus),
 * each column named as `$metadata` and URLs name it: `KeyAttributes` lists a lookup by its logical
 * name (`customapiid`), the property is `_customapiid_value`.
 */
function alternateKeysOf(value: unknown, type: EntityType): AlternateKey[] | undefined {
  if (!Array.isArray(value)) return undefined;
  const names = new Set(type.properties.map((p) => p.name));
  const propertyName = (column: string): string =>
    !names.has(column) && names.has(`_${column}_value`) ? `_${column}_value` : column;
  const keys: AlternateKey[] = [];
  for (const key of value as unknown[]) {
    if (!isJsonObject(key)) continue;
    const name = nonEmptyString(key['LogicalName']);
    const columns = targetsOf(key['KeyAttributes']);
    if (name === undefined || columns === undefined || columns.length === 0) continue;
    const status = nonEmptyString(key['EntityKeyIndexStatus']);
    keys.push({ columns: columns.map(propertyName), name, ...(status === undefined ? {} : { status }) });
  }
  return keys;
}

function targetsOf(value: unknown): string[] | undefined {
  if (!Array.isArray(value)) return undefined;
  return (value as unknown[]).filter((target): target is string => typeof target === 'string');
}

/** A later, narrower response (`$select=LogicalName,DisplayName`) must not erase what an earlier one filled. */
function merge<T extends object>(previous: T | undefined, next: T): T {
  if (!previous) return next;
  const merged = { ...previous };
  for (const key of Object.keys(next) as (keyof T)[]) if (next[key] !== undefined) merged[key] = next[key];
  return merged;
}

/** The entity records of any of the accepted response shapes, or why there are none. */
function entitiesOf(json: unknown): unknown[] | string {
  if (Array.isArray(json)) return json as unknown[];
  if (!isJsonObject(json)) return 'EntityDefinitions data should be a JSON object or array.';
  // RetrieveMetadataChanges answers with `EntityMetadata`; an EntityDefinitions collection with `value`.
  const list = json['EntityMetadata'] ?? json['value'];
  if (Array.isArray(list)) return list as unknown[];
  if (typeof json['LogicalName'] === 'string') return [json];
  const error = json['error'];
  if (isJsonObject(error)) {
    const message = error['message'];
    return `The response is an error, not metadata: ${typeof message === 'string' ? message : 'no message'}`;
  }
  return 'No EntityMetadata, value or LogicalName: this is not an EntityDefinitions or RetrieveMetadataChanges response.';
}

/**
 * Fills `info` on entity types and their properties from `EntityDefinitions` or
 * `RetrieveMetadataChanges` JSON. A lookup column (`parentaccountid`) describes the CSDL property
 * `_parentaccountid_value`. Columns CSDL does not have (`...name` helper columns) are left out.
 * `Keys` replace the type's alternate keys from `$metadata`: this is the one place the two sources
 * meet (`EntityType.alternateKeys` says why EntityDefinitions wins).
 */
export function enrichModel(model: MetadataModel, entityMetadata: unknown): EnrichResult {
  const errors: string[] = [];
  const enriched: { entity: string; attributes: number }[] = [];
  const entities = entitiesOf(entityMetadata);
  if (typeof entities === 'string') return { model, errors: [entities], enriched };

  const entityTypes = new Map(model.entityTypes);
  entities.forEach((entity, index) => {
    const where = `entity ${index}`;
    if (!isJsonObject(entity)) {
      errors.push(`${where} is not an object.`);
      return;
    }
    // An `EntityDefinitions(...)/Attributes` answer has the same `value` list, of columns.
    if (typeof entity['AttributeType'] === 'string') {
      errors.push(
        `${where} is an attribute: request EntityDefinitions(LogicalName='…')?$expand=Attributes so the table is known.`,
      );
      return;
    }
    const logicalName = nonEmptyString(entity['LogicalName']);
    if (logicalName === undefined) {
      errors.push(`${where} has no LogicalName.`);
      return;
    }
    const type = entityTypes.get(logicalName);
    if (!type) {
      errors.push(`Table '${logicalName}' is not an entity type of the model.`);
      return;
    }
    const alternateKeys = alternateKeysOf(entity['Keys'], type);
    const info: EntityInfo = merge(type.info, {
      logicalName,
      displayName: labelOf(entity['DisplayName']),
      description: labelOf(entity['Description']),
      primaryIdAttribute: nonEmptyString(entity['PrimaryIdAttribute']),
      primaryNameAttribute: nonEmptyString(entity['PrimaryNameAttribute']),
      isCustomEntity:
        typeof entity['IsCustomEntity'] === 'boolean' ? entity['IsCustomEntity'] : (type.info?.isCustomEntity ?? false),
    });

    const attributes = entity['Attributes'];
    let matched = 0;
    let properties: readonly Property[] = type.properties;
    if (attributes !== undefined && attributes !== null) {
      if (!Array.isArray(attributes)) {
        errors.push(`Attributes of '${logicalName}' is not an array.`);
      } else {
        const byName = new Map<string, AttributeInfo>();
        (attributes as unknown[]).forEach((attribute, attributeIndex) => {
          const read = readAttribute(attribute);
          if (typeof read === 'string') errors.push(`'${logicalName}' attribute ${attributeIndex}: ${read}`);
          else byName.set(read.logicalName, read);
        });
        properties = type.properties.map((property) => {
          const lookup = /^_(.+)_value$/.exec(property.name)?.[1];
          const attribute = byName.get(property.name) ?? (lookup === undefined ? undefined : byName.get(lookup));
          if (!attribute) return property;
          matched++;
          return { ...property, info: merge(property.info, attribute) };
        });
      }
    }
    const updated: EntityType = {
      ...type,
      properties,
      info,
      ...(alternateKeys === undefined ? {} : { alternateKeys }),
    };
    entityTypes.set(logicalName, updated);
    enriched.push({ entity: logicalName, attributes: matched });
  });
  return { model: { ...model, entityTypes }, errors, enriched };
}

function readAttribute(attribute: unknown): AttributeInfo | string {
  if (!isJsonObject(attribute)) return 'not an object';
  const logicalName = nonEmptyString(attribute['LogicalName']);
  if (logicalName === undefined) return 'no LogicalName';
  const typeName = attribute['AttributeTypeName'];
  const attributeType =
    nonEmptyString(attribute['AttributeType']) ??
    (isJsonObject(typeName) ? nonEmptyString(typeName['Value'])?.replace(/Type$/, '') : undefined);
  if (attributeType === undefined) return `'${logicalName}' has no AttributeType`;
  return {
    logicalName,
    attributeType,
    displayName: labelOf(attribute['DisplayName']),
    description: labelOf(attribute['Description']),
    requiredLevel: requiredLevelOf(attribute['RequiredLevel']),
    options: optionsOf(attribute),
    targets: targetsOf(attribute['Targets']),
  };
}

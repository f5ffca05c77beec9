// Guards for values read at a boundary (parsed JSON, settings, command-line options), one copy each.

/** A parsed JSON object, its members not yet checked. */
export type JsonObject = Record<string, unknown>;

/** An object that is not an array (nor null): what `{ ... }` in JSON parses to. */
export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The value when it is a string (commander's option values, JSON members), else undefined. */
export function stringOrUndefined(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/** The value when it is a string with at least one character, else undefined. */
export function nonEmptyString(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

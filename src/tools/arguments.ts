import type { JsonSchema, ToolDefinition } from './definitions';
import { ToolRefusal } from './refusal';

function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return value.length > 40 ? 'a long string' : JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean') return `${typeof value} ${value}`;
  return typeof value === 'object' ? 'an object' : typeof value;
}

function check(schema: JsonSchema, value: unknown, path: string, problems: string[]): void {
  switch (schema.type) {
    case 'string':
      if (typeof value !== 'string') return void problems.push(`${path} must be a string, not ${describeValue(value)}`);
      if (schema.minLength !== undefined && value.trim().length < schema.minLength) {
        problems.push(`${path} must not be empty`);
      }
      if (schema.maxLength !== undefined && value.length > schema.maxLength) {
        problems.push(`${path} is longer than ${schema.maxLength} characters`);
      }
      if (schema.enum !== undefined && !schema.enum.includes(value)) {
        problems.push(`${path} must be one of ${schema.enum.join(', ')}, not ${describeValue(value)}`);
      }
      return;
    case 'integer':
      if (typeof value !== 'number' || !Number.isInteger(value)) {
        return void problems.push(`${path} must be a whole number, not ${describeValue(value)}`);
      }
      if (
        (schema.minimum !== undefined && value < schema.minimum) ||
        (schema.maximum !== undefined && value > schema.maximum)
      ) {
        problems.push(`${path} must be from ${schema.minimum ?? '-∞'} to ${schema.maximum ?? '∞'}, not ${value}`);
      }
      return;
    case 'boolean':
      if (typeof value !== 'boolean') problems.push(`${path} must be true or false, not ${describeValue(value)}`);
      return;
    case 'array':
      if (!Array.isArray(value)) return void problems.push(`${path} must be an array, not ${describeValue(value)}`);
      if (schema.maxItems !== undefined && value.length > schema.maxItems) {
        problems.push(`${path} has more than ${schema.maxItems} items`);
      }
      if (schema.items !== undefined) value.forEach((item, i) => check(schema.items!, item, `${path}[${i}]`, problems));
      return;
    case 'object': {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) {
        return void problems.push(`${path} must be a JSON object, not ${describeValue(value)}`);
      }
      const record = value as Record<string, unknown>;
      for (const name of schema.required ?? []) {
        if (record[name] === undefined) problems.push(`${path === '' ? '' : `${path}.`}${name} is required`);
      }
      for (const [name, item] of Object.entries(record)) {
        const property = schema.properties?.[name];
        const where = path === '' ? name : `${path}.${name}`;
        if (property === undefined) {
          if (schema.additionalProperties === false) {
            const known = Object.keys(schema.properties ?? {});
            problems.push(
              `${where} is not an argument of this tool (it takes ${known.length === 0 ? 'none' : known.join(', ')})`,
            );
          }
          continue;
        }
        if (item !== undefined) check(property, item, where, problems);
      }
      return;
    }
  }
}

/**
 * The tool's arguments checked against its input schema: clients do not all validate, and a model's
 * mistake must come back as a message it can act on, naming each wrong argument.
 */
export function checkArguments(tool: ToolDefinition, input: unknown): Record<string, unknown> {
  const problems: string[] = [];
  check(tool.inputSchema, input ?? {}, '', problems);
  if (problems.length > 0) {
    throw new ToolRefusal(`Invalid arguments for ${tool.name}: ${problems.join('; ')}.`);
  }
  return (input ?? {}) as Record<string, unknown>;
}

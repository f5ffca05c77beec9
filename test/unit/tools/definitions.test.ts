import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { JsonSchema } from '../../../src/tools/definitions';
import { TOOL_DEFINITIONS } from '../../../src/tools/definitions';

interface ManifestTool {
  readonly name: string;
  readonly displayName: string;
  readonly modelDescription: string;
  readonly inputSchema: unknown;
  readonly toolReferenceName: string;
}

const manifest = JSON.parse(readFileSync(path.resolve(__dirname, '../../../package.json'), 'utf8')) as {
  contributes: { languageModelTools: ManifestTool[] };
};

const KNOWN_KEYS = new Set([
  'type',
  'description',
  'properties',
  'required',
  'additionalProperties',
  'enum',
  'items',
  'minimum',
  'maximum',
  'minLength',
  'maxLength',
  'maxItems',
]);

function keysOf(schema: JsonSchema): string[] {
  const nested = [...Object.values(schema.properties ?? {}), ...(schema.items === undefined ? [] : [schema.items])];
  return [...Object.keys(schema), ...nested.flatMap(keysOf)];
}

describe('agent tool definitions', () => {
  it('are at most 12, with unique names and precise descriptions', () => {
    assert.ok(TOOL_DEFINITIONS.length <= 12);
    assert.equal(new Set(TOOL_DEFINITIONS.map((t) => t.name)).size, TOOL_DEFINITIONS.length);
    for (const tool of TOOL_DEFINITIONS) {
      assert.match(tool.name, /^[a-z_]+$/);
      assert.ok(tool.description.length >= 100 && tool.description.length <= 1024, tool.name);
    }
  });

  it('use only the JSON Schema keywords the argument check enforces', () => {
    for (const tool of TOOL_DEFINITIONS) {
      for (const key of keysOf(tool.inputSchema)) assert.ok(KNOWN_KEYS.has(key), `${tool.name}: ${key}`);
      assert.equal(tool.inputSchema.additionalProperties, false, tool.name);
    }
  });

  it("package.json's languageModelTools declare the same tools, descriptions and schemas", () => {
    const declared = manifest.contributes.languageModelTools;
    assert.deepEqual(
      declared.map((t) => t.name),
      TOOL_DEFINITIONS.map((t) => `dataverse_${t.name}`),
    );
    for (const [i, tool] of TOOL_DEFINITIONS.entries()) {
      assert.equal(declared[i]!.displayName, tool.title);
      assert.equal(declared[i]!.modelDescription, tool.description);
      assert.deepEqual(declared[i]!.inputSchema, tool.inputSchema);
      assert.match(declared[i]!.toolReferenceName, /^dataverse[A-Z]\w+$/);
    }
  });
});

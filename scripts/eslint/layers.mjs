// ESLint rule `layers/boundaries`: enforces the dependency direction of docs/architecture.md.
// A file's layer is the folder after the last `src/` in its path; imports are checked against the
// table below (relative imports by the layer they resolve into, bare imports by package name).
import { builtinModules } from 'node:module';
import path from 'node:path';

/** Which layers each layer may import (itself included). */
export const ALLOWED_LAYERS = {
  core: ['core'],
  metadata: ['core', 'metadata'],
  odata: ['core', 'metadata', 'odata'],
  dataverse: ['core', 'metadata', 'odata', 'dataverse'],
  webhooks: ['core', 'metadata', 'odata', 'dataverse', 'webhooks'],
  emulator: ['core', 'metadata', 'odata', 'emulator'],
  server: ['core', 'metadata', 'odata', 'dataverse', 'webhooks', 'server'],
  tools: ['core', 'metadata', 'odata', 'dataverse', 'webhooks', 'tools'],
  cli: ['core', 'metadata', 'odata', 'dataverse', 'webhooks', 'emulator', 'server', 'tools', 'cli'],
  extension: ['core', 'metadata', 'odata', 'dataverse', 'webhooks', 'tools', 'webview', 'extension'],
  webview: ['core', 'webview'],
};

/** Layers that must run anywhere (browser, web worker, tests): no Node built-ins. */
export const PURE_LAYERS = ['core', 'metadata', 'odata', 'webview'];

const builtins = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));

function layerOf(filename) {
  const parts = path.resolve(filename).split(path.sep);
  const index = parts.lastIndexOf('src');
  if (index === -1 || index + 1 >= parts.length - 1) return undefined;
  const layer = parts[index + 1];
  return layer in ALLOWED_LAYERS ? layer : undefined;
}

/** @type {import('eslint').Rule.RuleModule} */
const boundaries = {
  meta: {
    type: 'problem',
    docs: { description: 'Keep imports inside the layer boundaries of docs/architecture.md' },
    schema: [],
    messages: {
      vscode: "'vscode' may be imported only under src/extension/ (this file is in src/{{layer}}/).",
      builtin: "src/{{layer}}/ is pure: no Node built-ins ('{{name}}'). Inject what it needs instead.",
      layer: 'src/{{layer}}/ may not import from src/{{target}}/ (allowed: {{allowed}}).',
    },
  },
  create(context) {
    const layer = layerOf(context.filename);
    if (!layer) return {};
    const check = (node, source) => {
      if (typeof source !== 'string') return;
      if (source === 'vscode' && layer !== 'extension') {
        context.report({ node, messageId: 'vscode', data: { layer } });
      } else if ((builtins.has(source) || builtins.has(source.split('/')[0])) && PURE_LAYERS.includes(layer)) {
        context.report({ node, messageId: 'builtin', data: { layer, name: source } });
      } else if (source.startsWith('.')) {
        const target = layerOf(path.join(path.dirname(context.filename), source, 'x'));
        if (target && !ALLOWED_LAYERS[layer].includes(target)) {
          context.report({
            node,
            messageId: 'layer',
            data: { layer, target, allowed: ALLOWED_LAYERS[layer].join(', ') },
          });
        }
      }
    };
    return {
      ImportDeclaration: (node) => check(node, node.source.value),
      ExportNamedDeclaration: (node) => node.source && check(node, node.source.value),
      ExportAllDeclaration: (node) => check(node, node.source.value),
      ImportExpression: (node) => node.source.type === 'Literal' && check(node, node.source.value),
      CallExpression: (node) => {
        if (
          node.callee.type === 'Identifier' &&
          node.callee.name === 'require' &&
          node.arguments[0]?.type === 'Literal'
        ) {
          check(node, node.arguments[0].value);
        }
      },
    };
  },
};

export const layersPlugin = { meta: { name: 'layers' }, rules: { boundaries } };

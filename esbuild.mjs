// Builds every bundle the project ships, plus the integration-test bundle.
//   node esbuild.mjs                 development build with source maps
//   node esbuild.mjs --production    minified, no source maps (what `npm run package` ships)
//   node esbuild.mjs --watch         rebuild on change
//   node esbuild.mjs --tests-only    only the integration-test bundle (to test a packaged .vsix)
import * as esbuild from 'esbuild';
import { copyFileSync, cpSync, existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';

const production = process.argv.includes('--production');
const watch = process.argv.includes('--watch');
const testsOnly = process.argv.includes('--tests-only');
const root = path.dirname(new URL(import.meta.url).pathname);

/** @type {import('esbuild').BuildOptions} */
const common = {
  bundle: true,
  minify: production,
  sourcemap: production ? false : 'linked',
  sourcesContent: false,
  logLevel: 'warning',
  legalComments: 'none',
};

const nodeCommon = { ...common, platform: 'node', format: 'cjs', target: 'node20' };

/** Each folder src/webview/<name>/ with a main.ts becomes dist/webview/<name>.js. */
function webviewEntries() {
  const dir = path.join(root, 'src/webview');
  return readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(path.join(dir, d.name, 'main.ts')))
    .map((d) => ({ in: path.join(dir, d.name, 'main.ts'), out: d.name }));
}

const testBuild = {
  ...nodeCommon,
  sourcemap: 'inline',
  entryPoints: ['test/integration/index.ts'],
  outfile: 'out/test/integration/index.js',
  external: ['vscode', 'mocha'],
};

const productBuilds = [
  {
    ...nodeCommon,
    entryPoints: ['src/extension/extension.ts'],
    outfile: 'dist/extension.js',
    external: ['vscode'],
  },
  { ...nodeCommon, entryPoints: ['src/server/main.ts'], outfile: 'dist/server.js' },
  {
    ...nodeCommon,
    entryPoints: ['src/cli/main.ts'],
    outfile: 'dist/cli.js',
    banner: { js: '#!/usr/bin/env node' },
  },
  {
    ...common,
    platform: 'browser',
    format: 'iife',
    target: 'es2022',
    entryPoints: webviewEntries(),
    outdir: 'dist/webview',
  },
].filter((b) => !Array.isArray(b.entryPoints) || b.entryPoints.length > 0);

// The integration suite runs inside VS Code's extension host; mocha is loaded from node_modules there.
const builds = testsOnly ? [testBuild] : production ? productBuilds : [...productBuilds, testBuild];

if (!watch && !testsOnly) rmSync(path.join(root, 'dist'), { recursive: true, force: true });

// node-sqlite3-wasm loads its WebAssembly from the directory of the script that bundles it, and the emulator its
// built-in schema snapshot (src/emulator/schema/snapshot.ts, BUILTIN_SNAPSHOT).
function copyAssets() {
  if (testsOnly) return;
  mkdirSync(path.join(root, 'dist'), { recursive: true });
  copyFileSync(
    path.join(root, 'node_modules/node-sqlite3-wasm/dist/node-sqlite3-wasm.wasm'),
    path.join(root, 'dist/node-sqlite3-wasm.wasm'),
  );
  cpSync(path.join(root, 'src/emulator/schema/builtin-snapshot'), path.join(root, 'dist/builtin-snapshot'), {
    recursive: true,
  });
}

if (watch) {
  copyAssets();
  const contexts = await Promise.all(builds.map((b) => esbuild.context(b)));
  await Promise.all(contexts.map((c) => c.watch()));
  console.log(`watching ${contexts.length} bundles`);
} else {
  const started = Date.now();
  await Promise.all(builds.map((b) => esbuild.build(b)));
  copyAssets();
  console.log(`built ${builds.length} bundles${production ? ' (production)' : ''} in ${Date.now() - started} ms`);
}

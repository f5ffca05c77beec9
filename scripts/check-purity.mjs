// The "purity build": bundles every file of the pure layers for a neutral platform (no Node, no
// browser globals assumed) and fails when anything they pull in, even indirectly through a
// dependency, needs `vscode` or a Node built-in. Lint catches direct imports; this catches the rest.
import * as esbuild from 'esbuild';
import { readdirSync } from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const PURE_LAYERS = ['core', 'metadata', 'odata', 'webview'];
const builtins = new Set(builtinModules);

const entryPoints = PURE_LAYERS.flatMap((layer) =>
  readdirSync(path.join(root, 'src', layer), { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.ts'))
    .map((entry) => path.join(entry.parentPath, entry.name)),
);

const forbidden = {
  name: 'forbid-impure-imports',
  setup(build) {
    build.onResolve({ filter: /.*/ }, (args) => {
      const bare = args.path.startsWith('node:') ? args.path.slice(5) : args.path;
      if (args.path === 'vscode' || builtins.has(bare) || builtins.has(bare.split('/')[0])) {
        return {
          errors: [
            {
              text: `'${args.path}' is not available to the pure layers (imported by ${path.relative(root, args.importer)})`,
            },
          ],
        };
      }
      return undefined;
    });
  },
};

try {
  await esbuild.build({
    entryPoints,
    bundle: true,
    write: false,
    outdir: 'out/purity',
    platform: 'neutral',
    format: 'esm',
    mainFields: ['module', 'main'],
    logLevel: 'silent',
    plugins: [forbidden],
  });
  console.log(
    `purity: ${entryPoints.length} files in src/{${PURE_LAYERS.join(',')}} need neither vscode nor Node built-ins`,
  );
} catch (error) {
  for (const message of error.errors ?? [{ text: String(error) }]) {
    const where = message.location ? `${message.location.file}:${message.location.line}: ` : '';
    console.error(`purity: ${where}${message.text}`);
  }
  process.exit(1);
}

import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ESLint } from 'eslint';
import tseslint from 'typescript-eslint';

const root = path.resolve(__dirname, '../../..');
const forbiddenSource = readFileSync(path.join(root, 'test/fixtures/lint/importsVscode.ts'), 'utf8');

/**
 * Lints the fixture's text as if it lived at `relativePath`, with the project's real config. The
 * path does not exist, so the TypeScript project service cannot type it: type-aware rules are turned
 * off for this run, which leaves the layer rule exactly as `npm run lint` applies it.
 */
async function lintAs(relativePath: string): Promise<string[]> {
  const eslint = new ESLint({ cwd: root, overrideConfig: [tseslint.configs.disableTypeChecked] });
  const [result] = await eslint.lintText(forbiddenSource, { filePath: path.join(root, relativePath) });
  const fatal = result?.messages.find((m) => m.fatal);
  if (fatal) throw new Error(fatal.message);
  return (result?.messages ?? []).filter((m) => m.ruleId === 'layers/boundaries').map((m) => m.message);
}

describe('lint layer rule (the real eslint.config.mjs)', function () {
  this.timeout(60_000);

  it('fails a file under src/core that imports vscode, a Node built-in or another layer', async () => {
    const messages = await lintAs('src/core/lintProbe.ts');
    assert.equal(messages.length, 3, messages.join('\n'));
    assert.match(messages[0] ?? '', /'vscode' may be imported only under src\/extension\//);
    assert.match(messages[1] ?? '', /src\/core\/ is pure: no Node built-ins \('node:fs'\)/);
    assert.match(messages[2] ?? '', /src\/core\/ may not import from src\/emulator\//);
  });

  it('forbids Node built-ins in src/odata and src/metadata too', async () => {
    for (const layer of ['odata', 'metadata']) {
      const messages = await lintAs(`src/${layer}/lintProbe.ts`);
      assert.ok(
        messages.some((m) => m.includes('no Node built-ins')),
        `${layer}: ${messages.join('\n')}`,
      );
    }
  });

  it('allows vscode under src/extension but not another layer it must not reach', async () => {
    const messages = await lintAs('src/extension/lintProbe.ts');
    assert.deepEqual(messages, [
      'src/extension/ may not import from src/emulator/ (allowed: core, metadata, odata, dataverse, webhooks, tools, webview, extension).',
    ]);
  });
});

import * as assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import {
  Commands,
  ContextKeys,
  LANGUAGE_ID,
  Settings,
  TreeItemContexts,
  ViewContainers,
  Views,
} from '../../src/extension/constants';

// Reading constants.ts imports no `vscode`, so the manifest can be checked in plain Node.
const root = path.resolve(__dirname, '../..');

interface Manifest {
  name: string;
  publisher: string;
  engines: { vscode: string };
  main: string;
  bin: Record<string, string>;
  activationEvents: string[];
  contributes: {
    commands: { command: string; title: string; category?: string }[];
    viewsContainers: { activitybar: { id: string; icon: string }[] };
    views: Record<string, { id: string }[]>;
    viewsWelcome: { view: string; contents: string }[];
    menus: Record<string, { command: string; when?: string }[]>;
    configuration: { properties: Record<string, unknown> };
    languages: { id: string; extensions: string[]; configuration: string }[];
    walkthroughs: { id: string; steps: { id: string; description: string; media: { markdown?: string } }[] }[];
    grammars: { language: string; path: string }[];
  };
}

const manifest = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as Manifest;
const commandIds = Object.values(Commands) as string[];

describe('package.json agrees with the code', () => {
  it('contributes exactly the commands in Commands, each titled and categorized', () => {
    const contributed = manifest.contributes.commands.map((c) => c.command);
    assert.deepEqual([...contributed].sort(), [...commandIds].sort());
    for (const command of manifest.contributes.commands) {
      assert.match(command.command, /^dataverse\.[a-z][A-Za-z]+$/, 'command ids are dataverse.verbNoun');
      assert.ok(command.title.length > 0);
      assert.equal(command.category, 'Dataverse');
    }
  });

  it('menus and welcome links name only known commands, views and item contexts', () => {
    const viewIds = Object.values(Views) as string[];
    const contexts = Object.values(TreeItemContexts) as string[];
    for (const [menu, entries] of Object.entries(manifest.contributes.menus)) {
      for (const entry of entries) {
        assert.ok(commandIds.includes(entry.command), `${menu}: unknown command ${entry.command}`);
        for (const view of entry.when?.match(/view == ([\w.]+)/g) ?? []) {
          assert.ok(viewIds.includes(view.slice('view == '.length)), `${menu}: unknown ${view}`);
        }
        // A quoted value is compared against (a webview type for activeWebviewPanelId), not a context key.
        for (const key of entry.when?.match(/(?<!')dataverse\.\w+/g) ?? []) {
          const known: string[] = [...viewIds, ...Object.values(ContextKeys)];
          assert.ok(known.includes(key), `${menu}: unknown context key ${key}`);
        }
        for (const item of entry.when?.match(/viewItem == (\w+)/g) ?? []) {
          assert.ok(contexts.includes(item.slice('viewItem == '.length)), `${menu}: unknown ${item}`);
        }
      }
    }
    for (const welcome of manifest.contributes.viewsWelcome) {
      assert.ok(viewIds.includes(welcome.view));
      for (const link of welcome.contents.match(/command:[\w.]+/g) ?? []) {
        assert.ok(commandIds.includes(link.slice('command:'.length)), `welcome link to unknown ${link}`);
      }
    }
  });

  it('contributes the views and container the code registers', () => {
    assert.deepEqual(
      manifest.contributes.viewsContainers.activitybar.map((c) => c.id),
      Object.values(ViewContainers),
    );
    assert.deepEqual(
      Object.values(manifest.contributes.views)
        .flat()
        .map((v) => v.id),
      Object.values(Views),
    );
  });

  it('declares settings under the dataverse section that the code reads', () => {
    const keys = Object.keys(manifest.contributes.configuration.properties);
    for (const key of [Settings.environments, Settings.traceServer, Settings.emulatorAutoStart]) {
      assert.ok(keys.includes(`${Settings.section}.${key}`), `missing setting ${key}`);
    }
    assert.ok(keys.every((k) => k.startsWith(`${Settings.section}.`)));
  });

  it('contributes the odata language with files that exist', () => {
    const [language] = manifest.contributes.languages;
    assert.equal(language?.id, LANGUAGE_ID);
    assert.deepEqual(language?.extensions, ['.odata']);
    assert.ok(existsSync(path.join(root, language?.configuration ?? '')));
    const grammar = manifest.contributes.grammars.find((g) => g.language === LANGUAGE_ID);
    assert.ok(grammar && existsSync(path.join(root, grammar.path)));
    for (const icon of manifest.contributes.viewsContainers.activitybar.map((c) => c.icon)) {
      assert.ok(existsSync(path.join(root, icon)), icon);
    }
  });

  it('never activates on "*" and names the identity the marketplace expects', () => {
    assert.ok(!manifest.activationEvents.includes('*'));
    assert.equal(manifest.name, 'dataverse-workbench');
    assert.equal(manifest.publisher, 'dataverse-workbench');
    assert.equal(manifest.engines.vscode, '^1.95.0');
    assert.equal(manifest.bin.dvw, 'dist/cli.js');
    assert.equal(manifest.main, './dist/extension.js');
  });

  it('walkthrough steps link to known commands and ship their pages', () => {
    const viewFocus = Object.values(Views).map((view) => `${view}.focus`);
    for (const step of manifest.contributes.walkthroughs.flatMap((w) => w.steps)) {
      for (const link of step.description.match(/command:[\w.]+/g) ?? []) {
        const id = link.slice('command:'.length);
        assert.ok(commandIds.includes(id) || viewFocus.includes(id), `${step.id}: unknown ${link}`);
      }
      if (step.media.markdown) assert.ok(existsSync(path.join(root, step.media.markdown)), step.media.markdown);
    }
  });
});

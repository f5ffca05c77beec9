import * as assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { MetadataCache } from '../../../src/dataverse/metadataCache';
import type { WebApiClient } from '../../../src/dataverse/webApiClient';
import type { RunningEmulator } from '../../../src/emulator/server';
import { checkText } from '../../../src/odata/language/check';
import type { EnvironmentServices, ToolEnvironment, ToolHost } from '../../../src/tools/host';
import { ToolCore } from '../../../src/tools/toolCore';
import { startEmulatorClient } from '../dataverse/emulatorClient';

/** A host over one real emulator and a temporary workspace, as a front end would give it. */
function testHost(
  services: EnvironmentServices,
  workspace: string,
  marks: Partial<ToolEnvironment>,
  lines: string[],
): ToolHost {
  const environment: ToolEnvironment = {
    name: 'sandbox',
    url: services.client.webApiUrl,
    emulator: true,
    production: false,
    readOnly: false,
    agentWrites: false,
    ...marks,
  };
  return {
    environments: () => [environment],
    defaultEnvironment: () => 'sandbox',
    services: () => Promise.resolve(services),
    readWorkspaceFile: (file) => Promise.resolve(readFileSync(path.join(workspace, file), 'utf8')),
    saveWorkspaceFile: async (file, text) => {
      await mkdir(path.dirname(path.join(workspace, file)), { recursive: true });
      writeFileSync(path.join(workspace, file), text, { flag: 'wx' });
      return `Saved ${file}.`;
    },
    log: (line) => lines.push(line),
  };
}

describe('ToolCore against the emulator', function () {
  this.timeout(60_000);
  let emulator: RunningEmulator;
  let client: WebApiClient;
  let services: EnvironmentServices;
  let workspace: string;

  before(async () => {
    ({ emulator, client } = await startEmulatorClient());
    workspace = mkdtempSync(path.join(tmpdir(), 'dvw-tools-'));
    services = { client, metadata: new MetadataCache({ client, directory: workspace }) };
  });
  after(async () => {
    await emulator.close();
    rmSync(workspace, { recursive: true, force: true });
  });

  it('replays an agent session: find → describe → check a wrong query → fix → run → save as .odata', async () => {
    const log: string[] = [];
    const core = new ToolCore(testHost(services, workspace, {}, log));

    const found = await core.call('find_tables', { search: 'opportunity' });
    assert.match(found.text, /^opportunity \(entity set opportunities\) — Opportunity/m);

    const described = await core.call('describe_table', { table: 'opportunity', columns: 'estimated' });
    assert.equal(described.isError, false);
    assert.match(described.text, /^estimatedvalue \| Money \| /m);
    assert.match(described.text, /^estimatedclosedate \| /m);

    const wrong = 'opportunities?$select=name,estimatedvalu&$filter=estimatedvalue gt 1000 and statecod eq 0';
    const checked = await core.call('check_query', { query: wrong });
    assert.equal(checked.isError, false);
    assert.match(checked.text, /^2 error\(s\), 0 warning\(s\) or note\(s\):$/m);
    assert.match(
      checked.text,
      /Unknown column 'estimatedvalu' of opportunity\. Did you mean 'estimatedvalue' or 'estimatedvalue_base'\?/,
    );
    assert.match(checked.text, /fix: Change to 'statecode'/);
    const refused = await core.call('run_query', { query: wrong });
    assert.equal(refused.isError, true);
    assert.match(refused.text, /^Nothing was sent/);

    const fixed =
      'opportunities?$select=name,estimatedvalue&$filter=estimatedvalue gt 1000 and statecode eq 0&$orderby=estimatedvalue desc';
    const clean = await core.call('check_query', { query: fixed });
    assert.match(clean.text, /No problems found/);
    const ran = await core.call('run_query', { query: fixed, maxRows: 3 });
    assert.equal(ran.isError, false, ran.text);
    assert.match(ran.text, /^200 OK — \d+ row\(s\) in total, showing 3\.\nname \| estimatedvalue \| /);

    const saved = await core.call('save_as_odata', {
      path: 'agent/open-opportunities.odata',
      query: fixed,
      title: 'Open opportunities over 1,000',
    });
    assert.equal(saved.text, 'Saved agent/open-opportunities.odata.\n');
    const file = readFileSync(path.join(workspace, 'agent/open-opportunities.odata'), 'utf8');
    assert.equal(file, `### Open opportunities over 1,000\n${fixed}\n`);
    assert.deepEqual(checkText('saved.odata', file, undefined), []);
    assert.deepEqual(
      log.map((line) => line.replace(/ in \d+ ms$/, '')),
      [
        'tool find_tables on sandbox: ok',
        'tool describe_table on sandbox: ok',
        'tool check_query on sandbox: errors found',
        'tool run_query on sandbox: refused (error result)',
        'tool check_query on sandbox: no errors',
        'tool run_query on sandbox: GET opportunities → 200',
        'tool save_as_odata on -: ok',
      ],
    );
  });

  it('offers the write tools only where writes are allowed, and previews exactly what a write sends', async () => {
    assert.equal(new ToolCore(testHost(services, workspace, {}, [])).tools().length, 8);
    const core = new ToolCore(testHost(services, workspace, { agentWrites: true }, []));
    assert.equal(core.tools().length, 10);
    const preview = await core.previewWrite('write_records', {
      operation: 'update',
      table: 'accounts',
      id: '{8F1C4D2E-0B1A-4C6E-9D3F-5A2B7C8E9F01}',
      record: { name: 'Contoso', 'primarycontactid@odata.bind': 'contacts(8f1c4d2e-0b1a-4c6e-9d3f-5a2b7c8e9f02)' },
    });
    assert.deepEqual(preview, {
      ok: true,
      environment: core['host'].environments()[0],
      request: `PATCH ${client.webApiUrl}accounts(8f1c4d2e-0b1a-4c6e-9d3f-5a2b7c8e9f01)\nIf-Match: *\n\n{\n  "name": "Contoso",\n  "primarycontactid@odata.bind": "contacts(8f1c4d2e-0b1a-4c6e-9d3f-5a2b7c8e9f02)"\n}\n`,
    });
  });

  it('refuses writes on production and read-only environments even when agent writes are on', async () => {
    for (const marks of [{ production: true }, { readOnly: true }]) {
      const core = new ToolCore(testHost(services, workspace, { agentWrites: true, ...marks }, []));
      assert.equal(core.tools().length, 8);
      const preview = await core.previewWrite('write_records', {
        operation: 'create',
        table: 'account',
        record: { name: 'x' },
      });
      assert.equal(preview.ok, false);
      const result = await core.call('write_records', { operation: 'create', table: 'account', record: { name: 'x' } });
      assert.equal(result.isError, true);
      assert.match(result.text, /There is no tool 'write_records' here/);
    }
  });
});

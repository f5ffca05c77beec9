import { spawn } from 'node:child_process';
import { statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { MessageConnection } from 'vscode-jsonrpc/node';
import { createMessageConnection, StreamMessageReader, StreamMessageWriter } from 'vscode-jsonrpc/node';
import { loadMetadata } from '../../src/server/languageServer';
import type { Benchmark } from './harness';
import { collectGarbage } from './harness';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const METADATA_PATH = fileURLToPath(
  new URL('../../../shared/fixtures/metadata/dataverse-v9.edmx.xml', import.meta.url),
);

/** What people keep in a scratch file: several blocks, nested `$expand`, filters, headers, bodies. */
const DOCUMENT = `@top = 10
@city = Seattle

### Top accounts with their primary contact
GET accounts?$select=name,revenue,accountnumber,telephone1,address1_city&$filter=revenue gt 1000000 and statecode eq 0 and contains(name,'Contoso')&$orderby=revenue desc&$top={{top}}&$expand=primarycontactid($select=fullname,emailaddress1;$filter=statecode eq 0),owninguser($select=fullname)

### Contacts by city
GET contacts?$select=fullname,emailaddress1,address1_city,jobtitle&$filter=address1_city eq '{{city}}' or startswith(lastname,'Sm')&$orderby=lastname asc,firstname asc
Prefer: odata.maxpagesize=50

### Create an account
POST accounts
Content-Type: application/json

{
  "name": "Fourth Coffee",
  "revenue": 5000000,
  "telephone1": "555-0100",
  "primarycontactid@odata.bind": "/contacts(00000000-0000-0000-0000-000000000001)"
}

### Opportunities with nested expand
GET opportunities?$select=name,estimatedvalue,closeprobability&$expand=parentaccountid($select=name,revenue;$expand=primarycontactid($select=fullname,jobtitle)),customerid_contact($select=fullname)&$filter=estimatedvalue ge 10000 and parentaccountid/revenue gt 500000&$orderby=estimatedvalue desc

### Update a contact
PATCH contacts(00000000-0000-0000-0000-000000000002)
Content-Type: application/json
If-Match: *

{ "jobtitle": "Buyer", "telephone1": "555-0100", "parentcustomerid_account@odata.bind": "/accounts(00000000-0000-0000-0000-000000000003)" }

### Open tasks of an account
GET accounts(00000000-0000-0000-0000-000000000003)/Account_Tasks?$select=subject,scheduledend,prioritycode&$filter=statecode eq 0 and scheduledend lt 2025-01-01T00:00:00Z&$orderby=scheduledend desc&$count=true

### Leads from the web
GET leads?$select=fullname,companyname,leadsourcecode&$filter=leadsourcecode eq 8 and createdon ge 2024-06-01&$top=50
`;

const REQUESTS = 1000;
const WARMUP = 200;
const CHUNK = 100;

/** One `dvw lsp --stdio`, spawned as an editor would. */
async function startServer(): Promise<{ connection: MessageConnection; stop: () => Promise<void> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'lsp', '--stdio'], {
    cwd: ROOT,
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const connection = createMessageConnection(
    new StreamMessageReader(child.stdout),
    new StreamMessageWriter(child.stdin),
  );
  connection.listen();
  await connection.sendRequest('initialize', {
    processId: process.pid,
    rootUri: null,
    // What VS Code declares about completion lists and items.
    capabilities: {
      textDocument: {
        completion: {
          completionItem: { resolveSupport: { properties: ['documentation', 'detail', 'additionalTextEdits'] } },
          completionList: {
            itemDefaults: ['commitCharacters', 'editRange', 'insertTextFormat', 'insertTextMode', 'data'],
          },
        },
      },
    },
    initializationOptions: { metadataPath: METADATA_PATH },
  });
  await connection.sendNotification('initialized', {});
  return {
    connection,
    stop: async () => {
      await connection.sendRequest('shutdown');
      await connection.sendNotification('exit');
      connection.dispose();
      child.kill();
    },
  };
}

function positionAt(text: string, offset: number): { line: number; character: number } {
  const before = text.slice(0, offset);
  const line = before.split('\n').length - 1;
  return { line, character: offset - (before.lastIndexOf('\n') + 1) };
}

/** Round-trip times of `send`, called once per argument, one at a time. */
async function times<T>(inputs: readonly T[], send: (input: T) => Promise<unknown>): Promise<number[]> {
  const result: number[] = [];
  for (const input of inputs) {
    const started = performance.now();
    await send(input);
    result.push(performance.now() - started);
  }
  return result;
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? Number.NaN;
}

/** The bench process's own heap, after a full collection. */
function heapAfterGc(): number {
  collectGarbage();
  return process.memoryUsage().heapUsed;
}

/** The language server's answers on the real metadata, against a trivial request on the same server. */
export const languageBenchmark: Benchmark = {
  name: 'language-server',
  async run() {
    const lines: string[] = [];
    const { connection, stop } = await startServer();
    try {
      const uri = 'file:///bench/requests.odata';
      const trivialUri = 'file:///bench/trivial.odata';
      await connection.sendNotification('textDocument/didOpen', {
        textDocument: { uri, languageId: 'odata', version: 1, text: DOCUMENT },
      });
      await connection.sendNotification('textDocument/didOpen', {
        textDocument: { uri: trivialUri, languageId: 'odata', version: 1, text: 'GET accounts\n' },
      });
      // Loading is in the background; a column completion answers only once it is done.
      const loadStarted = performance.now();
      for (;;) {
        const list: { items: { label: string }[] } | null = await connection.sendRequest('textDocument/completion', {
          textDocument: { uri },
          position: positionAt(DOCUMENT, DOCUMENT.indexOf('revenue,')),
        });
        const items = list?.items ?? [];
        if (items.some((item) => item.label === 'revenue')) break;
        if (performance.now() - loadStarted > 60_000) throw new Error('the server did not load the metadata');
        await new Promise((resolve) => setTimeout(resolve, 50));
      }

      // Evenly spread over the document, so every kind of place is asked about in proportion.
      const positions = Array.from({ length: REQUESTS }, (_, i) =>
        positionAt(DOCUMENT, Math.floor((i * DOCUMENT.length) / REQUESTS)),
      );
      const complete = (position: { line: number; character: number }): Promise<unknown> =>
        connection.sendRequest('textDocument/completion', { textDocument: { uri }, position });
      const trivial = (): Promise<unknown> =>
        connection.sendRequest('textDocument/documentSymbol', { textDocument: { uri: trivialUri } });
      await times(positions.slice(0, WARMUP), complete);
      await times(positions.slice(0, WARMUP), trivial);
      // Alternating chunks, so a burst of load on the shared machine hits both alike.
      const completion: number[] = [];
      const baseline: number[] = [];
      for (let start = 0; start < REQUESTS; start += CHUNK) {
        const chunk = positions.slice(start, start + CHUNK);
        completion.push(...(await times(chunk, complete)));
        baseline.push(...(await times(chunk, trivial)));
      }
      completion.sort((a, b) => a - b);
      baseline.sort((a, b) => a - b);
      for (const p of [50, 95]) {
        const ours = percentile(completion, p);
        const base = percentile(baseline, p);
        lines.push(
          `language-completion p${p}: ${ours.toFixed(2)} ms over ${completion.length} requests, ` +
            `${(ours / base).toFixed(2)}x a trivial request's round trip (documentSymbol of one line, p${p} ${base.toFixed(2)} ms)`,
        );
      }
    } finally {
      await stop();
    }

    // The server keeps the index of the loaded model; measured here, where a collection can be forced.
    const size = statSync(METADATA_PATH).size;
    const before = heapAfterGc();
    const index = await loadMetadata({ metadataPath: METADATA_PATH });
    const after = heapAfterGc();
    const retained = after - before;
    lines.push(
      `language-server-memory: ${(retained / 1e6).toFixed(1)} MB heap kept by the loaded metadata, ` +
        `${(retained / size).toFixed(2)}x the ${(size / 1e6).toFixed(1)} MB file (${index.model.entityTypes.size} entity types)`,
    );
    return lines;
  },
};

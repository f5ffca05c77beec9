import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../../../src/cli/program';
import { checkSnapshotFolder, takeSnapshot } from '../../../src/dataverse/schemaSnapshot';
import type { ClientEvent } from '../../../src/dataverse/webApiClient';
import { webApiRoot } from '../../../src/dataverse/webApiClient';
import { SchemaError } from '../../../src/emulator/schema/schema';
import { loadSnapshot } from '../../../src/emulator/schema/snapshot';
import { startEmulator } from '../../../src/emulator/server';
import type { EmulatorOptions, RunningEmulator } from '../../../src/emulator/server';
import { writeRealSnapshot } from '../emulator/schema/fixtureSnapshot';
import { clientFor, rejection } from './helpers';
import { systemClock } from '../../../src/dataverse/retryPolicy';

/** The snapshot's files by relative path (the manifest without when and where it was taken). */
function contents(folder: string): Map<string, unknown> {
  const files = new Map<string, unknown>();
  files.set('$metadata.xml', readFileSync(join(folder, '$metadata.xml'), 'utf8'));
  for (const name of readdirSync(join(folder, 'tables')).sort()) {
    files.set(`tables/${name}`, JSON.parse(readFileSync(join(folder, 'tables', name), 'utf8')));
  }
  const manifest = JSON.parse(readFileSync(join(folder, 'snapshot.json'), 'utf8')) as Record<string, unknown>;
  files.set('snapshot.json', { ...manifest, takenAt: undefined, source: undefined });
  return files;
}

describe('dvw env snapshot (dataverse/schemaSnapshot) against the emulator, which is a Dataverse', function () {
  this.timeout(120_000);
  let root: string;
  const running: RunningEmulator[] = [];
  before(() => {
    root = mkdtempSync(join(tmpdir(), 'dvw-take-snapshot-'));
  });
  after(async () => {
    await Promise.all(running.map((e) => e.close()));
    rmSync(root, { recursive: true, force: true });
  });

  async function emulatorOn(folder: string, options: EmulatorOptions = {}): Promise<RunningEmulator> {
    const emulator = await startEmulator({ port: 0, seed: 'none', schema: loadSnapshot(folder), ...options });
    running.push(emulator);
    return emulator;
  }

  async function snapshotOf(
    emulator: RunningEmulator,
    folder: string,
    extra: { tables?: string[] } = {},
    onEvent?: (event: ClientEvent) => void,
  ) {
    const lines: string[] = [];
    // The emulator's limits run on the real clock, so the client waits out Retry-After on it too (a fake clock
    // would retry at once and be refused every time).
    const retry = { clock: systemClock };
    const result = await takeSnapshot({
      client: clientFor(emulator.url, emulator.token, onEvent === undefined ? { retry } : { onEvent, retry }),
      source: webApiRoot(emulator.url),
      folder,
      progress: (line) => lines.push(line),
      ...extra,
    });
    return { result, lines };
  }

  it('round-trips: a snapshot of an emulator started from snapshot S is S again', async () => {
    const s0 = writeRealSnapshot(join(root, 's0'), ['account', 'contact', 'task']);
    const s1 = join(root, 's1');
    const { result, lines } = await snapshotOf(await emulatorOn(s0), s1);
    assert.equal(result.reused, 0);
    assert.match(lines.at(-1) ?? '', /snapshot of \d+ tables written to/);
    const first = contents(s0);
    const second = contents(s1);
    assert.equal(second.get('$metadata.xml'), first.get('$metadata.xml'), '$metadata byte for byte');
    assert.deepEqual(second.get('snapshot.json'), {
      ...(first.get('snapshot.json') as object),
      tables: (JSON.parse(readFileSync(join(s1, 'snapshot.json'), 'utf8')) as { tables: unknown }).tables,
    });
    // What S held of account (its real EntityDefinitions) comes back: every value it gave, for every attribute.
    const account = second.get('tables/account.json') as Record<string, unknown>;
    const original = first.get('tables/account.json') as Record<string, unknown>;
    for (const [key, value] of Object.entries(original)) {
      if (value !== null && !Array.isArray(value)) assert.deepEqual(account[key], value, key);
    }
    // Every attribute, virtual ones (no `$metadata` property) included, in the definition's order and as given.
    const attributes = (entity: Record<string, unknown>) => entity.Attributes as Record<string, unknown>[];
    const sent = attributes(original);
    const served = attributes(account);
    assert.deepEqual(
      served.map((a) => a.LogicalName),
      sent.map((a) => a.LogicalName),
    );
    // The fixture comes from RetrieveMetadataChanges, whose attribute types are the Complex… ones; EntityDefinitions
    // names the same types without the prefix.
    const asEntityDefinitions = (a: Record<string, unknown>) => {
      const type = a['@odata.type'];
      if (typeof type !== 'string') return a;
      const plain = type.replace('#Microsoft.Dynamics.CRM.Complex', '#Microsoft.Dynamics.CRM.');
      return { ...a, '@odata.type': plain };
    };
    // Nor has it the GlobalOptionSet navigation, which EntityDefinitions expands for an attribute whose
    // OptionSet is global.
    const expected = (a: Record<string, unknown>) => {
      const plain = asEntityDefinitions(a);
      const set = a.OptionSet as { IsGlobal?: boolean } | undefined;
      if (set?.IsGlobal !== true || a.GlobalOptionSet !== undefined) return plain;
      return { ...plain, GlobalOptionSet: { '@odata.type': '#Microsoft.Dynamics.CRM.OptionSetMetadata', ...set } };
    };
    served.forEach((a, i) => assert.deepEqual(a, expected(sent[i] ?? {}), String(a.LogicalName)));
    // S1 has every table's definitions (the emulator answers for those S lacked): a snapshot of S1 is S1.
    const s2 = join(root, 's2');
    await snapshotOf(await emulatorOn(s1), s2);
    assert.deepEqual(contents(s2), second);
  });

  it('resumes an interrupted download without fetching the finished tables again, and the loader refuses it meanwhile', async () => {
    const emulator = await emulatorOn(writeRealSnapshot(join(root, 'r0'), ['account', 'contact', 'task']));
    const folder = join(root, 'resumed');
    const stop = new AbortController();
    let tables = 0;
    const interrupted = takeSnapshot({
      client: clientFor(emulator.url, emulator.token),
      source: webApiRoot(emulator.url),
      folder,
      signal: stop.signal,
      progress: (line) => {
        if (/^\[\d+\/\d+\]/.test(line) && ++tables === 4) stop.abort();
      },
    });
    await assert.rejects(interrupted);
    assert.throws(
      () => loadSnapshot(folder),
      (error: unknown) => error instanceof SchemaError && /did not finish/.test(error.message),
    );
    const unfinished = await rejection(checkSnapshotFolder(folder));
    assert.equal(unfinished.kind, 'invalidInput');
    assert.equal(
      unfinished.message,
      `The schema snapshot in ${folder} did not finish downloading. Take it again into the same folder to resume it.`,
    );
    const { result } = await snapshotOf(emulator, folder);
    assert.equal(result.reused, 3, 'the three tables finished before the interruption');
    assert.ok(loadSnapshot(folder).tables.has('task'));
    assert.equal((await checkSnapshotFolder(folder)).tables.length, result.tables);
  });

  it('checks a folder before an emulator is started on it, in sentences that say what to do', async () => {
    const empty = join(root, 'not-a-snapshot');
    mkdirSync(empty);
    const missing = await rejection(checkSnapshotFolder(empty));
    assert.equal(missing.kind, 'invalidInput');
    assert.equal(
      missing.message,
      `The folder ${empty} holds no schema snapshot: it has no snapshot.json. Take one with "Take Schema Snapshot…" on an environment, or with dvw env snapshot.`,
    );
    writeFileSync(join(empty, 'snapshot.json'), '{"format": "dvw-schema-snapshot", "ver');
    assert.match((await rejection(checkSnapshotFolder(empty))).message, /snapshot\.json is not valid JSON/);
    writeFileSync(join(empty, 'snapshot.json'), '{"format": "other"}');
    assert.match(
      (await rejection(checkSnapshotFolder(empty))).message,
      /cannot be read: in snapshot\.json, "format" is "other", not "dvw-schema-snapshot": not a schema snapshot\.$/,
    );
  });

  it('honours throttling (429 with Retry-After) and still finishes', async () => {
    const emulator = await emulatorOn(writeRealSnapshot(join(root, 't0'), ['account']), {
      limits: { requests: { count: 6, windowMs: 1000 } },
    });
    const waits: number[] = [];
    const { result } = await snapshotOf(emulator, join(root, 'throttled'), {}, (event) => {
      if (event.type === 'retry' && event.status === 429 && event.source === 'retryAfter') waits.push(event.delayMs);
    });
    assert.ok(result.tables >= 5);
    assert.ok(waits.length > 0, 'the emulator throttled the download and the client waited its Retry-After');
    assert.ok(loadSnapshot(join(root, 'throttled')).tables.has('account'));
  });

  it('--tables keeps a subset and names a pattern that matches nothing', async () => {
    const emulator = await emulatorOn(writeRealSnapshot(join(root, 'p0'), ['account', 'contact', 'task']));
    const folder = join(root, 'subset');
    await snapshotOf(emulator, folder, { tables: ['contact'] });
    const schema = loadSnapshot(folder);
    assert.ok(schema.tables.has('contact') && !schema.tables.has('account'));
    assert.ok(
      !schema.tables.get('contact')?.navigations.has('parentcustomerid_account'),
      'navigations to left-out tables go',
    );
    const error = await rejection(snapshotOf(emulator, join(root, 'none'), { tables: ['nosuch_*'] }));
    assert.equal(error.kind, 'invalidInput');
    assert.match(error.message, /no table matches 'nosuch_\*'/);
  });

  it('dvw env snapshot --url --token --out: progress on stderr, exit 0; a bad --tables exits 2', async () => {
    const emulator = await emulatorOn(writeRealSnapshot(join(root, 'c0'), ['account']));
    let stderr = '';
    const io = { stdout: () => undefined, stderr: (t: string) => (stderr += t) };
    const folder = join(root, 'cli');
    const args = ['env', 'snapshot', '--url', emulator.url, '--token', emulator.token];
    assert.equal(await runCli([...args, '--out', folder], io), 0, stderr);
    assert.match(stderr, /downloading \$metadata/);
    assert.match(stderr, /\[1\/\d+\] /);
    assert.ok(!stderr.includes(emulator.token));
    assert.ok(loadSnapshot(folder).tables.has('account'));
    assert.equal(await runCli([...args, '--out', join(root, 'cli2'), '--tables', 'nosuch'], io), 2);
  });
});

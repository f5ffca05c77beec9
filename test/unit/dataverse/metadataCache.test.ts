import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MetadataCache } from '../../../src/dataverse/metadataCache';
import { CACHE_VERSION } from '../../../src/metadata/serialize';
import type { WebApiClient } from '../../../src/dataverse/webApiClient';
import type { RunningEmulator } from '../../../src/emulator/server';
import { startEmulatorClient } from './emulatorClient';
import { clientFor, rejection } from './helpers';

describe('dataverse/metadataCache against the emulator', () => {
  let emulator: RunningEmulator;
  let client: WebApiClient;
  let directory: string;
  const clock = { current: Date.UTC(2025, 0, 1), now: () => clock.current };

  beforeEach(async () => {
    ({ emulator, client } = await startEmulatorClient());
    directory = await mkdtemp(join(tmpdir(), 'dvw-metadata-'));
  });
  afterEach(async () => {
    await emulator.close();
    await rm(directory, { recursive: true, force: true });
  });

  it('downloads $metadata once, then serves it from memory and from disk even when offline', async () => {
    const cache = new MetadataCache({ client, directory, clock });
    const [a, b] = await Promise.all([cache.get(), cache.get()]);
    assert.equal(a, b, 'concurrent callers share one download');
    assert.equal(a.source, 'network');
    assert.equal(a.fetchedAt, clock.current);
    assert.ok(a.model.entitySets.has('accounts'));
    assert.equal((await cache.get()).source, 'network', 'the same loaded model, from memory');
    assert.equal((await readdir(directory)).length, 1);

    await emulator.close();
    const offline = new MetadataCache({ client, directory, clock });
    const fromDisk = await offline.get();
    assert.equal(fromDisk.source, 'disk');
    assert.equal(fromDisk.fetchedAt, a.fetchedAt);
    assert.deepEqual([...fromDisk.model.entitySets.keys()], [...a.model.entitySets.keys()]);
  });

  it('downloads again when older than the maximum age, or on demand', async () => {
    const cache = new MetadataCache({ client, directory, clock, maxAgeMs: 60_000 });
    await cache.get();
    clock.current += 30_000;
    assert.equal((await new MetadataCache({ client, directory, clock, maxAgeMs: 60_000 }).get()).source, 'disk');
    clock.current += 31_000;
    const stale = await new MetadataCache({ client, directory, clock, maxAgeMs: 60_000 }).get();
    assert.equal(stale.source, 'network');
    assert.equal(stale.fetchedAt, clock.current);
    const refreshed = await cache.refresh();
    assert.equal(refreshed.source, 'network');
  });

  it('ignores a damaged cache file and downloads', async () => {
    await new MetadataCache({ client, directory, clock }).get();
    const [file] = await readdir(directory);
    assert.ok(file);
    await writeFile(join(directory, file), `dvw-metadata-cache-file ${clock.current}\n{"broken":`, 'utf8');
    assert.equal((await new MetadataCache({ client, directory, clock }).get()).source, 'network');
  });

  it('refuses a cache of the previous format version (alternate keys and option states were stored differently) and downloads again', async () => {
    await new MetadataCache({ client, directory, clock }).get();
    const [file] = await readdir(directory);
    assert.ok(file);
    const path = join(directory, file);
    const current = await readFile(path, 'utf8');
    const header = JSON.parse(current.slice(current.indexOf('\n') + 1).split('\n', 1)[0]!) as Record<string, unknown>;
    assert.equal(header.version, CACHE_VERSION);
    const older = current.replace(`"version":${CACHE_VERSION}`, `"version":${CACHE_VERSION - 1}`);
    await writeFile(path, older, 'utf8');
    const reloaded = await new MetadataCache({ client, directory, clock }).get();
    assert.equal(reloaded.source, 'network');
    assert.ok(reloaded.model.entitySets.has('accounts'));
    assert.match(await readFile(path, 'utf8'), new RegExp(`"version":${CACHE_VERSION}[,}]`), 'the file is rewritten');
  });

  it('names primary keys, so creates carry a client key without being told the column', async () => {
    const cache = new MetadataCache({ client, directory, clock });
    assert.equal(await cache.primaryKeyOf('accounts'), 'accountid');
    assert.equal(await cache.primaryKeyOf('nothings'), undefined);
    const fixed = '0f0f0f0f-1111-4222-8333-444455556666';
    const keyed = clientFor(emulator.url, emulator.token, {
      primaryKeyOf: (set, signal) => cache.primaryKeyOf(set, signal),
      newId: () => fixed,
    });
    const created = await keyed.create('accounts', { name: 'Keyed by metadata' });
    assert.equal(created.id, fixed);
    assert.equal((await keyed.retrieve('accounts', fixed)).name, 'Keyed by metadata');
  });

  it('adds EntityDefinitions of one table on first need: display names and choices', async () => {
    const cache = new MetadataCache({ client, directory, clock });
    const before = (await cache.get()).model.entityTypes.get('account');
    assert.equal(before?.info, undefined);
    const model = await cache.withEntityDefinition('account');
    const account = model.entityTypes.get('account');
    assert.equal(account?.info?.primaryIdAttribute, 'accountid');
    assert.equal(typeof account?.info?.displayName, 'string');
    const industry = account?.properties.find((p) => p.name === 'industrycode');
    assert.ok((industry?.info?.options?.length ?? 0) > 0, 'industrycode has its choices');
    const parent = account?.properties.find((p) => p.name === '_parentaccountid_value');
    assert.deepEqual(parent?.info?.targets, ['account'], 'the lookup knows its target');
    assert.equal(model.entityTypes.get('contact')?.info, undefined, 'other tables stay as they were');
    assert.equal(await cache.withEntityDefinition('account'), model);
    assert.equal((await rejection(cache.withEntityDefinition("account')"))).kind, 'invalidInput');
  });

  // "Query table definitions using the Web API", retrieve attributes: one cast per derived type
  // (https://learn.microsoft.com/power-apps/developer/data-platform/webapi/query-metadata-web-api).
  it('adds the options of State, Status and Boolean columns from their casts, as Dataverse serves them', async () => {
    const model = await new MetadataCache({ client, directory, clock }).withEntityDefinition('account');
    const options = (name: string): string[] | undefined =>
      model.entityTypes
        .get('account')
        ?.properties.find((p) => p.name === name)
        ?.info?.options?.map((o) => `${o.value}=${o.label}`);
    assert.deepEqual(options('statecode'), ['0=Active', '1=Inactive']);
    assert.deepEqual(options('statuscode'), ['1=Active', '2=Inactive']);
    // StatusOptionMetadata.State: each status reason names its state.
    const statuscode = model.entityTypes.get('account')?.properties.find((p) => p.name === 'statuscode');
    assert.deepEqual(
      statuscode?.info?.options?.map((o) => o.state),
      [0, 1],
    );
    assert.deepEqual(options('donotemail'), ['0=Allow', '1=Do Not Allow'], 'a Boolean: FalseOption, then TrueOption');
  });
});

/**
 * Requests generated from a real organization's `$metadata` (../shared/fixtures): random tables, columns,
 * filters, orderings and expansions. The emulator started from the snapshot must answer each with 2xx or a
 * Dataverse-coded 4xx, never 5xx; and `dvw check` (the language's diagnostics on the same metadata) must agree
 * with it on which requests are valid. Disagreements known today are listed by kind in KNOWN_DISAGREEMENTS,
 * each with the side that is wrong; a new kind fails the test.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { loadSnapshot } from '../../../src/emulator/schema/snapshot';
import { parseCsdl } from '../../../src/metadata/csdl';
import { MetadataIndex } from '../../../src/metadata/lookup';
import type { EntityType, MetadataModel, Property } from '../../../src/metadata/model';
import { baseChain, entityTables, localTypeName } from '../../../src/metadata/schemaSnapshot';
import { checkText } from '../../../src/odata/language/check';
import type { Client } from './helpers';
import { startClient } from './helpers';
import { writeRealSnapshot } from './schema/fixtureSnapshot';

/** Tables of the real org to draw from: common ones, an activity, a custom publisher's table, an intersect table. */
const TABLES = [
  'account',
  'contact',
  'opportunity',
  'lead',
  'task',
  'email',
  'incident',
  'activitypointer',
  'accountleads',
  'msdyn_ocliveworkitem',
];
const SAMPLES = 150;

/**
 * Kinds of disagreement seen today (`<which side accepts>: <what>`), each naming the side that is wrong. None
 * today: properties of complex type `mscrm.BooleanManagedProperty` (`iscustomizable`), once dropped by the
 * emulator, are selected and filtered on (`iscustomizable/Value`).
 */
const KNOWN_DISAGREEMENTS: ReadonlyMap<string, string> = new Map();

/** The emulator's refusal, by kind: names replaced, and a navigation the metadata declares told apart. */
function refusalKind(model: MetadataModel, text: string): string {
  const message = /"message":"([^"]*)"/.exec(text)?.[1] ?? text.slice(0, 120);
  const missing = /^Could not find a property named '([^']+)'/.exec(message)?.[1];
  if (missing !== undefined) {
    for (const type of model.entityTypes.values()) {
      if (type.navigationProperties.some((n) => n.name === missing)) {
        return 'a navigation property with no lookup column in $metadata';
      }
    }
  }
  return message.replace(/'[^']*'/g, "'…'");
}

interface Generated {
  readonly path: string;
  readonly feature: string;
}

function members(
  model: MetadataModel,
  type: EntityType,
): { properties: Property[]; navigations: EntityType['navigationProperties'][number][] } {
  const chain = [type, ...baseChain(model, type)];
  return {
    properties: chain.flatMap((t) => t.properties),
    navigations: chain.flatMap((t) => t.navigationProperties),
  };
}

function literal(property: Property): fc.Arbitrary<string> | undefined {
  switch (property.type) {
    case 'Edm.String':
      return fc.constantFrom("'Contoso'", "'a''b'", "''");
    case 'Edm.Int32':
    case 'Edm.Int64':
    case 'Edm.Int16':
      return fc.integer({ min: -5, max: 100000 }).map(String);
    case 'Edm.Decimal':
    case 'Edm.Double':
      return fc.constantFrom('0', '1.5', '1000000');
    case 'Edm.Boolean':
      return fc.constantFrom('true', 'false');
    case 'Edm.DateTimeOffset':
      return fc.constant('2024-01-01T00:00:00Z');
    case 'Edm.Date':
      return fc.constant('2024-01-01');
    case 'Edm.Guid':
      return fc.constant('00000000-0000-0000-0000-000000000001');
    default:
      return undefined;
  }
}

function requests(model: MetadataModel): fc.Arbitrary<Generated> {
  // Every table with something to select and filter on (a few intersect tables have only their keys).
  const all = entityTables(model).filter((t) => {
    const { properties } = members(model, t.type);
    return properties.length >= 3 && properties.some((p) => literal(p) !== undefined);
  });
  // Half the draws from the tables named above, half from any table of the org.
  const tables = fc.oneof(
    fc.constantFrom(...all.filter((t) => TABLES.includes(t.logicalName))),
    fc.constantFrom(...all),
  );
  return tables.chain((table) => {
    const { properties, navigations } = members(model, table.type);
    const filterable = properties.filter((p) => literal(p) !== undefined);
    const select = fc
      .subarray(
        properties.map((p) => p.name),
        { minLength: 1, maxLength: 3 },
      )
      .map((names) => ({
        path: `$select=${names.join(',')}`,
        feature: 'select',
      }));
    const filter = fc.constantFrom(...filterable).chain((p) => {
      const value = literal(p) ?? fc.constant('null');
      const ops =
        p.type === 'Edm.String'
          ? ['eq', 'ne', 'contains', 'startswith']
          : p.type === 'Edm.Boolean' || p.type === 'Edm.Guid'
            ? ['eq', 'ne']
            : ['eq', 'ne', 'gt', 'le'];
      return fc.tuple(fc.constantFrom(...ops), value).map(([op, v]) => ({
        path:
          op === 'contains' || op === 'startswith' ? `$filter=${op}(${p.name},${v})` : `$filter=${p.name} ${op} ${v}`,
        feature: `filter ${op} ${p.type}`,
      }));
    });
    // A managed property (complex type) is compared through its Boolean Value
    // (https://learn.microsoft.com/power-apps/developer/data-platform/webapi/reference/booleanmanagedproperty).
    const managed = properties.filter((p) => localTypeName(model, p.type) === 'BooleanManagedProperty');
    const managedFilter = fc
      .tuple(fc.constantFrom(...(managed.length > 0 ? managed : filterable)), fc.constantFrom('true', 'false'))
      .map(([p, v]) => ({
        path: managed.includes(p) ? `$filter=${p.name}/Value eq ${v}` : `$filter=${p.name} ne null`,
        feature: managed.includes(p) ? 'filter managed property Value' : 'filter ne null',
      }));
    const nullFilter = fc
      .constantFrom(...filterable)
      .map((p) => ({ path: `$filter=${p.name} eq null`, feature: 'filter eq null' }));
    const orderby = fc.tuple(fc.constantFrom(...filterable), fc.constantFrom('asc', 'desc')).map(([p, d]) => ({
      path: `$orderby=${p.name} ${d}`,
      feature: `orderby ${p.type}`,
    }));
    const expand = navigations.map((n) => {
      const target = model.entityTypes.get(localTypeName(model, n.type) ?? '');
      const inner = target === undefined ? undefined : members(model, target).properties[0];
      return {
        path: `$expand=${n.name}${inner === undefined ? '' : `($select=${inner.name})`}`,
        feature: n.collection ? 'expand collection' : 'expand single',
      };
    });
    const top = fc.integer({ min: 1, max: 20 }).map((n) => ({ path: `$top=${n}`, feature: 'top' }));
    return fc
      .array(
        fc.oneof(
          select,
          filter,
          managedFilter,
          nullFilter,
          orderby,
          top,
          ...(expand.length === 0 ? [] : [fc.constantFrom(...expand)]),
        ),
        { minLength: 1, maxLength: 3 },
      )
      .map((parts) => {
        const options = new Map<string, Generated>();
        for (const part of parts) options.set(part.path.slice(0, part.path.indexOf('=')), part);
        return {
          path: `${table.entitySetName}?${[...options.values()].map((o) => o.path).join('&')}`,
          feature: [...options.values()].map((o) => o.feature).join(' + '),
        };
      });
  });
}

describe('requests generated from the real metadata: the emulator never fails, and dvw check agrees with it', function () {
  this.timeout(300_000);
  let folder: string;
  let client: Client;
  let index: MetadataIndex;
  let model: MetadataModel;
  before(async () => {
    folder = writeRealSnapshot(mkdtempSync(join(tmpdir(), 'dvw-real-requests-')));
    client = await startClient({ schema: loadSnapshot(folder), seed: 'sample' });
    // The emulator serves the snapshot's (trimmed) document: generate from and check against the same.
    model = parseCsdl(readFileSync(join(folder, '$metadata.xml'), 'utf8')).model;
    index = new MetadataIndex(model);
  });
  after(async () => {
    await client.emulator.close();
    rmSync(folder, { recursive: true, force: true });
  });

  it(`answers ${SAMPLES} generated queries with 2xx or a Dataverse-coded 4xx, and dvw check agrees on which are valid`, async () => {
    const failures: string[] = [];
    const disagreements = new Map<string, string[]>();
    for (const request of fc.sample(requests(model), SAMPLES)) {
      const response = await client.request('GET', request.path);
      const text = await response.text();
      if (response.status >= 500) failures.push(`${response.status} for GET ${request.path}: ${text.slice(0, 300)}`);
      // Dataverse answers URL errors the OData library finds with code 0x0, its own checks with 0x8004….
      else if (response.status >= 400 && !/"code":"0x[0-9a-fA-F]{1,8}"/.test(text)) {
        failures.push(
          `${response.status} without a Dataverse error code for GET ${request.path}: ${text.slice(0, 200)}`,
        );
      }
      // What `dvw check` reports on a file holding the request (its engine, on the same metadata).
      const errors = checkText('generated.odata', `GET ${request.path}\n`, index).filter((f) => f.severity === 'error');
      const emulatorAccepts = response.status < 400;
      if (emulatorAccepts === (errors.length === 0)) continue;
      const kind = emulatorAccepts
        ? `check refuses what the emulator accepts: ${errors.map((e) => e.code).join(',')}`
        : `check accepts what the emulator refuses: ${refusalKind(model, text)}`;
      const list = disagreements.get(kind) ?? [];
      list.push(
        `GET ${request.path}${emulatorAccepts ? ` — ${errors.map((e) => e.message).join('; ')}` : ` — ${text.slice(0, 200)}`}`,
      );
      disagreements.set(kind, list);
    }
    assert.deepEqual(failures, []);
    const unknown = [...disagreements].filter(([kind]) => !KNOWN_DISAGREEMENTS.has(kind));
    assert.deepEqual(
      unknown.map(([kind, examples]) => `${kind}\n      e.g. ${examples.slice(0, 2).join('\n      e.g. ')}`),
      [],
    );
  });
});

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseCsdl } from '../../../src/metadata/csdl';
import type { EntityType, MetadataModel, NavigationProperty, Property } from '../../../src/metadata/model';
import { builtinSchema } from '../../../src/emulator/schema/snapshot';

const REAL_METADATA = new URL('../../../../shared/fixtures/metadata/dataverse-v9.edmx.xml', import.meta.url);

function unqualified(type: string): string {
  return type.replace(/^(Microsoft\.Dynamics\.CRM|mscrm)\./, '');
}

/** Properties and navigation properties of a type including those inherited from its base types. */
function members(
  model: MetadataModel,
  typeName: string,
): { properties: Map<string, Property>; navigations: Map<string, NavigationProperty> } {
  const properties = new Map<string, Property>();
  const navigations = new Map<string, NavigationProperty>();
  let type: EntityType | undefined = model.entityTypes.get(typeName);
  const seen = new Set<string>();
  while (type !== undefined && !seen.has(type.name)) {
    seen.add(type.name);
    for (const p of type.properties) if (!properties.has(p.name)) properties.set(p.name, p);
    for (const n of type.navigationProperties) if (!navigations.has(n.name)) navigations.set(n.name, n);
    type = type.baseType === undefined ? undefined : model.entityTypes.get(unqualified(type.baseType));
  }
  return { properties, navigations };
}

describe('emulator $metadata against a real Dataverse $metadata', function () {
  let real: MetadataModel;
  let ours: MetadataModel;

  before(function () {
    const realResult = parseCsdl(readFileSync(REAL_METADATA, 'utf8'));
    real = realResult.model;
    // The built-in snapshot's $metadata, which the emulator serves as is (scripts/make-builtin-snapshot.ts).
    const served = builtinSchema().csdl;
    assert.ok(served !== undefined, 'the built-in schema carries its $metadata');
    const ourResult = parseCsdl(served);
    assert.deepEqual(ourResult.errors, [], 'the project parser loads the built-in $metadata without errors');
    ours = ourResult.model;
  });

  it('is shaped like Dataverse: namespace, alias, base type, container', function () {
    assert.equal(ours.namespace, 'Microsoft.Dynamics.CRM');
    assert.equal(ours.alias, 'mscrm');
    assert.equal(ours.entityTypes.get('crmbaseentity')?.abstract, true);
    assert.equal(ours.entityTypes.get('account')?.baseType, 'mscrm.crmbaseentity');
    assert.deepEqual(ours.entityTypes.get('account')?.key, ['accountid']);
    assert.equal(ours.entityTypes.get('systemuser')?.baseType, 'mscrm.principal');
    assert.ok(ours.operations.has('WhoAmI'));
  });

  it('exposes at least the required tables', function () {
    for (const set of [
      'accounts',
      'contacts',
      'opportunities',
      'tasks',
      'systemusers',
      'teams',
      'businessunits',
      'transactioncurrencies',
    ]) {
      assert.ok(ours.entitySets.has(set), set);
    }
  });

  it('every entity set exists in real Dataverse with the same entity type', function () {
    for (const [name, set] of ours.entitySets) {
      assert.equal(real.entitySets.get(name)?.entityType, set.entityType, `entity set ${name}`);
    }
  });

  it('every property exists in real Dataverse with the same Edm type', function () {
    let checked = 0;
    const problems: string[] = [];
    for (const type of ours.entityTypes.values()) {
      if (!real.entityTypes.has(type.name)) {
        problems.push(`entity type ${type.name} is not in the real $metadata`);
        continue;
      }
      const realMembers = members(real, type.name);
      for (const property of type.properties) {
        checked += 1;
        const realProperty = realMembers.properties.get(property.name);
        if (realProperty === undefined) problems.push(`${type.name}.${property.name} does not exist`);
        else if (realProperty.type !== property.type) {
          problems.push(`${type.name}.${property.name}: ${property.type}, real ${realProperty.type}`);
        }
      }
    }
    assert.deepEqual(problems, []);
    assert.ok(checked > 200, `checked ${checked} properties`);
  });

  it('every navigation property exists in real Dataverse with the same target, cardinality and partner', function () {
    let checked = 0;
    const problems: string[] = [];
    for (const type of ours.entityTypes.values()) {
      const realMembers = members(real, type.name);
      for (const navigation of type.navigationProperties) {
        checked += 1;
        const realNavigation = realMembers.navigations.get(navigation.name);
        if (realNavigation === undefined) {
          problems.push(`${type.name}.${navigation.name} does not exist`);
          continue;
        }
        if (
          unqualified(realNavigation.type) !== unqualified(navigation.type) ||
          realNavigation.collection !== navigation.collection
        ) {
          problems.push(`${type.name}.${navigation.name}: ${navigation.type}, real ${realNavigation.type}`);
        }
        if (realNavigation.partner !== navigation.partner) {
          problems.push(
            `${type.name}.${navigation.name}: partner ${navigation.partner}, real ${realNavigation.partner}`,
          );
        }
      }
    }
    assert.deepEqual(problems, []);
    assert.ok(checked > 100, `checked ${checked} navigation properties`);
  });
});

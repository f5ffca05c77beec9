import * as assert from 'node:assert/strict';
import type { MetadataIndex } from '../../../../src/metadata/lookup';
import type { EntityType } from '../../../../src/metadata/model';
import { parseDocument } from '../../../../src/odata/document/parser';
import { documentDiagnostics } from '../../../../src/odata/language/diagnostics';
import { lookupLogicalName } from '../../../../src/metadata/columnNames';
import { realMetadata } from './metadata';

const ID = '00000000-0000-0000-0000-000000000001';

/**
 * Documented request shapes, built for every table of a real organization's `$metadata`. Each is one
 * Dataverse accepts (pages of https://learn.microsoft.com/power-apps/developer/data-platform/webapi/):
 * - query/select-columns: `accounts?$select=name,revenue`, the key always selectable;
 * - retrieve-entity-using-web-api: `accounts(<guid>)?$select=…`, single-valued navigation paths;
 * - query/filter-rows: `_x_value eq <guid>`, and Dataverse query functions, whose PropertyName is the
 *   column's logical name (reference/in: `In(PropertyName='…',PropertyValues=[…])`);
 * - query/join-tables: `$expand` of single-valued and collection-valued navigation properties, with `$select`;
 * - query/order-rows: `$orderby=<column> desc`;
 * - create-entity-web-api / associate-disassociate-entities-using-web-api: bodies with columns and `x@odata.bind`;
 * - use-web-api-functions / query-data-web-api ("a collection returned by a function"): unbound functions
 *   returning Collection(<entity>), with `$select` of the returned table's key.
 */
function documentedRequests(index: MetadataIndex): string[] {
  const requests: string[] = [];
  for (const set of index.model.entitySets.values()) {
    const type = index.entityTypeOfSet(set);
    if (!type) continue;
    const key = index.key(type);
    const properties = index.properties(type);
    const keyProperty = key.length === 1 ? index.property(type, key[0]!) : undefined;
    const lookup = properties.find((p) => lookupLogicalName(p.name) !== undefined);
    const column = properties.find((p) => p.type === 'Edm.String' && lookupLogicalName(p.name) === undefined);
    const navigations = index.navigationProperties(type);
    const single = navigations.find((n) => !n.collection && n.referentialConstraints.length > 0);
    const many = navigations.find((n) => n.collection);
    if (keyProperty) requests.push(`GET ${set.name}?$select=${keyProperty.name}`);
    if (keyProperty?.type === 'Edm.Guid') {
      requests.push(`GET ${set.name}(${ID})${column ? `?$select=${column.name}` : ''}`);
      if (single) requests.push(`GET ${set.name}(${ID})/${single.name}${selectKey(index, single.type)}`);
      if (many) requests.push(`GET ${set.name}(${ID})/${many.name}${selectKey(index, many.type)}`);
    }
    if (lookup) {
      requests.push(`GET ${set.name}?$filter=${lookup.name} eq ${ID}`);
      requests.push(
        `GET ${set.name}?$filter=Microsoft.Dynamics.CRM.In(PropertyName='${lookupLogicalName(lookup.name)!}',PropertyValues=['${ID}'])`,
      );
    }
    if (properties.some((p) => p.name === '_ownerid_value')) {
      requests.push(`GET ${set.name}?$filter=Microsoft.Dynamics.CRM.EqualUserId(PropertyName='ownerid')`);
    }
    if (column) requests.push(`GET ${set.name}?$select=${column.name}&$orderby=${column.name} desc&$top=5`);
    for (const navigation of [single, many]) {
      if (!navigation) continue;
      const target = index.entityType(navigation.type);
      const targetKey = target && index.key(target)[0];
      requests.push(
        `GET ${set.name}?$expand=${navigation.name}${targetKey ? `($select=${targetKey})` : ''}` +
          (keyProperty ? `&$select=${keyProperty.name}` : ''),
      );
    }
    if (many)
      requests.push(
        `GET ${set.name}?$filter=${many.name}/any(x:x/${index.key(index.entityType(many.type)!)[0] ?? 'x'} ne null)`,
      );
    const bindTarget = single && index.entitySetOf(single.type);
    if (column || bindTarget) {
      const members = [
        ...(column ? [`"${column.name}": "x"`] : []),
        ...(single && bindTarget ? [`"${single.name}@odata.bind": "/${bindTarget.name}(${ID})"`] : []),
      ];
      requests.push(`POST ${set.name}\nContent-Type: application/json\n\n{ ${members.join(', ')} }`);
    }
  }
  for (const [name, overloads] of index.model.operations) {
    const fn = overloads.find((o) => !o.bound && o.kind === 'function');
    const returned = fn?.returnType && /^Collection\((.*)\)$/.exec(fn.returnType)?.[1];
    const type: EntityType | undefined = returned ? index.entityType(returned) : undefined;
    const typeKey = type && index.key(type)[0];
    if (!fn || !typeKey) continue;
    const parameters = fn.parameters.map((p, i) => `${p.name}=@p${i}`).join(',');
    const aliases = fn.parameters.map((_, i) => `&@p${i}=null`).join('');
    requests.push(`GET ${name}(${parameters})?$select=${typeKey}${aliases}`);
  }
  return requests;
}

function selectKey(index: MetadataIndex, typeName: string): string {
  const target = index.entityType(typeName);
  const key = target && index.key(target)[0];
  return key ? `?$select=${key}` : '';
}

describe('the language on a real organization: no false errors on documented requests', function () {
  this.timeout(120000);

  it('finds no error in thousands of documented request shapes over every table of the real $metadata', () => {
    const index = realMetadata();
    const requests = documentedRequests(index);
    assert.ok(requests.length > 5000, `only ${requests.length} requests`);
    const text = requests.join('\n\n###\n');
    const errors = documentDiagnostics(parseDocument(text), { metadata: index }).filter((d) => d.severity === 'error');
    const shown = errors.slice(0, 10).map((d) => {
      const line = text.lastIndexOf('\n', d.span.start) + 1;
      return `${d.code}: ${d.message}\n    in ${text.slice(line, text.indexOf('\n', d.span.start))}`;
    });
    assert.deepEqual(shown, [], `${errors.length} false errors`);
  });
});

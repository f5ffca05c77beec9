import type { Column, ColumnType, Navigation, Schema, Table } from './schema/schema';
import { isLookupType } from './schema/schema';

/** A tiny streaming XML writer: every attribute value and text node is escaped, names are checked. */
export class XmlWriter {
  private readonly parts: string[] = ['<?xml version="1.0" encoding="utf-8"?>'];
  private readonly open: string[] = [];

  start(name: string, attributes: Readonly<Record<string, string | undefined>> = {}, selfClosing = false): this {
    this.parts.push(`<${checkName(name)}${renderAttributes(attributes)}${selfClosing ? ' />' : '>'}`);
    if (!selfClosing) this.open.push(name);
    return this;
  }

  empty(name: string, attributes: Readonly<Record<string, string | undefined>> = {}): this {
    return this.start(name, attributes, true);
  }

  text(value: string): this {
    this.parts.push(escapeXml(value));
    return this;
  }

  end(): this {
    const name = this.open.pop();
    if (name === undefined) throw new Error('XmlWriter: end() without an open element');
    this.parts.push(`</${name}>`);
    return this;
  }

  toString(): string {
    if (this.open.length > 0) throw new Error(`XmlWriter: unclosed <${this.open.join('>, <')}>`);
    return this.parts.join('');
  }
}

const XML_NAME = /^[A-Za-z_][A-Za-z0-9_.:-]*$/;

function checkName(name: string): string {
  if (!XML_NAME.test(name)) throw new Error(`XmlWriter: invalid XML name '${name}'`);
  return name;
}

export function escapeXml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => {
    switch (c) {
      case '&':
        return '&amp;';
      case '<':
        return '&lt;';
      case '>':
        return '&gt;';
      case '"':
        return '&quot;';
      default:
        return '&apos;';
    }
  });
}

function renderAttributes(attributes: Readonly<Record<string, string | undefined>>): string {
  let out = '';
  for (const [name, value] of Object.entries(attributes)) {
    if (value !== undefined) out += ` ${checkName(name)}="${escapeXml(value)}"`;
  }
  return out;
}

export const NAMESPACE = 'Microsoft.Dynamics.CRM';
export const ALIAS = 'mscrm';

export function edmType(type: ColumnType): string {
  switch (type) {
    case 'string':
    case 'memo':
    case 'choices':
      return 'Edm.String';
    case 'integer':
    case 'choice':
    case 'state':
    case 'status':
      return 'Edm.Int32';
    case 'bigint':
      return 'Edm.Int64';
    case 'decimal':
    case 'currency':
      return 'Edm.Decimal';
    case 'float':
      return 'Edm.Double';
    case 'boolean':
      return 'Edm.Boolean';
    case 'datetime':
      return 'Edm.DateTimeOffset';
    case 'dateonly':
      return 'Edm.Date';
    case 'uniqueidentifier':
    case 'lookup':
    case 'customer':
    case 'owner':
      return 'Edm.Guid';
    case 'binary':
      return 'Edm.Binary';
    case 'managedproperty':
      return `${NAMESPACE}.BooleanManagedProperty`;
  }
}

/** The JSON/CSDL property name of a column: lookups appear as `_x_value`. */
export function propertyName(column: Column): string {
  return isLookupType(column.type) ? `_${column.name}_value` : column.name;
}

function writeProperty(xml: XmlWriter, name: string, type: string): void {
  // Real Dataverse marks every string ASCII-only in CSDL and leaves decimal scale open; match it.
  xml.empty('Property', {
    Name: name,
    Type: type,
    Unicode: type === 'Edm.String' ? 'false' : undefined,
    Scale: type === 'Edm.Decimal' ? 'Variable' : undefined,
  });
}

function writeNavigation(xml: XmlWriter, schema: Schema, navigation: Navigation): void {
  switch (navigation.kind) {
    case 'single': {
      const referenced =
        navigation.target === 'principal' ? 'ownerid' : schema.tables.get(navigation.target)?.primaryIdAttribute;
      xml.start('NavigationProperty', {
        Name: navigation.name,
        Type: `${ALIAS}.${navigation.target}`,
        Nullable: 'false',
        Partner: navigation.partner,
      });
      if (referenced !== undefined) {
        xml.empty('ReferentialConstraint', {
          Property: propertyName(navigation.column),
          ReferencedProperty: referenced,
        });
      }
      xml.end();
      return;
    }
    case 'collection':
      xml.empty('NavigationProperty', {
        Name: navigation.name,
        Type: `Collection(${ALIAS}.${navigation.source})`,
        Partner: navigation.partner,
      });
      return;
    case 'manyToMany':
      // N:N navigation properties are their own partner in Dataverse's CSDL.
      xml.empty('NavigationProperty', {
        Name: navigation.name,
        Type: `Collection(${ALIAS}.${navigation.target})`,
        Partner: navigation.name,
      });
      return;
  }
}

function writeAlternateKeys(xml: XmlWriter, table: Table): void {
  if (table.alternateKeys.length === 0) return;
  xml.start('Annotation', { Term: 'Keys.AlternateKeys' }).start('Collection');
  for (const key of table.alternateKeys) {
    xml.start('Record', { Type: 'Keys.AlternateKey' }).start('PropertyValue', { Property: 'Key' }).start('Collection');
    for (const column of key.columns) {
      const c = table.columns.get(column);
      const name = c === undefined ? column : propertyName(c);
      xml
        .start('Record', { Type: 'Keys.PropertyRef' })
        .empty('PropertyValue', { Property: 'Alias', String: name })
        .empty('PropertyValue', { Property: 'Name', PropertyPath: name })
        .end();
    }
    xml.end().end().end();
  }
  xml.end().end();
}

function writeEntityType(xml: XmlWriter, schema: Schema, table: Table): void {
  const principal = table.baseType === 'principal';
  xml.start('EntityType', {
    Name: table.logicalName,
    BaseType: `${ALIAS}.${table.baseType ?? 'crmbaseentity'}`,
  });
  xml
    .start('Key')
    .empty('PropertyRef', { Name: principal ? 'ownerid' : table.primaryIdAttribute })
    .end();
  for (const column of table.columns.values()) {
    if (column.name === 'versionnumber' && !table.versionNumberInMetadata) continue;
    // Declared once, on principal.
    if (principal && column.name === 'ownerid') continue;
    writeProperty(xml, propertyName(column), edmType(column.type));
  }
  for (const navigation of table.navigations.values()) writeNavigation(xml, schema, navigation);
  writeAlternateKeys(xml, table);
  xml.end();
}

/** `$metadata` for the schema, shaped like a real Dataverse org's (namespace, base types, container name). */
export function generateCsdl(schema: Schema): string {
  const xml = new XmlWriter();
  xml.start('edmx:Edmx', { Version: '4.0', 'xmlns:edmx': 'http://docs.oasis-open.org/odata/ns/edmx' });
  for (const [uri, namespace, alias] of [
    ['http://vocabularies.odata.org/OData.Community.Keys.V1.xml', 'OData.Community.Keys.V1', 'Keys'],
    ['http://vocabularies.odata.org/OData.Community.Display.V1.xml', 'OData.Community.Display.V1', 'Display'],
  ] as const) {
    xml
      .start('edmx:Reference', { Uri: uri })
      .empty('edmx:Include', { Namespace: namespace, Alias: alias })
      .empty('edmx:IncludeAnnotations', { TermNamespace: namespace })
      .end();
  }
  xml.start('edmx:DataServices');
  xml.start('Schema', { Namespace: NAMESPACE, Alias: ALIAS, xmlns: 'http://docs.oasis-open.org/odata/ns/edm' });
  xml.empty('EntityType', { Name: 'crmbaseentity', Abstract: 'true' });
  xml.empty('EntityType', { Name: 'expando', BaseType: `${ALIAS}.crmbaseentity`, OpenType: 'true' });
  xml.start('EntityType', { Name: 'principal', BaseType: `${ALIAS}.crmbaseentity`, Abstract: 'true' });
  xml.start('Key').empty('PropertyRef', { Name: 'ownerid' }).end();
  writeProperty(xml, 'ownerid', 'Edm.Guid');
  for (const navigation of schema.principalNavigations) writeNavigation(xml, schema, navigation);
  xml.end();
  for (const table of schema.tables.values()) writeEntityType(xml, schema, table);
  xml.start('ComplexType', { Name: 'WhoAmIResponse' });
  for (const name of ['BusinessUnitId', 'UserId', 'OrganizationId']) writeProperty(xml, name, 'Edm.Guid');
  xml.end();
  xml.start('ComplexType', { Name: 'RetrieveVersionResponse' });
  writeProperty(xml, 'Version', 'Edm.String');
  xml.end();
  xml.start('ComplexType', { Name: 'EntityRecordCountCollection' });
  writeProperty(xml, 'Count', 'Edm.Int32');
  writeProperty(xml, 'IsReadOnly', 'Edm.Boolean');
  writeProperty(xml, 'Keys', 'Collection(Edm.String)');
  writeProperty(xml, 'Values', 'Collection(Edm.Int64)');
  xml.end();
  xml.start('ComplexType', { Name: 'RetrieveTotalRecordCountResponse' });
  writeProperty(xml, 'EntityRecordCountCollection', `${ALIAS}.EntityRecordCountCollection`);
  xml.end();
  // The functions routes/operations.ts answers, declared as Dataverse declares them.
  for (const name of ['WhoAmI', 'RetrieveVersion']) {
    xml
      .start('Function', { Name: name })
      .empty('ReturnType', { Type: `${ALIAS}.${name}Response`, Nullable: 'false' })
      .end();
  }
  xml
    .start('Function', { Name: 'RetrieveTotalRecordCount' })
    .empty('Parameter', { Name: 'EntityNames', Type: 'Collection(Edm.String)', Nullable: 'false' })
    .empty('ReturnType', { Type: `${ALIAS}.RetrieveTotalRecordCountResponse`, Nullable: 'false' })
    .end();
  xml.start('EntityContainer', { Name: 'System' });
  for (const table of schema.tables.values()) writeEntitySet(xml, schema, table);
  for (const name of ['WhoAmI', 'RetrieveVersion', 'RetrieveTotalRecordCount']) {
    xml.empty('FunctionImport', { Name: name, Function: `${NAMESPACE}.${name}` });
  }
  xml.end().end().end().end();
  return xml.toString();
}

function writeEntitySet(xml: XmlWriter, schema: Schema, table: Table): void {
  xml.start('EntitySet', { Name: table.entitySetName, EntityType: `${NAMESPACE}.${table.logicalName}` });
  for (const navigation of table.navigations.values()) {
    const targetTable =
      navigation.kind === 'single'
        ? schema.tables.get(navigation.target)
        : navigation.kind === 'collection'
          ? schema.tables.get(navigation.source)
          : schema.tables.get(navigation.target);
    if (targetTable !== undefined) {
      xml.empty('NavigationPropertyBinding', { Path: navigation.name, Target: targetTable.entitySetName });
    }
  }
  if (table.changeTracking) {
    xml
      .start('Annotation', { Term: 'Org.OData.Capabilities.V1.ChangeTracking' })
      .start('Record')
      .empty('PropertyValue', { Property: 'Supported', Bool: 'true' })
      .end()
      .end();
  }
  xml.end();
}

/** What a `--schema` file adds to a schema read from a `$metadata` document (schema/extension.ts). */
export interface CsdlAdditions {
  readonly tables: readonly Table[];
  /** Per existing entity type: the columns and navigation properties added to it. */
  readonly members: ReadonlyMap<
    string,
    { readonly columns: readonly Column[]; readonly navigations: readonly Navigation[] }
  >;
  readonly principalNavigations: readonly Navigation[];
}

function fragment(write: (xml: XmlWriter) => void): string {
  const xml = new XmlWriter();
  write(xml);
  return xml.toString().replace(/^<\?xml[^>]*\?>/, '');
}

/** Inserts `text` where an entity type's members start: after its `<Key>`, else after its opening tag. */
function insertMembers(document: string, type: string, text: string): string {
  const open = new RegExp(`<EntityType Name="${type}"[^>]*?(/?)>`).exec(document);
  if (open === null) return document;
  const start = open.index + open[0].length;
  if (open[1] === '/') {
    const element = `${open[0].slice(0, -2).trimEnd()}>${text}</EntityType>`;
    return document.slice(0, open.index) + element + document.slice(start);
  }
  const end = document.indexOf('</EntityType>', start);
  const key = document.indexOf('</Key>', start);
  const at = key !== -1 && key < end ? key + '</Key>'.length : start;
  return document.slice(0, at) + text + document.slice(at);
}

/**
 * A served `$metadata` document (a snapshot's) with what a `--schema` file adds spliced in, written as
 * `generateCsdl` writes it: new entity types before the container, their entity sets at its start, new
 * properties and navigation properties into the existing types.
 */
export function extendCsdl(document: string, schema: Schema, additions: CsdlAdditions): string {
  let out = document;
  for (const [type, members] of additions.members) {
    const text = fragment((xml) => {
      for (const column of members.columns) writeProperty(xml, propertyName(column), edmType(column.type));
      for (const navigation of members.navigations) writeNavigation(xml, schema, navigation);
    });
    out = insertMembers(out, type, text);
  }
  if (additions.principalNavigations.length > 0) {
    const text = fragment((xml) => {
      for (const navigation of additions.principalNavigations) writeNavigation(xml, schema, navigation);
    });
    out = insertMembers(out, 'principal', text);
  }
  const types = fragment((xml) => {
    for (const table of additions.tables) writeEntityType(xml, schema, table);
  });
  const container = /<EntityContainer\b[^>]*>/.exec(out);
  if (container === null) return out;
  const sets = fragment((xml) => {
    for (const table of additions.tables) writeEntitySet(xml, schema, table);
  });
  const afterContainer = container.index + container[0].length;
  return (
    out.slice(0, container.index) +
    types +
    out.slice(container.index, afterContainer) +
    sets +
    out.slice(afterContainer)
  );
}

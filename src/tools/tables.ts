import type { WebApiClient } from '../dataverse/webApiClient';
import { isJsonObject } from '../core/json';
import { MetadataIndex, didYouMean } from '../metadata/lookup';
import type { AlternateKey, EntitySet, EntityType, MetadataModel, OptionValue, Property } from '../metadata/model';
import { cellText, withinBudget } from './format';
import { ToolRefusal } from './refusal';

/** One index per loaded model: building it over the 8.5 MB real metadata is not free. */
const indexes = new WeakMap<MetadataModel, MetadataIndex>();

export function indexOf(model: MetadataModel): MetadataIndex {
  let index = indexes.get(model);
  if (index === undefined) {
    index = new MetadataIndex(model);
    indexes.set(model, index);
  }
  return index;
}

export interface ResolvedTable {
  readonly type: EntityType;
  readonly set: EntitySet;
}

/** A table named by logical name or entity set name, any case; unknown names are refused with suggestions. */
export function resolveTable(index: MetadataIndex, name: string): ResolvedTable {
  const wanted = name.trim();
  // Exact names first: a miss of `find…` scores every name of the model for suggestions, which was
  // most of a call's time on real metadata ('account' is no entity set, 'accounts' no entity type).
  const exactSet = index.entitySet(wanted);
  const byType = exactSet === undefined ? index.findEntityType(wanted).match : undefined;
  const bySet = exactSet ?? (byType === undefined ? index.findEntitySet(wanted).match : undefined);
  const type = byType ?? (bySet === undefined ? undefined : index.entityTypeOfSet(bySet));
  const set = bySet ?? (byType === undefined ? undefined : index.entitySetOf(byType));
  if (type !== undefined && set !== undefined) return { type, set };
  if (type !== undefined) throw new ToolRefusal(`The table '${type.name}' has no entity set: it cannot be queried.`);
  const suggestions = didYouMean(wanted, [...index.model.entityTypes.keys(), ...index.model.entitySets.keys()], 5);
  throw new ToolRefusal(
    `There is no table '${wanted}'.${suggestions.length > 0 ? ` Did you mean ${suggestions.join(', ')}?` : ''} Use find_tables to search by display name.`,
  );
}

/** Display names and descriptions of every table, from one EntityDefinitions request. */
export interface TableLabel {
  readonly displayName: string | undefined;
  readonly description: string | undefined;
}

function label(value: unknown): string | undefined {
  if (!isJsonObject(value)) return undefined;
  const localized = value.UserLocalizedLabel;
  return isJsonObject(localized) && typeof localized.Label === 'string' && localized.Label !== ''
    ? localized.Label
    : undefined;
}

export async function loadTableLabels(
  client: WebApiClient,
  signal: AbortSignal | undefined,
): Promise<Map<string, TableLabel>> {
  const body = await client.get('EntityDefinitions?$select=LogicalName,DisplayName,Description', {
    ...(signal === undefined ? {} : { signal }),
  });
  const labels = new Map<string, TableLabel>();
  for (const row of Array.isArray(body.value) ? body.value : []) {
    if (!isJsonObject(row) || typeof row.LogicalName !== 'string') continue;
    labels.set(row.LogicalName, { displayName: label(row.DisplayName), description: label(row.Description) });
  }
  return labels;
}

/** Tables matching every word of `search`, best first: name matches before display names before descriptions. */
export function findTables(
  index: MetadataIndex,
  labels: ReadonlyMap<string, TableLabel>,
  search: string,
  maxResults: number,
): string {
  const words = search
    .toLowerCase()
    .split(/\s+/)
    .filter((w) => w !== '');
  const scored: { score: number; line: string; name: string }[] = [];
  for (const set of index.model.entitySets.values()) {
    const type = index.entityTypeOfSet(set);
    if (type === undefined) continue;
    const info = labels.get(type.name) ?? { displayName: type.info?.displayName, description: type.info?.description };
    const names = `${type.name} ${set.name}`.toLowerCase();
    const display = (info.displayName ?? '').toLowerCase();
    const description = (info.description ?? '').toLowerCase();
    let score = 0;
    for (const word of words) {
      if (type.name === word || set.name.toLowerCase() === word || display === word) score += 100;
      else if (names.includes(word)) score += 30;
      else if (display.includes(word)) score += 20;
      else if (description.includes(word)) score += 5;
      else {
        score = 0;
        break;
      }
    }
    if (score === 0) continue;
    const about = [info.displayName, info.description === undefined ? undefined : cellText(info.description, 100)]
      .filter((t) => t !== undefined)
      .join(': ');
    scored.push({
      score,
      name: type.name,
      line: `${type.name} (entity set ${set.name})${about === '' ? '' : ` — ${about}`}`,
    });
  }
  scored.sort((a, b) => b.score - a.score || a.name.length - b.name.length || (a.name < b.name ? -1 : 1));
  if (scored.length === 0) {
    const suggestions = didYouMean(search.trim(), index.model.entityTypes.keys(), 5);
    return `No table matches "${search}".${suggestions.length > 0 ? ` Similar names: ${suggestions.join(', ')}.` : ''} Try a shorter or different word.`;
  }
  const shown = scored.slice(0, maxResults);
  const more =
    scored.length > shown.length
      ? `\n${scored.length - shown.length} more match; raise maxResults (up to 100) or use more words to narrow.`
      : '';
  return `${scored.length} table(s) match "${search}"${scored.length > shown.length ? `, the best ${shown.length}` : ''}:\n${shown.map((s) => s.line).join('\n')}${more}\n`;
}

function typeText(property: Property): string {
  const base = property.info?.attributeType ?? property.type.replace(/^Edm\./, '');
  return property.maxLength !== undefined && property.type === 'Edm.String' ? `${base}(${property.maxLength})` : base;
}

function localType(index: MetadataIndex, qualified: string): string {
  return index.localName(qualified) ?? qualified;
}

/**
 * The table's alternate keys (`$metadata`'s, or EntityDefinitions' with names and index status), with
 * how to address a record by the first usable one ("Use an alternate key to reference a record":
 * https://learn.microsoft.com/power-apps/developer/data-platform/webapi/use-alternate-key-reference-record).
 * Only an Active key's index can be used; a key `$metadata` alone listed has no known status.
 */
function alternateKeysText(index: MetadataIndex, { type, set }: ResolvedTable): string | undefined {
  const keys = index.alternateKeys(type);
  if (keys === undefined) return undefined;
  if (keys.length === 0) return 'Alternate keys: none.';
  const usable = (key: AlternateKey): boolean => key.status === undefined || key.status === 'Active';
  const listed = keys.map(
    (k) =>
      `${k.name === undefined ? '' : `${k.name} `}(${k.columns.join(', ')}${usable(k) ? '' : `; index ${k.status}, not usable yet`})`,
  );
  const first = keys.find(usable);
  const example =
    first === undefined
      ? ''
      : ` Read or upsert one by key: ${set.name}(${first.columns
          .map((c) => `${c}=${index.property(type, c)?.type === 'Edm.String' ? "'…'" : '…'}`)
          .join(',')}).`;
  return `Alternate keys: ${listed.join('; ')}.${example}`;
}

/**
 * A column's choices, `value=label`; a status reason also names its state, "1=In Progress (state 0
 * Open)", from the table's `statecode` choices (StatusOptionMetadata `State`): a record's status
 * reason must belong to its state.
 */
function optionsText(index: MetadataIndex, type: EntityType, options: readonly OptionValue[]): string {
  let states: ReadonlyMap<number, string> | undefined;
  return options
    .map((o) => {
      if (o.state === undefined) return `${o.value}=${o.label}`;
      states ??= new Map((index.property(type, 'statecode')?.info?.options ?? []).map((s) => [s.value, s.label]));
      const state = states.get(o.state);
      return `${o.value}=${o.label} (state ${o.state}${state === undefined ? '' : ` ${state}`})`;
    })
    .join(', ');
}

/** The table's columns, lookups and relationships, filtered by `columns` and cut to the budget. */
export function describeTable(
  index: MetadataIndex,
  table: ResolvedTable,
  filter: string | undefined,
  budget: number,
  note: string | undefined,
): string {
  const { type, set } = table;
  const wanted = filter?.trim().toLowerCase();
  const matches = (name: string, display: string | undefined): boolean =>
    wanted === undefined ||
    wanted === '' ||
    name.toLowerCase().includes(wanted) ||
    (display ?? '').toLowerCase().includes(wanted);
  const info = type.info;
  const lines: string[] = [];
  lines.push(
    `Table ${type.name}${info?.displayName === undefined ? '' : ` "${info.displayName}"`} — entity set ${set.name}`,
  );
  if (info?.description !== undefined) lines.push(info.description);
  const key = index.key(type);
  lines.push(
    `Primary key: ${key.join(', ') || '(none)'}${info?.primaryNameAttribute === undefined ? '' : `; primary name column: ${info.primaryNameAttribute}`}. Read one: GET ${set.name}(<id>).`,
  );
  const keys = alternateKeysText(index, table);
  if (keys !== undefined) lines.push(keys);
  if (note !== undefined) lines.push(note);
  const properties = index.properties(type);
  const shownProperties = properties.filter((p) => matches(p.name, p.info?.displayName));
  lines.push('');
  lines.push(
    `Columns (${shownProperties.length}${shownProperties.length === properties.length ? '' : ` of ${properties.length}, matching "${filter}"`}):`,
  );
  lines.push('name | type | required | details');
  for (const property of shownProperties) {
    const details: string[] = [];
    if (property.info?.displayName !== undefined) details.push(`"${property.info.displayName}"`);
    const options = property.info?.options;
    if (options !== undefined && options.length > 0) details.push(`options: ${optionsText(index, type, options)}`);
    const navigations = index.navigationForLookup(type, property.name);
    const targets =
      property.info?.targets ??
      navigations.map((n) => localType(index, n.type)).filter((t, i, all) => all.indexOf(t) === i);
    if (targets.length > 0 && (property.name.startsWith('_') || property.info?.attributeType === 'Lookup')) {
      details.push(`lookup → ${targets.join(', ')}`);
      if (navigations.length > 0)
        details.push(`set with ${navigations.map((n) => `${n.name}@odata.bind`).join(' or ')}`);
    }
    lines.push(
      `${property.name} | ${typeText(property)} | ${property.info?.requiredLevel ?? (property.nullable ? 'None' : 'not null')} | ${details.join('; ')}`,
    );
  }
  const navigations = index.navigationProperties(type).filter((n) => matches(n.name, undefined));
  lines.push('');
  lines.push(
    `Relationships (${navigations.length} navigation properties; use in $expand, or name@odata.bind for single-valued ones):`,
  );
  for (const navigation of navigations) {
    lines.push(`${navigation.name} → ${localType(index, navigation.type)} (${navigation.collection ? 'many' : 'one'})`);
  }
  return withinBudget(
    `${lines.join('\n')}\n`,
    budget,
    'Pass columns (part of a name) to list only the columns you need.',
  );
}

/**
 * Item lists of a table (columns, lookups, navigation properties), built once per loaded model, and
 * the small text helpers every kind of completion uses.
 */
import type { MetadataIndex } from '../../../metadata/lookup';
import type { EntityType, NavigationProperty, Property } from '../../../metadata/model';
import { columnLogicalName, columnType, columnTypeText, lookupLogicalName } from '../../../metadata/columnNames';
import type { CompletionItem, CompletionResult } from '../types';

const WORD_CHAR = /[\w.$@]/;

export function lineStartOf(text: string, offset: number): number {
  return text.lastIndexOf('\n', offset - 1) + 1;
}

/** Start of the partial word ending at `offset`. */
export function wordStart(text: string, offset: number, from: number, pattern: RegExp = WORD_CHAR): number {
  let i = offset;
  while (i > from && pattern.test(text[i - 1]!)) i--;
  return i;
}

/**
 * Whether an editor could show `label` once `typed` is typed: the typed characters appear in it in
 * order, ignoring case, forgiving one swap of neighbours (VS Code's filter forgives that typo). Every
 * fuzzy or prefix filter keeps no more than this, so items it rejects need not be sent at all.
 */
export function mayMatch(typed: string, label: string): boolean {
  const pattern = typed.toLowerCase();
  const word = label.toLowerCase();
  if (pattern.length > word.length) return false;
  // Earliest end in `word` of the pattern's first i characters matched in order (`plain`), of the
  // first i - 1 (`previous`), and of the first i with one swap of neighbours (`swapped`); -1 when
  // they cannot be matched. The earliest end is always the best to go on from, so one pass does.
  let plain = 0;
  let previous = -1;
  let swapped = -1;
  for (let i = 0; i < pattern.length; i++) {
    const char = pattern[i]!;
    let nextSwapped = swapped < 0 ? -1 : word.indexOf(char, swapped) + 1 || -1;
    if (i > 0 && previous >= 0 && char !== pattern[i - 1]) {
      const first = word.indexOf(char, previous);
      const second = first < 0 ? -1 : word.indexOf(pattern[i - 1]!, first + 1);
      if (second >= 0 && (nextSwapped < 0 || second + 1 < nextSwapped)) nextSwapped = second + 1;
    }
    previous = plain;
    plain = plain < 0 ? -1 : word.indexOf(char, plain) + 1 || -1;
    swapped = nextSwapped;
    if (plain < 0 && swapped < 0) return false;
  }
  return true;
}

export function displayName(info: { displayName: string | undefined } | undefined): string {
  return info?.displayName ? ` (${info.displayName})` : '';
}

/**
 * A column's detail as the explorer names it: `Annual Revenue · Money (Edm.Decimal)`, a lookup with its
 * logical name (`Primary Contact · Lookup primarycontactid (Edm.Guid)`); the Edm type alone on bare CSDL.
 */
export function columnDetail(property: Property): string {
  const lookup = lookupLogicalName(property.name);
  const type =
    lookup === undefined
      ? columnTypeText(property)
      : `${property.info === undefined ? 'lookup' : columnType(property)} ${lookup} (${property.type})`;
  const name = property.info?.displayName;
  return name === undefined ? type : `${name} · ${type}`;
}

/** The display name with the logical name, a lookup's Web API name, and the description: what each is known of. */
export function columnDocumentation(property: Property): string | undefined {
  const logicalName = columnLogicalName(property);
  const lines: string[] = [];
  if (property.info?.displayName !== undefined) lines.push(`${property.info.displayName} (${logicalName})`);
  if (logicalName !== property.name) lines.push(`Web API name: ${property.name}`);
  if (property.info?.description) lines.push('', property.info.description);
  return lines.length > 0 ? lines.join('\n') : undefined;
}

/**
 * Item lists of one entity type, per kind of place, built once per loaded model: a real table has
 * about 400 columns, and building the list again for every keystroke was much of a completion's
 * latency. The same array comes back each time, so the language server can keep its own form of
 * it beside (keyed by the array); a newly loaded model starts empty caches.
 */
const typeItemCache = new WeakMap<MetadataIndex, WeakMap<EntityType, Map<string, readonly CompletionItem[]>>>();

export function cachedItems(
  index: MetadataIndex,
  type: EntityType,
  place: string,
  build: () => readonly CompletionItem[],
): readonly CompletionItem[] {
  let byType = typeItemCache.get(index);
  if (!byType) typeItemCache.set(index, (byType = new WeakMap<EntityType, Map<string, readonly CompletionItem[]>>()));
  let byPlace = byType.get(type);
  if (!byPlace) byType.set(type, (byPlace = new Map<string, readonly CompletionItem[]>()));
  const cached = byPlace.get(place);
  if (cached) return cached;
  const items = byRank(build());
  byPlace.set(place, items);
  return items;
}

/**
 * Orders items as clients show them: by rank, then by label. Clients break sortText ties by label
 * (VS Code does), so a rank is all a sortText needs to carry; the order also serves clients that
 * keep the server's.
 */
export function byRank(items: readonly CompletionItem[]): CompletionItem[] {
  const compare = (x: string, y: string): number => (x < y ? -1 : x > y ? 1 : 0);
  return [...items].sort((a, b) => compare(a.sortText ?? a.label, b.sortText ?? b.label) || compare(a.label, b.label));
}

export function propertyItems(
  index: MetadataIndex,
  type: EntityType,
  withNavigation: boolean,
): readonly CompletionItem[] {
  return cachedItems(index, type, withNavigation ? 'columnsAndNavigation' : 'columns', () => {
    const items: CompletionItem[] = index.properties(type).map((p: Property) => {
      const lookup = lookupLogicalName(p.name) !== undefined;
      return {
        label: p.name,
        kind: lookup ? ('lookup' as const) : ('property' as const),
        detail: columnDetail(p),
        documentation: columnDocumentation(p),
        // Lookup ids sort after plain columns: they are rarely what a name starts to spell.
        sortText: lookup ? '2' : '1',
      };
    });
    if (withNavigation) items.push(...navigationItems(index, type));
    return items;
  });
}

/**
 * The columns a query function's `PropertyName` takes: logical names, so a lookup is offered as
 * `ownerid` rather than `_ownerid_value` (queryFunctionColumns.ts).
 */
export function queryFunctionColumnItems(index: MetadataIndex, type: EntityType): readonly CompletionItem[] {
  return cachedItems(index, type, 'queryFunctionColumns', () =>
    index.properties(type).map((p: Property) => {
      const logicalName = lookupLogicalName(p.name);
      return {
        label: logicalName ?? p.name,
        kind: logicalName === undefined ? ('property' as const) : ('lookup' as const),
        detail: columnDetail(p),
        documentation: columnDocumentation(p),
        sortText: '1',
      };
    }),
  );
}

export function navigationItems(index: MetadataIndex, type: EntityType): readonly CompletionItem[] {
  return cachedItems(index, type, 'navigation', () =>
    index.navigationProperties(type).map((n: NavigationProperty) => ({
      label: n.name,
      kind: 'navigation' as const,
      detail: `${n.collection ? 'Collection of ' : '→ '}${index.localName(n.type) ?? n.type}`,
      sortText: '3',
    })),
  );
}

export function listCompletion(value: string, offset: number, items: readonly CompletionItem[]): CompletionResult {
  const start = Math.max(value.lastIndexOf(','), value.lastIndexOf('('), value.lastIndexOf('=')) + 1;
  let from = start;
  while (from < value.length && /\s/.test(value[from]!)) from++;
  return { span: { start: offset - (value.length - from), end: offset }, items };
}

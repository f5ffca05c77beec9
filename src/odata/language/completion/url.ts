/** Completion of a URL: the first segment, path segments, query option names and their values. */
import type { MetadataIndex } from '../../../metadata/lookup';
import type { EntityType } from '../../../metadata/model';
import { parseODataUrl } from '../../url/parseUrl';
import { resolvePath } from '../resolvePath';
import type { CompletionItem, CompletionResult } from '../types';
import { filterCompletion } from './filter';
import { byRank, cachedItems, displayName, listCompletion, navigationItems, propertyItems, wordStart } from './items';

export const QUERY_OPTIONS: readonly { name: string; detail: string }[] = [
  { name: '$select', detail: 'columns to return' },
  { name: '$filter', detail: 'rows to return' },
  { name: '$orderby', detail: 'sort order' },
  { name: '$expand', detail: 'related rows to include' },
  { name: '$top', detail: 'at most this many rows' },
  { name: '$count', detail: 'include @odata.count' },
  { name: '$apply', detail: 'aggregate and group' },
  { name: 'fetchXml', detail: 'a FetchXML query' },
  { name: 'savedQuery', detail: 'a system view id' },
  { name: 'userQuery', detail: 'a personal view id' },
];

const EXPAND_OPTIONS = ['$select', '$filter', '$orderby', '$top', '$expand'];

/** The entity type the path typed so far addresses, by the resolver diagnostics use (quietly: they report). */
function scopeOfPath(index: MetadataIndex, path: string): EntityType | undefined {
  return resolvePath(index, parseODataUrl(path).path).scope;
}

export function urlCompletion(
  prefix: string,
  offset: number,
  method: string,
  index: MetadataIndex | undefined,
): CompletionResult | undefined {
  const urlStart = offset - prefix.length;
  const q = prefix.indexOf('?');
  if (q < 0) return pathCompletion(prefix, offset, method, index);
  const scope = index ? scopeOfPath(index, prefix.slice(0, q)) : undefined;
  const query = prefix.slice(q + 1);
  const amp = query.lastIndexOf('&');
  let optionStart = urlStart + q + 1 + (amp + 1);
  const optionText = query.slice(amp + 1);
  const leading = optionText.length - optionText.trimStart().length;
  optionStart += leading;
  const option = optionText.trimStart();
  const equals = option.indexOf('=');
  if (equals < 0) {
    return {
      span: { start: optionStart, end: offset },
      items: QUERY_OPTIONS.map((o, i) => ({
        label: o.name,
        kind: 'option' as const,
        detail: o.detail,
        insertText: `${o.name}=`,
        sortText: String(i).padStart(2, '0'),
      })),
    };
  }
  const name = option.slice(0, equals);
  const valueStart = optionStart + equals + 1;
  const value = option.slice(equals + 1);
  return valueCompletion(name, value, valueStart, offset, scope, index);
}

/**
 * The entity sets, functions or actions, and system resources a URL may start with. The list is
 * the largest the service gives (about 1,000 items for a real org) and the same for every request
 * of a method, so it is built once per loaded model.
 */
const rootItemCache = new WeakMap<MetadataIndex, Map<string, readonly CompletionItem[]>>();

function rootItems(index: MetadataIndex, method: string): readonly CompletionItem[] {
  // Functions are called with GET, actions with POST; PATCH, PUT and DELETE address rows only.
  const wanted = method === 'GET' ? 'function' : method === 'POST' ? 'action' : 'none';
  let byKind = rootItemCache.get(index);
  if (!byKind) rootItemCache.set(index, (byKind = new Map<string, readonly CompletionItem[]>()));
  const cached = byKind.get(wanted);
  if (cached) return cached;
  const items: CompletionItem[] = [];
  for (const set of index.model.entitySets.values()) {
    const type = index.entityTypeOfSet(set);
    items.push({
      label: set.name,
      kind: 'entitySet',
      detail: `table ${index.localName(set.entityType) ?? set.entityType}${displayName(type?.info)}`,
      sortText: '1',
    });
  }
  for (const [name, overloads] of index.model.operations) {
    const unbound = overloads.find((o) => !o.bound && o.kind === wanted);
    if (unbound)
      items.push({
        label: name,
        kind: 'operation',
        detail: `${unbound.kind}${unbound.returnType ? ` → ${unbound.returnType}` : ''}`,
        sortText: '2',
      });
  }
  if (method === 'POST') items.push({ label: '$batch', kind: 'keyword', sortText: '3' });
  if (method === 'GET') items.push({ label: '$metadata', kind: 'keyword', sortText: '3' });
  const ranked = byRank(items);
  byKind.set(wanted, ranked);
  return ranked;
}

function pathCompletion(
  prefix: string,
  offset: number,
  method: string,
  index: MetadataIndex | undefined,
): CompletionResult | undefined {
  const slash = prefix.lastIndexOf('/');
  const start = offset - (prefix.length - slash - 1);
  if (!index) return undefined;
  // Inside a key or a function's arguments: no table or function name goes there.
  if (prefix.includes('(', slash + 1)) return undefined;
  if (slash < 0) return { span: { start, end: offset }, items: rootItems(index, method) };
  const type = scopeOfPath(index, prefix.slice(0, slash));
  if (!type) return undefined;
  return {
    span: { start, end: offset },
    items: cachedItems(index, type, 'path', () => [
      ...navigationItems(index, type),
      ...propertyItems(index, type, false),
      { label: '$count', kind: 'keyword', sortText: '4' },
      { label: '$ref', kind: 'keyword', sortText: '4' },
    ]),
  };
}

function valueCompletion(
  name: string,
  value: string,
  valueStart: number,
  offset: number,
  scope: EntityType | undefined,
  index: MetadataIndex | undefined,
): CompletionResult | undefined {
  switch (name) {
    case '$select':
      return listCompletion(value, offset, scope && index ? propertyItems(index, scope, false) : []);
    case '$orderby':
      return orderByCompletion(value, offset, scope, index);
    case '$expand':
      return expandCompletion(value, valueStart, offset, scope, index);
    case '$filter':
      return filterCompletion(value, offset, scope, index);
    case '$count':
      return {
        span: { start: valueStart, end: offset },
        items: ['true', 'false'].map((v) => ({ label: v, kind: 'value' as const })),
      };
    case '$apply': {
      const start = wordStart(value, value.length, 0);
      const items = scope && index ? applyItems(index, scope) : APPLY_WORDS;
      return { span: { start: offset - (value.length - start), end: offset }, items };
    }
    default:
      return undefined;
  }
}

/** The transformations and aggregation words of `$apply`. */
const APPLY_WORDS: readonly CompletionItem[] = [
  ...['groupby', 'aggregate', 'filter'].map((t) => ({
    label: t,
    kind: 'function' as const,
    insertText: `${t}(`,
    sortText: '0',
  })),
  ...['sum', 'average', 'min', 'max', 'countdistinct', 'with', 'as'].map((m) => ({
    label: m,
    kind: 'keyword' as const,
    sortText: '0',
  })),
];

function applyItems(index: MetadataIndex, scope: EntityType): readonly CompletionItem[] {
  return cachedItems(index, scope, 'apply', () => [...APPLY_WORDS, ...propertyItems(index, scope, true)]);
}

export function orderByCompletion(
  value: string,
  offset: number,
  scope: EntityType | undefined,
  index: MetadataIndex | undefined,
): CompletionResult {
  const item = value.slice(value.lastIndexOf(',') + 1);
  if (/^\s*[\w/]+\s+\w*$/.test(item)) {
    const start = wordStart(value, value.length, 0);
    return {
      span: { start: offset - (value.length - start), end: offset },
      items: [
        { label: 'asc', kind: 'keyword', detail: 'ascending (the default)' },
        { label: 'desc', kind: 'keyword', detail: 'descending' },
      ],
    };
  }
  return listCompletion(value, offset, scope && index ? propertyItems(index, scope, false) : []);
}

interface ExpandFrame {
  readonly kind: 'navigation' | 'paren';
  readonly type: EntityType | undefined;
  option: string | undefined;
  segmentStart: number;
}

/** Walks the `$expand` value to the cursor, tracking which navigation's options the cursor is in. */
function expandCompletion(
  value: string,
  valueStart: number,
  offset: number,
  scope: EntityType | undefined,
  index: MetadataIndex | undefined,
): CompletionResult | undefined {
  const stack: ExpandFrame[] = [{ kind: 'navigation', type: scope, option: '$expand', segmentStart: 0 }];
  let itemStart = 0;
  for (let i = 0; i < value.length; i++) {
    const c = value[i]!;
    const frame = stack[stack.length - 1]!;
    if (c === "'") {
      const close = value.indexOf("'", i + 1);
      if (close < 0) break;
      i = close;
    } else if (c === '(') {
      if (frame.option === '$expand') {
        const name = value.slice(itemStart, i).trim().split('/')[0] ?? '';
        const navigation = frame.type && index?.navigationProperty(frame.type, name);
        const target = navigation ? index?.entityType(navigation.type) : undefined;
        stack.push({ kind: 'navigation', type: target, option: undefined, segmentStart: i + 1 });
      } else {
        stack.push({ kind: 'paren', type: frame.type, option: frame.option, segmentStart: frame.segmentStart });
      }
    } else if (c === ')') {
      if (stack.length > 1) stack.pop();
      itemStart = i + 1;
    } else if (c === ';' && frame.kind === 'navigation') {
      frame.option = undefined;
      frame.segmentStart = i + 1;
    } else if (c === '=' && frame.kind === 'navigation' && frame.option === undefined) {
      frame.option = value.slice(frame.segmentStart, i).trim();
      frame.segmentStart = i + 1;
      itemStart = i + 1;
    } else if (c === ',' && frame.option === '$expand') {
      itemStart = i + 1;
    }
  }
  const frame = stack[stack.length - 1]!;
  const type = frame.type;
  const inner = value.slice(frame.segmentStart);
  if (frame.option === undefined) {
    const start = wordStart(value, value.length, 0);
    return {
      span: { start: offset - (value.length - start), end: offset },
      items: EXPAND_OPTIONS.map((o) => ({ label: o, kind: 'option' as const, insertText: `${o}=` })),
    };
  }
  switch (frame.option) {
    case '$expand':
      return listCompletion(inner, offset, type && index ? navigationItems(index, type) : []);
    case '$select':
      return listCompletion(inner, offset, type && index ? propertyItems(index, type, false) : []);
    case '$orderby':
      return orderByCompletion(inner, offset, type, index);
    case '$filter':
      return filterCompletion(inner, offset, type, index);
    default:
      void valueStart;
      return undefined;
  }
}

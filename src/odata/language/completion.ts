/**
 * Completion. The context comes from the text before the cursor (what the user is typing is
 * seldom a complete request), the scope from the request's path resolved against the metadata.
 */
import type { MetadataIndex } from '../../metadata/lookup';
import type { EntityType, NavigationProperty, Property } from '../../metadata/model';
import { blockAt, requestAt } from '../document/parser';
import type { Block, ODataDocument, Request, TextSpan } from '../document/syntax';
import { REQUEST_METHODS, SYSTEM_VARIABLES } from '../document/syntax';
import {
  CANONICAL_FUNCTIONS,
  QUERY_FUNCTIONS,
  QUERY_FUNCTION_NAMESPACE,
  queryFunctionParameterNames,
} from '../url/functions';
import { parseODataUrl } from '../url/parseUrl';
import type { CompletionItem, CompletionResult, LanguageOptions } from './types';

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

export const HEADERS: readonly { name: string; detail: string }[] = [
  { name: 'Prefer', detail: 'return=representation, odata.maxpagesize, odata.include-annotations, …' },
  { name: 'If-Match', detail: '* or an ETag: update only an existing row, or only this version' },
  { name: 'If-None-Match', detail: 'null to bypass caches, * to refuse updates in an upsert' },
  { name: 'Content-Type', detail: 'application/json is added when missing' },
  { name: 'Accept', detail: 'application/json is added when missing' },
  { name: 'Content-ID', detail: 'names a request in a change set: later ones use $n' },
  { name: 'Consistency', detail: 'Strong: bypass metadata and permission caches' },
  { name: 'CallerObjectId', detail: 'impersonate this Entra object id' },
  { name: 'MSCRM.SolutionUniqueName', detail: 'add new components to this solution' },
  { name: 'MSCRM.SuppressDuplicateDetection', detail: 'false turns duplicate detection on' },
  { name: 'MSCRM.BypassCustomPluginExecution', detail: 'true skips custom plug-ins' },
  { name: 'OData-MaxVersion', detail: '4.0 is added when missing' },
  { name: 'OData-Version', detail: '4.0 is added when missing' },
];

const HEADER_VALUES: Readonly<Record<string, readonly string[]>> = {
  prefer: [
    'return=representation',
    'odata.include-annotations="*"',
    'odata.include-annotations="OData.Community.Display.V1.FormattedValue"',
    'odata.maxpagesize=100',
    'odata.track-changes',
    'odata.continue-on-error',
  ],
  'if-match': ['*'],
  'if-none-match': ['null', '*'],
  'content-type': ['application/json', 'multipart/mixed; boundary=batch_1'],
  accept: ['application/json'],
  consistency: ['Strong'],
  'mscrm.suppressduplicatedetection': ['false'],
  'mscrm.bypasscustompluginexecution': ['true'],
  'odata-maxversion': ['4.0'],
  'odata-version': ['4.0'],
};

const COMPARISON_OPERATORS = ['eq', 'ne', 'gt', 'ge', 'lt', 'le'];
const OTHER_OPERATORS = ['and', 'or', 'has', 'in', 'add', 'sub', 'mul', 'div', 'mod'];
const OPERATOR_WORDS = new Set([...COMPARISON_OPERATORS, ...OTHER_OPERATORS, 'not']);

const WORD_CHAR = /[\w.$@]/;

function lineStartOf(text: string, offset: number): number {
  return text.lastIndexOf('\n', offset - 1) + 1;
}

/** Start of the partial word ending at `offset`. */
function wordStart(text: string, offset: number, from: number, pattern: RegExp = WORD_CHAR): number {
  let i = offset;
  while (i > from && pattern.test(text[i - 1]!)) i--;
  return i;
}

export function getCompletions(
  document: ODataDocument,
  text: string,
  offset: number,
  options: LanguageOptions = {},
): CompletionResult | undefined {
  const index = options.metadata;
  const lineStart = lineStartOf(text, offset);
  const linePrefix = text.slice(lineStart, offset);

  const variable = variableCompletion(document, text, offset, lineStart, linePrefix, options);
  if (variable) return variable;

  const block = blockAt(document, offset);
  const request = block && requestAt(block, offset);

  // Spans end at the last non-blank character; the cursor after a typed space still belongs to them.
  const trailing = (end: number): boolean => offset >= end && /^[ \t]*$/.test(text.slice(end, offset));
  if (
    request &&
    offset >= request.url.span.start &&
    (offset <= request.url.span.end || trailing(request.url.span.end))
  ) {
    // A variable standing for the whole URL leaves nothing to complete: the URL is known only at run time.
    const result =
      request.url.variable === undefined
        ? urlCompletion(text.slice(request.url.span.start, offset), offset, request.method, index)
        : undefined;
    if (request.methodSpan === undefined && /^[ \t]*[A-Za-z]*$/.test(linePrefix)) {
      // A lone word is parsed as a bare URL, but it may as well be the start of a method.
      const start = wordStart(text, offset, lineStart);
      const methods = REQUEST_METHODS.map((m, i) => ({
        label: m,
        kind: 'method' as const,
        sortText: `0${i}`,
        insertText: `${m} `,
      }));
      return { span: { start, end: offset }, items: [...methods, ...(result?.items ?? [])] };
    }
    return result;
  }
  const methodLine = /^[ \t]*([A-Za-z]+)[ \t]+(\S*)$/.exec(linePrefix);
  if (methodLine && (REQUEST_METHODS as readonly string[]).includes(methodLine[1]!.toUpperCase())) {
    const urlStart = offset - methodLine[2]!.length;
    return urlCompletion(text.slice(urlStart, offset), offset, methodLine[1]!.toUpperCase(), index);
  }
  if (/^[ \t]*[A-Za-z]*$/.test(linePrefix) && isRequestLinePosition(block, request, lineStart)) {
    const start = wordStart(text, offset, lineStart);
    return {
      span: { start, end: offset },
      items: REQUEST_METHODS.map((m, i) => ({
        label: m,
        kind: 'method' as const,
        sortText: String(i),
        insertText: `${m} `,
      })),
    };
  }
  if (!request) return undefined;
  const body = request.body;
  const inHeaders = offset > request.requestLineSpan.end && (body === undefined || offset < body.span.start);
  if (inHeaders) return headerCompletion(linePrefix, offset);
  if (
    body?.kind === 'json' &&
    offset >= body.span.start &&
    (offset <= body.span.end || /^\s*$/.test(text.slice(body.span.end, offset)))
  ) {
    return jsonCompletion(text, body.span.start, offset, request, index);
  }
  return undefined;
}

function isRequestLinePosition(block: Block | undefined, request: Request | undefined, lineStart: number): boolean {
  if (!block) return true;
  if (!request) return true;
  return lineStart <= request.requestLineSpan.start;
}

// -----------------------------------------------------------------------------------------------
// Variables

function variableCompletion(
  document: ODataDocument,
  text: string,
  offset: number,
  lineStart: number,
  linePrefix: string,
  options: LanguageOptions,
): CompletionResult | undefined {
  const open = linePrefix.lastIndexOf('{{');
  if (open < 0 || linePrefix.indexOf('}}', open) >= 0) return undefined;
  let start = lineStart + open + 2;
  while (start < offset && (text[start] === ' ' || text[start] === '\t')) start++;
  const typed = text.slice(start, offset);
  const here = blockAt(document, offset);
  const labels = document.blocks.filter((b) => b.name && b.request && (!here || b.index < here.index));
  const dot = typed.indexOf('.');
  if (dot >= 0) {
    const label = typed.slice(0, dot);
    const target = labels.find((b) => b.name?.name === label);
    if (!target?.request) return undefined;
    const rest = typed.slice(dot + 1);
    const itemStart = start + dot + 1 + (rest.lastIndexOf('.') + 1);
    if (rest.startsWith('headers.')) {
      return {
        span: { start: itemStart, end: offset },
        items: ['OData-EntityId', 'ETag', 'Location', 'Preference-Applied'].map((h) => ({
          label: h,
          kind: 'header' as const,
        })),
      };
    }
    const items: CompletionItem[] = [
      { label: 'id', kind: 'variable', detail: 'the id in the OData-EntityId header of the response' },
      { label: 'headers', kind: 'variable', detail: 'a header of the response', insertText: 'headers.' },
    ];
    const scope =
      options.metadata && target.request.url.variable === undefined
        ? scopeOfPath(options.metadata, pathText(target.request.url.text)).type
        : undefined;
    if (scope && options.metadata) items.push(...propertyItems(options.metadata, scope, false));
    return { span: { start: itemStart, end: offset }, items };
  }
  const items: CompletionItem[] = [];
  const seen = new Set<string>();
  for (const v of document.variables) {
    if (seen.has(v.name)) continue;
    seen.add(v.name);
    items.push({ label: v.name, kind: 'variable', detail: v.value });
  }
  for (const name of options.environmentVariables ?? []) {
    if (!seen.has(name)) items.push({ label: name, kind: 'variable', detail: 'environment variable' });
  }
  for (const block of labels) {
    const request = block.request!;
    items.push({
      label: block.name!.name,
      kind: 'variable',
      detail: `result of ${request.method} ${request.url.text.split('\n')[0]}`,
      insertText: `${block.name!.name}.`,
    });
  }
  for (const name of SYSTEM_VARIABLES) {
    items.push({
      label: name,
      kind: 'variable',
      detail: SYSTEM_VARIABLE_DETAILS[name],
      insertText: name === '$randomInt' ? '$randomInt 1 100' : name,
    });
  }
  return { span: { start, end: offset }, items };
}

const SYSTEM_VARIABLE_DETAILS: Record<(typeof SYSTEM_VARIABLES)[number], string> = {
  $guid: 'a new GUID',
  $now: 'the current UTC time, ISO 8601',
  $timestamp: 'the current Unix time in seconds',
  $randomInt: 'a random integer: {{$randomInt min max}}, min included, max excluded',
};

// -----------------------------------------------------------------------------------------------
// URL

function pathText(url: string): string {
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
}

/** The entity type a path addresses, resolved quietly (diagnostics report problems). */
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

export function scopeOfPath(index: MetadataIndex, path: string): { type: EntityType | undefined; collection: boolean } {
  const tree = parseODataUrl(path);
  let type: EntityType | undefined;
  let collection = false;
  for (const [i, segment] of tree.path.segments.entries()) {
    if (segment.kind === 'system') return { type: undefined, collection: false };
    if (i === 0) {
      const set = index.entitySet(segment.name);
      if (set) {
        type = index.entityTypeOfSet(set);
        collection = segment.args === undefined;
        continue;
      }
      const operation = index.model.operations.get(segment.name)?.[0];
      const returnType = operation?.returnType;
      const match = returnType === undefined ? undefined : /^Collection\((.*)\)$/.exec(returnType);
      type = returnType === undefined ? undefined : index.entityType(match ? match[1]! : returnType);
      collection = match !== null;
      continue;
    }
    if (!type) return { type: undefined, collection: false };
    const navigation = index.navigationProperty(type, segment.name);
    if (!navigation) return { type: undefined, collection: false };
    type = index.entityType(navigation.type);
    collection = navigation.collection && segment.args === undefined;
  }
  return { type, collection };
}

function displayName(info: { displayName: string | undefined } | undefined): string {
  return info?.displayName ? ` (${info.displayName})` : '';
}

/**
 * Item lists of one entity type, per kind of place, built once per loaded model: a real table has
 * about 400 columns, and building the list again for every keystroke was much of a completion's
 * latency. The same array comes back each time, so the language server can keep its own form of
 * it beside (keyed by the array); a newly loaded model starts empty caches.
 */
const typeItemCache = new WeakMap<MetadataIndex, WeakMap<EntityType, Map<string, readonly CompletionItem[]>>>();

function cachedItems(
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
function byRank(items: readonly CompletionItem[]): CompletionItem[] {
  const compare = (x: string, y: string): number => (x < y ? -1 : x > y ? 1 : 0);
  return [...items].sort((a, b) => compare(a.sortText ?? a.label, b.sortText ?? b.label) || compare(a.label, b.label));
}

function propertyItems(index: MetadataIndex, type: EntityType, withNavigation: boolean): readonly CompletionItem[] {
  return cachedItems(index, type, withNavigation ? 'columnsAndNavigation' : 'columns', () => {
    const items: CompletionItem[] = index.properties(type).map((p: Property) => {
      const lookup = p.name.startsWith('_') && p.name.endsWith('_value');
      return {
        label: p.name,
        kind: lookup ? ('lookup' as const) : ('property' as const),
        detail: `${p.type}${displayName(p.info)}`,
        documentation: p.info?.description,
        // Lookup ids sort after plain columns: they are rarely what a name starts to spell.
        sortText: lookup ? '2' : '1',
      };
    });
    if (withNavigation) items.push(...navigationItems(index, type));
    return items;
  });
}

function navigationItems(index: MetadataIndex, type: EntityType): readonly CompletionItem[] {
  return cachedItems(index, type, 'navigation', () =>
    index.navigationProperties(type).map((n: NavigationProperty) => ({
      label: n.name,
      kind: 'navigation' as const,
      detail: `${n.collection ? 'Collection of ' : '→ '}${index.localName(n.type) ?? n.type}`,
      sortText: '3',
    })),
  );
}

function urlCompletion(
  prefix: string,
  offset: number,
  method: string,
  index: MetadataIndex | undefined,
): CompletionResult | undefined {
  const urlStart = offset - prefix.length;
  const q = prefix.indexOf('?');
  if (q < 0) return pathCompletion(prefix, offset, method, index);
  const scope = index ? scopeOfPath(index, prefix.slice(0, q)).type : undefined;
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
  const { type } = scopeOfPath(index, prefix.slice(0, slash));
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

function listCompletion(value: string, offset: number, items: readonly CompletionItem[]): CompletionResult {
  const start = Math.max(value.lastIndexOf(','), value.lastIndexOf('('), value.lastIndexOf('=')) + 1;
  let from = start;
  while (from < value.length && /\s/.test(value[from]!)) from++;
  return { span: { start: offset - (value.length - from), end: offset }, items };
}

function orderByCompletion(
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

function operandItems(scope: EntityType | undefined, index: MetadataIndex | undefined): readonly CompletionItem[] {
  if (!scope || !index) return (unscopedOperands ??= byRank(expressionItems()));
  return cachedItems(index, scope, 'operands', () => [...propertyItems(index, scope, true), ...expressionItems()]);
}

/** Built once: the same for every request without a scope. */
let unscopedOperands: readonly CompletionItem[] | undefined;

/** The functions and keywords that may start an operand, after the columns. */
function expressionItems(): CompletionItem[] {
  const items: CompletionItem[] = [];
  for (const fn of CANONICAL_FUNCTIONS.values()) {
    items.push({
      label: fn.name,
      kind: 'function',
      detail: `${fn.name}(${fn.minArgs === fn.maxArgs ? fn.minArgs : `${fn.minArgs}–${fn.maxArgs}`} arguments)`,
      insertText: `${fn.name}(`,
      sortText: '4',
    });
  }
  items.push(...queryFunctionItems());
  for (const word of ['not', 'true', 'false', 'null']) items.push({ label: word, kind: 'keyword', sortText: '6' });
  return items;
}

function queryFunctionItems(): CompletionItem[] {
  return [...QUERY_FUNCTIONS.values()].map((fn) => {
    const parameters = queryFunctionParameterNames(fn);
    const qualified = `${QUERY_FUNCTION_NAMESPACE}.${fn.name}`;
    return {
      label: qualified,
      kind: 'queryFunction' as const,
      detail: `${fn.name}(${parameters.join(', ')})`,
      insertText: `${qualified}(${parameters.map((p) => (p === 'PropertyName' ? "PropertyName=''" : `${p}=`)).join(',')})`,
      sortText: '5',
    };
  });
}

const LAMBDA = /([\w/]+)\/(?:any|all)\(\s*(\w+)\s*:/g;

function filterCompletion(
  value: string,
  offset: number,
  scope: EntityType | undefined,
  index: MetadataIndex | undefined,
): CompletionResult | undefined {
  // Inside a string literal: only `PropertyName='…'` of a query function has names to offer.
  const quotes = (value.match(/'/g) ?? []).length;
  if (quotes % 2 === 1) {
    const open = value.lastIndexOf("'");
    if (/PropertyName\s*=\s*$/.test(value.slice(Math.max(0, open - 40), open)) && scope && index) {
      return {
        span: { start: offset - (value.length - open - 1), end: offset },
        items: propertyItems(index, scope, false),
      };
    }
    return undefined;
  }
  const start = wordStart(value, value.length, 0, /[\w.$/]/);
  const word = value.slice(start);
  const before = value.slice(0, start);
  const slash = word.lastIndexOf('/');
  if (slash >= 0) {
    const itemStart = offset - (word.length - slash - 1);
    if (!scope || !index) return undefined;
    const lambdas = new Map<string, string>();
    for (const match of before.matchAll(LAMBDA)) lambdas.set(match[2]!, match[1]!);
    let segments = word.slice(0, slash).split('/');
    let type: EntityType | undefined = scope;
    const lambdaSource = lambdas.get(segments[0]!);
    if (lambdaSource !== undefined) segments = [...lambdaSource.split('/'), ...segments.slice(1)];
    for (const segment of segments) {
      const navigation: NavigationProperty | undefined = type && index.navigationProperty(type, segment);
      type = navigation ? index.entityType(navigation.type) : undefined;
    }
    if (!type) return undefined;
    return {
      span: { start: itemStart, end: offset },
      items: cachedItems(index, type, 'filterPath', () => [
        ...propertyItems(index, type, true),
        { label: 'any', kind: 'keyword', insertText: 'any(x:', sortText: '4' },
        { label: 'all', kind: 'keyword', insertText: 'all(x:', sortText: '4' },
      ]),
    };
  }
  // A number, date or id being typed, or the cursor against the end of a literal or a `)`: no
  // name can go there (an operator needs a space first).
  if (/^\d/.test(word) || (word === '' && /[^\s(,]$/.test(before))) return undefined;
  const span: TextSpan = { start: offset - word.length, end: offset };
  const trimmed = before.trimEnd();
  const tokens = trimmed.split(/[\s()]+/).filter((t) => t.length > 0);
  const last = tokens[tokens.length - 1];
  const spaced = trimmed.length < before.length;
  if (last !== undefined && spaced && !OPERATOR_WORDS.has(last) && !trimmed.endsWith('(') && !trimmed.endsWith(',')) {
    // After a whole comparison (`statecode eq 0 `) the next word joins conditions.
    const compared = COMPARISON_OPERATORS.includes(tokens[tokens.length - 2] ?? '') || trimmed.endsWith(')');
    const operators = compared
      ? ['and', 'or', ...COMPARISON_OPERATORS, ...OTHER_OPERATORS.filter((o) => o !== 'and' && o !== 'or')]
      : [...COMPARISON_OPERATORS, ...OTHER_OPERATORS];
    return {
      span,
      items: operators.map((o, i) => ({ label: o, kind: 'operator' as const, sortText: String(i).padStart(2, '0') })),
    };
  }
  if ((last === 'eq' || last === 'ne') && tokens.length >= 2 && scope && index) {
    const column = tokens[tokens.length - 2]!;
    const property = propertyAtPath(index, scope, column);
    if (property) {
      const items: CompletionItem[] = [];
      for (const option of property.info?.options ?? []) {
        items.push({
          label: String(option.value),
          kind: 'value',
          detail: option.label,
          sortText: String(option.value).padStart(12, '0'),
        });
      }
      if (property.type === 'Edm.Boolean')
        items.push({ label: 'true', kind: 'value' }, { label: 'false', kind: 'value' });
      items.push({ label: 'null', kind: 'keyword', sortText: 'z' });
      if (items.length > 1) return { span, items };
    }
  }
  return { span, items: operandItems(scope, index) };
}

function propertyAtPath(index: MetadataIndex, scope: EntityType, path: string): Property | undefined {
  const segments = path.split('/');
  let type: EntityType | undefined = scope;
  for (let i = 0; i < segments.length - 1 && type; i++) {
    const navigation = index.navigationProperty(type, segments[i]!);
    type = navigation ? index.entityType(navigation.type) : undefined;
  }
  return type && index.property(type, segments[segments.length - 1]!);
}

// -----------------------------------------------------------------------------------------------
// Headers and bodies

function headerCompletion(linePrefix: string, offset: number): CompletionResult | undefined {
  const colon = linePrefix.indexOf(':');
  if (colon < 0) {
    if (!/^[\w.-]*$/.test(linePrefix)) return undefined;
    return {
      span: { start: offset - linePrefix.length, end: offset },
      items: HEADERS.map((h, i) => ({
        label: h.name,
        kind: 'header' as const,
        detail: h.detail,
        insertText: `${h.name}: `,
        sortText: String(i).padStart(2, '0'),
      })),
    };
  }
  const values = HEADER_VALUES[linePrefix.slice(0, colon).trim().toLowerCase()];
  if (!values) return undefined;
  const valuePart = linePrefix.slice(colon + 1);
  const from = Math.max(valuePart.lastIndexOf(','), -1) + 1;
  let start = from;
  while (start < valuePart.length && /\s/.test(valuePart[start]!)) start++;
  return {
    span: { start: offset - (valuePart.length - start), end: offset },
    items: values.map((v) => ({ label: v, kind: 'headerValue' as const })),
  };
}

/** Where the cursor is in a JSON body: at a top-level key, in a string value of a key, or elsewhere. */
function jsonPosition(
  text: string,
  start: number,
  offset: number,
): { kind: 'key'; quoted: number | undefined } | { kind: 'value'; key: string; quoted: number } | undefined {
  let depth = 0;
  let lastSignificant = '';
  let lastKey = '';
  let stringStart = -1;
  for (let i = start; i < offset; i++) {
    const c = text[i]!;
    if (stringStart >= 0) {
      if (c === '\\') i++;
      else if (c === '"') {
        const value = text.slice(stringStart + 1, i);
        if (depth === 1 && (lastSignificant === '{' || lastSignificant === ',')) lastKey = value;
        lastSignificant = depth === 1 && (lastSignificant === '{' || lastSignificant === ',') ? 'key' : 'string';
        stringStart = -1;
      }
      continue;
    }
    if (c === '"') stringStart = i;
    else if (c === '{' || c === '[') {
      depth++;
      lastSignificant = c;
    } else if (c === '}' || c === ']') {
      depth--;
      lastSignificant = c;
    } else if (!/\s/.test(c)) lastSignificant = c;
  }
  if (depth !== 1) return undefined;
  if (stringStart >= 0) {
    if (lastSignificant === '{' || lastSignificant === ',') return { kind: 'key', quoted: stringStart };
    if (lastSignificant === ':') return { kind: 'value', key: lastKey, quoted: stringStart };
    return undefined;
  }
  if (lastSignificant === '{' || lastSignificant === ',') return { kind: 'key', quoted: undefined };
  return undefined;
}

function jsonCompletion(
  text: string,
  bodyStart: number,
  offset: number,
  request: Request,
  index: MetadataIndex | undefined,
): CompletionResult | undefined {
  if (!index) return undefined;
  const { type } = scopeOfPath(index, pathText(request.url.text));
  if (!type) return undefined;
  const position = jsonPosition(text, bodyStart, offset);
  if (!position) return undefined;
  if (position.kind === 'value') {
    const at = position.key.indexOf('@odata.bind');
    if (at <= 0) return undefined;
    const navigation = index.navigationProperty(type, position.key.slice(0, at));
    const set = navigation && index.entitySetOf(navigation.type);
    if (!set) return undefined;
    return {
      span: { start: position.quoted + 1, end: offset },
      items: [{ label: `/${set.name}(`, kind: 'entitySet', detail: 'the row to link: /set(id)' }],
    };
  }
  const quote = position.kind === 'key' && position.quoted === undefined ? '"' : '';
  const items = cachedItems(index, type, quote ? 'bodyKeysWithQuotes' : 'bodyKeys', () => {
    const keys: CompletionItem[] = index
      .properties(type)
      .filter((p) => !(p.name.startsWith('_') && p.name.endsWith('_value')))
      .map((p) => ({
        label: p.name,
        kind: 'property' as const,
        detail: `${p.type}${displayName(p.info)}`,
        insertText: quote ? `"${p.name}": ` : undefined,
        sortText: '1',
      }));
    for (const navigation of index.navigationProperties(type)) {
      const bind = `${navigation.name}@odata.bind`;
      keys.push({
        label: bind,
        kind: 'navigation',
        detail: `link to ${navigation.collection ? 'rows of ' : 'a row of '}${index.localName(navigation.type) ?? navigation.type}`,
        insertText: quote ? `"${bind}": ` : undefined,
        sortText: '2',
      });
    }
    return keys;
  });
  const startAt = position.quoted === undefined ? wordStart(text, offset, bodyStart) : position.quoted + 1;
  return { span: { start: startAt, end: offset }, items };
}

/** Completion inside `$filter`: columns and paths, operators, functions, query functions, option-set values. */
import type { MetadataIndex } from '../../../metadata/lookup';
import type { EntityType, NavigationProperty, Property } from '../../../metadata/model';
import type { TextSpan } from '../../document/syntax';
import {
  CANONICAL_FUNCTIONS,
  QUERY_FUNCTIONS,
  QUERY_FUNCTION_NAMESPACE,
  queryFunctionParameterNames,
} from '../../url/functions';
import type { CompletionItem, CompletionResult } from '../types';
import { byRank, cachedItems, propertyItems, queryFunctionColumnItems, wordStart } from './items';

const COMPARISON_OPERATORS = ['eq', 'ne', 'gt', 'ge', 'lt', 'le'];
const OTHER_OPERATORS = ['and', 'or', 'has', 'in', 'add', 'sub', 'mul', 'div', 'mod'];
const OPERATOR_WORDS = new Set([...COMPARISON_OPERATORS, ...OTHER_OPERATORS, 'not']);

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

export function filterCompletion(
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
        items: queryFunctionColumnItems(index, scope),
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

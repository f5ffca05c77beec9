/** Completion in a JSON body: the columns and `@odata.bind` keys of the request's table, and bind targets. */
import type { MetadataIndex } from '../../../metadata/lookup';
import type { Request } from '../../document/syntax';
import { lookupLogicalName } from '../../../metadata/columnNames';
import { resolvePath } from '../resolvePath';
import type { CompletionItem, CompletionResult } from '../types';
import { cachedItems, columnDetail, columnDocumentation, wordStart } from './items';

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

export function jsonCompletion(
  text: string,
  bodyStart: number,
  offset: number,
  request: Request,
  index: MetadataIndex | undefined,
): CompletionResult | undefined {
  if (!index) return undefined;
  const type = resolvePath(index, request.url.tree.path).scope;
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
      .filter((p) => lookupLogicalName(p.name) === undefined)
      .map((p) => ({
        label: p.name,
        kind: 'property' as const,
        detail: columnDetail(p),
        documentation: columnDocumentation(p),
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

/** Completion inside `{{`: file and environment variables, named requests and their results, system variables. */
import type { ODataDocument } from '../../document/syntax';
import { blockAt } from '../../document/parser';
import { SYSTEM_VARIABLES } from '../../document/syntax';
import { resolvePath } from '../resolvePath';
import type { CompletionItem, CompletionResult, LanguageOptions } from '../types';
import { propertyItems } from './items';

export function variableCompletion(
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
        ? resolvePath(options.metadata, target.request.url.tree.path).scope
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

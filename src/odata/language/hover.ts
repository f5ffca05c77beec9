/**
 * Hover: what a name in a request refers to (from the same analysis diagnostics use), what a query
 * function takes, and the value of a variable.
 */
import { columnLogicalName, columnType } from '../../metadata/columnNames';
import type { MetadataIndex } from '../../metadata/lookup';
import type { Property } from '../../metadata/model';
import { blockAt, requestAt } from '../document/parser';
import type { ODataDocument } from '../document/syntax';
import {
  CANONICAL_FUNCTIONS,
  QUERY_FUNCTIONS,
  QUERY_FUNCTION_NAMESPACE,
  queryFunctionParameterNames,
} from '../url/functions';
import type { Reference } from './analysis';
import { analyzeRequest } from './analysis';
import type { HoverResult, LanguageOptions } from './types';

function code(text: string): string {
  return `\`${text.replace(/`/g, "'")}\``;
}

/**
 * A column as the explorer names it: display name with the logical name, a lookup by its logical
 * name with the Web API's `_x_value` name below, Dataverse's type with the Edm type second.
 */
function propertyHover(property: Property, owner: string): string {
  const logicalName = columnLogicalName(property);
  const displayName = property.info?.displayName;
  const title = displayName === undefined ? `**${logicalName}**` : `**${displayName}** ${code(logicalName)}`;
  const lines = [`${title} — column of ${code(owner)}`, ''];
  if (logicalName !== property.name) lines.push(`Web API name: ${code(property.name)}`, '');
  const type = property.info === undefined ? code(property.type) : `${columnType(property)} (${code(property.type)})`;
  const details = [`Type: ${type}`];
  if (property.maxLength !== undefined) details.push(`Maximum length: ${property.maxLength}`);
  if (property.info?.requiredLevel && property.info.requiredLevel !== 'None')
    details.push(`Required: ${property.info.requiredLevel}`);
  lines.push(details.join(' · '));
  if (property.info?.description) lines.push('', property.info.description);
  const options = property.info?.options;
  if (options && options.length > 0) {
    lines.push('', 'Values:', ...options.map((o) => `- ${o.value}: ${o.label}`));
  }
  return lines.join('\n');
}

function referenceHover(reference: Reference, index: MetadataIndex): string {
  switch (reference.kind) {
    case 'entitySet': {
      const type = reference.entityType;
      const logical = index.localName(reference.entitySet.entityType) ?? reference.entitySet.entityType;
      const lines = [
        `**${type?.info?.displayName ?? logical}** — entity set ${code(reference.entitySet.name)} of table ${code(logical)}`,
      ];
      if (type) {
        const key = index.key(type);
        if (key.length > 0) lines.push('', `Key: ${key.map(code).join(', ')}`);
        if (type.info?.primaryNameAttribute) lines.push(`Primary name: ${code(type.info.primaryNameAttribute)}`);
        if (type.info?.description) lines.push('', type.info.description);
      }
      return lines.join('\n');
    }
    case 'property':
      return propertyHover(reference.property, reference.owner.name);
    case 'navigation': {
      const nav = reference.navigation;
      const target = index.localName(nav.type) ?? nav.type;
      const lookup = nav.referentialConstraints[0]?.property;
      return [
        `**${nav.name}** — navigation property of ${code(reference.owner.name)}`,
        '',
        `${nav.collection ? 'Collection of' : 'Single'} ${code(target)}${lookup ? ` · lookup column ${code(lookup)}` : ''}${nav.partner ? ` · partner ${code(nav.partner)}` : ''}`,
      ].join('\n');
    }
    case 'operation':
      return reference.operations
        .map((o) => {
          const parameters = (o.bound ? o.parameters.slice(1) : o.parameters).map(
            (p) => `${p.name}: ${p.type}${p.nullable ? '?' : ''}`,
          );
          return `**${o.name}** (${o.bound ? 'bound ' : ''}${o.kind})\n\n${code(`${o.name}(${parameters.join(', ')})${o.returnType ? ` → ${o.returnType}` : ''}`)}`;
        })
        .join('\n\n---\n\n');
    case 'queryFunction':
      return queryFunctionHover(reference.name);
    case 'function': {
      const fn = CANONICAL_FUNCTIONS.get(reference.name);
      return `**${reference.name}** — OData function, ${fn ? (fn.minArgs === fn.maxArgs ? `${fn.minArgs}` : `${fn.minArgs} to ${fn.maxArgs}`) : '?'} argument(s)`;
    }
  }
}

export function queryFunctionHover(name: string): string {
  const fn = QUERY_FUNCTIONS.get(name);
  if (!fn) return '';
  const parameters = queryFunctionParameterNames(fn).map((p) => {
    switch (p) {
      case 'PropertyName':
        return "PropertyName='column'";
      case 'PropertyValues':
        return 'PropertyValues=["a","b"]';
      default:
        return `${p}=value`;
    }
  });
  return `**${QUERY_FUNCTION_NAMESPACE}.${name}** — Dataverse query function, returns Edm.Boolean\n\n${code(`${QUERY_FUNCTION_NAMESPACE}.${name}(${parameters.join(',')})`)}`;
}

export function getHover(
  document: ODataDocument,
  offset: number,
  options: LanguageOptions = {},
): HoverResult | undefined {
  for (const use of document.variableUses) {
    if (offset < use.span.start || offset > use.span.end) continue;
    const reference = use.reference;
    let markdown = '';
    if (reference.kind === 'name') {
      const definition = [...document.variables].reverse().find((v) => v.name === reference.name);
      markdown = definition
        ? `**${reference.name}** = ${code(definition.value)}`
        : options.environmentVariables?.includes(reference.name)
          ? `**${reference.name}** — from the environment's settings`
          : `**${reference.name}** is not defined`;
    } else if (reference.kind === 'system') {
      markdown = `**${reference.name}** — system variable, computed when the request is sent`;
    } else if (reference.kind === 'request') {
      markdown =
        reference.target === 'id'
          ? `The id of the row created by **${reference.label}** (from its OData-EntityId header)`
          : reference.target === 'header'
            ? `The ${code(reference.path[0] ?? '')} header of the response to **${reference.label}**`
            : `${code(reference.path.join('.'))} from the JSON body of the response to **${reference.label}**`;
    }
    if (markdown) return { span: use.span, markdown };
  }
  const index = options.metadata;
  const block = blockAt(document, offset);
  const request = block && requestAt(block, offset);
  if (!request) return undefined;
  if (index) {
    const analysis = analyzeRequest(request, index);
    const reference = analysis.references.find((r) => offset >= r.span.start && offset <= r.span.end);
    if (reference) return { span: reference.span, markdown: referenceHover(reference, index) };
  }
  // Query functions are known without metadata.
  const text = request.url.text;
  const relative = offset - request.url.span.start;
  if (relative >= 0 && relative <= text.length) {
    const prefix = `${QUERY_FUNCTION_NAMESPACE}.`;
    let start = relative;
    while (start > 0 && /[\w.]/.test(text[start - 1]!)) start--;
    let end = relative;
    while (end < text.length && /\w/.test(text[end]!)) end++;
    const word = text.slice(start, end);
    if (word.startsWith(prefix) && QUERY_FUNCTIONS.has(word.slice(prefix.length))) {
      return {
        span: { start: start + request.url.span.start, end: end + request.url.span.start },
        markdown: queryFunctionHover(word.slice(prefix.length)),
      };
    }
  }
  return undefined;
}

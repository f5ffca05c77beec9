/**
 * Text the table explorer shows or sends: the `$filter` check run before a records query is sent,
 * the prefilled query of a new `.odata` file, and the tooltip of a column.
 */
import type { MetadataIndex } from '../metadata/lookup';
import { columnLogicalName, columnType, columnTypeText } from '../metadata/columnNames';
import type { EntityType, Property } from '../metadata/model';
import type { MemberNode } from './url';
import { parseExpression, walk } from './url';

/**
 * Why `filter` must not be sent, or undefined when it may be. Syntax comes from the project's parser;
 * columns are checked against the table's metadata when it is known, because an unknown column costs a
 * round trip and answers with a less helpful message than ours.
 */
export function filterProblem(
  filter: string,
  index: MetadataIndex | undefined,
  type: EntityType | undefined,
): string | undefined {
  if (filter.trim() === '') return undefined;
  const { expression, diagnostics } = parseExpression(filter);
  const error = diagnostics.find((diagnostic) => diagnostic.severity === 'error');
  if (error) return `${error.message} (at character ${error.span.start + 1})`;
  if (index === undefined || type === undefined) return undefined;
  let problem: string | undefined;
  walk(expression, (node) => {
    if (problem === undefined && node.kind === 'member') problem = memberProblem(node as MemberNode, index, type);
  });
  return problem;
}

function memberProblem(member: MemberNode, index: MetadataIndex, root: EntityType): string | undefined {
  // Lambda variables range over another table; their paths are checked by the service.
  if (member.lambdaVariable) return undefined;
  let type: EntityType | undefined = root;
  for (const segment of member.segments) {
    // `$count`, `$it`, `*` and type casts (`Microsoft.Dynamics.CRM.contact`) are not columns.
    if (type === undefined || segment.name.startsWith('$') || segment.name.includes('.') || segment.name === '*') {
      return undefined;
    }
    const found = index.findMemberOf(type, segment.name);
    if (found.match === undefined) {
      const hint = found.suggestions.length > 0 ? ` Did you mean ${found.suggestions.map(quote).join(', ')}?` : '';
      return `'${segment.name}' is not a column of ${type.name}.${hint}`;
    }
    if (found.caseMismatch) {
      return `Column names are case-sensitive: write '${found.match.name}' instead of '${segment.name}'.`;
    }
    // Only a navigation property leads to another table whose columns the next segment names.
    type = 'collection' in found.match ? index.entityType(found.match.type) : undefined;
  }
  return undefined;
}

function quote(name: string): string {
  return `'${name}'`;
}

export interface TableQueryInput {
  readonly entitySet: string;
  readonly displayName: string | undefined;
  readonly primaryId: string | undefined;
  readonly primaryName: string | undefined;
  /** Pins the file to the connection the table came from. */
  readonly environment: string | undefined;
}

/** A new `.odata` document for a table: its primary columns, ten rows. */
export function tableQueryText(input: TableQueryInput): string {
  const columns = [input.primaryId, input.primaryName].filter(
    (column, position, all): column is string => column !== undefined && all.indexOf(column) === position,
  );
  const select = columns.length > 0 ? `$select=${columns.join(',')}&` : '';
  const lines = [
    ...(input.environment === undefined ? [] : [`@environment = ${input.environment}`, '']),
    `### ${input.displayName ?? input.entitySet}`,
    `GET ${input.entitySet}?${select}$top=10`,
    '',
  ];
  return lines.join('\n');
}

/** The column's names, type, requirement, length and choices, one fact per line. */
export function columnTooltip(property: Property): string {
  const info = property.info;
  const logicalName = columnLogicalName(property);
  const lines = [info?.displayName === undefined ? logicalName : `${info.displayName} (${logicalName})`];
  if (logicalName !== property.name) lines.push(`Web API name: ${property.name}`);
  lines.push(`Type: ${columnTypeText(property)}`);
  lines.push(`Required: ${requiredText(info?.requiredLevel, property.nullable)}`);
  if (property.maxLength !== undefined) lines.push(`Max length: ${property.maxLength}`);
  if (info?.targets !== undefined && info.targets.length > 0) lines.push(`Targets: ${info.targets.join(', ')}`);
  if (info?.options !== undefined && info.options.length > 0) {
    lines.push('Options:', ...info.options.map((option) => `  ${option.value} = ${option.label}`));
  }
  if (info?.description !== undefined && info.description !== '') lines.push('', info.description);
  return lines.join('\n');
}

/** Short form for the tree item's description: the logical name, then the type and requirement. */
export function columnDescription(property: Property): string {
  const parts = [columnLogicalName(property), columnType(property)];
  const level = property.info?.requiredLevel;
  if (level === 'SystemRequired' || level === 'ApplicationRequired') parts.push('required');
  else if (level === 'Recommended') parts.push('recommended');
  if (property.maxLength !== undefined) parts.push(`max ${property.maxLength}`);
  return parts.join(' · ');
}

function requiredText(level: string | undefined, nullable: boolean): string {
  switch (level) {
    case 'SystemRequired':
      return 'system required';
    case 'ApplicationRequired':
      return 'business required';
    case 'Recommended':
      return 'business recommended';
    case 'None':
      return 'optional';
    default:
      return nullable ? 'optional (from $metadata)' : 'not nullable (from $metadata)';
  }
}

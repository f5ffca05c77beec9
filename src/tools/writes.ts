import type { HttpMethod, WebApiClient } from '../dataverse/webApiClient';
import { isJsonObject } from '../core/json';
import { idFromEntityId } from '../dataverse/webApiClient';
import type { MetadataIndex } from '../metadata/lookup';
import { didYouMean } from '../metadata/lookup';
import type { EntityType } from '../metadata/model';
import { CHARACTER_BUDGET, withinBudget } from './format';
import { recordId } from './queries';
import { ToolRefusal } from './refusal';
import { resolveTable } from './tables';

/** Exactly what a write sends: shown for confirmation in VS Code, then sent unchanged. */
export interface PlannedWrite {
  readonly method: HttpMethod;
  /** Relative to the Web API root. */
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Record<string, unknown> | undefined;
}

function suggest(name: string, candidates: Iterable<string>): string {
  const names = didYouMean(name, candidates, 3);
  return names.length > 0 ? ` Did you mean ${names.join(', ')}?` : '';
}

/** Every column of a record body must exist: a typo would otherwise be Dataverse's 400 after sign-in and send. */
function checkColumns(index: MetadataIndex, type: EntityType, record: Record<string, unknown>): void {
  const problems: string[] = [];
  const properties = index.properties(type).map((p) => p.name);
  const navigations = index
    .navigationProperties(type)
    .filter((n) => !n.collection)
    .map((n) => n.name);
  for (const key of Object.keys(record)) {
    if (key.endsWith('@odata.bind')) {
      const navigation = key.slice(0, -'@odata.bind'.length);
      if (!navigations.includes(navigation)) {
        problems.push(
          `'${key}': ${type.name} has no single-valued relationship '${navigation}'.${suggest(navigation, navigations)}`,
        );
      }
    } else if (key.startsWith('@') || key.includes('@')) {
      continue;
    } else if (!properties.includes(key)) {
      const lookup = /^_(.+)_value$/.exec(key)?.[1];
      const hint = lookup === undefined ? '' : ` Set a lookup with "${lookup}@odata.bind": "<entity set>(<id>)".`;
      problems.push(`'${key}': ${type.name} has no column '${key}'.${suggest(key, properties)}${hint}`);
    }
  }
  if (problems.length > 0) throw new ToolRefusal(`Nothing was written: ${problems.join(' ')}`);
}

function recordArgument(value: unknown, operation: string): Record<string, unknown> {
  if (!isJsonObject(value) || Object.keys(value).length === 0) {
    throw new ToolRefusal(`${operation} needs record: an object of column values, e.g. {"name": "Contoso"}.`);
  }
  return value;
}

/** The request write_records sends for its arguments (already schema-checked). */
export function planRecordWrite(
  index: MetadataIndex,
  args: Readonly<Record<string, unknown>>,
  webApiUrl: string,
): PlannedWrite {
  const operation = String(args.operation);
  const { type, set } = resolveTable(index, String(args.table));
  const needsId = operation !== 'create';
  const id = needsId ? recordId(args.id, 'id') : undefined;
  const target = `${set.name}(${id ?? ''})`;
  switch (operation) {
    case 'create': {
      const record = recordArgument(args.record, 'create');
      checkColumns(index, type, record);
      return { method: 'POST', path: set.name, headers: {}, body: record };
    }
    case 'update':
    case 'upsert': {
      const record = recordArgument(args.record, operation);
      checkColumns(index, type, record);
      // If-Match: * makes an update fail on a missing record instead of creating one (Web API upsert rules).
      return {
        method: 'PATCH',
        path: target,
        headers: operation === 'update' ? { 'If-Match': '*' } : {},
        body: record,
      };
    }
    case 'delete':
      return { method: 'DELETE', path: target, headers: {}, body: undefined };
    case 'associate': {
      const relationship = typeof args.relationship === 'string' ? args.relationship.trim() : '';
      const navigation = index.findNavigationProperty(type, relationship).match;
      if (navigation === undefined) {
        const names = index.navigationProperties(type).map((n) => n.name);
        throw new ToolRefusal(
          `associate needs relationship: a navigation property of ${type.name}.${relationship === '' ? '' : suggest(relationship, names)} describe_table lists them.`,
        );
      }
      if (typeof args.targetTable !== 'string') throw new ToolRefusal('associate needs targetTable and targetId.');
      const linked = resolveTable(index, args.targetTable);
      const targetId = recordId(args.targetId, 'targetId');
      // Collection-valued: POST …/$ref adds a link; single-valued: PUT …/$ref sets it (Web API associate docs).
      return {
        method: navigation.collection ? 'POST' : 'PUT',
        path: `${target}/${navigation.name}/$ref`,
        headers: {},
        body: { '@odata.id': `${webApiUrl}${linked.set.name}(${targetId})` },
      };
    }
    default:
      throw new ToolRefusal(`Unknown operation '${operation}': use create, update, upsert, delete or associate.`);
  }
}

/** The POST run_action sends: the action must exist in the metadata, with the parameters it declares. */
export function planAction(index: MetadataIndex, args: Readonly<Record<string, unknown>>): PlannedWrite {
  const name = String(args.action)
    .trim()
    .replace(/^(Microsoft\.Dynamics\.CRM|mscrm)\./, '');
  const overloads = (index.model.operations.get(name) ?? []).filter((o) => o.kind === 'action');
  if (overloads.length === 0) {
    const actions = [...index.model.operations.values()]
      .flat()
      .filter((o) => o.kind === 'action')
      .map((o) => o.name);
    const isFunction = (index.model.operations.get(name) ?? []).length > 0;
    throw new ToolRefusal(
      isFunction
        ? `${name} is a function, not an action: call it with run_query (GET ${name}(...)).`
        : `There is no action '${name}'.${suggest(name, actions)}`,
    );
  }
  const parameters = isJsonObject(args.parameters) ? args.parameters : {};
  const bound = args.table !== undefined;
  const operation = overloads.find((o) => o.bound === bound);
  if (operation === undefined) {
    throw new ToolRefusal(
      bound
        ? `${name} is not bound to a record: leave out table and id.`
        : `${name} is bound to a record: give table and id.`,
    );
  }
  const declared = operation.parameters.slice(bound ? 1 : 0);
  const unknown = Object.keys(parameters).filter((p) => !declared.some((d) => d.name === p));
  const missing = declared.filter((d) => !d.nullable && parameters[d.name] === undefined).map((d) => d.name);
  if (unknown.length > 0 || missing.length > 0) {
    const parts = [
      ...unknown.map(
        (p) =>
          `'${p}' is not a parameter of ${name}.${suggest(
            p,
            declared.map((d) => d.name),
          )}`,
      ),
      ...(missing.length > 0 ? [`missing required parameter(s): ${missing.join(', ')}.`] : []),
    ];
    throw new ToolRefusal(
      `Nothing was sent: ${parts.join(' ')} ${name} takes ${declared.map((d) => `${d.name}: ${d.type}`).join(', ') || 'no parameters'}.`,
    );
  }
  let path = name;
  if (bound) {
    const { set } = resolveTable(index, String(args.table));
    path = `${set.name}(${recordId(args.id, 'id')})/${index.model.namespace}.${name}`;
  }
  return { method: 'POST', path, headers: {}, body: parameters };
}

/** The planned request as the user confirms it: method, the full URL, and the body. */
export function describePlannedWrite(write: PlannedWrite, webApiUrl: string): string {
  const headers = Object.entries(write.headers)
    .map(([n, v]) => `${n}: ${v}\n`)
    .join('');
  const body = write.body === undefined ? '' : `\n${JSON.stringify(write.body, null, 2)}\n`;
  return `${write.method} ${webApiUrl}${write.path}\n${headers}${body}`;
}

/** Sends the planned write once; the client never repeats a write whose outcome is unknown. */
export async function sendWrite(
  client: WebApiClient,
  write: PlannedWrite,
  signal: AbortSignal | undefined,
): Promise<{ status: number; text: string }> {
  const response = await client.request({
    method: write.method,
    path: write.path,
    headers: write.headers,
    ...(write.body === undefined ? {} : { body: write.body }),
    ...(signal === undefined ? {} : { signal }),
  });
  const id = idFromEntityId(response.headers.get('OData-EntityId'));
  const lines = [`${response.status}: done${id === undefined ? '' : `; the record id is ${id}`}.`];
  if (response.body !== undefined && response.body !== '') {
    lines.push(typeof response.body === 'string' ? response.body : JSON.stringify(response.body, null, 1));
  }
  return {
    status: response.status,
    text: withinBudget(`${lines.join('\n')}\n`, CHARACTER_BUDGET, 'The answer was cut.'),
  };
}

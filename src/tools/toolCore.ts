import { describeError, WorkbenchError } from '../core/errors';
import type { MetadataIndex } from '../metadata/lookup';
import { exportRegistrations, formatRegistrationFile } from '../webhooks/exportRegistrations';
import { computePlan, formatPlan } from '../webhooks/plan';
import { parseRegistrationFile } from '../webhooks/registrationFile';
import { loadRegisteredState } from '../webhooks/webApiExecutor';
import { checkArguments } from './arguments';
import type { ToolDefinition } from './definitions';
import { DEFAULT_ROWS, TOOL_DEFINITIONS, toolDefinition } from './definitions';
import { CHARACTER_BUDGET, withinBudget } from './format';
import type { EnvironmentServices, ToolEnvironment, ToolHost } from './host';
import { chooseEnvironment, workspacePath, writeRefusal, writesAllowed } from './host';
import {
  checkQuery,
  findingLines,
  odataFileText,
  pathOnly,
  QUERY_FILE,
  recordId,
  recordRequest,
  requestCount,
  requestText,
  runReadOnly,
} from './queries';
import { ToolRefusal } from './refusal';
import type { TableLabel } from './tables';
import { describeTable, findTables, indexOf, loadTableLabels, resolveTable } from './tables';
import type { PlannedWrite } from './writes';
import { describePlannedWrite, planAction, planRecordWrite, sendWrite } from './writes';
import { checkText } from '../odata/language/check';

export interface ToolResult {
  readonly text: string;
  readonly isError: boolean;
}

/** A write ready to confirm: the environment and exactly what will be sent. */
export type WritePreview =
  | { readonly ok: true; readonly environment: ToolEnvironment; readonly request: string }
  | { readonly ok: false; readonly message: string };

/**
 * The agent tools over a host: one core behind `dvw mcp` and VS Code's language model tools. Every
 * call answers a result; bad input, refusals and service failures are error results a model can act
 * on, never exceptions.
 */
export class ToolCore {
  private readonly labels = new Map<string, Promise<Map<string, TableLabel>>>();

  constructor(private readonly host: ToolHost) {}

  /** The tools to offer: the write tools only when some environment allows agent writes. */
  tools(): ToolDefinition[] {
    const writable = this.host.environments().some(writesAllowed);
    return TOOL_DEFINITIONS.filter((tool) => writable || !tool.writes);
  }

  async call(name: string, input: unknown, signal?: AbortSignal): Promise<ToolResult> {
    const started = performance.now();
    let environmentName = '-';
    const done = (result: ToolResult, detail: string): ToolResult => {
      const ms = Math.round(performance.now() - started);
      this.host.log(
        `tool ${name} on ${environmentName}: ${detail}${result.isError ? ' (error result)' : ''} in ${ms} ms`,
      );
      return result;
    };
    try {
      const tool = toolDefinition(name);
      if (tool === undefined || !this.tools().includes(tool)) {
        throw new ToolRefusal(
          `There is no tool '${name}' here. Tools: ${this.tools()
            .map((t) => t.name)
            .join(', ')}.`,
        );
      }
      const args = checkArguments(tool, input);
      if (tool.name === 'list_environments' || tool.name === 'save_as_odata') {
        const text = tool.name === 'list_environments' ? this.listEnvironments() : await this.save(args, signal);
        return done({ text, isError: false }, 'ok');
      }
      const environment = chooseEnvironment(this.host, args.environment);
      environmentName = environment.name;
      const { text, isError, detail } = await this.run(tool, args, environment, signal);
      return done({ text, isError }, detail);
    } catch (error) {
      return done({ text: errorText(error), isError: true }, error instanceof ToolRefusal ? 'refused' : 'failed');
    }
  }

  /** For VS Code's confirmation: what a write tool would send, or why it is refused. */
  async previewWrite(name: string, input: unknown, signal?: AbortSignal): Promise<WritePreview> {
    try {
      const tool = toolDefinition(name);
      if (tool === undefined || !tool.writes) return { ok: false, message: `${name} does not write.` };
      const args = checkArguments(tool, input);
      const environment = chooseEnvironment(this.host, args.environment);
      const refusal = writeRefusal(environment);
      if (refusal !== undefined) return { ok: false, message: refusal };
      const services = await this.host.services(environment, signal);
      const write = await this.planWrite(tool, args, services, signal);
      return { ok: true, environment, request: describePlannedWrite(write, services.client.webApiUrl) };
    } catch (error) {
      return { ok: false, message: errorText(error) };
    }
  }

  private listEnvironments(): string {
    const fallback = this.host.defaultEnvironment();
    const lines = this.host.environments().map((e) => {
      const marks = [
        e.emulator ? 'local emulator (sandbox)' : undefined,
        e.production ? 'PRODUCTION' : undefined,
        e.readOnly ? 'read-only' : undefined,
        writesAllowed(e) ? 'agent writes allowed' : 'agent writes off',
        e.name === fallback ? 'default' : undefined,
      ].filter((m) => m !== undefined);
      return `${e.name} | ${e.url} | ${marks.join(', ')}`;
    });
    if (lines.length === 0) return 'No environment is available to these tools.\n';
    return `name | url | notes\n${lines.join('\n')}\n`;
  }

  private async metadata(services: EnvironmentServices, signal: AbortSignal | undefined): Promise<MetadataIndex> {
    const loaded = await services.metadata.get(signal === undefined ? {} : { signal });
    return indexOf(loaded.model);
  }

  private async run(
    tool: ToolDefinition,
    args: Record<string, unknown>,
    environment: ToolEnvironment,
    signal: AbortSignal | undefined,
  ): Promise<ToolResult & { detail: string }> {
    if (tool.writes) {
      const refusal = writeRefusal(environment);
      if (refusal !== undefined) throw new ToolRefusal(refusal);
    }
    const services = await this.host.services(environment, signal);
    const index = await this.metadata(services, signal);
    switch (tool.name) {
      case 'find_tables': {
        const labels = await this.tableLabels(environment, services, signal);
        const max = typeof args.maxResults === 'number' ? args.maxResults : 20;
        return { text: findTables(index, labels, String(args.search), max), isError: false, detail: 'ok' };
      }
      case 'describe_table': {
        const table = resolveTable(index, String(args.table));
        let note: string | undefined;
        let described = index;
        try {
          described = indexOf(await services.metadata.withEntityDefinition(table.type.name, signal));
        } catch (error) {
          note = `(Display names, required levels and choices are unavailable: ${describeError(error)})`;
        }
        const filter = typeof args.columns === 'string' ? args.columns : undefined;
        const text = describeTable(described, resolveTable(described, table.type.name), filter, CHARACTER_BUDGET, note);
        return { text, isError: false, detail: 'ok' };
      }
      case 'check_query': {
        const { findings, text } = checkQuery(requestText(String(args.query), index), index);
        const errors = findings.some((f) => f.severity === 'error');
        return { text, isError: false, detail: errors ? 'errors found' : 'no errors' };
      }
      case 'run_query': {
        const maxRows = typeof args.maxRows === 'number' ? args.maxRows : DEFAULT_ROWS;
        const outcome = await runReadOnly(
          services.client,
          index,
          requestText(String(args.query), index),
          maxRows,
          signal,
        );
        return { text: outcome.text, isError: outcome.isError, detail: outcome.summary };
      }
      case 'get_record': {
        const select = Array.isArray(args.select) ? args.select.map(String) : undefined;
        const text = recordRequest(index, String(args.table), recordId(args.id, 'id'), select);
        const outcome = await runReadOnly(services.client, index, text, 1, signal);
        return { text: outcome.text, isError: outcome.isError, detail: outcome.summary };
      }
      case 'write_records':
      case 'run_action': {
        const write = await this.planWrite(tool, args, services, signal);
        const sent = await sendWrite(services.client, write, signal);
        return {
          text: sent.text,
          isError: false,
          detail: `${write.method} ${pathOnly(write.path, services.client.webApiUrl)} → ${sent.status}`,
        };
      }
      case 'webhooks_plan':
        return { text: await this.webhooks(args, services, signal), isError: false, detail: 'ok' };
      default:
        throw new WorkbenchError('internal', `The tool ${tool.name} has no handler.`);
    }
  }

  private async planWrite(
    tool: ToolDefinition,
    args: Record<string, unknown>,
    services: EnvironmentServices,
    signal: AbortSignal | undefined,
  ): Promise<PlannedWrite> {
    const index = await this.metadata(services, signal);
    return tool.name === 'run_action'
      ? planAction(index, args)
      : planRecordWrite(index, args, services.client.webApiUrl);
  }

  private tableLabels(
    environment: ToolEnvironment,
    services: EnvironmentServices,
    signal: AbortSignal | undefined,
  ): Promise<Map<string, TableLabel>> {
    let labels = this.labels.get(environment.name);
    if (labels === undefined) {
      // Without display names the search still finds tables by their names.
      labels = loadTableLabels(services.client, signal).catch(() => new Map<string, TableLabel>());
      this.labels.set(environment.name, labels);
    }
    return labels;
  }

  private async webhooks(
    args: Record<string, unknown>,
    services: EnvironmentServices,
    signal: AbortSignal | undefined,
  ): Promise<string> {
    let file;
    if (typeof args.file === 'string') {
      const path = workspacePath(args.file, '.json');
      let text: string;
      try {
        text = await this.host.readWorkspaceFile(path);
      } catch (error) {
        throw new ToolRefusal(`Cannot read ${path}: ${describeError(error)}`);
      }
      try {
        file = parseRegistrationFile(text);
      } catch (error) {
        throw new ToolRefusal(`${path} is not a valid registration file: ${describeError(error)}`);
      }
    }
    const state = await loadRegisteredState(services.client, signal);
    const advice = 'The answer was cut; ask about one endpoint at a time.';
    if (file === undefined) {
      const notes: string[] = [];
      const text = formatRegistrationFile(exportRegistrations(state, notes));
      const noteText = notes.length > 0 ? `\nNotes:\n${notes.join('\n')}\n` : '';
      return withinBudget(
        `Registered now, as a dataverse.webhooks.json:\n${text}${noteText}`,
        CHARACTER_BUDGET,
        advice,
      );
    }
    return withinBudget(
      `Applying the file would (nothing was changed):\n${formatPlan(computePlan(file, state))}`,
      CHARACTER_BUDGET,
      advice,
    );
  }

  private async save(args: Record<string, unknown>, signal: AbortSignal | undefined): Promise<string> {
    const path = workspacePath(String(args.path), '.odata');
    const query = String(args.query);
    let text = `${query.trim()}\n`;
    let checked = '';
    if (query.trim().startsWith('<')) {
      // FetchXML needs the metadata to name its entity set.
      const environment = chooseEnvironment(this.host, undefined);
      const index = await this.metadata(await this.host.services(environment, signal), signal);
      text = requestText(query, index);
    }
    if (requestCount(text) === 0) throw new ToolRefusal('The text holds no request to save.');
    const findings = checkText(QUERY_FILE, text, undefined).filter((f) => f.severity === 'error');
    if (findings.length > 0) checked = `\nNote: it has syntax errors the user will see:\n${findingLines(findings)}\n`;
    const title = typeof args.title === 'string' ? args.title : undefined;
    const saved = await this.host.saveWorkspaceFile(path, odataFileText(text, title), args.append === true);
    return `${saved}${checked}\n`;
  }
}

function errorText(error: unknown): string {
  if (error instanceof ToolRefusal) return error.message;
  if (error instanceof WorkbenchError) {
    const advice: Partial<Record<WorkbenchError['kind'], string>> = {
      throttled: 'The service is busy (throttled): wait a little and call again.',
      auth: 'Sign-in failed: the user must sign in to this environment again; retrying will not help.',
      forbidden: 'The signed-in user lacks the privilege for this; do not retry.',
      network: 'The environment could not be reached; check that it is running and try again.',
      notFound: 'It does not exist (check the names and id).',
      cancelled: 'The call was cancelled.',
    };
    return `${error.message}${advice[error.kind] === undefined ? '' : ` ${advice[error.kind]}`}`;
  }
  return `The tool failed: ${describeError(error)}`;
}

import type { MetadataCache } from '../dataverse/metadataCache';
import type { WebApiClient } from '../dataverse/webApiClient';
import { ToolRefusal } from './refusal';

/** An environment as the tools see it; only those the front end allows are ever listed. */
export interface ToolEnvironment {
  readonly name: string;
  readonly url: string;
  /** The local emulator: a sandbox with sample data. */
  readonly emulator: boolean;
  /** Marked `production: true`: agents never write there. */
  readonly production: boolean;
  /** Marked read-only: nothing writes there. */
  readonly readOnly: boolean;
  /** Agent writes are allowed (`agentWrites: true` / `--allow-writes`) and nothing above forbids them. */
  readonly agentWrites: boolean;
}

/** The shared client (limiter, retries, the token only for the environment's Web API) and metadata cache. */
export interface EnvironmentServices {
  readonly client: WebApiClient;
  readonly metadata: MetadataCache;
}

/** What a front end (dvw mcp, VS Code) gives the tool core. */
export interface ToolHost {
  /** The environments the tools may touch. */
  environments(): readonly ToolEnvironment[];
  /** Used when a call names no environment. */
  defaultEnvironment(): string | undefined;
  services(environment: ToolEnvironment, signal: AbortSignal | undefined): Promise<EnvironmentServices>;
  /** Reads a workspace file by a path the core checked to be relative and inside the workspace. */
  readWorkspaceFile(relativePath: string): Promise<string>;
  /** Writes (or appends to) a workspace `.odata` file; returns a sentence saying where it went. */
  saveWorkspaceFile(relativePath: string, text: string, append: boolean): Promise<string>;
  /** One line per call: tool, environment, method and path; never tokens, secrets, query strings or values. */
  log(line: string): void;
}

export function writesAllowed(environment: ToolEnvironment): boolean {
  return environment.agentWrites && !environment.production && !environment.readOnly;
}

/** Why an agent may not write to the environment, or undefined when it may. */
export function writeRefusal(environment: ToolEnvironment): string | undefined {
  if (environment.production) {
    return `${environment.name} is marked production: agents never write there. Try the change on the local emulator or a development environment, and use save_as_odata so the user can review and run it.`;
  }
  if (environment.readOnly) return `${environment.name} is marked read-only: nothing may write there.`;
  if (!environment.agentWrites) {
    return `Agent writes are off for ${environment.name}. Only the user can allow them ("agentWrites": true on the environment in the dataverse.environments setting, or dvw mcp --allow-writes ${environment.name}); nothing was written.`;
  }
  return undefined;
}

/** The environment a call names, or the default; anything else is refused with the allowed names. */
export function chooseEnvironment(host: ToolHost, requested: unknown): ToolEnvironment {
  const environments = host.environments();
  const name = typeof requested === 'string' && requested.trim() !== '' ? requested.trim() : host.defaultEnvironment();
  const names = environments.map((e) => e.name).join(', ') || 'none';
  if (name === undefined) {
    throw new ToolRefusal(`No environment was named and there is no default one. Name one of: ${names}.`);
  }
  const found = environments.find((e) => e.name.toLowerCase() === name.toLowerCase());
  if (found === undefined) {
    throw new ToolRefusal(
      `'${name}' is not an environment these tools may use. Use one of: ${names} (list_environments describes them).`,
    );
  }
  return found;
}

/**
 * A workspace-relative path as the tools accept it: no absolute path, drive or `..`, so a call can
 * reach nothing outside the workspace folder. Returns it with `/` separators.
 */
export function workspacePath(path: string, extension: string | undefined): string {
  const parts = path
    .trim()
    .split(/[\\/]+/)
    .filter((p) => p !== '' && p !== '.');
  if (/^([\\/]|[A-Za-z]:)/.test(path.trim()) || parts.length === 0 || parts.some((p) => p === '..')) {
    throw new ToolRefusal(
      `'${path}' must be a path inside the workspace folder, relative to it (e.g. queries/accounts.odata), without '..'.`,
    );
  }
  const relative = parts.join('/');
  if (extension !== undefined && !relative.toLowerCase().endsWith(extension)) {
    throw new ToolRefusal(`'${path}' must end in ${extension}.`);
  }
  return relative;
}

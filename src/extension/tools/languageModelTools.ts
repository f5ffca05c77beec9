import * as vscode from 'vscode';
import type { ToolName } from '../../tools/definitions';
import { TOOL_DEFINITIONS } from '../../tools/definitions';
import type { EnvironmentServices, ToolEnvironment, ToolHost } from '../../tools/host';
import { ToolRefusal } from '../../tools/refusal';
import { ToolCore } from '../../tools/toolCore';
import type { ConnectionManager } from '../connections';

/** VS Code's tool names are global across extensions: ours carry a prefix (package.json repeats them). */
export const TOOL_PREFIX = 'dataverse_';

export function vscodeToolName(name: ToolName): string {
  return `${TOOL_PREFIX}${name}`;
}

/**
 * The tools see the extension's connections: the running emulator (a sandbox, so agent writes are
 * allowed there, each confirmed) and the configured environments with their marks.
 */
class VscodeToolHost implements ToolHost {
  constructor(
    private readonly connections: ConnectionManager,
    private readonly output: vscode.LogOutputChannel,
  ) {}

  environments(): ToolEnvironment[] {
    return this.connections.list().map((connection) => {
      const config = this.connections.environmentOf(connection);
      return {
        name: connection.name,
        url: connection.url,
        emulator: connection.kind === 'emulator',
        production: config?.production === true,
        readOnly: config?.readOnly === true,
        agentWrites: connection.kind === 'emulator' || config?.agentWrites === true,
      };
    });
  }

  defaultEnvironment(): string | undefined {
    return this.connections.active?.name;
  }

  services(environment: ToolEnvironment): Promise<EnvironmentServices> {
    const connection = this.connections.byName(environment.name);
    if (connection === undefined) throw new ToolRefusal(`${environment.name} is no longer connected.`);
    return Promise.resolve({
      client: this.connections.client(connection),
      metadata: this.connections.metadata(connection),
    });
  }

  private root(): vscode.Uri {
    const folder = vscode.workspace.workspaceFolders?.[0];
    if (folder === undefined) throw new ToolRefusal('No folder is open in VS Code: ask the user to open one first.');
    return folder.uri;
  }

  async readWorkspaceFile(path: string): Promise<string> {
    return new TextDecoder().decode(await vscode.workspace.fs.readFile(vscode.Uri.joinPath(this.root(), path)));
  }

  async saveWorkspaceFile(path: string, text: string, append: boolean): Promise<string> {
    const uri = vscode.Uri.joinPath(this.root(), path);
    const existing = await vscode.workspace.fs.readFile(uri).then(
      (bytes) => new TextDecoder().decode(bytes),
      () => undefined,
    );
    if (existing !== undefined && !append) {
      throw new ToolRefusal(`${path} exists already: choose another path, or pass append: true to add to it.`);
    }
    const content = existing === undefined || existing === '' ? text : `${existing.replace(/\n*$/, '\n\n')}${text}`;
    await vscode.workspace.fs.writeFile(uri, new TextEncoder().encode(content));
    await vscode.window.showTextDocument(uri, { preview: false, preserveFocus: true });
    return `${existing === undefined ? 'Saved' : 'Appended to'} ${path}; it is open in the editor for the user to review and run.`;
  }

  log(line: string): void {
    this.output.info(line);
  }
}

/** Confirmation for a write tool: the exact method, URL and body, or nothing when the call will be refused. */
async function prepare(
  core: ToolCore,
  name: ToolName,
  input: unknown,
  token: vscode.CancellationToken,
): Promise<vscode.PreparedToolInvocation> {
  const definition = TOOL_DEFINITIONS.find((tool) => tool.name === name);
  if (definition?.writes !== true) return { invocationMessage: `Dataverse: ${definition?.title ?? name}` };
  const abort = new AbortController();
  const cancel = token.onCancellationRequested(() => abort.abort());
  try {
    const preview = await core.previewWrite(name, input, abort.signal);
    if (!preview.ok) return { invocationMessage: `Dataverse: ${definition.title} (refused)` };
    const message = new vscode.MarkdownString();
    message.appendMarkdown(`Send this request to **${preview.environment.name}** (${preview.environment.url})?\n\n`);
    message.appendCodeblock(preview.request, 'http');
    return {
      invocationMessage: `Dataverse: writing to ${preview.environment.name}`,
      confirmationMessages: { title: `${definition.title} in ${preview.environment.name}`, message },
    };
  } finally {
    cancel.dispose();
  }
}

export interface LanguageModelTools {
  readonly disposables: vscode.Disposable[];
  /** What VS Code shows before running a tool (tests check the confirmation of writes). */
  prepareInvocation(name: ToolName, input: unknown): Promise<vscode.PreparedToolInvocation>;
}

/** Registers every tool with `vscode.lm`; package.json's `languageModelTools` declares the same names and schemas. */
export function registerLanguageModelTools(
  connections: ConnectionManager,
  log: vscode.LogOutputChannel,
): LanguageModelTools {
  const core = new ToolCore(new VscodeToolHost(connections, log));
  const disposables = TOOL_DEFINITIONS.map((definition) =>
    vscode.lm.registerTool<object>(vscodeToolName(definition.name), {
      prepareInvocation: (options, token) => prepare(core, definition.name, options.input, token),
      invoke: async (options, token) => {
        const abort = new AbortController();
        const cancel = token.onCancellationRequested(() => abort.abort());
        try {
          const result = await core.call(definition.name, options.input, abort.signal);
          // VS Code's guidance: a failed tool throws, with a message the model can act on.
          if (result.isError) throw new Error(result.text);
          return new vscode.LanguageModelToolResult([new vscode.LanguageModelTextPart(result.text)]);
        } finally {
          cancel.dispose();
        }
      },
    }),
  );
  return {
    disposables,
    prepareInvocation: (name, input) => prepare(core, name, input, new vscode.CancellationTokenSource().token),
  };
}

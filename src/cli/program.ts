import { Command, CommanderError } from 'commander';
import {
  createConnection,
  ProposedFeatures,
  StreamMessageReader,
  StreamMessageWriter,
} from 'vscode-languageserver/node';
import { startLanguageServer } from '../server/languageServer';
import { registerCheckCommand } from './checkCommand';
import { registerEmulatorCommand } from './emulatorCommand';
import { registerEnvCommand } from './envCommand';
import { registerExportCommand } from './exportCommand';
import { registerImportCommand } from './importCommand';
import { registerMcpCommand } from './mcpCommand';
import { registerRunCommand } from './runCommand';
import { humanIo, terminalText } from './terminalText';
import { registerWebhooksCommand } from './webhooksCommand';
import packageJson from '../../package.json';

export interface CliIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
}

/** Builds the `dvw` program. Each subcommand is a thin adapter over the shared engine. */
export function createProgram(io: CliIo): Command {
  const program = new Command();
  program
    .name('dvw')
    .description('Dataverse Workbench on the command line: the engine of the VS Code extension, headless.')
    .version(packageJson.version, '-v, --version', 'print the version of dvw')
    .helpOption('-h, --help', 'show help for dvw or a command')
    .showHelpAfterError('(run dvw --help for the list of commands)')
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    .exitOverride();

  program
    .command('lsp')
    .description('serve the .odata language server over stdio, for editors other than VS Code')
    .option('--stdio', 'use stdio (the default and only transport; accepted for editors that pass it)')
    .action(() => {
      startLanguageServer(
        createConnection(
          ProposedFeatures.all,
          new StreamMessageReader(process.stdin),
          new StreamMessageWriter(process.stdout),
        ),
      );
    });

  registerEmulatorCommand(program, io);
  registerWebhooksCommand(program, io);
  registerCheckCommand(program, io);
  registerRunCommand(program, io);
  registerEnvCommand(program, io);
  registerImportCommand(program, io);
  registerExportCommand(program, io);

  registerMcpCommand(program, io);

  return program;
}

/** Runs the CLI and returns the exit code; usage errors print a message, never a stack trace. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  // Every message on stderr is for a person, and may quote a server or a record: escaped once, here.
  const program = createProgram({ stdout: io.stdout, stderr: humanIo(io).stderr });
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version end through here with exit code 0.
      return error.exitCode;
    }
    io.stderr(terminalText(`dvw: ${error instanceof Error ? error.message : String(error)}\n`));
    return 1;
  }
}

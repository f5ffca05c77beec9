import { Command } from 'commander';
import { resolve } from 'node:path';
import { describeError, WorkbenchError } from '../core/errors';
import { AUTH_METHODS } from '../core/environments';
import { stringOrUndefined } from '../core/json';
import { checkConnection } from '../dataverse/connectionTest';
import type { Connection } from '../dataverse/connectionsFile';
import {
  configDirectory,
  connectionEntry,
  connectionsPath,
  readConnections,
  validateConnection,
  withConnection,
  withoutConnection,
  writeConnections,
} from '../dataverse/connectionsFile';
import { takeSnapshot } from '../dataverse/schemaSnapshot';
import { parseTableList } from '../metadata/schemaSnapshot';
import { webApiRoot } from '../dataverse/webApiClient';
import type { CommandOptions } from './commandConnection';
import { FAILED_EXIT_CODE, stopCommand, USAGE_EXIT_CODE, usageExit, withCommandConnection } from './commandConnection';
import type { CliIo } from './program';

/** invalidInput and notFound (an environment name) are the user's to fix (exit 2); anything else failed (exit 1). */
const COMMAND: CommandOptions = { name: 'dvw env', code: 'dvw.env', usageKinds: ['invalidInput', 'notFound'] };

function usage(io: CliIo, message: string): never {
  stopCommand(io, COMMAND, USAGE_EXIT_CODE, message);
}

function failed(io: CliIo, message: string): never {
  stopCommand(io, COMMAND, FAILED_EXIT_CODE, message);
}

function report(io: CliIo, error: unknown): never {
  const message = describeError(error);
  const userFixes = error instanceof WorkbenchError && (COMMAND.usageKinds ?? []).includes(error.kind);
  if (userFixes) usage(io, message);
  failed(io, message);
}

function connectionsFile(): string {
  return connectionsPath(configDirectory(process.env));
}

function configure(command: Command, io: CliIo): Command {
  return command.configureOutput({ writeOut: io.stdout, writeErr: io.stderr }).exitOverride(usageExit);
}

function addCommand(io: CliIo): Command {
  return configure(
    new Command('add')
      .description('add a named environment (no secret is stored: it comes from DATAVERSE_CLIENT_SECRET or a prompt)')
      .argument('<name>', 'a name for the environment')
      .requiredOption('--url <url>', 'the organization URL, e.g. https://contoso.crm.dynamics.com')
      .option('--tenant <tenant>', 'the Entra tenant id or domain')
      .option('--client-id <id>', 'the app registration (client) id')
      .option(
        '--auth <method>',
        `how to sign in: ${AUTH_METHODS.filter((m) => m !== 'microsoftAccount').join(', ')} (the old spellings client-secret, device-code, interactive, … work too)`,
        'clientSecret',
      )
      .option('--authority <url>', 'another identity endpoint than login.microsoftonline.com (the emulator)')
      .option('--ca-file <file>', "a PEM certificate to trust for the authority (the emulator's)")
      .option(
        '--certificate <file>',
        'for --auth client-certificate: a PEM file with the private key and certificate (only the path is stored)',
      )
      .option('--production', 'mark it production: agent tools (dvw mcp) never write there')
      .option('--read-only', 'mark it read-only: agent tools offer only reads')
      .option('--agent-writes', 'let dvw mcp offer write tools for it without --allow-writes')
      .option('--force', 'replace an environment of the same name'),
    io,
  ).action(async (name: string, raw: Record<string, unknown>) => {
    let connection: Connection;
    try {
      connection = validateConnection(
        {
          name,
          url: stringOrUndefined(raw.url),
          auth: stringOrUndefined(raw.auth),
          ...(stringOrUndefined(raw.tenant) === undefined ? {} : { tenantId: stringOrUndefined(raw.tenant) }),
          ...(stringOrUndefined(raw.clientId) === undefined ? {} : { clientId: stringOrUndefined(raw.clientId) }),
          ...(stringOrUndefined(raw.authority) === undefined ? {} : { authority: stringOrUndefined(raw.authority) }),
          ...(stringOrUndefined(raw.caFile) === undefined ? {} : { caFile: stringOrUndefined(raw.caFile) }),
          // Absolute, so commands run from another directory find the same file.
          ...(stringOrUndefined(raw.certificate) === undefined
            ? {}
            : { certificateFile: resolve(stringOrUndefined(raw.certificate) ?? '') }),
          ...(raw.production === true ? { production: true } : {}),
          ...(raw.readOnly === true ? { readOnly: true } : {}),
          ...(raw.agentWrites === true ? { agentWrites: true } : {}),
        },
        'the environment',
      );
    } catch (error) {
      report(io, error);
    }
    const file = connectionsFile();
    try {
      const current = await readConnections(file);
      await writeConnections(file, withConnection(current, connection, raw.force === true));
    } catch (error) {
      report(io, error);
    }
    io.stdout(`added environment '${connection.name}' (${connection.auth.method}) to ${file}\n`);
  });
}

function listCommand(io: CliIo): Command {
  return configure(
    new Command('list').description('list the named environments').option('--json', 'print them as JSON'),
    io,
  ).action(async (raw: Record<string, unknown>) => {
    let environments: readonly Connection[];
    try {
      environments = (await readConnections(connectionsFile())).environments;
    } catch (error) {
      report(io, error);
    }
    if (raw.json === true) {
      io.stdout(`${JSON.stringify(environments.map(connectionEntry), null, 2)}\n`);
      return;
    }
    if (environments.length === 0) {
      io.stdout('no environments yet: dvw env add NAME --url URL ...\n');
      return;
    }
    const marks = (c: Connection): string =>
      [c.production ? 'production' : '', c.readOnly ? 'read-only' : '', c.agentWrites ? 'agent-writes' : '']
        .filter((m) => m !== '')
        .join(',');
    const rows = environments.map((c) => [
      c.name,
      c.url,
      c.auth.method,
      c.auth.tenantId ?? c.auth.authority ?? '',
      c.auth.clientId ?? '',
      marks(c),
    ]);
    const header = ['NAME', 'URL', 'AUTH', 'TENANT', 'CLIENT ID', 'MARKS'];
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]?.length ?? 0)));
    for (const row of [header, ...rows]) {
      io.stdout(
        `${row
          .map((cell, i) => cell.padEnd(widths[i] ?? 0))
          .join('  ')
          .trimEnd()}\n`,
      );
    }
  });
}

function removeCommand(io: CliIo): Command {
  return configure(
    new Command('remove').description('remove a named environment').argument('<name>', 'the environment'),
    io,
  ).action(async (name: string) => {
    const file = connectionsFile();
    try {
      await writeConnections(file, withoutConnection(await readConnections(file), name));
    } catch (error) {
      report(io, error);
    }
    io.stdout(`removed environment '${name}'\n`);
  });
}

function testCommand(io: CliIo): Command {
  return configure(
    new Command('test')
      .description('sign in to a named environment afresh (no cached token) and ask it WhoAmI')
      .argument('<name>', 'the environment'),
    io,
  ).action(async (name: string) => {
    await withCommandConnection(io, COMMAND, { env: name }, async ({ client, connection, signal, redact }) => {
      const result = await checkConnection(client, connection.tokenProvider, signal);
      if (!result.ok) {
        const part = result.part === 'signIn' ? 'sign-in failed' : 'signed in, but the Web API refused WhoAmI';
        failed(io, `${connection.label}: ${part}: ${redact(describeError(result.error))}`);
      }
      const { who } = result;
      io.stdout(`${connection.label}: signed in as user ${who.userId} (organization ${who.organizationId})\n`);
    });
  });
}

function snapshotCommand(io: CliIo): Command {
  return configure(
    new Command('snapshot')
      .description(
        "download an organization's schema ($metadata and EntityDefinitions, never records) for dvw emulator --schema-snapshot",
      )
      .requiredOption('--out <dir>', 'the snapshot folder; a run that was cut short resumes there')
      .option('--env <name>', 'a named environment (dvw env list)')
      .option('--url <url>', 'the organization URL (default: $DATAVERSE_URL)')
      .option('--token <token>', 'a bearer token for --url (default: $DATAVERSE_TOKEN, or DATAVERSE_CLIENT_ID/SECRET)')
      .option('--tables <list>', 'keep only these tables: logical names and prefix_* patterns, comma-separated'),
    io,
  ).action(async (raw: Record<string, unknown>) => {
    const list = stringOrUndefined(raw.tables);
    const { patterns, invalid } = parseTableList(list ?? '');
    if (invalid.length > 0) {
      usage(io, `--tables: not a logical name or a prefix_* pattern: ${invalid.map((t) => `'${t}'`).join(', ')}`);
    }
    const tables = list === undefined ? undefined : patterns;
    if (tables?.length === 0) usage(io, '--tables names no table');
    await withCommandConnection(io, COMMAND, raw, async ({ client, connection }) => {
      await takeSnapshot({
        client,
        source: webApiRoot(connection.url),
        folder: resolve(stringOrUndefined(raw.out) ?? '.'),
        ...(tables === undefined ? {} : { tables }),
        progress: (line) => io.stderr(`${line}\n`),
      });
    });
  });
}

/** `dvw env add|list|remove|test|snapshot`: the connections file other commands read with `--env NAME`. */
export function registerEnvCommand(program: Command, io: CliIo): void {
  const env = configure(
    new Command('env').description(
      'manage named environments (stored without secrets in the dvw connections file) for --env NAME',
    ),
    io,
  );
  env.addCommand(addCommand(io));
  env.addCommand(listCommand(io));
  env.addCommand(removeCommand(io));
  env.addCommand(testCommand(io));
  env.addCommand(snapshotCommand(io));
  program.addCommand(env);
}

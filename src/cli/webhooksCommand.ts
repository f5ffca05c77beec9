import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { readFile, writeFile } from 'node:fs/promises';
import { createInterface } from 'node:readline/promises';
import { describeError, WorkbenchError } from '../core/errors';
import { isJsonObject } from '../core/json';
import { exportRegistrations, formatRegistrationFile, secretReferences } from '../webhooks/exportRegistrations';
import { formatDelivery, summarizeDelivery } from '../webhooks/inspect';
import type { Plan } from '../webhooks/plan';
import { applyPlan, computePlan, formatPlan, isEmptyPlan } from '../webhooks/plan';
import { startWebhookReceiver } from '../webhooks/receiver';
import type { ReceiverAuth } from '../webhooks/receiver';
import type { RegistrationFile } from '../webhooks/registrationFile';
import { parseRegistrationFile } from '../webhooks/registrationFile';
import { createWebApiExecutor, loadRegisteredState } from '../webhooks/webApiExecutor';
import type { CommandOptions } from './commandConnection';
import { USAGE_EXIT_CODE, usageExit, withCommandConnection, withConnectionOptions } from './commandConnection';
import type { CliIo } from './program';
import { humanIo } from './terminalText';

interface ListenOptions {
  readonly host: string;
  readonly port: number;
  readonly key?: string;
  readonly keyEnv?: string;
  readonly header: readonly [string, string][];
  readonly query: readonly [string, string][];
  readonly json: boolean;
}

/** Usage errors end with exit code 2, like other command-line tools. */

function parsePort(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) > 65535)
    throw new InvalidArgumentError('expected a port number from 0 to 65535.');
  return Number(value);
}

function parsePair(value: string, previous: readonly [string, string][]): readonly [string, string][] {
  const equals = value.indexOf('=');
  if (equals <= 0) throw new InvalidArgumentError('expected NAME=VALUE.');
  return [...previous, [value.slice(0, equals), value.slice(equals + 1)]];
}

function isListenOptions(value: unknown): value is ListenOptions {
  if (!isJsonObject(value)) return false;
  const v = value;
  return (
    typeof v.host === 'string' &&
    typeof v.port === 'number' &&
    (v.key === undefined || typeof v.key === 'string') &&
    (v.keyEnv === undefined || typeof v.keyEnv === 'string') &&
    Array.isArray(v.header) &&
    Array.isArray(v.query) &&
    typeof v.json === 'boolean'
  );
}

function receiverAuth(
  options: ListenOptions,
  env: Readonly<Record<string, string | undefined>>,
): ReceiverAuth | undefined {
  if (options.key !== undefined && options.keyEnv !== undefined) {
    throw new InvalidArgumentError('use --key or --key-env, not both.');
  }
  const hasKey = options.key !== undefined || options.keyEnv !== undefined;
  const kinds = [hasKey, options.header.length > 0, options.query.length > 0].filter(Boolean);
  if (kinds.length > 1) {
    throw new InvalidArgumentError('choose one of --key, --header and --query: an endpoint has one auth type.');
  }
  if (options.keyEnv !== undefined) {
    // The key stays out of the command line, which any user of the machine can read (ps, /proc).
    const key = env[options.keyEnv];
    if (key === undefined || key === '') {
      throw new InvalidArgumentError(`--key-env ${options.keyEnv}: that environment variable is not set.`);
    }
    return { kind: 'webhookKey', key };
  }
  if (options.key !== undefined) {
    if (options.key === '') throw new InvalidArgumentError('--key must not be empty.');
    return { kind: 'webhookKey', key: options.key };
  }
  if (options.header.length > 0) return { kind: 'httpHeader', values: Object.fromEntries(options.header) };
  if (options.query.length > 0) return { kind: 'httpQueryString', values: Object.fromEntries(options.query) };
  return undefined;
}

function usageError(io: CliIo, message: string): never {
  io.stderr(`dvw webhooks listen: ${message}\n`);
  throw new CommanderError(USAGE_EXIT_CODE, 'dvw.webhooks.usage', message);
}

function listenCommand(io: CliIo): Command {
  return new Command('listen')
    .description('receive Dataverse webhook deliveries on this machine and show each one')
    .option('--host <host>', 'address to listen on (loopback unless you say otherwise)', '127.0.0.1')
    .option('--port <port>', 'port to listen on; 0 picks a free one', parsePort, 0)
    .option('--key <key>', 'accept only deliveries with this WebhookKey (?code=KEY)')
    .option('--key-env <name>', 'like --key, the key read from this environment variable (kept out of ps)')
    .option('--header <name=value>', 'accept only deliveries with this HTTP header (repeatable)', parsePair, [])
    .option('--query <name=value>', 'accept only deliveries with this query parameter (repeatable)', parsePair, [])
    .option('--json', 'print one JSON line per delivery', false)
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    .exitOverride(usageExit)
    .action(async (raw: unknown) => {
      if (!isListenOptions(raw)) usageError(io, 'invalid options');
      let auth: ReceiverAuth | undefined;
      try {
        auth = receiverAuth(raw, process.env);
      } catch (error) {
        if (!(error instanceof InvalidArgumentError)) throw error;
        usageError(io, error.message);
      }
      // Text is for a person: a delivery's values are escaped. JSON lines are data (JSON escapes controls).
      const out = raw.json ? io : humanIo(io);
      const receiver = await startWebhookReceiver({
        host: raw.host,
        port: raw.port,
        key: auth,
        onDelivery: (delivery) => {
          out.stdout(raw.json ? `${JSON.stringify(summarizeDelivery(delivery))}\n` : `${formatDelivery(delivery)}\n`);
        },
        onRejected: (rejection) => out.stderr(`rejected (${rejection.status}): ${rejection.reason}\n`),
      });
      // The first line carries the URL so that scripts (and tests) can find a port chosen with --port 0.
      if (raw.json) {
        io.stdout(`${JSON.stringify({ url: receiver.url })}\n`);
      } else {
        const hint =
          auth?.kind === 'webhookKey'
            ? ' (register it with ?code=<your key>)'
            : auth
              ? ` (checking ${auth.kind === 'httpHeader' ? 'headers' : 'query parameters'})`
              : ' (no key: every delivery is accepted)';
        io.stdout(`Listening for webhook deliveries on ${receiver.url}${hint}\nPress Ctrl+C to stop.\n`);
      }
      const stop = (): void => {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        receiver.close().then(
          () => process.exit(0),
          () => process.exit(1),
        );
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    });
}

// ---- plan, apply, export ----

interface ConnectionOptions {
  env?: unknown;
  url?: unknown;
  token?: unknown;
  prune?: unknown;
  yes?: unknown;
  rotateSecrets?: unknown;
  force?: unknown;
}

/** plan, apply and export: usage problems exit 2, failures 1, both without a stack trace. */
function command(name: string): CommandOptions {
  return { name: `dvw webhooks ${name}`, code: 'dvw.webhooks' };
}

async function readRegistrationFile(io: CliIo, name: string, file: string): Promise<RegistrationFile> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const code = error instanceof Error && 'code' in error ? String(error.code) : '';
    const message = code === 'ENOENT' ? `file not found: ${file}` : `cannot read ${file}`;
    io.stderr(`dvw webhooks ${name}: ${message}\n`);
    throw new CommanderError(USAGE_EXIT_CODE, 'dvw.webhooks.usage', message);
  }
  try {
    return parseRegistrationFile(text);
  } catch (error) {
    const message = `${file}: ${describeError(error)}`;
    io.stderr(`dvw webhooks ${name}: ${message}\n`);
    throw new CommanderError(USAGE_EXIT_CODE, 'dvw.webhooks.usage', message);
  }
}

/** A secret reference's value: the named environment variable, when it holds something. */
function secretFromEnvironment(ref: { readonly env: string }): string | undefined {
  const value = process.env[ref.env];
  return value === undefined || value === '' ? undefined : value;
}

async function confirm(io: CliIo, question: string): Promise<boolean> {
  const prompt = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await prompt.question(question);
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    prompt.close();
    io.stderr('');
  }
}

function usageExits(command: Command, io: CliIo): Command {
  return command.configureOutput({ writeOut: io.stdout, writeErr: io.stderr }).exitOverride(usageExit);
}

function planOptions(raw: ConnectionOptions): { prune: boolean; rotateSecrets: boolean } {
  return { prune: raw.prune === true, rotateSecrets: raw.rotateSecrets === true };
}

function planCommand(io: CliIo): Command {
  return usageExits(
    withConnectionOptions(
      new Command('plan')
        .description('print what applying a dataverse.webhooks.json would create, update and delete')
        .argument('<file>', 'the registration file')
        .option('--prune', 'also delete registered endpoints the file does not name')
        .option('--rotate-secrets', 'send every secret again'),
    ),
    io,
  ).action(async (file: string, raw: ConnectionOptions) => {
    const registrations = await readRegistrationFile(io, 'plan', file);
    await withCommandConnection(io, command('plan'), raw, async ({ client, signal }) => {
      const state = await loadRegisteredState(client, signal);
      io.stdout(formatPlan(computePlan(registrations, state, planOptions(raw))));
    });
  });
}

function applyCommand(io: CliIo): Command {
  return usageExits(
    withConnectionOptions(
      new Command('apply')
        .description('make the registrations match a dataverse.webhooks.json (a second apply changes nothing)')
        .argument('<file>', 'the registration file')
        .option('--prune', 'also delete registered endpoints the file does not name')
        .option('--rotate-secrets', 'send every secret again')
        .option('--yes', 'apply without asking, deletions included'),
    ),
    io,
  ).action(async (file: string, raw: ConnectionOptions) => {
    const registrations = await readRegistrationFile(io, 'apply', file);
    await withCommandConnection(io, command('apply'), raw, async ({ client, signal, connection }) => {
      const { label } = connection;
      const state = await loadRegisteredState(client, signal);
      const plan: Plan = computePlan(registrations, state, planOptions(raw));
      io.stdout(formatPlan(plan));
      if (isEmptyPlan(plan)) return;
      if (raw.yes !== true) {
        const deletes = plan.operations.some((op) => op.action === 'delete');
        if (process.stdin.isTTY) {
          if (!(await confirm(io, `Apply these changes to ${label}? [y/N] `))) {
            throw new WorkbenchError('cancelled', 'nothing was applied.');
          }
        } else if (deletes) {
          throw new WorkbenchError('invalidInput', 'the plan deletes registrations: pass --yes to apply it');
        }
      }
      const result = await applyPlan(plan, createWebApiExecutor(client, signal), {
        resolveSecret: secretFromEnvironment,
        signal,
      });
      io.stdout(`Applied: ${result.created} created, ${result.updated} updated, ${result.deleted} deleted.\n`);
    });
  });
}

function exportCommand(io: CliIo): Command {
  return usageExits(
    withConnectionOptions(
      new Command('export')
        .description('write what is registered as a dataverse.webhooks.json (secrets as environment variable names)')
        .argument('<file>', 'the file to write')
        .option('--force', 'overwrite the file if it exists'),
    ),
    io,
  ).action(async (file: string, raw: ConnectionOptions) => {
    await withCommandConnection(io, command('export'), raw, async ({ client, signal }) => {
      const state = await loadRegisteredState(client, signal);
      const notes: string[] = [];
      const registrations = exportRegistrations(state, notes);
      try {
        await writeFile(file, formatRegistrationFile(registrations), { flag: raw.force === true ? 'w' : 'wx' });
      } catch (error) {
        const code = error instanceof Error && 'code' in error ? String(error.code) : '';
        if (code === 'EEXIST') throw new WorkbenchError('invalidInput', `${file} exists: pass --force to overwrite it`);
        throw new WorkbenchError('internal', `cannot write ${file}`, { cause: error });
      }
      for (const note of notes) io.stderr(`note: ${note}\n`);
      const variables = secretReferences(registrations);
      io.stdout(
        `Wrote ${registrations.endpoints.length} endpoints to ${file}.` +
          (variables.length === 0 ? '\n' : ` Before applying it, set: ${variables.join(', ')}.\n`),
      );
    });
  });
}

export function registerWebhooksCommand(program: Command, io: CliIo): void {
  const webhooks = new Command('webhooks')
    .description('register webhooks from a file (plan, apply, export) and inspect deliveries (listen)')
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    .exitOverride(usageExit);
  // plan, apply and export print names and URLs read from Dataverse for a person to read.
  webhooks.addCommand(planCommand(humanIo(io)));
  webhooks.addCommand(applyCommand(humanIo(io)));
  webhooks.addCommand(exportCommand(humanIo(io)));
  webhooks.addCommand(listenCommand(io));
  program.addCommand(webhooks);
}

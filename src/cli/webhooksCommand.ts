import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { formatDelivery, summarizeDelivery } from '../webhooks/inspect';
import { startWebhookReceiver } from '../webhooks/receiver';
import type { ReceiverAuth } from '../webhooks/receiver';
import type { CliIo } from './program';

interface ListenOptions {
  readonly host: string;
  readonly port: number;
  readonly key?: string;
  readonly header: readonly [string, string][];
  readonly query: readonly [string, string][];
  readonly json: boolean;
}

/** Usage errors end with exit code 2, like other command-line tools. */
const USAGE_EXIT_CODE = 2;

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
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return (
    typeof v.host === 'string' &&
    typeof v.port === 'number' &&
    (v.key === undefined || typeof v.key === 'string') &&
    Array.isArray(v.header) &&
    Array.isArray(v.query) &&
    typeof v.json === 'boolean'
  );
}

function receiverAuth(options: ListenOptions): ReceiverAuth | undefined {
  const kinds = [options.key !== undefined, options.header.length > 0, options.query.length > 0].filter(Boolean);
  if (kinds.length > 1) {
    throw new InvalidArgumentError('choose one of --key, --header and --query: an endpoint has one auth type.');
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
    .option('--header <name=value>', 'accept only deliveries with this HTTP header (repeatable)', parsePair, [])
    .option('--query <name=value>', 'accept only deliveries with this query parameter (repeatable)', parsePair, [])
    .option('--json', 'print one JSON line per delivery', false)
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    .exitOverride((error) => {
      if (error.exitCode === 0) throw error;
      throw new CommanderError(USAGE_EXIT_CODE, error.code, error.message);
    })
    .action(async (raw: unknown) => {
      if (!isListenOptions(raw)) usageError(io, 'invalid options');
      let auth: ReceiverAuth | undefined;
      try {
        auth = receiverAuth(raw);
      } catch (error) {
        if (!(error instanceof InvalidArgumentError)) throw error;
        usageError(io, error.message);
      }
      const receiver = await startWebhookReceiver({
        host: raw.host,
        port: raw.port,
        key: auth,
        onDelivery: (delivery) => {
          io.stdout(raw.json ? `${JSON.stringify(summarizeDelivery(delivery))}\n` : `${formatDelivery(delivery)}\n`);
        },
        onRejected: (rejection) => io.stderr(`rejected (${rejection.status}): ${rejection.reason}\n`),
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

export function registerWebhooksCommand(program: Command, io: CliIo): void {
  const webhooks = new Command('webhooks')
    .description('inspect webhook deliveries from Dataverse')
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    .exitOverride((error) => {
      if (error.exitCode === 0) throw error;
      throw new CommanderError(USAGE_EXIT_CODE, error.code, error.message);
    });
  webhooks.addCommand(listenCommand(io));
  program.addCommand(webhooks);
}

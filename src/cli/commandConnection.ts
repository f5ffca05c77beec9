import type { Command } from 'commander';
import { CommanderError } from 'commander';
import type { ErrorKind } from '../core/errors';
import { describeError, WorkbenchError } from '../core/errors';
import type { RetryOptions } from '../dataverse/retryPolicy';
import type { ClientEvent } from '../dataverse/webApiClient';
import { WebApiClient } from '../dataverse/webApiClient';
import type { ResolvedConnection } from './connections';
import { cliResolveOptions, redact, resolveConnection } from './connections';
import type { CliIo } from './program';

export const USAGE_EXIT_CODE = 2;
export const FAILED_EXIT_CODE = 1;

/** Every command's `exitOverride`: help and version exit 0 as they are; any other Commander error is a usage error. */
export function usageExit(error: CommanderError): never {
  if (error.exitCode === 0) throw error;
  throw new CommanderError(USAGE_EXIT_CODE, error.code, error.message);
}

/** The options that name a connection, in every command that talks to an environment. */
export function withConnectionOptions(command: Command): Command {
  return command
    .option('--env <name>', 'a named environment (dvw env add)')
    .option('--url <url>', 'the organization URL (default: $DATAVERSE_URL)')
    .option('--token <token>', 'a bearer token (default: $DATAVERSE_TOKEN, or DATAVERSE_CLIENT_ID/SECRET/TENANT_ID)');
}

/** `--env`, `--url` and `--token` as commander hands them over. */
export interface ConnectionOptions {
  readonly env?: unknown;
  readonly url?: unknown;
  readonly token?: unknown;
}

/** What a command's work gets: the connection, a client on it, Ctrl+C as a signal, and stderr without secrets. */
export interface CommandConnection {
  readonly connection: ResolvedConnection;
  readonly client: WebApiClient;
  readonly signal: AbortSignal;
  /** Writes to stderr with the connection's secrets removed. */
  readonly say: (line: string) => void;
  /** Text with the connection's secrets removed. */
  readonly redact: (text: string) => string;
}

export interface CommandOptions {
  /** How messages start, e.g. `dvw import`. */
  readonly name: string;
  /** The CommanderError codes' prefix, e.g. `dvw.import` (`.usage` or `.failed` is added). */
  readonly code: string;
  /** Retries for the client (a command whose every request is safe to repeat may try harder). */
  readonly retry?: RetryOptions;
  /** Print every retry on stderr (method, path, status, wait). */
  readonly verbose?: boolean;
  /** The error kinds that are the user's to fix (exit 2); default `invalidInput`. */
  readonly usageKinds?: readonly ErrorKind[];
}

function stringOf(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/** Method, path and status only: never query strings, bodies or headers. */
export function retryLine(event: ClientEvent): string {
  if (event.type === 'refreshToken') return `refresh token: ${event.method} ${event.path} answered 401\n`;
  const status = event.status === undefined ? event.kind : String(event.status);
  const why = event.source === 'retryAfter' ? 'Retry-After' : event.source;
  return `retry: ${event.method} ${event.path} → ${status}, attempt ${event.attempt}, waiting ${event.delayMs} ms (${why})\n`;
}

/** A command's end with a message on stderr: usage problems exit 2, failures 1, never with a stack trace. */
export function stopCommand(io: CliIo, options: CommandOptions, exitCode: number, message: string): never {
  io.stderr(`${options.name}: ${message}\n`);
  const kind = exitCode === USAGE_EXIT_CODE ? 'usage' : 'failed';
  throw new CommanderError(exitCode, `${options.code}.${kind}`, message);
}

/**
 * Runs a command's work on the connection its options name (`--env`, `--url`, `--token`, or the environment
 * variables): one place for resolving it, the client, Ctrl+C and reporting. An invalid input exits 2, any other
 * failure 1, each as one redacted line; a CommanderError the work throws (its own usage or failure) passes.
 */
export async function withCommandConnection(
  io: CliIo,
  options: CommandOptions,
  raw: ConnectionOptions,
  work: (command: CommandConnection) => Promise<void>,
): Promise<void> {
  let secrets: readonly string[] = [];
  const clean = (text: string): string => redact(text, secrets);
  const say = (line: string): void => io.stderr(clean(line));
  const abort = new AbortController();
  const onInterrupt = (): void => abort.abort();
  process.once('SIGINT', onInterrupt);
  try {
    const connection = await resolveConnection(
      { env: stringOf(raw.env), url: stringOf(raw.url), token: stringOf(raw.token) },
      process.env,
      cliResolveOptions(io.stderr),
    );
    secrets = connection.secrets;
    const client = new WebApiClient({
      url: connection.url,
      tokenProvider: connection.tokenProvider,
      ...(options.retry === undefined ? {} : { retry: options.retry }),
      ...(options.verbose === true ? { onEvent: (event: ClientEvent) => say(retryLine(event)) } : {}),
    });
    await work({ connection, client, signal: abort.signal, say, redact: clean });
  } catch (error) {
    if (error instanceof CommanderError) throw error;
    const usageKinds = options.usageKinds ?? ['invalidInput'];
    const code =
      error instanceof WorkbenchError && usageKinds.includes(error.kind) ? USAGE_EXIT_CODE : FAILED_EXIT_CODE;
    stopCommand(io, options, code, clean(describeError(error)));
  } finally {
    process.off('SIGINT', onInterrupt);
  }
}

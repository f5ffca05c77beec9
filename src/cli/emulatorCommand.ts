import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { readFileSync } from 'node:fs';
import type { Faults } from '../emulator/faults';
import { parseFaults } from '../emulator/faults';
import type { Limits } from '../emulator/protection';
import { parseDuration, parseLimits, SpecError } from '../emulator/protection';
import { extendSchemaWithFile } from '../emulator/schema/extension';
import { SchemaError } from '../emulator/schema/schema';
import type { Schema } from '../emulator/schema/schema';
import { reachableFromOtherMachines } from '../emulator/loopback';
import { builtinSchema, loadMetadataFile, loadSnapshot } from '../emulator/schema/snapshot';
import { OPEN_WITHOUT_AUTH, startEmulator } from '../emulator/server';
import type { CliIo } from './program';
import { USAGE_EXIT_CODE, usageExit } from './commandConnection';

interface EmulatorCliOptions {
  readonly host: string;
  readonly port: number;
  readonly data?: string;
  readonly seed: 'sample' | 'none';
  readonly seedAccounts?: number;
  readonly auth: boolean;
  readonly json: boolean;
  readonly schema?: string;
  readonly schemaSnapshot?: string;
  readonly metadata?: string;
  readonly tokenLifetime: number;
  readonly clientCertificate?: readonly string[];
  readonly limits?: Limits;
  readonly faults?: Faults;
}

/** Usage errors end with exit code 2, like other command-line tools. */

function parsePort(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) > 65535)
    throw new InvalidArgumentError('expected a port number from 0 to 65535.');
  return Number(value);
}

function parseCount(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) > 10_000_000)
    throw new InvalidArgumentError('expected a whole number up to 10,000,000.');
  return Number(value);
}

function parseSeed(value: string): 'sample' | 'none' {
  if (value !== 'sample' && value !== 'none') throw new InvalidArgumentError("expected 'sample' or 'none'.");
  return value;
}

/** Entra issues tokens for 1 hour by default; a day is far beyond anything a test of refresh needs. */
const MAX_TOKEN_LIFETIME_MS = 24 * 3_600_000;

function parseTokenLifetime(value: string): number {
  let ms: number;
  try {
    ms = parseDuration(value, 'token lifetime');
  } catch (error) {
    throw new InvalidArgumentError(error instanceof SpecError ? error.message : 'expected a duration.');
  }
  if (ms < 1000 || ms > MAX_TOKEN_LIFETIME_MS) throw new InvalidArgumentError('expected a lifetime from 1s to 24h.');
  return ms;
}

/** Commander turns InvalidArgumentError into a usage error (exit 2) with the option named. */
function specParser<T>(parse: (text: string) => T): (value: string) => T {
  return (value) => {
    try {
      return parse(value);
    } catch (error) {
      if (error instanceof SpecError) throw new InvalidArgumentError(error.message);
      throw error;
    }
  };
}

/**
 * The certificate blocks of a PEM file, collected per repeat of the option. A private key in the same file
 * is left behind: the emulator, like Entra, holds only the public part.
 */
function collectCertificate(file: string, previous: readonly string[] = []): string[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    throw new InvalidArgumentError(`cannot read ${file}.`);
  }
  const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g);
  if (blocks === null) throw new InvalidArgumentError(`${file} holds no PEM certificate.`);
  return [...previous, blocks[0]];
}

function isOptions(value: unknown): value is EmulatorCliOptions {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return (
    typeof v.host === 'string' &&
    typeof v.port === 'number' &&
    typeof v.auth === 'boolean' &&
    typeof v.json === 'boolean' &&
    typeof v.tokenLifetime === 'number'
  );
}

export function registerEmulatorCommand(program: Command, io: CliIo): void {
  const command = new Command('emulator')
    .description('start the local Dataverse Web API emulator')
    .option('--host <host>', 'address to listen on (loopback unless you say otherwise)', '127.0.0.1')
    .option('--port <port>', 'port to listen on; 0 picks a free one', parsePort, 0)
    .option('--data <path>', 'keep the data in this SQLite file (in memory when absent)')
    .option('--seed <kind>', "sample data for a new data file: 'sample' or 'none'", parseSeed, 'sample')
    .option('--seed-accounts <n>', 'add N generated accounts (for benchmarks)', parseCount)
    .option('--no-auth', 'accept requests without a bearer token')
    .option('--json', 'print one JSON line with the URL and token once listening', false)
    .option(
      '--schema <file>',
      'extend the built-in tables (or those of --schema-snapshot/--metadata) with a JSON schema file',
    )
    .option('--schema-snapshot <dir>', "serve an organization's tables from a schema snapshot (dvw env snapshot)")
    .option('--metadata <file>', 'serve the tables of a bare $metadata document (option sets and keys unknown)')
    .option(
      '--client-certificate <file>',
      "register a PEM certificate on the identity endpoint's app, for certificate sign-in (repeatable)",
      collectCertificate,
    )
    .option(
      '--token-lifetime <duration>',
      'lifetime of issued access tokens, e.g. 60s, 5m, 1h',
      parseTokenLifetime,
      3_600_000,
    )
    .option(
      '--limits <spec>',
      "service protection limits, e.g. requests=6000/300s,concurrent=52,time=1200s/300s, or 'dataverse' (default: none)",
      specParser(parseLimits),
    )
    .option(
      '--faults <spec>',
      'inject faults, e.g. 503=5%,reset=2%,after-commit=50%,latency=20-200ms,seed=7 (default: none)',
      specParser(parseFaults),
    )
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    .exitOverride(usageExit)
    .action(async (raw: unknown) => {
      if (!isOptions(raw)) throw new CommanderError(USAGE_EXIT_CODE, 'dvw.emulator.options', 'invalid options');
      if (!raw.auth && reachableFromOtherMachines(raw.host)) {
        io.stderr(`dvw emulator: ${OPEN_WITHOUT_AUTH(raw.host)}\n`);
        throw new CommanderError(USAGE_EXIT_CODE, 'dvw.emulator.openWithoutAuth', OPEN_WITHOUT_AUTH(raw.host));
      }
      if (raw.schemaSnapshot !== undefined && raw.metadata !== undefined) {
        const message = 'dvw emulator: use one of --schema-snapshot and --metadata';
        io.stderr(`${message}\n`);
        throw new CommanderError(USAGE_EXIT_CODE, 'dvw.emulator.schema', message);
      }
      let schema: Schema | undefined;
      try {
        if (raw.schemaSnapshot !== undefined) schema = loadSnapshot(raw.schemaSnapshot);
        else if (raw.metadata !== undefined) schema = loadMetadataFile(raw.metadata);
        // --schema extends the built-in tables, or the snapshot's tables when there is one.
        if (raw.schema !== undefined) schema = extendSchemaWithFile(schema ?? builtinSchema(), raw.schema);
      } catch (error) {
        if (!(error instanceof SchemaError)) throw error;
        io.stderr(`dvw emulator: ${error.message}\n`);
        throw new CommanderError(USAGE_EXIT_CODE, 'dvw.emulator.schema', error.message);
      }
      const emulator = await startEmulator({
        host: raw.host,
        port: raw.port,
        dataPath: raw.data,
        seed: raw.seed,
        seedAccounts: raw.seedAccounts,
        noAuth: !raw.auth,
        schema,
        tokenLifetimeMs: raw.tokenLifetime,
        ...(raw.limits === undefined ? {} : { limits: raw.limits }),
        ...(raw.faults === undefined ? {} : { faults: raw.faults }),
        ...(raw.clientCertificate === undefined ? {} : { clientCertificates: raw.clientCertificate }),
      });
      if (raw.json) {
        io.stdout(
          `${JSON.stringify({
            url: emulator.url,
            webApi: emulator.webApi,
            token: raw.auth ? emulator.token : null,
            authority: emulator.authority,
            tenantId: emulator.tenantId,
            clientId: emulator.clientId,
            clientSecret: emulator.clientSecret,
            certificatePath: emulator.certificatePath,
          })}\n`,
        );
      } else {
        io.stdout(
          [
            `Dataverse emulator listening on ${emulator.url}`,
            `  Web API:  ${emulator.webApi}`,
            raw.auth ? `  Token:    Authorization: Bearer ${emulator.token}` : '  Auth:     off (--no-auth)',
            `  Data:     ${raw.data ?? 'in memory (gone when stopped; use --data FILE to keep it)'}`,
            `  Identity: authority ${emulator.authority}, client id ${emulator.clientId}`,
            `            certificate ${emulator.certificatePath} (the client secret is in the --json line)`,
            raw.limits === undefined ? '  Limits:   none (--limits to apply service protection)' : '  Limits:   on',
            raw.faults === undefined ? '  Faults:   none (--faults, or POST /_emulator/faults)' : '  Faults:   on',
            `  Try:      curl ${raw.auth ? '-H "Authorization: Bearer <token>" ' : ''}${emulator.webApi}WhoAmI`,
            'Press Ctrl+C to stop.',
            '',
          ].join('\n'),
        );
      }
      const stop = (): void => {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        emulator.close().then(
          () => process.exit(0),
          () => process.exit(1),
        );
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
      // Forked with an IPC channel (the extension host does): the channel closes when the parent goes, even
      // when it is killed, and an emulator outliving it would hold the data file against the next start.
      if (process.connected) process.once('disconnect', stop);
    });
  program.addCommand(command);
}

import { Command, CommanderError, Option } from 'commander';
import { readFile } from 'node:fs/promises';
import { describeError, WorkbenchError } from '../core/errors';
import { cacheDirectory } from '../dataverse/connectionsFile';
import { MetadataCache } from '../dataverse/metadataCache';
import { WebApiClient } from '../dataverse/webApiClient';
import { parseCsdl } from '../metadata/csdl';
import { MetadataIndex } from '../metadata/lookup';
import type { CheckFinding } from '../odata/language/check';
import { checkText, formatFinding } from '../odata/language/check';
import { cliResolveOptions, redact, resolveConnection } from './connections';
import type { CliIo } from './program';
import { humanIo } from './terminalText';
import { USAGE_EXIT_CODE, usageExit } from './commandConnection';

function usage(io: CliIo, message: string): never {
  io.stderr(`dvw check: ${message}\n`);
  throw new CommanderError(USAGE_EXIT_CODE, 'dvw.check.usage', message);
}

async function readOrUsage(io: CliIo, path: string, what: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error: unknown) {
    const code = error instanceof Error && 'code' in error ? String(error.code) : '';
    usage(io, code === 'ENOENT' ? `${what} not found: ${path}` : `cannot read ${what} ${path}: ${String(error)}`);
  }
}

interface RawCheckOptions {
  metadata?: unknown;
  format?: unknown;
  env?: unknown;
  url?: unknown;
  token?: unknown;
}

function stringOption(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/**
 * The environment's `$metadata` through the same on-disk cache as `dvw import` (beside the connections
 * file), so checking many files in a row downloads it once a day at most.
 */
async function environmentMetadata(io: CliIo, raw: RawCheckOptions): Promise<MetadataIndex> {
  let secrets: readonly string[] = [];
  try {
    const connection = await resolveConnection(
      { env: stringOption(raw.env), url: stringOption(raw.url), token: stringOption(raw.token) },
      process.env,
      cliResolveOptions(io.stderr),
    );
    secrets = connection.secrets;
    const client = new WebApiClient({ url: connection.url, tokenProvider: connection.tokenProvider });
    const cache = new MetadataCache({ client, directory: cacheDirectory(process.env) });
    return new MetadataIndex((await cache.get()).model);
  } catch (error) {
    const message = redact(describeError(error), secrets);
    if (error instanceof WorkbenchError && error.kind === 'invalidInput') usage(io, message);
    // Diagnostics against no metadata would pass files that are wrong: a failed download is a failed check.
    io.stderr(`dvw check: cannot load the environment's metadata: ${message}\n`);
    throw new CommanderError(1, 'dvw.check.metadata', message);
  }
}

/**
 * `dvw check FILE... [--metadata PATH | --env NAME | --url URL] [--format text|json]`: the language
 * server's diagnostics, headless.
 */
export function registerCheckCommand(program: Command, io: CliIo): void {
  const command = new Command('check')
    .description("check .odata files: syntax, and names and types against a $metadata file or an environment's")
    .argument('[files...]', '.odata files to check')
    .option('--metadata <path>', 'a $metadata (CSDL XML) file to check names and types against')
    .option('--env <name>', "check against a named environment's metadata (dvw env add)")
    .option('--url <url>', "check against this organization's metadata")
    .option('--token <token>', 'a bearer token for --url (default: $DATAVERSE_TOKEN, or DATAVERSE_CLIENT_ID/SECRET)')
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'json']).default('text'))
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    .exitOverride(usageExit)
    .action(async (files: string[], raw: RawCheckOptions) => {
      if (files.length === 0) usage(io, 'name at least one .odata file: dvw check FILE...');
      const format = raw.format === 'json' ? 'json' : 'text';
      const fromEnvironment = [raw.env, raw.url, raw.token].some((value) => typeof value === 'string');
      if (typeof raw.metadata === 'string' && fromEnvironment) {
        usage(io, 'use --metadata or --env/--url, not both');
      }
      // Read the files first: a missing file is a usage error before any sign-in or download.
      const texts: [string, string][] = [];
      for (const file of files) texts.push([file, await readOrUsage(io, file, 'file')]);
      let metadata: MetadataIndex | undefined;
      if (fromEnvironment) {
        metadata = await environmentMetadata(io, raw);
      } else if (typeof raw.metadata === 'string') {
        const parsed = parseCsdl(await readOrUsage(io, raw.metadata, 'metadata file'));
        if (parsed.errors.length > 0 && parsed.model.entitySets.size === 0) {
          usage(io, `${raw.metadata} is not a $metadata document: ${parsed.errors[0]!.message}`);
        }
        metadata = new MetadataIndex(parsed.model);
      }
      const findings: CheckFinding[] = [];
      for (const [file, text] of texts) {
        findings.push(...checkText(file, text, metadata));
      }
      if (format === 'json') {
        io.stdout(`${JSON.stringify(findings, null, 2)}\n`);
      } else {
        // Messages quote the file's text: escaped, so a control character in a .odata file cannot drive the terminal.
        const out = humanIo(io);
        for (const f of findings) out.stdout(`${formatFinding(f)}\n`);
      }
      if (findings.some((f) => f.severity === 'error')) {
        throw new CommanderError(
          1,
          'dvw.check.errors',
          `${findings.filter((f) => f.severity === 'error').length} error(s)`,
        );
      }
    });
  program.addCommand(command);
}

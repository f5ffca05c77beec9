/**
 * A `.odata` file as the `dvw` commands take it: read, its blocks chosen (by `# @name` label or by number), checked,
 * and `--var name=value` overrides. `dvw run` sends the chosen blocks; `dvw export --odata FILE[:BLOCK]` exports
 * what one GET block returns.
 */
import { readFile } from 'node:fs/promises';
import { describeError } from '../core/errors';
import { parseDocument } from '../odata/document/parser';
import type { Block, ODataDocument } from '../odata/document/syntax';
import { findingsOf, formatFinding } from '../odata/language/check';
import { documentDiagnostics } from '../odata/language/diagnostics';
import type { LanguageDiagnostic } from '../odata/language/types';
import type { RunProblem } from '../odata/run';
import type { CliIo } from './program';

/** Stops the command with a usage error (exit 2) saying `message`. */
export type UsageStop = (message: string) => never;

/** `--var name=value` options; a later one wins. */
export function parseVars(raw: unknown, usage: UsageStop): Record<string, string> {
  const vars: Record<string, string> = {};
  const list = Array.isArray(raw) ? raw : [];
  for (const item of list) {
    const text = String(item);
    const equals = text.indexOf('=');
    const name = equals < 0 ? '' : text.slice(0, equals).trim();
    if (!/^[A-Za-z_][\w-]*$/.test(name)) usage(`--var expects name=value, not '${text}'`);
    vars[name] = text.slice(equals + 1);
  }
  return vars;
}

/** Which blocks a command names: one by `# @name` label or by number, or (neither) every request of the file. */
export interface BlockChoice {
  readonly name?: string;
  readonly block?: string;
  /** How the command spells the block number in its messages (`--block`). */
  readonly blockOption: string;
}

export function selectBlocks(document: ODataDocument, choice: BlockChoice, usage: UsageStop): Block[] {
  if (choice.name !== undefined) {
    // The last request of that name is the one later `{{label.…}}` uses would see.
    const block = [...document.blocks].reverse().find((b) => b.name?.name === choice.name && b.request !== undefined);
    if (block === undefined) usage(`no request is named '${choice.name}' in the file`);
    return [block];
  }
  if (choice.block !== undefined) {
    const index = /^\d+$/.test(choice.block) ? Number(choice.block) : Number.NaN;
    const block = Number.isInteger(index) ? document.blocks[index] : undefined;
    if (block === undefined) {
      usage(
        `${choice.blockOption} must be a block number from 0 to ${document.blocks.length - 1}, not '${choice.block}'`,
      );
    }
    if (block.request === undefined) usage(`block ${index} holds no request`);
    return [block];
  }
  const blocks = document.blocks.filter((b) => b.request !== undefined);
  if (blocks.length === 0) usage('the file holds no request');
  return blocks;
}

/** The file's text and document; a file that cannot be read is a usage error naming it. */
export async function readOdataFile(
  file: string,
  usage: UsageStop,
): Promise<{ readonly text: string; readonly document: ODataDocument }> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error: unknown) {
    const code = error instanceof Error && 'code' in error ? String(error.code) : '';
    usage(code === 'ENOENT' ? `file not found: ${file}` : `cannot read ${file}: ${describeError(error)}`);
  }
  return { text, document: parseDocument(text) };
}

function within(block: Block, offset: number): boolean {
  return offset >= block.span.start && offset < Math.max(block.span.end, block.span.start + 1);
}

/** The document's errors inside `blocks` (with `overrides` defined as variables): none means they may run. */
export function blockDiagnostics(
  document: ODataDocument,
  blocks: readonly Block[],
  overrides: Readonly<Record<string, string>>,
): LanguageDiagnostic[] {
  return documentDiagnostics(document, { environmentVariables: Object.keys(overrides) }).filter(
    (d) => d.severity === 'error' && blocks.some((b) => within(b, d.span.start)),
  );
}

/** Findings as `file:line:column: message` lines on stderr. */
export function printFindings(io: CliIo, file: string, text: string, diagnostics: readonly LanguageDiagnostic[]): void {
  for (const f of findingsOf(file, text, diagnostics)) {
    io.stderr(`${formatFinding(f)}\n`);
  }
}

/** Why a block could not be prepared, as diagnostics to print. */
export function problemDiagnostics(problems: readonly RunProblem[]): LanguageDiagnostic[] {
  return problems.map((p) => ({ code: p.code, message: p.message, severity: 'error', span: p.span, fixes: [] }));
}

/**
 * The findings of `dvw check` for one text: the language server's diagnostics with 1-based lines and
 * columns. The agent tools' check_query answers with the same function, so both report the same.
 */
import type { MetadataIndex } from '../../metadata/lookup';
import { parseDocument } from '../document/parser';
import { documentDiagnostics } from './diagnostics';
import type { LanguageDiagnostic } from './types';

export interface CheckFinding {
  readonly file: string;
  readonly line: number;
  readonly column: number;
  readonly endLine: number;
  readonly endColumn: number;
  readonly severity: 'error' | 'warning' | 'information';
  readonly code: string;
  readonly message: string;
  /** The did-you-mean replacements, best first (titles such as "Change to 'name'"). */
  readonly fixes: readonly string[];
}

/** 1-based line and column of each offset, from one pass over the line starts. */
function positions(text: string): (offset: number) => { line: number; column: number } {
  const starts = [0];
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) starts.push(i + 1);
  return (offset) => {
    let low = 0;
    let high = starts.length - 1;
    while (low < high) {
      const mid = (low + high + 1) >> 1;
      if (starts[mid]! <= offset) low = mid;
      else high = mid - 1;
    }
    return { line: low + 1, column: offset - starts[low]! + 1 };
  };
}

export function findingsOf(file: string, text: string, diagnostics: readonly LanguageDiagnostic[]): CheckFinding[] {
  const at = positions(text);
  return diagnostics.map((d) => {
    const start = at(d.span.start);
    const end = at(d.span.end);
    return {
      file,
      line: start.line,
      column: start.column,
      endLine: end.line,
      endColumn: end.column,
      severity: d.severity,
      code: d.code,
      message: d.message,
      fixes: d.fixes.map((fix) => fix.title),
    };
  });
}

/** Checks one `.odata` text: syntax always, names and types when metadata is given. */
export function checkText(file: string, text: string, metadata: MetadataIndex | undefined): CheckFinding[] {
  return findingsOf(file, text, documentDiagnostics(parseDocument(text), { metadata, keepUrlTrees: false }));
}

/** `file:line:column: severity: message [code]`, the line `dvw check` prints per finding. */
export function formatFinding(f: CheckFinding): string {
  return `${f.file}:${f.line}:${f.column}: ${f.severity}: ${f.message} [${f.code}]`;
}

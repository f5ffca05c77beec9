/**
 * What the `.odata` language services take and give: plain data with offsets, so the language
 * server, the CLI and tests adapt them without knowing each other.
 */
import type { MetadataIndex } from '../../metadata/lookup';
import type { Severity, TextSpan } from '../document/syntax';

export type { Severity, TextSpan };

export interface LanguageOptions {
  /** The environment's metadata; without it the services check and complete syntax only. */
  readonly metadata?: MetadataIndex | undefined;
  /** Variables the environment provides (settings); `{{name}}` of these is not undefined. */
  readonly environmentVariables?: readonly string[] | undefined;
  /** Checked between blocks: a long document stops early when the caller no longer waits. */
  readonly signal?: AbortSignal | undefined;
}

export interface TextEdit {
  readonly span: TextSpan;
  readonly newText: string;
}

export interface QuickFix {
  readonly title: string;
  readonly edits: readonly TextEdit[];
}

export interface LanguageDiagnostic {
  readonly code: string;
  readonly message: string;
  readonly severity: Severity;
  readonly span: TextSpan;
  /** "Did you mean" replacements, best first. */
  readonly fixes: readonly QuickFix[];
}

export type CompletionKind =
  | 'method'
  | 'entitySet'
  | 'operation'
  | 'option'
  | 'property'
  | 'navigation'
  | 'lookup'
  | 'operator'
  | 'function'
  | 'queryFunction'
  | 'keyword'
  | 'value'
  | 'header'
  | 'headerValue'
  | 'variable';

export interface CompletionItem {
  readonly label: string;
  readonly kind: CompletionKind;
  readonly detail?: string;
  readonly documentation?: string;
  /** Defaults to the label. */
  readonly insertText?: string;
  /**
   * A rank for items whose label sorts badly (columns before lookups, common options first); items
   * of one rank sort by label, as LSP clients break sortText ties.
   */
  readonly sortText?: string;
}

export interface CompletionResult {
  /** The text the chosen item replaces: the partial word at the cursor. */
  readonly span: TextSpan;
  readonly items: readonly CompletionItem[];
}

export interface HoverResult {
  readonly span: TextSpan;
  readonly markdown: string;
}

export interface SymbolData {
  readonly name: string;
  readonly detail: string;
  readonly blockIndex: number;
  readonly span: TextSpan;
  readonly selectionSpan: TextSpan;
}

export type CodeLensKind = 'run' | 'getChanges' | 'runAll';

export interface CodeLensData {
  readonly kind: CodeLensKind;
  readonly title: string;
  /** Undefined for `runAll`. */
  readonly blockIndex: number | undefined;
  readonly span: TextSpan;
}

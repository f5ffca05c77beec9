/** The wording and quick fixes every name check shares: "Did you mean …" and "Change to …". */
import type { QuickFix, TextSpan } from './types';

export function replaceFixes(span: TextSpan, suggestions: readonly string[]): QuickFix[] {
  return suggestions.map((s) => ({ title: `Change to '${s}'`, edits: [{ span, newText: s }] }));
}

export function didYouMeanText(suggestions: readonly string[]): string {
  if (suggestions.length === 0) return '';
  return ` Did you mean ${suggestions
    .map((s) => `'${s}'`)
    .join(', ')
    .replace(/, ([^,]*)$/, ' or $1')}?`;
}

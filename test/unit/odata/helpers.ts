import type { ExpressionNode, ODataDiagnostic } from '../../../src/odata/url/index';

/** Fully parenthesized form, so precedence is visible in assertions. */
export function sexpr(node: ExpressionNode): string {
  switch (node.kind) {
    case 'binary':
      return `(${sexpr(node.left)} ${node.operator} ${sexpr(node.right)})`;
    case 'in':
      return `(${sexpr(node.left)} in ${sexpr(node.right)})`;
    case 'unary':
      return `(${node.operator === 'not' ? 'not ' : '-'}${sexpr(node.operand)})`;
    case 'list':
      return `[${node.items.map(sexpr).join(', ')}]`;
    case 'array':
      return `json[${node.items.map(sexpr).join(', ')}]`;
    case 'member':
      return node.segments.map((s) => s.name).join('/');
    case 'lambda':
      return `${sexpr(node.source)}/${node.operator}(${node.variable ? node.variable.name + ': ' : ''}${
        node.predicate ? sexpr(node.predicate) : ''
      })`;
    case 'call':
      return `${node.name}(${node.args.map(sexpr).join(', ')})`;
    case 'functionCall':
      return `${node.name}(${node.parameters.map((p) => `${p.name}=${sexpr(p.value)}`).join(', ')})`;
    case 'literal':
      return `${node.literalType}:${node.raw}`;
    case 'alias':
      return `@${node.name}`;
    case 'template':
      return `{{${node.name}}}`;
    case 'object':
      return node.raw;
    case 'error':
      return '<error>';
  }
}

const SPAN_KEYS = new Set([
  'span',
  'nameSpan',
  'operatorSpan',
  'directionSpan',
  'optionsSpan',
  'methodSpan',
  'valueSpan',
]);

/** A deep copy without spans, for comparing trees parsed from different texts. */
export function withoutSpans(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutSpans);
  if (typeof value === 'object' && value !== null) {
    const out: Record<string, unknown> = {};
    for (const [key, inner] of Object.entries(value)) {
      if (!SPAN_KEYS.has(key)) out[key] = withoutSpans(inner);
    }
    return out;
  }
  return value;
}

export function codes(diagnostics: readonly ODataDiagnostic[]): string[] {
  return diagnostics.map((d) => d.code);
}

/** Diagnostics as `code@text` where text is what the span covers, for precise-range assertions. */
export function located(text: string, diagnostics: readonly ODataDiagnostic[]): string[] {
  return diagnostics.map((d) => `${d.code}@${text.slice(d.span.start, d.span.end)}`);
}

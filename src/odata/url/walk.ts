/**
 * Generic traversal of the syntax tree. Any object with a string `kind` and a `span` is a node, so
 * new node kinds are covered without touching this file.
 */
import type { TextSpan } from './syntax';

export interface SyntaxNode {
  readonly kind: string;
  readonly span: TextSpan;
}

function isSpan(value: unknown): value is TextSpan {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { start?: unknown }).start === 'number' &&
    typeof (value as { end?: unknown }).end === 'number'
  );
}

export function isSyntaxNode(value: unknown): value is SyntaxNode {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { kind?: unknown }).kind === 'string' &&
    isSpan((value as { span?: unknown }).span)
  );
}

/** The direct children of a node, in source order. */
export function childrenOf(node: object): SyntaxNode[] {
  const children: SyntaxNode[] = [];
  const visit = (value: unknown): void => {
    if (Array.isArray(value)) {
      for (const item of value) visit(item);
    } else if (isSyntaxNode(value)) {
      children.push(value);
    } else if (typeof value === 'object' && value !== null && !isSpan(value)) {
      // Plain containers such as ExpandItem.options and ODataUrl.query hold nodes one level down.
      for (const inner of Object.values(value)) visit(inner);
    }
  };
  const kind = (node as { kind?: unknown }).kind;
  for (const [key, value] of Object.entries(node)) {
    if (key === 'span' || key === 'diagnostics') continue;
    // A literal's or JSON object's value is data, whatever its shape.
    if (key === 'value' && (kind === 'literal' || kind === 'object')) continue;
    // Raw option lists overlap the parsed options; descending into them would hide the parsed nodes.
    if ((key === 'options' && kind === 'url') || (key === 'optionList' && kind === 'expandItem')) continue;
    visit(value);
  }
  return children.sort((a, b) => a.span.start - b.span.start || b.span.end - a.span.end);
}

/** Every node below `root` (root included), parents before children. */
export function walk(root: SyntaxNode, visit: (node: SyntaxNode, parent: SyntaxNode | undefined) => void): void {
  const stack: [SyntaxNode, SyntaxNode | undefined][] = [[root, undefined]];
  while (stack.length > 0) {
    const [node, parent] = stack.pop()!;
    visit(node, parent);
    const children = childrenOf(node);
    for (let i = children.length - 1; i >= 0; i--) stack.push([children[i]!, node]);
  }
}

/**
 * The chain of nodes whose span contains `offset`, outermost first; the last is the innermost.
 * An offset at a node's end counts as inside it, so completion at the end of a word finds the word.
 * Empty when the offset is outside `root`.
 */
export function findNodeAt(root: SyntaxNode, offset: number): SyntaxNode[] {
  const chain: SyntaxNode[] = [];
  let current: SyntaxNode | undefined = root;
  while (current !== undefined && current.span.start <= offset && offset <= current.span.end) {
    chain.push(current);
    const children = childrenOf(current);
    // Prefer a child that strictly contains the offset over one that merely ends at it.
    current =
      children.find((c) => c.span.start <= offset && offset < c.span.end) ??
      children.find((c) => c.span.start <= offset && offset <= c.span.end);
  }
  return chain;
}

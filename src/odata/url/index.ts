export type { ExpressionResult, ParseOptions } from './parseUrl';
export {
  CUSTOM_OPTIONS,
  parseExpression,
  parseODataUrl,
  splitQueryOptions,
  SYSTEM_OPTIONS,
  UNSUPPORTED_OPTIONS,
} from './parseUrl';
export type { PrintUrlOptions } from './printer';
export {
  encodeQueryValue,
  printApply,
  printExpand,
  printExpression,
  printODataUrl,
  printOrderBy,
  printQueryOptions,
  printSelect,
  quoteString,
} from './printer';
export type { SyntaxNode } from './walk';
export { childrenOf, findNodeAt, isSyntaxNode, walk } from './walk';
export type { CanonicalFunction, QueryFunction, QueryFunctionParameters } from './functions';
export {
  AGGREGATE_METHODS,
  CANONICAL_FUNCTIONS,
  QUERY_FUNCTIONS,
  QUERY_FUNCTION_NAMESPACE,
  queryFunctionParameterNames,
} from './functions';
export { MAX_DEPTH, operatorPrecedence } from './parser';
export type { DecodeOptions, SourceText } from './source';
export { decodeSlice } from './source';
export type * from './syntax';

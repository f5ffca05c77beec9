export type * from './types';
export type { Reference, RequestAnalysis } from './analysis';
export { analyzeRequest } from './analysis';
export { HEADERS, QUERY_OPTIONS, getCompletions, mayMatch } from './completion';
export { MAX_BATCH_URL_LENGTH, MAX_URL_LENGTH, documentDiagnostics, wireUrlLength } from './diagnostics';
export { getHover } from './hover';
export {
  FORMAT_INDENT,
  codeLenses,
  documentSymbols,
  formatDocument,
  formatRequestLine,
  isTrackChanges,
} from './outline';

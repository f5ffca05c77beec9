export type * from './syntax';
export { HTTP_METHODS, REQUEST_METHODS, SYSTEM_VARIABLES } from './syntax';
export { MAX_BATCH_REQUESTS, blockAt, parseDocument, reparseDocument, requestAt, requestsOf } from './parser';
export { checkJson } from './json';

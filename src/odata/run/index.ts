export type {
  PreparedBatch,
  PreparedBatchItem,
  PreparedBatchRequest,
  PreparedChangeSet,
  PreparedKind,
  PreparedRequest,
  PrepareResult,
} from './prepare';
export { encodeLinkForWire, encodeUrlForWire, prepareRequest } from './prepare';
export type {
  NamedResult,
  NamedResults,
  Placement,
  Resolved,
  RunContext,
  RunProblem,
  RunProblemCode,
} from './variables';
export { idFromEntityIdHeader, lookupPath } from './variables';

export type { GraphCacheAddon } from "./addon-types.js";
export { compactGraph, compactGraphBatch, compactionRemap } from "./compact.js";
export {
  createGraph,
  createGraphBatch,
  GRAPH_TOP_K,
  type GraphBatch,
  type GraphView,
  graphAt,
  validateGraph,
  validateGraphBatch,
} from "./graph.js";
export { backendStatus } from "./loader.js";
export { selectTopK, type TopKRows, writeTopK, writeTopKRows } from "./topk.js";

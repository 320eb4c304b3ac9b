export type { BenchKind, BenchSessionInfo, GraphCacheAddon, LayoutCode } from "./addon-types.js";
export { bf16ToF32, f32ToBf16, fromBf16, toBf16 } from "./bf16.js";
export { compactGraph, compactGraphBatch, compactionRemap } from "./compact.js";
export {
  type DecodeAttentionInput,
  type DecodeAttentionOutput,
  decodeAttentionReference,
  GRAPH_HEADS,
  type GraphHeads,
  SUPPORTED_HEAD_DIMS,
  validateDecodeAttention,
} from "./decode-attention.js";
export {
  type Backend,
  type CudaOptions,
  compactGraphBatchCuda,
  compactGraphs,
  type DecodeCudaOptions,
  type DecodePlanInput,
  decodeAttention,
  decodeAttentionCuda,
  decodePlan,
  type GraphLayout,
  type GraphWrite,
  writeTopKBatch,
  writeTopKRowsCuda,
} from "./gpu.js";
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
export { pushTop4, selectTopK, type TopKRows, writeNormalizedTop4, writeTopK, writeTopKRows } from "./topk.js";

export {
  AttentionGraph,
  type PowerIterationOptions,
  personalizedPageRank,
  personalizedPageRankCausal,
  undirectedPageRank,
} from "./policies/attention-graph.js";
export { FullPolicy } from "./policies/full.js";
export { H2OPolicy } from "./policies/h2o.js";
export { H2OPaperPolicy } from "./policies/h2o-paper.js";
export { PageRankPolicy } from "./policies/pagerank-base.js";
export { PageRankDensePolicy, PageRankDenseSparsePolicy } from "./policies/pagerank-dense.js";
export { PageRankTop4Policy } from "./policies/pagerank-top4.js";
export { PageRankUndirectedPolicy, PageRankUndirectedSparsePolicy, WARM_ITERATIONS } from "./policies/pagerank-undirected.js";
export { PageRankWalkerPolicy, PageRankWalkerReferencePolicy } from "./policies/pagerank-walker.js";
export { Top4GraphPolicy, top4PageRankCausal } from "./policies/top4-graph.js";
export { MAX_TRIANGLE_NODES, TriangleGraph, triangleCapacity } from "./policies/triangle-graph.js";
export { Walker } from "./policies/walker-kernel.js";
export { ExpRow, FAST_EXP_MIN } from "./policies/exp-kernel.js";
export {
  CacheState,
  DEFAULT_REFRESH_EVERY,
  DEFAULT_SINKS,
  DEFAULT_START_WINDOW,
  DEFAULT_TELEPORT,
  DEFAULT_WINDOW,
  type EvictionPolicy,
  type PolicyOptions,
  type PolicyStats,
  resolveBudget,
  resolveProtected,
  ScoredPolicy,
  type SequenceContext,
  validateOptions,
} from "./policies/policy.js";
export { RandomPolicy } from "./policies/random.js";
export { createPolicy, EXPERIMENTAL_POLICY_NAMES, isPageRankPolicy, POLICY_NAMES, type PolicyName } from "./policies/registry.js";
export { StreamingPolicy } from "./policies/streaming.js";
export { TovaPolicy } from "./policies/tova.js";
export { mixSeed, Rng } from "./rng.js";
export {
  blockedLogitsRowSource,
  type LogitBlocks,
  logitsRowSource,
  queryHeadsOf,
  type RowExp,
  type RowSource,
  retrospectiveEvict,
  retrospectiveScores,
  runPolicy,
  type SimulationResult,
  simulateHead,
  staticKeepSet,
  visibleCounts,
} from "./simulate.js";
export { type SyntheticAttentionOptions, syntheticLogits } from "./synthetic.js";

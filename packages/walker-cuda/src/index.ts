export type { WalkerAddon } from "./addon-types.js";
export {
  AUTO_BLOCK_PER_GRAPH_MIN_GRAPHS,
  type DeviceGraphs,
  type DevicePagerankOptions,
  type DeviceWalkOptions,
  maxSharedWalkCapacity,
  resolveStaging,
  WalkerContext,
  WalkerEvent,
  type WalkStaging,
  walkBatch,
} from "./context.js";
export { backendStatus } from "./loader.js";
export { mulhi32, philox4x32 } from "./philox.js";
export { spearman, topKIndices, topKOverlap } from "./rank.js";
export {
  accumulateScores,
  type BatchWalkOptions,
  checkBatch,
  DEFAULT_START_WINDOW,
  DEFAULT_STEPS,
  DEFAULT_TELEPORT,
  DEFAULT_WALKERS,
  expectedVisits,
  MAX_VISITS_PER_GRAPH,
  type PagerankOptions,
  pagerankExact,
  pagerankCausal,
  type ResolvedWalk,
  resolveWalkOptions,
  teleportThreshold,
  walkBatchReference,
  type WalkOptions,
  walkReference,
} from "./reference.js";

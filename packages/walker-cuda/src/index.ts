export type { WalkerAddon } from "./addon-types.js";
export {
  type DeviceGraphs,
  type DevicePagerankOptions,
  type DeviceWalkOptions,
  maxSharedWalkCapacity,
  WalkerContext,
  WalkerEvent,
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
  type ResolvedWalk,
  resolveWalkOptions,
  teleportThreshold,
  walkBatchReference,
  type WalkOptions,
  walkReference,
} from "./reference.js";

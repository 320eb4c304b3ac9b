export {
  BackendUnavailableError,
  CudaError,
  DataNotFoundError,
  describe,
  FileFormatError,
  InvalidArgumentError,
  KvwalkError,
} from "./errors.js";
export { type BackendStatus, type BaseAddon, type DeviceInfo, loadNativeAddon } from "./native.js";
export { seededRandom } from "./random.js";
export {
  type BootstrapSample,
  bootstrapDraws,
  bootstrapInterval,
  bootstrapSample,
  type Interval,
  pairedDifference,
  percentileInterval,
  perplexityInterval,
  pooledPerplexity,
  quantileSorted,
} from "./stats.js";
export { findSharedDir, optionalShared, requireShared } from "./paths.js";
export { formatDuration, Progress } from "./progress.js";
export { gitCommit, runMetadata, writeFileAtomic, writeJsonAtomic } from "./results.js";
export { expectInt, expectLength, expectNumber, expectOneOf } from "./validate.js";
export {
  type CaseReport,
  type CheckCase,
  checkMetadata,
  type GpuCase,
  type GpuCheckArgs,
  gpuCheckArgs,
  type MetricCaseReport,
  recordUnavailable,
  runCases,
  runCheckMain,
  writeCheckReport,
} from "./gpu-check.js";

export const PACKAGE = "@kvwalk/eval";

export {
  buildPrompt,
  LONGBENCH_TASKS,
  type LongBenchMetricName,
  type LongBenchTask,
  longBenchTask,
} from "./benchmarks/longbench/tasks.js";
export {
  longBenchAnswerInput,
  longBenchContextWindows,
  type LongBenchGenerationInput,
  longBenchGenerationInputs,
  longBenchInput,
  longBenchPath,
  loadLongBench,
  type LongBenchRow,
  parseLongBench,
  truncateMiddle,
} from "./benchmarks/longbench/loader.js";
export {
  classificationScore,
  codeSimScore,
  countScore,
  indelDistance,
  lcsLength,
  levenshteinRatio,
  metricScore,
  normalizeAnswer,
  qaF1Score,
  retrievalScore,
  rougeLScore,
  scoreLongBench,
  tokenF1,
} from "./benchmarks/longbench/metrics.js";
export {
  answerLogitPositions,
  makeNeedleSample,
  NEEDLE_KINDS,
  type NeedleKind,
  type NeedlePlan,
  type NeedleSample,
  type NeedleSpan,
  type NeedleSpec,
  planNeedle,
} from "./benchmarks/needle/generate.js";
export { wikiTextHaystack } from "./benchmarks/needle/haystack.js";
export { argmaxRow, greedyExactMatch } from "./benchmarks/needle/metric.js";
export { DATASETS, type DatasetInfo } from "./benchmarks/registry.js";
export {
  readWikiText2,
  type TextWindow,
  WIKITEXT2_SPLITS,
  type WikiText2Split,
  wikiText2Path,
  wikiText2Windows,
  windowsOf,
} from "./benchmarks/wikitext2/loader.js";
export { corpusPerplexity, nllSum } from "./benchmarks/wikitext2/metric.js";
export { DEFAULT_CONFIG, NEEDLE_STUDY_CONFIG, PRESETS, SMOKE_CONFIG } from "./default-config.js";
export type { EvalBackend, GenerateRequest, WindowRequest, WindowResult } from "./harness/backend.js";
export { type BatchCheckRow, batchCheck } from "./harness/batch-check.js";
export { BACKENDS, type BackendName, DEFAULT_BATCH, type EvalConfig, parseShard, type PolicySpec, policyLabel, validateConfig } from "./harness/config.js";
export { type CpuSimBackend, cpuSimBackend, openCpuSimBackend, type PassTrace } from "./harness/cpu-sim.js";
export {
  batchEngineSpec,
  GPU_POLICIES,
  type GpuBackendDeps,
  type GpuEngineHandle,
  type GpuEngineSpec,
  gpuBackend,
  gpuEviction,
  openGpuBackend,
  runLockstep,
} from "./harness/gpu.js";
export { openBackend, resolveModelDir } from "./harness/open-backend.js";
export { budgetSlots, recordedBudgets, type RunOptions, runSweep, scoreUnit, unitRequest } from "./harness/runner.js";
export {
  buildItems,
  type DataSources,
  expandUnits,
  pendingUnits,
  planBatches,
  planSteps,
  shardUnits,
  type SweepItem,
  type SweepUnit,
} from "./harness/sweep.js";
export {
  type GenCell,
  generationCells,
  needleCells,
  pairedNeedle,
  perplexityCells,
  type ReportInput,
  signTestP,
  writeReport,
} from "./report/report.js";
export { appendResult, mergeResults, type ResultRecord, readResults, repairResults, resultKey, resultsFileName } from "./results.js";
export { mean, wilsonInterval } from "./stats.js";
export { concatTokens, encodeWithBos, type TextTokenizer } from "./tokenizer.js";
export { peekScores, type StreamTrace, TracingPolicy } from "./traces/tracing-policy.js";

export { DATASETS, type DatasetName, loadWindows, longbenchWindows, type StudyWindow, type TextEncoder, wikitextWindows } from "./data.js";
export { createFakeModel, type FakeModelOptions } from "./fake-model.js";
export {
  causalPass,
  type PassResult,
  type PassTiming,
  type RetrospectivePlan,
  retrospectivePass,
  retrospectiveScoring,
  type SharedPolicyOptions,
} from "./passes.js";
export { markdownReport, type PlotFiles, pplPlot, type ReportContext, verdictLines } from "./report.js";
export { nllSums, type RunRecord, recordKey, ResultStore } from "./results.js";
export { type Cell, type Estimate, type Summary, summarize } from "./stats.js";
export {
  DEFAULT_BUDGETS,
  DEFAULT_POLICIES,
  estimateSeconds,
  rebuildReport,
  type ReportOptions,
  runStudy,
  type StudyMode,
  type StudyOptions,
  type StudyResult,
  writeReport,
} from "./study.js";

import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { formatDuration, InvalidArgumentError, Progress, runMetadata, writeFileAtomic, writeJsonAtomic } from "@kvwalk/core";
import { renderPng, renderSvg } from "@kvwalk/core/plot";
import type { LoadedModel } from "@kvwalk/model";
import { createPolicy, POLICY_NAMES, resolveBudget } from "@kvwalk/runtime";
import type { StudyWindow } from "./data.js";
import { causalPass, type PassResult, type RetrospectivePlan, retrospectivePass, retrospectiveScoring, type SharedPolicyOptions } from "./passes.js";
import { SimPool } from "./sim-pool.js";
import { markdownReport, pplPlot, verdictLines } from "./report.js";
import { nllSums, ResultStore, type RunRecord } from "./results.js";
import { type Summary, summarize } from "./stats.js";

/** m.get(k), which must exist (internal maps built from the same key lists). */
function at<K, V>(m: Map<K, V>, k: K): V {
  const v = m.get(k);
  if (v === undefined) throw new Error(`internal: missing key ${String(k)}`);
  return v;
}

export type StudyMode = "causal" | "retrospective";

/** The headline policy set, in report order. */
export const DEFAULT_POLICIES: readonly string[] = POLICY_NAMES;
export const DEFAULT_BUDGETS: readonly number[] = [0.1, 0.2, 0.3, 0.5];

export interface StudyOptions {
  model: LoadedModel;
  /** Model directory as given (for the report). */
  modelDir: string;
  dataset: string;
  /** The windows to evaluate, in dataset order (index = window number). */
  windows: StudyWindow[];
  /** What the user asked for (for the report). */
  windowsRequested: number | "all";
  policies: string[];
  /** Fractions of the window in (0, 1]. */
  budgets: number[];
  mode: StudyMode;
  /** Output folder: study.json, results.jsonl, summary.json, report.md, plots. */
  out: string;
  /** Policy options shared by every run (sinks, window, refreshEvery, seed, walker settings). */
  shared: SharedPolicyOptions;
  /** Passes run at once (the simulation of one overlaps the model work of another); default 2. */
  concurrency?: number;
  /** Worker threads simulating (layer, KV head) pairs in parallel (0 = in-process); default 2. */
  simWorkers?: number;
  /** Bootstrap resamples (default 2000). */
  resamples?: number;
  /** The command line, for the report. */
  command: string;
  /** Progress and plan lines (default: stdout). */
  log?: (line: string) => void;
  /** Show a progress bar on stderr (default true). */
  progress?: boolean;
}

export interface StudyResult {
  summary: Summary;
  records: RunRecord[];
  verdict: string[];
  /** Output files; `plot*` are the PPL-vs-budget charts as SVG and PNG. */
  files: { results: string; summary: string; report: string; plot: string; plotPng: string; plotFilled: string; plotFilledPng: string };
}

/** One unit of work: a model pass producing one or more records. */
interface Job {
  window: number;
  /** "full" (one pass, records for every budget), a policy run, or a retrospective scoring pass. */
  kind: "full" | "policy" | "scoring";
  policy: string;
  budget: number;
}

/**
 * Rough cost model, CPU seconds on the 2-core development VM with the fixture model (8 layers x 6
 * heads, T = 4096), measured per pass with the machine otherwise idle: a pass without logits (full,
 * streaming, random, retrospective evaluation), a pass with logits (blocked scores), and the
 * simulation CPU per (layer, KV head) at budgets 10/20/30/50% (`pnpm bench`: one WikiText window,
 * all 48 heads, full-cache logits; bench/results/oracle-one-window.json), interpolated linearly in
 * the budget. Model work scales with layers x heads x T^2; the simulation (softmax rows over the
 * cached keys dominate most policies) is taken as T^2 at a given budget fraction.
 */
const MODEL_CPU_S = { plain: 4.0, withLogits: 4.8 };
/** Share of the 2 cores a causal study keeps busy (one-window runs: 272.0 CPU s in 147.1 s, 289.7 in 155.5). */
const PIPELINE_UTILIZATION = 0.93;
const SIM_BUDGETS = [0.1, 0.2, 0.3, 0.5];
const SIM_MS_PER_HEAD: Record<string, readonly number[]> = {
  full: [0, 0, 0, 0],
  streaming: [1, 1, 1, 1],
  random: [1, 1, 1, 1],
  h2o: [26, 42, 57, 80],
  "h2o-paper": [25, 41, 54, 75],
  tova: [25, 43, 57, 81],
  "pagerank-dense": [45, 77, 118, 183],
  "pagerank-top4": [38, 59, 73, 92],
  "pagerank-walker": [108, 118, 120, 123],
  "pagerank-undirected": [58, 136, 229, 392],
};
const UNKNOWN_POLICY_MS = [100, 200, 300, 500];

/** Simulation CPU ms per (layer, KV head) of `policy` at `budget` (T = 4096), interpolated. */
function simMsPerHead(policy: string, budget: number): number {
  const ms = SIM_MS_PER_HEAD[policy] ?? UNKNOWN_POLICY_MS;
  let i = 0;
  while (i < SIM_BUDGETS.length - 2 && budget > SIM_BUDGETS[i + 1]) i++;
  const f = (budget - SIM_BUDGETS[i]) / (SIM_BUDGETS[i + 1] - SIM_BUDGETS[i]);
  return Math.max(0, ms[i] + f * (ms[i + 1] - ms[i]));
}

/**
 * Estimated wall seconds of a job list on an idle 2-core machine (printed in the plan; the progress
 * bar's ETA takes over): CPU seconds over the 2 cores, 93% busy, when passes overlap (concurrency > 1), else
 * model time on ~1.5 effective cores plus the simulation spread over the workers.
 */
export function estimateSeconds(
  jobs: { kind: string; policy: string; budget: number }[],
  model: LoadedModel,
  T: number,
  mode: StudyMode,
  simWorkers = 2,
  concurrency = 2,
): number {
  const c = model.config;
  const modelScale = ((c.numLayers * c.numHeads) / 48) * (T / 4096) ** 2;
  const heads = c.numLayers * c.numKvHeads;
  let modelCpu = 0;
  let simCpu = 0;
  for (const j of jobs) {
    const needsLogits = j.kind === "scoring" || (mode === "causal" && j.kind === "policy" && simMsPerHead(j.policy, j.budget) > 10);
    modelCpu += (needsLogits ? MODEL_CPU_S.withLogits : MODEL_CPU_S.plain) * modelScale;
    if (mode === "causal" && j.kind === "policy") {
      simCpu += (heads * simMsPerHead(j.policy, j.budget) * (T / 4096) ** 2) / 1000;
    }
    if (j.kind === "scoring") simCpu += (heads * 2000 * (T / 4096) ** 2) / 1000;
  }
  if (concurrency > 1) return (modelCpu + simCpu) / (2 * PIPELINE_UTILIZATION);
  return modelCpu / 1.5 + simCpu / Math.max(1, Math.min(2, simWorkers));
}

/** Relative cost of a causal job (the simulation dominates): the longest jobs are started first. */
function jobWeight(j: Job): number {
  if (j.kind !== "policy") return 1;
  return 1 + simMsPerHead(j.policy, j.budget);
}

/** Settings that must match for results in one folder to be comparable (checked on resume). */
function fingerprint(o: StudyOptions): Record<string, unknown> {
  return {
    mode: o.mode,
    dataset: o.dataset,
    modelDir: o.modelDir,
    windowLen: o.windows[0]?.tokens.length ?? 0,
    shared: o.shared,
    model: { numLayers: o.model.config.numLayers, numHeads: o.model.config.numHeads, vocabSize: o.model.config.vocabSize },
  };
}

function validate(o: StudyOptions): void {
  if (o.windows.length === 0) throw new InvalidArgumentError("windows", "at least one window", o.windows.length);
  const T = o.windows[0].tokens.length;
  for (const w of o.windows) if (w.tokens.length !== T) throw new InvalidArgumentError(`window ${w.id}`, `${T} tokens`, w.tokens.length);
  if (o.policies.length === 0) throw new InvalidArgumentError("policies", "at least one policy", o.policies);
  for (const p of o.policies) createPolicy(p, { ...o.shared, budget: 0.5 });
  if (o.budgets.length === 0) throw new InvalidArgumentError("budgets", "at least one budget", o.budgets);
  for (const b of o.budgets) {
    if (!(b > 0 && b <= 1)) throw new InvalidArgumentError("budgets", "fractions in (0, 1]", b);
    for (const p of o.policies) createPolicy(p, { ...o.shared, budget: b }).begin({ length: T });
  }
}

/**
 * Runs (or resumes) a study: every (window, policy, budget) not yet in results.jsonl, `concurrency`
 * passes at a time, appending a record as each finishes; then writes summary.json, report.md and
 * the plots. Interrupting and rerunning with the same folder continues where it stopped; a folder
 * holding results of different settings is refused.
 */
export async function runStudy(o: StudyOptions): Promise<StudyResult> {
  validate(o);
  const log = o.log ?? ((l: string) => process.stdout.write(`${l}\n`));
  const T = o.windows[0].tokens.length;
  mkdirSync(o.out, { recursive: true });
  const studyFile = join(o.out, "study.json");
  const fp = fingerprint(o);
  if (existsSync(studyFile)) {
    const prev = JSON.parse(readFileSync(studyFile, "utf8"));
    if (JSON.stringify(prev.fingerprint) !== JSON.stringify(fp)) {
      throw new InvalidArgumentError("--out", `a fresh folder or one holding results of the same settings (${studyFile})`, JSON.stringify(prev.fingerprint));
    }
  }
  const reportOptions = {
    mode: o.mode,
    dataset: o.dataset,
    policies: o.policies,
    budgets: o.budgets,
    resamples: o.resamples,
    command: o.command,
    modelDir: o.modelDir,
    windowLen: T,
    windowsRequested: o.windowsRequested,
    settings: { ...o.shared, concurrency: o.concurrency ?? 2, simWorkers: o.simWorkers ?? 2 },
  };
  writeJsonAtomic(studyFile, { fingerprint: fp, lastRun: reportOptions, updated: runMetadata() });
  const store = new ResultStore(join(o.out, "results.jsonl"));
  const key = (window: number, policy: string, budget: number) => ({ mode: o.mode, dataset: o.dataset, window, policy, budget });

  const jobsByWindow: Job[][] = o.windows.map((_, w) => {
    const jobs: Job[] = [];
    if (o.policies.includes("full") && o.budgets.some((b) => !store.has(key(w, "full", b)))) jobs.push({ window: w, kind: "full", policy: "full", budget: 1 });
    const todo = o.policies.filter((p) => p !== "full").flatMap((p) => o.budgets.filter((b) => !store.has(key(w, p, b))).map((b) => ({ window: w, kind: "policy" as const, policy: p, budget: b })));
    if (o.mode === "retrospective" && todo.length > 0) jobs.push({ window: w, kind: "scoring", policy: "", budget: 0 });
    jobs.push(...todo);
    return jobs;
  });
  const all = jobsByWindow.flat();
  const passes = all.length;
  const est = estimateSeconds(all, o.model, T, o.mode, o.mode === "causal" ? (o.simWorkers ?? 2) : 0, Math.max(1, o.concurrency ?? 2));
  const concurrency = Math.max(1, o.concurrency ?? 2);
  log(
    `kvwalk-oracle: ${o.mode} study on ${o.dataset}: ${o.windows.length} windows x ${o.policies.length} policies x ${o.budgets.length} budgets (${o.budgets.map((b) => `${b * 100}%`).join(", ")}), T = ${T}`,
  );
  log(`  policies: ${o.policies.join(", ")}; refreshEvery = ${o.shared.refreshEvery}`);
  log(
    `  ${passes} model passes to run (${store.records.length} records already in ${o.out}), concurrency ${concurrency}, ${o.mode === "causal" ? (o.simWorkers ?? 2) : 0} simulation workers; estimated ${formatDuration(est)} on a 2-core machine`,
  );
  const progress = o.progress === false || passes === 0 ? null : new Progress(`${o.mode} ${o.dataset}`, passes, "pass");

  const shared = o.shared;
  const recordFor = (w: number, policy: string, budget: number, r: PassResult): RunRecord => {
    const slots = resolveBudget(budget, T);
    return {
      ...key(w, policy, budget),
      windowId: o.windows[w].id,
      budgetSlots: slots,
      T,
      ...nllSums(r.nll, slots),
      evictions: r.timing.evictions,
      forwardMs: r.timing.forwardMs,
      simMs: r.timing.simMs,
      rowMs: r.timing.rowMs,
      refreshMs: r.timing.refreshMs,
      refreshes: r.timing.refreshes,
      iterations: r.timing.iterations,
      wallMs: r.timing.wallMs,
      refreshEvery: shared.refreshEvery ?? 32,
    };
  };

  const pool = o.mode === "causal" && passes > 0 ? SimPool.create(o.simWorkers ?? 2) : null;
  const runCausal = async (job: Job) => {
    const w = job.window;
    const tokens = o.windows[w].tokens;
    const r = await causalPass(o.model, tokens, job.policy, job.budget, shared, pool);
    if (job.kind === "full") {
      store.append(o.budgets.filter((b) => !store.has(key(w, "full", b))).map((b) => recordFor(w, "full", b, r)));
      progress?.tick(1, `window ${w} full ${(r.timing.wallMs / 1000).toFixed(1)}s`);
    } else {
      store.append([recordFor(w, job.policy, job.budget, r)]);
      progress?.tick(1, `window ${w} ${job.policy}@${job.budget * 100}% ${(r.timing.wallMs / 1000).toFixed(1)}s`);
    }
  };
  try {
    if (o.mode === "causal") {
      // One queue over all windows, each window's jobs longest first: the cheap passes fill the
      // gaps at the end of a window while the next window's long ones start (results are per pass,
      // so the order changes nothing but the wall time).
      const queue = jobsByWindow.flatMap((jobs) => [...jobs].sort((a, b) => jobWeight(b) - jobWeight(a)));
      const worker = async () => {
        for (let job = queue.shift(); job; job = queue.shift()) await runCausal(job);
      };
      await Promise.all(Array.from({ length: concurrency }, worker));
    }
    // Retrospective mode: window by window (each window's scoring pass plans its evaluation passes).
    for (const jobs of o.mode === "causal" ? [] : jobsByWindow) {
      if (jobs.length === 0) continue;
      const w = jobs[0].window;
      const tokens = o.windows[w].tokens;
      let plan: RetrospectivePlan | null = null;
      const scoring = jobs.find((j) => j.kind === "scoring");
      if (scoring) {
        const ranked = o.policies.filter((p) => p !== "full");
        const r = await retrospectiveScoring(o.model, tokens, ranked, o.budgets, shared);
        plan = r.plan;
        progress?.tick(1, `window ${w} scoring ${(r.timing.wallMs / 1000).toFixed(1)}s`);
      }
      const queue = jobs.filter((j) => j.kind !== "scoring");
      const worker = async () => {
        for (let job = queue.shift(); job; job = queue.shift()) {
          if (job.kind === "full") {
            const r = await retrospectivePass(o.model, tokens, null);
            store.append(o.budgets.filter((b) => !store.has(key(w, "full", b))).map((b) => recordFor(w, "full", b, r)));
            progress?.tick(1, `window ${w} full ${(r.timing.wallMs / 1000).toFixed(1)}s`);
          } else {
            if (!plan) throw new Error("internal: retrospective pass without a scoring pass");
            const decided = at(at(plan, job.policy), job.budget);
            const r: PassResult = await retrospectivePass(o.model, tokens, decided.layers);
            r.timing.evictions = decided.evictions;
            store.append([recordFor(w, job.policy, job.budget, r)]);
            progress?.tick(1, `window ${w} ${job.policy}@${job.budget * 100}% ${(r.timing.wallMs / 1000).toFixed(1)}s`);
          }
        }
      };
      await Promise.all(Array.from({ length: concurrency }, worker));
    }
  } finally {
    await pool?.close();
  }
  return writeReport(o.out, reportOptions);
}

/** What writeReport needs (stored in study.json as `lastRun`, so `kvwalk-oracle report` can rebuild it). */
export interface ReportOptions {
  mode: StudyMode;
  dataset: string;
  policies: string[];
  budgets: number[];
  resamples?: number;
  command: string;
  modelDir: string;
  windowLen: number;
  windowsRequested: number | "all";
  settings: Record<string, unknown>;
}

/** Rebuilds the report of a study folder from its study.json and results.jsonl. */
export function rebuildReport(out: string): StudyResult {
  const studyFile = join(out, "study.json");
  if (!existsSync(studyFile)) throw new InvalidArgumentError("--out", "a study folder holding study.json", out);
  return writeReport(out, JSON.parse(readFileSync(studyFile, "utf8")).lastRun as ReportOptions);
}

/** Summarizes results.jsonl of a study folder and writes summary.json, report.md and the plots. */
export function writeReport(out: string, o: ReportOptions): StudyResult {
  const store = new ResultStore(join(out, "results.jsonl"));
  const summary = summarize(store.records, { mode: o.mode, dataset: o.dataset, policies: o.policies, budgets: o.budgets, resamples: o.resamples });
  const files = {
    results: join(out, "results.jsonl"),
    summary: join(out, "summary.json"),
    report: join(out, "report.md"),
    plot: join(out, "ppl-vs-budget.svg"),
    plotPng: join(out, "ppl-vs-budget.png"),
    plotFilled: join(out, "ppl-vs-budget-filled.svg"),
    plotFilledPng: join(out, "ppl-vs-budget-filled.png"),
  };
  const metadata = runMetadata({ command: o.command });
  writeJsonAtomic(files.summary, { ...summary, metadata, settings: o.settings });
  const chart = pplPlot(summary, false);
  const chartFilled = pplPlot(summary, true);
  writeFileAtomic(files.plot, renderSvg(chart));
  writeFileAtomic(files.plotPng, renderPng(chart));
  writeFileAtomic(files.plotFilled, renderSvg(chartFilled));
  writeFileAtomic(files.plotFilledPng, renderPng(chartFilled));
  writeFileAtomic(
    files.report,
    markdownReport(
      summary,
      { command: o.command, modelDir: o.modelDir, windowLen: o.windowLen, windowsRequested: o.windowsRequested, settings: o.settings, metadata },
      { all: { png: "ppl-vs-budget.png", svg: "ppl-vs-budget.svg" }, filled: { png: "ppl-vs-budget-filled.png", svg: "ppl-vs-budget-filled.svg" } },
    ),
  );
  return { summary, records: store.records, verdict: verdictLines(summary), files };
}

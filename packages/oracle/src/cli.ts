#!/usr/bin/env node
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { expectInt, expectNumber, expectOneOf, InvalidArgumentError, KvwalkError, requireShared } from "@kvwalk/core";
import { loadModel, reexecWithTunedAllocator } from "@kvwalk/model";
import { POLICY_NAMES } from "@kvwalk/runtime";
import { DATASETS, type DatasetName, loadWindows } from "./data.js";
import { DEFAULT_BUDGETS, DEFAULT_POLICIES, rebuildReport, runStudy, type StudyMode } from "./study.js";

/** Defaults of `kvwalk-oracle run`: the default study (16 WikiText-2 windows, all policies and budgets, causal). */
const CLI_DEFAULTS = {
  dataset: "wikitext" as DatasetName,
  windows: 16,
  windowLen: 4096,
  refreshEvery: 32,
  mode: "causal" as StudyMode,
  concurrency: 2,
  simWorkers: 2,
};

const HELP = `kvwalk-oracle: the Phase-1 study (does PageRank eviction beat H2O?)

Usage:
  kvwalk-oracle run [options]      run or resume a study (alias: study)
  kvwalk-oracle report --out DIR   rebuild report.md, summary.json and plots from DIR/results.jsonl

Options of run:
  --model DIR          Hugging Face model folder (default: shared models/fixture-lm)
  --dataset NAME       wikitext | longbench (default ${CLI_DEFAULTS.dataset})
  --windows N|all      number of windows, from the start of the dataset (default ${CLI_DEFAULTS.windows})
  --budgets LIST       budget fractions (default ${DEFAULT_BUDGETS.join(",")})
  --policies LIST      from ${POLICY_NAMES.join(", ")} (default: all)
  --mode MODE          causal (headline) | retrospective (oracle, uses future information) (default causal)
  --window-len T       tokens per window (default ${CLI_DEFAULTS.windowLen})
  --refresh-every N    PageRank refresh interval in steps (default ${CLI_DEFAULTS.refreshEvery})
  --sinks N            attention sinks kept (default 4)
  --window N           recent tokens kept (default 50)
  --start-window N     PageRank teleport targets: last N live tokens (default 64)
  --walkers N          pagerank-walker walkers per refresh (default 1024)
  --steps N            pagerank-walker steps per walker (default 20)
  --decay X            pagerank-walker visit decay across refreshes (default 0.5)
  --seed N             seed of random and pagerank-walker (default 0)
  --max-iter N         pagerank-undirected: power iterations per refresh (default: converge on the
                       first refresh, then 4 warm-started iterations per refresh)
  --concurrency N      model passes at once (default ${CLI_DEFAULTS.concurrency})
  --sim-workers N      worker threads simulating (layer, KV head) pairs, 0 = in-process (default ${CLI_DEFAULTS.simWorkers})
  --threads N          model threads (default: all cores)
  --resamples N        bootstrap resamples (default 2000)
  --out DIR            results folder (default out/oracle/<mode>-<dataset>); rerun to resume
`;

function list(name: string, v: string): string[] {
  const items = v
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
  if (items.length === 0) throw new InvalidArgumentError(name, "a comma-separated list", v);
  return items;
}

function int(name: string, v: string | undefined, min = 0): number | undefined {
  return v === undefined ? undefined : expectInt(name, Number(v), min);
}

async function main(argv: string[]): Promise<void> {
  const [cmd, ...rest] = argv;
  if (cmd === undefined || cmd === "--help" || cmd === "-h" || cmd === "help") {
    process.stdout.write(HELP);
    return;
  }
  const { values } = parseArgs({
    args: rest,
    options: {
      model: { type: "string" },
      dataset: { type: "string" },
      windows: { type: "string" },
      budgets: { type: "string" },
      policies: { type: "string" },
      mode: { type: "string" },
      "window-len": { type: "string" },
      "refresh-every": { type: "string" },
      sinks: { type: "string" },
      window: { type: "string" },
      "start-window": { type: "string" },
      walkers: { type: "string" },
      steps: { type: "string" },
      decay: { type: "string" },
      seed: { type: "string" },
      "max-iter": { type: "string" },
      concurrency: { type: "string" },
      "sim-workers": { type: "string" },
      threads: { type: "string" },
      resamples: { type: "string" },
      out: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(HELP);
    return;
  }
  if (cmd === "report") {
    if (!values.out) throw new InvalidArgumentError("--out", "the study folder", undefined);
    const r = rebuildReport(resolve(values.out));
    process.stdout.write(`${r.verdict.join("\n")}\nreport: ${r.files.report}\n`);
    return;
  }
  if (cmd !== "run" && cmd !== "study") throw new InvalidArgumentError("command", '"run", "study" or "report"', cmd);

  const mode = expectOneOf("--mode", values.mode ?? CLI_DEFAULTS.mode, ["causal", "retrospective"] as const);
  const dataset = expectOneOf("--dataset", values.dataset ?? CLI_DEFAULTS.dataset, DATASETS);
  const windowsArg = values.windows ?? String(CLI_DEFAULTS.windows);
  const windows: number | "all" = windowsArg === "all" ? "all" : expectInt("--windows", Number(windowsArg), 1);
  const budgets = values.budgets ? list("--budgets", values.budgets).map((b) => expectNumber("--budgets", Number(b), Number.MIN_VALUE, 1)) : [...DEFAULT_BUDGETS];
  const policies = values.policies ? list("--policies", values.policies) : [...DEFAULT_POLICIES];
  for (const p of policies) expectOneOf("--policies", p, POLICY_NAMES);
  const windowLen = int("--window-len", values["window-len"], 2) ?? CLI_DEFAULTS.windowLen;
  const shared = {
    sinks: int("--sinks", values.sinks) ?? 4,
    window: int("--window", values.window, 1) ?? 50,
    refreshEvery: int("--refresh-every", values["refresh-every"], 1) ?? CLI_DEFAULTS.refreshEvery,
    startWindow: int("--start-window", values["start-window"], 1) ?? 64,
    walkers: int("--walkers", values.walkers, 1) ?? 1024,
    steps: int("--steps", values.steps, 1) ?? 20,
    decay: values.decay === undefined ? 0.5 : expectNumber("--decay", Number(values.decay), 0, 1),
    seed: int("--seed", values.seed) ?? 0,
    ...(values["max-iter"] === undefined ? {} : { maxIter: int("--max-iter", values["max-iter"], 1) }),
  };
  const concurrency = int("--concurrency", values.concurrency, 1) ?? CLI_DEFAULTS.concurrency;
  const simWorkers = int("--sim-workers", values["sim-workers"], 0) ?? CLI_DEFAULTS.simWorkers;
  const threads = int("--threads", values.threads, 1);
  const resamples = int("--resamples", values.resamples, 10) ?? 2000;
  const modelDir = values.model ?? requireShared("models/fixture-lm", "the fixture model");
  const out = resolve(values.out ?? `out/oracle/${mode}-${dataset}`);

  const t0 = performance.now();
  const model = await loadModel(modelDir, threads === undefined ? {} : { threads });
  try {
    const ws = loadWindows(dataset, model.tokenizer, windowLen, windows === "all" ? undefined : windows);
    if (ws.length === 0) throw new InvalidArgumentError("--windows", `a dataset with windows of ${windowLen} tokens`, 0);
    if (windows !== "all" && ws.length < windows) console.warn(`kvwalk-oracle: only ${ws.length} windows of ${windowLen} tokens in ${dataset}`);
    process.stdout.write(`loaded model and ${ws.length} windows in ${((performance.now() - t0) / 1000).toFixed(1)}s\n`);
    const r = await runStudy({
      model,
      modelDir,
      dataset,
      windows: ws,
      windowsRequested: windows,
      policies,
      budgets,
      mode,
      out,
      shared,
      concurrency,
      simWorkers,
      resamples,
      command: `kvwalk-oracle ${argv.join(" ")}`,
    });
    process.stdout.write(`${r.verdict.join("\n")}\nreport: ${r.files.report}\n`);
  } finally {
    await model.dispose();
  }
}

reexecWithTunedAllocator();
let finished = false;
// An awaited promise that can never settle (nothing left on the event loop) would otherwise end the
// process silently with status 0.
process.on("beforeExit", () => {
  if (finished) return;
  console.error("kvwalk-oracle: stopped before the study finished (event loop drained with work pending)");
  process.exit(1);
});
main(process.argv.slice(2)).then(() => {
  finished = true;
}).catch((err: unknown) => {
  finished = true;
  if (err instanceof KvwalkError) {
    console.error(`kvwalk-oracle: ${err.message}`);
    process.exit(2);
  }
  console.error(err);
  process.exit(1);
});

#!/usr/bin/env node
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { expectInt, expectOneOf, formatDuration, KvwalkError, runMetadata, writeJsonAtomic } from "@kvwalk/core";
import { loadConfig as loadModelConfig, loadTokenizer } from "@kvwalk/model/checkpoint";
import { DATASETS } from "./benchmarks/registry.js";
import { wikiText2Windows } from "./benchmarks/wikitext2/loader.js";
import { DEFAULT_CONFIG, PRESETS } from "./default-config.js";
import { type BatchCheckRow, batchCheck } from "./harness/batch-check.js";
import { BACKENDS, DEFAULT_BATCH, type EvalConfig, parseShard, policyLabel, validateConfig } from "./harness/config.js";
import type { CpuSimBackend } from "./harness/cpu-sim.js";
import { GPU_POLICIES } from "./harness/gpu.js";
import { openBackend, resolveModelDir } from "./harness/open-backend.js";
import { runSweep } from "./harness/runner.js";
import { buildItems, expandUnits, planBatches, planSteps, shardUnits } from "./harness/sweep.js";
import { writeReport } from "./report/report.js";
import { mergeResults } from "./results.js";
import { runNeedleTraces, selectTraceCases, type TracedCase, traceSection } from "./traces/needle-traces.js";

const USAGE = `kvwalk-eval: evaluate KV-cache eviction policies (WikiText-2, LongBench, needle tests)

Usage:
  kvwalk-eval run [--config file.json | --preset name] [--out dir] [--backend cpu-sim|gpu] [--shard i/n]
                  [--limit n] [--threads n] [--concurrency n] [--batch n] [--no-report] [--dry-run]
  kvwalk-eval report [--out dir] [--config file.json]
  kvwalk-eval traces [--out dir] [--config file.json] [--backend cpu-sim]
  kvwalk-eval batch-check [--config file.json] [--batch n] [--length n] [--out file.json]
  kvwalk-eval config [--preset name]   print a configuration as JSON (edit it, pass with --config)
  kvwalk-eval datasets        list the dataset registry

run      runs every policy x budget x dataset unit of the config not already in <out>/results*.jsonl
         (so an interrupted run resumes), appending one JSON line per unit; then writes <out>/report.md
         and <out>/plots/ from all results files in <out> (unless --no-report or sharded).
         An unsharded run then traces needle samples where config.traces.policies disagree.
--shard  i/n runs every n-th unit starting at i into <out>/results.shard-i-of-n.jsonl; once all
         shards are in one folder, "kvwalk-eval traces" (optional) and "kvwalk-eval report" merge
         them deterministically.
         On the gpu backend units run in batches (config.batch, or --batch, default 32) and a shard
         takes every n-th batch.
traces   runs the needle traces over the merged results (needs the backend), then the report.
         Traces need the CPU simulation: for gpu results, add --backend cpu-sim (the cases are
         selected from the gpu results and replayed on the CPU).
batch-check  (gpu) runs --batch WikiText-2 test windows of --length tokens (default 48 x 4096) as one
         batch and the first alone, per GPU policy at budget 0.2; prints whether the NLL of the last
         512 positions is bit-identical and the ms per decode step; --out writes the rows as JSON.
--limit  stop after n units (smoke tests, timing).
--concurrency  windows (gpu: batches) evaluated at once (default 2: one simulates while another uses the model).
--dry-run  print the units per dataset and policy, run nothing.
--preset   default (the committed report), needle-study (4096-token needles, shard it), smoke (minutes).
`;

function loadConfig(path: string | undefined, preset: string | undefined): EvalConfig {
  if (path && preset) throw new KvwalkError("KVWALK_CONFIG", "give --config or --preset, not both");
  if (preset) return PRESETS[expectOneOf("--preset", preset, Object.keys(PRESETS))];
  if (!path) return DEFAULT_CONFIG;
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, "utf8"));
  } catch (err) {
    throw new KvwalkError("KVWALK_CONFIG", `${path}: cannot read the config as JSON (${(err as Error).message})`);
  }
  return validateConfig(parsed as EvalConfig);
}

/** Report preamble from the config and the merged files only, so merging the same results gives the same report. */
function preamble(config: EvalConfig, files: string[], backends: string[]): string[] {
  const be = backends.length ? backends : [config.backend];
  const batches = config.backend === "gpu" || be.includes("gpu") ? ` GPU batches of up to ${config.batch ?? DEFAULT_BATCH} windows.` : "";
  return [
    `Model \`${config.model}\`, backend ${be.map((b) => `\`${b}\``).join(", ")}, windows of ${config.windowTokens} tokens. Policies: ${config.policies.map((p) => `\`${policyLabel(p)}\``).join(", ")}; budgets ${config.budgets.join(", ")} of the window${config.needle?.budgets ? ` (needles: ${config.needle.budgets.join(", ")})` : ""}. Results merged from ${files.map((f) => `\`${f}\``).join(", ")}; where and when the report was generated is in \`report.meta.json\`.${batches}`,
  ];
}

/**
 * Pairs (a, b) compared in the report (perplexity, needles, generation): `config.compare` when
 * given, else h2o against every PageRank policy.
 */
function comparisons(config: EvalConfig): [string, string][] {
  if (config.compare) return config.compare.map(([a, b]) => [a, b]);
  const labels = config.policies.map(policyLabel);
  const pairs: [string, string][] = [];
  if (labels.includes("h2o")) for (const p of config.policies) if (p.name.startsWith("pagerank-")) pairs.push(["h2o", policyLabel(p)]);
  return pairs;
}

export function report(outDir: string, config: EvalConfig): string {
  const extra: string[] = [];
  const tracesFile = join(outDir, "traces.json");
  const merged = mergeResults(outDir, (f, line) => console.warn(`${f}: ignoring an incomplete last line ${line}`));
  if (existsSync(tracesFile)) {
    const t = JSON.parse(readFileSync(tracesFile, "utf8")) as { traced: TracedCase[]; backend?: string };
    const from = [...new Set(merged.records.filter((r) => r.dataset === "needle").map((r) => r.backend))];
    const note =
      t.backend && from.some((b) => b !== t.backend)
        ? `The cases were selected from the ${from.join("/")} results; the traces replay them on the ${t.backend} backend (the traced policies' own right/wrong below is the replay's, which can differ from the ${from.join("/")} outcome: bf16 keys and the walker's random streams differ).`
        : undefined;
    extra.push(traceSection(outDir, t.traced, note));
  }
  if (merged.duplicates) console.warn(`${merged.duplicates} duplicate records (same key in several files) ignored; the first file in name order wins`);
  writeReport(outDir, {
    records: merged.records,
    preamble: preamble(config, merged.files, [...new Set(merged.records.map((r) => r.backend))].sort()),
    policies: config.policies.map(policyLabel),
    comparisons: comparisons(config),
    extraSections: extra,
  });
  writeJsonAtomic(join(outDir, "report.meta.json"), runMetadata({ files: merged.files, records: merged.records.length, duplicates: merged.duplicates, config }));
  return resolve(outDir, "report.md");
}

/** Needle traces for the samples where the configured pair of policies disagree (cpu-sim only). */
async function traces(config: EvalConfig, backend: CpuSimBackend, items: ReturnType<typeof buildItems>, outDir: string): Promise<void> {
  if (!config.traces || config.traces.maxCases === 0 || typeof backend.trace !== "function") return;
  const [a, b] = config.traces.policies;
  const cases = selectTraceCases(mergeResults(outDir).records, a, b, config.traces.maxCases);
  const specs = config.traces.policies.map((l) => config.policies.find((p) => policyLabel(p) === l)!);
  const t0 = performance.now();
  const traced = await runNeedleTraces({ backend, items, cases, policies: specs, every: config.traces.every, outDir });
  process.stdout.write(`traced ${traced.length} cases where ${a} and ${b} disagree in ${formatDuration((performance.now() - t0) / 1000)}\n`);
}

async function main(argv: string[]): Promise<number> {
  const cmd = argv[0];
  const { values } = parseArgs({
    args: argv.slice(1),
    options: {
      config: { type: "string" },
      preset: { type: "string" },
      out: { type: "string", default: "eval-out" },
      backend: { type: "string" },
      shard: { type: "string" },
      limit: { type: "string" },
      threads: { type: "string" },
      concurrency: { type: "string", default: "2" },
      batch: { type: "string" },
      length: { type: "string" },
      "no-report": { type: "boolean", default: false },
      "dry-run": { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
    allowPositionals: false,
  });
  if (!cmd || values.help || cmd === "help" || cmd === "--help") {
    process.stdout.write(USAGE);
    return cmd ? 0 : 1;
  }
  if (cmd === "config") {
    process.stdout.write(`${JSON.stringify(loadConfig(undefined, values.preset), null, 2)}\n`);
    return 0;
  }
  if (cmd === "datasets") {
    for (const d of DATASETS) process.stdout.write(`${d.name}\n  ${d.description}\n  metric: ${d.metric}\n  data: ${d.data.join(", ")}\n`);
    return 0;
  }
  const config = validateConfig({ ...loadConfig(values.config, values.preset), ...(values.backend ? { backend: expectOneOf("--backend", values.backend, BACKENDS) } : {}) });
  const outDir = values.out as string;
  if (cmd === "report") {
    process.stdout.write(`${report(outDir, config)}\n`);
    return 0;
  }
  if (cmd !== "run" && cmd !== "traces" && cmd !== "batch-check") {
    process.stderr.write(`unknown command ${JSON.stringify(cmd)}\n\n${USAGE}`);
    return 1;
  }
  const batch = values.batch !== undefined ? expectInt("--batch", Number(values.batch), 1, 4096) : undefined;
  if (cmd === "batch-check") {
    const length = expectInt("--length", Number(values.length ?? 4096), 16);
    const backend = await openBackend({ ...config, backend: "gpu" });
    try {
      const { windows } = wikiText2Windows(backend.tokenizer, { split: "test", windowTokens: length, maxWindows: batch ?? 48 });
      const rows: BatchCheckRow[] = [];
      // h2o first: the eviction policy whose decisions a rounding difference would move first.
      const names = ["h2o", ...Object.keys(GPU_POLICIES).filter((n) => n !== "h2o")];
      await batchCheck({
        backend,
        windows: windows.map((w) => w.tokens).filter((t) => t.length === length),
        policies: names.map((name) => ({ name })),
        budget: 0.2,
        alone: 1,
        scored: 512,
        onRow: (r) => {
          rows.push(r);
          const same =
            r.identical === r.alone
              ? `identical (last ${r.scored} positions)`
              : `DIFFERS on ${r.alone - r.identical}/${r.alone} (max |dNLL| ${r.maxAbsDiff.toExponential(2)}, PPL ${r.pplBatch.toFixed(3)} vs ${r.pplAlone.toFixed(3)})`;
          process.stdout.write(
            `${r.policy.padEnd(16)} batch ${r.batch} x ${r.length}: ${same}; ms/step batch ${r.msPerStepBatch.toFixed(3)}, alone ${r.msPerStepAlone.toFixed(3)} (${((r.msPerStepAlone * r.batch) / r.msPerStepBatch).toFixed(1)}x throughput)\n`,
          );
          if (values.out && values.out !== "eval-out") writeJsonAtomic(values.out as string, runMetadata({ rows }));
        },
      });
    } finally {
      await backend.dispose();
    }
    return 0;
  }
  const shard = values.shard ? parseShard(values.shard) : undefined;
  const limit = values.limit !== undefined ? expectInt("--limit", Number(values.limit), 1) : undefined;
  const threads = values.threads !== undefined ? expectInt("--threads", Number(values.threads), 1) : undefined;
  if (values["dry-run"] && cmd === "run") {
    // The plan needs only the tokenizer: no backend (and no GPU) is opened.
    const dir = resolveModelDir(config.model);
    const mc = loadModelConfig(dir);
    const items = buildItems(config, loadTokenizer(dir, mc.vocabSize, mc.bosTokenId));
    const units = expandUnits(config, items);
    const gpu = config.backend === "gpu";
    const all = gpu ? planBatches(units, batch ?? config.batch ?? DEFAULT_BATCH) : [];
    const mineBatches = gpu && shard && shard.count > 1 ? all.filter((_, i) => i % shard.count === shard.index) : all;
    const mine = gpu ? mineBatches.flat() : shardUnits(units, shard);
    const counts = new Map<string, number>();
    for (const u of mine) counts.set(`${u.item.dataset} ${policyLabel(u.policy)}`, (counts.get(`${u.item.dataset} ${policyLabel(u.policy)}`) ?? 0) + 1);
    for (const [k, n] of counts) process.stdout.write(`${k}: ${n}\n`);
    process.stdout.write(`${mine.length} units (${items.length} items, ${units.length} units in the whole sweep)\n`);
    if (gpu) {
      const p = planSteps(mineBatches);
      process.stdout.write(
        `${p.batches} batches of up to ${batch ?? config.batch ?? DEFAULT_BATCH} windows: ${p.decodeSteps} batched decode steps (${p.sequenceSteps} sequence-steps); sizes ${[...new Set(mineBatches.map((b) => b.length))].join(", ")}\n`,
      );
    }
    return 0;
  }
  const t0 = performance.now();
  const backend = await openBackend(config, { threads });
  try {
    const items = buildItems(config, backend.tokenizer);
    const units = expandUnits(config, items);
    if (cmd === "traces") {
      if (typeof (backend as CpuSimBackend).trace !== "function") {
        throw new KvwalkError("KVWALK_CONFIG", `traces replay needle cases on the CPU simulation; backend ${backend.name} cannot trace: add --backend cpu-sim`);
      }
      await traces(config, backend as CpuSimBackend, items, outDir);
      process.stdout.write(`report: ${report(outDir, config)}\n`);
      return 0;
    }
    const concurrency = expectInt("--concurrency", Number(values.concurrency), 1);
    const r = await runSweep({ config, backend, units, outDir, shard, limit, concurrency, batch });
    process.stdout.write(`ran ${r.done} units${r.batches !== undefined ? ` in ${r.batches} batches` : ""} (${r.skipped} already done) in ${formatDuration((performance.now() - t0) / 1000)}; results in ${r.file}\n`);
    for (const [p, ms] of Object.entries(r.msByPolicy)) {
      process.stdout.write(`  ${p}: ${(ms.reduce((a, b) => a + b, 0) / ms.length / 1000).toFixed(2)} s per unit (n=${ms.length})\n`);
    }
    if ((!shard || shard.count === 1) && limit === undefined) await traces(config, backend as CpuSimBackend, items, outDir);
  } finally {
    await backend.dispose();
  }
  if (!values["no-report"] && (!shard || shard.count === 1)) process.stdout.write(`report: ${report(outDir, config)}\n`);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`kvwalk-eval: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = err instanceof KvwalkError ? 2 : 1;
  },
);

#!/usr/bin/env node
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { expectInt, expectOneOf, formatDuration, KvwalkError, runMetadata, writeJsonAtomic } from "@kvwalk/core";
import { DATASETS } from "./benchmarks/registry.js";
import { DEFAULT_CONFIG, PRESETS } from "./default-config.js";
import { BACKENDS, type EvalConfig, parseShard, policyLabel, validateConfig } from "./harness/config.js";
import type { CpuSimBackend } from "./harness/cpu-sim.js";
import { openBackend } from "./harness/open-backend.js";
import { runSweep } from "./harness/runner.js";
import { buildItems, expandUnits, shardUnits } from "./harness/sweep.js";
import { writeReport } from "./report/report.js";
import { mergeResults } from "./results.js";
import { runNeedleTraces, selectTraceCases, type TracedCase, traceSection } from "./traces/needle-traces.js";

const USAGE = `kvwalk-eval: evaluate KV-cache eviction policies (WikiText-2, LongBench, needle tests)

Usage:
  kvwalk-eval run [--config file.json | --preset name] [--out dir] [--backend cpu-sim|gpu] [--shard i/n]
                  [--limit n] [--threads n] [--concurrency n] [--no-report] [--dry-run]
  kvwalk-eval report [--out dir] [--config file.json]
  kvwalk-eval traces [--out dir] [--config file.json]
  kvwalk-eval config [--preset name]   print a configuration as JSON (edit it, pass with --config)
  kvwalk-eval datasets        list the dataset registry

run      runs every policy x budget x dataset unit of the config not already in <out>/results*.jsonl
         (so an interrupted run resumes), appending one JSON line per unit; then writes <out>/report.md
         and <out>/plots/ from all results files in <out> (unless --no-report or sharded).
         An unsharded run then traces needle samples where config.traces.policies disagree.
--shard  i/n runs every n-th unit starting at i into <out>/results.shard-i-of-n.jsonl; once all
         shards are in one folder, "kvwalk-eval traces" (optional) and "kvwalk-eval report" merge
         them deterministically.
traces   runs the needle traces over the merged results (needs the backend), then the report.
--limit  stop after n units (smoke tests, timing).
--concurrency  windows evaluated at once (default 2: one simulates while another uses the model).
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
function preamble(config: EvalConfig, files: string[]): string[] {
  return [
    `Model \`${config.model}\`, backend \`${config.backend}\`, windows of ${config.windowTokens} tokens. Policies: ${config.policies.map((p) => `\`${policyLabel(p)}\``).join(", ")}; budgets ${config.budgets.join(", ")} of the window${config.needle?.budgets ? ` (needles: ${config.needle.budgets.join(", ")})` : ""}. Results merged from ${files.map((f) => `\`${f}\``).join(", ")}; where and when the report was generated is in \`report.meta.json\`.`,
  ];
}

/** Pairs compared on needles: h2o against every PageRank policy, and the traced pair. */
function comparisons(config: EvalConfig): [string, string][] {
  const labels = config.policies.map(policyLabel);
  const pairs: [string, string][] = [];
  if (labels.includes("h2o")) for (const p of config.policies) if (p.name.startsWith("pagerank-")) pairs.push(["h2o", policyLabel(p)]);
  return pairs;
}

export function report(outDir: string, config: EvalConfig): string {
  const extra: string[] = [];
  const tracesFile = join(outDir, "traces.json");
  if (existsSync(tracesFile)) extra.push(traceSection(outDir, (JSON.parse(readFileSync(tracesFile, "utf8")) as { traced: TracedCase[] }).traced));
  const merged = mergeResults(outDir, (f, line) => console.warn(`${f}: ignoring an incomplete last line ${line}`));
  if (merged.duplicates) console.warn(`${merged.duplicates} duplicate records (same key in several files) ignored; the first file in name order wins`);
  writeReport(outDir, {
    records: merged.records,
    preamble: preamble(config, merged.files),
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
  if (cmd !== "run" && cmd !== "traces") {
    process.stderr.write(`unknown command ${JSON.stringify(cmd)}\n\n${USAGE}`);
    return 1;
  }
  const shard = values.shard ? parseShard(values.shard) : undefined;
  const limit = values.limit !== undefined ? expectInt("--limit", Number(values.limit), 1) : undefined;
  const threads = values.threads !== undefined ? expectInt("--threads", Number(values.threads), 1) : undefined;
  const t0 = performance.now();
  const backend = await openBackend(config, { threads });
  try {
    const items = buildItems(config, backend.tokenizer);
    const units = expandUnits(config, items);
    if (cmd === "traces") {
      await traces(config, backend as CpuSimBackend, items, outDir);
      process.stdout.write(`report: ${report(outDir, config)}\n`);
      return 0;
    }
    if (values["dry-run"]) {
      const mine = shardUnits(units, shard);
      const counts = new Map<string, number>();
      for (const u of mine) counts.set(`${u.item.dataset} ${policyLabel(u.policy)}`, (counts.get(`${u.item.dataset} ${policyLabel(u.policy)}`) ?? 0) + 1);
      for (const [k, n] of counts) process.stdout.write(`${k}: ${n}\n`);
      process.stdout.write(`${mine.length} units (${items.length} items, ${units.length} units in the whole sweep)\n`);
      return 0;
    }
    const concurrency = expectInt("--concurrency", Number(values.concurrency), 1);
    const r = await runSweep({ config, backend, units, outDir, shard, limit, concurrency });
    process.stdout.write(`ran ${r.done} units (${r.skipped} already done) in ${formatDuration((performance.now() - t0) / 1000)}; results in ${r.file}\n`);
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

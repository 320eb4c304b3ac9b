import { longBenchAnswerInput, longBenchContextWindows, longBenchGenerationInputs, longBenchPath, loadLongBench } from "../benchmarks/longbench/loader.js";
import { longBenchTask } from "../benchmarks/longbench/tasks.js";
import { makeNeedleSample, type NeedleSample } from "../benchmarks/needle/generate.js";
import { wikiTextHaystack } from "../benchmarks/needle/haystack.js";
import { wikiText2Windows } from "../benchmarks/wikitext2/loader.js";
import { type ResultRecord, resultKey } from "../results.js";
import type { TextTokenizer } from "../tokenizer.js";
import { type EvalConfig, type PolicySpec, policyLabel } from "./config.js";

/** One input sequence of the sweep, shared by every policy and budget. */
export type SweepItem =
  | { dataset: "wikitext2" | "longbench-context"; id: string; tokens: Int32Array }
  | { dataset: "longbench-answer"; id: string; tokens: Int32Array; task: string; answerStart: number; answerLength: number }
  | { dataset: "needle"; id: string; tokens: Int32Array; sample: NeedleSample }
  | {
      dataset: "longbench-gen";
      id: string;
      /** BOS + the middle-truncated prompt. */
      tokens: Int32Array;
      task: string;
      maxNewTokens: number;
      answers: string[];
      allClasses: string[] | null;
    };

/** One unit of work: an item under a policy at a budget. */
export interface SweepUnit {
  key: string;
  item: SweepItem;
  policy: PolicySpec;
  budget: number;
}

/** Where the datasets come from; tests replace these with small fixtures. */
export interface DataSources {
  /** WikiText-2 raw file for the configured split (default: shared data). */
  wikitextFile?: string;
  /** Haystack text file for needles (default: shared WikiText-2 valid). */
  haystackFile?: string;
  /** LongBench task file by task name (default: shared data/longbench/<task>.jsonl). */
  longbenchFile?: (task: string) => string;
}

/**
 * Builds every item of a config, in a fixed order: WikiText-2 windows, LongBench contexts, LongBench
 * answers, LongBench generation prompts, needle samples (kind, length, depth, sample). Deterministic
 * for a given tokenizer and data.
 */
export function buildItems(config: EvalConfig, tok: TextTokenizer, sources: DataSources = {}): SweepItem[] {
  const items: SweepItem[] = [];
  if (config.wikitext2) {
    const { windows } = wikiText2Windows(tok, {
      split: config.wikitext2.split,
      windowTokens: config.windowTokens,
      maxWindows: config.wikitext2.maxWindows,
      file: sources.wikitextFile,
    });
    // Only full-length windows: the budget is a fraction of T, so every window gets the same slots.
    for (const w of windows) if (w.tokens.length === config.windowTokens) items.push({ dataset: "wikitext2", id: w.id, tokens: w.tokens });
  }
  if (config.longbench) {
    for (const taskName of config.longbench.tasks) {
      const file = sources.longbenchFile?.(taskName) ?? longBenchPath(taskName);
      const { task, rows } = loadLongBench(file, { task: taskName });
      if (config.longbench.contextSamples > 0) {
        for (const w of longBenchContextWindows(tok, rows, { windowTokens: config.windowTokens, maxSamples: config.longbench.contextSamples })) {
          items.push({ dataset: "longbench-context", id: `${task.name}/${w.id}`, tokens: w.tokens });
        }
      }
      for (const r of rows.slice(0, config.longbench.answerSamples)) {
        const a = longBenchAnswerInput(tok, longBenchTask(taskName)!, r, config.windowTokens);
        items.push({ dataset: "longbench-answer", id: `${task.name}/${r._id}`, tokens: a.tokens, task: task.name, answerStart: a.answerStart, answerLength: a.answerLength });
      }
      const gen = config.longbench.generateSamples ?? 0;
      if (gen > 0) {
        const inputs = longBenchGenerationInputs(tok, task, rows, { contextTokens: config.windowTokens, maxNewTokens: config.longbench.maxNewTokens, maxSamples: gen });
        for (const g of inputs) {
          items.push({ dataset: "longbench-gen", id: `${task.name}/${g.id}`, tokens: g.tokens, task: task.name, maxNewTokens: g.maxNewTokens, answers: g.answers, allClasses: g.allClasses });
        }
      }
    }
  }
  if (config.needle) {
    const hay = wikiTextHaystack(tok, "valid", sources.haystackFile);
    const n = config.needle;
    for (const kind of n.kinds) {
      for (const length of n.lengths) {
        for (const depth of n.depths) {
          for (let s = 0; s < n.samples; s++) {
            const sample = makeNeedleSample(tok, hay, { kind, length, depth, seed: n.seed + s });
            items.push({ dataset: "needle", id: sample.id, tokens: sample.tokens, sample });
          }
        }
      }
    }
  }
  return items;
}

/** Budgets an item runs at: `full` only at 1; needles at the needle budgets when given. */
function budgetsFor(config: EvalConfig, item: SweepItem, policy: PolicySpec): number[] {
  if (policy.name === "full") return [1];
  return item.dataset === "needle" && config.needle?.budgets ? config.needle.budgets : config.budgets;
}

/** Every unit of a config in sweep order (item-major, then policy, then budget). */
export function expandUnits(config: EvalConfig, items: readonly SweepItem[]): SweepUnit[] {
  const units: SweepUnit[] = [];
  for (const item of items) {
    for (const policy of config.policies) {
      for (const budget of budgetsFor(config, item, policy)) {
        units.push({ key: resultKey(item.dataset, item.id, policyLabel(policy), budget), item, policy, budget });
      }
    }
  }
  return units;
}

/** Shard i of n: the units whose index in sweep order is i mod n (deterministic, balanced across datasets). */
export function shardUnits<T>(units: readonly T[], shard?: { index: number; count: number }): T[] {
  if (!shard || shard.count === 1) return units.slice();
  return units.filter((_, i) => i % shard.count === shard.index);
}

/** The units not yet in `done` (keys of records already written), for resuming. */
export function pendingUnits(units: readonly SweepUnit[], done: Iterable<ResultRecord | string>): SweepUnit[] {
  const keys = new Set<string>();
  for (const d of done) keys.add(typeof d === "string" ? d : d.key);
  return units.filter((u) => !keys.has(u.key));
}

/**
 * Batches for a backend with a batched path: the units of one (policy, budget, window length,
 * generation length) group, in sweep order, dealt into ceil(n / maxBatch) near-equal batches
 * (unit i of the group into batch i mod k, so each batch spans the group's items: every needle
 * depth, say). Ordered round-robin over the groups (every group's first batch, then every group's
 * second, ...), so a run stopped early still has every policy and budget on the same samples,
 * across all depths. Deterministic for a given unit list, so every shard and rerun sees the same
 * batches.
 */
export function planBatches(units: readonly SweepUnit[], maxBatch: number): SweepUnit[][] {
  const groups = new Map<string, SweepUnit[]>();
  for (const u of units) {
    const gen = u.item.dataset === "longbench-gen" ? u.item.maxNewTokens : 0;
    const k = `${policyLabel(u.policy)}|${u.budget.toFixed(4)}|${u.item.tokens.length}|${gen}`;
    let g = groups.get(k);
    if (!g) {
      g = [];
      groups.set(k, g);
    }
    g.push(u);
  }
  const chunked = [...groups.values()].map((g) => {
    const k = Math.ceil(g.length / maxBatch);
    return Array.from({ length: k }, (_, j) => g.filter((_, i) => i % k === j));
  });
  const out: SweepUnit[][] = [];
  const rounds = Math.max(0, ...chunked.map((c) => c.length));
  for (let r = 0; r < rounds; r++) for (const c of chunked) if (r < c.length) out.push(c[r]);
  return out;
}

/**
 * Decode steps of a batch plan (an upper bound with generation, which may stop early at EOS):
 * a window of T tokens takes one prefill (BOS) and T - 2 teacher-forced steps; a generation
 * prompt of T tokens T - 1 steps plus up to maxNewTokens - 1. `sequenceSteps` counts every
 * sequence's steps (the work inside the batches).
 */
export function planSteps(batches: readonly SweepUnit[][]): { batches: number; decodeSteps: number; sequenceSteps: number } {
  let decodeSteps = 0;
  let sequenceSteps = 0;
  for (const b of batches) {
    const it = b[0].item;
    const steps = it.dataset === "longbench-gen" ? it.tokens.length - 1 + it.maxNewTokens - 1 : Math.max(0, it.tokens.length - 2);
    decodeSteps += steps;
    sequenceSteps += steps * b.length;
  }
  return { batches: batches.length, decodeSteps, sequenceSteps };
}

import { longBenchAnswerInput, longBenchContextWindows, longBenchPath, loadLongBench } from "../benchmarks/longbench/loader.js";
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
  | { dataset: "needle"; id: string; tokens: Int32Array; sample: NeedleSample };

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
 * answers, needle samples (kind, length, depth, sample). Deterministic for a given tokenizer and data.
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

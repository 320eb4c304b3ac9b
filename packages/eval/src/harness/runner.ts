import { join } from "node:path";
import { expectLength, Progress } from "@kvwalk/core";
import { answerLogitPositions } from "../benchmarks/needle/generate.js";
import { greedyExactMatch } from "../benchmarks/needle/metric.js";
import { appendResult, mergeResults, type ResultRecord, repairResults, resultsFileName } from "../results.js";
import type { EvalBackend } from "./backend.js";
import { type EvalConfig, policyLabel } from "./config.js";
import { pendingUnits, type SweepUnit, shardUnits } from "./sweep.js";

/** Budget in slots for a window of `length` tokens, as @kvwalk/runtime resolves fractions (floor, at least 1). */
export function budgetSlots(budget: number, length: number): number {
  return budget >= 1 ? length : Math.max(1, Math.floor(budget * length));
}

/** Budgets of a config whose "cache full" token sets are recorded (so full-cache runs compare on the same tokens). */
export function recordedBudgets(config: EvalConfig): number[] {
  return [...new Set([...config.budgets, ...(config.needle?.budgets ?? [])])].sort((a, b) => a - b);
}

/** Sum of nll[i] for i >= from. */
function tailSum(nll: Float32Array, from: number): number {
  let s = 0;
  for (let i = from; i < nll.length; i++) s += nll[i];
  return s;
}

/** Turns a backend result into the unit's result record (metrics computed here, not by the backend). */
export function scoreUnit(
  unit: SweepUnit,
  res: { nll: Float32Array; logits?: Float32Array },
  ctx: { backend: string; model: string; vocabSize: number; budgets: number[]; ms: number },
): ResultRecord {
  const T = unit.item.tokens.length;
  expectLength("nll", res.nll, T - 1);
  const slots = budgetSlots(unit.budget, T);
  const filled: Record<string, { tokens: number; nllSum: number }> = {};
  for (const b of ctx.budgets) {
    const s = budgetSlots(b, T);
    filled[b.toFixed(4)] = { tokens: Math.max(0, T - 1 - s), nllSum: tailSum(res.nll, s) };
  }
  const rec: ResultRecord = {
    v: 1,
    key: unit.key,
    dataset: unit.item.dataset,
    item: unit.item.id,
    policy: policyLabel(unit.policy),
    budget: unit.budget,
    backend: ctx.backend,
    model: ctx.model,
    length: T,
    tokens: T - 1,
    nllSum: tailSum(res.nll, 0),
    filledTokens: Math.max(0, T - 1 - slots),
    filledNllSum: tailSum(res.nll, slots),
    filled,
    ms: Math.round(ctx.ms),
  };
  const item = unit.item;
  if (item.dataset === "longbench-answer") {
    let s = 0;
    for (let p = item.answerStart; p < item.answerStart + item.answerLength; p++) s += res.nll[p - 1];
    rec.answer = { tokens: item.answerLength, nllSum: s, task: item.task };
  }
  if (item.dataset === "needle") {
    const smp = item.sample;
    if (!res.logits) throw new Error(`backend returned no logits for needle sample ${smp.id}`);
    const answer = item.tokens.subarray(smp.answerStart, smp.answerStart + smp.answerLength);
    const m = greedyExactMatch(res.logits, ctx.vocabSize, answer);
    let s = 0;
    for (let p = smp.answerStart; p < smp.answerStart + smp.answerLength; p++) s += res.nll[p - 1];
    rec.needle = { kind: smp.kind, depth: smp.depth, length: smp.length, seed: smp.seed, correct: m.correct, hits: m.hits, answerNllSum: s, answer: smp.answer };
  }
  return rec;
}

export interface RunOptions {
  config: EvalConfig;
  backend: EvalBackend;
  units: SweepUnit[];
  outDir: string;
  shard?: { index: number; count: number };
  /** Progress output (default: stderr). */
  progressStream?: NodeJS.WritableStream;
  /** Stop after this many units (for smoke tests and timing). */
  limit?: number;
  /** Units evaluated at once (default 1; the CLI uses 2 on the CPU backend). */
  concurrency?: number;
}

/**
 * Runs the shard's pending units (keys already in any results file of `outDir` are skipped, so an
 * interrupted run resumes), appending one record per unit to the shard's results file.
 * Returns counts and the wall time per policy label.
 */
export async function runSweep(opts: RunOptions): Promise<{ done: number; skipped: number; file: string; msByPolicy: Record<string, number[]> }> {
  const file = join(opts.outDir, resultsFileName(opts.shard));
  const mine = shardUnits(opts.units, opts.shard);
  if (repairResults(file)) console.warn(`${file}: cut an incomplete last line (interrupted write); that unit will be recomputed`);
  const existing = mergeResults(opts.outDir, (f, line) => console.warn(`${f}: dropping an incomplete last line ${line} (interrupted write); that unit will be recomputed`)).records;
  let todo = pendingUnits(mine, existing);
  const skipped = mine.length - todo.length;
  if (opts.limit !== undefined) todo = todo.slice(0, opts.limit);
  const budgets = recordedBudgets(opts.config);
  const progress = new Progress(
    `eval${opts.shard && opts.shard.count > 1 ? ` shard ${opts.shard.index}/${opts.shard.count}` : ""}`,
    todo.length,
    "units",
    undefined,
    opts.progressStream,
  );
  const msByPolicy: Record<string, number[]> = {};
  const runOne = async (unit: SweepUnit) => {
    const logitPositions = unit.item.dataset === "needle" ? answerLogitPositions(unit.item.sample) : undefined;
    const t0 = performance.now();
    const res = await opts.backend.run({ tokens: unit.item.tokens, policy: unit.policy, budget: unit.budget, logitPositions });
    const ms = performance.now() - t0;
    const rec = scoreUnit(unit, res, { backend: opts.backend.name, model: opts.backend.model, vocabSize: opts.backend.vocabSize, budgets, ms });
    appendResult(file, rec);
    const label = policyLabel(unit.policy);
    if (!msByPolicy[label]) msByPolicy[label] = [];
    msByPolicy[label].push(ms);
    progress.tick(1, `${unit.item.dataset} ${label}@${unit.budget}`);
  };
  // A small pool: while one pass runs its (single-threaded) policy simulation, another can use the
  // model's threads. Records are appended as units finish; reports sort by key, so order is free.
  let next = 0;
  const worker = async () => {
    while (next < todo.length) await runOne(todo[next++]);
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(opts.concurrency ?? 1, todo.length)) }, worker));
  return { done: todo.length, skipped, file, msByPolicy };
}

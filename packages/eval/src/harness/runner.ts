import { join } from "node:path";
import { BackendUnavailableError, expectInt, expectLength, InvalidArgumentError, Progress } from "@kvwalk/core";
import { scoreLongBench } from "../benchmarks/longbench/metrics.js";
import { longBenchTask } from "../benchmarks/longbench/tasks.js";
import { answerLogitPositions } from "../benchmarks/needle/generate.js";
import { greedyExactMatch } from "../benchmarks/needle/metric.js";
import { appendResult, mergeResults, type ResultRecord, repairResults, resultsFileName } from "../results.js";
import type { TextTokenizer } from "../tokenizer.js";
import type { EvalBackend, WindowRequest, WindowResult } from "./backend.js";
import { DEFAULT_BATCH, type EvalConfig, policyLabel } from "./config.js";
import { pendingUnits, planBatches, type SweepUnit, shardUnits } from "./sweep.js";

/** Budget in slots for a window of `length` tokens, as @kvwalk/runtime resolves fractions (floor, at least 1). */
export function budgetSlots(budget: number, length: number): number {
  return budget >= 1 ? length : Math.max(1, Math.floor(budget * length));
}

/** Budgets of a config whose "cache full" token sets are recorded (so full-cache runs compare on the same tokens). */
export function recordedBudgets(config: EvalConfig): number[] {
  return [...new Set([...config.budgets, ...(config.needle?.budgets ?? [])])].sort((a, b) => a - b);
}

/** Sum and count of the scored (non-NaN) nll[i] for i >= from. */
function tail(nll: Float32Array, from: number): { tokens: number; nllSum: number } {
  let s = 0;
  let n = 0;
  for (let i = Math.max(0, from); i < nll.length; i++) {
    if (Number.isNaN(nll[i])) continue;
    s += nll[i];
    n++;
  }
  return { tokens: n, nllSum: s };
}

/** The backend request of a unit: needle answers' logits (and only their NLL), generation for LongBench generation items. */
export function unitRequest(unit: SweepUnit, eosId: number | null | undefined): WindowRequest {
  const item = unit.item;
  const req: WindowRequest = { tokens: item.tokens, policy: unit.policy, budget: unit.budget };
  if (item.dataset === "needle") {
    req.logitPositions = answerLogitPositions(item.sample);
    req.nllPositions = req.logitPositions;
  }
  if (item.dataset === "longbench-gen") {
    req.generate = { maxNewTokens: item.maxNewTokens, stopIds: eosId == null ? [] : [eosId] };
    req.nllPositions = [];
  }
  return req;
}

/**
 * Turns a backend result into the unit's result record (metrics computed here, not by the backend).
 * NLL entries left NaN (positions the request did not ask for) are not counted; a record with such
 * entries is marked `scored: "answer"`.
 */
export function scoreUnit(
  unit: SweepUnit,
  res: WindowResult,
  ctx: { backend: string; model: string; vocabSize: number; budgets: number[]; ms: number; tokenizer?: TextTokenizer; batch?: number },
): ResultRecord {
  const T = unit.item.tokens.length;
  expectLength("nll", res.nll, T - 1);
  const slots = budgetSlots(unit.budget, T);
  const filled: Record<string, { tokens: number; nllSum: number }> = {};
  for (const b of ctx.budgets) filled[b.toFixed(4)] = tail(res.nll, budgetSlots(b, T));
  const all = tail(res.nll, 0);
  const f = tail(res.nll, slots);
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
    tokens: all.tokens,
    nllSum: all.nllSum,
    filledTokens: f.tokens,
    filledNllSum: f.nllSum,
    filled,
    ms: Math.round(ctx.ms),
  };
  if (all.tokens < T - 1) rec.scored = "answer";
  if (ctx.batch !== undefined) rec.batch = ctx.batch;
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
  if (item.dataset === "longbench-gen") {
    if (!res.generated) throw new Error(`backend returned no generated tokens for LongBench sample ${item.id}`);
    if (!ctx.tokenizer) throw new InvalidArgumentError("ctx.tokenizer", "the tokenizer (to detokenize generated answers)", undefined);
    const task = longBenchTask(item.task)!;
    const prediction = ctx.tokenizer.decode(res.generated.ids);
    rec.generation = {
      task: item.task,
      metric: task.metric,
      score: scoreLongBench(task, prediction, item.answers, item.allClasses),
      prediction,
      newTokens: res.generated.ids.length,
      stopped: res.generated.stopped,
    };
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
  /** Units (or, on a batching backend, batches) evaluated at once (default 1; the CLI uses 2). */
  concurrency?: number;
  /** Windows per batch on a batching backend (default: config.batch, else 32; at most backend.maxBatch). */
  batch?: number;
}

/**
 * Runs the shard's pending units (keys already in any results file of `outDir` are skipped, so an
 * interrupted run resumes), appending one record per unit to the shard's results file.
 * On a backend with `runMany`, units run in the batches of `planBatches` over the whole sweep, and
 * a shard takes every n-th batch (not unit); a batch with any unit missing is rerun whole (so a
 * window always runs in the same batch) and only the missing units are appended.
 * Returns counts and the wall time per policy label.
 */
export async function runSweep(opts: RunOptions): Promise<{ done: number; skipped: number; file: string; msByPolicy: Record<string, number[]>; batches?: number }> {
  const file = join(opts.outDir, resultsFileName(opts.shard));
  if (repairResults(file)) console.warn(`${file}: cut an incomplete last line (interrupted write); that unit will be recomputed`);
  const existing = mergeResults(opts.outDir, (f, line) => console.warn(`${f}: dropping an incomplete last line ${line} (interrupted write); that unit will be recomputed`)).records;
  const backend = opts.backend;
  const needsGeneration = opts.units.some((u) => u.item.dataset === "longbench-gen");
  if (needsGeneration && !backend.generates) {
    throw new BackendUnavailableError(
      "LongBench generation (config.longbench.generateSamples)",
      `backend ${backend.name} only scores teacher-forced windows; run it with --backend gpu or set generateSamples to 0`,
    );
  }
  const budgets = recordedBudgets(opts.config);
  const msByPolicy: Record<string, number[]> = {};
  const record = (unit: SweepUnit, res: WindowResult, ms: number, batch?: number) => {
    const rec = scoreUnit(unit, res, { backend: backend.name, model: backend.model, vocabSize: backend.vocabSize, budgets, ms, tokenizer: backend.tokenizer, batch });
    appendResult(file, rec);
    const label = policyLabel(unit.policy);
    if (!msByPolicy[label]) msByPolicy[label] = [];
    msByPolicy[label].push(ms);
  };
  const progressLabel = `eval${opts.shard && opts.shard.count > 1 ? ` shard ${opts.shard.index}/${opts.shard.count}` : ""}`;
  const pool = async <T>(tasks: T[], run: (t: T) => Promise<void>) => {
    // A small pool: while one pass runs its (single-threaded) policy simulation or waits for the GPU,
    // another can use the CPU. Records are appended as units finish; reports sort by key, so order is free.
    let next = 0;
    const worker = async () => {
      while (next < tasks.length) await run(tasks[next++]);
    };
    await Promise.all(Array.from({ length: Math.max(1, Math.min(opts.concurrency ?? 1, tasks.length)) }, worker));
  };

  if (backend.runMany) {
    const runMany = backend.runMany.bind(backend);
    const size = Math.min(expectInt("batch", opts.batch ?? opts.config.batch ?? DEFAULT_BATCH, 1), backend.maxBatch ?? Number.MAX_SAFE_INTEGER);
    const all = planBatches(opts.units, size);
    const mine = !opts.shard || opts.shard.count === 1 ? all : all.filter((_, i) => i % opts.shard!.count === opts.shard!.index);
    const done = new Set(existing.map((r) => r.key));
    let todo = mine.filter((b) => b.some((u) => !done.has(u.key)));
    const total = mine.reduce((a, b) => a + b.length, 0);
    const pending = (b: SweepUnit[]) => b.filter((u) => !done.has(u.key)).length;
    const skipped = total - todo.reduce((a, b) => a + pending(b), 0);
    if (opts.limit !== undefined) {
      // Smoke runs: whole batches while they fit, the last one cut (a cut batch is a different batch).
      const cut: SweepUnit[][] = [];
      let n = 0;
      for (const b of todo) {
        if (n >= opts.limit) break;
        const left = opts.limit - n;
        const p = pending(b);
        cut.push(p <= left ? b : b.filter((u) => !done.has(u.key)).slice(0, left));
        n += Math.min(p, left);
      }
      todo = cut;
    }
    const count = todo.reduce((a, b) => a + pending(b), 0);
    const progress = new Progress(progressLabel, count, "units", undefined, opts.progressStream);
    await pool(todo, async (batch) => {
      const reqs = batch.map((u) => unitRequest(u, backend.eosId));
      const t0 = performance.now();
      const results = await runMany(reqs);
      const ms = (performance.now() - t0) / batch.length;
      if (results.length !== batch.length) throw new Error(`backend ${backend.name} returned ${results.length} results for a batch of ${batch.length}`);
      let n = 0;
      batch.forEach((u, i) => {
        if (done.has(u.key)) return;
        record(u, results[i], ms, batch.length);
        done.add(u.key);
        n++;
      });
      const u0 = batch[0];
      progress.tick(n, `${u0.item.dataset} ${policyLabel(u0.policy)}@${u0.budget} x${batch.length}`);
    });
    return { done: count, skipped, file, msByPolicy, batches: todo.length };
  }

  const mine = shardUnits(opts.units, opts.shard);
  let todo = pendingUnits(mine, existing);
  const skipped = mine.length - todo.length;
  if (opts.limit !== undefined) todo = todo.slice(0, opts.limit);
  const progress = new Progress(progressLabel, todo.length, "units", undefined, opts.progressStream);
  await pool(todo, async (unit) => {
    const t0 = performance.now();
    const res = await backend.run(unitRequest(unit, backend.eosId));
    record(unit, res, performance.now() - t0);
    progress.tick(1, `${unit.item.dataset} ${policyLabel(unit.policy)}@${unit.budget}`);
  });
  return { done: todo.length, skipped, file, msByPolicy };
}

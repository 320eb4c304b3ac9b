/**
 * The `gpu` backend: the GPU decode engine of @kvwalk/runtime with live eviction. A window is run as
 * the oracle's causal timeline on real hardware: BOS prefilled, then every later token teacher-forced
 * through a decode step, the cache compacted to budget - 1 slots whenever it holds `budget` (so each
 * query sees exactly the oracle's cache size). The engine's check ties this path to the oracle
 * (streaming / H2O / TOVA perplexity within 0.2% on fixture-lm; runtime README).
 * Policies: full, streaming, h2o, tova, pagerank-walker (the CUDA walker), pagerank-top4 (exact PageRank
 * on the graph cache, ranked lazily as the oracle does); the other oracle policies
 * have no GPU implementation and are refused by name.
 *
 * Batches (`runMany`): n windows of one policy, budget and length go into regions 0..n-1 of one
 * engine (maxBatch n) and advance in lockstep, one batched decode step per position; each region
 * compacts on its own when it fills. Everything per sequence is as alone; the engines here turn the
 * fused batch-1 GEMV path off so a single window takes the same (batch-invariant) cuBLAS GEMMs. The
 * decode attention's split count depends on the batch size and capacity (graph-cache
 * decode_choose_splits), so a long cache in a big batch can round differently from one alone; with
 * equal split counts full / streaming / h2o / tova give the same numbers as windows alone
 * (`kvwalk-eval batch-check` measures it on the device). The walker's random streams are keyed by the graph index, which includes
 * the region and the batch size, so a walker window's scores depend on its place in the batch (the
 * runner keeps batches fixed, so results stay deterministic).
 *
 * Attention graphs: a pagerank-walker policy's option `graphHeads` ("kv" | "query", absent = the
 * engine's default "kv") goes to createEngine: one graph per KV head (the group's summed attention,
 * what the oracle's policies observe) or one per query head (visit counts summed over each group).
 * The same graphs on a multi-head model; configs/gpu-gqa-graph-heads*.json compare them on a
 * grouped-query one.
 *
 * Engines: the engine keeps H2O and walker scores per region across prompts (prefill does not clear
 * them) and counts decode steps per engine (the walker's refresh phase and seed), so h2o and walker
 * batches get a fresh engine each; full, streaming and tova (whose scores are rewritten every step)
 * reuse idle engines of the same shape.
 */
import { basename } from "node:path";
import { BackendUnavailableError, InvalidArgumentError } from "@kvwalk/core";
import { loadConfig, loadTokenizer } from "@kvwalk/model/checkpoint";
import { type CreateEngineOptions, createEngine, type Engine, type EnginePolicy, type EvictionOptions, engineStatus, tokenLogProb } from "@kvwalk/runtime/engine";
import { argmaxRow } from "../benchmarks/needle/metric.js";
import type { TextTokenizer } from "../tokenizer.js";
import type { EvalBackend, WindowRequest, WindowResult } from "./backend.js";
import { type GraphHeads, numericOptions, type PolicyOptionValues, policyGraphHeads } from "./config.js";

export const GPU_POLICIES: Readonly<Record<string, EnginePolicy>> = {
  full: "full",
  streaming: "streaming",
  h2o: "h2o",
  tova: "tova",
  "pagerank-walker": "walker",
  "pagerank-top4": "pagerank-top4",
};

/** Policies whose engine state does not carry from one prompt to the next (their engines are reused). */
const REUSABLE: ReadonlySet<EnginePolicy> = new Set(["full", "streaming", "tova"]);

/**
 * The engine policy and eviction options of a study policy at `slots` slots (the oracle's option
 * names; `graphHeads` is an engine option, see `batchEngineSpec`).
 */
export function gpuEviction(name: string, slots: number, opts: PolicyOptionValues = {}): EvictionOptions | undefined {
  const policy = GPU_POLICIES[name];
  if (!policy) throw new InvalidArgumentError("policy", `one that the GPU engine implements (${Object.keys(GPU_POLICIES).join(", ")})`, name);
  if (policy === "full") return undefined;
  const options = numericOptions(opts, "policy.options");
  // compactionSlack: a sequence whose cache fills its `slots` is compacted to slots - slack (1, the
  // default: before every append, as the oracle's causal simulation evicts; 64: the lazy schedule of the
  // runtime's throughput bench, one compaction per 64 tokens).
  const slack = options.compactionSlack ?? 1;
  if (!Number.isInteger(slack) || slack < 1 || slack >= slots) {
    throw new InvalidArgumentError("policy.options.compactionSlack", `an integer in [1, ${slots - 1}] (slots freed per compaction of a ${slots}-slot cache)`, slack);
  }
  return {
    policy,
    budget: slots - slack,
    sinks: options.sinks ?? 4,
    recent: options.window ?? 50,
    refresh: options.refreshEvery ?? 32,
    walkers: options.walkers,
    steps: options.steps,
    teleport: options.teleport,
    scoreDecay: options.decay,
    startWindow: options.startWindow ?? 64, // the oracle policies' default (the engine's own is 50)
    seed: options.seed,
  };
}

/** The part of an engine the backend drives: the native prefill and decode calls (a fake in tests). */
export interface GpuEngineHandle {
  native: Pick<Engine["native"], "prefill" | "decode">;
  dispose(): Promise<void>;
}

/** What an engine of a batch is created with. */
export interface GpuEngineSpec {
  /** KV slots per sequence. */
  capacity: number;
  /** Sequences (regions) of the batch. */
  maxBatch: number;
  /** Live eviction; absent for the full cache. */
  eviction?: EvictionOptions;
  /** Which heads own the walker's graphs (createEngine's `graphHeads`); absent: the engine's default ("kv"). */
  graphHeads?: GraphHeads;
}

/** What the backend needs besides the engine: model facts, the tokenizer and an engine factory. */
export interface GpuBackendDeps {
  model: string;
  vocabSize: number;
  maxPositions: number;
  eosId: number | null;
  tokenizer: TextTokenizer;
  createEngine(spec: GpuEngineSpec): Promise<GpuEngineHandle>;
  /** Largest batch (default 512). */
  maxBatch?: number;
}

/** Engine shape of a batch: capacity and eviction from the policy, budget, window length and generation length. */
export function batchEngineSpec(req: WindowRequest, batch: number, maxPositions: number): GpuEngineSpec {
  const T = req.tokens.length;
  const full = req.policy.name === "full";
  const gen = req.generate?.maxNewTokens ?? 0;
  // Generation appends the prompt and all but the last generated token: T + gen - 1 positions.
  if (T + Math.max(0, gen - 1) > maxPositions) {
    throw new InvalidArgumentError("tokens", `a window of at most ${maxPositions} positions (the model's maximum) including ${gen} generated tokens`, `${T} prompt tokens`);
  }
  const slots = full ? T : Math.max(2, Math.floor(req.budget * T));
  const eviction = gpuEviction(req.policy.name, slots, req.policy.options);
  const graphHeads = policyGraphHeads("policy.options.graphHeads", req.policy.name, req.policy.options);
  const capacity = full ? Math.min(maxPositions, T + gen) : slots;
  return { capacity, maxBatch: batch, eviction, ...(graphHeads ? { graphHeads } : {}) };
}

/** Checks that a batch shares what one engine and one lockstep schedule need. */
function checkBatch(reqs: readonly WindowRequest[]): void {
  if (reqs.length < 1) throw new InvalidArgumentError("reqs", "at least one window", reqs.length);
  const r0 = reqs[0];
  const sig = (r: WindowRequest) => JSON.stringify([r.policy.name, r.policy.label, r.policy.options ?? {}, r.budget, r.tokens.length, r.generate ?? null]);
  const s0 = sig(r0);
  reqs.forEach((r, i) => {
    if (sig(r) !== s0) throw new InvalidArgumentError(`reqs[${i}]`, "the policy, budget, length and generation settings of reqs[0]", sig(r));
  });
  if (r0.tokens.length < 2 && !r0.generate) throw new InvalidArgumentError("tokens", "at least 2 tokens", r0.tokens.length);
}

/** Per-sequence bookkeeping of what to keep from each step's logits. */
interface Wants {
  /** Query positions whose NLL is wanted (null: all). */
  nll: Set<number> | null;
  /** Query position -> row of the returned logits. */
  logits: Map<number, number>;
}

/**
 * Runs a batch in lockstep on one engine: prefill BOS into regions 0..B-1, teacher-force the rest of
 * each window through decode steps (the next step is queued before this step's logits are scored, so
 * host work overlaps the GPU), then, with `generate`, greedy decoding until every sequence stopped.
 */
export async function runLockstep(native: GpuEngineHandle["native"], reqs: readonly WindowRequest[], vocab: number): Promise<WindowResult[]> {
  checkBatch(reqs);
  const B = reqs.length;
  const T = reqs[0].tokens.length;
  const gen = reqs[0].generate;
  const V = vocab;
  const wants: Wants[] = reqs.map((r, b) => {
    const check = (name: string, ps: readonly number[]) =>
      ps.forEach((p, i) => {
        if (!Number.isInteger(p) || p < 0 || p > T - 2) throw new InvalidArgumentError(`reqs[${b}].${name}[${i}]`, `a query position in [0, ${T - 2}]`, p);
      });
    check("logitPositions", r.logitPositions ?? []);
    check("nllPositions", r.nllPositions ?? []);
    return { nll: r.nllPositions ? new Set(r.nllPositions) : null, logits: new Map((r.logitPositions ?? []).map((p, i) => [p, i])) };
  });
  const nll = reqs.map(() => new Float32Array(T - 1).fill(Number.NaN));
  const logits = reqs.map((r) => (r.logitPositions ? new Float32Array(r.logitPositions.length * V) : undefined));
  const needAt = (t: number) => t <= T - 2 && wants.some((w) => w.nll === null || w.nll.has(t) || w.logits.has(t));
  /** Scores rows [B, V] of query position t (they predict token t + 1). */
  const take = (t: number, rows: Float32Array) => {
    for (let b = 0; b < B; b++) {
      const w = wants[b];
      const row = rows.subarray(b * V, (b + 1) * V);
      if (w.nll === null || w.nll.has(t)) nll[b][t] = -tokenLogProb(row, reqs[b].tokens[t + 1]);
      const i = w.logits.get(t);
      if (i !== undefined) logits[b]!.set(row, i * V);
    }
  };
  const regions = Int32Array.from({ length: B }, (_, b) => b);
  const offsets = Int32Array.from({ length: B + 1 }, (_, b) => b);
  const first = await native.prefill(
    regions,
    Int32Array.from(reqs, (r) => r.tokens[0]),
    offsets,
    false,
  );
  if (needAt(0)) take(0, first.last);
  const temperature = new Float32Array(B); // 0: greedy (the sampled `next` is the argmax)
  const topP = new Float32Array(B).fill(1);
  // Teacher-forced steps feed tokens 1..last; with generation the last prompt token too (its step's argmax is the first answer token).
  const last = gen ? T - 1 : T - 2;
  const feed = (t: number) =>
    native.decode(
      Int32Array.from(reqs, (r) => r.tokens[t]),
      temperature,
      topP,
      0,
      needAt(t),
    );
  let pending = last >= 1 ? feed(1) : undefined;
  let next: Int32Array | undefined;
  try {
    for (let t = 1; t <= last; t++) {
      const r = await pending!;
      pending = t + 1 <= last ? feed(t + 1) : undefined;
      if (r.logits) take(t, r.logits);
      if (t === last) next = r.next;
    }
  } finally {
    // A failure while scoring must not leave a step in flight on an engine that is about to be freed.
    if (pending) await pending.catch(() => undefined);
  }
  const results: WindowResult[] = reqs.map((_, b) => ({ nll: nll[b], logits: logits[b] }));
  if (!gen) return results;

  let cur = next ?? Int32Array.from({ length: B }, (_, b) => argmaxRow(first.last, V, b));
  const stop = new Set(gen.stopIds);
  const out: number[][] = reqs.map(() => []);
  const stopped = new Array<boolean>(B).fill(false);
  const done = new Array<boolean>(B).fill(false);
  for (;;) {
    for (let b = 0; b < B; b++) {
      if (done[b]) continue;
      if (stop.has(cur[b])) {
        stopped[b] = true;
        done[b] = true;
      } else {
        out[b].push(cur[b]);
        if (out[b].length >= gen.maxNewTokens) done[b] = true;
      }
    }
    if (done.every(Boolean)) break;
    // Finished sequences keep stepping (lockstep) on their last token; their outputs are ignored.
    const r = await native.decode(cur, temperature, topP, 0, false);
    cur = Int32Array.from(r.next, (v, b) => (done[b] ? cur[b] : v));
  }
  results.forEach((r, b) => {
    r.generated = { ids: Int32Array.from(out[b]), stopped: stopped[b] };
  });
  return results;
}

/** The gpu backend over an engine factory (the real engine in `openGpuBackend`, a fake in tests). */
export function gpuBackend(deps: GpuBackendDeps): EvalBackend & { enginesCreated(): number } {
  const idle = new Map<string, GpuEngineHandle[]>();
  let created = 0;
  const acquire = async (key: string, spec: GpuEngineSpec, reusable: boolean): Promise<GpuEngineHandle> => {
    const pool = reusable ? idle.get(key) : undefined;
    if (pool?.length) return pool.pop()!;
    created++;
    return deps.createEngine(spec);
  };
  const release = async (key: string, e: GpuEngineHandle, reusable: boolean, ok: boolean) => {
    if (!reusable || !ok) return e.dispose();
    if (!idle.has(key)) idle.set(key, []);
    idle.get(key)!.push(e);
  };
  const maxBatch = deps.maxBatch ?? 512;
  const runMany = async (reqs: WindowRequest[]): Promise<WindowResult[]> => {
    checkBatch(reqs);
    if (reqs.length > maxBatch) throw new InvalidArgumentError("reqs", `at most ${maxBatch} windows per batch`, reqs.length);
    const spec = batchEngineSpec(reqs[0], reqs.length, deps.maxPositions);
    const reusable = REUSABLE.has(spec.eviction?.policy ?? "full");
    const key = JSON.stringify(spec);
    const e = await acquire(key, spec, reusable);
    let ok = false;
    try {
      const res = await runLockstep(e.native, reqs, deps.vocabSize);
      ok = true;
      return res;
    } finally {
      await release(key, e, reusable, ok);
    }
  };
  return {
    name: "gpu",
    model: deps.model,
    vocabSize: deps.vocabSize,
    tokenizer: deps.tokenizer,
    eosId: deps.eosId,
    generates: true,
    maxBatch,
    runMany,
    async run(req: WindowRequest): Promise<WindowResult> {
      return (await runMany([req]))[0];
    },
    enginesCreated: () => created,
    async dispose() {
      for (const pool of idle.values()) for (const e of pool) await e.dispose();
      idle.clear();
    },
  };
}

/** createEngine's options for an engine of a batch of the gpu backend (`spec` from `batchEngineSpec`). */
export function engineOptions(modelDir: string, spec: GpuEngineSpec): CreateEngineOptions {
  return {
    model: modelDir,
    capacity: spec.capacity,
    maxBatch: spec.maxBatch,
    maxPrefillTokens: Math.max(16, spec.maxBatch),
    maxLogitRows: spec.maxBatch,
    // GEMMs at every batch size: the fused GEMV path (the engine's default for one sequence)
    // rounds differently, and a window must get the same numbers alone as in a batch.
    gemvRows: 0,
    eviction: spec.eviction,
    // Absent: the engine's default ("kv").
    ...(spec.graphHeads ? { graphHeads: spec.graphHeads } : {}),
    progress: false,
  };
}

/** Opens the GPU backend, or fails at once with the reason when no CUDA device is usable. */
export async function openGpuBackend(modelDir: string): Promise<EvalBackend> {
  const status = engineStatus();
  if (status.backend !== "cuda") throw new BackendUnavailableError("kvwalk-eval --backend gpu", status.reason ?? "unavailable");
  const config = loadConfig(modelDir);
  const tokenizer = loadTokenizer(modelDir, config.vocabSize, config.bosTokenId);
  return gpuBackend({
    model: basename(modelDir),
    vocabSize: config.vocabSize,
    maxPositions: config.maxPositions,
    eosId: config.eosTokenId,
    tokenizer,
    createEngine: (spec) => createEngine(engineOptions(modelDir, spec)),
  });
}

import type { LayerStepper, LoadedModel } from "@kvwalk/model";
import {
  blockedLogitsRowSource,
  createPolicy,
  type LogitBlocks,
  type PolicyOptions,
  queryHeadsOf,
  retrospectiveScores,
  runPolicy,
  type SimulationResult,
  staticKeepSet,
} from "@kvwalk/runtime";
import { type SimPool, simulateInProcess } from "./sim-pool.js";

/** m.get(k), which must exist (internal maps built from the same key lists). */
function at<K, V>(m: Map<K, V>, k: K): V {
  const v = m.get(k);
  if (v === undefined) throw new Error(`internal: missing key ${String(k)}`);
  return v;
}

/** Policy options without the budget (the study sets it per run). */
export type SharedPolicyOptions = Omit<PolicyOptions, "budget">;

/** Where one pass spent its time. */
export interface PassTiming {
  /** Waiting on the model (q/k/v, logits, attention, MLP, final), ms. */
  forwardMs: number;
  /** Running the policy simulation (rows + bookkeeping + ranking), ms. */
  simMs: number;
  /** Of simMs: computing softmax rows over the cached keys, ms. */
  rowMs: number;
  /** Of simMs: PageRank refreshes, ms. */
  refreshMs: number;
  /** PageRank refreshes over all (layer, KV head). */
  refreshes: number;
  /** Power iterations over all refreshes (pagerank-undirected; the other variants are exact sweeps). */
  iterations: number;
  /** Tokens evicted over all (layer, KV head). */
  evictions: number;
  /** Wall time of the pass, ms. */
  wallMs: number;
}

export interface PassResult {
  /** Float32Array [T-1]: NLL of tokens 1..T-1 (nll[i] is predicted at query position i). */
  nll: Float32Array;
  timing: PassTiming;
}

function emptyTiming(): PassTiming {
  return { forwardMs: 0, simMs: 0, rowMs: 0, refreshMs: 0, refreshes: 0, iterations: 0, evictions: 0, wallMs: 0 };
}

async function timed<T>(timing: PassTiming, f: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  try {
    return await f();
  } finally {
    timing.forwardMs += performance.now() - t0;
  }
}

/** Caps eviction times at j + slidingWindow (Mistral): a sliding-window model never sees older keys. */
function applySlidingWindow(evict: Int32Array, T: number, slidingWindow: number | null): void {
  if (slidingWindow === null) return;
  for (let i = 0; i < evict.length; i++) {
    const j = i % T;
    if (evict[i] > j + slidingWindow) evict[i] = j + slidingWindow;
  }
}

/**
 * The same logits in causal blocks (LayerStepper.scores, which attend() then reuses instead of
 * recomputing), or the dense [T, T] logits as one block when the stepper has no scores().
 */
async function groupScores(st: LayerStepper, heads: number[]): Promise<LogitBlocks[]> {
  const out: LogitBlocks[] = [];
  const T = st.length;
  for (const h of heads) out.push(st.scores ? await st.scores(h) : { bounds: Int32Array.of(0, T), blocks: [await st.logits(h)] });
  return out;
}

/**
 * One causal pass (the headline simulation) of `policy` at `budget` over one window: layer by
 * layer, fetch the scaled logits of every query head, simulate the policy per KV head over the T
 * steps (GQA group heads summed), attend the layer with the resulting eviction times, continue.
 * Each policy needs its own pass: layer l + 1's inputs depend on layer l's eviction. The next KV
 * head's logits are requested before the current one is simulated, so the model's threads and the
 * simulation overlap; with a `pool`, the KV heads of a layer are simulated on worker threads in
 * parallel (simMs then sums the workers' time). `full` attends without eviction; policies that never read attention
 * (streaming, random) skip the logits.
 */
export async function causalPass(
  model: LoadedModel,
  tokens: Int32Array,
  policy: string,
  budget: number,
  shared: SharedPolicyOptions,
  pool: SimPool | null = null,
): Promise<PassResult> {
  const t0 = performance.now();
  const cfg = model.config;
  const T = tokens.length;
  const timing = emptyTiming();
  const st = await timed(timing, () => model.stepper(tokens));
  const nKv = cfg.numKvHeads;
  const groups = Array.from({ length: nKv }, (_, h) => queryHeadsOf(h, cfg.numHeads, nKv));
  const needsAttention = createPolicy(policy, { ...shared, budget }).needsAttention;
  for (let l = 0; l < cfg.numLayers; l++) {
    if (policy === "full") {
      await timed(timing, () => st.attend());
      continue;
    }
    const evict = new Int32Array(nKv * T);
    if (!needsAttention) {
      // streaming / random never read attention: no logits needed.
      for (let kvh = 0; kvh < nKv; kvh++) {
        const s0 = performance.now();
        const r = runPolicy(createPolicy(policy, { ...shared, budget }), T, () => {}, l * nKv + kvh);
        timing.simMs += performance.now() - s0;
        timing.evictions += r.evictions;
        evict.set(r.evict, kvh * T);
      }
      applySlidingWindow(evict, T, cfg.slidingWindow);
      await timed(timing, () => st.attend(evict));
      continue;
    }
    let next = groupScores(st, groups[0]);
    const sims: Promise<void>[] = [];
    const collect = (kvh: number, r: SimulationResult) => {
      timing.rowMs += r.rowMs;
      timing.simMs += r.totalMs;
      timing.refreshMs += r.policy.refreshMs;
      timing.refreshes += r.policy.refreshes;
      timing.iterations += r.policy.iterations;
      timing.evictions += r.evictions;
      evict.set(r.evict, kvh * T);
    };
    for (let kvh = 0; kvh < nKv; kvh++) {
      const logits = await timed(timing, () => next);
      if (kvh + 1 < nKv) {
        next = groupScores(st, groups[kvh + 1]);
        // Let the request reach the model's threads before the (synchronous) simulation runs.
        await new Promise((r) => setImmediate(r));
      }
      const opts = { ...shared, budget };
      if (pool) sims.push(pool.run(policy, opts, logits, T, l * nKv + kvh).then((r) => collect(kvh, r)));
      else collect(kvh, simulateInProcess(policy, opts, logits, T, l * nKv + kvh));
    }
    await Promise.all(sims);
    applySlidingWindow(evict, T, cfg.slidingWindow);
    await timed(timing, () => st.attend(evict));
  }
  const { nll } = await timed(timing, () => st.finish());
  timing.wallMs = performance.now() - t0;
  return { nll, timing };
}

/**
 * The retrospective oracle's decisions: plan.get(policy).get(budget).layers[l] is the eviction
 * vector Int32Array [numKvHeads, T] of layer l; `evictions` counts the keys each plan hides from
 * some later query (over all layers and heads).
 */
export type RetrospectivePlan = Map<string, Map<number, { layers: Int32Array[]; evictions: number }>>;

/**
 * Retrospective oracle, scoring pass (uses FUTURE information): one full-cache pass over the window;
 * at each layer every policy scores every token from the full attention of the whole window (per KV
 * head, group heads summed), and each budget gets one static keep-set per head (plus sinks and the
 * per-query local window). Returns the eviction vectors for `retrospectivePass` and the timing.
 */
export async function retrospectiveScoring(
  model: LoadedModel,
  tokens: Int32Array,
  policies: string[],
  budgets: number[],
  shared: SharedPolicyOptions,
): Promise<{ plan: RetrospectivePlan; timing: PassTiming }> {
  const t0 = performance.now();
  const cfg = model.config;
  const T = tokens.length;
  const timing = emptyTiming();
  const nKv = cfg.numKvHeads;
  const ranked = policies.filter((p) => p !== "full");
  const plan: RetrospectivePlan = new Map(ranked.map((p) => [p, new Map(budgets.map((b) => [b, { layers: [] as Int32Array[], evictions: 0 }]))]));
  const st = await timed(timing, () => model.stepper(tokens));
  for (let l = 0; l < cfg.numLayers; l++) {
    const layerEvict = new Map(ranked.map((p) => [p, new Map(budgets.map((b) => [b, new Int32Array(nKv * T)]))]));
    for (let kvh = 0; kvh < nKv; kvh++) {
      const logits = await timed(timing, () => groupScores(st, queryHeadsOf(kvh, cfg.numHeads, nKv)));
      const s0 = performance.now();
      const scorers = ranked.map((p) => createPolicy(p, { ...shared, budget: T }));
      const scores = retrospectiveScores(scorers, T, blockedLogitsRowSource(logits, T), l * nKv + kvh);
      ranked.forEach((p, i) => {
        timing.refreshMs += scorers[i].stats().refreshMs;
        timing.refreshes += scorers[i].stats().refreshes;
        for (const b of budgets) {
          const sized = createPolicy(p, { ...shared, budget: b });
          sized.begin({ length: T });
          const ev = staticKeepSet(scores[i], sized.budget, sized.sinks, sized.window);
          let n = 0;
          for (let j = 0; j < T; j++) if (ev[j] < T) n++;
          timing.evictions += n;
          at(at(plan, p), b).evictions += n;
          at(at(layerEvict, p), b).set(ev, kvh * T);
        }
      });
      timing.simMs += performance.now() - s0;
    }
    for (const p of ranked) {
      for (const b of budgets) {
        const ev = at(at(layerEvict, p), b);
        applySlidingWindow(ev, T, cfg.slidingWindow);
        at(at(plan, p), b).layers.push(ev);
      }
    }
    await timed(timing, () => st.attend());
  }
  await timed(timing, () => st.finish());
  timing.wallMs = performance.now() - t0;
  return { plan, timing };
}

/** Retrospective oracle, evaluation pass: attend every layer with precomputed eviction vectors. */
export async function retrospectivePass(model: LoadedModel, tokens: Int32Array, evictByLayer: Int32Array[] | null): Promise<PassResult> {
  const t0 = performance.now();
  const timing = emptyTiming();
  const st = await timed(timing, () => model.stepper(tokens));
  for (let l = 0; l < model.config.numLayers; l++) {
    const ev = evictByLayer?.[l];
    await timed(timing, () => (ev ? st.attend(ev) : st.attend()));
  }
  const { nll } = await timed(timing, () => st.finish());
  timing.wallMs = performance.now() - t0;
  return { nll, timing };
}

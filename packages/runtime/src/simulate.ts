import { expectInt, InvalidArgumentError } from "@kvwalk/core";
import { expRow, FAST_EXP_MIN } from "./policies/exp-kernel.js";
import { CacheState, type EvictionPolicy, type PolicyStats } from "./policies/policy.js";

/** Result of simulating one policy on one (layer, KV head). */
export interface SimulationResult {
  /** Int32Array [T]: key j is visible to query t iff j <= t < evict[j]; T = never evicted. */
  evict: Int32Array;
  /** Tokens evicted during the run. */
  evictions: number;
  /** Step of the first eviction (T if none): queries t >= this saw a full cache. */
  firstEviction: number;
  /** Milliseconds computing attention rows (softmax over cached keys). */
  rowMs: number;
  /** Milliseconds of the whole run (rows + policy). */
  totalMs: number;
  /** The policy's own counters (PageRank refreshes and their time). */
  policy: PolicyStats;
}

/**
 * Fills out[i] (i < cache.size) with query t's attention on key cache.tokens[i]. Called once per
 * step, after evictions, only for policies with `needsAttention`.
 */
export type RowSource = (t: number, cache: CacheState, out: Float64Array) => void;

/**
 * Drives `policy` through the causal timeline (see EvictionPolicy) for a sequence of `length`
 * tokens: append t, evict while over budget (eviction time t), then hand query t's row to the policy.
 */
export function runPolicy(policy: EvictionPolicy, length: number, row: RowSource, streamId = 0): SimulationResult {
  expectInt("length", length, 1);
  const t0 = performance.now();
  policy.begin({ length, streamId });
  const budget = policy.budget;
  const evict = new Int32Array(length).fill(length);
  if (budget >= length) {
    policy.end?.();
    return { evict, evictions: 0, firstEviction: length, rowMs: 0, totalMs: performance.now() - t0, policy: policy.stats() };
  }
  const cache = new CacheState(Math.min(length, budget + 1));
  const probs = new Float64Array(Math.min(length, budget + 1));
  let evictions = 0;
  let firstEviction = length;
  let rowMs = 0;
  for (let t = 0; t < length; t++) {
    cache.append(t);
    while (cache.size > budget) {
      const victim = policy.selectVictim(t, cache);
      if (victim < policy.sinks || victim > t - policy.window) {
        throw new InvalidArgumentError(`${policy.name}.selectVictim`, `an unprotected position at step ${t}`, victim);
      }
      cache.remove(victim);
      evict[victim] = t;
      evictions++;
      if (firstEviction === length) firstEviction = t;
    }
    if (policy.needsAttention) {
      const r0 = performance.now();
      row(t, cache, probs);
      rowMs += performance.now() - r0;
      policy.observe(t, cache, probs);
    }
  }
  policy.end?.();
  return { evict, evictions, firstEviction, rowMs, totalMs: performance.now() - t0, policy: policy.stats() };
}

/**
 * Scaled logits of one query head in causal row blocks (the layout of @kvwalk/model's ScoreBlocks):
 * rows t in [bounds[i], bounds[i+1]) live in `blocks[i]`, a row-major Float32Array
 * [bounds[i+1] - bounds[i], stride_i] with stride_i = bounds[i+1]; entry (t, j) is at
 * (t - bounds[i]) * stride_i + j and only j <= t is read. A dense [T, T] matrix is one block.
 */
export interface LogitBlocks {
  /** Int32Array [blocks + 1], 0 = bounds[0] < ... < bounds[blocks] = T. */
  bounds: Int32Array;
  blocks: Float32Array[];
}

function checkBlocks(heads: LogitBlocks[], length: number): void {
  if (!Array.isArray(heads) || heads.length === 0) throw new InvalidArgumentError("logits", "a non-empty array of logit blocks", heads);
  heads.forEach((h, k) => {
    const b = h?.bounds;
    if (!(b instanceof Int32Array) || b.length < 2 || b[0] !== 0 || b[b.length - 1] !== length || !Array.isArray(h.blocks) || h.blocks.length !== b.length - 1) {
      throw new InvalidArgumentError(`logits[${k}].bounds`, `Int32Array 0 = b_0 < ... < b_n = ${length} with one block per interval`, b);
    }
    for (let i = 0; i + 1 < b.length; i++) {
      const need = (b[i + 1] - b[i]) * b[i + 1];
      const blk = h.blocks[i];
      if (!(b[i + 1] > b[i]) || !(blk instanceof Float32Array) || blk.length < need) {
        throw new InvalidArgumentError(`logits[${k}].blocks[${i}]`, `Float32Array of length ${need} ([rows ${b[i]}..${b[i + 1]}), keys [0, ${b[i + 1]}))`, blk);
      }
    }
  });
}

/** How rows are exponentiated: "fast" (default) the WebAssembly SIMD exp, "exact" Math.exp. */
export type RowExp = "fast" | "exact";

/**
 * Row source from scaled logits in causal blocks (LogitBlocks, one per query head of the group):
 * for each query head, softmax of logits[t, j] over the cached keys j only (float64), and the
 * probabilities summed over the heads (rows sum to the group size).
 *
 * `exp: "fast"` (default) exponentiates and sums with the WebAssembly SIMD kernel of exp-kernel.ts
 * (each exp within 1 ulp of Math.exp, the sum in four partial sums; same max and scaling), about 2.5x
 * faster than Math.exp, which was two thirds of the row cost; rows whose logits span more than 700
 * (exp below 1e-304) use Math.exp. The probabilities then differ from the "exact" ones by rounding only (~1e-16
 * relative), so an eviction can change only where two candidates' scores tie to that precision:
 * none did on a real WikiText window (all 48 heads, every policy and budget; see the oracle README).
 */
export function blockedLogitsRowSource(heads: LogitBlocks[], length: number, opts: { exp?: RowExp } = {}): RowSource {
  checkBlocks(heads, length);
  const fast = (opts.exp ?? "fast") === "fast";
  const G = heads.length;
  // Per head, the block of the current row (rows arrive in increasing t, so a cursor suffices).
  const blockOf = new Int32Array(G);
  let tmp = new Float64Array(0);
  return (t, cache, out) => {
    const n = cache.size;
    const tokens = cache.tokens;
    const er = fast ? expRow(n) : null;
    if (!er && tmp.length < n) tmp = new Float64Array(Math.max(n, 2 * tmp.length));
    const x = er ? er.x : tmp;
    for (let h = 0; h < G; h++) {
      const { bounds, blocks } = heads[h];
      let bi = blockOf[h];
      if (t < bounds[bi]) bi = 0;
      while (t >= bounds[bi + 1]) bi++;
      blockOf[h] = bi;
      const l = blocks[bi];
      const base = (t - bounds[bi]) * bounds[bi + 1];
      let m = Number.NEGATIVE_INFINITY;
      let lo = Number.POSITIVE_INFINITY;
      for (let i = 0; i < n; i++) {
        const v = l[base + tokens[i]];
        x[i] = v;
        if (v > m) m = v;
        if (v < lo) lo = v;
      }
      if (m === Number.NEGATIVE_INFINITY) {
        if (h === 0) out.fill(0, 0, n);
        continue;
      }
      let s = 0;
      if (er && lo - m >= FAST_EXP_MIN) {
        s = er.exp(n, m);
      } else {
        for (let i = 0; i < n; i++) {
          const e = Math.exp(x[i] - m);
          x[i] = e;
          s += e;
        }
      }
      const inv = 1 / s;
      // 0 + p === p for the (non-negative) probabilities, so the first head writes directly.
      if (h === 0) for (let i = 0; i < n; i++) out[i] = x[i] * inv;
      else for (let i = 0; i < n; i++) out[i] += x[i] * inv;
    }
  };
}

/**
 * Row source from scaled logits: for each query head of the group, softmax of logits[t, j] over
 * the cached keys j only, and the probabilities summed over the heads (rows sum to the group size).
 * `logits`: one Float32Array [T, T] per query head, row-major, row t = query t. `exp` as in
 * blockedLogitsRowSource.
 */
export function logitsRowSource(logits: Float32Array[], length: number, opts: { exp?: RowExp } = {}): RowSource {
  if (!Array.isArray(logits) || logits.length === 0) throw new InvalidArgumentError("logits", "a non-empty array of [T, T] Float32Arrays", logits);
  logits.forEach((l, h) => {
    if (!(l instanceof Float32Array) || l.length !== length * length) {
      throw new InvalidArgumentError(`logits[${h}]`, `Float32Array of length ${length * length} ([T, T], T = ${length})`, l);
    }
  });
  return blockedLogitsRowSource(
    logits.map((l) => ({ bounds: Int32Array.of(0, length), blocks: [l] })),
    length,
    opts,
  );
}

/**
 * The causal simulation of one (layer, KV head): `policy` over the T steps on the scaled q.k logits
 * of the group's query heads (one [T, T] Float32Array each). Query t sees exactly what a real cache
 * of `policy.budget` slots would hold at step t. `opts.exp`: how rows are exponentiated (see
 * blockedLogitsRowSource; default "fast").
 */
export function simulateHead(
  policy: EvictionPolicy,
  logits: Float32Array[] | LogitBlocks[],
  length: number,
  streamId = 0,
  opts: { exp?: RowExp } = {},
): SimulationResult {
  const row =
    logits.length > 0 && logits[0] instanceof Float32Array ? logitsRowSource(logits as Float32Array[], length, opts) : blockedLogitsRowSource(logits as LogitBlocks[], length, opts);
  return runPolicy(policy, length, row, streamId);
}

/**
 * Retrospective oracle, step 1: every policy scores every token from the full causal attention of
 * the whole window (all T rows over all earlier keys, no eviction; each row computed once and shown
 * to every policy). Returns each policy's final scores (Float64Array [T], higher = keep).
 * Uses FUTURE information: a key's score includes queries after it.
 */
export function retrospectiveScores(policies: EvictionPolicy[], length: number, row: RowSource, streamId = 0): Float64Array[] {
  expectInt("length", length, 1);
  for (const p of policies) p.begin({ length, streamId });
  const cache = new CacheState(length);
  const probs = new Float64Array(length);
  const needRows = policies.some((p) => p.needsAttention);
  for (let t = 0; t < length; t++) {
    cache.append(t);
    if (!needRows) continue;
    row(t, cache, probs);
    for (const p of policies) if (p.needsAttention) p.observe(t, cache, probs);
  }
  const scores = policies.map((p) => p.finalScores(length, cache).slice());
  for (const p of policies) p.end?.();
  return scores;
}

/**
 * Retrospective oracle, step 2: one static keep-set K of the budget - sinks - window best-scored
 * non-sink tokens (NaN scores lowest; ties: the later token). Query t sees the sinks, K and its own
 * local window t-window+1..t, so never more than `budget` keys: evict[j] = T for sinks and K, else
 * min(T, j + window). Returns the eviction-time vector [T].
 */
export function staticKeepSet(scores: Float64Array, budget: number, sinks: number, window: number): Int32Array {
  const length = scores.length;
  const evict = new Int32Array(length).fill(length);
  if (budget >= length) return evict;
  const keepCount = Math.max(0, budget - sinks - window);
  const order: number[] = [];
  for (let j = sinks; j < length; j++) order.push(j);
  const key = (j: number): number => (Number.isNaN(scores[j]) ? Number.NEGATIVE_INFINITY : scores[j]);
  order.sort((a, b) => key(b) - key(a) || b - a);
  const keep = new Uint8Array(length);
  for (let i = 0; i < keepCount && i < order.length; i++) keep[order[i]] = 1;
  for (let j = sinks; j < length; j++) if (!keep[j]) evict[j] = Math.min(length, j + window);
  return evict;
}

/**
 * The retrospective oracle for one policy (the original design's literal Phase 1; uses FUTURE
 * information): retrospectiveScores, then staticKeepSet with the policy's budget and protected set.
 */
export function retrospectiveEvict(policy: EvictionPolicy, length: number, row: RowSource, streamId = 0): SimulationResult {
  const t0 = performance.now();
  policy.begin({ length, streamId });
  if (policy.budget >= length) {
    policy.end?.();
    return { evict: new Int32Array(length).fill(length), evictions: 0, firstEviction: length, rowMs: 0, totalMs: performance.now() - t0, policy: policy.stats() };
  }
  const [scores] = retrospectiveScores([policy], length, row, streamId);
  const evict = staticKeepSet(scores, policy.budget, policy.sinks, policy.window);
  let evictions = 0;
  let firstEviction = length;
  for (let j = 0; j < length; j++) {
    if (evict[j] < length) {
      evictions++;
      if (evict[j] < firstEviction) firstEviction = evict[j];
    }
  }
  return { evict, evictions, firstEviction, rowMs: 0, totalMs: performance.now() - t0, policy: policy.stats() };
}

/** Query heads attached to KV head `kvHead` under grouped-query attention (HF layout: head h uses KV head floor(h / G)). */
export function queryHeadsOf(kvHead: number, numHeads: number, numKvHeads: number): number[] {
  expectInt("numKvHeads", numKvHeads, 1);
  expectInt("numHeads", numHeads, numKvHeads);
  if (numHeads % numKvHeads !== 0) throw new InvalidArgumentError("numHeads", `a multiple of numKvHeads (${numKvHeads})`, numHeads);
  expectInt("kvHead", kvHead, 0, numKvHeads - 1);
  const g = numHeads / numKvHeads;
  return Array.from({ length: g }, (_, i) => kvHead * g + i);
}

/** Visible-key count of each query under an eviction vector ([T]); for checks and reports. */
export function visibleCounts(evict: Int32Array): Int32Array {
  const T = evict.length;
  const diff = new Int32Array(T + 1);
  for (let j = 0; j < T; j++) {
    const end = Math.min(T, evict[j]);
    if (end > j) {
      diff[j]++;
      diff[end]--;
    }
  }
  const out = new Int32Array(T);
  let c = 0;
  for (let t = 0; t < T; t++) {
    c += diff[t];
    out[t] = c;
  }
  return out;
}

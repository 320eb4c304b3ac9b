/**
 * Pure-TypeScript twin of prompt scoring, launch_prefill_score (native/kernels/prefill_score.cuh,
 * contract in native/src/evict_launchers.h): for one sequence of T prompt rows and one layer, what
 * decode steps over rows 0..T-1 would have written into the engine's eviction state.
 *
 * Row t of query head h (KV head h / (H / KVH)) sees key j iff j <= t and (window <= 0 or
 * t - j < window). Logits s = (q . k) * scale in f64 from the f32 q (optionally rounded to bf16 first,
 * as the kernel's tensor cores see it) and the bf16 keys; lse = m + log(sum exp(s - m)).
 *   graph node t of head h (graphGroup 1, the default: a graph per query head): the top-4 logits of
 *     row t (NaN and -inf skipped, ties -> lower key index), p = f32(exp(s - lse)), written with
 *     @kvwalk/graph-cache's writeNormalizedTop4 (drop p <= 0, divide by the f32 sum) -- operation for
 *     operation what decodeAttentionReference writes for that row;
 *   graph node t of KV head kvh (graphGroup H / KVH > 1: a graph per KV head): the group-summed
 *     probability v[t, j] = f32(f32(f32(0 + p_g0) + p_g1) + ...) over the group's query heads in
 *     increasing head order, p_g = f32(exp(s_g - lse_g)) as above; the top-4 keys by v scanned in
 *     increasing key order (only v > 0, not NaN; ties -> lower key index), written with
 *     writeNormalizedTop4 with p := v -- the kernel's f32 operations, where the kernel rounds;
 *   h2o[kvh][j] = sum over rows t >= j and the group's heads h of decay^(T-1-t) exp(s - lse) (f64,
 *     rounded to f32 once): launch_attention_mass mode 0 applied after every row from zero scores
 *     (decay 0 keeps the last row only, as its "decay 0 replaces" rule does);
 *   tova[kvh][j] = the last row's probabilities summed over the group (mode 1 after row T-1).
 * Keys a row cannot see contribute 0. The kernel computes in f32 from bf16 q (prefill-score-cases.ts
 * states the tolerance).
 */
import { expectInt, expectNumber, InvalidArgumentError } from "@kvwalk/core";
import { pushTop4, writeNormalizedTop4 } from "@kvwalk/graph-cache";
import { bf16ToF32, f32ToBf16, type PrefillAttentionInput } from "./reference.js";

/** The prompt's rotated queries and the region's K of one layer: the prefill attention's inputs without V. */
export type PromptLogitsInput = Omit<PrefillAttentionInput, "v">;

export interface PrefillScoreInput extends PromptLogitsInput {
  /** H2O decay per step, in [0, 1]; default 1 */
  decay?: number;
  /** Round q to bf16 (round to nearest even) before the dot products, as the kernel does. Default false (the decode path's f32 q). */
  roundQ?: boolean;
  /**
   * Query heads per graph: 1 (default) = a graph per query head (H graphs); H / KVH = a graph per KV
   * head (KVH graphs over the group-summed probabilities). Any other value is rejected.
   */
  graphGroup?: number;
}

export interface PrefillScoreResult {
  /** f32 [T, H]: natural-log log-sum-exp of each row's logits */
  lse: Float32Array;
  /**
   * int [graphs, T, 4] (graphs = H / graphGroup: H query heads, or KVH KV heads): node t of graph g at
   * (g * T + t) * 4, key indices (-1 unused)
   */
  indices: Int32Array;
  /** f32 [graphs, T, 4]: the matching weights (0 unused) */
  weights: Float32Array;
  /** f32 [KVH, T]: H2O attention mass after the prompt */
  h2o: Float32Array;
  /** f32 [KVH, T]: TOVA scores (the last row's attention) */
  tova: Float32Array;
}

const TOP_K = 4;

/** Validates a PrefillScoreInput (shared by the twin and the GPU cases). */
export function validatePrefillScoreInput(input: PrefillScoreInput): void {
  if (input == null || typeof input !== "object") throw new InvalidArgumentError("input", "a PrefillScoreInput object", input);
  const capacity = expectInt("capacity", input.capacity, 1, 2 ** 24);
  const T = expectInt("T", input.T, 0, capacity);
  const H = expectInt("H", input.H, 1, 4096);
  const KVH = expectInt("KVH", input.KVH, 1, H);
  if (H % KVH !== 0) throw new InvalidArgumentError("KVH", `a divisor of H = ${H}`, KVH);
  const D = expectInt("D", input.D, 1, 1024);
  expectInt("window", input.window, 0, 2 ** 30);
  expectNumber("scale", input.scale);
  if (input.decay !== undefined) expectNumber("decay", input.decay, 0, 1);
  if (input.graphGroup !== undefined) {
    const gg = expectInt("graphGroup", input.graphGroup, 1, H);
    if (gg !== 1 && gg !== H / KVH) throw new InvalidArgumentError("graphGroup", `1 (a graph per query head) or H / KVH = ${H / KVH} (a graph per KV head)`, gg);
  }
  if (!(input.q instanceof Float32Array) || input.q.length !== T * H * D) {
    throw new InvalidArgumentError("q", `Float32Array of length ${T * H * D} [T, H, D]`, input.q);
  }
  if (!(input.k instanceof Uint16Array) || input.k.length !== KVH * capacity * D) {
    throw new InvalidArgumentError("k", `Uint16Array (bf16) of length ${KVH * capacity * D} [KVH, capacity, D]`, input.k);
  }
}

/**
 * Logits of row t of query head h over its visible keys lo..t into `logits` (the decode twin's order:
 * dot in f64 over x, then the scale) and the row's log-sum-exp (max over non-NaN logits; NaN if any
 * logit is NaN).
 */
function rowLogits(q: Float32Array, kf: Float32Array, input: PrefillScoreInput, h: number, t: number, logits: Float64Array): number {
  const { H, KVH, D, capacity, window, scale } = input;
  const kvBase = Math.floor(h / (H / KVH)) * capacity * D;
  const lo = window > 0 ? Math.max(0, t - window + 1) : 0;
  const qBase = (t * H + h) * D;
  let m = Number.NEGATIVE_INFINITY;
  let anyNaN = false;
  for (let j = lo; j <= t; j++) {
    let s = 0;
    const kb = kvBase + j * D;
    for (let x = 0; x < D; x++) s += q[qBase + x] * kf[kb + x];
    s *= scale;
    logits[j] = s;
    if (Number.isNaN(s)) anyNaN = true;
    else if (s > m) m = s;
  }
  let l = 0;
  for (let j = lo; j <= t; j++) l += Math.exp(logits[j] - m);
  return anyNaN ? Number.NaN : m + Math.log(l);
}

/** The twin (see the module comment). */
export function prefillScoreReference(input: PrefillScoreInput): PrefillScoreResult {
  validatePrefillScoreInput(input);
  const { T, H, KVH, D, capacity, window } = input;
  const decay = input.decay ?? 1;
  const group = H / KVH;
  const graphGroup = input.graphGroup ?? 1;
  // bf16 -> f32 is exact: widen K once (as decodeAttentionReference does).
  const kf = new Float32Array(KVH * capacity * D);
  for (let i = 0; i < kf.length; i++) kf[i] = bf16ToF32(input.k[i]);
  const q = input.roundQ ? input.q.map((x) => bf16ToF32(f32ToBf16(x))) : input.q;
  const graphs = H / graphGroup;
  const lseOut = new Float32Array(T * H);
  const lse64 = new Float64Array(T * H);
  const indices = new Int32Array(graphs * T * TOP_K).fill(-1);
  const weights = new Float32Array(graphs * T * TOP_K);
  const h2o = new Float64Array(KVH * T);
  const tova = new Float64Array(KVH * T);
  const logits = new Float64Array(T);
  const topIdx = [0, 0, 0, 0];
  const topVal = [0, 0, 0, 0];
  for (let h = 0; h < H; h++) {
    const kvh = Math.floor(h / group);
    for (let t = 0; t < T; t++) {
      const lo = window > 0 ? Math.max(0, t - window + 1) : 0;
      const lse = rowLogits(q, kf, input, h, t, logits);
      lseOut[t * H + h] = lse;
      lse64[t * H + h] = lse;
      if (graphGroup === 1) {
        // top-4 by logit, scanning keys in increasing order (strict >: the lower key wins a tie)
        let count = 0;
        for (let j = lo; j <= t; j++) {
          const s = logits[j];
          if (!(s > Number.NEGATIVE_INFINITY)) continue;
          count = pushTop4(topVal, topIdx, count, s, j);
        }
        const probs = topVal.map((s) => Math.fround(Math.exp(s - lse)));
        writeNormalizedTop4(topIdx, probs, count, indices, weights, (h * T + t) * TOP_K);
      }
      // attention mass: decay^(T-1-t) (0^0 = 1: with decay 0 only the last row counts)
      const w = decay ** (T - 1 - t);
      for (let j = lo; j <= t; j++) {
        const p = Math.exp(logits[j] - lse);
        if (w !== 0) h2o[kvh * T + j] += w * p;
        if (t === T - 1) tova[kvh * T + j] += p;
      }
    }
  }
  if (graphGroup > 1) {
    // a graph per KV head: v = the group's f32 probabilities summed in f32, in head order from 0
    const v = new Float64Array(T);
    for (let kvh = 0; kvh < KVH; kvh++) {
      for (let t = 0; t < T; t++) {
        const lo = window > 0 ? Math.max(0, t - window + 1) : 0;
        v.fill(0, lo, t + 1);
        for (let g = 0; g < group; g++) {
          const h = kvh * group + g;
          rowLogits(q, kf, input, h, t, logits);
          const lse = lse64[t * H + h];
          for (let j = lo; j <= t; j++) v[j] = Math.fround(v[j] + Math.fround(Math.exp(logits[j] - lse)));
        }
        let count = 0;
        for (let j = lo; j <= t; j++) if (v[j] > 0) count = pushTop4(topVal, topIdx, count, v[j], j);
        writeNormalizedTop4(topIdx, topVal, count, indices, weights, (kvh * T + t) * TOP_K);
      }
    }
  }
  return { lse: lseOut, indices, weights, h2o: Float32Array.from(h2o), tova: Float32Array.from(tova) };
}

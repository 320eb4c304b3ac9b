/**
 * Pure-TypeScript twins of the engine's live-eviction launchers (native/src/evict_launchers.h, kernels
 * in native/kernels/evict.cuh): attention-mass scores (H2O / TOVA), walker counts -> scores, selection +
 * stable compaction of one region's KV rows, and the graph-cache remap.
 *
 * Engine layouts (R = regions, C = capacity in slots, G = H / KVH query heads per KV head):
 *   KV cache     bf16 [L][2 (K, V)][R][KVH][C][D]   (Uint16Array bit patterns)
 *   scores       f32  [L][R][KVH][C]
 *   graph cache  [L][R][H][C] nodes of 8 int32: 4 neighbour slots (-1 invalid), then the 4 float32
 *                weights as their bit patterns (the device's 32-byte AoS node)
 *   counts       u32  [L][R][H][C]
 *   remap        int  [L][KVH][C]  old slot -> new slot, -1 when evicted or >= len
 *
 * Exactness: selection, compaction, counts -> scores and the graph remap are exact programs (the CUDA
 * results must be bit-identical). The attention mass is computed here in f64 from the same bf16 K and
 * f32 q, then rounded once to f32 (the kernel works in f32; see evict-cases.ts for the tolerance).
 */
import { expectInt, InvalidArgumentError } from "@kvwalk/core";
import { bf16ToF32 } from "./reference.js";

/** int32 per graph node in the AoS transfer format (4 neighbours + 4 weight bit patterns). */
export const GRAPH_NODE_INTS = 8;

const f32buf = new Float32Array(1);
const u32buf = new Uint32Array(f32buf.buffer);
const i32buf = new Int32Array(f32buf.buffer);

/**
 * The selection order key of a score: an unsigned integer (0 .. 2^32 - 1) ordered like the float32
 * value, with every NaN below -Infinity (key 0) and -0 equal to +0. Candidates are ranked by (key,
 * slot), both descending: ties go to the more recent slot.
 */
export function scoreKey(x: number): number {
  if (Number.isNaN(x)) return 0;
  f32buf[0] = x === 0 ? 0 : x;
  const u = u32buf[0];
  return u & 0x80000000 ? ~u >>> 0 : (u | 0x80000000) >>> 0;
}

/** The rule's parameters for one sequence (identical in every (layer, KV head) row). */
export interface SelectRule {
  /** occupied slots 0 .. len-1 */
  len: number;
  /** slots to keep */
  budget: number;
  /** attention sinks: slots [0, min(sinks, len)) are protected */
  sinks: number;
  /** recent window: slots [max(0, len - recent), len) are protected */
  recent: number;
}

/**
 * Which of the `len` slots one row keeps -> Uint8Array [len] (1 = keep). scores: the row's scores
 * (at least `len` values) or null for StreamingLLM (rank by slot). The rule of launch_select_compact:
 *   protected = [0, min(sinks, len)) and [max(0, len - recent), len);
 *   budget >= len: keep everything;
 *   protected alone more than budget: keep sinks first (up to budget), then the most recent slots;
 *   otherwise: protected plus the (budget - |protected|) best other slots by (scoreKey, slot) descending.
 * The number kept is min(budget, len).
 */
export function selectKeep(scores: ArrayLike<number> | null, rule: SelectRule): Uint8Array {
  const { len, budget } = rule;
  const keep = new Uint8Array(len);
  const s = Math.min(Math.max(rule.sinks, 0), len);
  const hi = Math.max(s, len - Math.max(rule.recent, 0));
  const np = s + (len - hi);
  const m = budget - np;
  if (budget >= len) {
    keep.fill(1);
    return keep;
  }
  if (m <= 0) {
    const sKeep = Math.min(s, Math.max(budget, 0));
    const rFrom = len - (Math.max(budget, 0) - sKeep);
    for (let j = 0; j < len; j++) keep[j] = j < sKeep || j >= rFrom ? 1 : 0;
    return keep;
  }
  for (let j = 0; j < s; j++) keep[j] = 1;
  for (let j = hi; j < len; j++) keep[j] = 1;
  const cand: number[] = [];
  for (let j = s; j < hi; j++) cand.push(j);
  const key = (j: number) => (scores ? scoreKey(scores[j]) : 0);
  const keys = new Map<number, number>(cand.map((j) => [j, key(j)]));
  cand.sort((a, b) => (keys.get(b) as number) - (keys.get(a) as number) || b - a);
  for (let i = 0; i < m; i++) keep[cand[i]] = 1;
  return keep;
}

/** Stable remap of one row: Int32Array [C], kept slot j -> number of kept slots before it, else -1. */
export function remapFromKeep(keep: Uint8Array, C: number): [Int32Array, number] {
  const remap = new Int32Array(C).fill(-1);
  let next = 0;
  for (let j = 0; j < keep.length; j++) if (keep[j]) remap[j] = next++;
  return [remap, next];
}

export interface SelectCompactInput extends SelectRule {
  /** f32 [L][R][KVH][C] or null (streaming; no scores are moved) */
  scores: Float32Array | null;
  /** bf16 bits [L][2][R][KVH][C][D] */
  kv: Uint16Array;
  L: number;
  R: number;
  KVH: number;
  C: number;
  D: number;
  /** the region (sequence) compacted; the others are left untouched */
  region: number;
}

export interface SelectCompactResult {
  /** f32 [L][R][KVH][C] (a copy), or null when the input was null */
  scores: Float32Array | null;
  /** bf16 bits [L][2][R][KVH][C][D] (a copy) */
  kv: Uint16Array;
  /** int [L][KVH][C] */
  remap: Int32Array;
  /** int [L * KVH] kept count per row */
  kept: Int32Array;
}

function checkDims(d: Record<string, number>): void {
  for (const [k, v] of Object.entries(d)) expectInt(k, v, 0);
}

/**
 * Twin of launch_select_compact: per (layer, KV head) row of `region`, selectKeep, then the kept K and
 * V rows move to slots 0..kept-1 in increasing slot order, their scores move with them, scores of the
 * freed tail [kept, len) become 0; the rest of the row (slots >= len of K/V; evicted K/V rows below
 * len that are not overwritten) keeps its old contents, exactly as the in-place kernel leaves them.
 */
export function selectCompactReference(input: SelectCompactInput): SelectCompactResult {
  const { L, R, KVH, C, D, region, len } = input;
  checkDims({ L, R, KVH, C, D, region, len, budget: input.budget, sinks: input.sinks, recent: input.recent });
  if (region >= R) throw new InvalidArgumentError("region", `an integer in [0, ${R - 1}]`, region);
  if (len > C) throw new InvalidArgumentError("len", `an integer in [0, ${C}] (C)`, len);
  if (input.kv.length !== L * 2 * R * KVH * C * D) throw new InvalidArgumentError("kv", `Uint16Array of length ${L * 2 * R * KVH * C * D}`, input.kv);
  if (input.scores && input.scores.length !== L * R * KVH * C) {
    throw new InvalidArgumentError("scores", `Float32Array of length ${L * R * KVH * C} or null`, input.scores);
  }
  const kv = input.kv.slice();
  const scores = input.scores ? input.scores.slice() : null;
  const scoreBits = scores ? new Uint32Array(scores.buffer, scores.byteOffset, scores.length) : null;
  const remap = new Int32Array(L * KVH * C);
  const kept = new Int32Array(L * KVH);
  for (let l = 0; l < L; l++) {
    for (let h = 0; h < KVH; h++) {
      const srow = ((l * R + region) * KVH + h) * C;
      const keep = selectKeep(scores ? scores.subarray(srow, srow + C) : null, input);
      const [rm, n] = remapFromKeep(keep, C);
      remap.set(rm, (l * KVH + h) * C);
      kept[l * KVH + h] = n;
      for (const t of [0, 1]) {
        const base = (((l * 2 + t) * R + region) * KVH + h) * C * D;
        for (let j = 0; j < len; j++) {
          if (rm[j] >= 0 && rm[j] !== j) kv.copyWithin(base + rm[j] * D, base + j * D, base + (j + 1) * D);
        }
      }
      if (scoreBits) {
        // moved as bit patterns (a NaN keeps its payload, as the kernel's plain loads and stores do)
        for (let j = 0; j < len; j++) if (rm[j] >= 0) scoreBits[srow + rm[j]] = scoreBits[srow + j];
        for (let j = n; j < len; j++) scoreBits[srow + j] = 0;
      }
    }
  }
  return { scores, kv, remap, kept };
}

export interface AttentionMassInput {
  /** f32 [B][H][D] (rotated queries of this decode step) */
  q: Float32Array;
  /** bf16 bits [R][KVH][C][D]: the layer's K cache (batch b = region b) */
  k: Uint16Array;
  /** f32 [B][H], natural-log log-sum-exp of each query's logits */
  lse: Float32Array;
  /** int [B], keys 0..len-1 */
  lengths: Int32Array;
  /** int [B] or null: keys below start get mass 0 */
  starts: Int32Array | null;
  B: number;
  R: number;
  H: number;
  KVH: number;
  D: number;
  C: number;
  scale: number;
  /** 0: H2O (s = decay * s + m), 1: TOVA (s = m) */
  mode: 0 | 1;
  decay: number;
  /** f32 [R][KVH][C] initial scores (the layer's slice) */
  scores: Float32Array;
}

/**
 * Twin of launch_attention_mass -> new scores f32 [R][KVH][C]:
 *   p(b, h, j) = exp(q[b,h] . k[b, h/G, j] * scale - lse[b,h]);  m(b, kvh, j) = sum over the group of p;
 *   mode 1 or decay 0: s = m; mode 0: s = fl(fl(decay * s) + m). Slots j >= lengths[b] untouched;
 *   j < starts[b]: m = 0. Math in f64 (m rounded to f32 once), the kernel in f32.
 */
export function attentionMassReference(input: AttentionMassInput): Float32Array {
  const { q, k, lse, lengths, starts, B, R, H, KVH, D, C, scale, mode, decay } = input;
  checkDims({ B, R, H, KVH, D, C });
  if (H % KVH !== 0) throw new InvalidArgumentError("KVH", `a divisor of H = ${H}`, KVH);
  if (B > R) throw new InvalidArgumentError("B", `an integer in [0, ${R}] (R)`, B);
  const G = H / KVH;
  const out = input.scores.slice();
  const kf = new Float64Array(D);
  for (let b = 0; b < B; b++) {
    const len = Math.min(lengths[b], C);
    const start = starts ? Math.max(starts[b], 0) : 0;
    for (let kvh = 0; kvh < KVH; kvh++) {
      const row = (b * KVH + kvh) * C;
      for (let j = 0; j < len; j++) {
        let m = 0;
        if (j >= start) {
          for (let d = 0; d < D; d++) kf[d] = bf16ToF32(k[(row + j) * D + d]);
          for (let g = 0; g < G; g++) {
            const h = kvh * G + g;
            let dot = 0;
            for (let d = 0; d < D; d++) dot += q[(b * H + h) * D + d] * kf[d];
            m += Math.exp(dot * scale - lse[b * H + h]);
          }
        }
        const mf = Math.fround(m);
        out[row + j] = mode === 1 || decay === 0 ? mf : Math.fround(Math.fround(Math.fround(decay) * out[row + j]) + mf);
      }
    }
  }
  return out;
}

/**
 * Twin of launch_counts_to_scores (exact): scores[l][r][kvh][j] = fl(fl(decay * s) + c) with c = the
 * group's counts summed exactly and rounded to f32 once; decay 0 replaces (s = c).
 * counts u32 [L][R][H][C], scores f32 [L][R][KVH][C] -> new scores.
 */
export function countsToScoresReference(
  counts: Uint32Array,
  dims: { L: number; R: number; H: number; KVH: number; C: number },
  decay: number,
  scores: Float32Array,
): Float32Array {
  const { L, R, H, KVH, C } = dims;
  checkDims({ L, R, H, KVH, C });
  if (H % KVH !== 0) throw new InvalidArgumentError("KVH", `a divisor of H = ${H}`, KVH);
  const G = H / KVH;
  const out = scores.slice();
  for (let lr = 0; lr < L * R; lr++) {
    for (let kvh = 0; kvh < KVH; kvh++) {
      for (let j = 0; j < C; j++) {
        let sum = 0;
        for (let g = 0; g < G; g++) sum += counts[(lr * H + kvh * G + g) * C + j];
        const c = Math.fround(sum);
        const i = (lr * KVH + kvh) * C + j;
        out[i] = decay === 0 ? c : Math.fround(Math.fround(Math.fround(decay) * out[i]) + c);
      }
    }
  }
  return out;
}

export interface GraphRemapInput {
  /** int32 [L][R][H][C][8]: AoS nodes (4 neighbours, 4 weight bit patterns) */
  graph: Int32Array;
  L: number;
  R: number;
  H: number;
  KVH: number;
  C: number;
  region: number;
  /** int [L][KVH][C] (from select_compact) */
  remap: Int32Array;
  newLen: number;
}

/**
 * Twin of launch_graph_remap -> new graph (same layout), for every layer l and query head h of
 * `region` (KV head h / G): node i moves to remap[i] (dropped when -1 or >= newLen); each neighbour n
 * becomes remap[n] (-1 when evicted or n outside [0, C)), and -1 entries are squeezed out so valid
 * ones come first in their order with their weights unchanged (not renormalized; dropped entries get
 * weight 0) -- exactly @kvwalk/graph-cache's compactGraph. Nodes from newLen on become invalid.
 */
export function graphRemapReference(input: GraphRemapInput): Int32Array {
  const { graph, L, R, H, KVH, C, region, remap, newLen } = input;
  checkDims({ L, R, H, KVH, C, region, newLen });
  if (H % KVH !== 0) throw new InvalidArgumentError("KVH", `a divisor of H = ${H}`, KVH);
  if (graph.length !== L * R * H * C * GRAPH_NODE_INTS) {
    throw new InvalidArgumentError("graph", `Int32Array of length ${L * R * H * C * GRAPH_NODE_INTS}`, graph);
  }
  const G = H / KVH;
  const out = graph.slice();
  for (let l = 0; l < L; l++) {
    for (let h = 0; h < H; h++) {
      const base = ((l * R + region) * H + h) * C * GRAPH_NODE_INTS;
      const rr = (l * KVH + Math.floor(h / G)) * C;
      const src = graph.subarray(base, base + C * GRAPH_NODE_INTS);
      const dst = out.subarray(base, base + C * GRAPH_NODE_INTS);
      for (let i = 0; i < C; i++) {
        dst.fill(-1, i * 8, i * 8 + 4);
        dst.fill(0, i * 8 + 4, i * 8 + 8);
      }
      for (let i = 0; i < C; i++) {
        const to = remap[rr + i];
        if (to < 0 || to >= newLen) continue;
        let w = 0;
        for (let s = 0; s < 4; s++) {
          const n = src[i * 8 + s];
          const nn = n >= 0 && n < C ? remap[rr + n] : -1;
          if (nn < 0) continue;
          dst[to * 8 + w] = nn;
          dst[to * 8 + 4 + w] = src[i * 8 + 4 + s];
          w++;
        }
      }
    }
  }
  return out;
}

/** A graph's neighbour/weight arrays ([C, 4] each) -> AoS transfer nodes Int32Array [C * 8]. */
export function graphToNodes(neighbors: Int32Array, weights: Float32Array): Int32Array {
  const C = neighbors.length / 4;
  const out = new Int32Array(C * GRAPH_NODE_INTS);
  for (let i = 0; i < C; i++) {
    for (let s = 0; s < 4; s++) {
      out[i * 8 + s] = neighbors[i * 4 + s];
      f32buf[0] = weights[i * 4 + s];
      out[i * 8 + 4 + s] = i32buf[0];
    }
  }
  return out;
}

/** AoS transfer nodes Int32Array [C * 8] -> { neighbors Int32Array [C * 4], weights Float32Array [C * 4] }. */
export function nodesToGraph(nodes: Int32Array): { neighbors: Int32Array; weights: Float32Array } {
  const C = nodes.length / GRAPH_NODE_INTS;
  const neighbors = new Int32Array(C * 4);
  const weights = new Float32Array(C * 4);
  for (let i = 0; i < C; i++) {
    for (let s = 0; s < 4; s++) {
      neighbors[i * 4 + s] = nodes[i * 8 + s];
      i32buf[0] = nodes[i * 8 + 4 + s];
      weights[i * 4 + s] = f32buf[0];
    }
  }
  return { neighbors, weights };
}

/**
 * Pure-TypeScript twins of the engine's element-wise, attention, sampling and fill kernels
 * (native/kernels/engine_kernels.cuh behind native/src/engine_launchers.h). Each twin follows the
 * kernel's rule operation by operation: f32 steps are rounded with Math.fround, sums the kernel does
 * in f64 are f64 here; the few places where the results can still differ (transcendental functions,
 * f32 summation order) are named in the function's comment. bf16 values are Uint16Array bit patterns.
 */
import { philox4x32 } from "@kvwalk/walker-cuda";

// bf16 <-> f32 (round to nearest even, NaN kept quiet): graph-cache's conversions, the same rule as
// CUDA's __float2bfloat16_rn.
export { bf16ToF32, f32ToBf16, fromBf16, toBf16 } from "@kvwalk/graph-cache";
import { bf16ToF32, f32ToBf16 } from "@kvwalk/graph-cache";

/** Units in the last place of bf16 between two bf16 bit patterns (same sign assumed; NaN -> Infinity). */
export function bf16UlpDistance(a: number, b: number): number {
  const fa = bf16ToF32(a);
  const fb = bf16ToF32(b);
  if (Number.isNaN(fa) || Number.isNaN(fb)) return Number.isNaN(fa) && Number.isNaN(fb) ? 0 : Number.POSITIVE_INFINITY;
  const ord = (h: number) => (h & 0x8000 ? -(h & 0x7fff) : h & 0x7fff);
  return Math.abs(ord(a & 0xffff) - ord(b & 0xffff));
}

/**
 * Embedding lookup. tokens int [T], table bf16 [vocab, hidden] -> x f32 [T, hidden]; a token outside
 * [0, vocab) gives a zero row and errorFlag 1. Exact.
 */
export function embedReference(tokens: Int32Array, table: Uint16Array, vocab: number, hidden: number): { x: Float32Array; errorFlag: number } {
  const T = tokens.length;
  const x = new Float32Array(T * hidden);
  let errorFlag = 0;
  for (let t = 0; t < T; t++) {
    const tok = tokens[t];
    if (tok < 0 || tok >= vocab) {
      errorFlag = 1;
      continue;
    }
    for (let i = 0; i < hidden; i++) x[t * hidden + i] = bf16ToF32(table[tok * hidden + i]);
  }
  return { x, errorFlag };
}

/**
 * LlamaRMSNorm in f32: x f32 [T, hidden], w bf16 [hidden] -> bf16 [T, hidden].
 * var = f32(sum x^2) / hidden; r = f32(1 / f32(sqrt(f32(var + eps)))); out = bf16(f32(w * f32(x * r))).
 * The sum of squares is exact (f64) here and an f32 tree sum in the kernel, so r may differ by an ulp
 * or two of f32, which moves a bf16 output by at most 1 ulp.
 */
export function rmsnormReference(x: Float32Array, w: Uint16Array, T: number, hidden: number, eps: number): Uint16Array {
  const out = new Uint16Array(T * hidden);
  for (let t = 0; t < T; t++) {
    let ss = 0;
    for (let i = 0; i < hidden; i++) ss += x[t * hidden + i] * x[t * hidden + i];
    const v = Math.fround(Math.fround(ss) / hidden);
    const r = Math.fround(1 / Math.fround(Math.sqrt(Math.fround(v + eps))));
    for (let i = 0; i < hidden; i++) {
      out[t * hidden + i] = f32ToBf16(Math.fround(bf16ToF32(w[i]) * Math.fround(x[t * hidden + i] * r)));
    }
  }
  return out;
}

/**
 * The split-K epilogue (launch_residual_rmsnorm): x' = x + parts[0] + parts[1] + ... per element, each
 * addition rounded to f32 in that order (bit-exact with the kernel), then, when w is given, the RMSNorm
 * of x' (rmsnormReference). x f32 [T, hidden]; parts f32 [numParts, T, hidden].
 */
export function residualRmsnormReference(
  x: Float32Array,
  parts: Float32Array,
  numParts: number,
  w: Uint16Array | null,
  T: number,
  hidden: number,
  eps: number,
): { x: Float32Array; out: Uint16Array | null } {
  if (parts.length !== numParts * T * hidden) throw new RangeError(`Expected parts of length ${numParts * T * hidden}, received ${parts.length}`);
  const xn = Float32Array.from(x);
  for (let p = 0; p < numParts; p++) {
    for (let i = 0; i < T * hidden; i++) xn[i] = Math.fround(xn[i] + parts[p * T * hidden + i]);
  }
  return { x: xn, out: w ? rmsnormReference(xn, w, T, hidden, eps) : null };
}

/** The RoPE angle's cos and sin as the CPU path computes them (packages/model/src/rope.ts): f32(inv * pos), then cos/sin. */
export function ropeCosSin(invFreq: Float32Array, position: number): { cos: Float32Array; sin: Float32Array } {
  const half = invFreq.length;
  const cos = new Float32Array(half);
  const sin = new Float32Array(half);
  for (let i = 0; i < half; i++) {
    const a = Math.fround(invFreq[i] * Math.fround(position));
    cos[i] = Math.cos(a);
    sin[i] = Math.sin(a);
  }
  return { cos, sin };
}

export interface RopeAppendInput {
  /** f32 [T, (H + 2 KVH) * D]: per token H query heads, KVH key heads, KVH value heads. */
  qkv: Float32Array;
  T: number;
  H: number;
  KVH: number;
  D: number;
  /** f32 [D / 2] */
  invFreq: Float32Array;
  /** int [T] */
  positions: Int32Array;
  /** int [T] */
  region: Int32Array;
  /** int [T] */
  slot: Int32Array;
  capacity: number;
  /** bf16 [regions, KVH, capacity, D], initial contents (copied, not modified). */
  kCache: Uint16Array;
  /** bf16 [regions, KVH, capacity, D], initial contents (copied, not modified). */
  vCache: Uint16Array;
}

/**
 * RoPE (rotate_half: pairs (i, i + D/2)) and KV append. Returns q f32 [T, H, D] and the updated caches
 * (k = bf16(rotated key), v = bf16(value) at [region[t], kvh, slot[t], :]).
 * y1 = f32(x1 c) - f32(x2 s), y2 = f32(x2 c) + f32(x1 s) with each step rounded to f32; cos/sin are
 * Math.cos/Math.sin of the f32 angle rounded to f32 here and CUDA's precise sincosf (<= 2 ulp) in the kernel.
 */
export function ropeAppendReference(input: RopeAppendInput): { q: Float32Array; kCache: Uint16Array; vCache: Uint16Array } {
  const { qkv, T, H, KVH, D, invFreq, positions, region, slot, capacity } = input;
  const half = D / 2;
  const q = new Float32Array(T * H * D);
  const kCache = input.kCache.slice();
  const vCache = input.vCache.slice();
  const width = (H + 2 * KVH) * D;
  for (let t = 0; t < T; t++) {
    const { cos, sin } = ropeCosSin(invFreq, positions[t]);
    const row = t * width;
    const kvBase = (region[t] * KVH * capacity + slot[t]) * D;
    for (let head = 0; head < H + KVH; head++) {
      for (let i = 0; i < half; i++) {
        const x1 = qkv[row + head * D + i];
        const x2 = qkv[row + head * D + half + i];
        const y1 = Math.fround(Math.fround(x1 * cos[i]) - Math.fround(x2 * sin[i]));
        const y2 = Math.fround(Math.fround(x2 * cos[i]) + Math.fround(x1 * sin[i]));
        if (head < H) {
          q[(t * H + head) * D + i] = y1;
          q[(t * H + head) * D + half + i] = y2;
        } else {
          const base = kvBase + (head - H) * capacity * D;
          kCache[base + i] = f32ToBf16(y1);
          kCache[base + half + i] = f32ToBf16(y2);
        }
      }
    }
    for (let head = 0; head < KVH; head++) {
      for (let d = 0; d < D; d++) vCache[kvBase + head * capacity * D + d] = f32ToBf16(qkv[row + (H + KVH + head) * D + d]);
    }
  }
  return { q, kCache, vCache };
}

export interface PrefillAttentionInput {
  /** f32 [T, H, D] (rotated queries) */
  q: Float32Array;
  /** bf16 [KVH, capacity, D]; slots 0..T-1 are the sequence's keys */
  k: Uint16Array;
  /** bf16 [KVH, capacity, D] */
  v: Uint16Array;
  T: number;
  H: number;
  KVH: number;
  D: number;
  capacity: number;
  /** query t sees key j iff j <= t and (window <= 0 or t - j < window) */
  window: number;
  /** usually 1 / sqrt(D) */
  scale: number;
}

/**
 * Causal (optionally sliding-window) GQA attention, exact in f64: head h reads KV head h / (H / KVH).
 * Returns the unrounded output f32 [T, H * D] (the kernel stores bf16 of it; it also rounds q and the
 * softmax weights P to bf16 for its tensor-core products, see kernel-cases.ts for the tolerance).
 */
export function prefillAttentionReference(input: PrefillAttentionInput): Float32Array {
  const { q, k, v, T, H, KVH, D, capacity, window, scale } = input;
  const group = H / KVH;
  const out = new Float32Array(T * H * D);
  const s = new Float64Array(T);
  const o = new Float64Array(D);
  for (let h = 0; h < H; h++) {
    const kvBase = Math.floor(h / group) * capacity * D;
    for (let t = 0; t < T; t++) {
      const lo = window > 0 ? Math.max(0, t - window + 1) : 0;
      let m = Number.NEGATIVE_INFINITY;
      const qb = (t * H + h) * D;
      for (let j = lo; j <= t; j++) {
        let acc = 0;
        for (let d = 0; d < D; d++) acc += q[qb + d] * bf16ToF32(k[kvBase + j * D + d]);
        s[j] = acc * scale;
        if (s[j] > m) m = s[j];
      }
      o.fill(0);
      let l = 0;
      for (let j = lo; j <= t; j++) {
        const p = Math.exp(s[j] - m);
        l += p;
        for (let d = 0; d < D; d++) o[d] += p * bf16ToF32(v[kvBase + j * D + d]);
      }
      for (let d = 0; d < D; d++) out[t * H * D + h * D + d] = o[d] / l;
    }
  }
  return out;
}

/**
 * SwiGLU: gu f32 [T, 2I] (gate columns then up columns) -> bf16 [T, I],
 * act = bf16(f32(f32(g / f32(1 + f32(exp(-g)))) * u)). Math.exp vs CUDA expf (<= 2 ulp) can move a
 * bf16 output by 1 ulp.
 */
export function swigluReference(gu: Float32Array, T: number, I: number): Uint16Array {
  const act = new Uint16Array(T * I);
  for (let t = 0; t < T; t++) {
    for (let i = 0; i < I; i++) {
      const g = gu[t * 2 * I + i];
      const u = gu[t * 2 * I + I + i];
      const sg = Math.fround(g / Math.fround(1 + Math.fround(Math.exp(-g))));
      act[t * I + i] = f32ToBf16(Math.fround(sg * u));
    }
  }
  return act;
}

/** Uniform in [0, 1) from one Philox word: (word >>> 8) * 2^-24. */
export function philoxWordToUnit(word: number): number {
  return (word >>> 8) * 2 ** -24;
}

/** The sampling uniform of row b at `step`: word 0 of Philox4x32-10, counter (b, step, 0, 0), key (seed, 0). */
export function sampleUniform(seed: number, b: number, step: number): number {
  return philoxWordToUnit(philox4x32(b, step, 0, 0, seed, 0)[0]);
}

/**
 * Top-p threshold on unnormalized weights e (any order): the largest tau such that
 * sum_{e_i >= tau} e_i >= topP * sum e (f64 sums), always one of the e_i; ties are kept together;
 * topP <= 0 keeps the ties of the maximum; topP >= 1 or NaN gives 0 (keep all).
 */
export function topPThreshold(e: ArrayLike<number>, topP: number): number {
  if (!(topP < 1)) return 0;
  let total = 0;
  for (let i = 0; i < e.length; i++) total += e[i];
  const target = topP * total;
  const sorted = Float64Array.from(e).sort().reverse();
  let acc = 0;
  for (let i = 0; i < sorted.length; i++) {
    acc += sorted[i];
    if (i + 1 < sorted.length && sorted[i + 1] === sorted[i]) continue;
    if (acc >= target) return sorted[i];
  }
  return sorted[sorted.length - 1] ?? 0;
}

export interface SampleRowResult {
  token: number;
  /** log-probability of `token` under the unmodified softmax(logits) (f32) */
  logprob: number;
  /** greedy argmax (ties -> lowest index) */
  argmax: number;
  /** top-p threshold on e (0 when all kept; undefined for greedy rows) */
  tau?: number;
  /** r = u * M, the inverse-CDF target, and M the kept mass (unnormalized; sampled rows only) */
  r?: number;
  keptMass?: number;
  /** distance of r to the nearest CDF boundary, relative to M (how close a f32/f64 rounding could flip the pick) */
  boundaryMargin?: number;
}

/**
 * One row of the sampling rule of launch_sample (engine_kernels.cuh documents the same rule):
 * x_i = logits[i] (NaN as -inf); argmax with ties -> lowest index; m0 = its logit.
 * logprob = f32(f32(x_tok - m0) - log(sum_i f32(exp(f32(x_i - m0))))); NaN when m0 is not finite (greedy then).
 * temperature <= 0 or NaN: greedy. Otherwise z_i = f32(x_i / temp), mz = f32(m0 / temp),
 * e_i = f32(exp(f32(z_i - mz))), tau = topPThreshold(e, topP), kept = {e_i >= tau}, M = sum kept e (f64),
 * r = u * M, token = lowest kept index whose running kept sum (index order) exceeds r; if rounding leaves
 * none, the highest kept index with e_i > 0. `u` in [0, 1) is sampleUniform(seed, b, step).
 * The kernel uses expf (<= 2 ulp from Math.exp) and a block-order f64 sum, so a token can only differ
 * when r lies within ~1e-6 relative of a CDF boundary (boundaryMargin reports the distance).
 */
export function sampleRowReference(logits: ArrayLike<number>, temperature: number, topP: number, u: number): SampleRowResult {
  const V = logits.length;
  const xs = (i: number) => (Number.isNaN(logits[i]) ? Number.NEGATIVE_INFINITY : Math.fround(logits[i]));
  let argmax = 0;
  let m0 = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < V; i++) {
    const x = xs(i);
    if (x > m0) {
      m0 = x;
      argmax = i;
    }
  }
  const finite = Number.isFinite(m0);
  let se = 0;
  if (finite) for (let i = 0; i < V; i++) se += Math.fround(Math.exp(Math.fround(xs(i) - m0)));
  const logSe = Math.log(se);
  const logprobOf = (tok: number) => (finite ? Math.fround(Math.fround(xs(tok) - m0) - logSe) : Number.NaN);
  if (!finite || !(temperature > 0)) return { token: argmax, logprob: logprobOf(argmax), argmax };
  const temp = Math.fround(temperature);
  const mz = Math.fround(m0 / temp);
  const e = new Float64Array(V);
  for (let i = 0; i < V; i++) e[i] = Math.fround(Math.exp(Math.fround(Math.fround(xs(i) / temp) - mz)));
  const tau = topPThreshold(e, Math.fround(topP));
  let M = 0;
  for (let i = 0; i < V; i++) if (e[i] >= tau) M += e[i];
  const r = u * M;
  let acc = 0;
  let last = -1;
  let token = -1;
  let margin = Number.POSITIVE_INFINITY;
  for (let i = 0; i < V; i++) {
    if (!(e[i] >= tau && e[i] > 0)) continue;
    const before = acc;
    acc += e[i];
    last = i;
    margin = Math.min(margin, Math.abs(acc - r));
    if (token < 0 && acc > r) {
      token = i;
      margin = Math.min(margin, Math.abs(before - r));
    }
  }
  if (token < 0) token = last >= 0 ? last : argmax;
  return { token, logprob: logprobOf(token), argmax, tau, r, keptMass: M, boundaryMargin: M > 0 ? margin / M : 0 };
}

/**
 * log softmax(logits)[token] as launch_sample reports it: f32(f32(x_tok - m0) - log(sum f32(exp(f32(x_i - m0)))))
 * with NaN logits as -inf and m0 the maximum; NaN when m0 is not finite.
 */
export function softmaxLogprob(logits: ArrayLike<number>, token: number): number {
  const xs = (i: number) => (Number.isNaN(logits[i]) ? Number.NEGATIVE_INFINITY : Math.fround(logits[i]));
  let m0 = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < logits.length; i++) m0 = Math.max(m0, xs(i));
  if (!Number.isFinite(m0)) return Number.NaN;
  let se = 0;
  for (let i = 0; i < logits.length; i++) se += Math.fround(Math.exp(Math.fround(xs(i) - m0)));
  return Math.fround(Math.fround(xs(token) - m0) - Math.log(se));
}

export interface SampleInput {
  /** f32 [B, V] */
  logits: Float32Array;
  B: number;
  V: number;
  /** f32 [B]; <= 0 greedy */
  temperature: Float32Array;
  /** f32 [B]; >= 1 keep all */
  topP: Float32Array;
  seed: number;
  step: number;
}

/** launch_sample for every row: tokens int [B], logprob f32 [B], plus the per-row details. */
export function sampleReference(input: SampleInput): { tokens: Int32Array; logprob: Float32Array; rows: SampleRowResult[] } {
  const { logits, B, V, temperature, topP, seed, step } = input;
  const tokens = new Int32Array(B);
  const logprob = new Float32Array(B);
  const rows: SampleRowResult[] = [];
  for (let b = 0; b < B; b++) {
    const row = sampleRowReference(logits.subarray(b * V, (b + 1) * V), temperature[b], topP[b], sampleUniform(seed, b, step));
    tokens[b] = row.token;
    logprob[b] = row.logprob;
    rows.push(row);
  }
  return { tokens, logprob, rows };
}

/**
 * launch_fill_uniform_bf16: element i = bf16(f32((2u - 1) * amplitude)), u from word i % 4 of Philox
 * counter (floor(i / 4) low word, high word, 0, 0), key (seed, 0). Exact twin. Returns bf16 [n].
 */
export function fillUniformBf16Reference(n: number, seed: number, amplitude: number): Uint16Array {
  const out = new Uint16Array(n);
  const a = Math.fround(amplitude);
  const words = new Uint32Array(4);
  for (let g = 0; g * 4 < n; g++) {
    philox4x32(g >>> 0, Math.floor(g / 2 ** 32) >>> 0, 0, 0, seed, 0, words);
    for (let k = 0; k < 4 && g * 4 + k < n; k++) {
      const u = philoxWordToUnit(words[k]);
      out[g * 4 + k] = f32ToBf16(Math.fround((2 * u - 1) * a));
    }
  }
  return out;
}

/** launch_fill_const_bf16: bf16 [n] filled with bf16(value). */
export function fillConstBf16Reference(n: number, value: number): Uint16Array {
  return new Uint16Array(n).fill(f32ToBf16(value));
}

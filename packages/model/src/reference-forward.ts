import type { ModelConfig } from "./config.js";
import { ropeTables } from "./rope.js";
import type { ModelWeights } from "./weights.js";

/**
 * A plain-TypeScript Llama/Mistral forward with float64 accumulation, written straight from the
 * transformers modeling code, for checking the ONNX path on tiny models (it is O(T^2 d + T params)
 * with no vectorization: keep T and the model small).
 *
 * `evict(layer)` may return eviction times [numKvHeads, T] for that layer (key j visible to query t
 * iff j <= t < evict[h*T + j]); default: full causal cache plus the sliding window.
 * Returns logits [T, vocab], NLL of tokens 1..T-1 [T-1], per-layer q/k/v ([heads, T, d]) and
 * attention probabilities [numHeads, T, T].
 */
export function referenceForward(
  c: ModelConfig,
  w: ModelWeights,
  tokens: ArrayLike<number>,
  opts: { evict?: (layer: number) => Int32Array | undefined } = {},
): {
  logits: Float32Array;
  nll: Float32Array;
  layers: { q: Float32Array; k: Float32Array; v: Float32Array; probs: Float32Array }[];
} {
  const T = tokens.length;
  const { hiddenSize: H, numHeads: Hq, numKvHeads: Hkv, headDim: d, intermediateSize: I, vocabSize: V } = c;
  const G = Hq / Hkv;
  const { cos, sin } = ropeTables(T, d, c.ropeTheta);
  let h = new Float64Array(T * H);
  for (let t = 0; t < T; t++) for (let i = 0; i < H; i++) h[t * H + i] = w.embed[tokens[t] * H + i];
  const layers: { q: Float32Array; k: Float32Array; v: Float32Array; probs: Float32Array }[] = [];

  for (let l = 0; l < c.numLayers; l++) {
    const lw = w.layers[l];
    const x = rmsNorm(h, lw.inputNorm, T, H, c.rmsNormEps);
    const qLin = matmulT(x, lw.wq, T, H, Hq * d);
    const kLin = matmulT(x, lw.wk, T, H, Hkv * d);
    const vLin = matmulT(x, lw.wv, T, H, Hkv * d);
    const q = toHeads(qLin, T, Hq, d);
    const k = toHeads(kLin, T, Hkv, d);
    const v = toHeads(vLin, T, Hkv, d);
    applyRope(q, Hq, T, d, cos, sin);
    applyRope(k, Hkv, T, d, cos, sin);
    let ev = opts.evict?.(l);
    if (!ev) {
      ev = new Int32Array(Hkv * T);
      for (let kh = 0; kh < Hkv; kh++) for (let j = 0; j < T; j++) ev[kh * T + j] = c.slidingWindow === null ? T : Math.min(T, j + c.slidingWindow);
    }
    const probs = new Float32Array(Hq * T * T);
    const attn = new Float64Array(T * Hq * d); // [T, Hq*d]
    const scale = 1 / Math.sqrt(d);
    const row = new Float64Array(T);
    for (let hq = 0; hq < Hq; hq++) {
      const kh = Math.floor(hq / G);
      for (let t = 0; t < T; t++) {
        let max = -Infinity;
        for (let j = 0; j < T; j++) {
          if (j <= t && t < ev[kh * T + j]) {
            let s = 0;
            for (let i = 0; i < d; i++) s += q[(hq * T + t) * d + i] * k[(kh * T + j) * d + i];
            row[j] = s * scale;
            if (row[j] > max) max = row[j];
          } else row[j] = -Infinity;
        }
        let sum = 0;
        for (let j = 0; j < T; j++) {
          row[j] = row[j] === -Infinity ? 0 : Math.exp(row[j] - max);
          sum += row[j];
        }
        for (let j = 0; j < T; j++) {
          const p = row[j] / sum;
          probs[(hq * T + t) * T + j] = p;
          if (p === 0) continue;
          for (let i = 0; i < d; i++) attn[t * Hq * d + hq * d + i] += p * v[(kh * T + j) * d + i];
        }
      }
    }
    layers.push({ q: Float32Array.from(q), k: Float32Array.from(k), v: Float32Array.from(v), probs });
    const o = matmulT(attn, lw.wo, T, Hq * d, H);
    for (let i = 0; i < T * H; i++) h[i] += o[i];
    const x2 = rmsNorm(h, lw.postNorm, T, H, c.rmsNormEps);
    const g = matmulT(x2, lw.wGate, T, H, I);
    const u = matmulT(x2, lw.wUp, T, H, I);
    for (let i = 0; i < T * I; i++) g[i] = (g[i] / (1 + Math.exp(-g[i]))) * u[i];
    const m = matmulT(g, lw.wDown, T, I, H);
    const next = new Float64Array(T * H);
    for (let i = 0; i < T * H; i++) next[i] = h[i] + m[i];
    h = next;
  }
  const xf = rmsNorm(h, w.norm, T, H, c.rmsNormEps);
  const logits64 = matmulT(xf, w.lmHead, T, H, V);
  const nll = new Float32Array(Math.max(0, T - 1));
  for (let t = 0; t + 1 < T; t++) {
    let max = -Infinity;
    for (let i = 0; i < V; i++) max = Math.max(max, logits64[t * V + i]);
    let s = 0;
    for (let i = 0; i < V; i++) s += Math.exp(logits64[t * V + i] - max);
    nll[t] = max + Math.log(s) - logits64[t * V + tokens[t + 1]];
  }
  return { logits: Float32Array.from(logits64), nll, layers };
}

function rmsNorm(x: Float64Array, w: Float32Array, T: number, H: number, eps: number): Float64Array {
  const out = new Float64Array(T * H);
  for (let t = 0; t < T; t++) {
    let ss = 0;
    for (let i = 0; i < H; i++) ss += x[t * H + i] * x[t * H + i];
    const r = 1 / Math.sqrt(ss / H + eps);
    for (let i = 0; i < H; i++) out[t * H + i] = x[t * H + i] * r * w[i];
  }
  return out;
}

/** x [T, K] times W^T with W [N, K] -> [T, N]. */
function matmulT(x: Float64Array, W: Float32Array, T: number, K: number, N: number): Float64Array {
  const out = new Float64Array(T * N);
  for (let t = 0; t < T; t++) {
    for (let n = 0; n < N; n++) {
      let s = 0;
      const xo = t * K;
      const wo = n * K;
      for (let k = 0; k < K; k++) s += x[xo + k] * W[wo + k];
      out[t * N + n] = s;
    }
  }
  return out;
}

/** [T, heads*d] -> [heads, T, d] */
function toHeads(x: Float64Array, T: number, heads: number, d: number): Float64Array {
  const out = new Float64Array(T * heads * d);
  for (let t = 0; t < T; t++) for (let h = 0; h < heads; h++) for (let i = 0; i < d; i++) out[(h * T + t) * d + i] = x[t * heads * d + h * d + i];
  return out;
}

function applyRope(x: Float64Array, heads: number, T: number, d: number, cos: Float32Array, sin: Float32Array): void {
  const half = d / 2;
  const tmp = new Float64Array(d);
  for (let h = 0; h < heads; h++) {
    for (let t = 0; t < T; t++) {
      const o = (h * T + t) * d;
      for (let i = 0; i < d; i++) tmp[i] = x[o + i];
      for (let i = 0; i < d; i++) {
        const rot = i < half ? -tmp[i + half] : tmp[i - half];
        x[o + i] = tmp[i] * cos[t * d + i] + rot * sin[t * d + i];
      }
    }
  }
}

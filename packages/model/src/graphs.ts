import type { ModelConfig } from "./config.js";
import { GraphBuilder, tensorFloat32 } from "./onnx/builder.js";

/**
 * The ONNX graphs of the CPU forward. Every graph is independent of the sequence length (symbolic
 * dim "T") and of the layer: weights are graph inputs, so one session per graph serves all layers
 * and all lengths. Linear weights keep the checkpoint's [out, in] layout (Gemm transB=1).
 */

function rmsNorm(g: GraphBuilder, x: string, w: string, eps: number): string {
  const sq = g.op("Mul", [x, x]);
  const mean = g.op("ReduceMean", [sq], { axes: [-1], keepdims: 1 });
  const denom = g.op("Sqrt", [g.op("Add", [mean, g.constFloat([eps], [])])]);
  const normed = g.op("Mul", [x, g.op("Reciprocal", [denom])]);
  return g.op("Mul", [normed, w]);
}

function linear(g: GraphBuilder, x: string, w: string): string {
  return g.op("Gemm", [x, w], { transB: 1 });
}

/** [T, heads*d] -> [heads, T, d] */
function splitHeads(g: GraphBuilder, x: string, heads: number, d: number): string {
  const r = g.op("Reshape", [x, g.constInt64([-1, heads, d])]);
  return g.op("Transpose", [r], { perm: [1, 0, 2] });
}

function rope(g: GraphBuilder, x: string, cos: string, sin: string, d: number): string {
  const half = d / 2;
  const x1 = g.op("Slice", [x, g.constInt64([0]), g.constInt64([half]), g.constInt64([-1])]);
  const x2 = g.op("Slice", [x, g.constInt64([half]), g.constInt64([d]), g.constInt64([-1])]);
  const rot = g.op("Concat", [g.op("Neg", [x2]), x1], { axis: -1 });
  return g.op("Add", [g.op("Mul", [x, cos]), g.op("Mul", [rot, sin])]);
}

/** Visibility [T, T] (bool) of keys j to queries t: j <= t && t < evict[j]. `evict` is [T] int32. */
function visibility(g: GraphBuilder, k: string, evict: string | null): string {
  const shape = g.op("Shape", [k]);
  const T = g.op("Gather", [shape, g.constant({ type: "INT64", dims: [], raw: new Uint8Array(new BigInt64Array([0n]).buffer) })], { axis: 0 });
  const zero = g.constant({ type: "INT64", dims: [], raw: new Uint8Array(8) });
  const one = g.constant({ type: "INT64", dims: [], raw: new Uint8Array(new BigInt64Array([1n]).buffer) });
  const idx = g.op("Range", [zero, T, one]);
  const rows = g.op("Unsqueeze", [idx, g.constInt64([1])]);
  const cols = g.op("Unsqueeze", [idx, g.constInt64([0])]);
  const causal = g.op("LessOrEqual", [cols, rows]);
  if (evict === null) return causal;
  const ev = g.op("Unsqueeze", [g.op("Cast", [evict], { to: 7 }), g.constInt64([0])]);
  const alive = g.op("Less", [rows, ev]);
  return g.op("And", [causal, alive]);
}

/**
 * layer_qkv: h [T, hidden] -> RMSNorm -> q/k/v projections -> RoPE on q and k.
 * Inputs: h, ln [hidden], wq [Hq*d, hidden], wk [Hkv*d, hidden], wv [Hkv*d, hidden], cos/sin [T, d].
 * Outputs: q [Hq, T, d], k [Hkv, T, d], v [Hkv, T, d].
 */
export function buildQkvGraph(c: ModelConfig): Uint8Array {
  const { hiddenSize: H, numHeads: Hq, numKvHeads: Hkv, headDim: d } = c;
  const g = new GraphBuilder("layer_qkv");
  const h = g.input("h", "FLOAT", ["T", H]);
  const ln = g.input("ln", "FLOAT", [H]);
  const wq = g.input("wq", "FLOAT", [Hq * d, H]);
  const wk = g.input("wk", "FLOAT", [Hkv * d, H]);
  const wv = g.input("wv", "FLOAT", [Hkv * d, H]);
  const cos = g.input("cos", "FLOAT", ["T", d]);
  const sin = g.input("sin", "FLOAT", ["T", d]);
  const x = rmsNorm(g, h, ln, c.rmsNormEps);
  const q = rope(g, splitHeads(g, linear(g, x, wq), Hq, d), cos, sin, d);
  const k = rope(g, splitHeads(g, linear(g, x, wk), Hkv, d), cos, sin, d);
  const v = splitHeads(g, linear(g, x, wv), Hkv, d);
  g.op("Identity", [q], {}, "q");
  g.op("Identity", [k], {}, "k");
  g.op("Identity", [v], {}, "v");
  g.output("q", "FLOAT", [Hq, "T", d]);
  g.output("k", "FLOAT", [Hkv, "T", d]);
  g.output("v", "FLOAT", [Hkv, "T", d]);
  return g.toModel();
}

/**
 * attention: G query heads (the model calls it with G = 1) against one KV head's keys.
 * Inputs: q [G, T, d], k [T, d], v [T, d], evict [T] int32 (key j visible to query t iff
 * j <= t < evict[j]). Scores are (q / sqrt(d)) k^T, masked to -inf where invisible, softmaxed.
 * Outputs: o [G, T, d], probs [G, T, T].
 */
export function buildAttentionGraph(c: ModelConfig): Uint8Array {
  const d = c.headDim;
  const g = new GraphBuilder("attention");
  const q = g.input("q", "FLOAT", ["G", "T", d]);
  const k = g.input("k", "FLOAT", ["T", d]);
  const v = g.input("v", "FLOAT", ["T", d]);
  const evict = g.input("evict", "INT32", ["T"]);
  const scores = scaledScores(g, q, k, d);
  const vis = visibility(g, k, evict);
  const masked = g.op("Where", [vis, scores, g.constFloat([-Infinity], [])]);
  g.op("Softmax", [masked], { axis: -1 }, "probs");
  g.op("MatMul", ["probs", v], {}, "o");
  g.output("o", "FLOAT", ["G", "T", d]);
  g.output("probs", "FLOAT", ["G", "T", "T"]);
  return g.toModel();
}

function scaledScores(g: GraphBuilder, q: string, k: string, d: number): string {
  // Pre-scaling q costs T*d instead of T*T multiplies; exact when 1/sqrt(d) is a power of two.
  const qs = g.op("Mul", [q, g.constant(tensorFloat32([], [1 / Math.sqrt(d)]))]);
  return g.op("MatMul", [qs, g.op("Transpose", [k], { perm: [1, 0] })]);
}

/**
 * head_logits: scaled logits of one query head, q [T, d], k [T, d] -> [T, T] with -inf above the
 * diagonal (no sliding window).
 */
export function buildHeadLogitsGraph(c: ModelConfig): Uint8Array {
  const d = c.headDim;
  const g = new GraphBuilder("head_logits");
  const q = g.input("q", "FLOAT", ["T", d]);
  const k = g.input("k", "FLOAT", ["T", d]);
  const scores = scaledScores(g, q, k, d);
  g.op("Where", [visibility(g, k, null), scores, g.constFloat([-Infinity], [])], {}, "logits");
  g.output("logits", "FLOAT", ["T", "T"]);
  return g.toModel();
}

/**
 * layer_post: attention output projection + residual, RMSNorm, SwiGLU MLP + residual.
 * Inputs: h [T, hidden], attn [Hq, T, d], wo [hidden, Hq*d], ln [hidden], wg/wu [I, hidden], wd [hidden, I].
 * Output: out [T, hidden].
 */
export function buildPostGraph(c: ModelConfig): Uint8Array {
  const { hiddenSize: H, numHeads: Hq, headDim: d, intermediateSize: I } = c;
  const g = new GraphBuilder("layer_post");
  const h = g.input("h", "FLOAT", ["T", H]);
  const attn = g.input("attn", "FLOAT", [Hq, "T", d]);
  const wo = g.input("wo", "FLOAT", [H, Hq * d]);
  const ln = g.input("ln", "FLOAT", [H]);
  const wg = g.input("wg", "FLOAT", [I, H]);
  const wu = g.input("wu", "FLOAT", [I, H]);
  const wd = g.input("wd", "FLOAT", [H, I]);
  const merged = g.op("Reshape", [g.op("Transpose", [attn], { perm: [1, 0, 2] }), g.constInt64([-1, Hq * d])]);
  const h2 = g.op("Add", [h, linear(g, merged, wo)]);
  const x = rmsNorm(g, h2, ln, c.rmsNormEps);
  const gate = linear(g, x, wg);
  const act = g.op("Mul", [gate, g.op("Sigmoid", [gate])]);
  const m = g.op("Mul", [act, linear(g, x, wu)]);
  g.op("Add", [h2, linear(g, m, wd)], {}, "out");
  g.output("out", "FLOAT", ["T", H]);
  return g.toModel();
}

/**
 * final: RMSNorm, lm_head, logits at `positions`, and per-token NLL of targets (natural log).
 * Inputs: h [T, hidden], ln [hidden], w [V, hidden], targets [T-1] int64 (tokens 1..T-1),
 * positions [P] int64. Outputs: logits [P, V], nll [T-1].
 */
export function buildFinalGraph(c: ModelConfig): Uint8Array {
  const { hiddenSize: H, vocabSize: V } = c;
  const g = new GraphBuilder("final");
  const h = g.input("h", "FLOAT", ["T", H]);
  const ln = g.input("ln", "FLOAT", [H]);
  const w = g.input("w", "FLOAT", [V, H]);
  const targets = g.input("targets", "INT64", ["Tm1"]);
  const positions = g.input("positions", "INT64", ["P"]);
  const logits = linear(g, rmsNorm(g, h, ln, c.rmsNormEps), w);
  g.op("Gather", [logits, positions], { axis: 0 }, "logits");
  const head = g.op("Slice", [logits, g.constInt64([0]), g.constInt64([-1]), g.constInt64([0])]);
  const lsm = g.op("LogSoftmax", [head], { axis: -1 });
  const picked = g.op("GatherElements", [lsm, g.op("Unsqueeze", [targets, g.constInt64([1])])], { axis: 1 });
  g.op("Neg", [g.op("Reshape", [picked, g.constInt64([-1])])], {}, "nll");
  g.output("logits", "FLOAT", ["P", V]);
  g.output("nll", "FLOAT", ["Tm1"]);
  return g.toModel();
}

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

/** A scalar int64 constant. */
function int64Scalar(g: GraphBuilder, v: number): string {
  return g.constant({ type: "INT64", dims: [], raw: new Uint8Array(new BigInt64Array([BigInt(v)]).buffer) });
}

/**
 * The row blocks of the blocked attention graphs: int64 scalars bounds[0..blocks] = 0, floor(T i /
 * blocks), ..., T (bounds[0] is the node of int64 zero), and as1d(x) = x as a 1-element tensor (for Slice).
 */
function rowBlocks(g: GraphBuilder, T: string, blocks: number): { bounds: string[]; as1d: (x: string) => string } {
  const as1d = (x: string) => g.op("Unsqueeze", [x, g.constInt64([0])]);
  const bounds = [int64Scalar(g, 0)];
  for (let i = 1; i < blocks; i++) bounds.push(g.op("Div", [g.op("Mul", [T, int64Scalar(g, i)]), int64Scalar(g, blocks)]));
  bounds.push(T);
  return { bounds, as1d };
}

/** Number of query blocks of the blocked attention graph. */
export const ATTENTION_BLOCKS = 8;

/**
 * attention_blocked: the same function as `attention` for T >= blocks, with the causal structure
 * exploited: queries are cut into `blocks` row blocks [b_i, b_{i+1}) with b_i = floor(T i / blocks),
 * and block i only scores keys [0, b_{i+1}); with 8 blocks that is 56% of the dense [T, T]
 * work (score MatMul, mask, softmax and PV MatMul). Measured at T = 4096, d = 64 (CPU time of one
 * head, both threads; dense also returned its probabilities): dense 98 ms, 4 blocks 54 ms, 8 blocks
 * 48 ms, outputs bit-identical. With `withProbs`, the probabilities are padded with zeros to
 * [G, T, T] and returned too (a separate graph, since ORT runs every node of a graph).
 * Inputs: q [G, T, d], k [T, d], v [T, d], evict [T] int32. Outputs: o [G, T, d] (, probs [G, T, T]).
 */
export function buildBlockedAttentionGraph(c: ModelConfig, withProbs: boolean, blocks = ATTENTION_BLOCKS): Uint8Array {
  const d = c.headDim;
  const g = new GraphBuilder(withProbs ? "attention_blocked_probs" : "attention_blocked");
  const q = g.input("q", "FLOAT", ["G", "T", d]);
  const k = g.input("k", "FLOAT", ["T", d]);
  const v = g.input("v", "FLOAT", ["T", d]);
  const evict = g.input("evict", "INT32", ["T"]);
  const qs = g.op("Mul", [q, g.constant(tensorFloat32([], [1 / Math.sqrt(d)]))]);
  const kT = g.op("Transpose", [k], { perm: [1, 0] });
  const ev = g.op("Cast", [evict], { to: 7 });
  const T = g.op("Gather", [g.op("Shape", [k]), int64Scalar(g, 0)], { axis: 0 });
  const { bounds, as1d } = rowBlocks(g, T, blocks);
  const zero = bounds[0];
  const one = int64Scalar(g, 1);
  const outs: string[] = [];
  const probs: string[] = [];
  const zero1 = g.constInt64([0]);
  for (let i = 0; i < blocks; i++) {
    const start = bounds[i];
    const end = bounds[i + 1];
    const end1 = as1d(end);
    const qb = g.op("Slice", [qs, as1d(start), end1, g.constInt64([1])]);
    const kb = g.op("Slice", [kT, zero1, end1, g.constInt64([1])]);
    const vb = g.op("Slice", [v, zero1, end1, g.constInt64([0])]);
    const eb = g.op("Unsqueeze", [g.op("Slice", [ev, zero1, end1, g.constInt64([0])]), g.constInt64([0])]);
    const rows = g.op("Unsqueeze", [g.op("Range", [start, end, one]), g.constInt64([1])]);
    const cols = g.op("Unsqueeze", [g.op("Range", [zero, end, one]), g.constInt64([0])]);
    const vis = g.op("And", [g.op("LessOrEqual", [cols, rows]), g.op("Less", [rows, eb])]);
    const masked = g.op("Where", [vis, g.op("MatMul", [qb, kb]), g.constFloat([-Infinity], [])]);
    const p = g.op("Softmax", [masked], { axis: -1 });
    outs.push(g.op("MatMul", [p, vb]));
    if (withProbs) {
      const padRight = as1d(g.op("Sub", [T, end]));
      const pads = g.op("Concat", [g.constInt64([0, 0, 0, 0, 0]), padRight], { axis: 0 });
      probs.push(g.op("Pad", [p, pads, g.constFloat([0], [])], { mode: "constant" }));
    }
  }
  g.op("Concat", outs, { axis: 1 }, "o");
  g.output("o", "FLOAT", ["G", "T", d]);
  if (withProbs) {
    g.op("Concat", probs, { axis: 1 }, "probs");
    g.output("probs", "FLOAT", ["G", "T", "T"]);
  }
  return g.toModel();
}

/** Row bounds b_0..b_blocks of the blocked attention graphs: b_i = floor(T i / blocks). Int32Array [blocks + 1]. */
export function attentionBlockBounds(T: number, blocks = ATTENTION_BLOCKS): Int32Array {
  const b = new Int32Array(blocks + 1);
  for (let i = 0; i <= blocks; i++) b[i] = Math.floor((T * i) / blocks);
  return b;
}

/**
 * attention_scores_blocked: the scaled scores of the blocked attention graph, as its own graph (the
 * same nodes, so the values are bit-identical to the scores attention_blocked computes internally):
 * block i is (q / sqrt(d))[:, b_i:b_{i+1}] k[0:b_{i+1}]^T, with no mask (entries j > t of a block are
 * finite garbage; callers read j <= t only). Only the causal blocks are computed (56% of [T, T]).
 * Inputs: q [G, T, d], k [T, d]. Outputs: s0..s{blocks-1}, block i [G, b_{i+1} - b_i, b_{i+1}].
 */
export function buildBlockedScoresGraph(c: ModelConfig, blocks = ATTENTION_BLOCKS): Uint8Array {
  const d = c.headDim;
  const g = new GraphBuilder("attention_scores_blocked");
  const q = g.input("q", "FLOAT", ["G", "T", d]);
  const k = g.input("k", "FLOAT", ["T", d]);
  const qs = g.op("Mul", [q, g.constant(tensorFloat32([], [1 / Math.sqrt(d)]))]);
  const kT = g.op("Transpose", [k], { perm: [1, 0] });
  const T = g.op("Gather", [g.op("Shape", [k]), int64Scalar(g, 0)], { axis: 0 });
  const { bounds, as1d } = rowBlocks(g, T, blocks);
  const zero1 = g.constInt64([0]);
  for (let i = 0; i < blocks; i++) {
    const end1 = as1d(bounds[i + 1]);
    const qb = g.op("Slice", [qs, as1d(bounds[i]), end1, g.constInt64([1])]);
    const kb = g.op("Slice", [kT, zero1, end1, g.constInt64([1])]);
    g.op("MatMul", [qb, kb], {}, `s${i}`);
    g.output(`s${i}`, "FLOAT", ["G", `R${i}`, `E${i}`]);
  }
  return g.toModel();
}

/**
 * attention_from_scores: the rest of attention_blocked, starting from the blocks of
 * attention_scores_blocked (mask, softmax over keys [0, b_{i+1}), PV), so that scores computed once
 * for an eviction policy are not recomputed to attend; bit-identical to attention_blocked.
 * Inputs: s0..s{blocks-1} (block i [G, b_{i+1} - b_i, b_{i+1}]), v [T, d], evict [T] int32.
 * Output: o [G, T, d].
 */
export function buildScoresAttentionGraph(c: ModelConfig, blocks = ATTENTION_BLOCKS): Uint8Array {
  const d = c.headDim;
  const g = new GraphBuilder("attention_from_scores");
  const scores: string[] = [];
  for (let i = 0; i < blocks; i++) scores.push(g.input(`s${i}`, "FLOAT", ["G", `R${i}`, `E${i}`]));
  const v = g.input("v", "FLOAT", ["T", d]);
  const evict = g.input("evict", "INT32", ["T"]);
  const ev = g.op("Cast", [evict], { to: 7 });
  const T = g.op("Gather", [g.op("Shape", [v]), int64Scalar(g, 0)], { axis: 0 });
  const { bounds, as1d } = rowBlocks(g, T, blocks);
  const zero = bounds[0];
  const one = int64Scalar(g, 1);
  const outs: string[] = [];
  const zero1 = g.constInt64([0]);
  for (let i = 0; i < blocks; i++) {
    const start = bounds[i];
    const end = bounds[i + 1];
    const end1 = as1d(end);
    const vb = g.op("Slice", [v, zero1, end1, g.constInt64([0])]);
    const eb = g.op("Unsqueeze", [g.op("Slice", [ev, zero1, end1, g.constInt64([0])]), g.constInt64([0])]);
    const rows = g.op("Unsqueeze", [g.op("Range", [start, end, one]), g.constInt64([1])]);
    const cols = g.op("Unsqueeze", [g.op("Range", [zero, end, one]), g.constInt64([0])]);
    const vis = g.op("And", [g.op("LessOrEqual", [cols, rows]), g.op("Less", [rows, eb])]);
    const masked = g.op("Where", [vis, scores[i], g.constFloat([-Infinity], [])]);
    const p = g.op("Softmax", [masked], { axis: -1 });
    outs.push(g.op("MatMul", [p, vb]));
  }
  g.op("Concat", outs, { axis: 1 }, "o");
  g.output("o", "FLOAT", ["G", "T", d]);
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
 * Inputs: h [T, hidden], ln [hidden], w [V, hidden], targets [T] int64 (tokens 1..T-1, then any
 * valid id: the last row has no target), positions [P] int64. Outputs: logits [P, V], nll [T]
 * (the caller drops the last entry). LogSoftmax runs on all T rows in place of a [T-1, V] slice
 * copy; it is row-wise, so the first T-1 values are the same bits.
 */
export function buildFinalGraph(c: ModelConfig): Uint8Array {
  const { hiddenSize: H, vocabSize: V } = c;
  const g = new GraphBuilder("final");
  const h = g.input("h", "FLOAT", ["T", H]);
  const ln = g.input("ln", "FLOAT", [H]);
  const w = g.input("w", "FLOAT", [V, H]);
  const targets = g.input("targets", "INT64", ["T"]);
  const positions = g.input("positions", "INT64", ["P"]);
  const logits = linear(g, rmsNorm(g, h, ln, c.rmsNormEps), w);
  g.op("Gather", [logits, positions], { axis: 0 }, "logits");
  const lsm = g.op("LogSoftmax", [logits], { axis: -1 });
  const picked = g.op("GatherElements", [lsm, g.op("Unsqueeze", [targets, g.constInt64([1])])], { axis: 1 });
  g.op("Neg", [g.op("Reshape", [picked, g.constInt64([-1])])], {}, "nll");
  g.output("logits", "FLOAT", ["P", V]);
  g.output("nll", "FLOAT", ["T"]);
  return g.toModel();
}

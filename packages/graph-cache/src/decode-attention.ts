import { expectInt, expectNumber, expectOneOf, InvalidArgumentError } from "@kvwalk/core";
import { GRAPH_TOP_K, type GraphBatch, validateGraphBatch } from "./graph.js";
import { pushTop4, writeNormalizedTop4 } from "./topk.js";

/** Head sizes the CUDA kernel is compiled for (the twin accepts any positive size). */
export const SUPPORTED_HEAD_DIMS = [32, 64, 128, 256] as const;

/**
 * One decode step of attention for a batch of sequences: one new query per head attends to the
 * cached keys 0..lengths[b]-1 of its sequence.
 *
 * Graph choice (`graphHeads`): "query" (default), one graph per query head, graph index
 * b * numHeads + h, written by the fused kernel (per-head top-4 is exact under split-K: each split's
 * top-4 logits merge into the global top-4); or "kv", one graph per KV head, graph index
 * b * numKvHeads + kvh, whose node holds the top-4 keys of the group's SUMMED probabilities
 * sum_g p_g[j] -- the row the CPU oracle's policies observe for a KV head. Ranking by a sum needs every
 * head's final log-sum-exp, so the CUDA path writes it only with the deferred write (graphWrite
 * "deferred"). For MHA (numKvHeads = numHeads) the two choices give the same graphs up to ties.
 */
export interface DecodeAttentionInput {
  batch: number;
  numHeads: number;
  /** KV heads; numHeads must be a multiple (GQA: query head h reads KV head floor(h / (numHeads / numKvHeads))). */
  numKvHeads: number;
  headDim: number;
  /** Allocated cache slots per (sequence, KV head): the stride of k and v. */
  kvCapacity: number;
  /** Float32Array [batch, numHeads, headDim]: the new token's queries (RoPE already applied). */
  q: Float32Array;
  /** Uint16Array (bf16 bits) [batch, numKvHeads, kvCapacity, headDim]. */
  k: Uint16Array;
  /** Uint16Array (bf16 bits) [batch, numKvHeads, kvCapacity, headDim]. */
  v: Uint16Array;
  /** Int32Array [batch]: live keys per sequence, each in [1, kvCapacity]. */
  lengths: Int32Array;
  /** Softmax scale; default 1 / sqrt(headDim). */
  scale?: number;
  /**
   * When given, the top-4 keys of each query head are written into graph b * numHeads + h at node
   * nodes[b] (default lengths[b] - 1, the slot of the query's own key). numGraphs must equal
   * batch * numHeads.
   */
  graph?: GraphBatch;
  /** Int32Array [batch]: node (query slot) per sequence, in [0, graph.capacity). */
  nodes?: Int32Array;
  /**
   * "query" (default): graph b * numHeads + h per query head; "kv": graph b * numKvHeads + kvh per KV
   * head, node = top-4 keys of the group's summed probabilities (numGraphs = batch * numKvHeads).
   */
  graphHeads?: GraphHeads;
}

/** Which heads own a graph: every query head, or every KV head (the group's summed attention). */
export type GraphHeads = "query" | "kv";
export const GRAPH_HEADS = ["query", "kv"] as const;

export interface DecodeAttentionOutput {
  /** Float32Array [batch, numHeads, headDim]: softmax(q K^T * scale) V. */
  output: Float32Array;
  /** Float32Array [batch, numHeads]: the log-sum-exp of the scaled logits (natural log). */
  lse: Float32Array;
}

/** Validates a decode-attention input (shared by the twin and the CUDA entry point). */
export function validateDecodeAttention(input: DecodeAttentionInput, requireSupportedHeadDim = false): void {
  if (input == null || typeof input !== "object") throw new InvalidArgumentError("input", "a DecodeAttentionInput object", input);
  const batch = expectInt("batch", input.batch, 1, 2 ** 16);
  const numHeads = expectInt("numHeads", input.numHeads, 1, 2 ** 12);
  const numKvHeads = expectInt("numKvHeads", input.numKvHeads, 1, numHeads);
  if (numHeads % numKvHeads !== 0) throw new InvalidArgumentError("numKvHeads", `a divisor of numHeads (${numHeads})`, numKvHeads);
  const headDim = expectInt("headDim", input.headDim, 1, 1024);
  if (requireSupportedHeadDim && !(SUPPORTED_HEAD_DIMS as readonly number[]).includes(headDim)) {
    throw new InvalidArgumentError("headDim", `one of ${SUPPORTED_HEAD_DIMS.join(", ")} (CUDA kernel)`, headDim);
  }
  const kvCapacity = expectInt("kvCapacity", input.kvCapacity, 1, 2 ** 24);
  const qLen = batch * numHeads * headDim;
  if (!(input.q instanceof Float32Array) || input.q.length !== qLen) {
    throw new InvalidArgumentError("q", `Float32Array of length ${qLen} [batch, numHeads, headDim]`, input.q);
  }
  const kvLen = batch * numKvHeads * kvCapacity * headDim;
  if (kvLen > 2 ** 31 - 1) throw new InvalidArgumentError("k", "at most 2^31 - 1 elements", kvLen);
  for (const name of ["k", "v"] as const) {
    const a = input[name];
    if (!(a instanceof Uint16Array) || a.length !== kvLen) {
      throw new InvalidArgumentError(name, `Uint16Array (bf16) of length ${kvLen} [batch, numKvHeads, kvCapacity, headDim]`, a);
    }
  }
  if (!(input.lengths instanceof Int32Array) || input.lengths.length !== batch) {
    throw new InvalidArgumentError("lengths", `Int32Array of length ${batch} (batch)`, input.lengths);
  }
  for (let b = 0; b < batch; b++) expectInt(`lengths[${b}]`, input.lengths[b], 1, kvCapacity);
  if (input.scale !== undefined) expectNumber("scale", input.scale);
  const perKv = expectOneOf("graphHeads", input.graphHeads ?? "query", GRAPH_HEADS) === "kv";
  if (input.graph !== undefined) {
    validateGraphBatch("graph", input.graph);
    const graphs = perKv ? batch * numKvHeads : batch * numHeads;
    if (input.graph.numGraphs !== graphs) {
      throw new InvalidArgumentError("graph.numGraphs", `batch * ${perKv ? "numKvHeads" : "numHeads"} = ${graphs}`, input.graph.numGraphs);
    }
    if (input.nodes !== undefined) {
      if (!(input.nodes instanceof Int32Array) || input.nodes.length !== batch) {
        throw new InvalidArgumentError("nodes", `Int32Array of length ${batch} (batch)`, input.nodes);
      }
    }
    for (let b = 0; b < batch; b++) {
      const node = input.nodes ? input.nodes[b] : input.lengths[b] - 1;
      expectInt(input.nodes ? `nodes[${b}]` : `lengths[${b}] - 1 (default node)`, node, 0, input.graph.capacity - 1);
    }
  } else if (input.nodes !== undefined) {
    throw new InvalidArgumentError("nodes", "undefined when no graph is given", input.nodes);
  }
}

/**
 * TypeScript twin of the fused decode-attention kernel (and the test oracle): float64 arithmetic on
 * the bf16 keys/values, so it is the exact result the float32 kernel approximates. With `graph`,
 * the top-4 logits of each query head (ties: lower key index; NaN logits skipped) become
 * probabilities exp(s - lse), which are written with the top-k writer's rule (drop p <= 0 or NaN,
 * divide by their float32 sum). With graphHeads "kv" the candidates are the keys' summed group
 * probabilities v = sum_g exp(s_g - lse_g) (v > 0 only; NaN rows write an empty node), ranked by v
 * (ties: lower key index) and written as float32(v) with the same rule.
 */
export function decodeAttentionReference(input: DecodeAttentionInput): DecodeAttentionOutput {
  validateDecodeAttention(input);
  const { batch, numHeads, numKvHeads, headDim: d, kvCapacity, q, k, v, lengths, graph } = input;
  const scale = input.scale ?? 1 / Math.sqrt(d);
  const group = numHeads / numKvHeads;
  const output = new Float32Array(batch * numHeads * d);
  const lseOut = new Float32Array(batch * numHeads);
  // bf16 -> float32 is exact: widen K and V once.
  const kf = new Float32Array(k.length);
  const vf = new Float32Array(v.length);
  {
    const ku = new Uint32Array(kf.buffer);
    const vu = new Uint32Array(vf.buffer);
    for (let i = 0; i < k.length; i++) {
      ku[i] = k[i] << 16;
      vu[i] = v[i] << 16;
    }
  }
  const logits = new Float64Array(kvCapacity);
  const acc = new Float64Array(d);
  const topIdx = [0, 0, 0, 0];
  const topVal = [0, 0, 0, 0];
  const perKv = input.graphHeads === "kv";
  const groupSum = new Float64Array(perKv ? kvCapacity : 0);
  for (let b = 0; b < batch; b++) {
    const len = lengths[b];
    for (let h = 0; h < numHeads; h++) {
      const kvBase = (b * numKvHeads + Math.floor(h / group)) * kvCapacity * d;
      const qBase = (b * numHeads + h) * d;
      let m = Number.NEGATIVE_INFINITY;
      let anyNaN = false;
      for (let j = 0; j < len; j++) {
        let s = 0;
        const kb = kvBase + j * d;
        for (let x = 0; x < d; x++) s += q[qBase + x] * kf[kb + x];
        s *= scale;
        logits[j] = s;
        if (Number.isNaN(s)) anyNaN = true;
        else if (s > m) m = s;
      }
      acc.fill(0);
      let l = 0;
      for (let j = 0; j < len; j++) {
        const p = Math.exp(logits[j] - m);
        l += p;
        const vb = kvBase + j * d;
        for (let x = 0; x < d; x++) acc[x] += p * vf[vb + x];
      }
      for (let x = 0; x < d; x++) output[qBase + x] = anyNaN ? Number.NaN : acc[x] / l;
      const lse = anyNaN ? Number.NaN : m + Math.log(l);
      lseOut[b * numHeads + h] = lse;
      if (!graph) continue;
      if (perKv) {
        if (h % group === 0) groupSum.fill(0, 0, len);
        for (let j = 0; j < len; j++) groupSum[j] += Math.exp(logits[j] - lse);
        if (h % group !== group - 1) continue;
        let count = 0;
        for (let j = 0; j < len; j++) {
          if (groupSum[j] > 0) count = pushTop4(topVal, topIdx, count, groupSum[j], j); // NaN never enters
        }
        const probs = topVal.map((x) => Math.fround(x));
        const node = input.nodes ? input.nodes[b] : len - 1;
        const off = ((b * numKvHeads + Math.floor(h / group)) * graph.capacity + node) * GRAPH_TOP_K;
        writeNormalizedTop4(topIdx, probs, count, graph.neighbors, graph.weights, off);
        continue;
      }
      let count = 0;
      for (let j = 0; j < len; j++) {
        const s = logits[j];
        if (!(s > Number.NEGATIVE_INFINITY)) continue; // NaN and -inf never enter the top-4
        count = pushTop4(topVal, topIdx, count, s, j);
      }
      const probs = topVal.map((s) => Math.fround(Math.exp(s - lse)));
      const node = input.nodes ? input.nodes[b] : len - 1;
      const off = ((b * numHeads + h) * graph.capacity + node) * GRAPH_TOP_K;
      writeNormalizedTop4(topIdx, probs, count, graph.neighbors, graph.weights, off);
    }
  }
  return { output, lse: lseOut };
}

import { seededRandom } from "@kvwalk/core/testing";
import { bf16ToF32, createGraph, createGraphBatch, decodeAttentionReference, GRAPH_TOP_K, toBf16, writeTopK } from "@kvwalk/graph-cache";
import { describe, expect, it } from "vitest";
import { blockedLogitsRowSource } from "../simulate.js";
import { CacheState } from "./policy.js";

/**
 * The equivalence the engine's default graph layout rests on (graphHeads "kv"): for a grouped-query
 * KV head, the node the CPU oracle's top-4 graph policies write (Top4GraphPolicy: writeTopK of the
 * row that blockedLogitsRowSource sums over the group's query heads) is the node graph-cache writes per
 * KV head (decodeAttentionReference with graphHeads "kv", the twin of graph_select_group_kernel).
 */
describe("GQA graph nodes: oracle row == graph-cache per-KV-head node", () => {
  it("same neighbours and weights for random groups of 2, 4 and 8 query heads", () => {
    const rnd = seededRandom(91);
    const gauss = () => Math.sqrt(-2 * Math.log(1 - rnd())) * Math.cos(2 * Math.PI * rnd());
    for (const [group, T, d] of [
      [2, 37, 16],
      [4, 64, 32],
      [8, 23, 8],
    ]) {
      const numHeads = group;
      const scale = 1 / Math.sqrt(d);
      const q = Float32Array.from({ length: numHeads * d }, () => 2 * gauss());
      const k = toBf16(Float32Array.from({ length: T * d }, gauss));
      const v = toBf16(Float32Array.from({ length: T * d }, gauss));
      // graph-cache: one decode step of query T - 1 over keys 0..T-1, one graph for the KV head
      const graph = createGraphBatch(1, T);
      decodeAttentionReference({ batch: 1, numHeads, numKvHeads: 1, headDim: d, kvCapacity: T, q, k, v, lengths: Int32Array.of(T), graph, graphHeads: "kv" });
      // oracle: the group's scaled logits of row T - 1 (dense [T, T] blocks; rows < T - 1 unread)
      const heads = Array.from({ length: numHeads }, (_, h) => {
        const m = new Float32Array(T * T);
        for (let j = 0; j < T; j++) {
          let s = 0;
          for (let x = 0; x < d; x++) s += q[h * d + x] * bf16ToF32(k[j * d + x]);
          m[(T - 1) * T + j] = s * scale;
        }
        return { bounds: Int32Array.of(0, T), blocks: [m] };
      });
      const cache = new CacheState(T);
      for (let j = 0; j < T; j++) cache.append(j);
      const row = new Float64Array(T);
      blockedLogitsRowSource(heads, T, { exp: "exact" })(T - 1, cache, row);
      const oracle = createGraph(T);
      writeTopK(oracle, T - 1, row, T);
      const off = (T - 1) * GRAPH_TOP_K;
      expect(Array.from(graph.neighbors.subarray(off, off + GRAPH_TOP_K))).toEqual(Array.from(oracle.neighbors.subarray(off, off + GRAPH_TOP_K)));
      for (let s = 0; s < GRAPH_TOP_K; s++) expect(Math.abs(graph.weights[off + s] - oracle.weights[off + s])).toBeLessThan(1e-6);
    }
  });
});

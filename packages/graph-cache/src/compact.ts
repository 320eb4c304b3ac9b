import { InvalidArgumentError } from "@kvwalk/core";
import { createGraph, createGraphBatch, GRAPH_TOP_K, type GraphBatch, type GraphView, validateGraph, validateGraphBatch } from "./graph.js";

/**
 * New slot numbers after compaction: remap[i] = rank of slot i among kept slots, or -1 when
 * dropped (an exclusive prefix sum of the keep mask, as the kernel computes it).
 * Returns [remap: Int32Array [capacity], kept count].
 */
export function compactionRemap(keep: Uint8Array, offset: number, capacity: number): [Int32Array, number] {
  const remap = new Int32Array(capacity);
  let next = 0;
  for (let i = 0; i < capacity; i++) remap[i] = keep[offset + i] !== 0 ? next++ : -1;
  return [remap, next];
}

/**
 * Moves graph `src` (one graph's arrays at `srcOff`) into `dst` at `dstOff` following `remap`:
 * kept node i becomes node remap[i]; each neighbour j becomes remap[j], or -1 when j was dropped or
 * is out of range [0, capacity); invalid entries are squeezed out so valid ones stay first, in their
 * order (weights keep their values: no renormalization). Nodes past the kept count stay empty.
 */
function compactInto(
  capacity: number,
  remap: Int32Array,
  srcN: Int32Array,
  srcW: Float32Array,
  srcOff: number,
  dstN: Int32Array,
  dstW: Float32Array,
  dstOff: number,
): void {
  for (let i = 0; i < capacity; i++) {
    const to = remap[i];
    if (to < 0) continue;
    let w = 0;
    for (let s = 0; s < GRAPH_TOP_K; s++) {
      const j = srcN[srcOff + i * GRAPH_TOP_K + s];
      const nj = j >= 0 && j < capacity ? remap[j] : -1;
      if (nj < 0) continue;
      dstN[dstOff + to * GRAPH_TOP_K + w] = nj;
      dstW[dstOff + to * GRAPH_TOP_K + w] = srcW[srcOff + i * GRAPH_TOP_K + s];
      w++;
    }
  }
}

/**
 * Remap after compaction: keep[i] = 1 (any non-zero) keeps slot i; kept slots get new numbers in
 * order; neighbours pointing to dropped slots (or out of range) become -1 (weights of remaining valid
 * entries are NOT renormalized, and the kernel does the same). Returns a new GraphView of the same
 * capacity; nodes from the kept count on are empty.
 */
export function compactGraph(graph: GraphView, keep: Uint8Array): GraphView {
  validateGraph("graph", graph);
  if (!(keep instanceof Uint8Array) || keep.length !== graph.capacity) {
    throw new InvalidArgumentError("keep", `Uint8Array of length ${graph.capacity} (graph.capacity)`, keep);
  }
  const out = createGraph(graph.capacity);
  const [remap] = compactionRemap(keep, 0, graph.capacity);
  compactInto(graph.capacity, remap, graph.neighbors, graph.weights, 0, out.neighbors, out.weights, 0);
  return out;
}

/**
 * Batched twin of the CUDA compaction kernel: keep is Uint8Array [numGraphs, capacity] (one mask per
 * graph, since eviction may differ per layer and head). Returns the new batch and the kept count of
 * each graph (Int32Array [numGraphs]).
 */
export function compactGraphBatch(batch: GraphBatch, keep: Uint8Array): { batch: GraphBatch; kept: Int32Array } {
  validateGraphBatch("batch", batch);
  const n = batch.numGraphs * batch.capacity;
  if (!(keep instanceof Uint8Array) || keep.length !== n) {
    throw new InvalidArgumentError("keep", `Uint8Array of length ${n} (numGraphs x capacity)`, keep);
  }
  const out = createGraphBatch(batch.numGraphs, batch.capacity);
  const kept = new Int32Array(batch.numGraphs);
  const stride = batch.capacity * GRAPH_TOP_K;
  for (let g = 0; g < batch.numGraphs; g++) {
    const [remap, k] = compactionRemap(keep, g * batch.capacity, batch.capacity);
    kept[g] = k;
    compactInto(batch.capacity, remap, batch.neighbors, batch.weights, g * stride, out.neighbors, out.weights, g * stride);
  }
  return { batch: out, kept };
}

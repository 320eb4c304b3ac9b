import { expectInt, InvalidArgumentError } from "@kvwalk/core";

/** Number of neighbours stored per node (the design's 4 edges, 32 bytes per node on the device). */
export const GRAPH_TOP_K = 4;

/**
 * One attention graph (one sequence x layer x head). Node i = cache slot i (or token position).
 * - `neighbors`: Int32Array [capacity * 4], key slots; -1 = invalid.
 * - `weights`: Float32Array [capacity * 4], the probabilities of the chosen keys renormalized to sum 1
 *   over the valid entries (0 for invalid).
 * Entries of a node are ordered by decreasing weight (ties: lower key index first); valid entries
 * come before invalid ones.
 */
export interface GraphView {
  capacity: number;
  neighbors: Int32Array;
  weights: Float32Array;
}

/**
 * Many graphs of the same capacity in one contiguous allocation (the device's batch):
 * `neighbors`/`weights` are [numGraphs, capacity, 4]. Graph g is `graphAt(batch, g)`, a view that
 * shares memory with the batch.
 */
export interface GraphBatch {
  numGraphs: number;
  capacity: number;
  neighbors: Int32Array;
  weights: Float32Array;
}

/** A new graph with every neighbour -1 and every weight 0. */
export function createGraph(capacity: number): GraphView {
  expectInt("capacity", capacity, 0, 2 ** 28);
  const neighbors = new Int32Array(capacity * GRAPH_TOP_K).fill(-1);
  return { capacity, neighbors, weights: new Float32Array(capacity * GRAPH_TOP_K) };
}

/** `numGraphs` empty graphs of `capacity` nodes in one allocation. */
export function createGraphBatch(numGraphs: number, capacity: number): GraphBatch {
  expectInt("numGraphs", numGraphs, 0, 2 ** 24);
  expectInt("capacity", capacity, 0, 2 ** 28);
  const n = numGraphs * capacity * GRAPH_TOP_K;
  if (n > 2 ** 31 - 1) throw new InvalidArgumentError("numGraphs * capacity * 4", "at most 2^31 - 1 entries", n);
  return { numGraphs, capacity, neighbors: new Int32Array(n).fill(-1), weights: new Float32Array(n) };
}

/** Graph `g` of a batch, sharing its memory. */
export function graphAt(batch: GraphBatch, g: number): GraphView {
  expectInt("g", g, 0, batch.numGraphs - 1);
  const stride = batch.capacity * GRAPH_TOP_K;
  return {
    capacity: batch.capacity,
    neighbors: batch.neighbors.subarray(g * stride, (g + 1) * stride),
    weights: batch.weights.subarray(g * stride, (g + 1) * stride),
  };
}

/** Checks that `graph` is a well-formed GraphView (array lengths match the capacity). */
export function validateGraph(name: string, graph: GraphView): void {
  if (graph == null || typeof graph !== "object") throw new InvalidArgumentError(name, "a GraphView", graph);
  expectInt(`${name}.capacity`, graph.capacity, 0);
  if (!(graph.neighbors instanceof Int32Array) || graph.neighbors.length !== graph.capacity * GRAPH_TOP_K) {
    throw new InvalidArgumentError(`${name}.neighbors`, `Int32Array of length ${graph.capacity * GRAPH_TOP_K}`, graph.neighbors);
  }
  if (!(graph.weights instanceof Float32Array) || graph.weights.length !== graph.capacity * GRAPH_TOP_K) {
    throw new InvalidArgumentError(`${name}.weights`, `Float32Array of length ${graph.capacity * GRAPH_TOP_K}`, graph.weights);
  }
}

/** Checks that `batch` is a well-formed GraphBatch. */
export function validateGraphBatch(name: string, batch: GraphBatch): void {
  if (batch == null || typeof batch !== "object") throw new InvalidArgumentError(name, "a GraphBatch", batch);
  expectInt(`${name}.numGraphs`, batch.numGraphs, 0);
  expectInt(`${name}.capacity`, batch.capacity, 0);
  const n = batch.numGraphs * batch.capacity * GRAPH_TOP_K;
  if (!(batch.neighbors instanceof Int32Array) || batch.neighbors.length !== n) {
    throw new InvalidArgumentError(`${name}.neighbors`, `Int32Array of length ${n}`, batch.neighbors);
  }
  if (!(batch.weights instanceof Float32Array) || batch.weights.length !== n) {
    throw new InvalidArgumentError(`${name}.weights`, `Float32Array of length ${n}`, batch.weights);
  }
}

import { expectInt, InvalidArgumentError } from "@kvwalk/core";
import { GRAPH_TOP_K, type GraphBatch, type GraphView, validateGraph, validateGraphBatch } from "./graph.js";

const f32 = Math.fround;

/**
 * Writes up to 4 candidates (already ranked: keys `idx`, probabilities `val`, first `count` used)
 * into one node with the writer's rule, shared by the top-k writer and the fused decode attention:
 * candidates whose probability is NaN or <= 0 are dropped (valid ones stay first, in order), the
 * rest are divided by their float32 sum taken in order; unused entries are -1 / 0.
 */
export function writeNormalizedTop4(
  idx: ArrayLike<number>,
  val: ArrayLike<number>,
  count: number,
  outNeighbors: Int32Array,
  outWeights: Float32Array,
  offset: number,
): void {
  let sum = 0;
  let valid = 0;
  for (let s = 0; s < count; s++) if (val[s] > 0) sum = f32(sum + val[s]);
  for (let s = 0; s < count; s++) {
    if (!(val[s] > 0)) continue;
    outNeighbors[offset + valid] = idx[s];
    outWeights[offset + valid] = f32(val[s] / sum);
    valid++;
  }
  for (let s = valid; s < GRAPH_TOP_K; s++) {
    outNeighbors[offset + s] = -1;
    outWeights[offset + s] = 0;
  }
}

/**
 * Inserts (value, key) into a top-4 list sorted by decreasing value (`val`/`idx`, the first `count`
 * entries used) and returns the new count. Keys must arrive in increasing order: an equal value goes
 * after the entries already there, so ties keep the lower key first (the CUDA kernels' rule). The
 * caller filters values that may not enter (NaN, masked).
 */
export function pushTop4(val: number[], idx: number[], count: number, value: number, key: number): number {
  if (count === GRAPH_TOP_K && !(value > val[GRAPH_TOP_K - 1])) return count;
  let pos = count < GRAPH_TOP_K ? count : GRAPH_TOP_K - 1;
  while (pos > 0 && value > val[pos - 1]) {
    val[pos] = val[pos - 1];
    idx[pos] = idx[pos - 1];
    pos--;
  }
  val[pos] = value;
  idx[pos] = key;
  return count < GRAPH_TOP_K ? count + 1 : count;
}

/**
 * Selects the top-4 of one probability row and writes it into `out` at `offset` (4 neighbours, 4
 * weights), with exactly the CUDA writer's float32 arithmetic so both produce the same bits:
 * - each input is rounded to float32 first (the kernel reads float32 rows);
 * - entries that are NaN, <= 0 or not finite are skipped (masked keys carry 0 or -inf);
 * - ranking by value, ties by lower key index; entries stored by decreasing weight;
 * - weights = value / sum, the sum taken in float32 in storage order (largest first);
 * - unused entries are -1 / 0.
 */
export function selectTopK(
  probs: ArrayLike<number>,
  n: number,
  rowOffset: number,
  outNeighbors: Int32Array,
  outWeights: Float32Array,
  offset: number,
): void {
  const idx = [-1, -1, -1, -1];
  const val = [0, 0, 0, 0];
  let count = 0;
  for (let j = 0; j < n; j++) {
    const p = f32(probs[rowOffset + j]);
    if (!(p > 0) || p === Number.POSITIVE_INFINITY) continue;
    count = pushTop4(val, idx, count, p, j);
  }
  writeNormalizedTop4(idx, val, count, outNeighbors, outWeights, offset);
}

/**
 * Top-4 of one probability row `probs` (length n, keys 0..n-1; entries that are NaN, <= 0, infinite
 * or masked are skipped) written into node `node`. Ties broken by lower key index. A row with no
 * valid entry leaves the node empty (all -1 / 0).
 */
export function writeTopK(graph: GraphView, node: number, probs: ArrayLike<number>, n?: number): void {
  validateGraph("graph", graph);
  expectInt("node", node, 0, graph.capacity - 1);
  if (probs == null || typeof probs.length !== "number") throw new InvalidArgumentError("probs", "an array of probabilities", probs);
  const len = n ?? probs.length;
  expectInt("n", len, 0, probs.length);
  selectTopK(probs, len, 0, graph.neighbors, graph.weights, node * GRAPH_TOP_K);
}

/** Rows of attention probabilities, each written into one (graph, node) of a batch. */
export interface TopKRows {
  /** Float32Array [rows, n]: row r is the probability row of a query. */
  probs: Float32Array;
  /** Keys per row (the row stride). */
  n: number;
  /** Int32Array [rows]: which graph of the batch each row goes to. */
  graphIds: Int32Array;
  /** Int32Array [rows]: which node (query slot) each row goes to. */
  nodes: Int32Array;
}

/** Validates a TopKRows against a batch and returns the row count (shared by twin and CUDA path). */
export function validateTopKRows(batch: GraphBatch, rows: TopKRows): number {
  validateGraphBatch("batch", batch);
  if (rows == null || typeof rows !== "object") throw new InvalidArgumentError("rows", "a TopKRows object", rows);
  expectInt("rows.n", rows.n, 0, 2 ** 30);
  if (!(rows.graphIds instanceof Int32Array)) throw new InvalidArgumentError("rows.graphIds", "an Int32Array", rows.graphIds);
  const count = rows.graphIds.length;
  if (!(rows.nodes instanceof Int32Array) || rows.nodes.length !== count) {
    throw new InvalidArgumentError("rows.nodes", `Int32Array of length ${count} (rows.graphIds.length)`, rows.nodes);
  }
  if (!(rows.probs instanceof Float32Array) || rows.probs.length !== count * rows.n) {
    throw new InvalidArgumentError("rows.probs", `Float32Array of length ${count * rows.n} (rows x n)`, rows.probs);
  }
  for (let r = 0; r < count; r++) {
    expectInt(`rows.graphIds[${r}]`, rows.graphIds[r], 0, batch.numGraphs - 1);
    expectInt(`rows.nodes[${r}]`, rows.nodes[r], 0, batch.capacity - 1);
  }
  return count;
}

/**
 * TypeScript twin of the CUDA top-k writer: each row's top-4 into (graphIds[r], nodes[r]) of the
 * batch. Rows are applied in order, so when two rows target the same node the last one wins (the
 * kernel rejects that case: see writeTopKRowsCuda).
 */
export function writeTopKRows(batch: GraphBatch, rows: TopKRows): void {
  const count = validateTopKRows(batch, rows);
  for (let r = 0; r < count; r++) {
    const off = (rows.graphIds[r] * batch.capacity + rows.nodes[r]) * GRAPH_TOP_K;
    selectTopK(rows.probs, rows.n, r * rows.n, batch.neighbors, batch.weights, off);
  }
}

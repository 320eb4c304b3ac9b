/**
 * Random graphs for tests, the GPU check and benchmarks (deterministic from a seed).
 * - "uniform": 4 neighbours uniform over all nodes, random weights summing to <= 1;
 * - "attention": causal, like a top-4 attention row: a sink (nodes 0..3) and recent tokens dominate,
 *   weights decreasing and renormalized to 1 over the valid entries (some nodes have < 4);
 * - "adversarial": indices out of range (negative, >= numNodes, >= capacity), NaN, negative and
 *   infinite weights, weights summing to more or less than 1.
 */
import { seededRandom } from "@kvwalk/core/testing";
import type { GraphBatch, GraphView } from "@kvwalk/graph-cache";

export type GraphKind = "uniform" | "attention" | "adversarial";

function fillNode(kind: GraphKind, u: number, cap: number, rnd: () => number, nb: Int32Array, wt: Float32Array, off: number): void {
  if (kind === "uniform") {
    let left = 1;
    for (let j = 0; j < 4; j++) {
      nb[off + j] = Math.floor(rnd() * cap);
      const w = j === 3 ? left * rnd() : left * rnd() * 0.8;
      wt[off + j] = w;
      left -= Math.fround(w);
    }
    return;
  }
  if (kind === "attention") {
    const k = u === 0 ? 0 : Math.min(u, 1 + Math.floor(rnd() * 4));
    const chosen = new Set<number>();
    const raw: number[] = [];
    while (chosen.size < k) {
      const r = rnd();
      const key = r < 0.3 ? Math.floor(rnd() * Math.min(4, u)) : u - 1 - Math.floor(rnd() ** 2 * u);
      if (!chosen.has(key)) {
        chosen.add(key);
        raw.push(rnd() + 0.05);
      }
    }
    raw.sort((a, b) => b - a);
    const total = raw.reduce((a, b) => a + b, 0);
    const keys = [...chosen];
    for (let j = 0; j < 4; j++) {
      nb[off + j] = j < k ? keys[j] : -1;
      wt[off + j] = j < k ? raw[j] / total : 0;
    }
    return;
  }
  for (let j = 0; j < 4; j++) {
    const r = rnd();
    nb[off + j] = r < 0.1 ? -1 : r < 0.15 ? -7 - Math.floor(rnd() * 1000) : r < 0.2 ? cap + Math.floor(rnd() * 1000) : Math.floor(rnd() * cap);
    const q = rnd();
    wt[off + j] = q < 0.08 ? Number.NaN : q < 0.14 ? -rnd() : q < 0.17 ? Number.POSITIVE_INFINITY : q < 0.2 ? 0 : rnd() * 0.6;
  }
}

export function randomGraph(kind: GraphKind, capacity: number, seed: number): GraphView {
  const rnd = seededRandom(seed);
  const neighbors = new Int32Array(capacity * 4);
  const weights = new Float32Array(capacity * 4);
  for (let u = 0; u < capacity; u++) fillNode(kind, u, capacity, rnd, neighbors, weights, u * 4);
  return { capacity, neighbors, weights };
}

export function randomBatch(kind: GraphKind, numGraphs: number, capacity: number, seed: number): GraphBatch {
  const rnd = seededRandom(seed);
  const neighbors = new Int32Array(numGraphs * capacity * 4);
  const weights = new Float32Array(numGraphs * capacity * 4);
  for (let g = 0; g < numGraphs; g++) {
    for (let u = 0; u < capacity; u++) fillNode(kind, u, capacity, rnd, neighbors, weights, (g * capacity + u) * 4);
  }
  return { numGraphs, capacity, neighbors, weights };
}

/**
 * A causal "attention" graph whose nodes also attend to themselves, as decode attention rows do (key
 * u of query u): every third node's last valid slot (or its first empty one) points to itself.
 */
export function causalWithSelfLoops(capacity: number, seed: number): GraphView {
  const g = randomGraph("attention", capacity, seed);
  for (let u = 0; u < capacity; u += 3) {
    let j = 0;
    while (j < 3 && g.neighbors[u * 4 + j + 1] >= 0) j++;
    if (g.neighbors[u * 4 + j] < 0) {
      g.neighbors[u * 4 + j] = u;
      g.weights[u * 4 + j] = 0.3;
    } else {
      g.neighbors[u * 4 + j] = u;
    }
  }
  return g;
}

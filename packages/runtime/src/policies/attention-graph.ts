import type { CacheState } from "./policy.js";

/**
 * The recorded attention graph of one (layer, KV head), indexed by token position: node u's out-edges
 * are query u's attention row over the keys cached when u was the query (u -> key j, weight A[u, j]).
 * Rows are stored sparsely per node and pruned in place as keys are evicted (an evicted token never
 * returns, so a pruned edge is gone for good). Memory: at most sum_t min(t + 1, budget) edges.
 */
export class AttentionGraph {
  /** keys[u]: Int32Array of key positions (ascending) of node u's stored edges, or null. */
  readonly keys: (Int32Array | null)[];
  /** weights[u]: Float32Array, same length as keys[u]. */
  readonly weights: (Float32Array | null)[];
  /** len[u]: how many of keys[u] / weights[u] are valid (pruning shortens it). */
  readonly len: Int32Array;

  constructor(readonly length: number) {
    this.keys = new Array(length).fill(null);
    this.weights = new Array(length).fill(null);
    this.len = new Int32Array(length);
  }

  /**
   * Stores query u's row: probs[i] for key cache.tokens[i]. Keys below `minKey` are skipped (sinks,
   * whose mass then acts as a dead end); weights are probs / rowSum when `normalize`, else raw;
   * edges with normalized weight < `epsilon` are dropped.
   */
  record(u: number, cache: CacheState, probs: Float64Array, minKey: number, normalize: boolean, epsilon: number): void {
    const n = cache.size;
    const tokens = cache.tokens;
    let sum = 0;
    for (let i = 0; i < n; i++) sum += probs[i];
    if (!(sum > 0)) {
      this.len[u] = 0;
      return;
    }
    const inv = 1 / sum;
    const scale = normalize ? inv : 1;
    const start = cache.lowerBound(minKey);
    let count = 0;
    for (let i = start; i < n; i++) if (probs[i] * inv >= epsilon && probs[i] > 0) count++;
    const k = new Int32Array(count);
    const w = new Float32Array(count);
    let c = 0;
    for (let i = start; i < n; i++) {
      const p = probs[i];
      if (p * inv >= epsilon && p > 0) {
        k[c] = tokens[i];
        w[c] = p * scale;
        c++;
      }
    }
    this.keys[u] = k;
    this.weights[u] = w;
    this.len[u] = count;
  }

  /** Drops node u's row (u was evicted). */
  drop(u: number): void {
    this.keys[u] = null;
    this.weights[u] = null;
    this.len[u] = 0;
  }

  /** Removes node u's edges to keys with alive[key] = 0, in place. */
  prune(u: number, alive: Uint8Array): void {
    const k = this.keys[u];
    if (k === null) return;
    const w = this.weights[u]!;
    const n = this.len[u];
    let c = 0;
    for (let i = 0; i < n; i++) {
      const j = k[i];
      if (alive[j] !== 0) {
        k[c] = j;
        w[c] = w[i];
        c++;
      }
    }
    this.len[u] = c;
  }

  /** Stored edges of the given nodes (for stats). */
  edgeCount(nodes: Int32Array, from: number, to: number): number {
    let e = 0;
    for (let i = from; i < to; i++) e += this.len[nodes[i]];
    return e;
  }
}

export interface PowerIterationOptions {
  teleport: number;
  tol: number;
  maxIter: number;
}

/**
 * Personalized PageRank by power iteration, with the shadow walker's semantics:
 * - nodes: the live tokens cache.tokens[lo..size) (lo = first non-sink); sinks are never entered;
 * - a step from u follows edge u -> v with probability (1 - teleport) x w(u, v) (w normalized by
 *   u's full recorded row), and teleports otherwise: the teleport probability, edges into sinks or
 *   evicted keys, and nodes without edges all send their mass to the start distribution `start`
 *   (uniform over the last `startWindow` live non-sink tokens);
 * - warm start from `x` (entries of live nodes; rescaled to sum 1, or the start distribution when
 *   empty); stops when the L1 change is below `tol` or after `maxIter` iterations.
 * On return x[u] holds the scores of the live non-sink nodes (sum 1). `y` is scratch of the same
 * length. Returns the number of iterations. Edges must already be pruned to live keys.
 */
export function personalizedPageRank(
  graph: AttentionGraph,
  cache: CacheState,
  lo: number,
  startWindow: number,
  opts: PowerIterationOptions,
  x: Float64Array,
  y: Float64Array,
): number {
  const tokens = cache.tokens;
  const n = cache.size;
  if (n <= lo) return 0;
  const startLo = Math.max(lo, n - startWindow);
  const startMass = 1 / (n - startLo);
  let sum = 0;
  for (let i = lo; i < n; i++) sum += x[tokens[i]];
  if (sum > 0 && Number.isFinite(sum)) {
    const inv = 1 / sum;
    for (let i = lo; i < n; i++) x[tokens[i]] *= inv;
  } else {
    for (let i = lo; i < n; i++) x[tokens[i]] = i >= startLo ? startMass : 0;
  }
  const follow = 1 - opts.teleport;
  const keys = graph.keys;
  const weights = graph.weights;
  const len = graph.len;
  let iter = 0;
  while (iter < opts.maxIter) {
    iter++;
    for (let i = lo; i < n; i++) y[tokens[i]] = 0;
    let moved = 0;
    for (let i = lo; i < n; i++) {
      const u = tokens[i];
      const xu = x[u] * follow;
      const m = len[u];
      if (xu === 0 || m === 0) continue;
      const k = keys[u]!;
      const w = weights[u]!;
      for (let e = 0; e < m; e++) {
        const d = xu * w[e];
        y[k[e]] += d;
        moved += d;
      }
    }
    const back = (1 - moved) * startMass;
    for (let i = startLo; i < n; i++) y[tokens[i]] += back;
    let diff = 0;
    for (let i = lo; i < n; i++) {
      const u = tokens[i];
      diff += Math.abs(y[u] - x[u]);
      x[u] = y[u];
    }
    if (diff < opts.tol) break;
  }
  return iter;
}

/**
 * Exact personalized PageRank of the same chain as `personalizedPageRank`, in one backward sweep.
 * Causality makes the attention graph a DAG plus self-loops (query u only attends to keys j <= u),
 * so with c the total mass arriving by teleport (start distribution `start`, including dead ends),
 * the stationary distribution is x = c z where z = start + (1 - teleport) W^T z is triangular:
 * visiting nodes from the newest to the oldest, z[u] is final once every later node has pushed its
 * mass, z[u] = (start[u] + pushed[u]) / (1 - (1 - teleport) w(u, u)). Then x = z / sum(z), since the
 * distribution sums to 1. O(stored edges of live nodes), no iteration; exact up to rounding.
 * Edges need not be pruned: mass pushed to an evicted key lands in its unused slot of `x` and is
 * dropped by the final normalization, which is exactly "an edge into an evicted key teleports".
 * On return x[u] holds the scores of cache.tokens[lo..size); other entries of x are garbage.
 */
export function personalizedPageRankCausal(
  graph: AttentionGraph,
  cache: CacheState,
  lo: number,
  startWindow: number,
  teleport: number,
  x: Float64Array,
): void {
  const tokens = cache.tokens;
  const n = cache.size;
  if (n <= lo) return;
  const startLo = Math.max(lo, n - startWindow);
  const startMass = 1 / (n - startLo);
  for (let i = lo; i < n; i++) x[tokens[i]] = i >= startLo ? startMass : 0;
  const follow = 1 - teleport;
  const keys = graph.keys;
  const weights = graph.weights;
  const len = graph.len;
  let sum = 0;
  for (let i = n - 1; i >= lo; i--) {
    const u = tokens[i];
    let m = len[u];
    let zu = x[u];
    if (m > 0) {
      const k = keys[u]!;
      const w = weights[u]!;
      // Keys are ascending and <= u, so a self-loop is the last entry (never pruned: u is live).
      if (k[m - 1] === u) {
        zu /= 1 - follow * w[m - 1];
        m--;
      }
      const f = follow * zu;
      if (f !== 0) for (let e = 0; e < m; e++) x[k[e]] += f * w[e];
    }
    x[u] = zu;
    sum += zu;
  }
  const inv = 1 / sum;
  for (let i = lo; i < n; i++) x[tokens[i]] *= inv;
}

/**
 * networkx's `pagerank(from_numpy_array(A))` on the live tokens (all of cache.tokens, sinks included):
 * an undirected weighted graph whose edge {u, v} (u > v) weighs A[u, v] as recorded, self-loops
 * A[u, u] counted once (as `to_directed` does); a step from u moves to neighbour v with probability
 * (1 - teleport) x w(u, v) / deg(u); teleport and dangling nodes go to the uniform distribution.
 * Warm start from `x`; `y`, `deg` and `f` are scratch [T]. With `alive` ([T], 0 = evicted), edges
 * to evicted keys are pruned in place first (in the degree pass). Returns the number of iterations.
 */
export function undirectedPageRank(
  graph: AttentionGraph,
  cache: CacheState,
  opts: PowerIterationOptions,
  x: Float64Array,
  y: Float64Array,
  deg: Float64Array,
  f: Float64Array,
  alive?: Uint8Array,
): number {
  const tokens = cache.tokens;
  const n = cache.size;
  if (n === 0) return 0;
  const keys = graph.keys;
  const weights = graph.weights;
  const len = graph.len;
  for (let i = 0; i < n; i++) deg[tokens[i]] = 0;
  for (let i = 0; i < n; i++) {
    const u = tokens[i];
    const k = keys[u];
    if (k === null) continue;
    const w = weights[u]!;
    const m = len[u];
    // Prune edges to evicted keys (alive = 0) and accumulate degrees in the same pass.
    let c = 0;
    for (let e = 0; e < m; e++) {
      const j = k[e];
      if (alive !== undefined && alive[j] === 0) continue;
      const we = w[e];
      k[c] = j;
      w[c] = we;
      c++;
      deg[u] += we;
      if (j !== u) deg[j] += we;
    }
    len[u] = c;
  }
  let sum = 0;
  for (let i = 0; i < n; i++) sum += x[tokens[i]];
  if (sum > 0 && Number.isFinite(sum)) {
    const inv = 1 / sum;
    for (let i = 0; i < n; i++) x[tokens[i]] *= inv;
  } else {
    for (let i = 0; i < n; i++) x[tokens[i]] = 1 / n;
  }
  const d = 1 - opts.teleport;
  let iter = 0;
  while (iter < opts.maxIter) {
    iter++;
    let dangling = 0;
    for (let i = 0; i < n; i++) {
      const u = tokens[i];
      y[u] = 0;
      if (deg[u] > 0) f[u] = (d * x[u]) / deg[u];
      else {
        f[u] = 0;
        dangling += x[u];
      }
    }
    for (let i = 0; i < n; i++) {
      const u = tokens[i];
      const m = len[u];
      if (m === 0) continue;
      const k = keys[u]!;
      const w = weights[u]!;
      const fu = f[u];
      let back = 0;
      for (let e = 0; e < m; e++) {
        const v = k[e];
        const we = w[e];
        y[v] += fu * we;
        if (v !== u) back += f[v] * we;
      }
      y[u] += back;
    }
    const base = (1 - d + d * dangling) / n;
    let diff = 0;
    for (let i = 0; i < n; i++) {
      const u = tokens[i];
      const v = y[u] + base;
      diff += Math.abs(v - x[u]);
      x[u] = v;
    }
    if (diff < opts.tol) break;
  }
  return iter;
}

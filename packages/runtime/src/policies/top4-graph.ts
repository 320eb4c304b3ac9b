import { InvalidArgumentError } from "@kvwalk/core";
import { compactGraph, createGraph, GRAPH_TOP_K, type GraphView, writeTopK } from "@kvwalk/graph-cache";
import { PageRankPolicy } from "./pagerank-base.js";
import type { CacheState } from "./policy.js";

/**
 * Shared by pagerank-top4 and pagerank-walker: the graph cache's view of attention. Query t's row is
 * reduced to its top-4 keys (renormalized to sum 1, by @kvwalk/graph-cache's writeTopK, sinks
 * included as the device writer does) and stored at node t (position-indexed graph of capacity T).
 * A refresh compacts the graph to the live tokens in position order (node i = i-th live token, so
 * the most recent token is the last node and the live sinks are nodes 0..excludeBelow-1), which is
 * exactly the layout the shadow walker reads.
 */
export abstract class Top4GraphPolicy extends PageRankPolicy {
  private graph: GraphView = createGraph(0);
  /** The compacted live graph, rebuilt in place at each refresh (capacity T). */
  private live: GraphView = createGraph(0);
  /** Position -> live node index (-1 when evicted), rebuilt at each refresh. */
  private remap = new Int32Array(0);

  protected resetGraph(): void {
    this.graph = createGraph(this.length);
    this.live = createGraph(this.length);
    this.remap = new Int32Array(this.length);
  }

  protected update(t: number, cache: CacheState, probs: Float64Array): void {
    // Keys are sorted by position, so ranking slot indices (ties: lower index) equals ranking positions.
    const g = this.graph;
    writeTopK(g, t, probs, cache.size);
    const base = t * GRAPH_TOP_K;
    for (let s = 0; s < GRAPH_TOP_K; s++) {
      const slot = g.neighbors[base + s];
      if (slot >= 0) g.neighbors[base + s] = cache.tokens[slot];
    }
  }

  /**
   * Graph of the live tokens (node i = cache.tokens[i]) and the number of live sinks: exactly what
   * @kvwalk/graph-cache's compactGraph(graph, alive) returns for nodes < cache.size (neighbours
   * remapped, entries pointing to evicted tokens squeezed out, weights unchanged), written into a
   * buffer reused across refreshes and visiting only the live nodes. Valid until the next call.
   */
  protected compactLive(cache: CacheState): { graph: GraphView; numNodes: number; excludeBelow: number } {
    const n = cache.size;
    const tokens = cache.tokens;
    const remap = this.remap;
    remap.fill(-1);
    for (let i = 0; i < n; i++) remap[tokens[i]] = i;
    const srcN = this.graph.neighbors;
    const srcW = this.graph.weights;
    const dstN = this.live.neighbors;
    const dstW = this.live.weights;
    const cap = this.length;
    for (let i = 0; i < n; i++) {
      const src = tokens[i] * GRAPH_TOP_K;
      const dst = i * GRAPH_TOP_K;
      let w = 0;
      for (let s = 0; s < GRAPH_TOP_K; s++) {
        const j = srcN[src + s];
        const nj = j >= 0 && j < cap ? remap[j] : -1;
        if (nj < 0) continue;
        dstN[dst + w] = nj;
        dstW[dst + w] = srcW[src + s];
        w++;
      }
      for (; w < GRAPH_TOP_K; w++) {
        dstN[dst + w] = -1;
        dstW[dst + w] = 0;
      }
    }
    return { graph: this.live, numNodes: n, excludeBelow: cache.lowerBound(this.sinks) };
  }

  /** The same graph through @kvwalk/graph-cache's compactGraph (the reference of compactLive; tests). */
  compactLiveReference(cache: CacheState): GraphView {
    const keep = new Uint8Array(this.length);
    for (let i = 0; i < cache.size; i++) keep[cache.tokens[i]] = 1;
    return compactGraph(this.graph, keep);
  }
}

const TWO32 = 4294967296;

/**
 * Exact personalized PageRank of the shadow walker's chain on a compacted causal top-4 graph (the
 * quantity @kvwalk/walker-cuda's `pagerankExact` computes by power iteration), in one backward sweep:
 * every edge of a causal graph points to an older node or to itself, so the triangular solve of
 * personalizedPageRankCausal applies. Edge probabilities follow the walker's draw rule (float32
 * cumulative weights, a draw x1 < c * 2^32; missing mass, sinks and invalid entries are dead ends);
 * the teleport probability and the start distribution (uniform over the last
 * min(startWindow, numNodes - excludeBelow) nodes) are taken as exact reals, so the result matches
 * the walker's chain to ~1e-9. Returns Float64Array [numNodes] (sinks 0, sums to 1).
 */
export function top4PageRankCausal(
  graph: GraphView,
  opts: { numNodes: number; excludeBelow: number; startWindow: number; teleport: number },
): Float64Array {
  const { numNodes, excludeBelow } = opts;
  const z = new Float64Array(numNodes);
  const W = Math.min(opts.startWindow, numNodes - excludeBelow);
  if (W <= 0) return z;
  for (let k = 0; k < W; k++) z[numNodes - 1 - k] = 1 / W;
  const follow = 1 - opts.teleport;
  const nb = graph.neighbors;
  const wt = graph.weights;
  const targets = [0, 0, 0, 0];
  const probs = [0, 0, 0, 0];
  let sum = 0;
  for (let u = numNodes - 1; u >= excludeBelow; u--) {
    let c = 0;
    let taken = 0;
    let self = 0;
    let count = 0;
    for (let j = 0; j < GRAPH_TOP_K; j++) {
      const w = wt[u * GRAPH_TOP_K + j];
      if (!(w > 0 && w <= 3.4028234663852886e38)) continue;
      c = Math.fround(c + w);
      const b = Math.min(TWO32, Math.ceil(c * TWO32));
      const p = (b - taken) / TWO32;
      taken = b;
      const v = nb[u * GRAPH_TOP_K + j];
      if (v > u && v < numNodes) throw new InvalidArgumentError("graph", `a causal graph (node ${u} points to later node ${v})`, v);
      if (v === u) self += p;
      else if (v >= excludeBelow && v < numNodes) {
        targets[count] = v;
        probs[count] = p;
        count++;
      }
    }
    const zu = z[u] / (1 - follow * self);
    z[u] = zu;
    sum += zu;
    const f = follow * zu;
    for (let e = 0; e < count; e++) z[targets[e]] += f * probs[e];
  }
  const inv = 1 / sum;
  for (let u = excludeBelow; u < numNodes; u++) z[u] *= inv;
  return z;
}

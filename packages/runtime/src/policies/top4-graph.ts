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

  protected resetGraph(): void {
    this.graph = createGraph(this.length);
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

  /** Graph of the live tokens (node i = cache.tokens[i]) and the number of live sinks. */
  protected compactLive(cache: CacheState): { graph: GraphView; numNodes: number; excludeBelow: number } {
    return { graph: compactGraph(this.graph, this.alive), numNodes: cache.size, excludeBelow: cache.lowerBound(this.sinks) };
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

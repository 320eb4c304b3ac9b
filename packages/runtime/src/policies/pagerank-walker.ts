import { InvalidArgumentError } from "@kvwalk/core";
import type { GraphView } from "@kvwalk/graph-cache";
import { resolveWalkOptions, type WalkOptions } from "@kvwalk/walker-cuda";
import { mixSeed } from "../rng.js";
import type { CacheState } from "./policy.js";
import { Top4GraphPolicy } from "./top4-graph.js";

// Philox4x32-10 constants (Salmon et al., 2011), as in @kvwalk/walker-cuda's philox.ts.
const M0 = 0xd2511f53;
const M1 = 0xcd9e8d57;
const W0 = 0x9e3779b9;
const W1 = 0xbb67ae85;
const TWO32 = 4294967296;
const INV_TWO32 = 1 / TWO32;
const FLT_MAX = 3.4028234663852886e38;

/**
 * Visit counts of @kvwalk/walker-cuda's `walkReference(graph, opts)`, bit for bit (same Philox
 * counters and key, same integer draws, same float32 edge accumulation, same step order: the walk
 * is the contract with the CUDA kernel and is unchanged), added into `counts` ([numNodes], zeroed by
 * the caller). Faster because Philox is inlined with its round keys precomputed and the high half
 * of each 32 x 32-bit product is taken from one float64 multiply: with lo = imul(a, b) (exact),
 * a * b in float64 is within 2^10 of the exact product P < 2^64 and a * b - lo within 2^11 of
 * hi * 2^32, so (a * b - lo) / 2^32 is within 2^-21 of the integer hi and rounding it gives hi
 * exactly (checked against walkReference and mulhi32 in the tests).
 */
export function walkCounts(graph: GraphView, opts: WalkOptions, counts: Uint32Array): void {
  const r = resolveWalkOptions(opts, graph.capacity);
  if (!(counts instanceof Uint32Array) || counts.length < r.numNodes) throw new InvalidArgumentError("counts", `a Uint32Array of length >= ${r.numNodes}`, counts);
  const W = r.window;
  if (W <= 0 || r.walkers === 0 || r.steps === 0) return;
  const neighbors = graph.neighbors;
  const weights = graph.weights;
  const last = r.numNodes - 1;
  const T = r.teleportThreshold;
  const lo = r.excludeBelow;
  const hi = r.numNodes;
  const g = r.graphIndex;
  const steps = r.steps;
  // Round keys: (k0, k1) bumped by the Weyl constants between rounds.
  const k0 = new Float64Array(10);
  const k1 = new Float64Array(10);
  for (let i = 0, a = r.seed >>> 0, b = 0; i < 10; i++) {
    k0[i] = a;
    k1[i] = b;
    a = (a + W0) >>> 0;
    b = (b + W1) >>> 0;
  }
  for (let w = 0; w < r.walkers; w++) {
    let cur = 0;
    for (let s = 0; s <= steps; s++) {
      // Philox4x32-10 of counter (w, s, g, 0), key (seed, 0).
      let x0 = w;
      let x1 = s;
      let x2 = g;
      let x3 = 0;
      for (let i = 0; i < 10; i++) {
        const lo0 = Math.imul(M0, x0) >>> 0;
        const hi0 = ((M0 * x0 - lo0) * INV_TWO32 + 0.5) >>> 0;
        const lo1 = Math.imul(M1, x2) >>> 0;
        const hi1 = ((M1 * x2 - lo1) * INV_TWO32 + 0.5) >>> 0;
        x0 = (hi1 ^ x1 ^ k0[i]) >>> 0;
        x1 = lo1;
        x2 = (hi0 ^ x3 ^ k1[i]) >>> 0;
        x3 = lo0;
      }
      // floor(x2 * W / 2^32), the start/teleport offset (exact by the same argument).
      const wlo = Math.imul(x2, W) >>> 0;
      const jump = last - (((x2 * W - wlo) * INV_TWO32 + 0.5) >>> 0);
      if (s === 0) {
        cur = jump;
        continue;
      }
      let next = -1;
      if (x0 >= T) {
        const e = cur * 4;
        let c = 0;
        for (let j = 0; j < 4; j++) {
          const wt = weights[e + j];
          if (!(wt > 0 && wt <= FLT_MAX)) continue;
          c = Math.fround(c + wt);
          if (x1 < c * TWO32) {
            const v = neighbors[e + j];
            if (v >= lo && v < hi) next = v;
            break;
          }
        }
      }
      cur = next >= 0 ? next : jump;
      counts[cur]++;
    }
  }
}

/**
 * `pagerank-walker`: the design's shadow walker (Monte-Carlo PageRank, Avrachenkov et al., 2007,
 * "Monte Carlo methods in PageRank computation: when one iteration is sufficient"): `walkers`
 * (default 1024) random walks of `steps` (default 20) steps on the top-4 graph, started and
 * teleported (0.15) to the last `startWindow` live tokens, dead ends teleport, sinks never entered;
 * visit counts bit-exact with @kvwalk/walker-cuda's `walkReference` and the CUDA kernel (computed
 * by `walkCounts`). Counts accumulate over refreshes as score = decay x previous + new (default
 * decay 0.5), which averages out sampling noise at the eviction boundary. Each refresh draws a
 * fresh seed from (seed, refresh index) and uses the stream id as the walker's graph index.
 */
export class PageRankWalkerPolicy extends Top4GraphPolicy {
  readonly name: string = "pagerank-walker";
  private acc = new Float64Array(0);
  private counts = new Uint32Array(0);

  protected override resetGraph(): void {
    super.resetGraph();
    this.acc = new Float64Array(this.length);
    this.counts = new Uint32Array(this.length);
  }

  protected refresh(_t: number, cache: CacheState): void {
    const { graph, numNodes, excludeBelow } = this.compactLive(cache);
    const counts = this.counts;
    counts.fill(0, 0, numNodes);
    walkCounts(
      graph,
      {
        numNodes,
        excludeBelow,
        teleport: this.teleport,
        startWindow: this.startWindow,
        walkers: this.options.walkers ?? 1024,
        steps: this.options.steps ?? 20,
        seed: mixSeed(this.options.seed ?? 0, this.counters.refreshes),
        graphIndex: this.streamId,
      },
      counts,
    );
    const decay = this.options.decay ?? 0.5;
    for (let i = 0; i < numNodes; i++) {
      const p = cache.tokens[i];
      const v = decay * this.acc[p] + counts[i];
      this.acc[p] = v;
      this.scores[p] = v;
    }
  }
}

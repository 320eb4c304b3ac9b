import { walkReference } from "@kvwalk/walker-cuda";
import { mixSeed } from "../rng.js";
import type { CacheState } from "./policy.js";
import { Top4GraphPolicy } from "./top4-graph.js";
import { walkerFor } from "./walker-kernel.js";

/**
 * `pagerank-walker`: the design's shadow walker (Monte-Carlo PageRank, Avrachenkov et al., 2007,
 * "Monte Carlo methods in PageRank computation: when one iteration is sufficient"): `walkers`
 * (default 1024) random walks of `steps` (default 20) steps on the top-4 graph, started and
 * teleported (0.15) to the last `startWindow` live tokens, dead ends teleport, sinks never entered;
 * visit counts bit-exact with @kvwalk/walker-cuda's `walkReference` and the CUDA kernel (computed
 * by the WebAssembly `Walker`, tested against walkReference). Counts accumulate over refreshes as score = decay x previous + new (default
 * decay 0.5), which averages out sampling noise at the eviction boundary. Each refresh draws a
 * fresh seed from (seed, refresh index) and uses the stream id as the walker's graph index.
 */
export class PageRankWalkerPolicy extends Top4GraphPolicy {
  readonly name: string = "pagerank-walker";
  /** Float64Array [T]: decayed visit counts by position (the scores as of the last refresh). */
  protected acc = new Float64Array(0);

  protected override resetGraph(): void {
    super.resetGraph();
    this.acc = new Float64Array(this.length);
  }

  /** The walk's options shared with the reference walker (excluding the graph's own sizes). */
  protected walkOptions() {
    return {
      teleport: this.teleport,
      startWindow: this.startWindow,
      walkers: this.options.walkers ?? 1024,
      steps: this.options.steps ?? 20,
      seed: mixSeed(this.options.seed ?? 0, this.counters.refreshes),
      graphIndex: this.streamId,
    };
  }

  /** score = decay x previous + visits, for the first `n` live tokens (cache order). */
  protected accumulate(cache: CacheState, counts: ArrayLike<number>, n: number): void {
    const decay = this.options.decay ?? 0.5;
    for (let i = 0; i < n; i++) {
      const p = cache.tokens[i];
      const v = decay * this.acc[p] + counts[i];
      this.acc[p] = v;
      this.scores[p] = v;
    }
  }

  protected refresh(_t: number, cache: CacheState): void {
    const { graph, numNodes, excludeBelow } = this.compactLive(cache);
    const counts = walkerFor(numNodes).walk(graph, { numNodes, excludeBelow, ...this.walkOptions() });
    this.accumulate(cache, counts, numNodes);
  }
}

/**
 * pagerank-walker as first written (compactGraph + walkReference per refresh, no WebAssembly): the
 * reference the tests and the benchmark compare PageRankWalkerPolicy with (identical evictions).
 * Only the walk differs; options and score accumulation are the same code.
 */
export class PageRankWalkerReferencePolicy extends PageRankWalkerPolicy {
  protected override refresh(_t: number, cache: CacheState): void {
    const counts = walkReference(this.compactLiveReference(cache), {
      numNodes: cache.size,
      excludeBelow: cache.lowerBound(this.sinks),
      ...this.walkOptions(),
    });
    this.accumulate(cache, counts, cache.size);
  }
}

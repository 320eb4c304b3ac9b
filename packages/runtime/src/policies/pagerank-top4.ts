import type { CacheState } from "./policy.js";
import { Top4GraphPolicy, top4PageRankCausal } from "./top4-graph.js";

/**
 * `pagerank-top4`: exact personalized PageRank (Page et al., 1999; Haveliwala, 2002) on what the
 * graph cache stores: each query's top-4 keys, renormalized (the design's SparseAttentionGraph).
 * The walker's chain (teleport 0.15 to the last `startWindow` live tokens, sinks never entered, dead
 * ends teleport) solved exactly by a causal backward sweep (`top4PageRankCausal`, tested against
 * @kvwalk/walker-cuda's `pagerankExact` to 1e-9): the walker's target without sampling noise.
 */
export class PageRankTop4Policy extends Top4GraphPolicy {
  readonly name: string = "pagerank-top4";

  protected refresh(_t: number, cache: CacheState): void {
    const { graph, numNodes, excludeBelow } = this.compactLive(cache);
    const pr = top4PageRankCausal(graph, { numNodes, excludeBelow, teleport: this.teleport, startWindow: this.startWindow });
    for (let i = 0; i < numNodes; i++) this.scores[cache.tokens[i]] = pr[i];
  }
}

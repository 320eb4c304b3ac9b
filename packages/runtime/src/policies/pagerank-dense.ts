import { AttentionGraph, personalizedPageRankCausal } from "./attention-graph.js";
import { PageRankPolicy } from "./pagerank-base.js";
import type { CacheState } from "./policy.js";

/**
 * `pagerank-dense`: personalized PageRank (Page et al., 1999, "The PageRank Citation Ranking";
 * personalized form: Haveliwala, 2002, "Topic-Sensitive PageRank") on the full directed attention
 * graph of the cached tokens: query u -> key j with weight A[u, j] / sum_j A[u, j], as recorded
 * when u was the query, restricted to keys still cached. Teleport (default 0.15) to the last
 * `startWindow` live tokens; sinks are never entered (edges into sinks or evicted keys act as dead
 * ends and teleport), exactly the shadow walker's semantics without sampling noise or the top-4
 * truncation. Solved exactly per refresh by one causal backward sweep (personalizedPageRankCausal;
 * no power iteration needed). Cost per refresh: O(live edges); memory: the recorded rows (pruned as
 * keys die).
 */
export class PageRankDensePolicy extends PageRankPolicy {
  readonly name: string = "pagerank-dense";
  private graph = new AttentionGraph(0);
  private x = new Float64Array(0);

  protected resetGraph(): void {
    this.graph = new AttentionGraph(this.length);
    this.x = new Float64Array(this.length);
  }

  protected update(t: number, cache: CacheState, probs: Float64Array): void {
    this.graph.record(t, cache, probs, this.sinks, true, this.options.epsilon ?? 0);
  }

  protected override onEvict(pos: number): void {
    this.graph.drop(pos);
  }

  protected refresh(_t: number, cache: CacheState): void {
    const lo = cache.lowerBound(this.sinks);
    personalizedPageRankCausal(this.graph, cache, lo, this.startWindow, this.teleport, this.x);
    for (let i = lo; i < cache.size; i++) this.scores[cache.tokens[i]] = this.x[cache.tokens[i]];
  }
}

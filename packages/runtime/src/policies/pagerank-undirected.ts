import { AttentionGraph, undirectedPageRank } from "./attention-graph.js";
import { PageRankPolicy } from "./pagerank-base.js";
import type { CacheState } from "./policy.js";

/**
 * `pagerank-undirected`: the original design's literal Phase-1 scoring, `nx.pagerank(
 * nx.from_numpy_array(A))` (networkx defaults: damping 0.85, no personalization, dangling nodes to
 * uniform), applied causally to the cached tokens. `from_numpy_array` of a lower-triangular A builds
 * an UNDIRECTED graph whose edge {i, j} weighs A[max(i, j), min(i, j)]. A walk on it moves from u to
 * v with probability w(u, v) / deg(u), whose stationary distribution is deg(u) / sum(deg): PageRank
 * converges to roughly the weighted degree, i.e. a token's received attention (H2O's column sum)
 * plus its own row sum (about 1 for every query), blended with the uniform teleport. So this
 * variant ranks tokens almost like H2O; it is reported to show that, not as the method.
 * All live tokens (sinks included) are nodes, as in the design; sinks stay protected. Power iteration
 * with networkx's tolerance (L1 change < N x 1e-6), warm-started from the previous refresh and,
 * after the first refresh, capped at WARM_ITERATIONS iterations (set `maxIter` for full convergence).
 */
/** Iteration cap of warm-started refreshes (after the first, converged one) unless `maxIter` is given. */
export const WARM_ITERATIONS = 4;

export class PageRankUndirectedPolicy extends PageRankPolicy {
  readonly name: string = "pagerank-undirected";
  private graph = new AttentionGraph(0);
  private x = new Float64Array(0);
  private y = new Float64Array(0);
  private deg = new Float64Array(0);
  private f = new Float64Array(0);

  protected resetGraph(): void {
    this.graph = new AttentionGraph(this.length);
    this.x = new Float64Array(this.length);
    this.y = new Float64Array(this.length);
    this.deg = new Float64Array(this.length);
    this.f = new Float64Array(this.length);
  }

  protected update(t: number, cache: CacheState, probs: Float64Array): void {
    this.graph.record(t, cache, probs, 0, false, this.options.epsilon ?? 0);
  }

  protected override onEvict(pos: number): void {
    this.graph.drop(pos);
  }

  protected refresh(_t: number, cache: CacheState): void {
    this.counters.iterations += undirectedPageRank(
      this.graph,
      cache,
      // networkx's stopping rule: L1 change < N x 1e-6. The first refresh iterates to convergence
      // (at most 100 iterations); later ones are warm-started and capped at WARM_ITERATIONS, so
      // convergence is amortized across refreshes (the graph changes by ~refreshEvery nodes each time).
      {
        teleport: this.teleport,
        tol: this.options.tol ?? cache.size * 1e-6,
        maxIter: this.options.maxIter ?? (this.counters.refreshes === 0 ? 100 : WARM_ITERATIONS),
      },
      this.x,
      this.y,
      this.deg,
      this.f,
      this.alive,
    );
    for (let i = 0; i < cache.size; i++) this.scores[cache.tokens[i]] = this.x[cache.tokens[i]];
  }
}

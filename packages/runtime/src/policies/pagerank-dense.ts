import { AttentionGraph, personalizedPageRankCausal } from "./attention-graph.js";
import { PageRankPolicy } from "./pagerank-base.js";
import type { CacheState } from "./policy.js";
import { type TriangleGraph, TriangleHolder, triangleFits, writeTriangleRow } from "./triangle-graph.js";

/**
 * `pagerank-dense` on sparse per-row edge lists (the original implementation): personalized PageRank
 * (Page et al., 1999, "The PageRank Citation Ranking"; personalized form: Haveliwala, 2002,
 * "Topic-Sensitive PageRank") on the full directed attention graph of the cached tokens: query
 * u -> key j with weight A[u, j] / sum_j A[u, j], as recorded when u was the query, restricted to keys
 * still cached. Teleport (default 0.15) to the last `startWindow` live tokens; sinks are never
 * entered (edges into sinks or evicted keys act as dead ends and teleport), exactly the shadow
 * walker's semantics without sampling noise or the top-4 truncation. Solved exactly per refresh by
 * one causal backward sweep (personalizedPageRankCausal; no power iteration needed). Cost per
 * refresh: O(stored edges). Kept as the reference of `PageRankDensePolicy` (tests assert identical
 * scores and evictions) and as its fallback beyond MAX_TRIANGLE_NODES tokens.
 */
export class PageRankDenseSparsePolicy extends PageRankPolicy {
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

/**
 * `pagerank-dense`: the same chain and the same causal backward sweep as PageRankDenseSparsePolicy,
 * on the live graph stored as a packed float32 triangle over the non-sink tokens (TriangleGraph: the
 * live graph is a complete lower triangle) and swept by a WebAssembly SIMD kernel. Every float64
 * operation of the sweep is the same, in the same order per score, so scores, and therefore
 * evictions, are bit-identical to the sparse implementation (tested); edges into evicted keys are not
 * even visited. Memory: a (B + slack)^2 / 2 float32 triangle (B = budget slots).
 */
export class PageRankDensePolicy extends PageRankDenseSparsePolicy {
  /** The live graph, acquired from the pool on first use (begin alone allocates nothing). */
  private readonly holder = new TriangleHolder();
  /** Sequences beyond MAX_TRIANGLE_NODES tokens use the sparse implementation. */
  private sparse = false;

  protected override resetGraph(): void {
    this.endGraph();
    this.sparse = !triangleFits(this.length);
    if (this.sparse) {
      super.resetGraph();
      return;
    }
  }

  protected override endGraph(): void {
    this.holder.release();
  }

  private triangle(): TriangleGraph {
    return this.holder.get(this.length, this.budget, this.refreshEvery);
  }

  protected override update(t: number, cache: CacheState, probs: Float64Array): void {
    if (this.sparse) {
      super.update(t, cache, probs);
      return;
    }
    const tg = this.triangle();
    if (t < this.sinks) return; // sinks are not nodes
    writeTriangleRow(tg, t, cache, probs, cache.lowerBound(this.sinks), true, this.options.epsilon ?? 0);
  }

  protected override onEvict(pos: number): void {
    if (this.sparse) {
      super.onEvict(pos);
      return;
    }
    this.holder.tg?.kill(pos);
  }

  protected override refresh(t: number, cache: CacheState): void {
    if (this.sparse) {
      super.refresh(t, cache);
      return;
    }
    const tg = this.triangle();
    const tokens = cache.tokens;
    const n = cache.size;
    const lo = cache.lowerBound(this.sinks);
    if (n <= lo) return;
    tg.nodeOf(tokens[n - 1]); // the newest token has no row yet
    tg.maybeCompact();
    const startLo = Math.max(lo, n - this.startWindow);
    const startMass = 1 / (n - startLo);
    const x = tg.x;
    const index = tg.index;
    for (let i = lo; i < n; i++) x[index[tokens[i]]] = i >= startLo ? startMass : 0;
    const inv = 1 / tg.sweep(1 - this.teleport);
    for (let i = lo; i < n; i++) {
      const pos = tokens[i];
      this.scores[pos] = x[index[pos]] * inv;
    }
  }
}

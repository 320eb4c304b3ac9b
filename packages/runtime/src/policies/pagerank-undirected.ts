import { AttentionGraph, undirectedPageRank } from "./attention-graph.js";
import { PageRankPolicy } from "./pagerank-base.js";
import type { CacheState } from "./policy.js";
import { type TriangleGraph, TriangleHolder, triangleFits, writeTriangleRow } from "./triangle-graph.js";

/**
 * `pagerank-undirected`: the original design's literal Phase-1 scoring, `nx.pagerank(
 * nx.from_numpy_array(A))` (networkx defaults: damping 0.85, no personalization, dangling nodes to
 * uniform), applied causally to the cached tokens. `from_numpy_array` of a lower-triangular A builds
 * an UNDIRECTED graph whose edge {i, j} weighs A[max(i, j), min(i, j)]. Its stationary distribution
 * x solves x = (1 - d)/N + d (dangling mass)/N + d W D^-1 x (W the symmetric weights, D = diag(deg)):
 * only as the damping d -> 1 is that exactly deg / sum(deg) (a random walk on an undirected graph
 * is reversible with stationary distribution proportional to degree); at d = 0.85 the uniform
 * teleport pulls it towards uniform, so there is no closed form, but it stays close to the weighted
 * degree, i.e. a token's received attention (H2O's column sum) plus its own row sum (about 1 for
 * every query). So this variant ranks tokens almost like H2O; it is reported to show that, not as
 * the method. All live tokens (sinks included) are nodes, as in the design; sinks stay protected.
 * Power iteration with networkx's tolerance (L1 change < N x 1e-6), warm-started from the previous
 * refresh and, after the first refresh, capped at WARM_ITERATIONS iterations (set `maxIter` for
 * full convergence).
 */
/** Iteration cap of warm-started refreshes (after the first, converged one) unless `maxIter` is given. */
export const WARM_ITERATIONS = 4;

/**
 * pagerank-undirected on sparse per-row edge lists (the original implementation, undirectedPageRank):
 * the reference of PageRankUndirectedPolicy and its fallback beyond MAX_TRIANGLE_NODES tokens.
 */
export class PageRankUndirectedSparsePolicy extends PageRankPolicy {
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

  /** networkx's stopping rule (L1 change < N x 1e-6) and the iteration cap of this refresh. */
  protected iterationOptions(cache: CacheState): { teleport: number; tol: number; maxIter: number } {
    // The first refresh iterates to convergence (at most 100 iterations); later ones are warm-started
    // and capped at WARM_ITERATIONS, so convergence is amortized across refreshes (the graph changes
    // by ~refreshEvery nodes each time).
    return {
      teleport: this.teleport,
      tol: this.options.tol ?? cache.size * 1e-6,
      maxIter: this.options.maxIter ?? (this.counters.refreshes === 0 ? 100 : WARM_ITERATIONS),
    };
  }

  protected refresh(_t: number, cache: CacheState): void {
    this.counters.iterations += undirectedPageRank(this.graph, cache, this.iterationOptions(cache), this.x, this.y, this.deg, this.f, this.alive);
    for (let i = 0; i < cache.size; i++) this.scores[cache.tokens[i]] = this.x[cache.tokens[i]];
  }
}

/**
 * `pagerank-undirected` on the live graph stored as a packed float32 triangle (TriangleGraph; the
 * live graph is complete, so the triangle holds exactly the pruned edges of the sparse version) with
 * the matrix-vector product y = W f of each power iteration, and the degrees (W 1), as one
 * WebAssembly SIMD kernel. Same iteration, warm start, stopping rule and cap as the sparse version;
 * the only difference is the order in which each node's float64 sums (its degree and the
 * contributions of its older neighbours) are added, so scores agree to rounding (~1e-15 relative,
 * tested at 1e-12) and evictions are the same unless two candidates tie to that precision.
 */
export class PageRankUndirectedPolicy extends PageRankUndirectedSparsePolicy {
  /** The live graph, acquired from the pool on first use (begin alone allocates nothing). */
  private readonly holder = new TriangleHolder();
  /** Sequences beyond MAX_TRIANGLE_NODES tokens use the sparse implementation. */
  private sparse = false;
  /** Warm-start scores by token position (as the sparse version keeps them). */
  private xpos = new Float64Array(0);
  private degree = new Float64Array(0);

  protected override resetGraph(): void {
    this.endGraph();
    this.sparse = !triangleFits(this.length);
    if (this.sparse) {
      super.resetGraph();
      return;
    }
    this.xpos = new Float64Array(this.length);
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
    writeTriangleRow(tg, t, cache, probs, 0, false, this.options.epsilon ?? 0);
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
    if (n === 0) return;
    tg.nodeOf(tokens[n - 1]); // the newest token has no row yet (a dangling node)
    tg.maybeCompact();
    const { teleport, tol, maxIter } = this.iterationOptions(cache);
    const index = tg.index;
    const { x, y, f, live } = tg;
    if (this.degree.length < tg.capacity) this.degree = new Float64Array(tg.capacity);
    const deg = this.degree;
    const count = tg.count;
    // Degrees: W 1 over the live nodes.
    for (let c = 0; c < count; c++) f[c] = live[c];
    tg.sym();
    for (let c = 0; c < count; c++) {
      deg[c] = y[c];
      f[c] = 0;
    }
    // Warm start from the previous refresh (by position), as undirectedPageRank does.
    const xpos = this.xpos;
    let sum = 0;
    for (let i = 0; i < n; i++) sum += xpos[tokens[i]];
    if (sum > 0 && Number.isFinite(sum)) {
      const inv = 1 / sum;
      for (let i = 0; i < n; i++) x[index[tokens[i]]] = xpos[tokens[i]] * inv;
    } else {
      for (let i = 0; i < n; i++) x[index[tokens[i]]] = 1 / n;
    }
    const d = 1 - teleport;
    let iter = 0;
    while (iter < maxIter) {
      iter++;
      let dangling = 0;
      for (let i = 0; i < n; i++) {
        const c = index[tokens[i]];
        if (deg[c] > 0) f[c] = (d * x[c]) / deg[c];
        else {
          f[c] = 0;
          dangling += x[c];
        }
      }
      tg.sym();
      const base = (1 - d + d * dangling) / n;
      let diff = 0;
      for (let i = 0; i < n; i++) {
        const c = index[tokens[i]];
        const v = y[c] + base;
        diff += Math.abs(v - x[c]);
        x[c] = v;
      }
      if (diff < tol) break;
    }
    this.counters.iterations += iter;
    for (let i = 0; i < n; i++) {
      const pos = tokens[i];
      const v = x[index[pos]];
      xpos[pos] = v;
      this.scores[pos] = v;
    }
  }
}

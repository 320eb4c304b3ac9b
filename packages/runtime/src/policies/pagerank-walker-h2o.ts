import { addAttentionMass } from "./h2o.js";
import { PageRankWalkerPolicy } from "./pagerank-walker.js";
import type { CacheState } from "./policy.js";

/**
 * `pagerank-walker-h2o` (experimental): the shadow walker's decayed visit counts and H2O's causal
 * accumulated attention, each normalized to sum 1 over the live tokens and added (equal weight), so a
 * token is kept when either the walk from the recent tokens reaches it or many queries attended to it.
 * Built to test whether the walker's passkey losses (a needle that no recent token attends to gets no
 * visits) close without giving up its perplexity; same options as pagerank-walker.
 */
export class PageRankWalkerH2OPolicy extends PageRankWalkerPolicy {
  override readonly name: string = "pagerank-walker-h2o";
  /** Float64Array [T]: H2O mass by position. */
  private mass = new Float64Array(0);

  protected override resetGraph(): void {
    super.resetGraph();
    this.mass = new Float64Array(this.length);
  }

  protected override update(t: number, cache: CacheState, probs: Float64Array): void {
    super.update(t, cache, probs);
    addAttentionMass(this.mass, cache, probs);
  }

  protected override beforeSelect(t: number, cache: CacheState): void {
    super.beforeSelect(t, cache);
    this.combine(cache);
  }

  protected override beforeFinal(t: number, cache: CacheState): void {
    super.beforeFinal(t, cache);
    this.combine(cache);
  }

  private combine(cache: CacheState): void {
    this.combineScores(cache.tokens, cache.size, this.acc, this.mass, this.scores);
  }

  /** scores = visits / sum(visits) + mass / sum(mass) over the first n tokens (the live ones). */
  protected combineScores(tokens: Int32Array, n: number, visits: Float64Array, mass: Float64Array, scores: Float64Array): void {
    let w = 0;
    let m = 0;
    for (let i = 0; i < n; i++) {
      w += visits[tokens[i]];
      m += mass[tokens[i]];
    }
    const iw = w > 0 ? 1 / w : 0;
    const im = m > 0 ? 1 / m : 0;
    for (let i = 0; i < n; i++) {
      const p = tokens[i];
      scores[p] = visits[p] * iw + mass[p] * im;
    }
  }
}

/**
 * `pagerank-walker-h2o-rank` (experimental): the same two scores combined by rank instead of by sum:
 * a token's score is the better of its two percentile ranks among the live tokens (walker visits,
 * H2O mass; ties share the lower rank), so the kept set approximates the union of the walker's and
 * H2O's top sets of equal size. Unvisited tokens are then ranked by their mass alone.
 */
export class PageRankWalkerH2ORankPolicy extends PageRankWalkerH2OPolicy {
  override readonly name: string = "pagerank-walker-h2o-rank";

  protected override combineScores(tokens: Int32Array, n: number, visits: Float64Array, mass: Float64Array, scores: Float64Array): void {
    const rw = percentileRanks(tokens, n, visits);
    const rm = percentileRanks(tokens, n, mass);
    for (let i = 0; i < n; i++) scores[tokens[i]] = Math.max(rw[i], rm[i]);
  }
}

/** Percentile rank in [0, 1) of each of the first n tokens' values (ties: the lowest rank of the tie). */
function percentileRanks(tokens: Int32Array, n: number, values: Float64Array): Float64Array {
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => values[tokens[a]] - values[tokens[b]]);
  const r = new Float64Array(n);
  let k = 0;
  while (k < n) {
    let e = k;
    while (e + 1 < n && values[tokens[order[e + 1]]] === values[tokens[order[k]]]) e++;
    for (let j = k; j <= e; j++) r[order[j]] = k / n;
    k = e + 1;
  }
  return r;
}

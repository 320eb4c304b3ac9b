import type { CacheState } from "./policy.js";
import { PageRankWalkerPolicy } from "./pagerank-walker.js";

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
  /** Float64Array [T]: the walker's accumulated score by position (as of the last refresh). */
  private visits = new Float64Array(0);

  protected override resetGraph(): void {
    super.resetGraph();
    this.mass = new Float64Array(this.length);
    this.visits = new Float64Array(this.length);
  }

  protected override update(t: number, cache: CacheState, probs: Float64Array): void {
    super.update(t, cache, probs);
    const tokens = cache.tokens;
    for (let i = 0; i < cache.size; i++) this.mass[tokens[i]] += probs[i];
  }

  protected override accumulate(cache: CacheState, counts: ArrayLike<number>, n: number): void {
    super.accumulate(cache, counts, n);
    for (let i = 0; i < n; i++) this.visits[cache.tokens[i]] = this.scores[cache.tokens[i]];
  }

  protected override beforeSelect(t: number, cache: CacheState): void {
    super.beforeSelect(t, cache);
    this.combine(cache);
  }

  protected override beforeFinal(t: number, cache: CacheState): void {
    super.beforeFinal(t, cache);
    this.combine(cache);
  }

  /** scores = visits / sum(visits) + mass / sum(mass) over the live tokens. */
  private combine(cache: CacheState): void {
    const tokens = cache.tokens;
    let w = 0;
    let m = 0;
    for (let i = 0; i < cache.size; i++) {
      w += this.visits[tokens[i]];
      m += this.mass[tokens[i]];
    }
    const iw = w > 0 ? 1 / w : 0;
    const im = m > 0 ? 1 / m : 0;
    for (let i = 0; i < cache.size; i++) {
      const p = tokens[i];
      this.scores[p] = this.visits[p] * iw + this.mass[p] * im;
    }
  }
}

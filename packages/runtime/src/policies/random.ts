import { mixSeed, Rng } from "../rng.js";
import { type CacheState, ScoredPolicy } from "./policy.js";

/**
 * `random`: evict a uniformly random unprotected token (seeded per sequence and stream), the
 * floor any score must beat (used as a baseline e.g. in Zhang et al., 2023, "H2O", arXiv:2306.14048).
 */
export class RandomPolicy extends ScoredPolicy {
  readonly name: string = "random";
  override readonly needsAttention = false;
  private rng = new Rng(0);

  protected override reset(): void {
    this.rng = new Rng(mixSeed(this.options.seed ?? 0, this.streamId));
  }

  protected override pick(cache: CacheState, lo: number, hi: number): number {
    return cache.tokens[lo + this.rng.int(hi - lo)];
  }

  protected update(): void {}

  override finalScores(): Float64Array {
    for (let j = 0; j < this.length; j++) this.scores[j] = this.rng.next();
    return this.scores;
  }
}

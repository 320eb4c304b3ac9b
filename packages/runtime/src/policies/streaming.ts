import { type CacheState, ScoredPolicy } from "./policy.js";

/**
 * `streaming`: StreamingLLM (Xiao et al., 2024, "Efficient Streaming Language Models with Attention
 * Sinks", arXiv:2309.17453): keep the attention sinks and the most recent budget - sinks tokens, i.e.
 * always evict the oldest non-sink token. Scores are positions; attention is never read.
 */
export class StreamingPolicy extends ScoredPolicy {
  readonly name: string = "streaming";
  override readonly needsAttention = false;

  protected override pick(cache: CacheState, lo: number): number {
    return cache.tokens[lo];
  }

  protected update(): void {}

  override finalScores(): Float64Array {
    for (let j = 0; j < this.length; j++) this.scores[j] = j;
    return this.scores;
  }
}

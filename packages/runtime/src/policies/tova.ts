import { type CacheState, ScoredPolicy } from "./policy.js";

/**
 * `tova`: Token Omission Via Attention (Oren et al., 2024, "Transformers are Multi-State RNNs",
 * arXiv:2401.06104): evict the key with the lowest attention from the current query. In our step
 * order the room for token t is made before query t attends, so "current" is the latest query,
 * t - 1, over the cache it saw; this equals TOVA's "attend, then drop the lowest when over the
 * limit" with the new token counted in the limit. GQA heads of a group are summed.
 */
export class TovaPolicy extends ScoredPolicy {
  readonly name: string = "tova";

  protected update(_t: number, cache: CacheState, probs: Float64Array): void {
    const tokens = cache.tokens;
    const s = this.scores;
    for (let i = 0; i < cache.size; i++) s[tokens[i]] = probs[i];
  }
}

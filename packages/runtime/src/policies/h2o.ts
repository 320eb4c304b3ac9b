import { type CacheState, ScoredPolicy } from "./policy.js";

/**
 * `h2o`: Heavy-Hitter Oracle (Zhang et al., 2023, "H2O: Heavy-Hitter Oracle for Efficient Generative
 * Inference of Large Language Models", arXiv:2306.14048), causal form: a key's score is the sum of the
 * attention probabilities it received from every query so far while cached (under eviction), summed
 * over the query heads of its GQA group. The protected set is the shared one (sinks + window).
 */
export class H2OPolicy extends ScoredPolicy {
  readonly name: string = "h2o";

  protected update(_t: number, cache: CacheState, probs: Float64Array): void {
    addAttentionMass(this.scores, cache, probs);
  }
}

/** H2O's score update: each cached key's position in `mass` gains the probability query row `probs` gave it. */
export function addAttentionMass(mass: Float64Array, cache: CacheState, probs: Float64Array): void {
  const tokens = cache.tokens;
  for (let i = 0; i < cache.size; i++) mass[tokens[i]] += probs[i];
}

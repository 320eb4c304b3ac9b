import { type Interval, perplexityInterval } from "@kvwalk/core";

/** Summed NLL (nats) over `from`..end of a window's per-token NLL array ([T-1], entry i predicts token i+1). */
export function nllSum(nll: ArrayLike<number>, from = 0): number {
  let s = 0;
  for (let i = from; i < nll.length; i++) s += nll[i];
  return s;
}

/**
 * Corpus perplexity over windows, exp(total NLL / total scored tokens), with a 95% bootstrap
 * interval over windows. Windows are weighted by their token counts, as one long text would be.
 */
export function corpusPerplexity(nllSums: readonly number[], counts: readonly number[]): Interval & { tokens: number } {
  const iv = perplexityInterval(nllSums, counts);
  return { ...iv, tokens: counts.reduce((a, b) => a + b, 0) };
}

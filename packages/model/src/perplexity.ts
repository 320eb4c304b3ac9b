import { InvalidArgumentError } from "@kvwalk/core";
import type { LoadedModel } from "./model.js";

export interface PerplexityResult {
  /** exp(mean NLL over all predicted tokens). */
  perplexity: number;
  meanNll: number;
  /** Tokens in the sequence (BOS included). */
  totalTokens: number;
  /** Tokens whose NLL was counted: every token except the first of each window. */
  predictedTokens: number;
  /** Windows scored (a trailing one-token window predicts nothing and is not counted). */
  windows: number;
  windowSize: number;
  seconds: number;
  /** Sequence tokens processed per second. */
  tokensPerSecond: number;
  /** Mean NLL of each window. */
  windowMeanNll: number[];
}

/**
 * Perplexity with non-overlapping windows: the sequence is cut into windows of `window` tokens
 * (the last may be shorter); each window is one forward from an empty cache and contributes the
 * NLL of its tokens 1..len-1 (its first token is only context). With BOS + the text as one
 * sequence of N tokens this predicts N - ceil(N / window) tokens.
 */
export async function perplexity(
  model: LoadedModel,
  tokens: Int32Array,
  opts: { window: number; maxWindows?: number; onWindow?: (done: number, total: number, nllSum: number, count: number) => void },
): Promise<PerplexityResult> {
  const W = opts.window;
  if (!Number.isInteger(W) || W < 2 || W > model.config.maxPositions) {
    throw new InvalidArgumentError("window", `an integer in [2, ${model.config.maxPositions}] (max_position_embeddings)`, W);
  }
  let total = Math.ceil(tokens.length / W);
  if (opts.maxWindows !== undefined) {
    if (!Number.isInteger(opts.maxWindows) || opts.maxWindows < 1) throw new InvalidArgumentError("maxWindows", "an integer >= 1", opts.maxWindows);
    total = Math.min(total, opts.maxWindows);
  }
  const start = performance.now();
  let nllSum = 0;
  let count = 0;
  let processed = 0;
  const windowMeanNll: number[] = [];
  for (let w = 0; w < total; w++) {
    const chunk = tokens.subarray(w * W, Math.min(tokens.length, (w + 1) * W));
    processed += chunk.length;
    // A trailing window of one token predicts nothing and is skipped.
    if (chunk.length >= 2) {
      const { nll } = await model.forward(chunk, { positions: [] });
      let s = 0;
      for (let i = 0; i < nll.length; i++) s += nll[i];
      nllSum += s;
      count += nll.length;
      windowMeanNll.push(s / nll.length);
    }
    opts.onWindow?.(w + 1, total, nllSum, count);
  }
  const seconds = (performance.now() - start) / 1000;
  const meanNll = nllSum / count;
  return {
    perplexity: Math.exp(meanNll),
    meanNll,
    totalTokens: processed,
    predictedTokens: count,
    windows: windowMeanNll.length,
    windowSize: W,
    seconds,
    tokensPerSecond: processed / seconds,
    windowMeanNll,
  };
}

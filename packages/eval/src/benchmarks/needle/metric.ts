import { expectLength, InvalidArgumentError } from "@kvwalk/core";

/** Index of the largest entry of row `r` of a row-major [rows, vocab] matrix (first one on ties). */
export function argmaxRow(logits: Float32Array, vocab: number, r: number): number {
  let best = 0;
  let bestV = Number.NEGATIVE_INFINITY;
  const base = r * vocab;
  for (let j = 0; j < vocab; j++) {
    const v = logits[base + j];
    if (v > bestV) {
      bestV = v;
      best = j;
    }
  }
  return best;
}

/**
 * Teacher-forced greedy exact match: the sample is correct iff, at every answer position, the
 * argmax of the logits equals the answer token. `logits` is [answer.length, vocab], row i taken at
 * the position just before answer token i. Returns the per-token hits too.
 */
export function greedyExactMatch(logits: Float32Array, vocab: number, answer: ArrayLike<number>): { correct: boolean; hits: boolean[]; predicted: number[] } {
  if (vocab < 1) throw new InvalidArgumentError("vocab", "a positive vocabulary size", vocab);
  expectLength("logits", logits, answer.length * vocab);
  const predicted = Array.from({ length: answer.length }, (_, i) => argmaxRow(logits, vocab, i));
  const hits = predicted.map((p, i) => p === answer[i]);
  return { correct: hits.every(Boolean), hits, predicted };
}

import { expectInt, expectNumber } from "@kvwalk/core";
import { Rng } from "./rng.js";

export interface SyntheticAttentionOptions {
  /** Logit bonus of key 0 (an attention sink); default 4. */
  sinkBias?: number;
  /** Logit bonus of the previous few tokens, decaying with distance (scale `localScale`); default 3. */
  localBias?: number;
  localScale?: number;
  /** Fraction of keys that are globally "heavy" (bonus `heavyBias` for every query); default 0.05 / 2.5. */
  heavyFraction?: number;
  heavyBias?: number;
  /** Standard deviation of the i.i.d. Gaussian noise; default 1.5. */
  noise?: number;
}

/**
 * Random but attention-like scaled logits for tests and benchmarks: one Float32Array [T, T] per head
 * (row t = query t, -Infinity above the diagonal), with a sink at key 0, a local bias, a few globally
 * heavy keys and Gaussian noise. Deterministic in `seed`.
 */
export function syntheticLogits(length: number, heads: number, seed: number, opts: SyntheticAttentionOptions = {}): Float32Array[] {
  const T = expectInt("length", length, 1);
  expectInt("heads", heads, 1);
  const sinkBias = expectNumber("sinkBias", opts.sinkBias ?? 4);
  const localBias = expectNumber("localBias", opts.localBias ?? 3);
  const localScale = expectNumber("localScale", opts.localScale ?? 4, Number.MIN_VALUE);
  const heavyFraction = expectNumber("heavyFraction", opts.heavyFraction ?? 0.05, 0, 1);
  const heavyBias = expectNumber("heavyBias", opts.heavyBias ?? 2.5);
  const noise = expectNumber("noise", opts.noise ?? 1.5, 0);
  const rng = new Rng(seed);
  const heavy = new Float32Array(T);
  for (let j = 0; j < T; j++) heavy[j] = rng.next() < heavyFraction ? heavyBias * (0.5 + rng.next()) : 0;
  const local = new Float32Array(T);
  for (let d = 0; d < T; d++) local[d] = localBias * Math.exp(-d / localScale);
  const out: Float32Array[] = [];
  for (let h = 0; h < heads; h++) {
    const l = new Float32Array(T * T).fill(Number.NEGATIVE_INFINITY);
    for (let t = 0; t < T; t++) {
      const row = t * T;
      for (let j = 0; j <= t; j += 2) {
        // Box-Muller: two normals per draw pair.
        const u1 = rng.next() || 1e-12;
        const u2 = rng.next();
        const r = noise * Math.sqrt(-2 * Math.log(u1));
        l[row + j] = r * Math.cos(2 * Math.PI * u2) + heavy[j] + local[t - j];
        if (j + 1 <= t) l[row + j + 1] = r * Math.sin(2 * Math.PI * u2) + heavy[j + 1] + local[t - j - 1];
      }
      l[row] += sinkBias;
    }
    out.push(l);
  }
  return out;
}

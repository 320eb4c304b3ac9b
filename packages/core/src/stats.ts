import { seededRandom } from "./random.js";
import { InvalidArgumentError } from "./errors.js";
import { expectInt, expectNumber } from "./validate.js";

/** An estimate with a two-sided confidence interval [lo, hi] at the stated level. */
export interface Interval {
  value: number;
  lo: number;
  hi: number;
}

/** Linear-interpolated quantile q in [0, 1] of an ascending array; NaN for an empty one. */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const pos = q * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

/**
 * Percentile interval: `value` with the (1 - level) / 2 and (1 + level) / 2 quantiles of the
 * bootstrap replicates `samples` (not modified; a sorted copy is used). Level 0.95 by default.
 */
export function percentileInterval(value: number, samples: ArrayLike<number>, level = 0.95): Interval {
  const sorted = Float64Array.from(samples).sort();
  const a = (1 - level) / 2;
  return { value, lo: quantileSorted(sorted, a), hi: quantileSorted(sorted, 1 - a) };
}

/**
 * The resampling plan of a bootstrap: `resamples` draws of `units` indices in [0, units), with
 * replacement, index i of draw r being floor(rand() * units) in draw-major order. Sharing one plan
 * between statistics makes their differences paired (same resampled units).
 */
export function bootstrapDraws(units: number, resamples: number, rand: () => number): Int32Array[] {
  expectInt("units", units, 0);
  expectInt("resamples", resamples, 1);
  const draws: Int32Array[] = [];
  for (let r = 0; r < resamples; r++) {
    const idx = new Int32Array(units);
    for (let i = 0; i < units; i++) idx[i] = Math.floor(rand() * units);
    draws.push(idx);
  }
  return draws;
}

/** A statistic on all units (`point`) and on every draw of a bootstrap plan (`boot`, [resamples]). */
export interface BootstrapSample {
  point: number;
  boot: Float64Array;
}

/** Evaluates `stat` on all `units` units and on each draw of `draws` (from `bootstrapDraws`). */
export function bootstrapSample(units: number, draws: readonly Int32Array[], stat: (indices: Int32Array) => number): BootstrapSample {
  const all = new Int32Array(units).map((_, i) => i);
  return { point: stat(all), boot: Float64Array.from(draws, (d) => stat(d)) };
}

/**
 * Paired bootstrap interval of a - b: both samples must come from the same plan, so replicate r of
 * the difference is a.boot[r] - b.boot[r] (the same resampled units).
 */
export function pairedDifference(a: BootstrapSample, b: BootstrapSample, level = 0.95): Interval {
  if (a.boot.length !== b.boot.length) throw new InvalidArgumentError("b.boot", `length ${a.boot.length} (same bootstrap plan)`, `length ${b.boot.length}`);
  return percentileInterval(
    a.point - b.point,
    a.boot.map((v, i) => v - b.boot[i]),
    level,
  );
}

/**
 * Percentile bootstrap interval of a statistic over units (windows, samples): resamples the units
 * with replacement `resamples` times (default 1000) with a fixed seed (default 1234, mulberry32).
 * `stat` maps the resampled unit indices to a value, so ratio statistics (total NLL / total tokens)
 * resample numerator and denominator together. Fewer than 2 units give a zero-width interval.
 */
export function bootstrapInterval(
  units: number,
  stat: (indices: Int32Array) => number,
  opts: { resamples?: number; level?: number; seed?: number } = {},
): Interval {
  expectInt("units", units, 0);
  const resamples = expectInt("resamples", opts.resamples ?? 1000, 1);
  const level = expectNumber("level", opts.level ?? 0.95, 0, 1);
  const all = new Int32Array(units).map((_, i) => i);
  const value = units > 0 ? stat(all) : Number.NaN;
  if (units < 2) return { value, lo: value, hi: value };
  const draws = bootstrapDraws(units, resamples, seededRandom(opts.seed ?? 1234));
  return percentileInterval(
    value,
    Float64Array.from(draws, (d) => stat(d)),
    level,
  );
}

/**
 * Pooled perplexity of a set of windows as a statistic of window indices: exp(sum NLL / sum tokens)
 * over the indexed windows (NaN when they hold no tokens). `nllSums[i]` and `counts[i]` are window
 * i's summed NLL (nats) and number of scored tokens.
 */
export function pooledPerplexity(nllSums: ArrayLike<number>, counts: ArrayLike<number>): (indices: ArrayLike<number>) => number {
  if (nllSums.length !== counts.length) throw new InvalidArgumentError("counts", `length ${nllSums.length}`, `length ${counts.length}`);
  return (idx) => {
    let s = 0;
    let c = 0;
    for (let k = 0; k < idx.length; k++) {
      s += nllSums[idx[k]];
      c += counts[idx[k]];
    }
    return c > 0 ? Math.exp(s / c) : Number.NaN;
  };
}

/** Perplexity of a set of windows with a bootstrap interval over windows (see `bootstrapInterval`). */
export function perplexityInterval(nllSums: ArrayLike<number>, counts: ArrayLike<number>, opts: { resamples?: number; seed?: number } = {}): Interval {
  return bootstrapInterval(nllSums.length, pooledPerplexity(nllSums, counts), opts);
}

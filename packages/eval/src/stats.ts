import { expectInt, expectNumber, InvalidArgumentError } from "@kvwalk/core";

/** An estimate with a two-sided confidence interval [lo, hi] at the stated level. */
export interface Interval {
  value: number;
  lo: number;
  hi: number;
}

/** Standard-normal quantile for the common two-sided levels (avoids an inverse-erf implementation). */
function zFor(level: number): number {
  const table: Record<string, number> = { "0.9": 1.6448536269514722, "0.95": 1.959963984540054, "0.99": 2.5758293035489004 };
  const z = table[String(level)];
  if (z === undefined) throw new InvalidArgumentError("level", "one of 0.9, 0.95, 0.99", level);
  return z;
}

/**
 * Wilson score interval for a binomial proportion (Wilson 1927): better coverage than the normal
 * approximation for small n and proportions near 0 or 1, which is what needle accuracies look like.
 * `successes` of `n` trials; level 0.95 by default. n = 0 gives value NaN and the interval [0, 1].
 */
export function wilsonInterval(successes: number, n: number, level = 0.95): Interval {
  expectInt("n", n, 0);
  expectInt("successes", successes, 0, n);
  if (n === 0) return { value: Number.NaN, lo: 0, hi: 1 };
  const z = zFor(level);
  const p = successes / n;
  const z2 = z * z;
  const denom = 1 + z2 / n;
  const centre = (p + z2 / (2 * n)) / denom;
  const half = (z * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n))) / denom;
  // The interval contains 0 (1) exactly when no trial failed (succeeded); avoid rounding just inside.
  return { value: p, lo: successes === 0 ? 0 : Math.max(0, centre - half), hi: successes === n ? 1 : Math.min(1, centre + half) };
}

export function mean(xs: ArrayLike<number>): number {
  if (xs.length === 0) return Number.NaN;
  let s = 0;
  for (let i = 0; i < xs.length; i++) s += xs[i];
  return s / xs.length;
}

/** Small deterministic PRNG (mulberry32) so bootstrap intervals are reproducible run to run. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Percentile bootstrap interval of a statistic over units (windows, samples): resamples the units
 * with replacement `resamples` times with a fixed seed. `stat` maps the resampled unit indices to a
 * value, so ratio statistics (total NLL / total tokens) resample numerator and denominator together.
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
  const rand = mulberry32(opts.seed ?? 1234);
  const vals = new Float64Array(resamples);
  const idx = new Int32Array(units);
  for (let r = 0; r < resamples; r++) {
    for (let i = 0; i < units; i++) idx[i] = Math.floor(rand() * units);
    vals[r] = stat(idx);
  }
  vals.sort();
  const a = (1 - level) / 2;
  return { value, lo: quantileSorted(vals, a), hi: quantileSorted(vals, 1 - a) };
}

/** Linear-interpolated quantile q in [0, 1] of an ascending array. */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const pos = q * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

/**
 * Perplexity of a set of windows with a bootstrap interval over windows: exp(sum NLL / sum tokens).
 * `nllSums[i]` and `counts[i]` are window i's summed NLL (nats) and number of scored tokens.
 */
export function perplexityInterval(nllSums: ArrayLike<number>, counts: ArrayLike<number>, opts: { resamples?: number; seed?: number } = {}): Interval {
  if (nllSums.length !== counts.length) throw new InvalidArgumentError("counts", `length ${nllSums.length}`, `length ${counts.length}`);
  return bootstrapInterval(
    nllSums.length,
    (idx) => {
      let s = 0;
      let c = 0;
      for (const i of idx) {
        s += nllSums[i];
        c += counts[i];
      }
      return Math.exp(s / c);
    },
    opts,
  );
}

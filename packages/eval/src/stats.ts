import { expectInt, type Interval, InvalidArgumentError } from "@kvwalk/core";

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

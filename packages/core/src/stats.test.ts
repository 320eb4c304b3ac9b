import { describe, expect, it } from "vitest";
import { seededRandom } from "./random.js";
import { bootstrapDraws, bootstrapInterval, bootstrapSample, pairedDifference, percentileInterval, perplexityInterval, pooledPerplexity, quantileSorted } from "./stats.js";
import { seededRandom as fromTesting } from "./testing.js";

describe("seededRandom", () => {
  it("is mulberry32: deterministic, in [0, 1), re-exported by testing", () => {
    const a = seededRandom(42);
    const b = fromTesting(42);
    const xs = Array.from({ length: 100 }, () => a());
    expect(xs).toEqual(Array.from({ length: 100 }, () => b()));
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true);
    expect(seededRandom(0)()).toBeCloseTo(0.26642920868471265, 15);
  });
});

describe("bootstrap", () => {
  it("quantiles interpolate linearly", () => {
    expect(quantileSorted([0, 10], 0.25)).toBe(2.5);
    expect(Number.isNaN(quantileSorted([], 0.5))).toBe(true);
  });
  it("percentile interval of replicates, input left unsorted", () => {
    const s = Float64Array.from({ length: 101 }, (_, i) => 100 - i);
    const iv = percentileInterval(50, s, 0.9);
    expect(iv.value).toBe(50);
    expect(iv.lo).toBeCloseTo(5, 10);
    expect(iv.hi).toBeCloseTo(95, 10);
    expect(s[0]).toBe(100);
  });
  it("is deterministic and brackets the estimate", () => {
    const x = [1, 2, 3, 4, 5, 6, 7, 8];
    const f = (idx: Int32Array) => {
      let s = 0;
      for (const i of idx) s += x[i];
      return s / idx.length;
    };
    const a = bootstrapInterval(x.length, f, { seed: 7 });
    const b = bootstrapInterval(x.length, f, { seed: 7 });
    expect(a).toEqual(b);
    expect(a.value).toBe(4.5);
    expect(a.lo).toBeLessThan(4.5);
    expect(a.hi).toBeGreaterThan(4.5);
  });
  it("draws indices in range, draw-major from the generator", () => {
    const draws = bootstrapDraws(5, 3, seededRandom(3));
    const r = seededRandom(3);
    expect(draws).toHaveLength(3);
    for (const d of draws) for (const i of d) expect(i).toBe(Math.floor(r() * 5));
  });
  it("perplexity pools NLL and token counts", () => {
    // total NLL 3 ln 2 over 3 tokens -> perplexity 2
    const p = perplexityInterval([Math.log(2), 2 * Math.log(2)], [1, 2]);
    expect(p.value).toBeCloseTo(2, 12);
    expect(Number.isNaN(pooledPerplexity([0], [0])([0]))).toBe(true);
    expect(() => pooledPerplexity([1, 2], [1])).toThrow(/counts/);
  });
  it("paired differences of identical statistics are exactly zero; shifted ones are exact", () => {
    const nll = [10, 20, 35, 12];
    const cnt = [10, 10, 10, 10];
    const draws = bootstrapDraws(4, 200, seededRandom(1));
    const a = bootstrapSample(4, draws, pooledPerplexity(nll, cnt));
    const b = bootstrapSample(4, draws, pooledPerplexity(nll, cnt));
    expect(pairedDifference(a, b)).toEqual({ value: 0, lo: 0, hi: 0 });
    const shift = bootstrapSample(4, draws, (idx) => pooledPerplexity(nll, cnt)(idx) + 1);
    const d = pairedDifference(shift, a);
    expect(d.lo).toBeCloseTo(1, 12);
    expect(d.hi).toBeCloseTo(1, 12);
    expect(() => pairedDifference(a, bootstrapSample(4, draws.slice(1), pooledPerplexity(nll, cnt)))).toThrow(/b.boot/);
  });
});

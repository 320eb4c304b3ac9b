import { describe, expect, it } from "vitest";
import { bootstrapInterval, perplexityInterval, quantileSorted, wilsonInterval } from "./stats.js";

describe("wilsonInterval", () => {
  it("matches hand-computed 95% intervals", () => {
    // 0/10: centre = (z^2/20)/(1+z^2/10) = half -> [0, 0.2775]
    const a = wilsonInterval(0, 10);
    expect(a.lo).toBe(0);
    expect(a.hi).toBeCloseTo(0.27753, 4);
    // 5/10: symmetric around 0.5, half = z*sqrt(0.025 + z^2/400)/(1+z^2/10) = 0.26339
    const b = wilsonInterval(5, 10);
    expect(b.lo).toBeCloseTo(0.23659, 4);
    expect(b.hi).toBeCloseTo(0.76341, 4);
    expect(wilsonInterval(10, 10).hi).toBe(1);
  });
  it("validates arguments and handles n = 0", () => {
    expect(() => wilsonInterval(3, 2)).toThrow(/successes/);
    expect(wilsonInterval(0, 0)).toEqual({ value: Number.NaN, lo: 0, hi: 1 });
  });
});

describe("bootstrap", () => {
  it("quantiles interpolate linearly", () => {
    expect(quantileSorted([0, 10], 0.25)).toBe(2.5);
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
  it("perplexity pools NLL and token counts", () => {
    // total NLL 3 ln 2 over 3 tokens -> perplexity 2
    const p = perplexityInterval([Math.log(2), 2 * Math.log(2)], [1, 2]);
    expect(p.value).toBeCloseTo(2, 12);
  });
});

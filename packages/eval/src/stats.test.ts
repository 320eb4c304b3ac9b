import { describe, expect, it } from "vitest";
import { mean, wilsonInterval } from "./stats.js";

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

describe("mean", () => {
  it("is the arithmetic mean, NaN when empty", () => {
    expect(mean([1, 2, 6])).toBe(3);
    expect(Number.isNaN(mean([]))).toBe(true);
  });
});

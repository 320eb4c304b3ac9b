import { describe, expect, it } from "vitest";
import { expectedVisits, walkReference } from "./reference.js";
import { type GraphKind, randomGraph } from "./testing/graphs.js";
import { chiSquareQuantile, normalQuantileUpper, normalTail, testCounts, visitMoments } from "./walk-stats.js";

describe("statistics helpers", () => {
  it("normal tail and quantiles match tables", () => {
    expect(normalTail(1.959963985)).toBeCloseTo(0.025, 9);
    expect(normalQuantileUpper(1e-3)).toBeCloseTo(3.090232306, 6);
    // chi-square 0.95 quantile, 100 dof: 124.342 (tables); Wilson-Hilferty is within 0.1%.
    expect(Math.abs(chiSquareQuantile(100, 0.05) / 124.342 - 1)).toBeLessThan(1e-3);
  });

  it("visit moments: mean equals expectedVisits per walker, rows of the covariance sum to 0", () => {
    const g = randomGraph("uniform", 30, 3);
    const opts = { numNodes: 30, steps: 9, startWindow: 8 };
    const m = visitMoments(g, opts);
    const e = expectedVisits(g, { ...opts, walkers: 1 });
    for (let v = 0; v < 30; v++) expect(m.mean[v]).toBeCloseTo(e[v], 12);
    for (let u = 0; u < 30; u++) {
      let row = 0;
      for (let v = 0; v < 30; v++) row += m.cov[u * 30 + v];
      expect(Math.abs(row)).toBeLessThan(1e-10);
    }
  });
});

// Each case: counts of 20000 walkers against the exact moments at family-wise alpha = 1e-3 per test.
const cases: Array<{ kind: GraphKind; cap: number; numNodes: number; opts: Record<string, number> }> = [
  { kind: "uniform", cap: 80, numNodes: 80, opts: { steps: 16, startWindow: 64, seed: 1 } },
  { kind: "attention", cap: 120, numNodes: 100, opts: { steps: 20, startWindow: 16, excludeBelow: 4, seed: 2 } },
  { kind: "adversarial", cap: 60, numNodes: 50, opts: { steps: 12, startWindow: 10, excludeBelow: 3, teleport: 0.3, seed: 3 } },
];

describe("walkReference counts vs exact moments", () => {
  const walkers = 20000;
  it.each(cases)("$kind graph ($numNodes nodes) passes per-node z and chi-square tests", ({ kind, cap, numNodes, opts }) => {
    const g = randomGraph(kind, cap, 100 + cap);
    const counts = walkReference(g, { numNodes, walkers, ...opts });
    const r = testCounts(counts, visitMoments(g, { numNodes, ...opts }), walkers);
    expect(r.tested).toBeGreaterThan(numNodes / 4);
    expect(r, JSON.stringify(r)).toMatchObject({ ok: true });
  });

  it("rejects counts from a slightly different walk (power check: teleport 0.15 vs 0.17)", () => {
    const g = randomGraph("attention", 120, 220);
    const base = { numNodes: 120, steps: 20, startWindow: 16, seed: 9 };
    const counts = walkReference(g, { ...base, walkers, teleport: 0.17 });
    const r = testCounts(counts, visitMoments(g, { ...base, teleport: 0.15 }), walkers);
    expect(r.ok).toBe(false);
  });
});

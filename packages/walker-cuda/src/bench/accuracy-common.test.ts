import { describe, expect, it } from "vitest";
import { accumulateScores, walkReference } from "../reference.js";
import { randomGraph } from "../testing/graphs.js";
import { agreement, chartsSvg, rankedRange, refreshSeries } from "./accuracy-common.js";

describe("accuracy study helpers", () => {
  it("ranks only [excludeBelow, numNodes - startWindow) and keeps round(keep * size)", () => {
    expect(rankedRange(100, 4, 16, 0.2)).toEqual({ lo: 4, hi: 84, k: 16 });
  });

  it("agreement: identical scores agree fully; a boundary swap of near-equal nodes costs overlap but little mass", () => {
    const range = rankedRange(12, 0, 2, 0.2); // nodes [0, 10), k = 2
    const ref = [0.3, 0.2, 0.1001, 0.1, 0.05, 0.05, 0.04, 0.03, 0.02, 0.01, 9, 9];
    expect(agreement(ref, ref, range)).toEqual({ spearman: 1, topOverlap: 1, massRecall: 1 });
    const swapped = [0.3, 0.1, 0.1001, 0.2, 0.05, 0.05, 0.04, 0.03, 0.02, 0.01, 0, 0]; // top-2 = {0, 3}
    const a = agreement(swapped, ref, range);
    expect(a.topOverlap).toBe(0.5);
    expect(a.massRecall).toBeCloseTo(0.4 / 0.5, 12);
    expect(a.spearman).toBeLessThan(1);
  });

  it("refreshSeries equals accumulating refreshes 1..R by hand, at every checkpoint", () => {
    const g = randomGraph("attention", 300, 7);
    const walk = { numNodes: 300, excludeBelow: 4, startWindow: 16, walkers: 64, steps: 10, graphIndex: 3 };
    const got = new Map<string, Float32Array>();
    refreshSeries(g, walk, [0.5, 0.9], [1, 3], (r) => 10 + r, (r, d, s) => got.set(`${r}/${d}`, s.slice()));
    expect([...got.keys()].sort()).toEqual(["1/0.5", "1/0.9", "3/0.5", "3/0.9"]);
    for (const d of [0.5, 0.9]) {
      const s = new Float32Array(300);
      for (let r = 1; r <= 3; r++) {
        accumulateScores(s, walkReference(g, { ...walk, seed: 10 + r }), d);
        if (r === 1 || r === 3) expect(got.get(`${r}/${d}`)).toEqual(s);
      }
    }
  });

  it("chartsSvg draws one polyline per series in a grid", () => {
    const chart = { title: "t <x>", xLabel: "x", yLabel: "y", xLog: true, xTicks: [1, 2, 4], yRange: [0, 1] as [number, number], yTicks: [0, 1] };
    const svg = chartsSvg(
      [
        { ...chart, series: [{ name: "a", color: "#000", points: [[1, 0.1], [4, 0.9]] as Array<[number, number]> }] },
        { ...chart, series: [{ name: "b", color: "#111", dash: true, points: [[2, 0.5]] as Array<[number, number]> }] },
      ],
      2,
      300,
      200,
    );
    expect(svg.startsWith("<svg")).toBe(true);
    expect(svg).toContain('width="600" height="200"');
    expect(svg.match(/<polyline/g)).toHaveLength(2);
    expect(svg).toContain("t &lt;x&gt;");
  });
});

import { describe, expect, it } from "vitest";
import type { RunRecord } from "./results.js";
import { nllSums } from "./results.js";
import { summarize } from "./stats.js";
import { linePlotSvg, niceTicks } from "./svg-plot.js";

function rec(policy: string, window: number, nllSum: number, count = 100): RunRecord {
  return {
    mode: "causal",
    dataset: "d",
    window,
    windowId: `d:${window}`,
    policy,
    budget: 0.2,
    budgetSlots: 20,
    T: count + 1,
    nllSum,
    count,
    nllSumFilled: nllSum / 2,
    countFilled: count / 2,
    evictions: 0,
    forwardMs: 1,
    simMs: 1,
    rowMs: 0,
    refreshMs: 0,
    refreshes: 0,
    wallMs: 2,
    refreshEvery: 32,
  };
}

describe("summarize", () => {
  it("perplexity = exp(total NLL / total tokens) over the windows every policy finished", () => {
    const records = [rec("full", 0, 100), rec("full", 1, 200), rec("h2o", 0, 150), rec("h2o", 1, 250), rec("h2o", 2, 999)];
    const s = summarize(records, { mode: "causal", dataset: "d", policies: ["full", "h2o"], budgets: [0.2], resamples: 500 });
    const h2o = s.cells.find((c) => c.policy === "h2o")!;
    expect(h2o.windows).toBe(2); // window 2 has no `full` record
    expect(h2o.ppl.value).toBeCloseTo(Math.exp(400 / 200), 10);
    expect(h2o.pplFilled.value).toBeCloseTo(Math.exp(200 / 100), 10);
    expect(h2o.vsFull!.value).toBeCloseTo(Math.exp(2) - Math.exp(1.5), 10);
    // Both windows differ by the same per-token NLL: every resample gives the same difference sign.
    expect(h2o.vsFull!.lo).toBeGreaterThan(0);
    expect(h2o.ppl.lo).toBeLessThanOrEqual(h2o.ppl.value);
    expect(h2o.ppl.hi).toBeGreaterThanOrEqual(h2o.ppl.value);
  });

  it("a policy identical to the reference has a zero-width difference interval", () => {
    const records = [0, 1, 2, 3].flatMap((w) => [rec("full", w, 100 + w * 10), rec("h2o", w, 100 + w * 10)]);
    const s = summarize(records, { mode: "causal", dataset: "d", policies: ["full", "h2o"], budgets: [0.2], resamples: 300 });
    const d = s.cells.find((c) => c.policy === "h2o")?.vsFull;
    expect([d?.value, d?.lo, d?.hi]).toEqual([0, 0, 0]);
  });
});

describe("nllSums", () => {
  it("splits at the first query position that saw a full cache", () => {
    const r = nllSums(Float32Array.from([1, 2, 3, 4]), 2);
    expect(r).toEqual({ nllSum: 10, count: 4, nllSumFilled: 7, countFilled: 2 });
  });
});

describe("svg plot", () => {
  it("nice ticks are round and cover the range", () => {
    expect(niceTicks(0, 10, 6)).toEqual([0, 2, 4, 6, 8, 10]);
    const t = niceTicks(93.2, 131.7);
    expect(t[0]).toBeGreaterThanOrEqual(93.2);
    expect(t[t.length - 1]).toBeLessThanOrEqual(131.7);
  });

  it("draws one line and legend entry per series, escaping names", () => {
    const svg = linePlotSvg({
      title: "t <1>",
      xLabel: "x",
      yLabel: "y",
      series: [
        { name: "a&b", points: [[10, 1], [20, 2]], band: [[10, 0.5, 1.5], [20, 1.5, 2.5]] },
        { name: "c", points: [[10, 3], [20, 1]], dashed: true },
      ],
    });
    expect(svg.startsWith("<svg")).toBe(true);
    expect(svg.match(/<polyline/g)).toHaveLength(2);
    expect(svg).toContain("a&amp;b");
    expect(svg).toContain("t &lt;1&gt;");
    expect(svg).toContain('stroke-dasharray="6 4"');
  });
});

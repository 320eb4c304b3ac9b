import { renderPng, renderSvg } from "@kvwalk/core/plot";
import { describe, expect, it } from "vitest";
import type { RunRecord } from "./results.js";
import { nllSums } from "./results.js";
import { markdownReport, pplPlot } from "./report.js";
import { summarize } from "./stats.js";

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

describe("ppl plot", () => {
  const at02 = [0, 1, 2].flatMap((w) => [rec("full", w, 100 + w), rec("h2o", w, 120 + w), rec("pagerank-undirected", w, 118 + w)]);
  const records = [...at02, ...at02.map((r) => ({ ...r, budget: 0.1, nllSum: r.nllSum + (r.policy === "full" ? 0 : 10) }))];
  const s = summarize(records, { mode: "causal", dataset: "d", policies: ["full", "h2o", "pagerank-undirected"], budgets: [0.1, 0.2], resamples: 100 });

  it("draws one line per policy, full and pagerank-undirected dashed, budgets as percent ticks", () => {
    const scene = pplPlot(s);
    const texts = scene.items.filter((i) => i.kind === "text").map((i) => (i.kind === "text" ? i.text : ""));
    for (const name of ["full", "h2o", "pagerank-undirected", "10%", "20%"]) expect(texts).toContain(name);
    const svg = renderSvg(scene);
    expect(svg.startsWith("<svg")).toBe(true);
    const lines = svg.split("\n").filter((l) => l.startsWith("<polyline"));
    expect(lines).toHaveLength(3);
    expect(lines.filter((l) => l.includes("stroke-dasharray"))).toHaveLength(2);
    expect(texts.some((t) => t.includes("after the cache fills"))).toBe(false);
    expect(renderSvg(pplPlot(s, true))).toContain("after the cache fills");
  });

  it("renders to a PNG with the PNG signature", () => {
    const png = renderPng(pplPlot(s));
    expect([...png.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  });

  it("the report embeds the PNG and links the SVG", () => {
    const md = markdownReport(
      s,
      { command: "c", modelDir: "m", windowLen: 101, windowsRequested: 3, settings: {}, metadata: {} },
      { all: { png: "a.png", svg: "a.svg" }, filled: { png: "f.png", svg: "f.svg" } },
    );
    expect(md).toContain("![perplexity vs budget](a.png)");
    expect(md).toContain("](a.svg)");
    expect(md).toContain("![perplexity vs budget, after the cache fills](f.png)");
    expect(md).toContain("](f.svg)");
  });
});

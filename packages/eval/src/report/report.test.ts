import { assertClose, seededRandom } from "@kvwalk/core/testing";
import { describe, expect, it } from "vitest";
import type { ResultRecord } from "../results.js";
import { mkdtempSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generationCells, needleCells, pairedNeedle, pairedPerplexity, perplexityCells, signTestP, summaryLines, writeReport } from "./report.js";

const ppl = (item: string, policy: string, budget: number, nllSum: number, filled: Record<string, [number, number]>): ResultRecord => ({
  v: 1,
  key: `wikitext2|${item}|${policy}|${budget}`,
  dataset: "wikitext2",
  item,
  policy,
  budget,
  backend: "t",
  model: "m",
  length: 11,
  tokens: 10,
  nllSum,
  filledTokens: filled[budget.toFixed(4)]?.[0] ?? 0,
  filledNllSum: filled[budget.toFixed(4)]?.[1] ?? 0,
  filled: Object.fromEntries(Object.entries(filled).map(([k, [tokens, s]]) => [k, { tokens, nllSum: s }])),
  ms: 1,
});

const needle = (item: string, policy: string, budget: number, correct: boolean, depth = 0.5): ResultRecord =>
  ({
    ...ppl(item, policy, budget, 0, {}),
    key: `needle|${item}|${policy}|${budget}`,
    dataset: "needle",
    needle: { kind: "passkey", depth, length: 100, seed: 1, correct, hits: [correct], answerNllSum: 0, answer: " 1." },
  }) as ResultRecord;

describe("report aggregation", () => {
  it("exact sign test, hand-computed", () => {
    expect(signTestP(0, 0)).toBe(1);
    expect(signTestP(0, 5)).toBeCloseTo(2 / 32, 12);
    expect(signTestP(4, 1)).toBeCloseTo((2 * (1 + 5)) / 32, 12);
    expect(signTestP(3, 3)).toBe(1);
  });
  it("pools perplexity over windows and measures the full cache on each budget's tokens", () => {
    const recs = [
      ppl("w0", "full", 1, 10, { "0.2000": [8, 4] }),
      ppl("w1", "full", 1, 20, { "0.2000": [8, 12] }),
      ppl("w0", "h2o", 0.2, 30, { "0.2000": [8, 8] }),
      ppl("w1", "h2o", 0.2, 30, { "0.2000": [8, 24] }),
    ];
    const cells = perplexityCells(recs, "wikitext2");
    const full = cells.find((c) => c.policy === "full")!;
    expect(full.budget).toBe(0.2);
    expect(full.ppl.value).toBeCloseTo(Math.exp(30 / 20), 12);
    expect(full.filledPpl.value).toBeCloseTo(Math.exp(16 / 16), 12);
    const h2o = cells.find((c) => c.policy === "h2o")!;
    expect(h2o.filledPpl.value).toBeCloseTo(Math.exp(32 / 16), 12);
    const lines = summaryLines(recs, [["full", "h2o"]]);
    expect(lines[0]).toContain("h2o vs full (2 paired windows)");
    expect(lines[0]).toContain(`0.2: ${Math.exp(2).toFixed(2)} vs ${Math.exp(1).toFixed(2)} (+${((Math.exp(1) - 1) * 100).toFixed(2)}% [`);
    expect(lines[0]).toContain("lower in 0/2 windows)");
  });
  it("needle cells and paired comparisons", () => {
    const recs = [
      needle("s1", "h2o", 0.1, true, 0),
      needle("s1", "pr", 0.1, false, 0),
      needle("s2", "h2o", 0.1, false, 1),
      needle("s2", "pr", 0.1, true, 1),
      needle("s3", "h2o", 0.1, false, 1),
      needle("s3", "pr", 0.1, true, 1),
      needle("s1", "full", 1, true, 0),
    ];
    const cells = needleCells(recs);
    const all = cells.find((c) => c.policy === "pr" && c.depth === "all")!;
    expect([all.correct, all.n]).toEqual([2, 3]);
    expect(cells.find((c) => c.policy === "pr" && c.depth === 1)!.correct).toBe(2);
    const [g] = pairedNeedle(recs, "h2o", "pr");
    expect([g.n, g.onlyA, g.onlyB]).toEqual([3, 1, 2]);
    expect(g.p).toBeCloseTo(1, 12);
    expect(summaryLines(recs, [["h2o", "pr"]])[0]).toBe(
      "- passkey needles, 100 tokens, budget 0.1: h2o 1/3 correct, pr 2/3; only h2o right on 1, only pr on 2: no significant difference (p = 1.00).",
    );
  });
});

const gen = (item: string, policy: string, budget: number, score: number, stopped = true): ResultRecord =>
  ({
    ...ppl(item, policy, budget, 0, {}),
    key: `longbench-gen|${item}|${policy}|${budget}`,
    dataset: "longbench-gen",
    tokens: 0,
    generation: { task: "multi_news", metric: "rouge_l", score, prediction: "x", newTokens: 10, stopped },
  }) as ResultRecord;

describe("LongBench generation report", () => {
  const recs = [
    gen("a", "full", 1, 1),
    gen("b", "full", 1, 0),
    gen("c", "full", 1, 0.5, false),
    gen("a", "h2o", 0.2, 0.5),
    gen("b", "h2o", 0.2, 0),
    gen("c", "h2o", 0.2, 0.5),
    gen("a", "h2o", 0.1, 0),
    gen("b", "h2o", 0.1, 0),
  ];
  it("means with bootstrap intervals, the full cache at every budget, and the paired difference", () => {
    const cells = generationCells(recs);
    const get = (p: string, b: number) => cells.find((c) => c.policy === p && c.budget === b)!;
    expect(cells.length).toBe(4); // full at 0.1 and 0.2, h2o at 0.1 and 0.2
    expect(get("full", 0.1).score.value).toBeCloseTo(0.5, 12);
    expect(get("full", 0.2).stoppedShare).toBeCloseTo(2 / 3, 12);
    const h = get("h2o", 0.2);
    expect(h.score.value).toBeCloseTo(1 / 3, 12);
    expect(h.score.lo).toBeGreaterThanOrEqual(0);
    expect(h.score.hi).toBeLessThanOrEqual(0.5);
    // (0.5 - 1 + 0 - 0 + 0.5 - 0.5) / 3
    expect(h.vsFull!.value).toBeCloseTo(-1 / 6, 12);
    expect(h.paired).toBe(3);
    // Only samples a and b ran at 0.1: paired against the full cache on those two, (0 - 1 + 0 - 0) / 2.
    expect(get("h2o", 0.1).vsFull!.value).toBeCloseTo(-0.5, 12);
    expect(get("h2o", 0.1).paired).toBe(2);
    expect(get("full", 0.2).vsFull).toBeUndefined();
  });
  it("writes a section with the score table, the difference table and a plot", () => {
    const dir = mkdtempSync(join(tmpdir(), "eval-gen-"));
    const md = writeReport(dir, { records: recs, comparisons: [["h2o", "pagerank-walker"]] });
    expect(md).toContain("## LongBench: generated answers");
    expect(md).toContain("### multi_news (rouge_l, 3 samples)");
    expect(md).toContain("| h2o | 0.0 [0.0, 0.0] | 33.3 [");
    expect(md).toContain("| h2o | -50.0 [");
    expect(md).toContain("LongBench multi_news generation, h2o at budget 0.2: rouge_l 33.3 vs the full cache -16.7 points");
    expect(existsSync(join(dir, "plots", "longbench-gen-multi_news.png"))).toBe(true);
  });
});

describe("paired perplexity comparisons", () => {
  // n windows of 100 filled tokens at budget 0.2 (and 0.1); a's filled NLL per window varies, b's is a's scaled.
  const n = 12;
  const rand = seededRandom(7);
  const aNll = Array.from({ length: n }, () => 300 + 200 * rand());
  const windows = (policy: string, budget: number, scale: (nll: number, i: number) => number) =>
    aNll.map((s, i) => ppl(`w${i}`, policy, budget, 2 * s, { [budget.toFixed(4)]: [100, scale(s, i)] }));

  it("b uniformly lower: the interval lies below 0 and b is lower in every window", () => {
    const recs = [...windows("a", 0.2, (s) => s), ...windows("b", 0.2, (s) => s - 5), ...windows("a", 0.1, (s) => s)];
    const [p, ...rest] = pairedPerplexity(recs, "wikitext2", "a", "b");
    expect(rest).toEqual([]); // b did not run at 0.1
    expect([p.budget, p.n, p.bLower]).toEqual([0.2, n, n]);
    const total = aNll.reduce((x, y) => x + y, 0);
    assertClose([p.pplA], [Math.exp(total / (100 * n))], { atol: 0, rtol: 1e-12 }, "PPL a");
    assertClose([p.pplB], [Math.exp((total - 5 * n) / (100 * n))], { atol: 0, rtol: 1e-12 }, "PPL b");
    // Every resample has the same token count, so the ratio is exactly exp(-5 / 100) on each.
    assertClose([p.rel.value], [Math.exp(-0.05) - 1], { atol: 0, rtol: 1e-12 }, "relative difference");
    expect(p.rel.hi).toBeLessThan(0);
    expect(p.rel.lo).toBeLessThanOrEqual(p.rel.value);
    expect(p.rel.hi).toBeGreaterThanOrEqual(p.rel.value);
  });

  it("identical records: 0 with a zero-width interval, lower in no window", () => {
    const recs = [...windows("a", 0.2, (s) => s), ...windows("b", 0.2, (s) => s)];
    const [p] = pairedPerplexity(recs, "wikitext2", "a", "b");
    expect([p.rel.value, p.rel.lo, p.rel.hi, p.bLower]).toEqual([0, 0, 0, 0]);
    expect(summaryLines(recs, [["a", "b"]])[0]).toBe(
      `- wikitext2, perplexity after the cache filled, b vs a (${n} paired windows), by budget: 0.2: ${p.pplA.toFixed(2)} vs ${p.pplA.toFixed(2)} (0.00% [0.00, 0.00], lower in 0/${n} windows).`,
    );
  });

  it("mixed windows: the interval straddles 0, pairs only windows both ran, and the report has the table", () => {
    // b is better on even windows, worse on odd ones by the same amount; a ran one extra window.
    const recs = [...windows("a", 0.2, (s) => s), ...windows("b", 0.2, (s, i) => s + (i % 2 ? 20 : -20)), ppl("extra", "a", 0.2, 1, { "0.2000": [100, 999] })];
    const [p] = pairedPerplexity(recs, "wikitext2", "a", "b");
    expect([p.n, p.bLower]).toEqual([n, n / 2]);
    expect(p.rel.value).toBeCloseTo(0, 12);
    expect(p.rel.lo).toBeLessThan(0);
    expect(p.rel.hi).toBeGreaterThan(0);
    // Deterministic: the same records give the same interval.
    expect(pairedPerplexity(recs, "wikitext2", "a", "b")[0].rel).toEqual(p.rel);
    const dir = mkdtempSync(join(tmpdir(), "eval-ppl-"));
    const md = writeReport(dir, { records: recs, comparisons: [["a", "b"]] });
    expect(md).toContain("## Paired perplexity comparisons");
    expect(md).toContain("| dataset | budget | A | B | windows | PPL A | PPL B | B / A - 1 [95% CI] | B lower |");
    expect(md).toContain(`| wikitext2 | 0.2 | a | b | ${n} | ${p.pplA.toFixed(2)} | ${p.pplB.toFixed(2)} | `);
    expect(md).toContain(`| ${n / 2}/${n} |`);
    expect(writeReport(dir, { records: recs })).not.toContain("## Paired perplexity comparisons");
  });

  it("one paired window: the difference without an interval", () => {
    const recs = [ppl("w0", "a", 0.2, 1, { "0.2000": [10, 20] }), ppl("w0", "b", 0.2, 1, { "0.2000": [10, 10] })];
    expect(summaryLines(recs, [["a", "b"]])[0]).toBe(
      `- wikitext2, perplexity after the cache filled, b vs a (1 paired window), by budget: 0.2: ${Math.exp(1).toFixed(2)} vs ${Math.exp(2).toFixed(2)} (${((Math.exp(-1) - 1) * 100).toFixed(2)}% (one window: no interval), lower in 1/1 windows).`,
    );
  });

  it("the full cache compares at every budget on that budget's tokens", () => {
    const full = aNll.map((s, i) => ppl(`w${i}`, "full", 1, 2 * s, { "0.1000": [100, s - 10], "0.2000": [90, s - 20] }));
    const recs = [...full, ...windows("b", 0.1, (s) => s), ...windows("b", 0.2, (s) => s)];
    const ps = pairedPerplexity(recs, "wikitext2", "full", "b");
    expect(ps.map((p) => [p.budget, p.n, p.bLower])).toEqual([
      [0.1, n, 0],
      [0.2, n, 0],
    ]);
    const total = aNll.reduce((x, y) => x + y, 0);
    assertClose([ps[1].pplA], [Math.exp((total - 20 * n) / (90 * n))], { atol: 0, rtol: 1e-12 }, "full PPL at 0.2");
  });
});

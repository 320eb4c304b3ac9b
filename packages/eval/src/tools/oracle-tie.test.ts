import type { RunRecord } from "@kvwalk/oracle";
import { describe, expect, it } from "vitest";
import type { ResultRecord } from "../results.js";
import { gpuWindows, oracleWindows, tieRows, tieTable } from "./oracle-tie.js";

// Records with the fields the tool reads (the rest of each type does not matter here).
const oracleLine = (policy: string, budget: number, window: number, nllSum: number, filled: number, mode = "causal") =>
  ({ mode, dataset: "wikitext", window, policy, budget, nllSum, count: 10, nllSumFilled: filled, countFilled: 6 }) as unknown as RunRecord;
const gpuRecord = (r: Record<string, unknown>) => r as unknown as ResultRecord;
const gpuLine = (policy: string, budget: number, window: number, nllSum: number, filled: number) =>
  gpuRecord({ dataset: "wikitext2", item: `wikitext2-test#${window}`, policy, budget, tokens: 10, nllSum, filledTokens: 6, filledNllSum: filled });

describe("oracle-tie", () => {
  it("pairs windows by policy, budget and window, and the full cache at every budget of its filled map", () => {
    const oracle = oracleWindows([
      oracleLine("h2o", 0.2, 0, 20, 12),
      oracleLine("h2o", 0.2, 1, 30, 18),
      oracleLine("full", 0.2, 0, 10, 6),
      oracleLine("h2o", 0.2, 0, 999, 999, "retrospective"),
    ]);
    const gpu = gpuWindows([
      gpuLine("h2o", 0.2, 0, 21, 12.5),
      gpuLine("h2o", 0.2, 1, 30, 18),
      gpuLine("h2o", 0.2, 7, 99, 50), // no oracle record: ignored
      gpuRecord({ dataset: "wikitext2", item: "wikitext2-test#0", policy: "full", budget: 1, tokens: 10, nllSum: 10, filled: { "0.2000": { tokens: 6, nllSum: 6 } } }),
    ]);
    const rows = tieRows(oracle, gpu);
    expect(rows.map((r) => [r.policy, r.budget, r.windows])).toEqual([
      ["full", 0.2, 1],
      ["h2o", 0.2, 2],
    ]);
    const h2o = rows[1];
    expect(h2o.oraclePpl).toBeCloseTo(Math.exp(50 / 20), 12);
    expect(h2o.gpuPpl).toBeCloseTo(Math.exp(51 / 20), 12);
    expect(h2o.pplRel).toBeCloseTo(Math.exp(1 / 20) - 1, 12);
    expect(h2o.maxWindowNllDiff).toBeCloseTo(0.1, 12);
    expect(h2o.filledPplRel).toBeCloseTo(Math.exp(0.5 / 12) - 1, 12);
    expect(rows[0].pplRel).toBe(0);
    expect(tieTable(rows)).toContain("| h2o | 0.2 | 2 |");
  });

  it("refuses windows whose token counts differ", () => {
    const oracle = oracleWindows([oracleLine("tova", 0.1, 3, 5, 3)]);
    const gpu = gpuWindows([gpuRecord({ dataset: "wikitext2", item: "wikitext2-test#3", policy: "tova", budget: 0.1, tokens: 9, nllSum: 5, filledTokens: 6, filledNllSum: 3 })]);
    expect(() => tieRows(oracle, gpu)).toThrow(/tova\|0.1000\|3: the oracle scored 10 \(6 after filling\) tokens, the GPU 9 \(6\)/);
  });
});

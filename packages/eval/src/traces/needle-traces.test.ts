import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { createFakeModel } from "@kvwalk/oracle";
import { describe, expect, it } from "vitest";
import { makeNeedleSample } from "../benchmarks/needle/generate.js";
import { cpuSimBackend } from "../harness/cpu-sim.js";
import type { ResultRecord } from "../results.js";
import { withFakeLogits } from "../test-helpers.js";
import { runNeedleTraces, selectTraceCases, summarizeTrace, targetPositions, traceSection } from "./needle-traces.js";

const rec = (item: string, policy: string, budget: number, correct: boolean): ResultRecord =>
  ({
    v: 1,
    key: `needle|${item}|${policy}|${budget}`,
    dataset: "needle",
    item,
    policy,
    budget,
    needle: { kind: "passkey", depth: 0.5, length: 100, seed: 1, correct, hits: [correct], answerNllSum: 1, answer: " 1." },
  }) as ResultRecord;

describe("trace case selection", () => {
  it("alternates the winner and is ordered by budget then item", () => {
    const records = [
      rec("s1", "h2o", 0.1, true),
      rec("s1", "pr", 0.1, false),
      rec("s2", "h2o", 0.1, false),
      rec("s2", "pr", 0.1, true),
      rec("s3", "h2o", 0.2, false),
      rec("s3", "pr", 0.2, true),
      rec("s4", "h2o", 0.2, true),
      rec("s4", "pr", 0.2, true),
    ];
    expect(selectTraceCases(records, "h2o", "pr", 3)).toEqual([
      { item: "s2", budget: 0.1, winner: "pr", loser: "h2o" },
      { item: "s1", budget: 0.1, winner: "h2o", loser: "pr" },
      { item: "s3", budget: 0.2, winner: "pr", loser: "h2o" },
    ]);
    expect(selectTraceCases(records, "h2o", "pr", 0)).toEqual([]);
    // A needle at depth 1 (inside the local window) is traced last.
    const late = records.map((r) => (r.item === "s2" ? { ...r, needle: { ...r.needle!, depth: 1 } } : r));
    expect(selectTraceCases(late, "h2o", "pr", 2).map((c) => c.item)).toEqual(["s3", "s1"]);
  });
  it("summaries count retained tokens and ranks", () => {
    const trace = {
      policy: "h2o",
      budget: 0.5,
      streams: [
        [
          { positions: [1, 2], evictedAt: [4, 10], steps: [0, 4, 8, 9], rank: [[-1, -1], [0, 1], [-2, 2], [-2, -2]], score: null, candidates: [0, 4, 4, 4], },
          { positions: [1, 2], evictedAt: [10, 10], steps: [], rank: null, score: null, candidates: [] },
        ],
      ],
    };
    const s = summarizeTrace(trace, 10, 4, true);
    expect(s.steps).toEqual([0, 4, 8, 9]);
    // step 0: nothing appended yet; step 4: 3 of 4 entries cached; step 9: 3 of 4.
    expect(s.retained[0]).toBeNaN();
    expect(s.retained[1]).toBe(0.75);
    expect(s.rankPct[1]).toBeCloseTo((0 + 1 / 3) / 2, 12);
    expect(s.rankPct[2]).toBeCloseTo(2 / 3, 12);
    expect(s.rankPct[3]).toBeNaN();
    expect(s.headsKeepingAll).toEqual([1]);
    expect(s.firstEviction).toBe(4);
  });
});

describe("needle traces through the cpu-sim backend (fake model)", () => {
  it("traces each policy on each case and renders a section", async () => {
    const base = createFakeModel({ numLayers: 2, numHeads: 2, numKvHeads: 2, vocabSize: 64, seed: 5 });
    // Pretend the model answers right: the argmax is always the true next token.
    const model = withFakeLogits(base, (t, p) => t[p + 1]);
    const be = cpuSimBackend(model, "fake");
    const hay = base.tokenizer.encode("some filler text for the haystack ".repeat(40), { addBos: false });
    const sample = makeNeedleSample(base.tokenizer, hay, { kind: "passkey", length: 300, depth: 0.3, seed: 2 });
    const items = [{ dataset: "needle" as const, id: sample.id, tokens: sample.tokens, sample }];
    const dir = mkdtempSync(join(tmpdir(), "tr-"));
    const quiet = new Writable({ write: (_c, _e, cb) => cb() });
    const traced = await runNeedleTraces({
      backend: be,
      items,
      cases: [{ item: sample.id, budget: 0.3, winner: "h2o", loser: "streaming" }],
      policies: [{ name: "h2o" }, { name: "streaming" }],
      every: 32,
      outDir: dir,
      progressStream: quiet,
    });
    expect(traced.length).toBe(1);
    expect(traced[0].summaries.map((s) => s.policy)).toEqual(["h2o", "streaming"]);
    expect(traced[0].summaries.every((s) => s.correct)).toBe(true);
    expect(traced[0].needleStart).toBe(Math.min(...targetPositions(sample)));
    // Streaming evicts by age: every stream loses the needle at the same step.
    const st = traced[0].summaries[1];
    expect(new Set(st.medianEvictByLayer).size).toBe(1);
    const md = traceSection(dir, traced);
    expect(md).toContain("### Case 1");
    expect(md).toContain("plots/trace-1-retained.png");
  });
});

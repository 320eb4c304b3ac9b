import { createPolicy, simulateHead, syntheticLogits } from "@kvwalk/runtime";
import { describe, expect, it } from "vitest";
import { peekScores, TracingPolicy } from "./tracing-policy.js";

describe("TracingPolicy", () => {
  const T = 96;
  const logits = syntheticLogits(T, 1, 11);
  for (const name of ["h2o", "tova", "pagerank-walker", "streaming"]) {
    it(`${name}: same eviction as the bare policy, with eviction times of the tracked tokens`, () => {
      const opts = { budget: 24, sinks: 2, window: 8, refreshEvery: 4, walkers: 64, steps: 8 };
      const bare = simulateHead(createPolicy(name, opts), logits, T);
      const tracked = [10, 11, 40];
      const tp = new TracingPolicy(createPolicy(name, opts), tracked, 8);
      const traced = simulateHead(tp, logits, T);
      expect(traced.evict).toEqual(bare.evict);
      const tr = tp.result();
      expect(tr.positions).toEqual(tracked);
      expect(tr.evictedAt).toEqual(tracked.map((p) => bare.evict[p]));
      if (name === "streaming") {
        // Streaming observes no attention rows, hence no samples.
        expect(tr.steps).toEqual([]);
        return;
      }
      expect(tr.steps[0]).toBe(0);
      expect(tr.steps[tr.steps.length - 1]).toBe(T - 1);
      expect(tr.rank!.length).toBe(tr.steps.length);
      tr.steps.forEach((t, s) => {
        tracked.forEach((p, i) => {
          const r = tr.rank![s][i];
          if (p > t) expect(r).toBe(-1);
          else if (bare.evict[p] <= t || p > t + 1 - opts.window) expect(r).toBe(-2);
          else {
            expect(r).toBeGreaterThanOrEqual(0);
            expect(r).toBeLessThan(tr.candidates[s]);
          }
        });
      });
    });
  }
  it("peekScores reads without side effects and is undefined for unscored policies", () => {
    expect(peekScores(createPolicy("full", { budget: 1 }))).toBeUndefined();
    const p = createPolicy("h2o", { budget: 0.5 });
    p.begin({ length: 200 });
    expect(peekScores(p)?.length).toBe(200);
  });
});

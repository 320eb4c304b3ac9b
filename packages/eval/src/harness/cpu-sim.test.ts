import { assertClose } from "@kvwalk/core/testing";
import { createFakeModel } from "@kvwalk/oracle";
import { describe, expect, it } from "vitest";
import { withFakeLogits } from "../test-helpers.js";
import { cpuSimBackend } from "./cpu-sim.js";

describe("cpu-sim backend (oracle causal pass over a fake model)", () => {
  const model = createFakeModel({ numLayers: 2, numHeads: 4, numKvHeads: 2, vocabSize: 64, seed: 3 });
  const be = cpuSimBackend(model, "fake");
  const T = 200;
  const tokens = Int32Array.from({ length: T }, (_, i) => (i === 0 ? 1 : 3 + ((i * 7) % 60)));

  it("full cache: NLL equals the model's forward", async () => {
    const r = await be.run({ tokens, policy: { name: "full" }, budget: 1 });
    const ref = await model.forward(tokens);
    assertClose(r.nll, ref.nll, { atol: 1e-5, rtol: 1e-5 }, "nll");
  });

  it("asks the stepper for logits at the requested positions and returns them", async () => {
    const wrapped = withFakeLogits(model, (_t, p) => p % 64);
    const r = await cpuSimBackend(wrapped, "w").run({ tokens, policy: { name: "tova" }, budget: 0.3, logitPositions: [5, 150] });
    expect(wrapped.seen).toEqual([[5, 150]]);
    expect(r.logits!.length).toBe(2 * 64);
    expect(r.logits![5]).toBe(1);
    expect(r.logits![64 + (150 % 64)]).toBe(1);
  });

  it("eviction changes the NLL after the cache fills, not before", async () => {
    const full = await be.run({ tokens, policy: { name: "full" }, budget: 1 });
    const h2o = await be.run({ tokens, policy: { name: "h2o" }, budget: 0.3 });
    const slots = Math.floor(0.3 * T);
    assertClose(h2o.nll.subarray(0, slots), full.nll.subarray(0, slots), { atol: 1e-5, rtol: 1e-5 }, "nll before the first eviction");
    let diff = 0;
    for (let i = slots; i < T - 1; i++) diff += Math.abs(h2o.nll[i] - full.nll[i]);
    expect(diff).toBeGreaterThan(0);
  });

  it("traces replay the pass exactly and give per-layer, per-head eviction steps", async () => {
    const positions = [20, 21, 22];
    const plain = await be.run({ tokens, policy: { name: "h2o" }, budget: 0.3, logitPositions: [T - 2] });
    const r = await be.trace({ tokens, policy: { name: "h2o" }, budget: 0.3, logitPositions: [T - 2] }, positions, 16);
    assertClose(r.nll, plain.nll, { atol: 0, rtol: 0 }, "traced pass NLL");
    expect(r.trace.streams.length).toBe(2);
    expect(r.trace.streams.every((l) => l.length === 2)).toBe(true);
    for (const s of r.trace.streams.flat()) {
      expect(s.positions).toEqual(positions);
      expect(s.evictedAt.every((e) => e > 20 && e <= T)).toBe(true);
      expect(s.rank!.length).toBe(s.steps.length);
    }
    const st = await be.trace({ tokens, policy: { name: "streaming" }, budget: 0.3 }, positions, 16);
    // Streaming evicts the oldest unprotected token: position 20 goes when step 20 + budget - sinks arrives.
    const budget = Math.floor(0.3 * T);
    for (const s of st.trace.streams.flat()) expect(s.evictedAt[0]).toBe(20 + budget - 4);
  });
});

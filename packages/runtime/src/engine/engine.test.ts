import { describe, expect, it } from "vitest";
import { createEngine, defaultWalkers, engineStatus, kvBytesPerToken, PRESETS, presetShape, shapeParameters } from "./index.js";

describe("engine shapes", () => {
  it("counts Llama-2-7B's parameters and KV bytes per token", () => {
    expect(shapeParameters(PRESETS["llama2-7b"])).toBe(6_738_415_616);
    expect(kvBytesPerToken(PRESETS["llama2-7b"])).toBe(2 * 32 * 32 * 128 * 2);
    expect(kvBytesPerToken(PRESETS["mistral-7b"])).toBe(2 * 32 * 8 * 128 * 2);
  });
  it("rejects an unknown preset naming the parameter", () => {
    expect(() => presetShape("llama-3")).toThrow(/Expected one of llama2-7b, mistral-7b for preset but received "llama-3"/);
  });
});

describe("walker defaults", () => {
  it("keeps 5 visits per cache slot: 1024 walkers at 4096 slots x 20 steps, 224 at a 20% budget, at least 128", () => {
    expect(defaultWalkers(4096)).toBe(1024);
    expect(defaultWalkers(4096, 40)).toBe(512);
    expect(defaultWalkers(883)).toBe(224);
    expect(defaultWalkers(819)).toBe(224);
    expect(defaultWalkers(128)).toBe(128);
    expect(defaultWalkers(100, 0)).toBe(512);
  });
});

describe("engine options are checked before the device", () => {
  const preset = { preset: "llama2-7b" as const };
  it.each([
    [{ model: preset, groupedDecode: "sometimes" as never }, /Expected "auto", true or false for groupedDecode but received "sometimes"/],
    [{ model: preset, gemmSplitK: 9 }, /gemmSplitK/],
    [{ model: preset, graphWrite: "later" as never }, /graphWrite/],
    [{ model: preset, graphHeads: "value" as never }, /graphHeads/],
    [{ model: { preset: "mistral-7b" as const }, graph: true, graphWrite: "fused" as const }, /"deferred" or "auto" with graphHeads "kv" on a grouped-query model \(32 query \/ 8 KV heads\)/],
    [{ model: preset, maxBatch: 0 }, /maxBatch/],
    [{ model: preset, capacity: 1 }, /capacity/],
    [{ model: preset, gemm: "fast" as never }, /gemm/],
    [{ model: preset, capacity: 100, eviction: { policy: "lru" as never, budget: 10 } }, /eviction.policy/],
    [{ model: preset, capacity: 100, eviction: { policy: "walker" as const, budget: 100 } }, /eviction.budget/],
    [{ model: preset, capacity: 100, eviction: { policy: "pagerank-top4" as const, budget: 50, refresh: 64 } }, /Expected at most eviction.recent \(50\) for pagerank-top4 .* for eviction.refresh but received 64/],
    [{ model: { preset: "llama-3" as never } }, /preset/],
  ])("rejects %j naming the parameter", async (opts, message) => {
    await expect(createEngine(opts)).rejects.toMatchObject({ code: "KVWALK_INVALID_ARGUMENT", message: expect.stringMatching(message) });
  });
});

describe("engine without a GPU", () => {
  const status = engineStatus();
  it.skipIf(status.backend === "cuda")("fails with BackendUnavailableError carrying the reason", async () => {
    await expect(createEngine({ model: { preset: "llama2-7b" } })).rejects.toMatchObject({
      code: "KVWALK_BACKEND_UNAVAILABLE",
      message: expect.stringContaining(status.reason ?? ""),
    });
  });
});

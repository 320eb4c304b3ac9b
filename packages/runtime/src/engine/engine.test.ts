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

describe("engine without a GPU", () => {
  const status = engineStatus();
  it.skipIf(status.backend === "cuda")("fails with BackendUnavailableError carrying the reason", async () => {
    await expect(createEngine({ model: { preset: "llama2-7b" } })).rejects.toMatchObject({
      code: "KVWALK_BACKEND_UNAVAILABLE",
      message: expect.stringContaining(status.reason ?? ""),
    });
  });
});

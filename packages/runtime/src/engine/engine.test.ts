import { describe, expect, it } from "vitest";
import { createEngine, engineStatus, kvBytesPerToken, PRESETS, presetShape, shapeParameters } from "./index.js";

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

describe("engine without a GPU", () => {
  const status = engineStatus();
  it.skipIf(status.backend === "cuda")("fails with BackendUnavailableError carrying the reason", async () => {
    await expect(createEngine({ model: { preset: "llama2-7b" } })).rejects.toMatchObject({
      code: "KVWALK_BACKEND_UNAVAILABLE",
      message: expect.stringContaining(status.reason ?? ""),
    });
  });
});

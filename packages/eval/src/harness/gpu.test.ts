import { engineStatus } from "@kvwalk/runtime/engine";
import { describe, expect, it } from "vitest";
import { gpuEviction, openGpuBackend } from "./gpu.js";

describe("gpu backend", () => {
  it("maps study policies and options to engine eviction (budget - 1 slots kept before each append)", () => {
    expect(gpuEviction("full", 100)).toBeUndefined();
    expect(gpuEviction("pagerank-walker", 819, { window: 64, refreshEvery: 16, decay: 0.9 })).toMatchObject({
      policy: "walker",
      budget: 818,
      recent: 64,
      refresh: 16,
      scoreDecay: 0.9,
      sinks: 4,
    });
    expect(() => gpuEviction("pagerank-dense", 10)).toThrow(/Expected one that the GPU engine implements .* for policy but received "pagerank-dense"/);
  });
  it.skipIf(engineStatus().backend === "cuda")("fails at once without a CUDA device, saying why", async () => {
    await expect(openGpuBackend("/nonexistent")).rejects.toMatchObject({ code: "KVWALK_BACKEND_UNAVAILABLE" });
  });
});

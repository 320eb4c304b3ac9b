import { describe, expect, it } from "vitest";
import { fixtureCases, tinyCases } from "../engine/gpu/engine-cases.js";
import { evictCases } from "../engine/gpu/evict-cases.js";
import { gemmCases } from "../engine/gpu/gemm-cases.js";
import { gemvCases } from "../engine/gpu/gemv-cases.js";
import { kernelCases } from "../engine/gpu/kernel-cases.js";
import { prefillScoreCases } from "../engine/gpu/prefill-score-cases.js";
import { promptScoreCases } from "../engine/gpu/prompt-score-cases.js";
import { engineStatus, loadedEngineAddon } from "../engine/loader.js";

const status = engineStatus();
if (status.backend !== "cuda") console.warn(`[runtime] GPU engine suite skipped: ${status.reason}`);

// The same cases as dist/gpu/check.js (quick sizes), for hosts where vitest runs next to a GPU.
describe.skipIf(status.backend !== "cuda")("GPU engine: kernels vs TypeScript twins, engine vs references", () => {
  const addon = loadedEngineAddon() as never;
  const cases =
    status.backend === "cuda"
      ? [
          ...gemmCases(addon, true),
          ...gemvCases(addon, true),
          ...kernelCases(addon, true),
          ...evictCases(addon, true),
          ...prefillScoreCases(addon, true),
          ...tinyCases(),
          ...fixtureCases(addon, true),
          ...promptScoreCases(true),
        ]
      : [{ name: "unavailable", run: async () => ({ name: "unavailable", ok: false, detail: status.reason }) }];
  it.each(cases.map((c) => [c.name, c] as const))("%s", async (_name, c) => {
    const r = await c.run();
    expect(r.ok, r.detail).toBe(true);
  }, 120_000);
});

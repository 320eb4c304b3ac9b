import { describe, expect, it } from "vitest";
import { backendStatus } from "../loader.js";
import { allCases } from "./cases.js";

const status = backendStatus();
if (status.backend !== "cuda") console.warn(`[walker-cuda] GPU suite skipped: ${status.reason}`);

describe.skipIf(status.backend !== "cuda")("CUDA walker vs TypeScript twin", () => {
  const cases = allCases(false);
  it.each(cases.map((c) => [c.name, c] as const))("%s", async (_name, c) => {
    const r = await c.run();
    expect(r.ok, r.detail).toBe(true);
  });
});

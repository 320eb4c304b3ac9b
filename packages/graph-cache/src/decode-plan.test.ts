import { describe, expect, it } from "vitest";
import { backendStatus, decodePlan } from "./index.js";

// The launch plan is host code in the CUDA build of the addon: it runs without a device, but a build
// without CUDA (WITH_CUDA=OFF or no nvcc) has no such code to test.
const compiled = backendStatus().cudaCompiled;
if (!compiled) console.warn(`decode plan tests skipped: the addon is not compiled with CUDA (${backendStatus().reason})`);

describe.skipIf(!compiled)("decode launch plan (H200: 132 SMs)", () => {
  const llama = { numHeads: 32, numKvHeads: 32, headDim: 128 };
  const mistral = { numHeads: 32, numKvHeads: 8, headDim: 128 };
  it("fills one wave at small batch, with and without the graph", () => {
    expect(decodePlan({ ...llama, batch: 1, maxLength: 4096, writeGraph: false })).toEqual({ grouped: false, deferred: false, numSplits: 16 });
    expect(decodePlan({ ...llama, batch: 1, maxLength: 4096, writeGraph: true })).toEqual({ grouped: false, deferred: false, numSplits: 16 });
    expect(decodePlan({ ...llama, batch: 8, maxLength: 4096, writeGraph: false }).numSplits).toBe(3); // 924 / 256 blocks
    expect(decodePlan({ ...llama, batch: 8, maxLength: 4096, writeGraph: true }).numSplits).toBe(2); // 528 / 256
  });
  it("beyond a wave: 4 waves without the graph, one split with it", () => {
    expect(decodePlan({ ...llama, batch: 32, maxLength: 896, writeGraph: false }).numSplits).toBe(4);
    expect(decodePlan({ ...llama, batch: 32, maxLength: 896, writeGraph: true }).numSplits).toBe(1);
    expect(decodePlan({ ...llama, batch: 32, maxLength: 16384, writeGraph: true }).numSplits).toBe(1);
  });
  it("the deferred graph write takes the baseline kernel's plan", () => {
    expect(decodePlan({ ...llama, batch: 32, maxLength: 896, writeGraph: true, graphWrite: "deferred" }).numSplits).toBe(4);
    expect(decodePlan({ ...llama, batch: 8, maxLength: 4096, writeGraph: true, graphWrite: "deferred" }).numSplits).toBe(3);
    expect(() => decodePlan({ ...llama, batch: 8, maxLength: 4096, writeGraph: true, graphWrite: "later" as never })).toThrow(/graphWrite/);
  });
  it("auto defers the graph write with the grouped kernel or fewer (sequence, head) blocks than SMs", () => {
    const auto = { writeGraph: true, graphWrite: "auto" as const, grouped: "auto" as const };
    expect(decodePlan({ ...llama, ...auto, batch: 1, maxLength: 4096 })).toEqual({ grouped: false, deferred: true, numSplits: 16 });
    expect(decodePlan({ ...llama, ...auto, batch: 4, maxLength: 4096 }).deferred).toBe(true); // 128 blocks < 132 SMs
    expect(decodePlan({ ...llama, ...auto, batch: 5, maxLength: 4096 }).deferred).toBe(false);
    expect(decodePlan({ ...llama, ...auto, batch: 32, maxLength: 896 })).toEqual({ grouped: false, deferred: false, numSplits: 1 });
    expect(decodePlan({ ...mistral, ...auto, batch: 8, maxLength: 896 }).deferred).toBe(false);
    expect(decodePlan({ ...mistral, ...auto, batch: 32, maxLength: 896 })).toEqual({ grouped: true, deferred: true, numSplits: 2 });
    expect(decodePlan({ ...llama, batch: 1, maxLength: 4096, writeGraph: false, graphWrite: "auto" }).deferred).toBe(false);
  });
  it("keeps at least 256 keys per split", () => {
    expect(decodePlan({ ...llama, batch: 1, maxLength: 300, writeGraph: false }).numSplits).toBe(2);
    expect(decodePlan({ ...llama, batch: 1, maxLength: 1, writeGraph: true }).numSplits).toBe(1);
  });
  it("takes the grouped kernel automatically from 1.5 (sequence, KV head) pairs per SM", () => {
    expect(decodePlan({ ...mistral, batch: 32, maxLength: 4096, writeGraph: false, grouped: "auto" })).toEqual({ grouped: true, deferred: false, numSplits: 2 });
    expect(decodePlan({ ...mistral, batch: 32, maxLength: 896, writeGraph: true, grouped: "auto" })).toEqual({ grouped: true, deferred: false, numSplits: 2 });
    expect(decodePlan({ ...mistral, batch: 25, maxLength: 4096, writeGraph: false, grouped: "auto" }).grouped).toBe(true); // 200 pairs >= 198
    expect(decodePlan({ ...mistral, batch: 24, maxLength: 4096, writeGraph: false, grouped: "auto" }).grouped).toBe(false); // 192 pairs
    expect(decodePlan({ ...mistral, batch: 8, maxLength: 4096, writeGraph: false, grouped: "auto" }).grouped).toBe(false);
    expect(decodePlan({ ...mistral, batch: 8, maxLength: 4096, writeGraph: false, grouped: "possible" })).toEqual({ grouped: true, deferred: false, numSplits: 8 });
  });
  it("never groups what the grouped kernel lacks: one query head per KV head, groups of 8, head dims other than 64 / 128", () => {
    expect(decodePlan({ ...llama, batch: 64, maxLength: 4096, writeGraph: false, grouped: "possible" }).grouped).toBe(false);
    expect(decodePlan({ numHeads: 64, numKvHeads: 8, headDim: 128, batch: 64, maxLength: 4096, writeGraph: false, grouped: "possible" }).grouped).toBe(false);
    expect(decodePlan({ numHeads: 32, numKvHeads: 8, headDim: 256, batch: 64, maxLength: 4096, writeGraph: false, grouped: "possible" }).grouped).toBe(false);
  });
  it("names the bad parameter", () => {
    expect(() => decodePlan({ ...llama, batch: 0, maxLength: 10, writeGraph: false })).toThrow(/batch/);
    expect(() => decodePlan({ ...llama, batch: 1, maxLength: 10, writeGraph: false, grouped: "sometimes" as never })).toThrow(/grouped/);
    expect(() => decodePlan({ numHeads: 6, numKvHeads: 4, headDim: 64, batch: 1, maxLength: 10, writeGraph: false })).toThrow(/numHeads/);
  });
});

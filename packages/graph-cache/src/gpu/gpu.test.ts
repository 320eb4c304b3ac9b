import { BackendUnavailableError, CudaError, InvalidArgumentError } from "@kvwalk/core";
import { describe, expect, it } from "vitest";
import { compactGraphBatch } from "../compact.js";
import { decodeAttentionReference } from "../decode-attention.js";
import { compactGraphBatchCuda, compactGraphs, decodeAttention, decodeAttentionCuda, writeTopKBatch, writeTopKRowsCuda } from "../gpu.js";
import { createGraphBatch } from "../graph.js";
import { backendStatus, cudaAddon } from "../loader.js";
import { allCases, randomDecodeInput } from "./cases.js";

const status = backendStatus();
const noCuda = status.backend !== "cuda";
if (noCuda) console.warn(`[graph-cache] GPU suites skipped: CUDA backend unavailable (${status.reason})`);

describe("GPU entry points without CUDA", () => {
  it.skipIf(!noCuda)("throw BackendUnavailableError naming the reason; dispatchers fall back to the twins", () => {
    const input = randomDecodeInput(1, { batch: 1, numHeads: 2, numKvHeads: 1, headDim: 32, kvCapacity: 9 }, { withGraph: true });
    expect(() => decodeAttentionCuda(input)).toThrow(BackendUnavailableError);
    expect(() => decodeAttentionCuda(input)).toThrow(/needs a CUDA device/);
    expect(() => writeTopKRowsCuda(createGraphBatch(1, 1), { probs: new Float32Array(0), n: 0, graphIds: new Int32Array(0), nodes: new Int32Array(0) })).toThrow(BackendUnavailableError);
    expect(() => compactGraphBatchCuda(createGraphBatch(1, 1), new Uint8Array(1))).toThrow(BackendUnavailableError);
    expect(() => decodeAttention(input, { backend: "cuda" })).toThrow(BackendUnavailableError);
    const auto = decodeAttention({ ...input, graph: undefined });
    expect(auto.output).toEqual(decodeAttentionReference({ ...input, graph: undefined }).output);
    const batch = createGraphBatch(2, 3);
    batch.neighbors.set([0, 1, 2, -1, 2, 0, -1, -1, 1, 1, 1, 1]);
    const keep = Uint8Array.from([1, 0, 1, 1, 1, 0]);
    expect(compactGraphs(batch, keep).batch).toEqual(compactGraphBatch(batch, keep).batch);
    writeTopKBatch(batch, { probs: Float32Array.from([0.2, 0.8]), n: 2, graphIds: Int32Array.from([1]), nodes: Int32Array.from([2]) });
    expect(Array.from(batch.neighbors.subarray(20, 24))).toEqual([1, 0, -1, -1]);
  });
});

describe.skipIf(noCuda)("CUDA kernels vs TypeScript twins", () => {
  for (const c of allCases(false)) {
    it(c.name, () => {
      const r = c.run();
      expect(r.ok, `${r.name}: ${r.detail}`).toBe(true);
    });
  }
});

describe.skipIf(noCuda)("CUDA bad input", () => {
  it("validates before launching, naming the argument", () => {
    const input = randomDecodeInput(2, { batch: 1, numHeads: 2, numKvHeads: 1, headDim: 48, kvCapacity: 4 }, { withGraph: false });
    expect(() => decodeAttentionCuda(input)).toThrow(InvalidArgumentError);
    expect(() => decodeAttentionCuda(input)).toThrow(/headDim/);
    const batch = createGraphBatch(1, 2);
    const rows = { probs: new Float32Array(4), n: 2, graphIds: Int32Array.from([0, 0]), nodes: Int32Array.from([1, 1]) };
    expect(() => writeTopKRowsCuda(batch, rows)).toThrow(/rows.nodes\[1\]/);
    expect(() => compactGraphBatchCuda(batch, new Uint8Array(3))).toThrow(/keep/);
  });

  it("turns a CUDA failure into an error carrying the operation and CUDA's message", () => {
    const addon = cudaAddon()!;
    let caught: unknown;
    try {
      addon.benchCreate("memcpy", { mebibytes: 2 ** 30 });
    } catch (err) {
      caught = err;
    }
    expect((caught as { code?: string }).code).toBe("KVWALK_CUDA");
    expect((caught as Error).message).toMatch(/cudaMalloc.*cudaErrorMemoryAllocation/);
    expect(CudaError).toBeDefined();
  });
});

/**
 * Plain-node GPU check (no vitest): runs every CUDA-vs-twin case of cases.ts and writes a JSON
 * summary to argv[2] (default: graph-cache-gpu-check.json). `--quick` keeps sizes small (for
 * compute-sanitizer memcheck/racecheck). Exits 1 when a case fails, 2 when CUDA is unavailable.
 *   node dist/gpu/check.js out.json [--quick]
 */
import { checkMetadata, gpuCheckArgs, recordUnavailable, runCases, runCheckMain, writeJsonAtomic } from "@kvwalk/core";
import { backendStatus, cudaAddon } from "../loader.js";
import { allCases, TOLERANCES } from "./cases.js";

const { outPath, quick } = gpuCheckArgs("graph-cache-gpu-check.json");
const status = backendStatus();

async function main(): Promise<number> {
  if (status.backend !== "cuda") return recordUnavailable("graph-cache", outPath, status);
  const reports = await runCases(allCases(quick));
  // Bad input through the binding: typed errors, no crash; a CUDA failure becomes a JS error.
  const addon = cudaAddon()!;
  const errors: { case: string; ok: boolean; message: string }[] = [];
  const expectThrow = (name: string, fn: () => unknown, pattern: RegExp) => {
    try {
      fn();
      errors.push({ case: name, ok: false, message: "did not throw" });
    } catch (err) {
      const message = (err as Error).message;
      errors.push({ case: name, ok: pattern.test(message), message });
    }
  };
  expectThrow("binding: wrong dtype", () => addon.compact({ neighbors: new Float32Array(4) as unknown as Int32Array, weights: new Float32Array(4), numGraphs: 1, capacity: 1, keep: new Uint8Array(1), layout: 0, outNeighbors: new Int32Array(4), outWeights: new Float32Array(4), kept: new Int32Array(1) }), /for neighbors/);
  expectThrow("binding: short buffer", () => addon.writeTopK({ probs: new Float32Array(3), n: 4, graphIds: new Int32Array(1), nodes: new Int32Array(1), neighbors: new Int32Array(4), weights: new Float32Array(4), numGraphs: 1, capacity: 1, layout: 0 }), /for probs/);
  expectThrow("binding: node out of range", () => addon.writeTopK({ probs: new Float32Array(4), n: 4, graphIds: new Int32Array(1), nodes: Int32Array.from([5]), neighbors: new Int32Array(4), weights: new Float32Array(4), numGraphs: 1, capacity: 1, layout: 0 }), /nodes\[0\]/);
  expectThrow("binding: unsupported head dim", () => addon.decodeAttention({ q: new Float32Array(48), k: new Uint16Array(48), v: new Uint16Array(48), lengths: Int32Array.from([1]), out: new Float32Array(48), lse: new Float32Array(1), batch: 1, numHeads: 1, numKvHeads: 1, headDim: 48, kvCapacity: 1, scale: 1, numSplits: 0, layout: 0 }), /headDim/);
  expectThrow("binding: per-KV-head graph with the fused write", () => addon.decodeAttention({ q: new Float32Array(128), k: new Uint16Array(64), v: new Uint16Array(64), lengths: Int32Array.from([1]), out: new Float32Array(128), lse: new Float32Array(2), batch: 1, numHeads: 2, numKvHeads: 1, headDim: 64, kvCapacity: 1, scale: 1, numSplits: 0, layout: 0, graphNeighbors: new Int32Array(4), graphWeights: new Float32Array(4), graphCapacity: 1, graphGroup: 2 }), /graphGroup/);
  expectThrow("binding: graphGroup not numHeads / numKvHeads", () => addon.decodeAttention({ q: new Float32Array(256), k: new Uint16Array(64), v: new Uint16Array(64), lengths: Int32Array.from([1]), out: new Float32Array(256), lse: new Float32Array(4), batch: 1, numHeads: 4, numKvHeads: 1, headDim: 64, kvCapacity: 1, scale: 1, numSplits: 0, layout: 0, graphNeighbors: new Int32Array(8), graphWeights: new Float32Array(8), graphCapacity: 1, graphWrite: 1, graphGroup: 2 }), /graphGroup/);
  // Skipped under --quick (the sanitizer runs), where compute-sanitizer would count the failed API call.
  if (!quick) expectThrow("CUDA error -> JS error (1 PiB cudaMalloc)", () => addon.benchCreate("memcpy", { mebibytes: 2 ** 30 }), /CUDA error in cudaMalloc.*cudaErrorMemoryAllocation/);
  for (const e of errors) process.stdout.write(`${e.ok ? "ok  " : "FAIL"} ${e.case}: ${e.message}\n`);
  const ok = reports.every((r) => r.ok) && errors.every((e) => e.ok);
  writeJsonAtomic(outPath, { ...checkMetadata(), ok, quick, device: status.device, tolerances: TOLERANCES, cases: reports, errors });
  process.stdout.write(`${ok ? "all passed" : "FAILURES"}: ${reports.filter((r) => r.ok).length}/${reports.length} cases, ${errors.filter((e) => e.ok).length}/${errors.length} error checks -> ${outPath}\n`);
  return ok ? 0 : 1;
}

runCheckMain(main);

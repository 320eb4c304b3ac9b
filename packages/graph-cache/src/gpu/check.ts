/**
 * Plain-node GPU check (no vitest): runs every CUDA-vs-twin case of cases.ts and writes a JSON
 * summary to argv[2] (default: graph-cache-gpu-check.json). `--quick` keeps sizes small (for
 * compute-sanitizer memcheck/racecheck). Exits 1 when a case fails, 2 when CUDA is unavailable.
 *   node dist/gpu/check.js out.json [--quick]
 */
import { runMetadata, writeJsonAtomic } from "@kvwalk/core";
import { backendStatus, cudaAddon } from "../loader.js";
import { allCases, type CaseReport, TOLERANCES } from "./cases.js";

const outPath = process.argv[2] && !process.argv[2].startsWith("--") ? process.argv[2] : "graph-cache-gpu-check.json";
const quick = process.argv.includes("--quick");
const status = backendStatus();
const meta = () => runMetadata(process.env.KVWALK_COMMIT ? { commit: process.env.KVWALK_COMMIT } : {});

async function main(): Promise<number> {
  if (status.backend !== "cuda") {
    process.stderr.write(`graph-cache GPU check needs CUDA: ${status.reason}\n`);
    writeJsonAtomic(outPath, { ...meta(), ok: false, skipped: true, reason: status.reason, backend: status });
    return 2;
  }
  const reports: (CaseReport & { ms: number })[] = [];
  for (const c of allCases(quick)) {
    const t0 = performance.now();
    let r: CaseReport;
    try {
      r = c.run();
    } catch (err) {
      r = { name: c.name, ok: false, detail: `threw: ${(err as Error).stack ?? err}` };
    }
    const ms = performance.now() - t0;
    reports.push({ ...r, ms });
    process.stdout.write(`${r.ok ? "ok  " : "FAIL"} ${r.name} (${ms.toFixed(0)} ms) ${r.ok ? "" : r.detail}\n`);
  }
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
  // Skipped under --quick (the sanitizer runs), where compute-sanitizer would count the failed API call.
  if (!quick) expectThrow("CUDA error -> JS error (1 PiB cudaMalloc)", () => addon.benchCreate("memcpy", { mebibytes: 2 ** 30 }), /CUDA error in cudaMalloc.*cudaErrorMemoryAllocation/);
  for (const e of errors) process.stdout.write(`${e.ok ? "ok  " : "FAIL"} ${e.case}: ${e.message}\n`);
  const ok = reports.every((r) => r.ok) && errors.every((e) => e.ok);
  writeJsonAtomic(outPath, { ...meta(), ok, quick, device: status.device, tolerances: TOLERANCES, cases: reports, errors });
  process.stdout.write(`${ok ? "all passed" : "FAILURES"}: ${reports.filter((r) => r.ok).length}/${reports.length} cases, ${errors.filter((e) => e.ok).length}/${errors.length} error checks -> ${outPath}\n`);
  return ok ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`${(err as Error).stack ?? err}\n`);
    process.exit(1);
  },
);

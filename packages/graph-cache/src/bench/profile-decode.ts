/**
 * Minimal driver for Nsight Compute: two launches each of the fused decode attention without and with
 * the graph write (batch 1, 32 heads x 128, 4k context), nothing else. The first launch of each is
 * cold. Usage: ncu --kernel-name regex:decode_attention node dist/bench/profile-decode.js
 */
import { backendStatus, cudaAddon } from "../loader.js";

const addon = cudaAddon();
if (!addon) {
  process.stderr.write(`profile-decode needs CUDA: ${backendStatus().reason}\n`);
  process.exit(2);
}
for (const writeGraph of [0, 1]) {
  const s = addon.benchCreate("decode", { batch: 1, numHeads: 32, numKvHeads: 32, headDim: 128, length: 4096, writeGraph, layout: 0, numSplits: 0 });
  const ms = [addon.benchRun(s.id, 1), addon.benchRun(s.id, 1)];
  process.stdout.write(`${s.operation} splits ${s.numSplits}: ${ms.map((x) => (x * 1e3).toFixed(1)).join(", ")} us\n`);
  addon.benchDestroy(s.id);
}

/**
 * One decode-attention bench case, launched a few times, for a kernel profiler (Nsight Compute):
 *
 *   ncu --clock-control none -k regex:decode_attention --launch-skip 2 --launch-count 1 \
 *     node dist/bench/profile-case.js '{"batch":32,"numHeads":32,"numKvHeads":8,"headDim":128,"length":4096,"writeGraph":1,"grouped":1}'
 *
 * The JSON holds benchCreate's decode options (defaults: layout 0, numSplits 0 = automatic, pdl 1).
 */
import { cudaAddon } from "../loader.js";

const addon = cudaAddon();
if (!addon) {
  process.stdout.write("profile-case skipped: the CUDA addon is not loaded\n");
} else {
  const opts = { layout: 0, numSplits: 0, pdl: 1, ...(JSON.parse(process.argv[2] ?? "{}") as Record<string, number>) };
  const s = addon.benchCreate("decode", opts);
  try {
    const ms = addon.benchRun(s.id, 5);
    process.stdout.write(`profile-case ${s.operation} splits ${s.numSplits}: ${(ms * 1e3).toFixed(1)} us per launch\n`);
  } finally {
    addon.benchDestroy(s.id);
  }
}

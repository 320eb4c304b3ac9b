/**
 * Grouped-query decode attention variants side by side (32 query heads over 8 KV heads, head dim 128,
 * PDL): the per-head kernel, the grouped kernel with the whole group of 4 per block, and with 2 query
 * heads per block (two blocks per KV head), with and without the graph write, at the engine's evicted
 * length (896 keys: a 20 % budget of 4096 plus slack) and at 4k / 16k. CUDA-event medians of 9 samples
 * of back-to-back launches; variants interleaved per sample so drift hits all alike.
 *
 *   node dist/bench/gqa-variants.js [out.json]
 */
import { checkMetadata, writeJsonAtomic } from "@kvwalk/core";
import { cudaAddon } from "../loader.js";

const addon = cudaAddon();
const say = (s: string) => process.stdout.write(`${s}\n`);
if (!addon) {
  say("gqa-variants skipped: the CUDA addon is not loaded");
} else {
  const variants = [
    { name: "per-head", grouped: 0, groupedHeads: 0 },
    { name: "grouped 4/block", grouped: 1, groupedHeads: 0 },
    { name: "grouped 2/block", grouped: 1, groupedHeads: 2 },
  ];
  const rows: Record<string, unknown>[] = [];
  for (const [batch, length] of [
    [8, 896],
    [32, 896],
    [1, 4096],
    [8, 4096],
    [32, 4096],
    [8, 16384],
    [32, 16384],
  ]) {
    for (const writeGraph of [0, 1]) {
      const sessions = variants.map((v) => {
        const s = addon.benchCreate("decode", { batch, numHeads: 32, numKvHeads: 8, headDim: 128, length, writeGraph, layout: 0, numSplits: 0, pdl: 1, grouped: v.grouped, groupedHeads: v.groupedHeads });
        addon.benchRun(s.id, 5);
        return { v, s, samples: [] as number[] };
      });
      for (let k = 0; k < 9; k++) for (const x of sessions) x.samples.push(addon.benchRun(x.s.id, 40));
      for (const x of sessions) {
        x.samples.sort((a, b) => a - b);
        const us = x.samples[4] * 1e3;
        rows.push({ batch, length, writeGraph, variant: x.v.name, numSplits: x.s.numSplits, us, bytes: x.s.bytes });
        addon.benchDestroy(x.s.id);
      }
      say(`b=${batch} len=${length} ${writeGraph ? "graph   " : "baseline"}: ${sessions.map((x) => `${x.v.name} ${(x.samples[4] * 1e3).toFixed(1)} us (splits ${x.s.numSplits})`).join(", ")}`);
    }
  }
  const out = process.argv[2];
  if (out) writeJsonAtomic(out, { ...checkMetadata(), rows });
}

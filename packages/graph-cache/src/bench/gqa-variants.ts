/**
 * Decode attention at the engine's evicted length, split counts side by side: Llama-2-7B heads (32 x
 * 128, per-head kernel) and Mistral-7B heads (32 query heads over 8 KV heads, per-head and grouped
 * kernels), with and without the graph write, PDL, at 896 keys (a 20 % budget of 4096 plus slack) and
 * 4096. CUDA-event medians of 9 samples of back-to-back launches; the cases of one shape interleaved
 * per sample so drift hits all alike. Split 0 = the automatic choice.
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
  const kernels = [
    { name: "mha per-head", numKvHeads: 32, grouped: 0 },
    { name: "gqa per-head", numKvHeads: 8, grouped: 0 },
    { name: "gqa grouped", numKvHeads: 8, grouped: 1 },
  ];
  const rows: Record<string, unknown>[] = [];
  for (const [batch, length] of [
    [8, 896],
    [32, 896],
    [32, 4096],
  ]) {
    for (const k of kernels) {
      for (const writeGraph of [0, 1]) {
        const sessions = [0, 1, 2, 3, 4, 6, 8].map((numSplits) => {
          const s = addon.benchCreate("decode", { batch, numHeads: 32, numKvHeads: k.numKvHeads, headDim: 128, length, writeGraph, layout: 0, numSplits, pdl: 1, grouped: k.grouped });
          addon.benchRun(s.id, 5);
          return { numSplits, s, samples: [] as number[] };
        });
        for (let i = 0; i < 9; i++) for (const x of sessions) x.samples.push(addon.benchRun(x.s.id, 40));
        for (const x of sessions) {
          x.samples.sort((a, b) => a - b);
          rows.push({ batch, length, kernel: k.name, writeGraph, requestedSplits: x.numSplits, numSplits: x.s.numSplits, us: x.samples[4] * 1e3 });
          addon.benchDestroy(x.s.id);
        }
        say(`b=${batch} len=${length} ${k.name} ${writeGraph ? "graph   " : "baseline"}: ${sessions.map((x) => `${x.numSplits === 0 ? `auto(${x.s.numSplits})` : x.numSplits} ${(x.samples[4] * 1e3).toFixed(1)}`).join(", ")} us`);
      }
    }
  }
  const out = process.argv[2];
  if (out) writeJsonAtomic(out, { ...checkMetadata(), rows });
}

// Runs one graph-cache decode-attention bench session (a few launches) so Nsight Compute can profile
// it on a device host:
//   ncu -k regex:decode_attention ... node tools/ncu-decode.mjs BATCH LENGTH HEADS KV_HEADS WRITE_GRAPH GROUPED
// WRITE_GRAPH as in the graph-cache bench (0 baseline, 1 fused graph, 4 logit-storing kernel alone).
import { cudaAddon } from "../packages/graph-cache/dist/loader.js";

const [batch, length, numHeads, numKvHeads, writeGraph, grouped] = process.argv.slice(2).map(Number);
const addon = cudaAddon();
if (!addon) throw new Error("graph-cache CUDA addon unavailable");
const s = addon.benchCreate("decode", { batch, numHeads, numKvHeads, headDim: 128, length, writeGraph, layout: 0, numSplits: 0, pdl: 1, grouped });
addon.benchRun(s.id, 3);
addon.benchDestroy(s.id);

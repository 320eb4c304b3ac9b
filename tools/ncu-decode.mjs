// Runs one graph-cache decode-attention bench session (a few launches) so Nsight Compute can profile
// it on a device host:
//   ncu -k regex:decode_attention ... node tools/ncu-decode.mjs BATCH LENGTH HEADS KV_HEADS WRITE_GRAPH GROUPED
// WRITE_GRAPH as in the graph-cache bench (0 baseline, 1 fused graph, 4 logit-storing kernel alone).
// $KVWALK_GC_DIST: graph-cache's compiled dist folder (default packages/graph-cache/dist; on a device
// host the bundle's, e.g. .gpu-bundle/packages/graph-cache/dist).
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";

const dist = resolve(process.env.KVWALK_GC_DIST ?? "packages/graph-cache/dist");
const { cudaAddon } = await import(pathToFileURL(resolve(dist, "loader.js")).href);

const [batch, length, numHeads, numKvHeads, writeGraph, grouped] = process.argv.slice(2).map(Number);
const addon = cudaAddon();
if (!addon) throw new Error("graph-cache CUDA addon unavailable");
const s = addon.benchCreate("decode", { batch, numHeads, numKvHeads, headDim: 128, length, writeGraph, layout: 0, numSplits: 0, pdl: 1, grouped });
addon.benchRun(s.id, 3);
addon.benchDestroy(s.id);

#!/usr/bin/env bash
# Session 14, run 1: where the fused graph write's +22 % at batch 1 x 4k goes. Nsight Compute per-instruction
# warp-stall sampling (SourceCounters) and warp-state statistics of the per-head decode kernel with and
# without the graph write (Llama-2-7B heads, batch 1 x 4096 keys), and the two kernels' CUDA-event times.
set -uo pipefail
cd "$(dirname "$0")/.."
source .gpu-bundle/device-env.sh
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader
mkdir -p "$O/ncu"
export KVWALK_GC_DIST=$PWD/$G/dist
cat > /tmp/t.mjs <<'JS'
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
const { cudaAddon } = await import(pathToFileURL(resolve(process.env.KVWALK_GC_DIST, "loader.js")).href);
const a = cudaAddon();
for (const pdl of [0, 1]) for (const writeGraph of [0, 1]) {
  const s = a.benchCreate("decode", { batch: 1, numHeads: 32, numKvHeads: 32, headDim: 128, length: 4096, writeGraph, layout: 0, numSplits: 0, pdl });
  a.benchRun(s.id, 200);
  const r = [];
  for (let i = 0; i < 15; i++) r.push(a.benchRun(s.id, 200) * 1e3);
  r.sort((x, y) => x - y);
  console.log(`pdl ${pdl} graph ${writeGraph} splits ${s.numSplits}: median ${r[7].toFixed(2)} us (min ${r[0].toFixed(2)})`);
  a.benchDestroy(s.id);
}
JS
node /tmp/t.mjs
for wg in 0 1; do
  timeout 120 ncu --clock-control none -k regex:decode_attention_kernel --launch-skip 2 -c 1 --section SpeedOfLight --section WarpStateStats --section SourceCounters --section SchedulerStats --section InstructionStats --section LaunchStats --section Occupancy --import-source no -o "$O/ncu/b1x4k-wg$wg" node tools/ncu-decode.mjs 1 4096 32 32 $wg 0 > "$O/ncu/b1x4k-wg$wg.log" 2>&1
  ncu --import "$O/ncu/b1x4k-wg$wg.ncu-rep" --page details > "$O/ncu/b1x4k-wg$wg-details.txt" 2>&1
  ncu --import "$O/ncu/b1x4k-wg$wg.ncu-rep" --page source --csv --print-source sass > "$O/ncu/b1x4k-wg$wg-sass.csv" 2>&1
  echo "== wg $wg"; grep -E "Duration|Warp Cycles Per Issued|No Instruction|Stall|Executed Instructions  |Issued Warp" "$O/ncu/b1x4k-wg$wg-details.txt" | head -30
  head -c 600 "$O/ncu/b1x4k-wg$wg-sass.csv"; echo; wc -l "$O/ncu/b1x4k-wg$wg-sass.csv"
done

#!/usr/bin/env bash
# Session 14, run 2: the block-parallel, branch-free rank merge (64-bit candidate keys) in the decode
# kernels' block merge and tail. GPU check of the new build, A/B timing against the shipped kernel (the
# previous commit's addon, bundled as .gpu-bundle/packages/_old), and the new kernel's stall profile.
set -uo pipefail
cd "$(dirname "$0")/.."
source .gpu-bundle/device-env.sh
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader
S=bench/results/h200-2026-11-30-j/scripts
echo "== gpu check (new)"; timeout 300 node $G/dist/gpu/check.js "$O/gc/graph-cache-gpu-check.json" 2>&1 | tail -12
export AB_CASES='[{"batch":1,"length":4096,"writeGraph":0},{"batch":1,"length":4096,"writeGraph":1},{"batch":1,"length":16384,"writeGraph":0},{"batch":1,"length":16384,"writeGraph":1},{"batch":1,"length":32768,"writeGraph":1},{"batch":8,"length":4096,"writeGraph":1},{"batch":32,"length":4096,"writeGraph":1},{"batch":1,"length":4096,"writeGraph":1,"numKvHeads":8},{"batch":32,"length":896,"writeGraph":1,"numKvHeads":8,"grouped":1},{"batch":32,"length":896,"writeGraph":0,"numKvHeads":8,"grouped":1}]'
echo "== A/B"; AB_OUT="$O/ab-run2.json" node $S/ab-decode.mjs old=.gpu-bundle/packages/_old/graph-cache/dist new=$G/dist
mkdir -p "$O/ncu"; export KVWALK_GC_DIST=$PWD/$G/dist
timeout 120 ncu --clock-control none -k regex:decode_attention_kernel --launch-skip 2 -c 1 --section WarpStateStats --section SourceCounters --import-source no -o "$O/ncu/b1x4k-wg1-new" node tools/ncu-decode.mjs 1 4096 32 32 1 0 > /dev/null 2>&1
ncu --import "$O/ncu/b1x4k-wg1-new.ncu-rep" --page source --csv --print-source sass > "$O/ncu/b1x4k-wg1-new-sass.csv" 2>&1
rm -f "$O/ncu/"*.ncu-rep

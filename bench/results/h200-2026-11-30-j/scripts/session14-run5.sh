#!/usr/bin/env bash
# Session 14, run 5: the split ticket as one acq_rel atomic (commit "graph-cache decode kernels: the split
# ticket ..."): A/B against run 2's kernel (bundled as _old), GPU check, memcheck and racecheck over the
# quick cases, and the decode bench table (README) of the new build.
set -uo pipefail
cd "$(dirname "$0")/.."
source .gpu-bundle/device-env.sh
SECONDS=0
S=bench/results/h200-2026-11-30-j/scripts
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.max.mem --format=csv > "$O/gc/nvidia-smi.csv" 2>&1
export AB_CASES='[{"batch":1,"length":4096,"writeGraph":0},{"batch":1,"length":4096,"writeGraph":1},{"batch":1,"length":16384,"writeGraph":0},{"batch":1,"length":16384,"writeGraph":1},{"batch":1,"length":32768,"writeGraph":0},{"batch":1,"length":32768,"writeGraph":1},{"batch":8,"length":4096,"writeGraph":0},{"batch":8,"length":4096,"writeGraph":1},{"batch":32,"length":4096,"writeGraph":0},{"batch":32,"length":4096,"writeGraph":1},{"batch":1,"length":4096,"writeGraph":0,"numKvHeads":8},{"batch":1,"length":4096,"writeGraph":1,"numKvHeads":8},{"batch":32,"length":896,"writeGraph":1,"numKvHeads":8,"grouped":1},{"batch":32,"length":896,"writeGraph":0,"numKvHeads":8,"grouped":1}]'
echo "== A/B"; AB_OUT="$O/ab-run5.json" node $S/ab-decode.mjs old=.gpu-bundle/packages/_old/graph-cache/dist new=$G/dist; echo "t=$SECONDS s"
echo "== graph-cache check"; timeout 150 node $G/dist/gpu/check.js "$O/gc/graph-cache-gpu-check.json" > "$O/gc/check.log" 2>&1
grep -v "^ok" "$O/gc/check.log" | tail -4; echo "t=$SECONDS s"
for tool in memcheck racecheck; do
  timeout 170 compute-sanitizer --tool $tool --error-exitcode 9 node $G/dist/gpu/check.js "$O/gc/sanitize-$tool.json" --quick > "$O/gc/sanitize-$tool.log" 2>&1
  echo "graph-cache $tool rc=$?"; grep -E "ERROR SUMMARY|RACECHECK SUMMARY|passed" "$O/gc/sanitize-$tool.log" | tail -2
done; echo "t=$SECONDS s"
echo "== graph-cache decode bench"; (cd $G && KVWALK_BENCH_ONLY=decode KVWALK_BENCH_OUT="$O/gc" timeout 200 node dist/bench/index.js > "$O/gc/bench.log" 2>&1; grep -E "^decode|memcpy|rror" "$O/gc/bench.log" | tail -40); echo "t=$SECONDS s"

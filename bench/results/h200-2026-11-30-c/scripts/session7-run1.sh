#!/usr/bin/env bash
# Session 7, run 1: the deferred graph write. graph-cache check + sanitizers + bench, engine check.
set -uo pipefail
cd "$(dirname "$0")/.."
B=.gpu-bundle
bash $B/unpack.sh
export PATH=$PWD/$B/bin:$PATH
export KVWALK_COMMIT=$(cat $B/COMMIT)
O=${OUT:-$PWD/out}; mkdir -p "$O/gc"
G=$B/packages/graph-cache
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.max.mem --format=csv > "$O/gc/nvidia-smi.csv" 2>&1
echo "== graph-cache check"; node $G/dist/gpu/check.js "$O/gc/graph-cache-gpu-check.json" 2>&1 | grep -v "^ok" | tail -8
for tool in memcheck racecheck; do
  timeout 150 compute-sanitizer --tool $tool --error-exitcode 9 node $G/dist/gpu/check.js "$O/gc/sanitize-$tool.json" --quick > "$O/gc/sanitize-$tool.log" 2>&1
  echo "graph-cache $tool rc=$?"; grep -E "ERROR SUMMARY|RACECHECK SUMMARY|passed" "$O/gc/sanitize-$tool.log" | tail -2
done
echo "== graph-cache bench"; (cd $G && KVWALK_BENCH_OUT="$O/gc" timeout 200 node dist/bench/index.js 2>&1 | grep -E "^decode|memcpy|rror")
TAG=s7 timeout 240 bash $B/engine-run.sh check 2>&1 | grep -v "^ok" | tail -8

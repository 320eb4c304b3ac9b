#!/usr/bin/env bash
# Session 8, run 1: graph-cache after the D1 epilogue merge (check, sanitizers, decode bench rows incl.
# the deferred-write attribution rows); runtime skinny GEMM (GEMM check cases + sanitizers, engine
# check, bench --skinny: GEMM rows, config sweep, decode steps off vs on).
set -uo pipefail
cd "$(dirname "$0")/.."
source .gpu-bundle/device-env.sh
SECONDS=0
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.max.mem --format=csv > "$O/gc/nvidia-smi.csv" 2>&1
echo "== graph-cache check"; timeout 120 node $G/dist/gpu/check.js "$O/gc/graph-cache-gpu-check.json" > "$O/gc/check.log" 2>&1
grep -v "^ok" "$O/gc/check.log" | tail -4; echo "t=$SECONDS s"
for tool in memcheck racecheck; do
  timeout 150 compute-sanitizer --tool $tool --error-exitcode 9 node $G/dist/gpu/check.js "$O/gc/sanitize-$tool.json" --quick > "$O/gc/sanitize-$tool.log" 2>&1
  echo "graph-cache $tool rc=$?"; grep -E "ERROR SUMMARY|RACECHECK SUMMARY|passed" "$O/gc/sanitize-$tool.log" | tail -2
done; echo "t=$SECONDS s"
R=$B/packages/runtime
mkdir -p "$O/rt"
for tool in memcheck racecheck; do
  KVWALK_CUBLAS=/nonexistent KVWALK_SHARED=$PWD/$B/shared KVWALK_CHECK_ONLY=gemm timeout 150 compute-sanitizer --tool $tool --error-exitcode 9 node $R/dist/gpu/check.js "$O/rt/sanitize-gemm-$tool.json" --quick > "$O/rt/sanitize-gemm-$tool.log" 2>&1
  echo "runtime gemm $tool rc=$?"; grep -E "ERROR SUMMARY|RACECHECK SUMMARY|passed|FAIL" "$O/rt/sanitize-gemm-$tool.log" | tail -3
done; echo "t=$SECONDS s"
TAG=s8 timeout 200 bash $B/engine-run.sh check 2>&1 | grep -v "^ok" | tail -8; echo "t=$SECONDS s"
TAG=skinny timeout 200 bash $B/engine-run.sh bench --no-gemm --skinny 2>&1 | grep -E "^skinny|^evict |wrote|rror" | tail -120; echo "t=$SECONDS s"
echo "== graph-cache decode bench"; (cd $G && KVWALK_BENCH_ONLY=decode KVWALK_BENCH_OUT="$O/gc" timeout 100 node dist/bench/index.js 2>&1 | grep -E "^decode|memcpy|rror" | tail -30); echo "t=$SECONDS s"
cp out/*.tar.gz "$O/" 2>/dev/null; ls "$O"

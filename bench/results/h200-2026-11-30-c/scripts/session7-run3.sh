#!/usr/bin/env bash
# Session 7, run 3: select kernel with 16 loads in flight, the grouped kernel's warp-per-head epilogue,
# graphWrite auto. graph-cache check + sanitizers + decode bench, engine check, engine --graph-write.
set -uo pipefail
cd "$(dirname "$0")/.."
B=.gpu-bundle
bash $B/unpack.sh
export PATH=$PWD/$B/bin:$PATH
export KVWALK_COMMIT=$(cat $B/COMMIT)
O=${OUT:-$PWD/out}; mkdir -p "$O/gc"
G=$B/packages/graph-cache
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.max.mem --format=csv > "$O/gc/nvidia-smi.csv" 2>&1
SECONDS=0
echo "== graph-cache check"; timeout 120 node $G/dist/gpu/check.js "$O/gc/graph-cache-gpu-check.json" 2>&1 | grep -v "^ok" | tail -8
for tool in memcheck racecheck; do
  timeout 150 compute-sanitizer --tool $tool --error-exitcode 9 node $G/dist/gpu/check.js "$O/gc/sanitize-$tool.json" --quick > "$O/gc/sanitize-$tool.log" 2>&1
  echo "graph-cache $tool rc=$?"; grep -E "ERROR SUMMARY|RACECHECK SUMMARY|passed" "$O/gc/sanitize-$tool.log" | tail -2
done
echo "t=$SECONDS s"
echo "== graph-cache decode bench"; (cd $G && KVWALK_BENCH_ONLY=decode KVWALK_BENCH_OUT="$O/gc" timeout 150 node dist/bench/index.js > "$O/gc/bench.log" 2>&1; echo "rc=$?"; grep -E "^decode|memcpy|rror" "$O/gc/bench.log")
echo "t=$SECONDS s"
TAG=s7 timeout 150 bash $B/engine-run.sh check 2>&1 | grep -v "^ok" | tail -6
echo "t=$SECONDS s"
TAG=graph-write timeout ${ENGINE_TIMEOUT:-200} bash $B/engine-run.sh bench --no-gemm --graph-write 2>&1 | grep -E "^evict |wrote|rror" | tail -40
echo "t=$SECONDS s"

#!/usr/bin/env bash
# Session 8, run 4: the deferred write's logits stored one value per lane (one store instruction per tile):
# graph-cache check + sanitizers + decode bench rows (batch 1 x 4k; GQA batch 1 x 4k and 32 x 896 with
# the attribution rows), engine check (no fixture data in this bundle), engine --graph-write and the 4k
# eviction rows.
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
echo "== graph-cache decode bench"; (cd $G && KVWALK_BENCH_ONLY=decode KVWALK_BENCH_OUT="$O/gc" timeout 180 node dist/bench/index.js > "$O/gc/bench.log" 2>&1; grep -E "^decode|memcpy|rror" "$O/gc/bench.log" | tail -40); echo "t=$SECONDS s"
TAG=s8b timeout 150 bash $B/engine-run.sh check 2>&1 | grep -v "^ok" | tail -6; echo "t=$SECONDS s"
TAG=graph-write timeout 80 bash $B/engine-run.sh bench --no-gemm --graph-write 2>&1 | grep -E "^evict |wrote|rror" | tail -24; echo "t=$SECONDS s"
KVWALK_EVICT_CONTEXTS=4096 TAG=evict timeout 90 bash $B/engine-run.sh bench --no-gemm --evict-only --steps-only 2>&1 | grep -E "^evict |wrote|rror" | tail -32; echo "t=$SECONDS s"
cp out/*.tar.gz "$O/" 2>/dev/null; ls "$O"
